/* SPDX-License-Identifier: MIT */
/*
 * Default-rate accuracy target: 10 million allocations of mixed sizes from
 * one function, all kept until the end of mixed(), half freed.  Prints the
 * true totals "objects bytes" so the check can compare the estimates.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define N 10000000

static void *volatile keep;

__attribute__((noinline)) void mixed(uint64_t *ret_objects, uint64_t *ret_bytes)
{
	uint64_t s = 88172645463325252ull, bytes = 0;
	for (long i = 0; i < N; i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		size_t n = s % 50 == 0 ? 4096 + s % 60000 : 8 + s % 500;
		void *p = malloc(n);
		keep = p;
		bytes += n;
		free(p);
	}
	*ret_objects = N;
	*ret_bytes = bytes;
}

int main(void)
{
	uint64_t o, b;
	mixed(&o, &b);
	printf("%llu %llu\n", (unsigned long long)o, (unsigned long long)b);
	return 0;
}

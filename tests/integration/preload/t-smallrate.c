/* SPDX-License-Identifier: MIT */
/*
 * N blocks of SIZE bytes from one function, each freed at once, for the
 * accuracy of the estimates when the rate is close to the block size.
 * usage: t-smallrate SIZE N
 */
#include <stdlib.h>

static void *volatile keep;

__attribute__((noinline)) void small_blocks(size_t size, long n)
{
	for (long i = 0; i < n; i++) {
		void *p = malloc(size);
		keep = p;
		free(p);
	}
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	small_blocks((size_t)atol(argv[1]), atol(argv[2]));
	return 0;
}

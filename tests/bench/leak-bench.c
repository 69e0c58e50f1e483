/* SPDX-License-Identifier: MIT */
/*
 * Leak-scan benchmark target: builds MIB mebibytes of live heap as a web of
 * blocks (16 B .. 4 KiB) that point at each other and at a global root, then
 * loses a tenth of them, and exits.  The scan's throughput comes from
 * `memprof run --leak-check=summary --stats` (LeakScanBytes / LeakScanNs).
 *
 * usage: leak-bench [MIB]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void **roots;

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 256;
	size_t target = mib << 20, total = 0, n = 0, cap = 1024;
	uint64_t s = 88172645463325252ull;
	roots = malloc(cap * sizeof(*roots));
	while (total < target) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		size_t size = 16 + (s % 4096);
		void **b = malloc(size);
		memset(b, 0, size);
		/* link to an earlier block: a web, reachable through roots */
		if (n)
			b[0] = roots[s % n];
		if (n == cap) {
			cap *= 2;
			roots = realloc(roots, cap * sizeof(*roots));
		}
		roots[n++] = b;
		total += size;
	}
	/* Lose every tenth root slot (the blocks may still be reachable from
	 * others). */
	for (size_t i = 0; i < n; i += 10)
		roots[i] = NULL;
	printf("%zu blocks, %zu MiB\n", n, total >> 20);
	return 0;
}

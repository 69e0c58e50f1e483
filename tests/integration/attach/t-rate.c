/* SPDX-License-Identifier: MIT */
/*
 * Target for memprof attach's sampling accuracy (check-attach.py): prints
 * "ready" on stderr, waits for a line on standard input, then allocates
 * and frees N blocks of 16 KiB in small() and N of 48 KiB in large()
 * (N from argv), prints "done" and waits for another line before it
 * exits: an attach that spans the work sees exactly N x 16 KiB and
 * N x 48 KiB.
 */
#include <stdio.h>
#include <stdlib.h>

#define NOINLINE __attribute__((noinline))
#define KEEP(p) asm volatile("" : : "r"(p) : "memory")

NOINLINE void *small(void)
{
	char *p = malloc(16384);
	KEEP(p);
	return p;
}

NOINLINE void *large(void)
{
	char *p = malloc(49152);
	KEEP(p);
	return p;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000;
	char line[64];

	fputs("ready\n", stderr);
	if (!fgets(line, sizeof(line), stdin))
		return 2;
	for (long i = 0; i < n; i++) {
		free(small());
		free(large());
	}
	printf("done %ld\n", n);
	fflush(stdout);
	return fgets(line, sizeof(line), stdin) ? 0 : 0;
}

/* SPDX-License-Identifier: MIT */
/* Keeps N blocks of 256 B from one function (N = argv[1]), plus a fixed
 * 4 KiB from another: two runs differ only in leak_blocks. */
#include <stdlib.h>
#include <string.h>

static void *volatile keep[10000];
void *volatile fixed_block;   /* external: the store cannot be dropped */

__attribute__((noinline)) static void leak_blocks(int n)
{
	for (int i = 0; i < n && i < 10000; i++) {
		keep[i] = malloc(256);
		memset(keep[i], 1, 256);
	}
}

__attribute__((noinline)) static void fixed(void)
{
	fixed_block = malloc(4096);
}

int main(int argc, char **argv)
{
	fixed();
	leak_blocks(argc > 1 ? atoi(argv[1]) : 0);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * A library that allocates ten blocks in its constructor and frees them in
 * its destructor, as gnutls frees libtasn1's trees: built once to be linked
 * (lib_alloc_blocks) and once to be dlopened and never closed
 * (plug_alloc_blocks).  Valgrind: "All heap blocks were freed".
 */
#include <stdlib.h>

#ifdef PLUGIN
#define ALLOC_BLOCKS plug_alloc_blocks
#else
#define ALLOC_BLOCKS lib_alloc_blocks
#endif

#define NBLOCKS 10

static void *blocks[NBLOCKS];

__attribute__((noinline)) void ALLOC_BLOCKS(void)
{
	for (int i = 0; i < NBLOCKS; i++)
		blocks[i] = malloc(100 + (size_t)i);   /* 1045 bytes in all */
	__asm__ volatile("" ::: "memory");
}

__attribute__((constructor)) static void ctor(void)
{
	ALLOC_BLOCKS();
}

__attribute__((destructor)) static void dtor(void)
{
	for (int i = 0; i < NBLOCKS; i++)
		free(blocks[i]);
}

/* Something for the program to call, so that it is linked for real. */
int lib_nblocks(void)
{
	return NBLOCKS;
}

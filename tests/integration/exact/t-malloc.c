/* SPDX-License-Identifier: MIT */
/*
 * Exact-count target for the C allocation entry points.  Each EXPECT line
 * gives, for one function, the cumulative values check.py must find in the
 * profile at --rate 1: alloc_objects alloc_space inuse_objects inuse_space.
 * Pointers kept go to a volatile sink so no optimizer can drop a call.
 */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#define NOINLINE __attribute__((noinline))

void *volatile sink[64];

/* EXPECT do_malloc 15 6000 5 5000 */
NOINLINE void do_malloc(void)
{
	for (int i = 0; i < 10; i++) {
		sink[0] = malloc(100);
		free(sink[0]);
	}
	for (int i = 0; i < 5; i++)
		sink[1 + i] = malloc(1000);
}

/* EXPECT do_calloc 3 300 2 200 */
NOINLINE void do_calloc(void)
{
	for (int i = 0; i < 3; i++)
		sink[6 + i] = calloc(4, 25);
	free(sink[6]);
}

/* realloc(NULL,10) then 20, 40, 80: four allocations, three freed by the
 * next realloc, the last one kept. */
/* EXPECT do_realloc 4 150 1 80 */
NOINLINE void do_realloc(void)
{
	void *p = NULL;
	for (size_t n = 10; n <= 80; n *= 2)
		p = realloc(p, n);
	sink[10] = p;
}

/* EXPECT do_aligned 6 1508 3 1008 */
NOINLINE void do_aligned(void)
{
	void *p;
	if (posix_memalign(&p, 64, 256) == 0)
		sink[11] = p;
	if (posix_memalign(&p, 64, 256) == 0)
		free(p);
	sink[12] = aligned_alloc(128, 512);
	sink[13] = memalign(32, 240);
	void *v = valloc(100);
	free(v);
	sink[14] = reallocarray(NULL, 3, 48);
	free(sink[14]);
}

/* EXPECT do_strdup 4 44 3 33 */
NOINLINE void do_strdup(void)
{
	for (int i = 0; i < 4; i++)
		sink[20 + i] = strdup("0123456789");
	free(sink[20]);
}

int main(void)
{
	do_malloc();
	do_calloc();
	do_realloc();
	do_aligned();
	do_strdup();
	return 0;
}

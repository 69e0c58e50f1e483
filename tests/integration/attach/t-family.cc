/* SPDX-License-Identifier: MIT */
/*
 * Target for check-attach.py's exactness and same-stacks checks, built -O2
 * -fomit-frame-pointer: each round calls every entry point of the malloc
 * family and C++'s operator new once, each from a function of its own with
 * a size of its own (see EXPECT), and frees what it got.  With an argument
 * N it runs N rounds (under memprof run); without, it prints "ready" on
 * stderr and runs until its standard input ends or says "stop" (for
 * memprof attach).  It prints a result that does not depend on the rounds.
 */
#include <malloc.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <new>
#include <vector>

#define NOINLINE __attribute__((noinline))
/* The compiler must not elide an allocation it can see freed unused. */
#define KEEP(p) asm volatile("" : : "r"(p) : "memory")

struct alignas(64) Wide { char b[192]; };
struct Node { long a[6]; };

/* EXPECT function size: one block of that size per round */
/* EXPECT via_malloc 101 */
NOINLINE void via_malloc(void) { void *p = malloc(101); KEEP(p); free(p); }
/* EXPECT via_calloc 217 */
NOINLINE void via_calloc(void) { void *p = calloc(7, 31); KEEP(p); free(p); }
/* EXPECT via_realloc_null 303 */
NOINLINE void via_realloc_null(void) { void *p = realloc(NULL, 303); KEEP(p); free(p); }
/* EXPECT via_realloc_grow 16 4005 */
NOINLINE void via_realloc_grow(void)
{
	void *p = malloc(16);
	KEEP(p);
	p = realloc(p, 4005);
	KEEP(p);
	free(p);
}
/* EXPECT via_reallocarray 405 */
NOINLINE void via_reallocarray(void) { void *p = reallocarray(NULL, 9, 45); KEEP(p); free(p); }
/* EXPECT via_memalign 509 */
NOINLINE void via_memalign(void) { void *p = memalign(64, 509); KEEP(p); free(p); }
/* EXPECT via_aligned_alloc 512 */
NOINLINE void via_aligned_alloc(void) { void *p = aligned_alloc(64, 512); KEEP(p); free(p); }
/* EXPECT via_posix_memalign 611 */
NOINLINE void via_posix_memalign(void)
{
	void *p = NULL;
	if (posix_memalign(&p, 64, 611) == 0) {
		KEEP(p);
		free(p);
	}
}
/* EXPECT via_valloc 701 */
NOINLINE void via_valloc(void) { void *p = valloc(701); KEEP(p); free(p); }
/* EXPECT via_pvalloc 4096 */
NOINLINE void via_pvalloc(void) { void *p = pvalloc(803); KEEP(p); free(p); }
/* EXPECT via_new 48 */
NOINLINE void via_new(void) { Node *n = new Node(); KEEP(n); delete n; }
/* EXPECT via_new_array 907 */
NOINLINE void via_new_array(void) { char *c = new char[907]; KEEP(c); delete[] c; }
/* EXPECT via_new_aligned 192 */
NOINLINE void via_new_aligned(void) { Wide *w = new Wide(); KEEP(w); delete w; }
/* EXPECT via_strdup 12 */
NOINLINE void via_strdup(void) { char *s = strdup("eleven char"); KEEP(s); free(s); }
/* EXPECT via_vector 4 8 16 32 64 */
NOINLINE void via_vector(void)
{
	std::vector<int> v;     /* capacity 1, 2, 4, 8, 16 ints: 124 bytes */
	for (int i = 0; i < 16; i++)
		v.push_back(i);
	KEEP(v.data());
}

static void (*const calls[])(void) = {
	via_malloc, via_calloc, via_realloc_null, via_realloc_grow, via_reallocarray,
	via_memalign, via_aligned_alloc, via_posix_memalign, via_valloc, via_pvalloc,
	via_new, via_new_array, via_new_aligned, via_strdup, via_vector,
};

NOINLINE void round_once(void)
{
	for (auto f : calls)
		f();
	KEEP(calls);
}

int main(int argc, char **argv)
{
	long rounds = argc > 1 ? atol(argv[1]) : -1;
	char buf[64];

	if (rounds < 0)
		fputs("ready\n", stderr);
	for (long r = 0; rounds < 0 || r < rounds; r++) {
		struct pollfd p = { 0, POLLIN, 0 };

		round_once();
		if (rounds < 0 && poll(&p, 1, 1) > 0) {
			ssize_t n = read(0, buf, sizeof(buf));
			if (n <= 0 || strncmp(buf, "stop", 4) == 0)
				break;
		}
	}
	puts("result: every entry point, every round");
	return 0;
}

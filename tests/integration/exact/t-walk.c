/* SPDX-License-Identifier: MIT */
/*
 * Exact-count target for the stack walker's per-thread memo of recent walks
 * (src/sample/fastunwind.c): stacks that start from the same state and part
 * further out, frames whose CFA comes from RBP (variable-length arrays),
 * recursion deeper than a memo holds, and threads.  Built with and without
 * frame pointers; check.py also runs it with unwind=2, which compares every
 * stack with libunwind's.  EXPECT lines as in t-malloc.c; each counts the
 * main thread and two workers, each running rounds() once.
 */
#include <pthread.h>
#include <stdlib.h>

#define NOINLINE __attribute__((noinline))
#define ROUNDS 300

void *volatile sink;
volatile int counter;

NOINLINE void leaf(size_t n)
{
	void *p = malloc(n);
	sink = p;             /* kept from the optimizer; each thread frees its own */
	free(p);
	counter++;            /* no tail call: leaf keeps its frame */
}

/* Same frame size, called from the same place by turns: the walks start
 * from the same state and part at the return address into these two. */
/* EXPECT via_a 900 57600 0 0 */
NOINLINE void via_a(void)
{
	leaf(64);
	counter++;
}

/* EXPECT via_b 900 28800 0 0 */
NOINLINE void via_b(void)
{
	leaf(32);
	counter++;
}

/* One function, two call sites by turns. */
/* EXPECT two_sites 900 28800 0 0 */
NOINLINE void two_sites(int i)
{
	if (i & 1)
		leaf(16);
	else
		leaf(48);
	counter++;
}

/* A variable-length array: this frame's CFA is RBP-based, and the stack
 * pointer below it moves with k. */
/* EXPECT vla 900 21600 0 0 */
NOINLINE void vla(int k)
{
	volatile char buf[k * 16 + 16];
	buf[0] = 0;
	leaf(24);
	counter += buf[0];
}

/* Recursion from 0 to 59 frames deep: past what a memo keeps (48). */
/* EXPECT rec 180 1440 0 0 */
NOINLINE void rec(int d)
{
	if (d == 0)
		leaf(8);
	else
		rec(d - 1);
	counter++;
}

/* EXPECT leaf 3780 138240 0 0 */
/* EXPECT rounds 3780 138240 0 0 */
NOINLINE void rounds(void)
{
	for (int i = 0; i < ROUNDS; i++) {
		via_a();
		via_b();
		two_sites(i);
		vla(i % 4);
		if (i % 5 == 0)
			rec(i % 60);
	}
}

static void *worker(void *arg)
{
	(void)arg;
	rounds();
	return NULL;
}

int main(void)
{
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		if (pthread_create(&t[i], NULL, worker, NULL) != 0)
			return 1;
	rounds();
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	return 0;
}

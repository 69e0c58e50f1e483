/* SPDX-License-Identifier: MIT */
/*
 * Exact-count target for the stack walker's per-thread memo of recent walks
 * (src/sample/fastunwind.c): stacks that start from the same state and part
 * further out, frames whose CFA comes from RBP (variable-length arrays),
 * recursion deeper than a memo holds, threads, and threads that take over
 * the memo of one that exited.  Built with and without frame pointers;
 * check.py also runs it with unwind=2, which compares every stack with
 * libunwind's.  EXPECT lines as in t-malloc.c: the main thread and two
 * workers each run rounds() once, then 20 short threads run brief().
 */
#include <pthread.h>
#include <stdint.h>
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
/* EXPECT via_a 1000 64000 0 0 */
NOINLINE void via_a(void)
{
	leaf(64);
	counter++;
}

/* EXPECT via_b 1000 32000 0 0 */
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

/*
 * Two paths to the same stack pointer with different RBPs: via_ptr(deeper,
 * 1) and via_ptr(at_rbp, k_same), with k_same found by main so that leaf's
 * frame lands where it did through deeper.  at_rbp's CFA comes from RBP,
 * which leaf's frame (without frame pointers) passes on unchanged: a memo
 * that did not check the RBP it was walked with would take the deeper
 * walk's frames, still in place in at_rbp's array, for this one's.
 */
static int probing, k_same;
static uintptr_t probe_at;

/* EXPECT at_rbp 1800 72000 0 0 */
NOINLINE void at_rbp(int k)
{
	volatile char buf[k * 16];
	buf[0] = 0;
	if (probing)
		probe_at = (uintptr_t)buf;
	else
		leaf(40);
	counter += buf[0];
}

/* EXPECT deeper 900 36000 0 0 */
NOINLINE void deeper(int k)
{
	volatile char pad[40];
	pad[0] = 0;
	at_rbp(k);
	counter += pad[0];
}

/* One call site for both, so that they return to the same place. */
/* EXPECT via_ptr 1800 72000 0 0 */
__attribute__((noipa)) void via_ptr(void (*fn)(int), int k)
{
	fn(k);
	counter++;
}

static int find_k_same(void)
{
	probing = 1;
	via_ptr(deeper, 1);
	uintptr_t want = probe_at;
	via_ptr(at_rbp, 1);
	int k = 1 + (int)((probe_at - want) / 16);
	via_ptr(at_rbp, k);
	probing = 0;
	return probe_at == want ? k : -1;
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

/* EXPECT leaf 5780 219840 0 0 */
/* EXPECT rounds 5580 210240 0 0 */
NOINLINE void rounds(void)
{
	for (int i = 0; i < ROUNDS; i++) {
		via_a();
		via_b();
		two_sites(i);
		vla(i % 4);
		/* One call site for both (a volatile count is not unrolled). */
		for (volatile int p = 0; p < 2; p++)
			via_ptr(p ? at_rbp : deeper, p ? k_same : 1);
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

/* Short threads one after another: each takes the memo the one before left
 * at its exit, very likely on the same stack (glibc reuses them). */
/* EXPECT brief 200 9600 0 0 */
static NOINLINE void *brief(void *arg)
{
	(void)arg;
	for (int i = 0; i < 5; i++) {
		via_a();
		via_b();
	}
	return NULL;
}

int main(void)
{
	pthread_t t[2];
	k_same = find_k_same();
	if (k_same < 0)
		return 2;     /* no such k: the check says the target failed */
	for (int i = 0; i < 2; i++)
		if (pthread_create(&t[i], NULL, worker, NULL) != 0)
			return 1;
	rounds();
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 20; i++) {
		if (pthread_create(&t[0], NULL, brief, NULL) != 0)
			return 1;
		pthread_join(t[0], NULL);
	}
	return 0;
}

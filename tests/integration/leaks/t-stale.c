/* SPDX-License-Identifier: MIT */
/*
 * Blocks kept reachable only by words the program never wrote: the
 * allocator's free-list link left in a block handed out again, and a
 * pointer left in the bytes of a size class past what the program asked
 * for.  memcheck reads neither (the first is undefined, the second is not
 * part of the block): both lost blocks are definitely lost, every run.
 * Prints "reused" when the blocks were handed out again as the test
 * assumes (LIFO reuse; valgrind's allocator does not reuse at once).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rec {
	void *spare;          /* never written */
	char name[24];
};

struct rec *keep_rec;         /* reachable: 32 bytes */
char *keep_buf;               /* reachable: 40 bytes asked, a 48-byte class */
static int reused = 1;

__attribute__((noinline)) static void lose_behind_link(void)
{
	void *a = malloc(32), *b = malloc(32);
	free(b);
	free(a);                      /* free list: a, then b (link in a) */
	keep_rec = malloc(32);
	memcpy(keep_rec->name, "kept", 5);
	char *lost = malloc(32);      /* 32 bytes, definitely lost */
	strcpy(lost, "behind a link");
	reused &= keep_rec == a && lost == b;
	__asm__ volatile("" ::"r"(lost) : "memory");
}

__attribute__((noinline)) static void lose_behind_slack(void)
{
	char *lost = malloc(64);      /* 64 bytes, definitely lost */
	strcpy(lost, "behind slack");
	void **a = malloc(48);
	memset(a, 0, 48);
	a[5] = lost;                  /* bytes 40..47 */
	__asm__ volatile("" ::"r"(a) : "memory");   /* the store is not dead */
	free(a);
	keep_buf = malloc(40);
	memset(keep_buf, 'x', 40);
	reused &= keep_buf == (char *)a;
	__asm__ volatile("" ::"r"(lost) : "memory");
}

/* Overwrite the dead stack the two left behind (memcheck would see the
 * stale copies there as defined words). */
__attribute__((noinline)) static void wipe_stack(void)
{
	volatile char pad[4096];
	memset((char *)pad, 0, sizeof(pad));
}

int main(void)
{
	lose_behind_link();
	lose_behind_slack();
	wipe_stack();
	puts(reused ? "reused" : "not reused");
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * A program that uses memprof's in-program API (<memprof.h>) and runs
 * unchanged without memprof.  Its own output (stdout) does not depend on
 * memprof; what the API answers goes to stderr, one "name value errno"
 * line per call:
 *   1. loses 1000 bytes (lose), asks memprof_leak_check (1000 under memprof);
 *   2. ignores a 3000-byte block holding a 500-byte one and loses both
 *      (intentional): the check still says 1000;
 *   3. ignores a 700-byte block, frees it, gets a block of that size
 *      again (the same address, from the thread cache) and loses it: a
 *      freed block leaves the ignore set, so the check says 1700;
 *   4. memprof_snapshot("after-load") and a bad name; memprof_running.
 */
#include <errno.h>
#include <memprof.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void report(const char *what, long v)
{
	fprintf(stderr, "%s %ld %s\n", what, v, v < 0 ? strerrorname_np(errno) : "-");
}

__attribute__((noinline)) static void lose(size_t n)
{
	char *volatile p = malloc(n);
	memset(p, 1, n);
}

__attribute__((noinline)) static void lose_ignored(void)
{
	char **volatile p = malloc(3000);
	memset(p, 0, 3000);
	p[0] = malloc(500);
	memset(p[0], 2, 500);
	report("ignore", memprof_ignore(p));
}

/* Addresses are kept only scrambled: a plain copy would be a pointer to
 * the block and keep it reachable. */
#define SCRAMBLE(p) (~(unsigned long)(p))

__attribute__((noinline)) static unsigned long ignore_and_free(void)
{
	void *volatile p = malloc(700);
	memprof_ignore(p);
	free(p);
	return SCRAMBLE(p);
}

__attribute__((noinline)) static int lose_reused(unsigned long freed)
{
	void *volatile p = malloc(700);
	memset(p, 3, 700);
	return SCRAMBLE(p) == freed;
}

int main(void)
{
	unsigned long sum = 0;

	report("running", memprof_running());
	for (int i = 1; i <= 100; i++)
		sum += (unsigned long)i * i;
	printf("sum of squares to 100: %lu\n", sum);

	lose(1000);
	report("leak_check", memprof_leak_check());
	lose_ignored();
	report("leak_check_ignored", memprof_leak_check());
	report("same_address", lose_reused(ignore_and_free()));
	report("leak_check_reused", memprof_leak_check());
	report("snapshot", memprof_snapshot("after-load"));
	report("snapshot_bad_name", memprof_snapshot("no spaces"));
	printf("done\n");
	return 3;
}

/* SPDX-License-Identifier: MIT */
/*
 * Target for memprof attach's unwinding of frames our CFI reader refuses,
 * built -O2 -fomit-frame-pointer -mincoming-stack-boundary=3: GCC then
 * realigns main's stack through a DRAP register and describes main's
 * frame with a CFA expression (*(RBP - 8)), which sample/cfi.c does not
 * take, and which the frame pointer gets wrong by the realignment: only
 * an unwinder that evaluates the expression (elfutils) gets past main to
 * __libc_start_call_main and _start.  Protocol as t-attach's: "ready" on
 * stderr, rounds until standard input says "stop" (or, with an argument
 * N, N rounds).
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

/* Eight arguments: two on the stack, which main passes from its
 * realigned frame. */
NOINLINE void *aligned_work(long a, long b, long c, long d, long e, long f, long g, long h)
{
	char buf[64] __attribute__((aligned(64)));
	void *p;

	memset(buf, (int)(a + b + c + d + e + f + g + h), sizeof(buf));
	asm volatile("" : : "r"(buf) : "memory");
	p = malloc(1000 + (size_t)(buf[3] & 1));
	asm volatile("" : : "r"(p) : "memory");
	return p;
}

int main(int argc, char **argv)
{
	long rounds = argc > 1 ? atol(argv[1]) : -1;
	char line[64];

	if (rounds < 0)
		fputs("ready\n", stderr);
	for (long r = 0; rounds < 0 || r < rounds; r++) {
		struct pollfd p = { 0, POLLIN, 0 };

		for (int i = 0; i < 100; i++)
			free(aligned_work(1, 2, 3, 4, 5, 6, 7, 8));
		if (rounds < 0 && poll(&p, 1, 1) > 0) {
			ssize_t n = read(0, line, sizeof(line));

			if (n <= 0 || strncmp(line, "stop", 4) == 0)
				break;
		}
	}
	puts("done");
	return 0;
}

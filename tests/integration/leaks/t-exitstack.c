/* SPDX-License-Identifier: MIT */
/*
 * The exiting thread's stack as the leak scan sees it (memprof's roots
 * start at exit's caller, with the registers it had):
 *   main      main keeps 16 blocks in a local array and returns: its frame
 *             is dead, every block definitely lost (memcheck: 16 of 16;
 *             memprof called 4 of them reachable, their addresses left in
 *             words exit's and the shim's frames never wrote);
 *   exit      a function calls exit() with a block's only address in rbx
 *             (callee-saved: exit's frames save it below the caller's
 *             stack pointer): still reachable, as memcheck says;
 *   _exit     the same through _exit() (interposed by the shim): still
 *             reachable (memcheck, which reads no register at the
 *             exit_group system call, says definitely lost);
 *   api       memprof_leak_check() with a block's only address in rbx:
 *             nothing definitely lost; prints what it returned.
 * Writes with write(2): no stdio buffer in the heap at exit.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memprof.h"

#define NBUF 16

__attribute__((noinline)) static void say(const char *s)
{
	if (write(1, s, strlen(s)) < 0)
		_exit(9);
}

/* Overwrite the dead stack malloc left behind (stale copies of p). */
__attribute__((noinline)) static void wipe_stack(void)
{
	volatile char pad[4096];
	memset((char *)pad, 0, sizeof(pad));
}

/* Call fn(arg) with p's only copy in rbx: the C variable is cleared. */
#define CALL_WITH_RBX(p, fn, arg)                                                              \
	__asm__ volatile("mov %0, %%rbx\n\txor %%eax, %%eax\n\tmov %%rax, %0\n\t"               \
			 "mov %1, %%rdi\n\tcall *%2"                                            \
			 : "+r"(p)                                                              \
			 : "r"((long)(arg)), "r"(fn)                                            \
			 : "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11",  \
			   "memory")

__attribute__((noinline)) static void exit_holding(void (*fn)(int))
{
	char *p = malloc(100);
	memset(p, 1, 100);
	wipe_stack();
	CALL_WITH_RBX(p, fn, 0);
	__builtin_unreachable();
}

__attribute__((noinline)) static long api_holding(void)
{
	long (*fn)(void) = NULL;
	void *sym = memprof__lookup("memprof_api_v1_leak_check");
	long r = -1;
	char *p = malloc(100);
	memset(p, 1, 100);
	wipe_stack();
	memcpy(&fn, &sym, sizeof(fn));
	if (!fn)
		return -1;
	__asm__ volatile("mov %1, %%rbx\n\txor %%eax, %%eax\n\tmov %%rax, %1\n\tcall *%2\n\t"
			 "mov %%rax, %0\n\tmov %%rbx, %1"
			 : "=r"(r), "+r"(p)
			 : "r"(fn)
			 : "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory");
	free(p);
	return r;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "main";
	if (strcmp(mode, "main") == 0) {
		char *buf[NBUF];
		for (int i = 0; i < NBUF; i++) {
			buf[i] = malloc(32 + i);
			memset(buf[i], 'a', 32 + i);
		}
		__asm__ volatile("" ::"r"(buf) : "memory");
		say("main\n");
		return 0;
	}
#if defined(__x86_64__)
	if (strcmp(mode, "exit") == 0)
		exit_holding(exit);
	if (strcmp(mode, "_exit") == 0)
		exit_holding(_exit);
	if (strcmp(mode, "api") == 0) {
		char out[32] = "api ";
		long r = api_holding();
		int n = 4;
		if (r < 0)
			out[n++] = '-', r = -r;
		char digits[24];
		int k = 0;
		do
			digits[k++] = (char)('0' + r % 10);
		while ((r /= 10) > 0);
		while (k > 0)
			out[n++] = digits[--k];
		out[n++] = '\n';
		out[n] = 0;
		say(out);
		return 0;
	}
#endif
	return 2;
}

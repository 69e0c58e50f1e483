/* SPDX-License-Identifier: MIT */
/*
 * Dies after keeping 1000 blocks of 1000 bytes (allocate_blocks), in the
 * way argv[1] says: segv, abort, raise-kill, wait (for a signal from
 * outside: prints "ready", then pauses), handler (a SIGTERM handler of its
 * own that counts and returns: the program goes on and exits 3), fork-segv
 * (a fork child that keeps its own 1000 blocks, child_blocks, and dies of
 * SIGSEGV; the parent exits 0), oom (then allocates and touches memory
 * until the OOM killer ends it), churn (threads allocating and freeing
 * from ever new stacks until killed), plugin PATH (dlopens PATH, calls its
 * plugin_alloc, then raise(SIGKILL)).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void *keep[1000];          /* not static: the stores must stay */
void *child_keep[1000];
static volatile sig_atomic_t terms;

__attribute__((noinline)) void allocate_blocks(void)
{
	for (int i = 0; i < 1000; i++) {
		keep[i] = malloc(1000);
		memset(keep[i], 1, 1000);
	}
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void child_blocks(void)
{
	for (int i = 0; i < 1000; i++) {
		child_keep[i] = malloc(1000);
		memset(child_keep[i], 2, 1000);
	}
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void *oom_grow(void)
{
	void *p = malloc(1 << 20);
	if (p)
		memset(p, 1, 1 << 20);
	return p;
}

/* A new stack per depth: the stack table keeps growing while killed. */
__attribute__((noinline)) void *churn_at(int depth, size_t size)
{
	void *p = depth ? churn_at(depth - 1, size) : malloc(size);
	__asm__ volatile("" ::: "memory");
	return p;
}

static void *churn(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	void *held[64] = { 0 };
	for (unsigned long i = 0;; i++) {
		unsigned r = rand_r(&seed);
		free(held[r % 64]);
		held[r % 64] = churn_at((int)(r % 40), 16 + r % 2000);
	}
	return NULL;
}

static void on_term(int sig)
{
	(void)sig;
	terms++;
}

int main(int argc, char **argv)
{
	const char *how = argc > 1 ? argv[1] : "segv";
	allocate_blocks();
	if (!strcmp(how, "segv")) {
		*(volatile int *)8 = 1;
	} else if (!strcmp(how, "abort")) {
		abort();
	} else if (!strcmp(how, "raise-kill")) {
		raise(SIGKILL);
	} else if (!strcmp(how, "wait")) {
		printf("ready\n");
		fflush(stdout);
		for (;;)
			pause();
	} else if (!strcmp(how, "handler")) {
		signal(SIGTERM, on_term);
		raise(SIGTERM);
		printf("terms %d\n", (int)terms);
		return 3;
	} else if (!strcmp(how, "fork-segv")) {
		pid_t pid = fork();
		if (pid == 0) {
			child_blocks();
			*(volatile int *)8 = 1;
		}
		int st;
		waitpid(pid, &st, 0);
		printf("child %s %d\n", WIFSIGNALED(st) ? "signal" : "exit",
		       WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
		return 0;
	} else if (!strcmp(how, "oom")) {
		printf("ready\n");
		fflush(stdout);
		for (;;)
			oom_grow();
	} else if (!strcmp(how, "plugin") && argc > 2) {
		void *h = dlopen(argv[2], RTLD_NOW);
		void (*fn)(void) = h ? (void (*)(void))dlsym(h, "plugin_alloc") : NULL;
		if (!fn)
			return 1;
		fn();
		raise(SIGKILL);
	} else if (!strcmp(how, "churn")) {
		pthread_t t[3];
		for (int i = 0; i < 3; i++)
			pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)(i + 1));
		printf("ready\n");
		fflush(stdout);
		churn((void *)(uintptr_t)99);
	}
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * Target for the snapshot checks.  Leaks known amounts in named functions
 * and waits for a line on stdin between steps, so the checker decides when
 * snapshots happen and every numbered profile has exact contents.
 *   t-snap steps N   leak_step (1000 x 256 B) N times, "step i PID" each
 *   t-snap cache N   the same, then frees every block before exiting (a
 *                    cache torn down at exit)
 *   t-snap handler   own SIGUSR2 handler (after the shim's constructor)
 *   t-snap query     report SIGUSR2's disposition and thread count
 *   t-snap loop      leak_step until stdin says stop (interval, SIGKILL)
 *   t-snap fork      a child leaks child_leak (1000 x 256 B) and waits
 *   t-snap exec      one step, then execs "t-snap steps 1" (same pid)
 *   t-snap title     writes its process title over its environment, as
 *                    redis, nginx and postgres do, then "steps 1"
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* From libearly.so in t-snap-early (built with -DWITH_EARLY). */
#ifdef WITH_EARLY
#define EARLY 1
extern void early_handler(int sig);
extern volatile sig_atomic_t early_calls;
#else
#define EARLY 0
static void early_handler(int sig) { (void)sig; }
static volatile sig_atomic_t early_calls;
#endif

static volatile sig_atomic_t calls;
void *keep[100000];   /* global: the stores (and mallocs) cannot be optimized away */
size_t nkeep;

__attribute__((noinline)) void leak_step(void)
{
	for (int i = 0; i < 1000; i++)
		keep[nkeep++ % 100000] = malloc(256);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void child_leak(void)
{
	for (int i = 0; i < 1000; i++)
		keep[nkeep++ % 100000] = malloc(256);
	__asm__ volatile("" ::: "memory");
}

static void on_usr2(int sig, siginfo_t *si, void *uc)
{
	(void)sig; (void)si; (void)uc;
	calls++;
}

static int wait_line(void)
{
	char line[64];
	return fgets(line, sizeof(line), stdin) != NULL;
}

static const char *disposition(void)
{
	struct sigaction a;
	sigaction(SIGUSR2, NULL, &a);
	if (a.sa_handler == SIG_DFL)
		return "default";
	if (a.sa_handler == SIG_IGN)
		return "ignore";
	if ((void *)a.sa_sigaction == (void *)on_usr2)
		return (a.sa_flags & SA_SIGINFO) ? "own-siginfo" : "own-noinfo";
	if (EARLY && a.sa_handler == early_handler)
		return "early";
	return "other";
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	setvbuf(stdout, NULL, _IONBF, 0);
	if (strcmp(mode, "title") == 0) {
		/* The strings of argv and environ are one block the kernel
		 * shows as /proc/PID/cmdline and environ: blanked past argv[0]. */
		extern char **environ;
		char *end = argv[argc - 1] + strlen(argv[argc - 1]);
		for (char **e = environ; *e; e++)
			if (*e > end)
				end = *e + strlen(*e);
		memset(argv[0] + strlen(argv[0]), 0, (size_t)(end - argv[0]) - strlen(argv[0]));
		mode = "steps";
	}
	if (strcmp(mode, "steps") == 0 || strcmp(mode, "cache") == 0) {
		int n = argc > 2 ? atoi(argv[2]) : 1;
		for (int i = 1; i <= n; i++) {
			leak_step();
			printf("step %d %d\n", i, (int)getpid());
			if (!wait_line())
				return 1;
		}
		if (strcmp(mode, "cache") == 0)
			for (size_t i = 0; i < nkeep && i < 100000; i++)
				free(keep[i]);
		return 0;
	}
	if (strcmp(mode, "handler") == 0) {
		struct sigaction a;
		memset(&a, 0, sizeof(a));
		a.sa_sigaction = on_usr2;
		a.sa_flags = SA_SIGINFO | SA_RESTART;
		sigaction(SIGUSR2, &a, NULL);
	}
	if (strcmp(mode, "handler") == 0 || strcmp(mode, "query") == 0) {
		leak_step();
		printf("ready %d %s\n", (int)getpid(), disposition());
		if (!wait_line())
			return 1;
		printf("calls %d %s\n", (int)calls + (EARLY ? (int)early_calls : 0),
		       disposition());
		return 0;
	}
	if (strcmp(mode, "loop") == 0) {
		printf("ready %d\n", (int)getpid());
		for (;;) {
			fd_set r;
			struct timeval tv = { 0, 10000 };
			FD_ZERO(&r);
			FD_SET(0, &r);
			if (select(1, &r, NULL, NULL, &tv) > 0)
				return 0;
			leak_step();
		}
	}
	if (strcmp(mode, "exec") == 0) {
		leak_step();
		printf("step 1 %d\n", (int)getpid());
		if (!wait_line())
			return 1;
		execl("/proc/self/exe", argv[0], "steps", "1", (char *)NULL);
		return 127;
	}
	if (strcmp(mode, "fork") == 0) {
		pid_t pid = fork();
		if (pid == 0) {
			child_leak();
			printf("child %d\n", (int)getpid());
			return wait_line() ? 0 : 1;
		}
		int st;
		waitpid(pid, &st, 0);
		return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
	}
	fprintf(stderr, "usage: t-snap steps N|handler|query|loop|fork\n");
	return 2;
}

/* SPDX-License-Identifier: MIT */
/*
 * A target for the `memprof run` behaviour checks: one small action per
 * first argument (see the table in main()), deterministic, no timing.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t got;

static void on_signal(int sig) { got = sig; }

static int copy(int in, int out)
{
	char buf[65536];
	ssize_t n;

	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			return 1;
	return n < 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	const char *arg = argc > 2 ? argv[2] : "0";
	char *block = malloc(1000);   /* something to profile */

	block[0] = 1;
	if (!strcmp(cmd, "exit"))
		return atoi(arg);
	if (!strcmp(cmd, "signal")) {
		signal(atoi(arg), SIG_DFL);
		raise(atoi(arg));
		return 99;
	}
	if (!strcmp(cmd, "cat")) {                 /* stdin to stdout, a line to stderr */
		fputs("to stderr\n", stderr);
		return copy(0, 1);
	}
	if (!strcmp(cmd, "env")) {
		for (int i = 2; i < argc; i++)
			printf("%s=%s\n", argv[i], getenv(argv[i]) ? getenv(argv[i]) : "(unset)");
		return 0;
	}
	if (!strcmp(cmd, "args")) {                 /* our own argv, one per line */
		for (int i = 2; i < argc; i++)
			puts(argv[i]);
		return 0;
	}
	if (!strcmp(cmd, "pid")) {
		printf("%d\n", (int)getpid());
		return 0;
	}
	if (!strcmp(cmd, "touch"))                  /* marker: did we run at all? */
		return close(open(arg, O_WRONLY | O_CREAT, 0644)) != 0;
	if (!strcmp(cmd, "rmdir"))                  /* remove the -o directory, exit argv[3] */
		return rmdir(arg) < 0 ? 99 : atoi(argc > 3 ? argv[3] : "0");
	if (!strcmp(cmd, "fork")) {                 /* a child that allocates, waited for */
		int st;
		pid_t pid = fork();

		if (pid == 0) {
			char *p = malloc(2000);

			p[0] = 1;
			exit(0);
		}
		printf("%d %d\n", (int)getpid(), (int)pid);
		return waitpid(pid, &st, 0) != pid || st != 0;
	}
	if (!strcmp(cmd, "orphan")) {               /* a child that outlives us */
		int fds[2];
		char c;
		pid_t pid;

		if (pipe(fds) < 0)
			return 98;
		pid = fork();
		if (pid == 0) {
			close(fds[1]);
			/* EOF once the parent has exited: then leave the marker. */
			while (read(fds[0], &c, 1) > 0)
				;
			return close(open(arg, O_WRONLY | O_CREAT, 0644)) != 0;
		}
		printf("%d %d\n", (int)getpid(), (int)pid);
		return 0;
	}
	if (!strcmp(cmd, "wait-signal")) {          /* exit 10 + the first signal caught */
		sigset_t none, mask;

		/* Blocked until sigsuspend(), so none slips in before it. */
		sigemptyset(&none);
		sigemptyset(&mask);
		sigaddset(&mask, SIGUSR1);
		sigaddset(&mask, SIGUSR2);
		sigaddset(&mask, SIGHUP);
		sigprocmask(SIG_BLOCK, &mask, NULL);
		signal(SIGUSR1, on_signal);
		signal(SIGUSR2, on_signal);
		signal(SIGHUP, on_signal);
		puts("ready");
		fflush(stdout);
		while (!got)
			sigsuspend(&none);
		return 10 + got;
	}
	fprintf(stderr, "t-cli: unknown command '%s'\n", cmd);
	return 100;
}

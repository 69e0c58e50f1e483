/* SPDX-License-Identifier: MIT */
/*
 * Child supervision for `memprof run`: fork and exec the program, pass
 * signals on, and wait until it and every descendant it leaves behind are
 * gone (memprof becomes a child subreaper, so orphans finish writing their
 * snapshots before we read them).  CLI only.
 */
#ifndef MP_CLI_SUPERVISE_H
#define MP_CLI_SUPERVISE_H

#include <poll.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <sys/types.h>

struct mp_child {
	pid_t pid;            /* the target; -1 before the fork */
	bool alive;
	int status;           /* its wait status once it is gone */
	struct rlimit nofile; /* RLIMIT_NOFILE as we were given it (nofile.h) */
};

/* What the caller does while it waits; every member may be NULL. */
struct mp_supervise_hooks {
	void *ctx;
	/* Called once, when the program's exec succeeded. */
	void (*started)(void *ctx, pid_t pid);
	/* Called after every wake-up, and at least every tick_ms while
	 * nothing else happens. */
	void (*tick)(void *ctx);
	unsigned tick_ms;
	/* Descriptors to wait on as well (the live endpoint, cli/live.h), with
	 * a context of their own: poll_fds fills fds[0..max) and returns how
	 * many, and may lower *timeout_ms (-1: no timeout); after the wait,
	 * polled gets them back with their revents.  Signals are then taken
	 * through a signalfd, in the same wait. */
	void *poll_ctx;
	int (*poll_fds)(void *poll_ctx, struct pollfd *fds, int max, int *timeout_ms);
	void (*polled)(void *poll_ctx, const struct pollfd *fds, int n);
};

/* The most descriptors poll_fds may add. */
#define MP_SUPERVISE_POLL_MAX 64

/*
 * Fork and exec the program at `path` (a file that is not ELF, `is_elf`
 * false, runs with /bin/sh when exec says ENOEXEC, as execvp(3) does) with
 * `argv` and `env`, then wait until it and every descendant left behind are
 * gone.  SIGINT and SIGQUIT come from the terminal to the whole foreground
 * process group, so the program gets them directly and memprof ignores them;
 * SIGTERM, SIGHUP, SIGUSR1 and SIGUSR2 are passed on, to the program or, once
 * it is gone, to the descendants still running.  They stay blocked from
 * before the fork and are taken with sigwaitinfo(), so none is lost between
 * fork and wait.  The program gets the RLIMIT_NOFILE it was given (nofile.h).
 *
 * Returns 0 with *c filled in, or the exit status to fail with (exec failed:
 * 127 or 126, like a shell; 1: no pipe, no fork), the reason printed.
 */
int mp_supervise(const char *path, char **argv, bool is_elf, char **env,
		 const struct mp_supervise_hooks *hooks, struct mp_child *c);

/*
 * memprof run's exit status for the program that ended with wait status
 * c->status: its exit status, or 128+N when signal N killed it (said on
 * stderr, naming it `name`), as a shell does.
 */
int mp_supervise_status(const struct mp_child *c, const char *name);

#endif

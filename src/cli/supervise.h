/* SPDX-License-Identifier: MIT */
/*
 * Child supervision for `memprof run`: fork and exec the program, pass
 * signals on, and wait until it and every descendant it leaves behind in
 * its session are gone (memprof becomes a child subreaper, so orphans
 * finish writing their snapshots before we read them); not for those that
 * left the session (daemons).  CLI only.
 */
#ifndef MP_CLI_SUPERVISE_H
#define MP_CLI_SUPERVISE_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

struct mp_child {
	pid_t pid;            /* the target; -1 before the fork */
	bool alive;
	int status;           /* its wait status once it is gone */
	struct rlimit nofile; /* RLIMIT_NOFILE as we were given it (nofile.h) */
	pid_t sid;            /* the session the program started in: ours */
	pid_t exit_sid;       /* the program's session when it ended: sid, or
			       * the one it made with setsid(2); 0: unknown */
	unsigned recheck_ms;  /* the next look at the sessions (0: none due) */
	const char *name;     /* the program's argv[0], for messages */
	uint64_t gone_ns;     /* CLOCK_MONOTONIC when it ended (0: running) */
	bool said_waiting;    /* the line on the processes waited for is out */
	/* When mp_supervise returned with processes still running, all out
	 * of the program's sessions (see mp_supervise): our children among
	 * them, the ones not waited for, and every process still running in
	 * their trees (themselves included), in no order; malloc'd, freed by
	 * mp_supervise_done. */
	pid_t *detached;
	size_t n_detached;
	pid_t *running;
	size_t n_running;
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

/* The longest gap between two looks at the sessions of the processes left
 * behind (the first comes 10 ms after the program ends, then doubling). */
#define MP_SUPERVISE_RECHECK_MS 1000

/* The most descriptors poll_fds may add. */
#define MP_SUPERVISE_POLL_MAX 64

/*
 * Fork and exec the program at `path` (a file that is not ELF, `is_elf`
 * false, runs with /bin/sh when exec says ENOEXEC, as execvp(3) does) with
 * `argv` and `env`, then wait until it is gone, and so are the descendants
 * it left behind in its session: the one it started in (memprof's), or the
 * one it made itself with setsid(2) before it ended.  A process that left
 * that session (setsid(2): daemon(3), `setsid -f`, ssh-agent, a build
 * server) is not waited for once every process left is one of those: a
 * shell gets its prompt back at once after starting a daemon, and so does
 * the caller of memprof run; c->detached lists them.  The sessions are
 * looked at each time a child ends, and every MP_SUPERVISE_RECHECK_MS at
 * most meanwhile (a process can call setsid(2) at any time after its
 * parent ended, and no signal tells).  SIGINT and SIGQUIT come from the terminal to the whole foreground
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
 * stderr, naming it `name`), as a shell does.  memprof then ends by that
 * signal itself once its work is done (mp_supervise_die_by), so that its
 * caller sees the program's death; 128+N is what it exits with when that
 * signal does not kill it.
 */
int mp_supervise_status(const struct mp_child *c, const char *name);

/*
 * End memprof by signal `sig`, the one that killed the program, as
 * valgrind, timeout(1) and strace do: its caller sees the same wait status
 * (a shell prints "Segmentation fault" and stops a loop on SIGINT; Python's
 * returncode is -N).  Called last, with every file written and closed:
 * flushes stdio (no exit handler runs), sets RLIMIT_CORE to 0 and makes
 * memprof not dumpable (no core of memprof's), restores SIG_DFL for sig,
 * unblocks it and raises it.  Returns only if sig does not terminate a
 * process by default (then it could not have killed the program either);
 * the caller exits 128+sig.  Not in a signal handler.
 */
void mp_supervise_die_by(int sig);

/* Free what mp_supervise left in *c (c->detached, c->running). */
void mp_supervise_done(struct mp_child *c);

#endif

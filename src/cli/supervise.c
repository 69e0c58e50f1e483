/* SPDX-License-Identifier: MIT */
/*
 * Child supervision for `memprof run` (supervise.h): fork and exec the
 * program, pass signals on, wait for it and for every descendant it leaves
 * behind in its session.  CLI only.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/nofile.h"
#include "cli/procstate.h"
#include "cli/supervise.h"
#include "common/grow.h"
#include "common/mono.h"

/* Signals memprof passes on to the target while it waits: those whose
 * default action would end memprof and leave the program running without
 * it, orphaned and never profiled (SIGXCPU, SIGXFSZ, SIGPIPE and SIGSYS
 * are about memprof's own doing, and SIGINT and SIGQUIT reach the program
 * from the terminal itself). */
static const int forwarded_signals[] = { SIGTERM, SIGHUP, SIGUSR1, SIGUSR2,
					 SIGALRM, SIGVTALRM, SIGPROF, SIGPWR };
#define N_FORWARDED (sizeof(forwarded_signals) / sizeof(forwarded_signals[0]))

/* Pass a signal to the target or, once it is gone, to the descendants still
 * running (our children through PR_SET_CHILD_SUBREAPER). */
static void forward_signal(const struct mp_child *c, int sig)
{
	pid_t *kids = NULL;
	size_t n = 0, cap = 0;

	if (c->alive) {
		kill(c->pid, sig);
		return;
	}
	mp_proc_children(0, &kids, &n, &cap);
	for (size_t i = 0; i < n; i++)
		kill(kids[i], sig);
	free(kids);
}

/* Reap every child that has exited, each looked at first without reaping
 * it (WNOWAIT), so that the program's session at its end can be read
 * (getsid(2) still answers for a zombie, not after it is reaped); *reaped
 * is set when one was.  False once we have no child left. */
static bool reap(struct mp_child *c, bool *reaped)
{
	for (;;) {
		siginfo_t si = { .si_pid = 0 };
		pid_t got;
		int st;

		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
			if (errno == EINTR)
				continue;
			return false;   /* ECHILD: none left */
		}
		if (si.si_pid == 0)
			return true;
		if (si.si_pid == c->pid && c->alive) {
			pid_t sid = getsid(c->pid);

			c->exit_sid = sid > 0 ? sid : c->sid;
		}
		got = waitpid(si.si_pid, &st, WNOHANG);
		if (got < 0 && errno == EINTR)
			continue;
		if (got != si.si_pid)
			return true;   /* cannot happen: looked at again after the next signal */
		*reaped = true;
		if (si.si_pid == c->pid) {
			c->alive = false;
			c->status = st;
			c->gone_ns = mp_mono_ns();
		}
	}
}

/*
 * The program has ended and memprof goes on waiting for the processes it
 * left in its session (PROCESSES LEFT RUNNING in memprof-run(1)): said once,
 * WAIT_NOTICE_NS after the end, so that a run that seems to hang says why
 * (a server a start script put in the background).  Even with -q.
 */
#define WAIT_NOTICE_NS 2000000000ull

static void say_waiting(struct mp_child *c, const pid_t *kids, size_t n)
{
	char list[160];
	size_t len = 0;

	if (c->said_waiting || !c->gone_ns || mp_mono_ns() - c->gone_ns < WAIT_NOTICE_NS)
		return;
	c->said_waiting = true;
	for (size_t i = 0; i < n && i < 3; i++) {
		char comm[32];

		mp_proc_comm(kids[i], comm, sizeof(comm));
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%d %s", i ? ", " : "",
					(int)kids[i], comm);
		if (len >= sizeof(list))
			break;
	}
	fprintf(stderr, "memprof: '%s' has ended; waiting for the %zu process%s it left running "
		"in its session (pid%s %s%s), whose %s (Ctrl-C stops %s)\n",
		c->name ? c->name : "the program", n, n == 1 ? "" : "es", n == 1 ? "" : "s", list,
		n > 3 ? ", ..." : "",
		n == 1 ? "profile is written when it ends" : "profiles are written when they end",
		n == 1 ? "it" : "them");
}

/* Whether process `pid` is in one of the program's sessions.  One that
 * cannot be asked (gone since it was listed, its SIGCHLD on its way)
 * counts as one; EPERM is how getsid(2) may refuse a process of another
 * session. */
static bool in_program_session(const struct mp_child *c, pid_t pid)
{
	pid_t sid = getsid(pid);

	if (sid < 0)
		return errno != EPERM;
	return sid == c->sid || sid == c->exit_sid;
}

/* c->running: the processes not waited for (c->detached) and every
 * process of their trees, as they are now (a bounded walk). */
static void list_running(struct mp_child *c)
{
	size_t cap = 0;

	for (size_t i = 0; i < c->n_detached; i++) {
		if (MP_GROW(c->running, c->n_running + 1, cap) < 0)
			return;
		c->running[c->n_running++] = c->detached[i];
	}
	for (size_t i = 0; i < c->n_running && c->n_running < (1u << 16); i++)
		mp_proc_children(c->running[i], &c->running, &c->n_running, &cap);
}

/*
 * Reap what has exited; then whether to go on waiting: while the program
 * runs, and after it while one of our children is still in one of its
 * sessions (looked at again c->recheck_ms later: 10 ms after a child
 * ended, then doubling up to MP_SUPERVISE_RECHECK_MS).  When every child
 * left is out of them, they are listed in c->detached and we stop.
 * Children that cannot be listed are waited for, as before.
 */
static bool keep_waiting(struct mp_child *c)
{
	for (;;) {
		siginfo_t si = { .si_pid = 0 };
		pid_t *kids = NULL;
		size_t n = 0, cap = 0;
		bool waited = false, reaped = false;

		if (!reap(c, &reaped))
			return false;
		if (c->alive)
			return true;
		if (mp_proc_children(0, &kids, &n, &cap) < 0) {
			free(kids);
			c->recheck_ms = 0;
			return true;   /* unknown: wait for them all, as before */
		}
		/* (None listed while waitpid saw one: looked at again.) */
		waited = n == 0;
		for (size_t i = 0; i < n && !waited; i++)
			waited = in_program_session(c, kids[i]);
		if (waited) {
			say_waiting(c, kids, n);
			free(kids);
			c->recheck_ms = reaped || !c->recheck_ms ? 10
					: c->recheck_ms >= MP_SUPERVISE_RECHECK_MS / 2
						? MP_SUPERVISE_RECHECK_MS : 2 * c->recheck_ms;
			return true;
		}
		/* One that ended since the reaping is reaped, and the rest
		 * looked at again: it is not left running. */
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid) {
			free(kids);
			continue;
		}
		c->recheck_ms = 0;
		c->detached = kids;
		c->n_detached = n;
		list_running(c);
		return false;
	}
}

/* How long one wait may last: until the hooks' next tick, or the next look
 * at the sessions; -1: until a signal. */
static int wait_ms(const struct mp_child *c, const struct mp_supervise_hooks *hooks)
{
	int t = hooks && hooks->tick ? (int)hooks->tick_ms : -1;

	if (c->recheck_ms && (t < 0 || (int)c->recheck_ms < t))
		t = (int)c->recheck_ms;
	return t;
}

/* The wait of mp_supervise with the hooks' descriptors: signals come
 * through a signalfd, in the same poll(2). */
static void wait_polling(struct mp_child *c, const struct mp_supervise_hooks *hooks,
			 const sigset_t *waitset)
{
	int sfd = signalfd(-1, waitset, SFD_CLOEXEC | SFD_NONBLOCK);

	if (sfd < 0)
		fprintf(stderr, "memprof: cannot create a signalfd: %s, the live endpoint "
			"serves nothing\n", strerror(errno));
	while (keep_waiting(c)) {
		struct pollfd fds[1 + MP_SUPERVISE_POLL_MAX];
		int timeout = wait_ms(c, hooks), n = 0;

		fds[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		if (sfd >= 0)
			n = hooks->poll_fds(hooks->poll_ctx, fds + 1, MP_SUPERVISE_POLL_MAX, &timeout);
		if (sfd < 0) {
			/* Signals as without the hooks. */
			siginfo_t si;
			struct timespec ts = { timeout / 1000, (long)(timeout % 1000) * 1000000L };
			int sig = timeout >= 0 ? sigtimedwait(waitset, &si, &ts)
					       : sigwaitinfo(waitset, &si);
			if (sig > 0 && sig != SIGCHLD)
				forward_signal(c, sig);
		} else {
			struct signalfd_siginfo ssi;

			if (poll(fds, (nfds_t)(1 + n), timeout) <= 0)
				for (int i = 0; i <= n; i++)
					fds[i].revents = 0;
			while (read(sfd, &ssi, sizeof(ssi)) == (ssize_t)sizeof(ssi))
				if (ssi.ssi_signo != SIGCHLD)
					forward_signal(c, (int)ssi.ssi_signo);
			/* Also on a timeout: the hooks' own deadlines. */
			hooks->polled(hooks->poll_ctx, fds + 1, n);
		}
		if (hooks->tick)
			hooks->tick(hooks->ctx);
	}
	if (sfd >= 0)
		close(sfd);
}

int mp_supervise(const char *path, char **argv, bool is_elf, char **env,
		 const struct mp_supervise_hooks *hooks, struct mp_child *c)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, dfl = { .sa_handler = SIG_DFL };
	struct sigaction old_int, old_quit, old_chld;
	sigset_t waitset, oldmask;
	char **sh_argv = NULL;
	int errpipe[2], exec_errno = 0, ret = 0;
	size_t argc = 0;
	ssize_t n;

	/* execvp(3) runs a file that is neither ELF nor "#!" with /bin/sh. */
	while (argv[argc])
		argc++;
	if (!is_elf) {
		sh_argv = calloc(argc + 2, sizeof(*sh_argv));
		if (!sh_argv) {
			fputs("memprof: out of memory\n", stderr);
			return 1;
		}
		sh_argv[0] = (char *)"/bin/sh";
		sh_argv[1] = (char *)path;
		for (size_t i = 1; i < argc; i++)
			sh_argv[i + 1] = argv[i];
	}

	/* The program gets the descriptor limit it was given; we take what the
	 * hard limit allows (nofile.h). */
	mp_cli_nofile_raise(&c->nofile);
	if (pipe2(errpipe, O_CLOEXEC) < 0) {
		fprintf(stderr, "memprof: cannot create a pipe: %s\n", strerror(errno));
		free(sh_argv);
		return 1;
	}

	/* The program starts in our session (mp_supervise's policy). */
	c->sid = getsid(0);
	c->exit_sid = c->sid;
	/* Orphaned descendants are re-parented to us, so we can wait for them to
	 * finish writing their snapshots. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		fprintf(stderr, "memprof: cannot become a child subreaper: %s, ignoring\n",
			strerror(errno));

	sigemptyset(&waitset);
	sigaddset(&waitset, SIGCHLD);
	for (size_t i = 0; i < N_FORWARDED; i++)
		sigaddset(&waitset, forwarded_signals[i]);
	sigprocmask(SIG_BLOCK, &waitset, &oldmask);
	sigaction(SIGINT, &ign, &old_int);
	sigaction(SIGQUIT, &ign, &old_quit);
	/* An inherited SIG_IGN for SIGCHLD would make the kernel reap for us. */
	sigaction(SIGCHLD, &dfl, &old_chld);

	c->pid = fork();
	if (c->pid < 0) {
		fprintf(stderr, "memprof: cannot fork: %s\n", strerror(errno));
		ret = 1;
		goto restore;
	}
	if (c->pid == 0) {
		int e;

		mp_cli_nofile_restore(&c->nofile);
		mp_cli_fsize_restore();
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGQUIT, &old_quit, NULL);
		sigaction(SIGCHLD, &old_chld, NULL);
		sigprocmask(SIG_SETMASK, &oldmask, NULL);
		execve(path, argv, env);
		if (errno == ENOEXEC && sh_argv)
			execve("/bin/sh", sh_argv, env);
		e = errno;
		if (write(errpipe[1], &e, sizeof(e)) < 0) {
			/* nothing left to tell */
		}
		_exit(e == ENOENT ? 127 : 126);
	}
	close(errpipe[1]);
	errpipe[1] = -1;
	c->alive = true;
	c->name = argv[0];
	/* Our own lines must not end memprof when its standard error is a
	 * pipe whose reader has gone (`memprof run make 2>&1 | head`): the
	 * program's status, and the profiles of its tree, come first.  A
	 * write there fails with EPIPE instead, and memprof goes on.  For the
	 * rest of the run: the reports come after this returns.  (A program
	 * that dies of SIGPIPE is still died of: mp_supervise_die_by.) */
	signal(SIGPIPE, SIG_IGN);

	/* Closed by a successful exec (O_CLOEXEC), or carries exec's errno. */
	do
		n = read(errpipe[0], &exec_errno, sizeof(exec_errno));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(exec_errno)) {
		fprintf(stderr, "memprof: cannot run '%s': %s\n", argv[0], strerror(exec_errno));
		ret = exec_errno == ENOENT ? 127 : 126;
	}
	else
		if (hooks && hooks->started)     /* the program is running */
			hooks->started(hooks->ctx, c->pid);

	if (!ret && hooks && hooks->poll_fds) {
		wait_polling(c, hooks, &waitset);
		goto restore;
	}
	while (keep_waiting(c)) {
		int timeout = wait_ms(c, hooks);
		siginfo_t si;
		int sig;

		if (timeout >= 0) {
			struct timespec ts = { timeout / 1000, (long)(timeout % 1000) * 1000000L };

			sig = sigtimedwait(&waitset, &si, &ts);
		} else {
			sig = sigwaitinfo(&waitset, &si);
		}
		if (hooks && hooks->tick)
			hooks->tick(hooks->ctx);

		if (sig > 0 && sig != SIGCHLD)
			forward_signal(c, sig);
	}

restore:
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);
	sigaction(SIGCHLD, &old_chld, NULL);
	sigprocmask(SIG_SETMASK, &oldmask, NULL);
	close(errpipe[0]);
	if (errpipe[1] >= 0)
		close(errpipe[1]);
	free(sh_argv);
	return ret;
}

void mp_supervise_done(struct mp_child *c)
{
	free(c->detached);
	free(c->running);
	c->detached = c->running = NULL;
	c->n_detached = c->n_running = 0;
}

int mp_supervise_status(const struct mp_child *c, const char *name)
{
	if (WIFSIGNALED(c->status)) {
		int sig = WTERMSIG(c->status);
		const char *abbrev = sigabbrev_np(sig);

		/* Said as a shell says it: not for SIGPIPE, the end of every
		 * `memprof run PROGRAM | head`, which a shell leaves silent. */
		if (sig != SIGPIPE)
			fprintf(stderr, "memprof: '%s' terminated by signal %d (%s%s)%s\n", name,
				sig, abbrev ? "SIG" : "", abbrev ? abbrev : "unknown",
				WCOREDUMP(c->status) ? ", core dumped" : "");
		return 128 + sig;
	}
	return WEXITSTATUS(c->status);
}

void mp_supervise_die_by(int sig)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	struct rlimit no_core = { 0, 0 };
	sigset_t set;

	/* Exit handlers do not run: flush what stdio still holds (the caller
	 * has checked standard output already). */
	fflush(NULL);
	/* The program dumped its core if it was going to; ours would only
	 * overwrite it (core_pattern "core") or add a second crash report.
	 * RLIMIT_CORE alone does not stop a core_pattern pipe
	 * (systemd-coredump, apport: the kernel does not apply the limit to
	 * a pipe, core(5)); no core is dumped at all for a process that is
	 * not dumpable (prctl(2), PR_SET_DUMPABLE). */
	setrlimit(RLIMIT_CORE, &no_core);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	sigaction(sig, &dfl, NULL);   /* EINVAL for SIGKILL: its action is already that */
	sigemptyset(&set);
	sigaddset(&set, sig);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	/* Pending once unblocked if it was pending already; else delivered
	 * before raise returns. */
	raise(sig);
}

/* SPDX-License-Identifier: MIT */
/*
 * Child supervision for `memprof run` (supervise.h): fork and exec the
 * program, pass signals on, wait for it and for every descendant it leaves
 * behind.  CLI only.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/nofile.h"
#include "cli/supervise.h"

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
	char path[64], buf[4096];
	ssize_t n;
	int fd;

	if (c->alive) {
		kill(c->pid, sig);
		return;
	}
	snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)getpid());
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (char *p = buf, *end; *p; p = end) {
		long pid = strtol(p, &end, 10);

		if (end == p)
			break;
		if (pid > 0)
			kill((pid_t)pid, sig);
	}
}

/* Reap every child that has exited; false once we have none left. */
static bool reap(struct mp_child *c)
{
	for (;;) {
		int st;
		pid_t pid = waitpid(-1, &st, WNOHANG);

		if (pid > 0) {
			if (pid == c->pid) {
				c->alive = false;
				c->status = st;
			}
			continue;
		}
		if (pid < 0 && errno == EINTR)
			continue;
		return pid == 0;
	}
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
	while (reap(c)) {
		struct pollfd fds[1 + MP_SUPERVISE_POLL_MAX];
		int timeout = hooks->tick ? (int)hooks->tick_ms : -1, n = 0;

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
	while (reap(c)) {
		siginfo_t si;
		int sig;

		if (hooks && hooks->tick) {
			struct timespec ts = { hooks->tick_ms / 1000,
					       (long)(hooks->tick_ms % 1000) * 1000000L };

			sig = sigtimedwait(&waitset, &si, &ts);
			hooks->tick(hooks->ctx);
		} else {
			sig = sigwaitinfo(&waitset, &si);
		}

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

/* SPDX-License-Identifier: MIT */
/*
 * memprof run: start a program with the shim preloaded, wait for it and for
 * every descendant it leaves behind, then turn the snapshots they wrote into
 * pprof heap profiles.
 *
 * The program gets our stdin, stdout, stderr and terminal untouched; only
 * memprof's own messages go to stderr, one line each, prefixed "memprof: ".
 * Snapshots go to a private temporary directory (MEMPROF_OPTIONS snapdir=),
 * one per process that ran the shim, and are converted here, outside the
 * target, once no process can still be writing one.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/early-sym.h"
#include "cli/nofile.h"
#include "cli/heapstats.h"
#include "cli/options.h"
#include "cli/profiles.h"
#include "cli/snapshots.h"
#include "cli/target.h"
#include "common/errmsg.h"
#include "common/snapshot-read.h"
#include "convert/convert.h"
#include "convert/leaks-ci.h"
#include "convert/leaks.h"
#include "symbolize/symbolize.h"

#define SHIM_NAME "libmemprof.so"
#define MAX_DEPTH 256
#define MAX_LEAK_REPORTS 8

struct run_settings {
	const char *output;   /* -o, --output: the target's profile; NULL: memprof.<pid>.heap.pb.gz */
	uint64_t rate;        /* --rate: average bytes between samples; 1: all; 0: off */
	unsigned depth;       /* --depth: frames kept per stack, 1..MAX_DEPTH */
	bool quiet;           /* -q, --quiet: do not report the profiles written */
	uint64_t interval_ns; /* --interval: numbered snapshot period; 0: none */
	int snapshot_signal;  /* --snapshot-signal: on-demand snapshots; 0: none */
	const char *allocator; /* --allocator: "memprof" (own allocator) or "system" */
	bool stats;           /* --stats: print the allocator statistics of each profile */
	bool rate_set;        /* --rate was given (else --leak-check records everything) */
	int leak_check;       /* --leak-check[=summary|full]: 0 off, 1 summary, 2 full */
	const char *leak_reports[MAX_LEAK_REPORTS]; /* --leak-report FILE (repeatable): the
			       * leak report as JSON, SARIF or JUnit XML by extension */
	enum mp_leak_format leak_formats[MAX_LEAK_REPORTS];
	size_t n_leak_reports;
	int error_exitcode;   /* --error-exitcode N: status when a failing leak is found; -1 none */
	unsigned fail_on;     /* --fail-on LIST: MP_FAIL_* classes that fail */
	const char *suppressions; /* --suppressions FILE */
	bool gen_suppressions; /* --gen-suppressions: print ready suppression lines */
};

static const struct run_settings default_settings = {
	.output = NULL,
	.rate = 512 * 1024,
	.depth = 64,
	.quiet = false,
	.interval_ns = 0,
	.snapshot_signal = SIGUSR2,
	.allocator = "memprof",
	.stats = false,
	.rate_set = false,
	.leak_check = 0,
	.n_leak_reports = 0,
	.error_exitcode = -1,
	.fail_on = MP_FAIL_DEFAULT,
	.suppressions = NULL,
	.gen_suppressions = false,
};

/* What the leak check found in every process (see convert_one). */
static struct {
	struct mp_supp *supp;
	struct mp_leak_report **reports;
	size_t n;
	bool failing;
	int errors;
	size_t unchecked;     /* processes the shim could not check */
} leaks;

/* Signals memprof passes on to the target while it waits. */
static const int forwarded_signals[] = { SIGTERM, SIGHUP, SIGUSR1, SIGUSR2 };
#define N_FORWARDED (sizeof(forwarded_signals) / sizeof(forwarded_signals[0]))

static void usage(FILE *f)
{
	fputs("Usage: memprof run [OPTIONS] [--] PROGRAM [ARGS...]\n"
	      "Run PROGRAM with the memprof shim preloaded and write its sampled heap profile\n"
	      "(gzip'd pprof, like a Go heap profile).\n"
	      "\n"
	      "Options:\n"
	      "  -o, --output FILE  write the profile to FILE\n"
	      "                     (default: memprof.<pid>.heap.pb.gz in the working directory)\n"
	      "      --rate SIZE    sample an allocation every SIZE bytes on average; suffixes\n"
	      "                     K, M, G (1024-based); 1 records every allocation, 0 turns\n"
	      "                     sampling off (default: 512K)\n"
	      "      --depth N      keep at most N frames per stack, 1..256 (default: 64)\n"
	      "      --interval DURATION\n"
	      "                     also write numbered profiles every DURATION while the\n"
	      "                     program runs (seconds, or with a unit: 10, 500ms, 1m;\n"
	      "                     default: none)\n"
	      "      --snapshot-signal SIG\n"
	      "                     signal that asks for a numbered profile, as does\n"
	      "                     'memprof snapshot PID' (default: USR2; none: off)\n"
	      "      --allocator NAME\n"
	      "                     memprof: PROGRAM's blocks come from memprof's own\n"
	      "                     size-class allocator (the default); system: from glibc's\n"
	      "                     malloc\n"
	      "      --stats        print the allocator statistics (HeapAlloc, HeapInuse, ...)\n"
	      "                     of each profile written, in one line\n"
	      "      --leak-check[=summary|full]\n"
	      "                     scan the heap at exit and report lost blocks with their\n"
	      "                     allocation stacks (every allocation is recorded unless\n"
	      "                     --rate is given)\n"
	      "      --leak-report FILE  also write the leak report to FILE, as JSON (.json),\n"
	      "                     SARIF 2.1.0 (.sarif) or JUnit XML (.xml); may be repeated\n"
	      "      --error-exitcode N  exit N when a failing leak is found\n"
	      "      --fail-on LIST     classes that fail: definite, indirect, reachable, fds,\n"
	      "                     threads, timers (default: all but reachable)\n"
	      "      --suppressions FILE  leaks to ignore (leak:PATTERN lines, as LSan)\n"
	      "      --gen-suppressions   print a suppression line for each leak found\n"
	      "  -q, --quiet        do not report the profiles written\n"
	      "  -h, --help         show this help and exit\n"
	      "\n"
	      "Forked processes that run the shim get their own profile, named with their pid.\n"
	      "PROGRAM's standard streams pass through; memprof exits with PROGRAM's status\n"
	      "(128+N if signal N killed it).  MEMPROF_SHIM=PATH overrides the shim library.\n"
	      "See memprof-run(1).\n", f);
}

/* ---- the shim -------------------------------------------------------------- */

/* The existing regular file `path`, made absolute; NULL with errno set if
 * there is none. */
static char *existing_file(const char *path)
{
	struct stat st;
	char *abs = realpath(path, NULL);

	if (!abs)
		return NULL;
	if (stat(abs, &st) == 0 && S_ISREG(st.st_mode))
		return abs;
	if (S_ISDIR(st.st_mode))
		errno = EISDIR;
	else if (errno == 0)
		errno = EINVAL;
	free(abs);
	return NULL;
}

/*
 * $MEMPROF_SHIM, else relative to our own executable: the build tree keeps
 * the CLI in src/cli/ and the shim in src/shim/; an install keeps it at
 * MP_SHIM_RELPATH_INSTALLED from bin/.  Relative lookups keep working after
 * the whole prefix is moved.  Returns 0 with a malloc'd absolute path, or
 * prints why not and returns -1.
 */
static int find_shim(char **ret_path)
{
	const char *env = getenv("MEMPROF_SHIM");
	char exe[PATH_MAX], *dir, *a = NULL, *b = NULL, *found = NULL;
	ssize_t n;

	if (env && *env) {
		errno = 0;
		found = existing_file(env);
		if (!found) {
			fprintf(stderr, "memprof: cannot use shim '%s' from MEMPROF_SHIM: %s\n", env,
				strerror(errno));
			return -1;
		}
		*ret_path = found;
		return 0;
	}

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0) {
		fprintf(stderr, "memprof: cannot find the shim: cannot read '/proc/self/exe': %s\n",
			strerror(errno));
		return -1;
	}
	exe[n] = '\0';
	dir = dirname(exe);
	if (asprintf(&a, "%s/../shim/%s", dir, SHIM_NAME) < 0 ||
	    asprintf(&b, "%s/%s", dir, MP_SHIM_RELPATH_INSTALLED) < 0) {
		fputs("memprof: out of memory\n", stderr);
		free(a);
		return -1;
	}
	found = existing_file(a);
	if (!found)
		found = existing_file(b);
	if (!found)
		fprintf(stderr, "memprof: cannot find the shim '" SHIM_NAME "' at '%s' or '%s', "
			"set MEMPROF_SHIM\n", a, b);
	free(a);
	free(b);
	if (!found)
		return -1;
	*ret_path = found;
	return 0;
}

/* ---- the program ----------------------------------------------------------- */

/* Find and vet PROGRAM.  Returns 0, or the exit status to fail with. */
static int prepare_program(const char *name, char **ret_path, bool *ret_is_elf)
{
	struct mp_target_info info;
	char *path = NULL;
	int r;

	r = mp_target_resolve(name, &path);
	if (r == -ENOENT && !strchr(name, '/')) {
		fprintf(stderr, "memprof: '%s': command not found\n", name);
		return 127;
	}
	if (r < 0) {
		fprintf(stderr, "memprof: cannot run '%s': %s\n", name, strerror(-r));
		return r == -ENOENT ? 127 : r == -ENOMEM ? 1 : 126;
	}

	r = mp_target_inspect(path, &info);
	if (r < 0) {
		fprintf(stderr, "memprof: cannot inspect '%s': %s\n", path, strerror(-r));
		free(path);
		return 1;
	}
	r = 0;
	switch (info.verdict) {
	case MP_TARGET_OK:
		break;
	case MP_TARGET_STATIC:
		fprintf(stderr, "memprof: cannot profile '%s': '%s' is statically linked, "
			"LD_PRELOAD has no effect on it\n", name, info.culprit);
		r = 1;
		break;
	case MP_TARGET_SETID:
		fprintf(stderr, "memprof: cannot profile '%s': '%s' is setuid, setgid or has file "
			"capabilities, the dynamic loader ignores LD_PRELOAD for it\n",
			name, info.culprit);
		r = 1;
		break;
	case MP_TARGET_FOREIGN:
		fprintf(stderr, "memprof: cannot profile '%s': '%s' is not a native %d-bit "
			"program, the shim cannot be loaded into it\n",
			name, info.culprit, (int)sizeof(void *) * 8);
		r = 1;
		break;
	case MP_TARGET_MALFORMED:
		fprintf(stderr, "memprof: cannot run '%s': '%s' has malformed ELF headers\n",
			name, info.culprit);
		r = 126;
		break;
	case MP_TARGET_BAD_INTERP:
		fprintf(stderr, "memprof: cannot run '%s': bad interpreter '%s': %s\n",
			name, info.culprit, strerror(info.error));
		r = 126;
		break;
	}
	*ret_is_elf = info.is_elf;
	mp_target_info_done(&info);
	if (r) {
		free(path);
		return r;
	}
	*ret_path = path;
	return 0;
}

/* ---- the environment ------------------------------------------------------- */

/*
 * The program's environment: ours, with LD_PRELOAD led by the shim (a
 * preload the user already had stays after it) and MEMPROF_OPTIONS ending in
 * our keys (the shim reads keys in order, so ours win and any others the
 * user set, like verbose=1, still apply).  NULL on OOM.
 */
static char **build_env(const char *shim, const struct run_settings *s, const char *snapdir)
{
	extern char **environ;
	const char *preload = getenv("LD_PRELOAD"), *opts = getenv("MEMPROF_OPTIONS");
	char **env, *ld = NULL, *mo = NULL;
	size_t n = 0, k = 0;

	for (char **e = environ; *e; e++)
		n++;
	env = calloc(n + 3, sizeof(*env));
	if (!env)
		return NULL;
	if (asprintf(&ld, "LD_PRELOAD=%s%s%s", shim, preload && *preload ? ":" : "",
		     preload ? preload : "") < 0)
		ld = NULL;
	if (asprintf(&mo, "MEMPROF_OPTIONS=%s%srate=%" PRIu64 ",depth=%u,snapdir=%s"
		     ",interval=%" PRIu64 "ns,snapshot_signal=%d,allocator=%s,leak=%d",
		     opts && *opts ? opts : "", opts && *opts ? "," : "",
		     s->rate, s->depth, snapdir, s->interval_ns, s->snapshot_signal,
		     s->allocator, s->leak_check ? 1 : 0) < 0)
		mo = NULL;
	if (!ld || !mo) {
		free(ld);
		free(mo);
		free(env);
		return NULL;
	}
	for (char **e = environ; *e; e++)
		if (strncmp(*e, "LD_PRELOAD=", 11) != 0 && strncmp(*e, "MEMPROF_OPTIONS=", 16) != 0)
			env[k++] = *e;
	env[k++] = ld;
	env[k++] = mo;
	env[k] = NULL;
	return env;
}

/* MEMPROF_OPTIONS the user set, which build_env() passes on: refused in the
 * sanitizers' ':'-separated style, which the shim would ignore. */
static int check_user_shim_options(void)
{
	const char *opts = getenv("MEMPROF_OPTIONS");
	char *fixed = NULL;

	if (!opts || mp_check_shim_options(opts, &fixed) == 0)
		return 0;
	fprintf(stderr, "memprof: bad MEMPROF_OPTIONS '%s': options are separated by ',', "
		"not ':' (MEMPROF_OPTIONS=%s)\n", opts, fixed ? fixed : "...");
	free(fixed);
	return -1;
}

/* Free what build_env() allocated: its last two entries. */
static void free_env(char **env)
{
	size_t n = 0;

	if (!env)
		return;
	while (env[n])
		n++;
	free(env[n - 1]);
	free(env[n - 2]);
	free(env);
}

/*
 * A private directory for the snapshots, with an absolute path (the shim
 * reads snapdir once, the program may chdir later) free of ',' (the
 * MEMPROF_OPTIONS separator): under $TMPDIR when that works, else /tmp.
 * NULL with errno set on failure.
 */
static char *make_tmpdir(void)
{
	const char *bases[] = { getenv("TMPDIR"), "/tmp" };
	int err = EINVAL;

	for (size_t i = 0; i < 2; i++) {
		const char *base = bases[i];
		char *tmpl = NULL, *abs;

		if (!base || base[0] != '/' || strchr(base, ','))
			continue;
		if (asprintf(&tmpl, "%s/memprof.XXXXXX", base) < 0)
			return NULL;
		if (!mkdtemp(tmpl)) {
			err = errno;
			free(tmpl);
			continue;
		}
		abs = realpath(tmpl, NULL);
		if (abs && !strchr(abs, ',')) {
			free(tmpl);
			return abs;
		}
		err = abs ? EINVAL : errno;
		rmdir(tmpl);
		free(abs);
		free(tmpl);
	}
	errno = err;
	return NULL;
}

/* ---- running and waiting --------------------------------------------------- */

struct child_state {
	pid_t pid;            /* the target */
	bool alive;
	int status;           /* its wait status once it is gone */
	struct rlimit nofile; /* RLIMIT_NOFILE as we were given it (nofile.h) */
};

/* Pass a signal to the target or, once it is gone, to the descendants still
 * running (our children through PR_SET_CHILD_SUBREAPER). */
static void forward_signal(const struct child_state *c, int sig)
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
static bool reap(struct child_state *c)
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

/*
 * Fork and exec the program, then wait until it and every descendant left
 * behind are gone.  SIGINT and SIGQUIT come from the terminal to the whole
 * foreground process group, so the program gets them directly and memprof
 * ignores them; the signals in forwarded_signals are passed on.  They stay
 * blocked from before the fork and are taken with sigwaitinfo(), so none is
 * lost between fork and wait.
 *
 * Returns 0 with c filled in, or the exit status to fail with (exec failed:
 * 127 or 126, like a shell, the reason already printed).
 */
/*
 * Numbered snapshots are converted while the program runs, at most every
 * NUMBERED_POLL_MS, so their profiles can be looked at during a long run
 * (and a program killed with SIGKILL keeps all it wrote).
 */
#define NUMBERED_POLL_MS 250

struct numbered_run {
	const struct mp_snapshots_ops *ops;
	const char *snapdir;
	struct timespec last;   /* CLOCK_MONOTONIC of the last scan */
	size_t kept;            /* snapshots that failed to convert and were kept */
	int failures;
};

static void numbered_poll(struct numbered_run *nr)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if ((now.tv_sec - nr->last.tv_sec) * 1000 + (now.tv_nsec - nr->last.tv_nsec) / 1000000 <
	    NUMBERED_POLL_MS)
		return;
	nr->last = now;
	nr->failures += mp_snapshots_collect(nr->snapdir, nr->ops, &nr->kept);
}

/* Symbolization while the target runs: cli/early-sym.c. */
static void prewarm_start(pid_t pid)
{
	mp_early_sym_start(pid);
}

static struct mp_symbolizer *prewarm_finish(void)
{
	return mp_early_sym_finish();
}

static int run_and_wait(const char *path, char **argv, bool is_elf, char **env,
			struct child_state *c, struct numbered_run *nr)
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
		prewarm_start(c->pid);     /* the program is running */

	while (reap(c)) {
		siginfo_t si;
		int sig;

		if (nr) {
			struct timespec ts = { 0, NUMBERED_POLL_MS * 1000000L };

			sig = sigtimedwait(&waitset, &si, &ts);
			numbered_poll(nr);
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

/* ---- converting -------------------------------------------------------------- */

/* "memprof.<pid>.snap" -> pid; 0 for any other name (temporary files). */
static pid_t snapshot_pid(const char *name)
{
	static const char prefix[] = "memprof.", suffix[] = ".snap";
	const char *p = name + sizeof(prefix) - 1;
	uint64_t v = 0;
	size_t digits = 0;

	if (strncmp(name, prefix, sizeof(prefix) - 1) != 0)
		return 0;
	for (; *p >= '0' && *p <= '9'; p++, digits++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > INT_MAX)
			return 0;
	}
	if (digits == 0 || strcmp(p, suffix) != 0)
		return 0;
	return (pid_t)v;
}

/*
 * The profile name for process `pid`.  The target's is -o or the default;
 * another process (forked by the target) gets the same name with its pid:
 *   (default)          memprof.<pid>.heap.pb.gz
 *   -o X.heap.pb.gz    X.<pid>.heap.pb.gz
 *   -o X.pb.gz         X.<pid>.pb.gz
 *   -o X               X.<pid>
 */
static char *output_name(const char *output, pid_t pid, bool is_target)
{
	static const char *const suffixes[] = { ".heap.pb.gz", ".pb.gz" };
	char *s = NULL;

	if (!output) {
		if (asprintf(&s, "memprof.%d.heap.pb.gz", (int)pid) < 0)
			return NULL;
		return s;
	}
	if (is_target)
		return strdup(output);
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		size_t len = strlen(output), slen = strlen(suffixes[i]);

		if (len > slen && strcmp(output + len - slen, suffixes[i]) == 0) {
			if (asprintf(&s, "%.*s.%d%s", (int)(len - slen), output, (int)pid,
				     suffixes[i]) < 0)
				return NULL;
			return s;
		}
	}
	if (asprintf(&s, "%s.%d", output, (int)pid) < 0)
		return NULL;
	return s;
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

/*
 * Turn one raw snapshot into the profiles named after heap profile `out`,
 * reporting what happened.  0, or < 0 when it failed (the snapshot is then
 * named as kept; the caller keeps it).
 */
/* X.heap.pb.gz -> X.<what>.pb.gz; otherwise ".<what>" before ".pb.gz", or
 * ".<what>.pb.gz" appended.  NULL on OOM. */
static char *kind_name(const char *heap_out, const char *what)
{
	static const char *const ends[] = { ".heap.pb.gz", ".pb.gz" };
	size_t n = strlen(heap_out);
	char *r = NULL;
	for (size_t i = 0; i < 2; i++) {
		size_t e = strlen(ends[i]);
		if (n > e && strcmp(heap_out + n - e, ends[i]) == 0) {
			if (asprintf(&r, "%.*s.%s.pb.gz", (int)(n - e), heap_out, what) < 0)
				r = NULL;
			return r;
		}
	}
	if (asprintf(&r, "%s.%s.pb.gz", heap_out, what) < 0)
		r = NULL;
	return r;
}

/* The descriptor, thread and timer profiles beside a heap profile, when the
 * snapshot has the resources section (the shim always writes it), named in
 * `written` (", 'X.fds.pb.gz'", ...) for the report. */
static void convert_resources(struct mp_converter *cv, const struct mp_snap *sn,
			      const char *heap_out, FILE *written)
{
	static const struct {
		enum mp_profile_kind kind;
		const char *name, *what;
	} kinds[] = {
		{ MP_PROFILE_FDS, "fds", "descriptor" },
		{ MP_PROFILE_THREADS, "threads", "thread" },
		{ MP_PROFILE_TIMERS, "timers", "timer" },
	};

	if (!sn->has_res)
		return;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		char *err = NULL, *out = kind_name(heap_out, kinds[i].name);

		if (!out)
			return;
		if (mp_converter_write(cv, kinds[i].kind, out, &err) < 0)
			fprintf(stderr, "memprof: %s\n", err ? err : "cannot write a resource profile");
		else
			fprintf(written, "%s'%s'", ftell(written) ? ", " : ", with ", out);
		free(err);
		free(out);
	}
}

/* --stats: one line per converted snapshot. */
static void print_stats(const struct mp_snap *sn)
{
	char line[512];

	if (mp_heapstats_line(sn, line, sizeof(line)) > 0) {
		if (sn->header.seq)
			fprintf(stderr, "memprof: pid %" PRIu64 " snapshot %" PRIu32 ": %s\n",
				sn->header.pid, sn->header.seq, line);
		else
			fprintf(stderr, "memprof: pid %" PRIu64 " at exit: %s\n", sn->header.pid,
				line);
	}
}

/* --suppressions FILE: read and parse now, before the program runs. */
static int load_suppressions(const char *path)
{
	uint8_t *text = NULL;
	char *err = NULL;
	size_t len = 0;
	int r = mp_cli_read_whole(path, SIZE_MAX, &text, &len);

	if (r == -ENOMEM) {
		fputs("memprof: out of memory\n", stderr);
		return -1;
	}
	if (r < 0) {
		fprintf(stderr, "memprof: cannot read suppressions '%s': %s\n", path, strerror(-r));
		return -1;
	}
	r = mp_supp_parse((const char *)text, len, &leaks.supp, &err);
	free(text);
	if (r < 0) {
		fprintf(stderr, "memprof: bad suppressions '%s': %s\n", path,
			err ? err : strerror(-r));
		free(err);
		return -1;
	}
	return 0;
}

/* --leak-report FILE: the document, whole or not at all. */
static int write_leak_report(const char *path, enum mp_leak_format fmt,
			     const struct run_settings *s)
{
	struct mp_leak_ci ci = { .fail_on = s->fail_on, .version = MP_VERSION,
				 .unchecked = leaks.unchecked };
	char *tmp = NULL;
	FILE *f;
	int r;

	/* Without a working directory, paths stay absolute. */
	if (fmt != MP_LEAKFMT_JSON && mp_leak_ci_from_cwd(&ci) < 0)
		fprintf(stderr, "memprof: cannot get the working directory: %s, source paths in "
			"'%s' stay absolute\n", strerror(errno), path);

	if (asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) < 0) {
		fputs("memprof: out of memory\n", stderr);
		return -1;
	}
	f = fopen(tmp, "wxe");
	if (!f) {
		fprintf(stderr, "memprof: cannot write leak report '%s': %s\n", path, strerror(errno));
		free(tmp);
		return -1;
	}
	r = mp_leaks_write(f, fmt, leaks.reports, leaks.n, &ci);
	mp_leak_ci_done(&ci);
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		fprintf(stderr, "memprof: cannot write leak report '%s': %s\n", path, strerror(-r));
		unlink(tmp);
	}
	free(tmp);
	return r;
}

/* --leak-check: the report of one process's final snapshot. */
static void leak_check_one(const struct mp_snap *sn, struct mp_symbolizer *sym,
			   const struct run_settings *s)
{
	struct mp_leak_report *r = NULL, **nr;

	if (sn->header.seq != 0 || !(sn->header.flags & MP_SNAP_F_FINAL))
		return;
	if (!sn->has_leaks) {
		fprintf(stderr, "memprof: no leak check for pid %" PRIu64 ": the shim could not "
			"run it (see its warning above)\n", sn->header.pid);
		leaks.errors++;
		leaks.unchecked++;
		return;
	}
	if (mp_leaks_build_with(sn, 0, sym, &r) < 0 || !(nr = realloc(leaks.reports,
						       (leaks.n + 1) * sizeof(*nr)))) {
		fputs("memprof: out of memory\n", stderr);
		mp_leaks_free(r);
		leaks.errors++;
		return;
	}
	leaks.reports = nr;
	leaks.reports[leaks.n++] = r;
	mp_supp_apply(leaks.supp, r);
	mp_leaks_print(stderr, r, s->leak_check == 2);
	if (s->gen_suppressions)
		mp_leaks_print_suppressions(stderr, r);
	if (mp_leaks_failing(r, s->fail_on))
		leaks.failing = true;
}

/* One snapshot: read once, symbolized once for all its profiles and the
 * leak report. */
static int convert_one(const char *snap, const char *out, const struct run_settings *s)
{
	struct mp_converter *cv = NULL;
	struct mp_snap *sn = NULL;
	char *err = NULL, *why = NULL;
	int r = mp_snap_read_file(snap, &sn, &why);

	if (r == -EBADMSG)
		mp_set_err(&err, "malformed snapshot '%s': %s", snap, why ? why : strerror(-r));
	else if (r < 0)
		mp_set_err(&err, "cannot read snapshot '%s': %s", snap, strerror(-r));
	free(why);
	if (r == 0) {
		r = mp_converter_new_with(sn, 0, prewarm_finish(), &cv);
		if (r < 0)
			mp_set_err(&err, "cannot convert snapshot '%s': %s", snap, strerror(-r));
	}
	if (r == 0)
		r = mp_converter_write(cv, MP_PROFILE_HEAP, out, &err);
	if (r < 0) {
		if (err)
			fprintf(stderr, "memprof: %s (raw snapshot kept as '%s')\n", err, snap);
		else
			fprintf(stderr, "memprof: cannot write heap profile '%s': %s "
				"(raw snapshot kept as '%s')\n", out, strerror(-r), snap);
	} else {
		/* One line names every file written for the process. */
		char *also = NULL;
		size_t also_len = 0;
		FILE *w = open_memstream(&also, &also_len);

		if (w) {
			convert_resources(cv, sn, out, w);
			fclose(w);
		}
		if (!s->quiet) {
			fprintf(stderr, "memprof: wrote heap profile '%s'%s\n", out, also ? also : "");
			mp_run_few_samples_note(sn, out);
		}
		free(also);
	}
	free(err);
	if (r >= 0 && s->stats)
		print_stats(sn);
	if (sn && s->leak_check)
		leak_check_one(sn, cv ? mp_converter_symbolizer(cv) : NULL, s);
	mp_converter_free(cv);
	mp_snap_free(sn);
	return r;
}

/* Numbered snapshots (cli/snapshots.h): named like the process's final profile. */
struct numbered_ctx {
	const struct run_settings *s;
	const struct child_state *c;
};

static char *numbered_final_name(void *ctx, pid_t pid)
{
	const struct numbered_ctx *x = ctx;

	return output_name(x->s->output, pid, pid == x->c->pid);
}

static int numbered_convert(void *ctx, const char *snap, const char *out)
{
	const struct numbered_ctx *x = ctx;

	return convert_one(snap, out, x->s);
}

/*
 * Convert every snapshot in snapdir, then remove it.  A snapshot that fails
 * to convert is kept (and named) so `memprof convert` can be tried on it.
 * Returns the number of failures; *ret_target_found says whether the target
 * left a snapshot.  `kept_before` numbered snapshots were kept already.
 */
static int convert_all(const char *snapdir, const struct run_settings *s, pid_t target,
		       size_t kept_before, bool *ret_target_found)
{
	pid_t *pids = NULL;
	size_t npids = 0, cap = 0;
	int failures = 0, kept = kept_before ? 1 : 0;
	struct dirent *de;
	DIR *d;

	*ret_target_found = false;
	d = opendir(snapdir);
	if (!d) {
		fprintf(stderr, "memprof: cannot read '%s': %s\n", snapdir, strerror(errno));
		return 1;
	}
	while ((de = readdir(d))) {
		pid_t pid = snapshot_pid(de->d_name);

		if (pid <= 0)
			continue;
		if (npids == cap) {
			size_t ncap = cap ? 2 * cap : 16;
			pid_t *np = realloc(pids, ncap * sizeof(*np));

			if (!np) {
				fputs("memprof: out of memory\n", stderr);
				failures++;
				break;
			}
			pids = np;
			cap = ncap;
		}
		pids[npids++] = pid;
	}
	if (npids)   /* qsort's array must not be NULL, even for 0 elements */
		qsort(pids, npids, sizeof(*pids), cmp_pid);

	/* The target first, then the others by pid. */
	for (size_t pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < npids; i++) {
			bool is_target = pids[i] == target;
			char *snap = NULL, *out;
			int r;

			if (is_target != (pass == 0))
				continue;
			if (is_target)
				*ret_target_found = true;
			out = output_name(s->output, pids[i], is_target);
			if (!out || asprintf(&snap, "%s/memprof.%d.snap", snapdir, (int)pids[i]) < 0) {
				fputs("memprof: out of memory\n", stderr);
				free(out);
				failures++;
				kept++;
				continue;
			}
			r = convert_one(snap, out, s);
			if (r < 0) {
				failures++;
				kept++;
			} else {
				unlink(snap);
			}
			free(out);
			free(snap);
		}
	}
	free(pids);

	/* What is left: partial files of processes that died while writing. */
	rewinddir(d);
	while (!kept && (de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
	if (!kept && rmdir(snapdir) < 0)
		fprintf(stderr, "memprof: cannot remove '%s': %s, ignoring\n", snapdir,
			strerror(errno));
	return failures;
}

/* ---- the command --------------------------------------------------------------- */

/* Parse options into *s.  Returns -1 to go on, or an exit status.
 * Called with argv[0] set to "memprof": getopt's own one-line messages
 * start with it. */
static int parse_options(int argc, char **argv, struct run_settings *s)
{
	enum { OPT_RATE = 0x100, OPT_DEPTH, OPT_INTERVAL, OPT_SNAPSHOT_SIGNAL, OPT_ALLOCATOR,
	       OPT_STATS, OPT_LEAK_CHECK, OPT_LEAK_REPORT, OPT_ERROR_EXITCODE, OPT_FAIL_ON,
	       OPT_SUPPRESSIONS, OPT_GEN_SUPPRESSIONS };
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "rate",   required_argument, NULL, OPT_RATE },
		{ "depth",  required_argument, NULL, OPT_DEPTH },
		{ "interval", required_argument, NULL, OPT_INTERVAL },
		{ "snapshot-signal", required_argument, NULL, OPT_SNAPSHOT_SIGNAL },
		{ "allocator", required_argument, NULL, OPT_ALLOCATOR },
		{ "stats",  no_argument,       NULL, OPT_STATS },
		{ "leak-check", optional_argument, NULL, OPT_LEAK_CHECK },
		{ "leak-report", required_argument, NULL, OPT_LEAK_REPORT },
		{ "error-exitcode", required_argument, NULL, OPT_ERROR_EXITCODE },
		{ "fail-on", required_argument, NULL, OPT_FAIL_ON },
		{ "suppressions", required_argument, NULL, OPT_SUPPRESSIONS },
		{ "gen-suppressions", no_argument, NULL, OPT_GEN_SUPPRESSIONS },
		{ "quiet",  no_argument,       NULL, 'q' },
		{ "help",   no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c, r;

	optind = 0;
	opterr = 1;
	/* "+": stop at the first non-option, PROGRAM's own options follow it. */
	while ((c = mp_getopt(argc, argv, "+o:qh", longopts)) != -1) {
		switch (c) {
		case 'o':
			if (!mp_opt_nonempty(optarg, "output file name"))
				return 2;
			s->output = optarg;
			break;
		case OPT_RATE:
			s->rate_set = true;
			r = mp_parse_size(optarg, &s->rate);
			if (r < 0) {
				fprintf(stderr, "memprof: bad --rate '%s': %s\n", optarg,
					r == -EOVERFLOW ? "too large" : "not a size like 512K");
				return 2;
			}
			break;
		case OPT_DEPTH:
			r = mp_parse_u64(optarg, &v);
			if (r < 0 || v < 1 || v > MAX_DEPTH) {
				fprintf(stderr, "memprof: bad --depth '%s': not a number from 1 to %d\n",
					optarg, MAX_DEPTH);
				return 2;
			}
			s->depth = (unsigned)v;
			break;
		case OPT_INTERVAL:
			r = mp_parse_duration(optarg, &s->interval_ns);
			if (r < 0) {
				fprintf(stderr, "memprof: bad --interval '%s': %s\n", optarg,
					r == -EOVERFLOW ? "too long" : "not a duration like 10 or 500ms");
				return 2;
			}
			if (s->interval_ns && s->interval_ns < 1000000) {
				fprintf(stderr, "memprof: bad --interval '%s': shorter than 1ms\n",
					optarg);
				return 2;
			}
			break;
		case OPT_SNAPSHOT_SIGNAL:
			if (mp_snapshots_parse_signal(optarg, &s->snapshot_signal) < 0) {
				fprintf(stderr, "memprof: bad --snapshot-signal '%s': not a signal "
					"name or number the shim can take, or 'none'\n", optarg);
				return 2;
			}
			break;
		case OPT_ALLOCATOR:
			if (strcmp(optarg, "memprof") != 0 && strcmp(optarg, "system") != 0) {
				fprintf(stderr, "memprof: bad --allocator '%s': not 'memprof' or "
					"'system'\n", optarg);
				return 2;
			}
			s->allocator = optarg;
			break;
		case OPT_STATS:
			s->stats = true;
			break;
		case OPT_LEAK_CHECK:
			if (!optarg || strcmp(optarg, "full") == 0)
				s->leak_check = 2;
			else if (strcmp(optarg, "summary") == 0)
				s->leak_check = 1;
			else {
				fprintf(stderr, "memprof: bad --leak-check '%s': not 'summary' or "
					"'full'\n", optarg);
				return 2;
			}
			break;
		case OPT_LEAK_REPORT:
			if (!*optarg) {
				fputs("memprof: empty --leak-report file name\n", stderr);
				return 2;
			}
			if (s->n_leak_reports == MAX_LEAK_REPORTS) {
				fprintf(stderr, "memprof: more than %d --leak-report files\n",
					MAX_LEAK_REPORTS);
				return 2;
			}
			if (mp_leaks_format_of(optarg, &s->leak_formats[s->n_leak_reports]) < 0) {
				fprintf(stderr, "memprof: bad --leak-report '%s': not a .json, .sarif "
					"or .xml file name\n", optarg);
				return 2;
			}
			s->leak_reports[s->n_leak_reports++] = optarg;
			break;
		case OPT_ERROR_EXITCODE:
			r = mp_parse_u64(optarg, &v);
			if (r < 0 || v < 1 || v > 255) {
				fprintf(stderr, "memprof: bad --error-exitcode '%s': not a number from "
					"1 to 255\n", optarg);
				return 2;
			}
			s->error_exitcode = (int)v;
			break;
		case OPT_FAIL_ON:
			if (mp_leaks_parse_fail_on(optarg, &s->fail_on) < 0) {
				fprintf(stderr, "memprof: bad --fail-on '%s': not a list of definite, "
					"indirect, reachable, fds, threads, timers\n", optarg);
				return 2;
			}
			break;
		case OPT_SUPPRESSIONS:
			s->suppressions = optarg;
			break;
		case OPT_GEN_SUPPRESSIONS:
			s->gen_suppressions = true;
			break;
		case 'q':
			s->quiet = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return 2;   /* getopt printed the problem */
		}
	}
	if (optind >= argc) {
		fputs("memprof: missing program to run, see 'memprof run --help'\n", stderr);
		return 2;
	}
	if (!s->leak_check && (s->n_leak_reports || s->error_exitcode >= 0 || s->suppressions ||
			       s->gen_suppressions)) {
		fputs("memprof: --leak-report, --error-exitcode, --suppressions and "
		      "--gen-suppressions need --leak-check\n", stderr);
		return 2;
	}
	if (s->leak_check && strcmp(s->allocator, "memprof") != 0) {
		fputs("memprof: --leak-check needs --allocator memprof\n", stderr);
		return 2;
	}
	if (s->leak_check && s->rate_set && s->rate == 0) {
		fputs("memprof: --leak-check needs a --rate above 0 (it reports allocation "
		      "stacks)\n", stderr);
		return 2;
	}
	/* Leak mode records the stack of every allocation unless told otherwise. */
	if (s->leak_check && !s->rate_set)
		s->rate = 1;
	return -1;
}

/* The directory a profile (what: "heap profile") or report will be written
 * to must exist and be writable: find out now rather than after a long run. */
static int check_output_dir(const char *output, const char *what)
{
	char *copy = strdup(output ? output : "./x");
	const char *dir;
	int r = 0;

	if (!copy) {
		fputs("memprof: out of memory\n", stderr);
		return -1;
	}
	dir = dirname(copy);
	if (access(dir, W_OK | X_OK) < 0) {
		fprintf(stderr, "memprof: cannot write %s '%s': %s\n", what,
			output ? output : "memprof.<pid>.heap.pb.gz", strerror(errno));
		r = -1;
	}
	free(copy);
	return r;
}

int mp_cmd_run(int argc, char **argv)
{
	struct run_settings s = default_settings;
	struct child_state child = { .pid = -1 };
	struct numbered_ctx numbered_ctx = { 0 };
	const struct mp_snapshots_ops numbered_ops = {
		.ctx = &numbered_ctx,
		.final_name = numbered_final_name,
		.convert = numbered_convert,
	};
	struct numbered_run nr = { 0 };
	char *shim = NULL, *path = NULL, *snapdir = NULL, *preload = NULL, **env = NULL;
	char **prog_argv;
	bool is_elf = true, target_found = false;
	int status, failures;

	status = parse_options(argc, argv, &s);
	if (status >= 0)
		return status;
	prog_argv = argv + optind;

	if (s.suppressions && load_suppressions(s.suppressions) < 0)
		return 2;
	if (check_user_shim_options() < 0)
		return 2;
	status = 1;
	if (check_output_dir(s.output, "heap profile") < 0 || find_shim(&shim) < 0)
		goto out;
	for (size_t i = 0; i < s.n_leak_reports; i++)
		if (check_output_dir(s.leak_reports[i], "leak report") < 0)
			goto out;
	status = prepare_program(prog_argv[0], &path, &is_elf);
	if (status)
		goto out;
	status = 1;
	snapdir = make_tmpdir();
	if (!snapdir) {
		fprintf(stderr, "memprof: cannot create a temporary directory: %s\n",
			strerror(errno));
		goto out;
	}
	mp_snapshots_announce(snapdir);   /* `memprof snapshot` names our profiles */

	/* ld.so splits LD_PRELOAD at spaces and colons: reach a shim whose path
	 * has them through a symbolic link in our temporary directory. */
	if (strpbrk(shim, " :")) {
		if (asprintf(&preload, "%s/" SHIM_NAME, snapdir) < 0 || symlink(shim, preload) < 0) {
			fprintf(stderr, "memprof: cannot link to shim '%s': %s\n", shim,
				strerror(errno));
			goto cleanup;
		}
	}

	env = build_env(preload ? preload : shim, &s, snapdir);
	if (!env) {
		fputs("memprof: out of memory\n", stderr);
		goto cleanup;
	}

	numbered_ctx.s = &s;
	numbered_ctx.c = &child;
	nr.ops = &numbered_ops;
	nr.snapdir = snapdir;
	status = run_and_wait(path, prog_argv, is_elf, env, &child,
			      s.interval_ns || s.snapshot_signal ? &nr : NULL);
	if (status)
		goto cleanup;

	if (WIFSIGNALED(child.status)) {
		int sig = WTERMSIG(child.status);
		const char *abbrev = sigabbrev_np(sig);

		fprintf(stderr, "memprof: '%s' terminated by signal %d (%s%s)%s\n", prog_argv[0],
			sig, abbrev ? "SIG" : "", abbrev ? abbrev : "unknown",
			WCOREDUMP(child.status) ? ", core dumped" : "");
		status = 128 + sig;
	} else {
		status = WEXITSTATUS(child.status);
	}

	if (preload)
		unlink(preload);
	/* Numbered snapshots not converted yet, then the final ones. */
	nr.failures += mp_snapshots_collect(snapdir, &numbered_ops, &nr.kept);
	mp_snapshots_done(snapdir);
	failures = nr.failures + convert_all(snapdir, &s, child.pid, nr.kept, &target_found);
	if (!target_found)
		fprintf(stderr, "memprof: no heap profile for '%s': it left no snapshot\n",
			prog_argv[0]);
	/* A conversion failure only changes a successful status: the program's
	 * own failure is the more important news. */
	if (failures && status == 0)
		status = 1;
	if (s.leak_check) {
		for (size_t i = 0; i < s.n_leak_reports; i++)
			if (write_leak_report(s.leak_reports[i], s.leak_formats[i], &s) < 0 &&
			    status == 0)
				status = 1;
		if (leaks.errors && status == 0)
			status = 1;
		if (leaks.failing && s.error_exitcode >= 0)
			status = s.error_exitcode;
	}
	/* Frees the files loaded while the program ran: their answers go to
	 * the symbolization cache. */
	mp_early_sym_free();
	goto out;

cleanup:
	if (preload)
		unlink(preload);
	if (snapdir) {
		mp_snapshots_done(snapdir);
		rmdir(snapdir);
	}
	mp_early_sym_free();
out:
	for (size_t i = 0; i < leaks.n; i++)
		mp_leaks_free(leaks.reports[i]);
	free(leaks.reports);
	mp_supp_free(leaks.supp);
	memset(&leaks, 0, sizeof(leaks));
	free_env(env);
	free(preload);
	free(snapdir);
	free(path);
	free(shim);
	return status;
}

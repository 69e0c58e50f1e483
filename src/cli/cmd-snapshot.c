/* SPDX-License-Identifier: MIT */
/*
 * `memprof snapshot [--timeout DURATION] [--no-wait] PID`: ask a process
 * running the shim for a numbered snapshot now, and wait until it is on disk.
 *
 * The request is the value MP_TRIGGER_MAGIC sent with rt_tgsigqueueinfo(2)
 * to the shim's helper thread alone (found by its name), on its doorbell
 * (the one real-time signal it does not block): no thread of the program is
 * interrupted, so none of its sleeps, reads, polls or waits returns EINTR
 * (the contract: common/trigger.h; the shim's side: src/shim/trigger.c).
 * Before sending anything we make sure the shim is loaded in the process
 * (its maps name libmemprof.so) and read the signal and the snapshot
 * directory from the MEMPROF_OPTIONS it started with, so a process without
 * the shim never receives a stray signal.  Completion is seen with inotify:
 * the shim renames each finished snapshot into place.
 *
 * A process `memprof run` did not wait for (a daemon) outlives the run's
 * directory: it is made again for the snapshot, which is converted here
 * (convert_orphan).
 *
 * Also the numbered-snapshot collector `memprof run` uses (snapshots.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cli/collect.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "cli/outnames.h"
#include "cli/procstate.h"
#include "cli/snapshots.h"
#include "common/grow.h"
#include "common/mono.h"
#include "common/shim-options.h"
#include "common/shm.h"
#include "common/snapshot.h"
#include "common/trigger.h"
#include "report/timeline.h"

/* ---- signal names ------------------------------------------------------------------ */

int mp_snapshots_parse_signal(const char *s, int *ret_sig)
{
	static const int refused[] = { SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT,
				       SIGTRAP, SIGSYS, SIGCHLD, SIGCONT, SIGTSTP, SIGTTIN, SIGTTOU };
	uint64_t v;
	int sig = -1;

	if (strcmp(s, "none") == 0 || strcmp(s, "0") == 0) {
		*ret_sig = 0;
		return 0;
	}
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	if (mp_parse_u64(s, &v) == 0) {
		sig = v <= 64 ? (int)v : -1;
	} else if (strncasecmp(s, "RTMIN", 5) == 0 || strncasecmp(s, "RTMAX", 5) == 0) {
		bool max = strncasecmp(s, "RTMAX", 5) == 0;
		uint64_t off = 0;

		if (s[5] && ((s[5] != (max ? '-' : '+')) || mp_parse_u64(s + 6, &off) < 0))
			return -EINVAL;
		if (off > (uint64_t)(SIGRTMAX - SIGRTMIN))
			return -EINVAL;
		sig = max ? SIGRTMAX - (int)off : SIGRTMIN + (int)off;
	} else {
		for (int i = 1; i < SIGRTMIN; i++) {
			const char *n = sigabbrev_np(i);

			if (n && strcasecmp(n, s) == 0) {
				sig = i;
				break;
			}
		}
	}
	if (sig < 1 || sig > SIGRTMAX)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (sig == refused[i])
			return -EINVAL;
	*ret_sig = sig;
	return 0;
}

/* ---- the collector ------------------------------------------------------------------ */

/* "memprof.<pid>.<seq>.snap" -> pid and seq; false for any other name. */
static bool numbered_name(const char *name, pid_t *ret_pid, uint32_t *ret_seq)
{
	uint64_t pid;
	uint32_t seq;

	if (mp_snapfile_parse(name, &pid, &seq) != MP_SNAPFILE_NUMBERED)
		return false;
	*ret_pid = (pid_t)pid;
	*ret_seq = seq;
	return true;
}

char *mp_snapshots_path(const char *dir, enum mp_snapfile kind, pid_t pid, uint32_t seq,
			const char *suffix)
{
	/* The name itself: "memprof." and two numbers of 20 digits at most,
	 * ".profile", the suffix, the separators. */
	size_t cap = strlen(dir) + (suffix ? strlen(suffix) : 0) + 64;
	char *path = malloc(cap);

	if (path && !mp_snapfile_path(path, cap, dir, kind, (uint64_t)pid, seq, suffix)) {
		free(path);
		errno = ENAMETOOLONG;
		return NULL;
	}
	return path;
}

struct numbered {
	pid_t pid;
	uint32_t seq;
};

static int cmp_numbered(const void *a, const void *b)
{
	const struct numbered *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

/* "memprof.<pid>.<seq>.profile": the absolute path of the profile made of
 * that snapshot, or nothing when it failed; written whole, then renamed. */
static void leave_record(const char *snapdir, pid_t pid, uint32_t seq, const char *profile)
{
	char *path = NULL, *tmp = NULL, *abs = NULL;
	FILE *f;

	if (profile && profile[0] != '/') {
		char *cwd = getcwd(NULL, 0);

		if (!cwd || asprintf(&abs, "%s/%s", cwd, profile) < 0)
			abs = NULL;
		free(cwd);
		if (!abs)
			return;
		profile = abs;
	}
	path = mp_snapshots_path(snapdir, MP_SNAPFILE_PROFILE, pid, seq, NULL);
	tmp = mp_snapshots_path(snapdir, MP_SNAPFILE_PROFILE, pid, seq, MP_SNAPFILE_TMP);
	if (path && tmp && (f = fopen(tmp, "we"))) {
		fputs(profile ? profile : "", f);
		if (fclose(f) != 0 || rename(tmp, path) < 0)
			unlink(tmp);
	}
	free(path);
	free(tmp);
	free(abs);
}

void mp_snapshots_announce(const char *snapdir)
{
	char *path = NULL;

	if (asprintf(&path, "%s/" MP_SNAPSHOTS_COLLECTOR, snapdir) >= 0) {
		int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

		if (fd >= 0)
			close(fd);
	}
	free(path);
}

void mp_snapshots_done(const char *snapdir)
{
	DIR *d = opendir(snapdir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char name[sizeof(de->d_name)];
		size_t n = strlen(de->d_name), t = strlen(MP_SNAPFILE_TMP);
		uint64_t pid;
		uint32_t seq;

		/* The records, whole or still being written. */
		memcpy(name, de->d_name, n + 1);
		if (n > t && strcmp(name + n - t, MP_SNAPFILE_TMP) == 0)
			name[n - t] = '\0';
		if (strcmp(de->d_name, MP_SNAPSHOTS_COLLECTOR) == 0 ||
		    mp_snapfile_parse(name, &pid, &seq) == MP_SNAPFILE_PROFILE)
			unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}

int mp_snapshots_collect(const char *snapdir, const struct mp_snapshots_ops *ops,
			 size_t *ret_kept)
{
	struct numbered *v = NULL;
	size_t n = 0, cap = 0;
	int failures = 0;
	struct dirent *de;
	DIR *d = opendir(snapdir);

	if (!d)
		return 0;   /* reported by the final conversion */
	while ((de = readdir(d))) {
		struct numbered x;

		if (!numbered_name(de->d_name, &x.pid, &x.seq))
			continue;
		if (MP_GROW(v, n + 1, cap) < 0)
			break;
		v[n++] = x;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_numbered);
	for (size_t i = 0; i < n; i++) {
		char *snap = NULL, *kept = NULL, *final = ops->final_name(ops->ctx, v[i].pid), *out;

		out = final ? mp_snapname_numbered(final, v[i].seq) : NULL;
		if (!out || !(snap = mp_snapshots_path(snapdir, MP_SNAPFILE_NUMBERED, v[i].pid,
						       v[i].seq, NULL)) ||
		    asprintf(&kept, "%s.failed", snap) < 0) {
			fputs("memprof: out of memory\n", stderr);
			failures++;
		} else if (rename(snap, kept) == 0) {
			/* Converted under the name it keeps on failure, so the
			 * message that names it stays true. */
			bool ok = ops->convert(ops->ctx, kept, out) >= 0;

			if (!ok) {
				failures++;
				(*ret_kept)++;
			} else {
				unlink(kept);
			}
			leave_record(snapdir, v[i].pid, v[i].seq, ok ? out : NULL);
		}
		free(final);
		free(out);
		free(snap);
		free(kept);
	}
	free(v);
	return failures;
}

/* ---- memprof snapshot ----------------------------------------------------------------- */

static void usage(FILE *f)
{
	fputs("Usage: memprof snapshot [OPTIONS] PID\n"
	      "Ask process PID, running under memprof (or with the shim preloaded), for a\n"
	      "numbered snapshot now, and wait until it is written.  Under 'memprof run' it\n"
	      "becomes a numbered profile (see memprof-run(1)).\n"
	      "\n"
	      "Options:\n"
	      "  -t, --timeout DURATION  wait at most this long (seconds, or with a unit:\n"
	      "                          10, 500ms; default: 10s)\n"
	      "      --no-wait           send the request and return\n"
	      "  -q, --quiet             do not report the snapshot written\n"
	      "  -h, --help              show this help and exit\n"
	      "\n"
	      "See memprof-snapshot(1).\n", f);
}

int mp_snapshots_shim_loaded(pid_t pid)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (!found && getline(&line, &cap, f) > 0)
		found = strstr(line, "/libmemprof.so") != NULL;
	free(line);
	fclose(f);
	return found;
}

/* The directory of the socket named MP_SHM_SOCKET that process pid holds,
 * from the socket inodes of its descriptors and /proc/net/unix; NULL when
 * it holds none (or they cannot be read: another user's). */
static char *socket_dir_of(pid_t pid)
{
	char path[64], link[64], *line = NULL, *dir = NULL;
	unsigned long *inodes = NULL;
	size_t n = 0, cap = 0, len = 0;
	struct dirent *de;
	DIR *d;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if (!(d = opendir(path)))
		return NULL;
	while ((de = readdir(d))) {
		char fdpath[64 + 256];
		unsigned long ino;
		ssize_t k;

		snprintf(fdpath, sizeof(fdpath), "%s/%s", path, de->d_name);
		k = readlink(fdpath, link, sizeof(link) - 1);
		if (k <= 0)
			continue;
		link[k] = '\0';
		if (sscanf(link, "socket:[%lu]", &ino) == 1 && MP_GROW(inodes, n + 1, cap) == 0)
			inodes[n++] = ino;
	}
	closedir(d);
	if (n && (f = fopen("/proc/net/unix", "re"))) {
		/* "Num RefCount Protocol Flags Type St Inode Path" */
		while (!dir && getline(&line, &len, f) > 0) {
			unsigned long ino;
			int at = 0;
			char *p, *slash;

			if (sscanf(line, "%*s %*s %*s %*s %*s %*s %lu %n", &ino, &at) != 1 || !at)
				continue;
			p = line + at;
			p[strcspn(p, "\n")] = '\0';
			slash = strrchr(p, '/');
			if (*p != '/' || !slash || strcmp(slash + 1, MP_SHM_SOCKET) != 0)
				continue;
			for (size_t i = 0; i < n && !dir; i++)
				if (inodes[i] == ino)
					dir = strndup(p, (size_t)(slash - p));
		}
		free(line);
		fclose(f);
	}
	free(inodes);
	return dir;
}

/*
 * The snapshot directory of the memprof run that started process pid,
 * found without its environment: redis, nginx and postgres write their
 * process titles over it, so that /proc/PID/environ no longer holds
 * MEMPROF_OPTIONS.  memprof run is an ancestor of every process of its
 * tree (its parent's parent..., or the subreaper it was given to), and
 * holds the socket it bound in that directory (common/shm.h).  NULL when
 * no ancestor does.
 */
static char *run_dir_of(pid_t pid)
{
	char *dir = NULL;

	for (int depth = 0; depth < 64 && !dir && (pid = mp_proc_parent(pid)) > 1; depth++)
		dir = socket_dir_of(pid);
	return dir;
}

/*
 * The snapshot signal and directory the process's shim uses: those of the
 * MEMPROF_OPTIONS it started with, read with the shim's own parser
 * (common/shim-options.h: the same defaults, the last value of a key wins,
 * bad items are ignored as the shim ignores them), the directory being its
 * working directory when snapdir= is not set.
 */
static int shim_settings(pid_t pid, int *ret_sig, char **ret_dir, bool *ret_run)
{
	static const char key[] = MP_OPTIONS_ENV "=";
	char path[64], *buf = NULL, *dir = NULL;
	struct mp_options *o = malloc(sizeof(*o));
	size_t len = 0;
	FILE *f;

	if (!o)
		return -ENOMEM;
	mp_options_default(o);
	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	f = fopen(path, "re");
	if (!f) {
		int r = -errno;

		free(o);
		return r;
	}
	bool found = false;
	while (getdelim(&buf, &len, '\0', f) > 0)
		if (strncmp(buf, key, sizeof(key) - 1) == 0) {
			mp_options_parse(o, buf + sizeof(key) - 1, NULL, NULL);
			found = true;
		}
	free(buf);
	fclose(f);
	if (!found && (dir = run_dir_of(pid))) {
		/* Its environment was written over: its memprof run's directory,
		 * with the defaults memprof run starts the shim with. */
		o->shm = 1;
	} else if (o->snapdir[0]) {
		dir = strdup(o->snapdir);
	} else {
		char cwd[PATH_MAX];
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/%d/cwd", (int)pid);
		n = readlink(path, cwd, sizeof(cwd) - 1);
		if (n < 0) {
			int r = -errno;

			free(o);
			return r;
		}
		cwd[n] = '\0';
		dir = strdup(cwd);
	}
	*ret_sig = (int)o->snapshot_signal;
	*ret_run = o->shm != 0;
	free(o);
	if (!dir)
		return -ENOMEM;
	*ret_dir = dir;
	return 0;
}

/*
 * The shim's helper thread in process pid: named MP_TRIGGER_THREAD_NAME,
 * its doorbell read from its blocked signals (mp_trigger_bell).  Its thread
 * id and doorbell, 0 when there is none (yet: a process that has just
 * started), or -errno.
 */
pid_t mp_snapshots_helper_thread(pid_t pid, int *ret_bell)
{
	char path[96], line[256];
	struct dirent *de;
	pid_t found = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while (!found && (de = readdir(d))) {
		unsigned long long tid, blk = 0;
		bool named = false;
		FILE *f;

		if (sscanf(de->d_name, "%llu", &tid) != 1)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%llu/comm", (int)pid, tid);
		f = fopen(path, "re");
		if (f) {
			named = fgets(line, sizeof(line), f) &&
				strcmp(line, MP_TRIGGER_THREAD_NAME "\n") == 0;
			fclose(f);
		}
		if (!named)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%llu/status", (int)pid, tid);
		f = fopen(path, "re");
		while (f && fgets(line, sizeof(line), f))
			if (sscanf(line, "SigBlk: %llx", &blk) == 1)
				break;
		if (f)
			fclose(f);
		int bell = mp_trigger_bell(blk);
		if (bell) {
			*ret_bell = bell;
			found = (pid_t)tid;
		}
	}
	closedir(d);
	return found;
}

/* Ring the helper thread's doorbell, waiting for the thread to appear (a
 * process that has just started) until deadline_ms.  0 or -errno.  (`sig`,
 * the snapshot signal, only tells that on-demand snapshots are on.) */
static int send_request(pid_t pid, int sig, uint64_t deadline_ms);

static int send_request(pid_t pid, int sig, uint64_t deadline_ms)
{
	(void)sig;
	for (;;) {
		int bell = 0;
		pid_t tid = mp_snapshots_helper_thread(pid, &bell);
		if (tid < 0)
			return tid == -ENOENT ? -ESRCH : tid;
		if (tid > 0) {
			sig = bell;
			siginfo_t si;
			mp_trigger_request(&si, sig, getpid(), getuid());
			if (syscall(SYS_rt_tgsigqueueinfo, pid, tid, sig, &si) == 0)
				return 0;
			if (errno != ESRCH)
				return -errno;
			/* that thread just ended (an exec): look again */
		}
		if (mp_mono_ms() >= deadline_ms)
			return -ENOTCONN;
		struct timespec ts = { 0, 20 * 1000000L };
		nanosleep(&ts, NULL);
	}
}

/*
 * Whether numbered snapshot `name` in dir was taken before `asked_ns`
 * (CLOCK_REALTIME): one that was being written when the request came, which
 * the shim answers with one more (trigger.c coalesces requests).  Several
 * callers at once each get a snapshot taken after their own request, not
 * the first that appears.  A file gone already (converted by memprof run)
 * or unreadable counts as not older.
 */
static bool taken_before(const char *dir, const char *name, uint64_t asked_ns)
{
	struct mp_snap_header h;
	char *path = NULL;
	bool older = false;
	int fd;

	if (asprintf(&path, "%s/%s", dir, name) < 0)
		return false;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return false;
	older = read(fd, &h, sizeof(h)) == (ssize_t)sizeof(h) &&
		memcmp(h.magic, MP_SNAP_MAGIC, sizeof(h.magic)) == 0 && h.end_ns < asked_ns;
	close(fd);
	return older;
}

/* Wait for "memprof.<pid>.<N>.snap" to be renamed into the watched dir,
 * one taken after asked_ns. */
static int wait_for_snapshot(int ifd, const char *dir, pid_t pid, uint64_t asked_ns,
			     uint64_t timeout_ms, uint32_t *ret_seq)
{
	uint64_t deadline = mp_mono_ms() + timeout_ms;
	char buf[sizeof(struct inotify_event) + NAME_MAX + 1]
		__attribute__((aligned(__alignof__(struct inotify_event))));

	for (;;) {
		uint64_t now = mp_mono_ms();
		struct pollfd pfd = { .fd = ifd, .events = POLLIN };
		int r;

		if (now >= deadline)
			return -ETIMEDOUT;
		r = poll(&pfd, 1, (int)(deadline - now > INT_MAX ? INT_MAX : deadline - now));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			continue;
		ssize_t n = read(ifd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			pid_t epid;
			uint32_t seq;

			if (ev->len && numbered_name(ev->name, &epid, &seq) && epid == pid &&
			    !taken_before(dir, ev->name, asked_ns)) {
				*ret_seq = seq;
				return 0;
			}
			p += sizeof(*ev) + ev->len;
		}
		if (kill(pid, 0) < 0 && errno == ESRCH)
			return -ESRCH;
	}
}

/*
 * A process `memprof run` stopped waiting for (it left the program's
 * session, supervise.h) outlives the run and its private directory.  Its
 * shim still answers, but writes into that directory only: it is made
 * again (ours alone, mode 0700, never one that exists), the snapshot taken
 * into it is converted here to a numbered profile in the working directory
 * (named as memprof run names them: memprof.<pid>.s<seq>.heap.pb.gz and
 * its siblings), and the directory is removed again.  While it exists
 * that process's files land in it (its final snapshot, should it exit
 * meanwhile): removed with it.
 *
 * Here: snapshot seq of pid, in the directory made again, to its profile.
 * 0, or -1 with the reason printed (the snapshot kept and named).
 */
static int convert_orphan(const char *dir, pid_t pid, uint32_t seq, bool quiet)
{
	struct mp_collect col = { .snapdir = dir, .quiet = quiet, .target = -1 };
	char *snap = mp_snapshots_path(dir, MP_SNAPFILE_NUMBERED, pid, seq, NULL);
	char *final = mp_outname_heap(NULL, pid, false);
	char *out = final ? mp_snapname_numbered(final, seq) : NULL;
	int r = -1;

	if (!snap || !out)
		fputs("memprof: out of memory\n", stderr);
	else
		r = mp_collect_one(&col, snap, out) < 0 ? -1 : 0;
	free(snap);
	free(final);
	free(out);
	return r;
}

/* Whether `memprof run` collects the snapshots of `dir`. */
static bool collected(const char *dir)
{
	char *path = NULL;
	bool r = false;

	if (asprintf(&path, "%s/" MP_SNAPSHOTS_COLLECTOR, dir) >= 0)
		r = access(path, F_OK) == 0;
	free(path);
	return r;
}

/* Read the record memprof run leaves (mp_snapshots_collect): 0 and the
 * profile's path ("" when it failed), or -errno. */
static int read_record(const char *dir, pid_t pid, uint32_t seq, char **ret)
{
	char *path = NULL, *text = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *f;
	int r;

	path = mp_snapshots_path(dir, MP_SNAPFILE_PROFILE, pid, seq, NULL);
	if (!path)
		return -errno;
	f = fopen(path, "re");
	r = f ? 0 : -errno;
	free(path);
	if (!f)
		return r;
	n = getdelim(&text, &cap, '\0', f);
	fclose(f);
	if (n < 0) {
		free(text);
		text = strdup("");
	}
	if (!text)
		return -ENOMEM;
	*ret = text;
	return 0;
}

/* Wait until memprof run has converted snapshot `seq` of `pid` (its record
 * renamed into `dir`, watched by ifd), at most until `deadline_ms`. */
static int wait_for_profile(int ifd, const char *dir, pid_t pid, uint32_t seq,
			    uint64_t deadline_ms, char **ret)
{
	char buf[sizeof(struct inotify_event) + NAME_MAX + 1]
		__attribute__((aligned(__alignof__(struct inotify_event))));

	for (;;) {
		/* Already there (converted before we looked)? */
		int r = read_record(dir, pid, seq, ret);
		uint64_t now = mp_mono_ms();

		if (r != -ENOENT)
			return r;
		if (now >= deadline_ms)
			return -ETIMEDOUT;
		struct pollfd pfd = { .fd = ifd, .events = POLLIN };
		r = poll(&pfd, 1, (int)(deadline_ms - now > 1000 ? 1000 : deadline_ms - now));
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r > 0) {
			ssize_t n = read(ifd, buf, sizeof(buf));
			if (n < 0 && errno != EINTR && errno != EAGAIN)
				return -errno;
		}
		if (!collected(dir))
			return -ESRCH;   /* memprof run is done: nothing more to come */
	}
}

int mp_cmd_snapshot(int argc, char **argv)
{
	enum { OPT_NO_WAIT = 0x100 };
	static const struct option longopts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "no-wait", no_argument,       NULL, OPT_NO_WAIT },
		{ "quiet",   no_argument,       NULL, 'q' },
		{ "help",    no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t timeout_ns = 10ull * 1000000000ull, v;
	bool wait = true, quiet = false, run = false, orphan = false;
	char *dir = NULL;
	int c, r, sig, ifd = -1, status = 1;
	uint32_t seq = 0;
	pid_t pid;

	optind = 0;
	opterr = 1;
	while ((c = mp_getopt(argc, argv, "t:qh", longopts)) != -1) {
		switch (c) {
		case 't':
			r = mp_parse_duration(optarg, &timeout_ns);
			if (r < 0) {
				fprintf(stderr, "memprof: bad --timeout '%s': not a duration like "
					"10 or 500ms\n", optarg);
				return 2;
			}
			break;
		case OPT_NO_WAIT:
			wait = false;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "memprof: %s, see 'memprof snapshot --help'\n",
			optind >= argc ? "missing process id" : "too many arguments");
		return 2;
	}
	if (mp_parse_u64(argv[optind], &v) < 0 || v < 1 || v > INT_MAX) {
		fprintf(stderr, "memprof: bad process id '%s'\n", argv[optind]);
		return 2;
	}
	pid = (pid_t)v;

	enum mp_proc_kind kind = mp_proc_kind(pid);
	if (kind != MP_PROC_USER) {
		fprintf(stderr, "memprof: cannot take a snapshot of process %d: %s\n", (int)pid,
			mp_proc_kind_reason(kind));
		return 1;
	}
	r = mp_snapshots_shim_loaded(pid);
	if (r < 0) {
		fprintf(stderr, "memprof: cannot take a snapshot of process %d: %s\n", (int)pid,
			r == -ENOENT ? "no such process" : strerror(-r));
		return 1;
	}
	if (r == 0) {
		fprintf(stderr, "memprof: cannot take a snapshot of process %d: the memprof shim "
			"is not loaded in it\n", (int)pid);
		return 1;
	}
	r = shim_settings(pid, &sig, &dir, &run);
	if (r < 0) {
		fprintf(stderr, "memprof: cannot take a snapshot of process %d: cannot read its "
			"environment: %s\n", (int)pid, strerror(-r));
		return 1;
	}
	if (sig == 0) {
		fprintf(stderr, "memprof: cannot take a snapshot of process %d: it runs with "
			"snapshot_signal=0 (--snapshot-signal none)\n", (int)pid);
		goto out;
	}
	if (run && access(dir, F_OK) < 0 && errno == ENOENT) {
		/* Its memprof run is over (see convert_orphan). */
		if (mkdir(dir, 0700) < 0) {
			fprintf(stderr, "memprof: cannot take a snapshot of process %d: its memprof run "
				"is over, and its directory '%s' cannot be made again: %s\n", (int)pid,
				dir, strerror(errno));
			goto out;
		}
		orphan = true;
	}
	if (wait) {
		/* Watch before asking, so the answer cannot be missed. */
		ifd = inotify_init1(IN_CLOEXEC);
		if (ifd < 0 || inotify_add_watch(ifd, dir, IN_MOVED_TO) < 0) {
			fprintf(stderr, "memprof: cannot watch '%s': %s\n", dir, strerror(errno));
			goto out;
		}
	}
	unsigned uid;
	if (wait && mp_proc_cannot_write(pid, dir, &uid)) {
		fprintf(stderr, "memprof: cannot take a snapshot of process %d: it runs as another "
			"user (uid %u) than the owner of '%s', and cannot write its snapshot there\n",
			(int)pid, uid, dir);
		goto out;
	}
	if (wait && mp_proc_stopped(pid)) {
		/* Its helper cannot run: said now, not after the timeout. */
		fprintf(stderr, "memprof: cannot take a snapshot of process %d: it is stopped (SIGSTOP "
			"or a debugger); it answers once continued (kill -CONT %d)\n", (int)pid,
			(int)pid);
		goto out;
	}
	struct timespec asked;
	clock_gettime(CLOCK_REALTIME, &asked);
	r = send_request(pid, sig, mp_mono_ms() + timeout_ns / 1000000);
	if (r < 0) {
		if (r == -ENOTCONN)
			fprintf(stderr, "memprof: cannot take a snapshot of process %d: it has no memprof "
				"snapshot thread\n", (int)pid);
		else
			fprintf(stderr, "memprof: cannot signal process %d: %s\n", (int)pid,
				r == -ESRCH ? "it exited" : strerror(-r));
		goto out;
	}
	if (!wait) {
		status = 0;
		goto out;
	}
	uint64_t deadline = mp_mono_ms() + timeout_ns / 1000000;
	r = wait_for_snapshot(ifd, dir, pid,
			      (uint64_t)asked.tv_sec * 1000000000u + (uint64_t)asked.tv_nsec,
			      timeout_ns / 1000000, &seq);
	if (r < 0) {
		fprintf(stderr, "memprof: no snapshot from process %d: %s\n", (int)pid,
			r == -ETIMEDOUT ? "timed out" : r == -ESRCH ? "it exited" : strerror(-r));
		goto out;
	}
	if (orphan) {
		orphan = false;
		if (convert_orphan(dir, pid, seq, quiet) < 0)
			goto out;   /* the raw snapshot kept, its directory with it */
		mp_collect_remove_dir(dir, true);
	} else if (collected(dir)) {
		/* memprof run turns the snapshot into a profile and removes it:
		 * name the profile. */
		char *profile = NULL;

		r = wait_for_profile(ifd, dir, pid, seq, deadline, &profile);
		if (r == 0 && !*profile) {
			fprintf(stderr, "memprof: process %d wrote snapshot %" PRIu32 ", but memprof "
				"run could not convert it (see its messages)\n", (int)pid, seq);
			free(profile);
			goto out;
		}
		if (r < 0)
			fprintf(stderr, "memprof: process %d wrote snapshot %" PRIu32 ", no profile "
				"of it yet: %s\n", (int)pid, seq,
				r == -ETIMEDOUT ? "timed out" : r == -ESRCH ? "memprof run ended first"
									  : strerror(-r));
		else if (!quiet)
			fprintf(stderr, "memprof: process %d wrote snapshot %" PRIu32 ": '%s'\n",
				(int)pid, seq, profile);
		free(profile);
		if (r < 0)
			goto out;
	} else if (!quiet) {
		char *snap = mp_snapshots_path(dir, MP_SNAPFILE_NUMBERED, pid, seq, NULL);

		fprintf(stderr, "memprof: process %d wrote snapshot %" PRIu32 " ('%s')\n", (int)pid,
			seq, snap ? snap : dir);
		free(snap);
	}
	printf("%" PRIu32 "\n", seq);
	status = 0;
out:
	if (ifd >= 0)
		close(ifd);
	/* Made again for a snapshot that did not come: removed again.  With
	 * --no-wait it stays, for the snapshot (and those that follow). */
	if (orphan && wait)
		mp_collect_remove_dir(dir, true);
	free(dir);
	return status;
}

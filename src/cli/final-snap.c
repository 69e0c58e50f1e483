/* SPDX-License-Identifier: MIT */
/*
 * The target's final snapshot read as soon as it is in place (see
 * final-snap.h).  The shim renames it into the snapshot directory and says
 * so on the socket of the crash receiver (MP_SHM_MSG_DONE, cli/crash.c)
 * just before the process's exit_group; the kernel then takes 17-30 ms to
 * tear a compiler down before memprof learns that it exited.  The receiver
 * calls mp_final_snap_written, which starts a thread that reads the
 * snapshot in that time, on the other core.  (inotify would tell as much,
 * but closing an inotify descriptor waits for an SRCU grace period, up to
 * 16 ms here: `memprof run true` takes 5 ms after the program.)  The file
 * is mapped, not read: a compile's 7 MiB snapshot read into a buffer cost
 * a copy and 1,800 page faults of fresh memory, half the reading.  Then
 * the same thread begins the conversion (mp_final_snap_hooks): by the
 * time memprof learns of the exit, the profiles are being made.  CLI
 * only.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/final-snap.h"
#include "cli/snapshots.h"
#include "common/same-file.h"
#include "common/snapshot-read.h"

static struct {
	pthread_mutex_t lock;
	char *path;                 /* the target's final snapshot (under lock) */
	pid_t pid;
	bool closed;                /* (under lock) taken or done: start nothing */
	bool started;               /* (under lock) the thread was started */
	pthread_t thread;
	struct mp_final_snap_hooks hooks;   /* set with path */
	/* The thread's until it is joined: */
	struct mp_snap *snap;       /* what it read, or NULL */
	void *prepared;             /* hooks.prepare's of snap, or NULL */
	struct stat st;             /* its file as it was read */
} fs = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* What was read and not taken, freed. */
static void drop_read(void)
{
	if (fs.prepared)
		fs.hooks.drop(fs.hooks.ctx, fs.prepared);
	fs.prepared = NULL;
	mp_snap_free(fs.snap);
	fs.snap = NULL;
}

/*
 * The snapshot at `path` parsed from a private mapping of its file (the
 * parser copies what it keeps).  A mapping faults (SIGBUS) where a file
 * shrinks under it; this one cannot: it lies in memprof's private
 * directory (mkdtemp, mode 0700), written whole and renamed into place by
 * a shim that has said it is done with it.
 */
static int map_read(const char *path, struct mp_snap **ret)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct stat st;
	void *p;
	int r;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (uint64_t)st.st_size > MP_SNAP_MAX_FILE) {
		close(fd);
		return -EINVAL;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -errno;
	r = mp_snap_parse(p, (size_t)st.st_size, ret, NULL);
	munmap(p, (size_t)st.st_size);
	return r;
}

/* Read the snapshot; kept only when the file read is still at the path
 * afterwards (snapshots are written whole and renamed into place: another
 * one put there meanwhile is another file).  fs.path does not change while
 * the thread runs. */
static void *read_main(void *arg)
{
	struct stat before, after;
	struct mp_snap *snap = NULL;

	(void)arg;
	if (stat(fs.path, &before) < 0 || !S_ISREG(before.st_mode) ||
	    map_read(fs.path, &snap) < 0 || stat(fs.path, &after) < 0 ||
	    !mp_same_file(&before, &after)) {
		mp_snap_free(snap);
		return NULL;
	}
	fs.snap = snap;
	fs.st = before;
	if (fs.hooks.prepare)
		fs.prepared = fs.hooks.prepare(fs.hooks.ctx, snap);
	return NULL;
}

void mp_final_snap_watch(const char *snapdir, pid_t pid, const struct mp_final_snap_hooks *hooks)
{
	char *path = mp_snapshots_path(snapdir, MP_SNAPFILE_FINAL, pid, 0, NULL);

	pthread_mutex_lock(&fs.lock);
	if (fs.path || fs.closed) {
		free(path);
	} else {
		fs.path = path;
		fs.pid = pid;
		if (hooks)
			fs.hooks = *hooks;
	}
	pthread_mutex_unlock(&fs.lock);
}

void mp_final_snap_written(pid_t pid)
{
	sigset_t all, old;

	pthread_mutex_lock(&fs.lock);
	if (fs.path && pid == fs.pid && !fs.closed && !fs.started) {
		/* The thread takes no signal: supervise.c waits for them. */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		fs.started = pthread_create(&fs.thread, NULL, read_main, NULL) == 0;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	pthread_mutex_unlock(&fs.lock);
}

/* Start nothing more, and wait for the thread if one was started. */
static void close_watch(void)
{
	bool started;

	pthread_mutex_lock(&fs.lock);
	fs.closed = true;
	started = fs.started;
	fs.started = false;
	pthread_mutex_unlock(&fs.lock);
	if (started)
		pthread_join(fs.thread, NULL);
}

struct mp_snap *mp_final_snap_take(const char *path, void **ret_prepared)
{
	struct mp_snap *snap = NULL;
	struct stat now;
	bool ours;

	*ret_prepared = NULL;
	pthread_mutex_lock(&fs.lock);
	ours = fs.path && !fs.closed && strcmp(path, fs.path) == 0;
	pthread_mutex_unlock(&fs.lock);
	if (!ours)
		return NULL;
	close_watch();
	if (fs.snap && stat(path, &now) == 0 && mp_same_file(&fs.st, &now)) {
		snap = fs.snap;
		*ret_prepared = fs.prepared;
		fs.snap = NULL;
		fs.prepared = NULL;
	}
	drop_read();
	return snap;
}

void mp_final_snap_done(void)
{
	close_watch();
	drop_read();
	pthread_mutex_lock(&fs.lock);
	free(fs.path);
	fs.path = NULL;
	pthread_mutex_unlock(&fs.lock);
}

/* SPDX-License-Identifier: MIT */
/*
 * The target's final snapshot read as it appears (final-snap.h): a thread
 * waits on inotify for the rename that puts "memprof.<pid>.snap" in the
 * snapshot directory and reads it at once.  The shim renames it just
 * before the process's exit_group, and the kernel then takes 17-30 ms to
 * tear a compiler down before memprof learns that it exited: the reading
 * fits in that time, on the other core.  CLI only.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/final-snap.h"
#include "cli/snapshots.h"
#include "common/snapshot-read.h"

static struct {
	bool started;
	pthread_t thread;
	int inotify, wd;            /* the inotify descriptor (or -1) and watch */
	char *path;                 /* the snapshot's path */
	const char *name;           /* its name, in path */
	/* The thread's until it is joined: */
	struct mp_snap *snap;       /* the last one read, or NULL */
	struct stat st;             /* its file as it was read */
} fs = { .inotify = -1 };

static void drop(void)
{
	mp_snap_free(fs.snap);
	fs.snap = NULL;
}

/* Device, inode, size and modification time to the nanosecond. */
static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Read the snapshot now; kept only when the file read is still at the path
 * afterwards (snapshots are written whole and renamed into place: another
 * one put there meanwhile is another file). */
static void read_now(void)
{
	struct stat before, after;
	struct mp_snap *snap = NULL;

	drop();
	if (stat(fs.path, &before) < 0 || !S_ISREG(before.st_mode) ||
	    mp_snap_read_file(fs.path, &snap, NULL) < 0 || stat(fs.path, &after) < 0 ||
	    !same_file(&before, &after)) {
		mp_snap_free(snap);
		return;
	}
	fs.snap = snap;
	fs.st = before;
}

/* Until the watch goes (IN_IGNORED: removed by stop(), or the directory
 * is gone): one descriptor, no other to wake the thread with. */
static void *watch_main(void *arg)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool gone = false;

	(void)arg;
	while (!gone) {
		ssize_t n = read(fs.inotify, buf, sizeof(buf));
		bool seen = false;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (char *q = buf; q < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)q;

			gone = gone || (ev->mask & IN_IGNORED);
			/* (events lost: perhaps that one) */
			if ((ev->mask & IN_Q_OVERFLOW) || (ev->len && strcmp(ev->name, fs.name) == 0))
				seen = true;
			q += sizeof(*ev) + ev->len;
		}
		if (seen && !gone)
			read_now();
	}
	return NULL;
}

void mp_final_snap_watch(const char *snapdir, pid_t pid)
{
	sigset_t all, old;
	int err;

	if (fs.started || fs.path)
		return;
	fs.path = mp_snapshots_path(snapdir, MP_SNAPFILE_FINAL, pid, 0, NULL);
	fs.inotify = inotify_init1(IN_CLOEXEC);
	if (!fs.path || fs.inotify < 0 ||
	    (fs.wd = inotify_add_watch(fs.inotify, snapdir, IN_MOVED_TO | IN_ONLYDIR)) < 0)
		goto fail;
	fs.name = strrchr(fs.path, '/') ? strrchr(fs.path, '/') + 1 : fs.path;
	/* The thread takes no signal: supervise.c waits for them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&fs.thread, NULL, watch_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		goto fail;
	fs.started = true;
	return;
fail:
	mp_final_snap_done();
}

/* Stop the thread (after the reading in hand: removing the watch queues
 * the IN_IGNORED its read waits for) and close its descriptor. */
static void stop(void)
{
	if (fs.started) {
		(void)inotify_rm_watch(fs.inotify, fs.wd);
		pthread_join(fs.thread, NULL);
		fs.started = false;
	}
	if (fs.inotify >= 0)
		close(fs.inotify);
	fs.inotify = -1;
}

struct mp_snap *mp_final_snap_take(const char *path)
{
	struct mp_snap *snap = NULL;
	struct stat now;

	if (!fs.path || strcmp(path, fs.path) != 0)
		return NULL;
	stop();
	if (fs.snap && stat(path, &now) == 0 && same_file(&fs.st, &now)) {
		snap = fs.snap;
		fs.snap = NULL;
	}
	drop();
	return snap;
}

void mp_final_snap_done(void)
{
	stop();
	drop();
	free(fs.path);
	fs.path = NULL;
	fs.name = NULL;
}

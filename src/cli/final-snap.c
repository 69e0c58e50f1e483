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
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/final-snap.h"
#include "cli/snapshots.h"
#include "common/snapshot-read.h"

static struct {
	bool started;
	pthread_t thread;
	int inotify, wake;          /* descriptors, or -1 */
	char *path;                 /* the snapshot's path */
	const char *name;           /* its name, in path */
	/* The thread's until it is joined: */
	struct mp_snap *snap;       /* the last one read, or NULL */
	int fd;                     /* the file read (held: its inode is not
				     * reused while we compare it), or -1 */
	struct stat st;             /* as it was read */
} fs = { .inotify = -1, .wake = -1, .fd = -1 };

static void drop(void)
{
	mp_snap_free(fs.snap);
	fs.snap = NULL;
	if (fs.fd >= 0)
		close(fs.fd);
	fs.fd = -1;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Read the snapshot now; kept only when the file read is still at the path
 * afterwards (snapshots are written whole and renamed into place: another
 * one put there meanwhile is a new file). */
static void read_now(void)
{
	struct stat before, after;
	struct mp_snap *snap = NULL;
	int fd;

	drop();
	fd = open(fs.path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return;
	if (fstat(fd, &before) < 0 || !S_ISREG(before.st_mode) ||
	    mp_snap_read_file(fs.path, &snap, NULL) < 0 || stat(fs.path, &after) < 0 ||
	    !same_file(&before, &after)) {
		mp_snap_free(snap);
		close(fd);
		return;
	}
	fs.snap = snap;
	fs.fd = fd;
	fs.st = before;
}

static void *watch_main(void *arg)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	(void)arg;
	for (;;) {
		struct pollfd p[2] = { { .fd = fs.inotify, .events = POLLIN },
				       { .fd = fs.wake, .events = POLLIN } };
		bool seen = false;
		ssize_t n;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		while ((n = read(fs.inotify, buf, sizeof(buf))) > 0) {
			for (char *q = buf; q < buf + n;) {
				const struct inotify_event *ev = (const struct inotify_event *)q;

				/* (events lost: perhaps that one) */
				if ((ev->mask & IN_Q_OVERFLOW) ||
				    (ev->len && strcmp(ev->name, fs.name) == 0))
					seen = true;
				q += sizeof(*ev) + ev->len;
			}
		}
		if (seen)
			read_now();
	}
	return NULL;
}

void mp_final_snap_watch(const char *snapdir, pid_t pid)
{
	sigset_t all, old;
	int err;

	if (fs.started)
		return;
	fs.path = mp_snapshots_path(snapdir, MP_SNAPFILE_FINAL, pid, 0, NULL);
	fs.inotify = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	fs.wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!fs.path || fs.inotify < 0 || fs.wake < 0 ||
	    inotify_add_watch(fs.inotify, snapdir, IN_MOVED_TO | IN_ONLYDIR) < 0)
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

/* Stop the thread (after the reading in hand) and close what it waited on. */
static void stop(void)
{
	if (fs.started) {
		uint64_t one = 1;

		(void)!write(fs.wake, &one, sizeof(one));
		pthread_join(fs.thread, NULL);
		fs.started = false;
	}
	if (fs.inotify >= 0)
		close(fs.inotify);
	if (fs.wake >= 0)
		close(fs.wake);
	fs.inotify = fs.wake = -1;
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

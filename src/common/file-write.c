/* SPDX-License-Identifier: MIT */
/* A file written whole through a temporary name, or into a device as it
 * is (see file-write.h). */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file-write.h"
#include "common/grow.h"
#include "common/write-all.h"

/*
 * Directories whose fsync is deferred (mp_file_defer_dir_sync): a run of a
 * process tree writes five files per process into one directory, and an
 * fsync of that directory after each rename cost as much as the file's own
 * (200 short processes: 9 s of fsyncs after a 2 s program).
 */
static pthread_mutex_t dirs_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t umask_lock = PTHREAD_MUTEX_INITIALIZER;   /* temp_open */
static bool dirs_deferred;
static char **dirs;
static size_t ndirs, cap_dirs;

void mp_file_defer_dir_sync(void)
{
	pthread_mutex_lock(&dirs_lock);
	dirs_deferred = true;
	pthread_mutex_unlock(&dirs_lock);
}

static void sync_dir(const char *dir)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
}

/* mp_file_presync's thread: the directories to sync, NULL-terminated. */
static pthread_t presync_thread;
static bool presync_started;

static void *presync_main(void *arg)
{
	char **dirs = arg;

	for (size_t i = 0; dirs[i]; i++) {
		sync_dir(dirs[i]);
		free(dirs[i]);
	}
	free(dirs);
	return NULL;
}

void mp_file_presync(const char *path, const char *dir)
{
	char **dirs = calloc(3, sizeof(*dirs)), *target = NULL;
	size_t n = 0;
	sigset_t all, old;
	int err;

	if (!dirs || presync_started) {
		free(dirs);
		return;
	}
	if (dir && (dirs[n] = strdup(dir)))
		n++;
	if (mp_file_target(path, &target) == MP_FILE_REPLACE && (dirs[n] = strdup(dirname(target))))
		n++;
	free(target);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = n ? pthread_create(&presync_thread, NULL, presync_main, dirs) : -1;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err == 0) {
		presync_started = true;
		return;
	}
	while (n)
		free(dirs[--n]);
	free(dirs);
}

void mp_file_sync_dirs(void)
{
	if (presync_started) {
		pthread_join(presync_thread, NULL);
		presync_started = false;
	}
	pthread_mutex_lock(&dirs_lock);
	for (size_t i = 0; i < ndirs; i++) {
		sync_dir(dirs[i]);
		free(dirs[i]);
	}
	free(dirs);
	dirs = NULL;
	ndirs = cap_dirs = 0;
	dirs_deferred = false;
	pthread_mutex_unlock(&dirs_lock);
}

/* The rename into `dir` made durable now, or at mp_file_sync_dirs. */
static void dir_written(const char *dir)
{
	pthread_mutex_lock(&dirs_lock);
	if (dirs_deferred) {
		for (size_t i = 0; i < ndirs; i++)
			if (strcmp(dirs[i], dir) == 0) {
				pthread_mutex_unlock(&dirs_lock);
				return;
			}
		char *copy = strdup(dir);
		if (copy && MP_GROW(dirs, ndirs + 1, cap_dirs) == 0) {
			dirs[ndirs++] = copy;
			pthread_mutex_unlock(&dirs_lock);
			return;
		}
		free(copy);
	}
	pthread_mutex_unlock(&dirs_lock);
	sync_dir(dir);   /* not deferred, or no memory to remember it */
}

int mp_file_target(const char *path, char **ret_path)
{
	struct stat st, lst;
	char *real;

	*ret_path = NULL;
	if (stat(path, &st) < 0) {
		/* Nothing there yet (or a dangling link, which is replaced). */
		*ret_path = strdup(path);
		return *ret_path ? MP_FILE_REPLACE : -ENOMEM;
	}
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode)) {
		*ret_path = strdup(path);
		return *ret_path ? MP_FILE_DIRECT : -ENOMEM;
	}
	if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode)) {
		/* /dev/stdout onto a file names /proc/self/fd/1, which
		 * realpath resolves to the file itself. */
		real = realpath(path, NULL);
		if (real) {
			*ret_path = real;
			return MP_FILE_REPLACE;
		}
		if (errno == ENOMEM)
			return -ENOMEM;
		*ret_path = strdup(path);       /* unresolvable: into it, as it is */
		return *ret_path ? MP_FILE_DIRECT : -ENOMEM;
	}
	*ret_path = strdup(path);
	return *ret_path ? MP_FILE_REPLACE : -ENOMEM;
}

/* Into a device, FIFO or socket, as open(2) and write(2) would. */
static int write_direct(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	int r;

	if (fd < 0)
		return -errno;
	r = mp_write_all(fd, buf, len);
	if (close(fd) < 0 && r == 0 && errno != EINTR)
		r = -errno;
	return r;
}

/* A temporary beside `path` (the same directory, so that rename(2) is
 * atomic), with the mode open(2) would give a new file: its descriptor
 * and in *ret_tmp its malloc'd name, or -errno. */
static int temp_open(const char *path, char **ret_tmp)
{
	char *tmp;
	mode_t mask;
	int fd, r;

	*ret_tmp = NULL;
	/* A name near NAME_MAX leaves no room for the suffix: then a short
	 * hidden one in the same directory. */
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	if (strlen(base) + sizeof(".tmp.XXXXXX") - 1 > NAME_MAX
		    ? asprintf(&tmp, "%.*s.memprof.tmp.XXXXXX", (int)(base - path), path) < 0
		    : asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0)
		return -ENOMEM;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		free(tmp);
		return r;
	}
	/* mkostemp creates 0600; give the file the mode open(2) would have.
	 * umask(2) is the only way to read the mask, and sets it: two threads
	 * at once (memprof run writes the heap profile while a second thread
	 * writes the others) would leave it 0, and their files 0666. */
	pthread_mutex_lock(&umask_lock);
	mask = umask(0);
	umask(mask);
	pthread_mutex_unlock(&umask_lock);
	if (fchmod(fd, 0666 & ~mask) < 0) {
		r = -errno;
		close(fd);
		unlink(tmp);
		free(tmp);
		return r;
	}
	*ret_tmp = tmp;
	return fd;
}

/* The closed temporary `tmp` renamed over `path` when r is 0, the rename
 * made durable (a failure there loses nothing already visible); else
 * removed.  Frees tmp.  r, or the rename's -errno. */
static int temp_commit(char *tmp, const char *path, int r)
{
	char *dircopy;

	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	free(tmp);
	if (r == 0 && (dircopy = strdup(path))) {
		dir_written(dirname(dircopy));
		free(dircopy);
	}
	return r;
}

/* The temporary beside `path` with buf's bytes on the disk: its malloc'd
 * name in *ret_tmp, or -errno (nothing left behind). */
static int write_temp(const char *path, const void *buf, size_t len, char **ret_tmp)
{
	char *tmp;
	int r, fd = temp_open(path, &tmp);

	if (fd < 0)
		return fd;
	r = mp_write_all(fd, buf, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		free(tmp);
		return r;
	}
	*ret_tmp = tmp;
	return 0;
}

int mp_file_write_whole(const char *path, const void *buf, size_t len)
{
	struct mp_file_pending p;

	mp_file_prepare(path, buf, len, &p);
	return mp_file_commit(&p);
}

void mp_file_prepare(const char *path, const void *buf, size_t len, struct mp_file_pending *p)
{
	memset(p, 0, sizeof(*p));
	p->r = mp_file_target(path, &p->target);
	if (p->r == MP_FILE_DIRECT) {
		p->buf = buf;
		p->len = len;
		p->r = 0;
	} else if (p->r == MP_FILE_REPLACE) {
		p->r = write_temp(p->target, buf, len, &p->tmp);
	}
}

int mp_file_commit(struct mp_file_pending *p)
{
	int r = p->r;

	if (r == 0 && p->tmp) {
		r = temp_commit(p->tmp, p->target, 0);
		p->tmp = NULL;
	} else if (r == 0) {
		r = write_direct(p->target, p->buf, p->len);
	}
	mp_file_abandon(p);
	return r;
}

void mp_file_abandon(struct mp_file_pending *p)
{
	if (p->tmp)
		unlink(p->tmp);
	free(p->tmp);
	free(p->target);
	memset(p, 0, sizeof(*p));
}

int mp_file_stream_open(const char *path, struct mp_file_stream *w)
{
	int r, fd;

	memset(w, 0, sizeof(*w));
	r = mp_file_target(path, &w->path);
	if (r < 0)
		return r;
	if (r == MP_FILE_DIRECT) {
		w->f = fopen(w->path, "we");
		r = w->f ? 0 : -errno;
	} else {
		fd = temp_open(w->path, &w->tmp);
		if (fd < 0) {
			r = fd;
		} else if (!(w->f = fdopen(fd, "w"))) {
			r = -errno;
			close(fd);
			(void)temp_commit(w->tmp, w->path, r);   /* removes it */
			w->tmp = NULL;
		} else {
			r = 0;
		}
	}
	if (r < 0) {
		free(w->path);
		memset(w, 0, sizeof(*w));
	}
	return r;
}

int mp_file_stream_end(struct mp_file_stream *w, int r)
{
	if (w->f) {
		if (r == 0 && fflush(w->f) != 0)
			r = -errno;
		if (r == 0 && w->tmp && fsync(fileno(w->f)) < 0)
			r = -errno;
		if (fclose(w->f) != 0 && r == 0)
			r = -errno;
	}
	if (w->tmp)
		r = temp_commit(w->tmp, w->path, r);
	free(w->path);
	memset(w, 0, sizeof(*w));
	return r;
}

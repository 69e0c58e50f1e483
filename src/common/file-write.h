/* SPDX-License-Identifier: MIT */
/*
 * A file that appears whole or not at all: the bytes go to a temporary
 * name in the same directory (mkostemp), get the mode open(2) would give
 * them under the umask, reach the disk (fsync), and are renamed over the
 * path; the directory is synced too (at once, or once for many files,
 * below), so the rename outlives a crash.  On
 * failure the temporary is removed and whatever stood at path stays.
 * CLI only (allocates).
 */
#ifndef MP_COMMON_FILE_WRITE_H
#define MP_COMMON_FILE_WRITE_H

#include <stddef.h>
#include <stdio.h>

/* len bytes of buf as the file path.  0, or -errno (-ENOMEM). */
int mp_file_write_whole(const char *path, const void *buf, size_t len);

/*
 * The same in two steps, for a file that must appear only after another:
 * mp_file_prepare does all but the rename (the temporary written and on
 * the disk; for a device, nothing yet: buf must then live until the
 * commit); mp_file_commit renames it into place (or writes the device)
 * and returns what mp_file_write_whole would have; mp_file_abandon
 * removes the temporary instead.  Either ends the pending file.
 */
struct mp_file_pending {
	int r;                  /* 0, or how preparing failed */
	char *target;           /* mp_file_target's */
	char *tmp;              /* the temporary written, or NULL */
	const void *buf;        /* a device's bytes */
	size_t len;
};
void mp_file_prepare(const char *path, const void *buf, size_t len, struct mp_file_pending *p);
int mp_file_commit(struct mp_file_pending *p);
void mp_file_abandon(struct mp_file_pending *p);

/*
 * What an output name stands for.  A device, FIFO or socket (/dev/null,
 * /dev/stdout onto a pipe, a named pipe) is written into as it is: a
 * rename over it would put a file where /dev/null was.  A symbolic link
 * to a file is followed, so that the file it names is replaced and the
 * link stays.  Anything else (a file, or nothing yet) is replaced through
 * a temporary beside it.  A directory is refused (-EISDIR).
 */
enum mp_file_kind {
	MP_FILE_REPLACE = 1,    /* *ret_path: where to put the temporary and rename */
	MP_FILE_DIRECT = 2,     /* *ret_path: the name to open and write into */
};
/* The kind (> 0) and in *ret_path a malloc'd name; or -errno. */
int mp_file_target(const char *path, char **ret_path);

/*
 * The same for a writer that streams (stdio): mp_file_stream_open gives
 * w->f, on a temporary beside the target or on the device itself;
 * mp_file_stream_end(w, r) closes it and, when r is 0 and the close
 * succeeds, renames the temporary into place (else removes it).  Both
 * return 0 or -errno.
 */
struct mp_file_stream {
	FILE *f;
	char *path;             /* mp_file_target's */
	char *tmp;              /* NULL when written in place */
};
int mp_file_stream_open(const char *path, struct mp_file_stream *w);
int mp_file_stream_end(struct mp_file_stream *w, int r);

/*
 * The directory's fsync at once (the default), or, after
 * mp_file_defer_dir_sync(), once per directory at mp_file_sync_dirs()
 * (which ends the deferral): for a run that writes many files into one
 * directory (memprof run of a process tree).  Each file itself is still
 * synced before its rename.
 */
void mp_file_defer_dir_sync(void);
void mp_file_sync_dirs(void);

/*
 * Directories synced now, on a thread of its own, while the caller makes
 * the files: the one a file `path` is about to be written into (when it
 * would be replaced through a temporary), and `dir` (NULL: none), where a
 * program just wrote (memprof run's snapshot directory).  The first fsync
 * after a program ran commits what the filesystem holds for it (ext4's
 * journal: 6-10 ms after a compile); the files' own fsyncs then wait for
 * less.  The first call only; mp_file_sync_dirs waits for the thread.
 * Nothing happens when no thread can be made.
 */
void mp_file_presync(const char *path, const char *dir);

#endif

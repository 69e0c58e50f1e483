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

/* len bytes of buf as the file path.  0, or -errno (-ENOMEM). */
int mp_file_write_whole(const char *path, const void *buf, size_t len);

/*
 * The directory's fsync at once (the default), or, after
 * mp_file_defer_dir_sync(), once per directory at mp_file_sync_dirs()
 * (which ends the deferral): for a run that writes many files into one
 * directory (memprof run of a process tree).  Each file itself is still
 * synced before its rename.
 */
void mp_file_defer_dir_sync(void);
void mp_file_sync_dirs(void);

#endif

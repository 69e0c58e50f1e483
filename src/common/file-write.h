/* SPDX-License-Identifier: MIT */
/*
 * A file that appears whole or not at all: the bytes go to a temporary
 * name in the same directory (mkostemp), get the mode open(2) would give
 * them under the umask, reach the disk (fsync), and are renamed over the
 * path; the directory is synced too, so the rename outlives a crash.  On
 * failure the temporary is removed and whatever stood at path stays.
 * CLI only (allocates).
 */
#ifndef MP_COMMON_FILE_WRITE_H
#define MP_COMMON_FILE_WRITE_H

#include <stddef.h>

/* len bytes of buf as the file path.  0, or -errno (-ENOMEM). */
int mp_file_write_whole(const char *path, const void *buf, size_t len);

#endif

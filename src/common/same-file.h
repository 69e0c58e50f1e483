/* SPDX-License-Identifier: MIT */
/*
 * Whether two stat(2) results are of the same file with the same contents,
 * as far as the kernel tells: a file replaced by a rename has another
 * inode, one rewritten in place another size or modification time.  CLI
 * only (the final snapshot read ahead, a file shared between processes'
 * symbolizers).
 */
#ifndef MP_COMMON_SAME_FILE_H
#define MP_COMMON_SAME_FILE_H

#include <stdbool.h>
#include <sys/stat.h>

/* Device, inode, size and modification time to the nanosecond. */
static inline bool mp_same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

#endif

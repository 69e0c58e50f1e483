/* SPDX-License-Identifier: MIT */
/*
 * The names of the profiles `memprof run` (and `memprof attach`) write: the
 * target's heap profile, its forked children's, and the descriptor, thread,
 * timer and mapping profiles beside each heap profile.  CLI only.
 */
#ifndef MP_CLI_OUTNAMES_H
#define MP_CLI_OUTNAMES_H

#include <stdbool.h>
#include <sys/types.h>

/*
 * The heap profile name for process `pid`.  The target's is `output` (-o)
 * or the default; another process (forked by the target) gets the same
 * name with its pid:
 *   (output NULL)      memprof.<pid>.heap.pb.gz
 *   -o X.heap.pb.gz    X.<pid>.heap.pb.gz
 *   -o X.pb.gz         X.<pid>.pb.gz
 *   -o X               X.<pid>
 * malloc'd; NULL on OOM.
 */
char *mp_outname_heap(const char *output, pid_t pid, bool is_target);

/* The profile of kind `what` ("fds", "threads", ...) beside heap profile
 * `heap_out`: X.heap.pb.gz -> X.<what>.pb.gz; otherwise ".<what>" before
 * ".pb.gz", or ".<what>.pb.gz" appended.  malloc'd; NULL on OOM. */
char *mp_outname_kind(const char *heap_out, const char *what);

/*
 * The directory a file (`what`: "heap profile", "leak report") will be
 * written to must exist and be writable, and the name must not be a
 * directory: find out before a long run.  When other files are named after
 * it (`names_others`: a heap profile's siblings and children), it must be
 * a file or nothing yet; otherwise it may be a device or FIFO
 * (/dev/stdout: common/file-write.h).  `output` NULL stands for the
 * default heap profile in the working directory.  0, or -1 with the
 * reason printed.
 */
int mp_outname_check_dir(const char *output, const char *what, bool names_others);

#endif

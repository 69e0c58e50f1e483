/* SPDX-License-Identifier: MIT */
/*
 * The target's final snapshot read while the kernel still tears the
 * process down (memprof run): by the time memprof learns that it exited,
 * the snapshot is in memory.  An optimization only: whatever fails here,
 * the snapshot is read as before.  CLI only.
 */
#ifndef MP_CLI_FINAL_SNAP_H
#define MP_CLI_FINAL_SNAP_H

#include <sys/types.h>

struct mp_snap;

/* The target is process `pid`, its snapshots in `snapdir` (once per run). */
void mp_final_snap_watch(const char *snapdir, pid_t pid);

/* Process `pid` says its final snapshot is in place (cli/crash.c's
 * receiving thread): the target's is read now, on a thread of its own
 * (nothing happens when none can be made). */
void mp_final_snap_written(pid_t pid);

/*
 * The snapshot at `path`, parsed (mp_snap_free it), when it is the target's,
 * was read ahead, and the file read is still the one at `path`; else NULL:
 * the caller reads it.  Waits for a reading in hand; then nothing more is
 * read ahead.
 */
struct mp_snap *mp_final_snap_take(const char *path);

/* Wait for a reading in hand and free what was read and not taken. */
void mp_final_snap_done(void);

#endif

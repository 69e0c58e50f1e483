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

/* Watch `snapdir` for the final snapshot of process `pid` (once per run;
 * nothing happens when no thread or descriptor is to be had). */
void mp_final_snap_watch(const char *snapdir, pid_t pid);

/*
 * The snapshot at `path`, parsed (mp_snap_free it), when it is the one
 * watched for, was read, and the file read is still the one at `path`;
 * else NULL: the caller reads it.  Stops the watch (waiting for a reading
 * in hand).
 */
struct mp_snap *mp_final_snap_take(const char *path);

/* Stop the watch and free what was read and not taken.  Any number of
 * calls. */
void mp_final_snap_done(void);

#endif

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

/*
 * What is begun with the snapshot on the same thread once it is read (the
 * conversion: the CPUs are idle until memprof learns of the exit):
 * prepare returns what it made of it, or NULL; mp_final_snap_take hands
 * that over with the snapshot, and what is not taken goes to drop (before
 * its snapshot is freed).
 */
struct mp_final_snap_hooks {
	void *ctx;
	void *(*prepare)(void *ctx, const struct mp_snap *snap);
	void (*drop)(void *ctx, void *prepared);
};

/* The target is process `pid`, its snapshots in `snapdir` (once per run);
 * hooks: NULL, or copied. */
void mp_final_snap_watch(const char *snapdir, pid_t pid, const struct mp_final_snap_hooks *hooks);

/* Process `pid` says its final snapshot is in place (cli/crash.c's
 * receiving thread): the target's is read now, on a thread of its own
 * (nothing happens when none can be made). */
void mp_final_snap_written(pid_t pid);

/*
 * The snapshot at `path`, parsed (mp_snap_free it), when it is the target's,
 * was read ahead, and the file read is still the one at `path`; else NULL:
 * the caller reads it.  *ret_prepared: what hooks.prepare made of it (the
 * caller's), or NULL.  Waits for a reading in hand; then nothing more is
 * read ahead.
 */
struct mp_snap *mp_final_snap_take(const char *path, void **ret_prepared);

/* Wait for a reading in hand and free what was read and not taken (any
 * number of calls). */
void mp_final_snap_done(void);

#endif

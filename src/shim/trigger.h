/* SPDX-License-Identifier: MIT */
/*
 * Snapshots while the program runs: every `interval=` and on demand through
 * the snapshot signal (`snapshot_signal=`, default SIGUSR2), taken by one
 * helper thread of the shim.  Runs inside the target.
 *
 * Requested snapshots are written by the helper thread, so the writer reads
 * the profile tables with the ordinary locks from a thread that holds none
 * of them; a request is a signal to that thread alone (trigger.c), and a
 * handler on another thread only counts one and wakes it
 * (async-signal-safe, no fd, no lock).  The one other writer of numbered
 * snapshots is a program thread calling memprof_snapshot (shim/api.c),
 * outside any of the shim's locks.
 */
#ifndef MP_SHIM_TRIGGER_H
#define MP_SHIM_TRIGGER_H

#include <stddef.h>
#include <stdint.h>

#include "common/snapshot.h"
/* What a request is, and how a front end finds the helper thread and its
 * doorbell: the contract's. */
#include "common/trigger.h"

/*
 * Install the snapshot signal handler and start the helper thread when
 * `interval=` or `snapshot_signal=` asks for them.  Called once from the
 * shim's constructor, after mp_shim_init().  Not in a signal handler.
 * 0 or -errno (then the shim has warned once and runs without them).
 */
int mp_trigger_start(void);

/*
 * Nonzero in the helper thread, and in a thread while it is creating the
 * helper (so an interposed pthread_create can tell the new thread is the
 * shim's: the threads profile must not show it).  Any thread, any time,
 * async-signal-safe.
 */
int mp_trigger_is_own_thread(void);

/* The helper thread's kernel thread id, for the leak scan to leave alone
 * (it blocks every signal: the scan must not wait for it); 0 when there is
 * none.  Waits (at most 300 ms) for a helper made but not yet running. */
pid_t mp_trigger_tid(void);

/*
 * A numbered snapshot now, written by the calling thread (memprof_snapshot):
 * named `name` (NULL: none; checked with mp_snap_name_ok by the caller),
 * numbered in the same series as the helper's.  0, or -errno: -EDEADLK from
 * the helper or from a thread already writing one (a signal handler),
 * -ECANCELED once the final snapshot is written.  Not in a signal handler.
 */
int mp_trigger_snapshot_named(const char *name);

/*
 * At exit, before the final snapshot: have the helper thread write the
 * numbered snapshot every request still queued for it asks for (a request
 * made while the program lived is answered), and wait for it, at most 2 s.
 * Not from the helper; not while holding the write lock.
 */
void mp_trigger_drain(void);

/*
 * Serialize snapshot writers (the helper and the exit path): two snapshots
 * never interleave.  lock returns 0, or -EDEADLK when the calling thread
 * already writes one (a signal handler that calls _exit during the exit
 * snapshot), or -ECANCELED for a numbered snapshot (seq != 0) after the final
 * one was written.  Call unlock only after a 0.  Not async-signal-safe in
 * general (it may wait for the helper), safe after fork.
 */
int mp_trigger_write_lock(uint32_t seq);
void mp_trigger_write_unlock(uint32_t seq, int written);

/*
 * The process's own statistics for the snapshot's STATS section: "RSS"
 * (resident set size in bytes, from /proc/self/statm).  Fills at most `cap`
 * entries of `kv` and returns how many.  No malloc; opens one file: call it
 * under mp_privfd_run (the snapshot writer does).
 */
size_t mp_trigger_stats(struct mp_snap_kv *kv, size_t cap);

#endif

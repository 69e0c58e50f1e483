/* SPDX-License-Identifier: MIT */
/*
 * Tables shared with the memprof CLI, so that it can write a process's
 * profile after any death (the contract: common/shm.h).
 *
 * The mechanism is the windows of base/vmarea.h: a window made shared
 * (mp_vm_area_share) is backed by a memfd as large as the window (sparse:
 * only pages written cost memory), mapped MAP_SHARED at the window's base
 * as far as the window is used; growth is mremap in place (vmarea.c), so
 * only what is used is mapped, as for any window, and RLIMIT_AS and
 * setrlimit apply to it as to glibc's heap.  The
 * memfd is made and sent to the CLI's socket from the shim's private
 * descriptor table (base/privfd.h) and closed at once: the program's
 * descriptors are never touched.  Any table made through vmarea can be
 * shared this way by naming the snapshot section its records belong to.
 *
 * Slot 0 is the directory (struct mp_shm_meta), made by mp_shm_start.
 * Changing records: mp_shm_begin/mp_shm_end around the change (per-table
 * sequence count and torn range, see common/shm.h), mp_shm_publish for a
 * table's valid range.  All of them are no-ops for a private window.
 *
 * In the target: no allocation.  mp_shm_commit, mp_vm_area_share (after
 * the commit) and mp_shm_after_fork_child run a private-table child
 * (mp_privfd_run): not in a signal handler.  Under a hard RLIMIT_FSIZE
 * below the window's size (without CAP_SYS_RESOURCE, base/privfd.h) the
 * CLI sizes the memfd (size_by_cli, shm.c).  A window the memfd cannot be
 * made for (no memfd_create; that limit binding the CLI too) stays
 * private: the process runs on, without a profile after its death.
 * mp_shm_begin/end/publish are lock-free stores (the caller serializes
 * writers of one table), safe anywhere.
 */
#ifndef MP_BASE_SHM_H
#define MP_BASE_SHM_H

#include <stddef.h>
#include <stdint.h>

#include "base/compiler.h"
#include "base/vmarea.h"
#include "common/shm.h"

/*
 * Share tables through the CLI's socket at `sock_path` from now on: makes
 * the directory (private until mp_shm_commit).  0, or -errno (nothing is
 * shared then: the tables stay private, as without the CLI).  Once, at
 * init.
 */
int mp_shm_start(const char *sock_path);

/*
 * Back every table listed so far with its memfd and send them, in one
 * private-table child (process start-up pays one clone, not one per
 * table): from mp_shm_start on, windows made shared are listed (their
 * dir entry is written, their mapping private) until this commit copies
 * each into its memfd; later ones are backed at once.  `also(arg)`, when
 * not NULL, runs in the same child (the shim reads the maps there).  The
 * caller keeps the tables' writers out (their locks).  0 or -errno
 * (nothing shared then).
 */
int mp_shm_commit(int (*also)(void *arg), void *arg);

/* The directory, or NULL when nothing is shared. */
extern MP_HIDDEN struct mp_shm_meta *mp_shm_dir;

/*
 * Back window `a` (from mp_vm_area_init, nothing mapped yet unless before
 * the commit) with a memfd the CLI holds: its table holds records of
 * snapshot section `section`, each `rec_size` bytes (0: variable, appended
 * only; MP_SHM_REC_SWAP: a double buffer).  Before mp_shm_commit the
 * window is only listed (it stays private, and may grow as usual); after
 * it, its first page is mapped from the memfd at once.  The slot (>= 1),
 * or -errno (the window stays private).  The caller serializes it with
 * the window's growth.  Any table made through vmarea is shared this way.
 */
int mp_vm_area_share(struct mp_vm_area *a, uint32_t section, uint64_t rec_size);

static inline struct mp_shm_table *mp_shm_table_of(const struct mp_vm_area *a)
{
	struct mp_shm_meta *m = __atomic_load_n(&mp_shm_dir, __ATOMIC_ACQUIRE);
	int slot = a->shared < 0 ? -a->shared : a->shared;   /* < 0: listed, not yet a memfd */
	return m && slot > 0 && (unsigned)slot < MP_SHM_MAX_TABLES ? &m->tables[slot] : NULL;
}

/* Bytes [off, off + len) of a's table are about to change. */
static inline void mp_shm_begin(const struct mp_vm_area *a, uint64_t off, uint64_t len)
{
	struct mp_shm_table *t = mp_shm_table_of(a);
	if (!t)
		return;
	__atomic_store_n(&t->torn_off, off, __ATOMIC_RELAXED);
	__atomic_store_n(&t->torn_len, len, __ATOMIC_RELAXED);
	__atomic_store_n(&t->seq, t->seq | 1u, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* The change is whole. */
static inline void mp_shm_end(const struct mp_vm_area *a)
{
	struct mp_shm_table *t = mp_shm_table_of(a);
	if (t)
		__atomic_store_n(&t->seq, (t->seq | 1u) + 1, __ATOMIC_RELEASE);
}

/* a's valid bytes are [off, off + used) now. */
static inline void mp_shm_publish(const struct mp_vm_area *a, uint64_t off, uint64_t used)
{
	struct mp_shm_table *t = mp_shm_table_of(a);
	if (!t)
		return;
	__atomic_store_n(&t->off, off, __ATOMIC_RELAXED);
	__atomic_store_n(&t->used, used, __ATOMIC_RELEASE);
}

/*
 * fork: before it (the caller holds the tables' writers off), copy the
 * tables as they are for the child; in the parent after it, free that.
 */
void mp_shm_before_fork(void);
void mp_shm_after_fork_parent(void);

/*
 * In a fork child, before it returns to the program: every shared window
 * is still the parent's memory; copy each into a memfd of the child's own
 * and send it (a new image in the directory).  A window that cannot be
 * re-made so becomes a private copy.  Single-threaded.
 */
void mp_shm_after_fork_child(void);

/* Whether the tables are shared with the CLI now (committed, not given
 * up): the CLI then writes this process's profile from them if it dies
 * without writing its snapshot.  Lock-free, anywhere. */
int mp_shm_shared(void);

/* The image wrote its exit snapshot: the CLI may drop its tables.  From
 * inside mp_privfd_run's function (it opens a socket). */
void mp_shm_send_done(void);

/*
 * Around an execve of this process image (shim/exec.c): on != 0 before the
 * call marks the directory MP_SHM_F_EXEC, so that a process whose image
 * was replaced by a program without the shim (a static or setuid one, an
 * environment without LD_PRELOAD) is not taken for dead; 0 after a failed
 * call clears it.  Only in the process the tables are of (a vfork child
 * shares them and is not): a lock-free store, async-signal-safe.
 */
void mp_shm_mark_exec(int on);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * State shared by the shim's files.  Everything here runs inside the target:
 * no malloc, no stdio, no locale, no locks the target may hold.
 */
#ifndef MP_SHIM_SHIM_H
#define MP_SHIM_SHIM_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "alloc/alloc.h"
#include "base/compiler.h"
#include "base/guard.h"
#include "base/log.h"
#include "common/shim-options.h"
#include "common/snapfile.h"

enum { MP_INIT_NONE, MP_INIT_BUSY, MP_INIT_DONE };

struct mp_shim_state {
	int init;                  /* MP_INIT_*; read and written atomically */
	int enabled;               /* sampling works (tables mapped, rate != 0) */
	int hints;                 /* mp_prof_foretell after each sample (--rate 1) */
	struct mp_options opt;
	pid_t pid;                 /* getpid() as of init or the last fork */
	uint64_t start_ns;         /* CLOCK_REALTIME at init or fork */
	int forked;                /* this process is a fork child */
	int final_written;         /* the exit snapshot is on disk */
	int foreign_malloc;        /* the program's own malloc comes before ours (init.c) */
};

extern struct mp_shim_state mp_shim;

/*
 * Per-thread state.  Zero-initialized TLS is the "not ready" state: with
 * left == 0 every allocation takes the slow path until the thread has been
 * set up (the empty-cache sentinel trick), so the fast path needs one test.
 * The recursion guard is base's (mp_busy, base/guard.h).
 */
struct mp_tls {
	uint64_t left;             /* bytes until the next sample */
	uint64_t rng;              /* sampler state */
	int ready;                 /* rng seeded, first gap drawn */
	uint32_t hint;             /* mp_prof_foretell's: the last sampled allocation's */
};

extern MP_TLS struct mp_tls mp_tls;

/* init.c */
void mp_shim_init(void);
void *mp_sample_slow(void *p, size_t size);
void mp_free_slow(void *p);
/* The final snapshot (leak scan first, when asked for).  The scan's
 * roots on this thread's stack are the program's: from where it called
 * the frame whose pc lies in [lo, hi) (lo < hi; exit), else the one whose
 * CFA is `cfa` (the shim's entry point: its own CFA), with the registers
 * it had then; from `cfa` when the walk finds neither. */
void mp_shim_exit_snapshot(uintptr_t lo, uintptr_t hi, uintptr_t cfa);

/* options.c: *o from MEMPROF_OPTIONS (common/shim-options.h), with a
 * warning per bad item; verbose=1's listing. */
void mp_shim_options_read(struct mp_options *o);
void mp_shim_options_print(const struct mp_options *o);

/* heapstats.c: the own allocator's statistics as MP_SNAP_STATS entries
 * (none under allocator=system); returns how many were written. */
struct mp_snap_kv;
size_t mp_shim_heap_stats(struct mp_snap_kv *kv, size_t cap);

/* dlclose.c: the MP_SNAP_UNLOADED records so far (*ret; the size in bytes
 * is returned, read with acquire: whole records only); the lock, in a fork
 * child. */
size_t mp_unload_records(const void **ret);
void mp_unload_after_fork_child(void);

/* exec.c: find libc's exec family now (not in a vfork child later). */
void mp_exec_init(void);

/* snapshot-write.c: 0 or -errno.  seq 0: the final snapshot, else numbered
 * snapshot seq.  _as: a snapshot of `kind` (common/snapfile.h: final,
 * numbered, live with seq the token), with a name (numbered, NULL: none;
 * checked by the caller with mp_snap_name_ok). */
int mp_snapshot_write(uint32_t seq, uint64_t flags);
int mp_snapshot_write_as(enum mp_snapfile kind, uint32_t seq, const char *name, uint64_t flags);

/*
 * Whether the collector is gone: snapdir no longer exists, and it was
 * memprof run's (shm=1, which only memprof run sets).  memprof run removes
 * its private directory when it is done, and a process it stopped waiting
 * for (one that left the program's session: a daemon, supervise.h) lives
 * on: that process then writes nothing and says nothing, as without
 * memprof.  A snapdir of the user's own that is missing is still said.
 * One stat(2); any thread, after fork.
 */
int mp_shim_collector_gone(void);

/*
 * Where blocks come from (interpose.c).  Decided by the first allocation,
 * before constructors run; frees go by address whatever the mode.
 */
enum { MP_MODE_UNDECIDED = 0, MP_MODE_OWN = 1, MP_MODE_SYSTEM = 2, MP_MODE_FOREIGN = 3 };
extern int mp_alloc_mode;
int mp_shim_alloc_mode(void);

/*
 * The program has a malloc of its own that comes before ours in symbol
 * lookup (an allocator linked into the executable: rustc's jemalloc, a
 * static tcmalloc or mimalloc): from now on every entry point of ours that
 * the program still reaches (the functions it does not define: C++ new and
 * delete, reallocarray, pvalloc...) does what it would do without memprof
 * (interpose.c).  Called once by the constructor; false when glibc's
 * functions cannot be found (nothing changes then).
 */
int mp_shim_go_foreign(void);

/* Whether the shim has stepped aside (MP_MODE_FOREIGN). */
static inline int mp_shim_foreign(void)
{
	return MP_UNLIKELY(__atomic_load_n(&mp_alloc_mode, __ATOMIC_RELAXED) == MP_MODE_FOREIGN);
}

extern void *__libc_malloc(size_t);
extern void *__libc_memalign(size_t, size_t);

/* free(), reached without the dynamic linker (interpose.c). */
void mp_shim_free(void *p);

/* A block of n bytes from the allocator in force (NULL + ENOMEM). */
static inline void *mp_shim_malloc(size_t n)
{
	if (MP_LIKELY(__atomic_load_n(&mp_alloc_mode, __ATOMIC_RELAXED) == MP_MODE_OWN))
		return mp_alloc_malloc(n);
	return mp_shim_alloc_mode() == MP_MODE_OWN ? mp_alloc_malloc(n) : __libc_malloc(n);
}

/* Same, aligned to a power of two. */
static inline void *mp_shim_memalign(size_t align, size_t n)
{
	if (mp_shim_alloc_mode() == MP_MODE_OWN)
		return mp_alloc_memalign(align, n);
	return __libc_memalign(align, n);
}

/*
 * Sample accounting after the real allocation: the whole fast path.
 * One compare: due samples, unready threads and recursion all take the
 * out-of-line slow path.
 */
static inline void *mp_account(void *p, size_t size)
{
	struct mp_tls *t = &mp_tls;
	if (MP_LIKELY(t->left > size)) {
		t->left -= size;
		return p;
	}
	return mp_sample_slow(p, size);
}

#endif

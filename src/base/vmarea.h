/* SPDX-License-Identifier: MIT */
/*
 * Address space for memprof's own tables and arena, mapped as it is used.
 *
 * Every big region memprof keeps in the target (the allocator's arena and
 * page maps, its metadata, the profile tables, the leak scan's work list)
 * is an area: a window of address space fixed once, of which only a prefix
 * is mapped, grown on demand with MAP_FIXED_NOREPLACE.  Nothing is
 * reserved beyond that prefix, because under RLIMIT_AS (ulimit -v) and
 * RLIMIT_DATA (ulimit -d) every mapping counts, PROT_NONE and MAP_NORESERVE
 * ones included: reserving 256 GiB up front, as the arena once did, left a
 * program under a 4 GiB limit half its memory, failed under 1 GiB, and made
 * a limit the program set itself (setrlimit) apply to its own mmap() calls
 * but never to malloc.  Mapped on demand, memprof's memory is exactly what
 * it uses, and a growth the limit refuses fails like glibc's would (ENOMEM).
 *
 * Windows are carved, without any system call, from one range of the
 * address space chosen at random when the first one is made, in
 * [17 TiB, 40 TiB): far below where Linux places mappings top-down (from
 * just under the stack, ~128 TiB) and below where the legacy bottom-up
 * layout starts (TASK_SIZE / 3, ~42.7 TiB, under `ulimit -s unlimited`), so
 * the kernel puts nothing there on its own; MAP_FIXED_NOREPLACE makes sure
 * a mapping the program did place there is never replaced (the growth then
 * fails with -EEXIST, and the caller treats the window as ending there).
 * Window addresses stay stable: readers may hold pointers into them.
 *
 * In the target: no allocation, no lock (callers serialize the growth of
 * each area); safe after fork (the child inherits the mappings and the
 * windows).  Not in a signal handler.
 */
#ifndef MP_BASE_VMAREA_H
#define MP_BASE_VMAREA_H

#include <stddef.h>
#include <stdint.h>

struct mp_vm_area {
	uintptr_t base;      /* window start (2 MiB aligned); 0 before init */
	size_t size;         /* window bytes */
	size_t mapped;       /* bytes mapped from base, a multiple of 4 KiB */
	int shared;          /* slot of a table shared with the CLI (base/shm.h):
			      * > 0: a memfd mapped MAP_SHARED, grown by mremap;
			      * < 0: listed, still private until mp_shm_commit; 0: private */
};

/*
 * Give `a` a window of `size` bytes (rounded up to 2 MiB), nothing mapped,
 * and register it with ownmem (never a root of the leak scan).  0, or
 * -ENOMEM when the range is used up.  Thread-safe.
 */
int mp_vm_area_init(struct mp_vm_area *a, size_t size);

/*
 * Make at least the first `need` bytes of the window mapped (read-write,
 * zeroed), mapping up to `slack` bytes more while the limits allow it (a
 * refused slack is dropped, then exactly `need` is asked for).  0, or
 * -ENOMEM (the window is too small, or a limit or the kernel refused), or
 * -EEXIST (a mapping not ours sits in the way).  The caller serializes
 * calls for one area; reading a->mapped without that lock gives a value
 * that only grows (or shrinks by mp_vm_area_trim under the same lock).
 */
int mp_vm_area_grow(struct mp_vm_area *a, size_t need, size_t slack);

/* Unmap the window from `keep` bytes (rounded up to 4 KiB) on: the address
 * space goes back to the process's limits.  Same serialization. */
void mp_vm_area_trim(struct mp_vm_area *a, size_t keep);

/*
 * A table of fixed-size entries in an area, mapped as far as the highest
 * entry asked for (a few 64 KiB steps for most programs, however large the
 * table may grow).  Entries read as zero until written.  Whether entry i
 * is mapped can be asked without a lock; mapping more takes the table's
 * spin flag (mmap only under it).
 */
struct mp_vm_table {
	struct mp_vm_area area;
	size_t elem;
	int lock;
};

/* A window for `max` entries of `elem` bytes.  0 or -ENOMEM. */
int mp_vm_table_init(struct mp_vm_table *t, size_t elem, size_t max);

/* Share the table's window with the CLI (base/shm.h, mp_vm_area_share). */
int mp_vm_table_share(struct mp_vm_table *t, uint32_t section);

/* Map entries up to i.  0, or -ENOMEM (beyond max, or refused). */
int mp_vm_table_cover(struct mp_vm_table *t, size_t i);

static inline int mp_vm_table_has(const struct mp_vm_table *t, size_t i)
{
	return t->elem && i < __atomic_load_n(&t->area.mapped, __ATOMIC_ACQUIRE) / t->elem;
}

static inline void *mp_vm_table_at(const struct mp_vm_table *t, size_t i)
{
	return (char *)t->area.base + i * t->elem;
}

/* Whether RLIMIT_AS or RLIMIT_DATA bounds this process now (a system call:
 * for slow paths). */
int mp_vm_limited(void);

#endif

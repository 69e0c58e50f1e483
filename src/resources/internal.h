/* SPDX-License-Identifier: MIT */
/*
 * What the descriptor, thread and timer trackers (fds.c, threads.c,
 * timers.c) share, and no one else sees.  In the target.
 */
#ifndef MP_RESOURCES_INTERNAL_H
#define MP_RESOURCES_INTERNAL_H

#include <errno.h>

#include "base/shm.h"
#include "resources/resources.h"

/* Set by mp_res_dying(): the process is dying of a signal, and the records
 * are refreshed from its handler (no dladdr: it takes the loader's lock). */
extern int mp_res_death;

/* The tables of records the snapshot copies (out) are shared with the CLI
 * (base/shm.h) as MP_SNAP_RESOURCES: each record is rewritten between
 * these two, and the count published after. */
/* Map the out table up to entry i; from a death handler only what is
 * mapped already (the table's spin flag may be held by the very thread
 * the signal interrupted). */
static inline int mp_res_out_cover(struct mp_vm_table *t, size_t i)
{
	if (__atomic_load_n(&mp_res_death, __ATOMIC_ACQUIRE))
		return mp_vm_table_has(t, i) ? 0 : -ENOMEM;
	return mp_vm_table_cover(t, i);
}

static inline void mp_res_out_begin(const struct mp_vm_table *t, size_t i)
{
	mp_shm_begin(&t->area, (uint64_t)i * t->elem, t->elem);
}

static inline void mp_res_out_end(const struct mp_vm_table *t)
{
	mp_shm_end(&t->area);
}

static inline void mp_res_out_publish(const struct mp_vm_table *t, size_t n)
{
	mp_shm_publish(&t->area, 0, (uint64_t)n * t->elem);
}

/* The hooks in force (mp_res_set_hooks); members may be NULL. */
extern struct mp_res_hooks mp_res_hooks;

/* The id of the calling thread's stack, which created the resource (the
 * creation_stack hook); 0 without one.  The caller holds the recursion
 * guard. */
static inline uint32_t mp_res_creation_stack(void)
{
	return mp_res_hooks.creation_stack ? mp_res_hooks.creation_stack() : 0;
}

/* Whether the calling thread is memprof's own (the own_thread hook). */
static inline int mp_res_own_thread(void)
{
	return mp_res_hooks.own_thread && mp_res_hooks.own_thread();
}

/* Raise *top to v if it is lower: the highest slot (or descriptor) ever
 * used, which bounds the scans of the table. */
static inline void mp_res_raise_top(int *top, int v)
{
	int t = __atomic_load_n(top, __ATOMIC_RELAXED);
	while (v > t && !__atomic_compare_exchange_n(top, &t, v, 0, __ATOMIC_RELAXED,
						     __ATOMIC_RELAXED))
		;
}

#endif

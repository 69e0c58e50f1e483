/* SPDX-License-Identifier: MIT */
/*
 * The allocator's locks, and what a signal handler may do with them.
 *
 * A program's signal handler may call malloc or free at any moment,
 * including while the very thread it interrupted is inside the allocator,
 * holding a central list's lock or the page heap's.  Waiting for that lock
 * in the handler is a deadlock (it was: mp_central_get, 5 runs in 20 of a
 * handler allocating the size class its thread was allocating).  So every
 * allocator lock is taken through mp_lock, which counts the locks the
 * thread holds (or is about to take: the count goes up first, down last, so
 * a handler never sees 0 while a lock may be held); a handler that finds
 * the count nonzero runs in "no-wait" mode (mp_alloc_nowait, set by
 * mp_alloc_signal_enter), where mp_lock only tries and the caller falls
 * back (another size class, no new span, a free deferred: alloc.c).  A
 * handler that interrupted code holding no allocator lock waits like any
 * thread: the holders are other threads, which never wait for it.
 *
 * Slow paths only: the fast paths take no lock.  In the target.
 */
#ifndef MP_ALLOC_LOCK_H
#define MP_ALLOC_LOCK_H

#include <errno.h>
#include <pthread.h>

#include "sample/compiler.h"

extern MP_TLS int mp_alloc_held;     /* allocator locks held or being taken */
extern MP_TLS int mp_alloc_nowait;   /* in a handler that must not wait (above) */

/* 0, or -EBUSY in no-wait mode when the lock is taken. */
static inline int mp_lock(pthread_mutex_t *m)
{
	mp_alloc_held++;
	if (MP_UNLIKELY(mp_alloc_nowait)) {
		if (pthread_mutex_trylock(m) != 0) {
			mp_alloc_held--;
			return -EBUSY;
		}
		return 0;
	}
	pthread_mutex_lock(m);
	return 0;
}

static inline void mp_unlock(pthread_mutex_t *m)
{
	pthread_mutex_unlock(m);
	mp_alloc_held--;
}

#endif

/* SPDX-License-Identifier: MIT */
/*
 * Locks in the target, and what a signal handler may do with them.
 *
 * A program's signal handler may call malloc or free at any moment,
 * including while the very thread it interrupted is inside the allocator,
 * holding a central list's lock or the page heap's.  Waiting for that lock
 * in the handler is a deadlock (it was: mp_central_get, 5 runs in 20 of a
 * handler allocating the size class its thread was allocating).  So such
 * locks are taken through mp_lock, which counts the locks the thread holds
 * (or is about to take: the count goes up first, down last, so a handler
 * never sees 0 while a lock may be held); a handler that finds the count
 * nonzero runs in "no-wait" mode (mp_lock_nowait, set by the allocator's
 * mp_alloc_signal_enter, which knows when a handler starts), where mp_lock
 * only tries and the caller falls back (the allocator: another size class,
 * no new span, a free deferred: alloc/alloc.c).  A handler that interrupted
 * code holding no such lock waits like any thread: the holders are other
 * threads, which never wait for it.
 *
 * The sampler's locks (the stack table's, the live table's stripes, the
 * frame walker's rule table and walk caches) are counted too, or a
 * handler nested into a sample would wait for the page heap's lock while
 * holding the stack table's, which a handler of the page heap's holder
 * waits for (t-sigstorm, 4 threads: 10 runs in 26 hung).  They are taken
 * through mp_lock_wait, which never only tries: a handler in no-wait mode
 * records no sample (shim/init.c), so it never reaches them, except the
 * live table's stripes on a free, which take mp_lock.
 *
 * Slow paths only: the fast paths take no lock.  In the target.
 */
#ifndef MP_BASE_LOCK_H
#define MP_BASE_LOCK_H

#include <errno.h>
#include <pthread.h>

#include "base/compiler.h"

extern MP_TLS int mp_lock_held;     /* locks held or being taken (lock.c) */
extern MP_TLS int mp_lock_nowait;   /* in a handler that must not wait (above) */

/* 0, or -EBUSY in no-wait mode when the lock is taken. */
static inline int mp_lock(pthread_mutex_t *m)
{
	mp_lock_held++;
	if (MP_UNLIKELY(mp_lock_nowait)) {
		if (pthread_mutex_trylock(m) != 0) {
			mp_lock_held--;
			return -EBUSY;
		}
		return 0;
	}
	pthread_mutex_lock(m);
	return 0;
}

/* A lock no-wait mode never takes (above): counted, always waited for. */
static inline void mp_lock_wait(pthread_mutex_t *m)
{
	mp_lock_held++;
	pthread_mutex_lock(m);
}

static inline void mp_unlock(pthread_mutex_t *m)
{
	pthread_mutex_unlock(m);
	mp_lock_held--;
}

#endif

/* SPDX-License-Identifier: MIT */
/*
 * The peak and lifetime tables (see peak.h and common/snapshot.h).
 *
 * When the peak is captured.  The estimate grows only with sampled
 * allocations and shrinks only with sampled frees, so the heap is at a
 * local maximum exactly when a free follows an allocation that took the
 * estimate past every earlier value.  mp_peak_grew marks that state
 * (MP_SNAP_PEAK_F_NOW, with the size and the time); the next
 * mp_peak_shrinking, before its free is counted anywhere, captures it by
 * starting a new epoch, and from then on each bucket keeps its counts of
 * that moment the first time they change (mp_peak_touch).  As massif, the
 * peak is recognized when memory is freed; unlike massif's snapshots,
 * nothing is copied then, so every peak can be kept exactly (massif keeps
 * a new one only when it is 1% above the last, --peak-inaccuracy).
 *
 * Order within one event, which makes a single thread's peak exact:
 *   allocation: touch(b), count it (stacks.c), grew();
 *   free:       shrinking() (capture), touch(b), count it (stacks.c),
 *               its lifetime.
 * The free count grows before the lifetime count and is read before the
 * allocation count by touch(), so free <= alloc in every saved record and
 * the lifetimes' sum never exceeds the free count.
 *
 * The epoch, read on every sampled event, sits alone on its cache line;
 * the estimate, written on every one, on another.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "base/compiler.h"
#include "base/shm.h"
#include "common/shm.h"
#include "base/vmarea.h"
#include "sample/peak.h"
#include "base/vm.h"
#include "sample/sampler.h"
#include "sample/stacks.h"
#include "sample/tag.h"

#define STEP ((size_t)64 << 10)

static struct mp_vm_area peak_area, life_area;
static struct mp_snap_peak_rec *recs;         /* one per bucket */
static struct mp_snap_life_rec *life;         /* one per bucket */
static uint64_t rate;

/* The epoch, the estimate and its peak, and the tick clock's rate once
 * measured (common/shm.h): in a table shared
 * with the CLI when it asked, so that a profile after the process's death
 * has its peak; here until mp_peak_init has mapped it (nothing changes them
 * before: every change waits for the records). */
static struct mp_shm_peak own __attribute__((aligned(64))) = { .epoch = 1 };
static struct mp_shm_peak *ps = &own;
static struct mp_vm_area state_area;

/* ---- the tick clock (tag.h) ---- */

int mp_tag_tsc;
static uint64_t tsc0, mono0, real0;           /* at mp_tag_init */

void mp_tag_init(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	real0 = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	mono0 = mp_tag_mono_ns();
	/* For the CLI after a death (common/shm.h): ticks of the monotonic
	 * clock, until the TSC is found below. */
	double unit = (double)(1u << MP_TAG_TICK_SHIFT);
	ps->real0 = real0;
	ps->tick0 = mono0 >> MP_TAG_TICK_SHIFT;
	ps->tick_shift = MP_TAG_TICK_SHIFT;
	memcpy(&ps->ns_per_tick, &unit, sizeof(unit));
#if defined(__x86_64__)
	unsigned a, b, c, d;
	/* CPUID 0x80000007 EDX bit 8: the TSC runs at one rate in every
	 * C-, P- and T-state (the kernel's nonstop_tsc). */
	__asm__("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000000u), "c"(0));
	if (a >= 0x80000007u) {
		__asm__("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000007u), "c"(0));
		if (d & (1u << 8)) {
			tsc0 = __rdtsc();
			mp_tag_tsc = 1;
			ps->tick0 = tsc0 >> MP_TAG_TICK_SHIFT;
			ps->ns_per_tick = 0;   /* until measured (ns_per_tick) */
		}
	}
#endif
}

/* ns per tick: the TSC against CLOCK_MONOTONIC since init, kept once 10 ms
 * apart (the clocks' read jitter is then under 1e-4 of it); until then
 * measured on each call (a clock_gettime in the program's first 10 ms). */
static double ns_per_tick(void)
{
	uint64_t bits = __atomic_load_n(&ps->ns_per_tick, __ATOMIC_RELAXED);
	double f;
	if (MP_LIKELY(bits)) {
		memcpy(&f, &bits, sizeof(f));
		return f;
	}
#if defined(__x86_64__)
	uint64_t mono = mp_tag_mono_ns(), tsc = __rdtsc();
	if (tsc <= tsc0 || mono <= mono0)
		return (double)(1u << MP_TAG_TICK_SHIFT) / 3.0;   /* a 3 GHz guess, for an instant */
	f = (double)(mono - mono0) / (double)(tsc - tsc0) * (double)(1u << MP_TAG_TICK_SHIFT);
	if (mono - mono0 >= 10000000) {
		memcpy(&bits, &f, sizeof(bits));
		__atomic_store_n(&ps->ns_per_tick, bits, __ATOMIC_RELAXED);
	}
	return f;
#else
	return (double)(1u << MP_TAG_TICK_SHIFT);
#endif
}

uint64_t mp_tag_ns(uint64_t ticks)
{
	if (!mp_tag_tsc)
		return ticks << MP_TAG_TICK_SHIFT;
	return (uint64_t)((double)ticks * ns_per_tick());
}

uint64_t mp_tag_real_ns(uint64_t tick)
{
	if (!mp_tag_tsc)
		return real0 + (tick << MP_TAG_TICK_SHIFT) - mono0;
	int64_t d = (int64_t)(tick - (tsc0 >> MP_TAG_TICK_SHIFT));
	return real0 + (uint64_t)(int64_t)((double)d * ns_per_tick());
}


int mp_peak_init(size_t max_buckets)
{
	if (mp_vm_area_init(&peak_area, max_buckets * sizeof(*recs)) < 0 ||
	    mp_vm_area_init(&life_area, max_buckets * sizeof(*life)) < 0)
		return -ENOMEM;
	/* Shared with the CLI when it asked (base/shm.h), as the buckets
	 * are: a profile after the process's death has the peak and the
	 * lifetimes of what it freed.  The state first: the records are what
	 * every change waits for. */
	if (mp_vm_area_init(&state_area, sizeof(*ps)) == 0) {
		mp_vm_area_share(&state_area, MP_SHM_PEAK_STATE, sizeof(*ps));
		if (mp_vm_area_grow(&state_area, sizeof(*ps), 0) == 0) {
			struct mp_shm_peak *t = (struct mp_shm_peak *)state_area.base;
			*t = own;
			mp_shm_publish(&state_area, 0, sizeof(*ps));
			ps = t;
		}
	}
	mp_vm_area_share(&peak_area, MP_SHM_PEAK_RECS, sizeof(*recs));
	mp_vm_area_share(&life_area, MP_SNAP_LIFETIMES, sizeof(*life));
	mp_tag_init();
	recs = (struct mp_snap_peak_rec *)peak_area.base;
	life = (struct mp_snap_life_rec *)life_area.base;
	return 0;
}

/* Set when the tables are mapped and every block is sampled (the
 * estimate's weights are 1): the short ways of mp_peak_grew and
 * mp_peak_on_free (below) may be taken.  (The rate is set once, at init;
 * tests change it.) */
static int rate1;

static void set_fast_free(void);

/*
 * The next free's bucket, foretold, as the stack table foretells the next
 * allocation's stack (stacks.h mp_prof_foretell): a program mostly frees
 * next from the bucket that followed the same bucket last time (gcc's cc1
 * on a 17,000-line file: 77% of 6 million frees).  Each bucket keeps its
 * last follower (+ 1; 0: none) here, and a free starts the follower's two
 * records on their way (heap record, lifetimes: lines of tables bigger
 * than the cache), and its own hint.  The shim's perf samples per cc1
 * sample, medians of 8 interleaved runs: 0.369 -> 0.360 (real time: see
 * stacks.h, the two kinds of hints together).  The short way's (freed's
 * `fast`): one thread's, so `hint_prev` is plain.
 */
#define FREE_HINTS (1u << 16)
static uint32_t *free_hints;
static uint32_t hint_prev;

void mp_peak_set_rate(uint64_t r)
{
	rate = r;
	if (recs && r <= 1 && !free_hints)
		free_hints = mp_vm_reserve(FREE_HINTS * sizeof(*free_hints));
	__atomic_store_n(&rate1, recs && r <= 1, __ATOMIC_RELEASE);
	set_fast_free();
}

int mp_peak_add_bucket_locked(uint32_t b)
{
	if (!recs)
		return 0;
	if (b >= MP_TAG_MAX_BUCKETS ||
	    mp_vm_area_grow(&peak_area, ((size_t)b + 1) * sizeof(*recs), STEP) < 0 ||
	    mp_vm_area_grow(&life_area, ((size_t)b + 1) * sizeof(*life), STEP) < 0)
		return -ENOSPC;
	/* Not in use at the last peak: zero counts saved at its epoch.  (If
	 * the heap is at a peak now, the capture to come starts a newer
	 * epoch and the bucket's counts of that moment are its current ones.) */
	mp_shm_begin(&peak_area, (uint64_t)b * sizeof(*recs), sizeof(*recs));
	recs[b].alloc_objects = recs[b].free_objects = 0;
	__atomic_store_n(&recs[b].epoch, __atomic_load_n(&ps->epoch, __ATOMIC_ACQUIRE),
			 __ATOMIC_RELEASE);
	mp_shm_publish(&peak_area, 0, ((uint64_t)b + 1) * sizeof(*recs));
	mp_shm_end(&peak_area);
	mp_shm_begin(&life_area, (uint64_t)b * sizeof(*life), sizeof(*life));
	memset(&life[b], 0, sizeof(life[b]));
	mp_shm_publish(&life_area, 0, ((uint64_t)b + 1) * sizeof(*life));
	mp_shm_end(&life_area);
	return 0;
}

/*
 * The heap record's peak_mark holds the low 32 bits of the epoch its peak
 * record was last saved at (or found current), so that the common case, a
 * bucket already saved for this epoch, reads only the heap record, whose
 * counts are about to change anyway: not the peak record too, a second
 * cache line in a second table bigger than the cache, on every sampled
 * allocation and free (12.6 million of them compiling a 17,000-line file
 * with gcc's cc1 at --rate 1; 8% of them saved counts).  The mark is a hint
 * checked against the peak record's full epoch when it differs.  It could
 * only mislead for a bucket untouched for exactly a multiple of 2^32 peak
 * captures (each needs a sampled allocation and free: hours of a program
 * doing nothing else at --rate 1); its peak counts would then be those of
 * its last change.
 */
static inline void touch(uint32_t b, struct mp_snap_heap_rec *h)
{
	uint64_t e = __atomic_load_n(&ps->epoch, __ATOMIC_ACQUIRE);
	if (MP_LIKELY(__atomic_load_n(&h->peak_mark, __ATOMIC_RELAXED) == (uint32_t)e))
		return;
	struct mp_snap_peak_rec *r = &recs[b];
	if (__atomic_load_n(&r->epoch, __ATOMIC_RELAXED) == e) {
		__atomic_store_n(&h->peak_mark, (uint32_t)e, __ATOMIC_RELAXED);
		return;
	}
	/* free first: a free counted between the two loads can only follow an
	 * allocation already counted, so free <= alloc. */
	uint64_t f = __atomic_load_n(&h->free_objects, __ATOMIC_RELAXED);
	uint64_t a = __atomic_load_n(&h->alloc_objects, __ATOMIC_RELAXED);
	__atomic_store_n(&r->free_objects, f, __ATOMIC_RELAXED);
	__atomic_store_n(&r->alloc_objects, a, __ATOMIC_RELAXED);
	__atomic_store_n(&r->epoch, e, __ATOMIC_RELEASE);
	__atomic_store_n(&h->peak_mark, (uint32_t)e, __ATOMIC_RELAXED);
}

void mp_peak_touch(uint32_t b, struct mp_snap_heap_rec *h)
{
	if (recs)
		touch(b, h);
}

/* The bytes a sampled block of `size` stands for (snapshot.h). */
static uint64_t estimate(uint64_t size)
{
	if (rate <= 1)
		return size;
	return (uint64_t)((double)size * mp_sampler_weight(size, rate) + 0.5);
}

/*
 * One thread alone.  While a single thread of the program has changed the
 * tables (the helper thread never does), the estimate and the lifetimes
 * are changed with plain adds, one instruction each, so that a signal
 * handler's free cannot split them, instead of locked ones (about 20
 * cycles each, three per allocation and free at --rate 1).  The second
 * thread to come switches every thread to atomics for good; an update of
 * the first thread in flight at that moment may be lost (the estimate off
 * by one block).
 */
#define MANY ((void *)1)
static MP_TLS char me;
static void *sole;

static inline bool alone(void)
{
	void *s = __atomic_load_n(&sole, __ATOMIC_RELAXED);
	if (MP_LIKELY(s == &me))
		return true;
	if (s == NULL && __atomic_compare_exchange_n(&sole, &s, (void *)&me, 0, __ATOMIC_RELAXED,
						     __ATOMIC_RELAXED))
		return true;
	if (s != MANY)
		__atomic_store_n(&sole, MANY, __ATOMIC_RELAXED);
	return false;
}

/* The add of add_fetch below when alone(). */
static inline void plain_add(uint64_t *p, uint64_t v)
{
#if defined(__x86_64__)
	__asm__ volatile("addq %1, %0" : "+m"(*p) : "er"(v) : "cc");
#else
	__atomic_add_fetch(p, v, __ATOMIC_RELAXED);
#endif
}

static inline uint64_t add_fetch(uint64_t *p, uint64_t v, bool one)
{
#if defined(__x86_64__)
	if (one) {
		plain_add(p, v);
		return __atomic_load_n(p, __ATOMIC_RELAXED);
	}
#endif
	(void)one;
	return __atomic_add_fetch(p, v, __ATOMIC_RELAXED);
}

/*
 * Many threads: each keeps what it changed of the estimate since it last
 * published (`pend`) and adds it to the shared estimate only when it
 * reaches the thread's bound, so the shared cache line is written on a
 * few events in a hundred instead of on every one by every thread (2
 * threads freeing each other's blocks: the line bounced on every event).
 * The bound is peak / (2048 * n), n the threads that have batched when
 * the thread last published (a new thread's bound is 0 until the peak
 * grows: small heaps publish every event).  With |pend_i| < bound_i the
 * real estimate A and the published one P differ by less than
 * sum(bound_i) <= peak * H(n) / 2048 (H the harmonic number: each
 * thread's n is at least its rank among them).  The capture is the first
 * free after P's last new maximum P*; between that publish and the
 * capture only allocations happen, so A at the capture is at least
 * P* - sum(bound_i) and at most max(A) <= P* + sum(bound_i): the captured
 * moment is within 2 * H(n) / 2048 of the real peak (under 1% up to
 * thousands of threads; massif's default --peak-inaccuracy is 1%), and
 * the recorded size (P*) within half that.  One thread alone stays exact
 * (the plain adds above).  A signal handler's event between the add and
 * the exchange below is published with the rest (the add is one
 * instruction, the exchange atomic on this thread).
 */
static MP_TLS int64_t pend;
static MP_TLS uint64_t bound;
static MP_TLS char joined;
static uint64_t nbatch;

/* A thread's own word: plain_add's one instruction, which a signal
 * handler on this thread cannot split. */
static inline void tls_add(int64_t *p, int64_t v)
{
	plain_add((uint64_t *)p, (uint64_t)v);
}

/* This thread's delta `v`; what it must publish now (0: nothing). */
static inline int64_t batch(int64_t v)
{
	tls_add(&pend, v);
	int64_t d = __atomic_load_n(&pend, __ATOMIC_RELAXED);
	if ((uint64_t)(d < 0 ? -d : d) < bound)
		return 0;
	d = __atomic_exchange_n(&pend, 0, __ATOMIC_RELAXED);
	if (MP_UNLIKELY(!joined)) {
		joined = 1;
		__atomic_add_fetch(&nbatch, 1, __ATOMIC_RELAXED);
	}
	bound = (__atomic_load_n(&ps->inuse, __ATOMIC_RELAXED) >> 11) /
		__atomic_load_n(&nbatch, __ATOMIC_RELAXED);
	return d;
}

/* The estimate grows by `est` bytes at tick `now`, one thread alone. */
static inline void grew_alone(uint64_t est, uint64_t now)
{
	uint64_t n = add_fetch(&ps->now, est, true);
	if (n > __atomic_load_n(&ps->inuse, __ATOMIC_RELAXED)) {
		/* (A store is enough: no other thread writes it.) */
		__atomic_store_n(&ps->inuse, n, __ATOMIC_RELAXED);
		__atomic_store_n(&ps->tick, now ? now : 1, __ATOMIC_RELAXED);
		if (!(__atomic_load_n(&ps->flags, __ATOMIC_RELAXED) & MP_SNAP_PEAK_F_NOW))
			__atomic_store_n(&ps->flags, MP_SNAP_PEAK_F_NOW, __ATOMIC_RELEASE);
	}
}

static MP_NOINLINE void grew_slow(uint64_t size, uint64_t now)
{
	if (!recs)
		return;
	uint64_t n, p;
	if (alone()) {
		grew_alone(estimate(size), now);
		return;
	}
	int64_t d = batch((int64_t)estimate(size));
	if (!d)
		return;
	n = __atomic_add_fetch(&ps->now, (uint64_t)d, __ATOMIC_RELAXED);
	p = __atomic_load_n(&ps->inuse, __ATOMIC_RELAXED);
	while (n > p && n < (1ull << 63)) {
		if (__atomic_compare_exchange_n(&ps->inuse, &p, n, 1, __ATOMIC_RELAXED,
						__ATOMIC_RELAXED)) {
			__atomic_store_n(&ps->tick, now ? now : 1, __ATOMIC_RELAXED);
			if (!(__atomic_load_n(&ps->flags, __ATOMIC_RELAXED) & MP_SNAP_PEAK_F_NOW))
				__atomic_or_fetch(&ps->flags, MP_SNAP_PEAK_F_NOW, __ATOMIC_RELEASE);
			break;
		}
	}
}

/* At --rate 1 with one thread (rate1, alone()): grew_slow's first branch
 * without a call, so without registers to save, nor the tests that cannot
 * fail then. */
void mp_peak_grew(uint64_t size, uint64_t now)
{
	if (MP_UNLIKELY(!__atomic_load_n(&rate1, __ATOMIC_ACQUIRE) ||
			__atomic_load_n(&sole, __ATOMIC_RELAXED) != &me)) {
		grew_slow(size, now);
		return;
	}
	grew_alone(size, now);   /* rate 1: a block stands for its own size */
}

/* The capture (the comment at the top), before a free is counted. */
static inline void capture(void)
{
	if ((__atomic_load_n(&ps->flags, __ATOMIC_RELAXED) & MP_SNAP_PEAK_F_NOW) &&
	    (__atomic_fetch_and(&ps->flags, ~(uint64_t)MP_SNAP_PEAK_F_NOW, __ATOMIC_ACQ_REL) &
	     MP_SNAP_PEAK_F_NOW))
		__atomic_add_fetch(&ps->epoch, 1, __ATOMIC_ACQ_REL);
}

/* mp_peak_shrinking, `one` what alone() returned. */
static inline void shrink(uint64_t size, bool one)
{
	capture();
	if (one) {
		add_fetch(&ps->now, -estimate(size), true);
		return;
	}
	int64_t d = batch(-(int64_t)estimate(size));
	if (d)
		__atomic_add_fetch(&ps->now, (uint64_t)d, __ATOMIC_RELAXED);
}

void mp_peak_shrinking(uint64_t size)
{
	if (recs)
		shrink(size, alone());
}

/* Lifetime class bounds in ticks, once the TSC's rate is known (tag.h). */
static uint64_t bound_ticks[MP_SNAP_LIFE_CLASSES - 1];
static int have_bounds;   /* set only with the TSC */

/*
 * Set when the free of a sampled block may take mp_peak_on_free's short
 * way (below): rate1, and the lifetime classes' bounds are known in ticks
 * (which, once true, stays true).
 */
static int fast_free;

static void set_fast_free(void)
{
	__atomic_store_n(&fast_free,
			 __atomic_load_n(&rate1, __ATOMIC_ACQUIRE) &&
				 __atomic_load_n(&have_bounds, __ATOMIC_ACQUIRE),
			 __ATOMIC_RELEASE);
}

static MP_NOINLINE unsigned life_class_slow(uint64_t ticks)
{
	if (!mp_tag_tsc)
		return mp_tag_life_class(ticks << MP_TAG_TICK_SHIFT);
	unsigned k = mp_tag_life_class(mp_tag_ns(ticks));
	if (__atomic_load_n(&ps->ns_per_tick, __ATOMIC_RELAXED)) {
		/* Measured for good: the bounds in ticks (racing threads store
		 * the same values). */
		double f;
		uint64_t bits = __atomic_load_n(&ps->ns_per_tick, __ATOMIC_RELAXED);
		memcpy(&f, &bits, sizeof(f));
		for (unsigned i = 0; i < MP_SNAP_LIFE_CLASSES - 1; i++)
			__atomic_store_n(&bound_ticks[i],
					 (uint64_t)((double)mp_snap_life_bound_ns(i) / f + 0.999999),
					 __ATOMIC_RELAXED);
		__atomic_store_n(&have_bounds, 1, __ATOMIC_RELEASE);
		set_fast_free();
	}
	return k;
}

/* The class of `ticks` once have_bounds is set. */
static inline unsigned ticks_class(uint64_t ticks)
{
	unsigned k = 0;
	while (k < MP_SNAP_LIFE_CLASSES - 1 && ticks >= bound_ticks[k])
		k++;
	return k;
}

static inline unsigned life_class(uint64_t ticks)
{
	if (MP_LIKELY(__atomic_load_n(&have_bounds, __ATOMIC_ACQUIRE)))
		return ticks_class(ticks);
	return life_class_slow(ticks);
}

/*
 * A sampled free, all of it here in one function: the allocator's free of
 * every block at --rate 1 comes this way (1.44 million times compiling a
 * small file with gcc's cc1), and as the chain of calls it was (the
 * bucket's prefetch, mp_prof_record_free, mp_peak_shrinking and
 * mp_peak_touch, alone() twice) it cost about 120 instructions a free;
 * mp_peak_on_free's short way below, about 40.
 * The order is the one of the comment at the top: shrinking (the
 * capture), touch, the free count, the lifetime; alone() is asked once
 * (an answer gone stale since is the race its comment allows).  `read`:
 * the clock is read here (not `now`), after the two records a free writes
 * (counts, lifetimes: two cache lines in tables often bigger than the
 * cache) are on their way, so that their misses overlap one another and
 * the clock's read.  `fast`: at --rate 1 with one thread (short_way,
 * below), where the tables are mapped, the clock is the TSC and the
 * lifetime classes' bounds are known: the same operations without the
 * tests that cannot fail then.
 */
static inline __attribute__((always_inline)) unsigned freed(uint64_t tag, uint64_t now,
							   bool read, bool fast)
{
	uint32_t b = mp_tag_bucket(tag);
	if (!fast && MP_UNLIKELY(!recs)) {
		if (read)
			now = mp_tag_now();
		mp_prof_record_free(b);
		return life_class(mp_tag_age(tag, now));
	}
	struct mp_snap_heap_rec *h = &mp_prof_heap[b];
	uint64_t *lf = life[b].freed;
	__builtin_prefetch(h, 1);
	__builtin_prefetch(lf, 1);
	if (read)
		now = fast ? mp_tag_tsc_now() : mp_tag_now();
	uint64_t age = mp_tag_age(tag, now);
	unsigned k = fast ? ticks_class(age) : life_class(age);
	bool one = fast || alone();
	if (fast && free_hints) {
		uint32_t nx = free_hints[b & (FREE_HINTS - 1)];
		free_hints[hint_prev & (FREE_HINTS - 1)] = b + 1;
		hint_prev = b;
		if (nx) {
			__builtin_prefetch(&mp_prof_heap[nx - 1], 1);
			__builtin_prefetch(life[nx - 1].freed, 1);
			__builtin_prefetch(&free_hints[(nx - 1) & (FREE_HINTS - 1)], 1);
		}
	}
	if (fast) {
		/* shrink(h->size, true) at rate 1, nothing read back */
		capture();
		plain_add(&ps->now, -h->size);
	} else {
		shrink(h->size, one);
	}
	touch(b, h);
	__atomic_add_fetch(&h->free_objects, 1, __ATOMIC_RELAXED);
	if (fast)
		plain_add(&lf[k], 1);
	else
		add_fetch(&lf[k], 1, one);
	return k;
}

unsigned mp_peak_freed(uint64_t tag, uint64_t now)
{
	return freed(tag, now, false, false);
}

/* freed()'s `fast` may be taken: --rate 1 with one thread (fast_free,
 * alone()); its callers below then make no call. */
static inline bool short_way(void)
{
	return __atomic_load_n(&fast_free, __ATOMIC_ACQUIRE) &&
	       __atomic_load_n(&sole, __ATOMIC_RELAXED) == &me;
}

/* freed(), now unless `now` is 0. */
static MP_NOINLINE unsigned freed_slow(uint64_t tag, uint64_t now)
{
	if (now)
		return freed(tag, now, false, false);
	return freed(tag, 0, true, false);
}

unsigned mp_peak_freed_now(uint64_t tag)
{
	if (MP_LIKELY(short_way()))
		return freed(tag, 0, true, true);
	return freed_slow(tag, 0);
}

void mp_peak_on_free(uint64_t tag, uint64_t now)
{
	if (MP_UNLIKELY(!now || !short_way())) {
		freed_slow(tag, now);
		return;
	}
	freed(tag, now, false, true);
}

void mp_peak_unfreed(uint64_t tag, unsigned k)
{
	uint32_t b = mp_tag_bucket(tag);
	if (recs && k < MP_SNAP_LIFE_CLASSES)
		__atomic_sub_fetch(&life[b].freed[k], 1, __ATOMIC_RELAXED);
	mp_prof_unrecord_free(b);
}

static struct mp_snap_peak header_now(void)
{
	struct mp_snap_peak s = { 0 };
	s.epoch = __atomic_load_n(&ps->epoch, __ATOMIC_ACQUIRE);
	s.inuse = __atomic_load_n(&ps->inuse, __ATOMIC_RELAXED);
	uint64_t tick = __atomic_load_n(&ps->tick, __ATOMIC_RELAXED);
	if (tick)
		s.time_ns = mp_tag_real_ns(tick);
	s.now = __atomic_load_n(&ps->now, __ATOMIC_RELAXED);
	s.flags = __atomic_load_n(&ps->flags, __ATOMIC_ACQUIRE);
	return s;
}

void mp_peak_region(uint32_t nbuckets, const void **ret_hdr, size_t *ret_hdr_size,
		    const void **ret_recs, size_t *ret_recs_size)
{
	static struct mp_snap_peak h;   /* writers are serialized */
	*ret_hdr = *ret_recs = NULL;
	*ret_hdr_size = *ret_recs_size = 0;
	if (!recs)
		return;
	h = header_now();
	*ret_hdr = &h;
	*ret_hdr_size = sizeof(h);
	*ret_recs = recs;
	*ret_recs_size = (size_t)nbuckets * sizeof(*recs);
}

void mp_peak_life_region(uint32_t nbuckets, const void **ret_data, size_t *ret_size)
{
	*ret_data = recs ? life : NULL;
	*ret_size = recs ? (size_t)nbuckets * sizeof(*life) : 0;
}

struct mp_snap_peak mp_peak_state(void)
{
	return header_now();
}

void mp_peak_reset(uint32_t nbuckets)
{
	if (!recs)
		return;
	memset(recs, 0, (size_t)nbuckets * sizeof(*recs));
	memset(life, 0, (size_t)nbuckets * sizeof(*life));
	mp_shm_publish(&peak_area, 0, 0);
	mp_shm_publish(&life_area, 0, 0);
	ps->now = ps->inuse = ps->tick = ps->flags = 0;
	ps->epoch = 1;
}

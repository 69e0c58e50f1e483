/* SPDX-License-Identifier: MIT */
/*
 * A sampled block's tag: the one word the allocator (alloc/alloc.h: its
 * per-span side table) and the live table of glibc's blocks (live.h) keep
 * for each sampled block, so that its free credits the heap bucket it was
 * counted in and knows how long the block lived:
 *
 *   bits  0..23   bucket + 1 (never 0: a tag of 0 means "not sampled")
 *   bits 24..63   when it was allocated, in ticks (below), modulo 2^40
 *
 * A tick is 1024 units of the clock: the TSC where it is invariant (x86-64
 * with CPUID's invariant-TSC bit, as the kernel's tsc clock source needs;
 * rdtsc costs half what the vDSO's clock_gettime does, 35 against 70 ns
 * measured in a virtual machine, and every allocation and free at --rate 1
 * reads it),
 * else CLOCK_MONOTONIC in nanoseconds.  mp_tag_ns turns ticks into
 * nanoseconds (the TSC's rate measured against CLOCK_MONOTONIC since
 * mp_tag_init).  A lifetime is the difference of two tick counts modulo
 * 2^40, so it is known to within one tick (under half a microsecond to
 * 1.024 us) and a block that lives longer than the wrap (2^50 TSC cycles
 * or ns: days) is counted by its lifetime modulo that (a wrong class for
 * it, never an error).  The bucket table stays below 2^24 - 1 buckets
 * (stacks.c checks it at build time).  The time takes the high bits so
 * that the whole word is 0 only for "not sampled".
 *
 * Inline functions: in the target, in signal handlers (rdtsc, or the
 * vDSO's clock_gettime: async-signal-safe, no system call) and after fork.
 */
#ifndef MP_SAMPLE_TAG_H
#define MP_SAMPLE_TAG_H

#include <stdint.h>
#include <time.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include "base/compiler.h"
#include "common/snapshot.h"

#define MP_TAG_BUCKET_BITS 24
#define MP_TAG_MAX_BUCKETS ((1u << MP_TAG_BUCKET_BITS) - 1)
#define MP_TAG_TICK_SHIFT 10                 /* a tick is 2^10 clock units */
#define MP_TAG_TIME_MASK ((1ull << (64 - MP_TAG_BUCKET_BITS)) - 1)

/* Whether ticks count the TSC (set once by mp_tag_init, peak.c). */
extern MP_HIDDEN int mp_tag_tsc;

/* Choose the clock and note its origin.  Once, at init (mp_prof_init). */
void mp_tag_init(void);

static inline uint64_t mp_tag_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The tick clock once mp_tag_tsc is known to be set: the TSC alone, no
 * test (elsewhere, where mp_tag_tsc is never set, the monotonic clock). */
static inline uint64_t mp_tag_tsc_now(void)
{
#if defined(__x86_64__)
	return __rdtsc() >> MP_TAG_TICK_SHIFT;
#else
	return mp_tag_mono_ns() >> MP_TAG_TICK_SHIFT;
#endif
}

/* The tick clock (all 64 bits). */
static inline uint64_t mp_tag_now(void)
{
	if (MP_LIKELY(mp_tag_tsc))
		return mp_tag_tsc_now();
	return mp_tag_mono_ns() >> MP_TAG_TICK_SHIFT;
}

/* Nanoseconds in `ticks` ticks (peak.c). */
uint64_t mp_tag_ns(uint64_t ticks);

/* CLOCK_REALTIME in ns at tick `tick` of mp_tag_now (peak.c). */
uint64_t mp_tag_real_ns(uint64_t tick);

/* The tag of a block of bucket b (< MP_TAG_MAX_BUCKETS) allocated at tick `now`. */
static inline uint64_t mp_tag_make(uint32_t b, uint64_t now)
{
	return ((now & MP_TAG_TIME_MASK) << MP_TAG_BUCKET_BITS) | ((uint64_t)b + 1);
}

/* The bucket of a tag that is not 0. */
static inline uint32_t mp_tag_bucket(uint64_t tag)
{
	return (uint32_t)(tag & MP_TAG_MAX_BUCKETS) - 1;
}

/* How many ticks the block of `tag` has lived at tick `now`. */
static inline uint64_t mp_tag_age(uint64_t tag, uint64_t now)
{
	return (now - (tag >> MP_TAG_BUCKET_BITS)) & MP_TAG_TIME_MASK;
}

/* The same in ns. */
static inline uint64_t mp_tag_age_ns(uint64_t tag, uint64_t now)
{
	return mp_tag_ns(mp_tag_age(tag, now));
}

/* The lifetime class (common/snapshot.h, MP_SNAP_LIFETIMES) of a lifetime. */
static inline unsigned mp_tag_life_class(uint64_t ns)
{
	unsigned k = 0;
	for (uint64_t bound = 10000; k < MP_SNAP_LIFE_CLASSES - 1 && ns >= bound; bound *= 10)
		k++;
	return k;
}

#endif

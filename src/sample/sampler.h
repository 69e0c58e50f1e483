/* SPDX-License-Identifier: MIT */
/*
 * Poisson sampling of allocated bytes, like Go's MemProfileRate.
 * Pure functions: safe in the target, in signal handlers and after fork.
 */
#ifndef MP_SAMPLE_SAMPLER_H
#define MP_SAMPLE_SAMPLER_H

#include <stdint.h>

/* Rate meaning "never sample". */
#define MP_RATE_OFF 0

/* Seed a per-thread generator state from any entropy; never yields state 0. */
uint64_t mp_sampler_seed(uint64_t entropy);

/* A uniform double in (0, 1], advancing *state (splitmix64). */
double mp_sampler_uniform(uint64_t *state);

/*
 * The countdown to the next sample: the next sampled byte is the countdown's
 * (counting from 1) from here on; an allocation of s bytes is sampled when
 * the countdown is <= s.  Geometric on 1, 2, ... with mean about `rate`
 * (1 + floor of an exponential draw with mean `rate`), so that a block of s
 * bytes is sampled with probability exactly 1 - exp(-s/rate).  rate 0:
 * UINT64_MAX (never); rate 1: 0 (every allocation).  See sampler.c.
 */
uint64_t mp_sampler_next(uint64_t *state, uint64_t rate);

/* Natural logarithm of a finite x > 0 (no libm: see sampler.c). */
double mp_sampler_ln(double x);

/*
 * How many blocks one sampled block of `size` bytes stands for at `rate`:
 * 1 / (1 - exp(-size/rate)) (1 at rate 0 or 1, and for size 0, which is
 * only sampled at rate 1).  To about 1e-15 relative, without libm.  The
 * CLI unbiases profiles with libm's exp (convert.h); the shim needs this
 * only to follow the in-use estimate as it changes (peak.h).
 */
double mp_sampler_weight(uint64_t size, uint64_t rate);

#endif

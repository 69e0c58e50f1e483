/* SPDX-License-Identifier: MIT */
/*
 * Poisson sampling of allocated bytes.
 *
 * Model: allocated bytes form a stream, and every byte is a sampling point
 * independently with probability 1 - q, q = exp(-1/R) (R = rate, so about
 * 1/R).  Each thread keeps a countdown `left`: the number of the byte, from
 * the next allocation on, that is the next sampling point, counting from 1.
 * An allocation of s bytes is sampled when left <= s (one of its bytes is
 * the point); otherwise left -= s.  After a sample a fresh countdown is
 * drawn and the rest of the sampled block is not counted.  This is what
 * Go's runtime does with mcache.nextSample.
 *
 * The countdown is geometric on 1, 2, 3, ...: P(left = k) = q^(k-1) (1 - q),
 * drawn as
 *
 *     left = 1 + floor(-ln(U) * R),   U uniform in (0, 1]
 *
 * since -ln(U) * R is exponential with mean R and floor() of it is
 * geometric on 0, 1, ... with P(>= k) = exp(-k/R) = q^k.  The geometric law
 * is memoryless: given left > s, left - s has the same law again, so every
 * block, whatever came before it, is sampled independently with
 *
 *     P(s) = P(left <= s) = 1 - q^s = 1 - exp(-s/R)
 *
 * (the chance that at least one of its s bytes is a sampling point), and
 * stands for 1/P(s) blocks and s/P(s) bytes.  This is the weight
 * runtime/pprof's scaleHeapSample applies (with the block size as the
 * bucket's average size), and the sampler agrees with it exactly at every
 * rate.  (A countdown of floor(-ln(U) * R), with 0 read as 1, is sampled
 * with 1 - q^(s+1) on the first block after each sample and 1 - q^s after:
 * estimates came out 1/(1 - q^s (1 - q)) too high, +3.8% for 8-byte
 * blocks at R = 16, +1.2% for 17-byte blocks at R = 64.)
 * Edge cases: R = 1 samples every allocation (countdown 0, weight 1, exact
 * counts); s = 0 has P = 0, so zero-sized blocks are only seen at R = 1 and
 * count with weight 1; R = 0 never samples (countdown UINT64_MAX).
 *
 * Must never: allocate, lock, or call into libc.  The logarithm is our own
 * (mp_sampler_ln): linking libm into the shim would cost every target about
 * 300 KiB of resident memory for its ifunc resolvers; so is the exponential
 * of the weight (mp_sampler_weight), which the shim needs only to follow
 * the in-use estimate for the peak (peak.h).  Profiles are unbiased outside
 * the target, when a snapshot becomes a profile (convert/convert.h
 * mp_convert_scale_heap).
 */
#include <stdint.h>
#include <string.h>

#include "sample/sampler.h"

uint64_t mp_sampler_seed(uint64_t entropy)
{
	uint64_t s = entropy ^ 0x9e3779b97f4a7c15ull;
	return s ? s : 1;
}

/* splitmix64 (Steele, Lea, Flood 2014): 64 good bits per step, one state word. */
static uint64_t next64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

double mp_sampler_uniform(uint64_t *state)
{
	/* 53 random bits, shifted to (0, 1]: never 0, so the log stays finite. */
	return (double)((next64(state) >> 11) + 1) * 0x1.0p-53;
}

/*
 * ln(x) for a finite x > 0, to about 1e-15 relative: x = m * 2^e with m in
 * [sqrt(1/2), sqrt(2)), then ln(m) = 2 atanh(t) = 2 (t + t^3/3 + t^5/5 + ...)
 * with t = (m - 1) / (m + 1), |t| < 0.172, so 12 terms leave an error below
 * 0.172^25 / 25.
 */
double mp_sampler_ln(double x)
{
	uint64_t bits;
	memcpy(&bits, &x, sizeof(bits));
	int e = (int)((bits >> 52) & 0x7ff);
	if (e == 0) {                     /* subnormal: scale into range */
		x *= 0x1.0p64;
		memcpy(&bits, &x, sizeof(bits));
		e = (int)((bits >> 52) & 0x7ff) - 64;
	}
	e -= 1023;
	bits = (bits & ~(0x7ffull << 52)) | (1023ull << 52);
	double m;
	memcpy(&m, &bits, sizeof(m));     /* m in [1, 2) */
	if (m > 1.4142135623730951) {
		m *= 0.5;
		e++;
	}
	double t = (m - 1.0) / (m + 1.0), t2 = t * t, sum = 0.0;
	for (int k = 23; k >= 1; k -= 2)
		sum = sum * t2 + 1.0 / k;
	return 2.0 * t * sum + e * 0.69314718055994530942;
}

uint64_t mp_sampler_next(uint64_t *state, uint64_t rate)
{
	if (rate == MP_RATE_OFF)
		return UINT64_MAX;
	if (rate == 1)
		return 0;
	double gap = -mp_sampler_ln(mp_sampler_uniform(state)) * (double)rate;
	/* -ln(2^-53) * rate is at most ~37 * rate: clamp far below 2^63. */
	if (gap >= 0x1.0p62)
		return (uint64_t)1 << 62;
	return 1 + (uint64_t)gap;   /* conversion truncates: 1 + floor(gap) */
}

/*
 * 1 - exp(-x) for x > 0, without cancellation: for x < 2^-6 the series
 * x - x^2/2 + x^3/6 - ... (7 terms: the first left out is below x^8/8!,
 * under 2^-63 of the sum); else exp(-x) = 2^-k exp(-r) with x = k ln 2 + r,
 * 0 <= r < ln 2, and exp(-r) by its Taylor series (20 terms: r^21/21! <
 * 1e-22).  Past x = 50, exp(-x) < 2e-22 is below double's precision next
 * to 1.
 */
static double one_minus_exp_neg(double x)
{
	if (x < 0x1.0p-6) {
		double sum = 0.0;
		for (int k = 7; k >= 1; k--)
			sum = x / k * (1.0 - sum);   /* Horner form of x - x^2/2! + ... */
		return sum;
	}
	if (x > 50.0)
		return 1.0;
	int k = (int)(x / 0.69314718055994530942);
	double r = x - k * 0.69314718055994530942, term = 1.0, e = 1.0;
	for (int i = 1; i <= 20; i++) {
		term *= -r / i;
		e += term;
	}
	while (k-- > 0)
		e *= 0.5;
	return 1.0 - e;
}

double mp_sampler_weight(uint64_t size, uint64_t rate)
{
	if (rate <= 1 || size == 0)
		return 1.0;
	return 1.0 / one_minus_exp_neg((double)size / (double)rate);
}

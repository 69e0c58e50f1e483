/* SPDX-License-Identifier: MIT */
/* Unit tests of the in-target sampling logic: sampler math, stack table, live
 * table; and the sampler's law together with the unbiasing memprof applies
 * when it writes a profile (convert/convert.h mp_convert_scale_heap). */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/ownmem.h"
#include "common/snapshot.h"
#include "convert/convert.h"
#include "sample/live.h"
#include "sample/peak.h"
#include "sample/sampler.h"
#include "sample/stacks.h"
#include "sample/tag.h"
#include "base/vm.h"
#include "tap.h"

static void test_edges(void)
{
	uint64_t s = mp_sampler_seed(42);
	CHECK(s != 0);
	CHECK_U64(mp_sampler_next(&s, 0), UINT64_MAX);
	CHECK_U64(mp_sampler_next(&s, 1), 0);
	for (int i = 0; i < 1000; i++) {
		double u = mp_sampler_uniform(&s);
		if (!(u > 0 && u <= 1)) {
			CHECK(u > 0 && u <= 1);
			break;
		}
	}
}

/* Mean gap: the exponential with mean R has standard deviation R, so the mean
 * of N draws has standard error R/sqrt(N); allow 5 of them. */
/* The shim's own logarithm against libm's over the whole double range
 * that the sampler feeds it (0, 1], and beyond. */
static void test_ln(void)
{
	double worst = 0;
	uint64_t st = 12345;
	for (int i = 0; i < 200000; i++) {
		double x = mp_sampler_uniform(&st);
		if (i % 4 == 0)
			x = ldexp(x, -(i % 1060));   /* down into the subnormals */
		else if (i % 4 == 1)
			x = ldexp(x, i % 1000);
		double want = log(x), got = mp_sampler_ln(x);
		double err = fabs(got - want) / (fabs(want) > 1e-300 ? fabs(want) : 1.0);
		if (x != 1.0 && err > worst)
			worst = err;
	}
	CHECK(worst < 1e-14);
	CHECK_NEAR(mp_sampler_ln(1.0), 0.0, 0);
	CHECK_NEAR(mp_sampler_ln(0x1.0p-53), -53 * log(2.0), 1e-13);
	CHECK_NEAR(mp_sampler_ln(4.9406564584124654e-324), log(4.9406564584124654e-324), 1e-12);
}

static void test_mean(void)
{
	const uint64_t rate = 524288;
	const int n = 1000000;
	uint64_t s = mp_sampler_seed(7);
	double sum = 0;
	for (int i = 0; i < n; i++)
		sum += (double)mp_sampler_next(&s, rate);
	CHECK_NEAR(sum / n, (double)rate, 5.0 * rate / sqrt(n));
}

/* The shim's countdown rule plus the unbiasing of the profile writer give
 * unbiased totals.  Sampled blocks are counted per size, as the shim's stack
 * buckets count them per stack, and each (objects, bytes) pair is scaled by
 * mp_convert_scale_heap as memprof run scales each bucket.  The relative
 * error of the byte estimate is about 1/sqrt(samples): with ~1 GiB
 * allocated at 512 KiB that is ~2000 samples, ~2.2%; the issue asks for 5%
 * (bytes) and 10% (objects), checked here with a fixed seed. */
#define MAX_SIZE (16384 + 65536)
static uint64_t sampled[MAX_SIZE];

static void test_unbiased(void)
{
	const uint64_t rate = 524288;
	uint64_t rng = mp_sampler_seed(12345), sizes = mp_sampler_seed(99);
	uint64_t left = mp_sampler_next(&rng, rate);
	double est_objects = 0, est_bytes = 0;
	uint64_t objects = 0, bytes = 0;
	for (int i = 0; i < 1000000; i++) {
		uint64_t r = (uint64_t)(mp_sampler_uniform(&sizes) * 1e9);
		uint64_t size = r % 100 == 0 ? 16384 + r % 65536 : 8 + r % 1024;
		objects++;
		bytes += size;
		if (left > size) {
			left -= size;
			continue;
		}
		sampled[size]++;
		left = mp_sampler_next(&rng, rate);
	}
	for (uint64_t size = 0; size < MAX_SIZE; size++) {
		int64_t o, b;

		if (!sampled[size])
			continue;
		mp_convert_scale_heap(sampled[size], sampled[size] * size, rate, &o, &b);
		est_objects += (double)o;
		est_bytes += (double)b;
	}
	CHECK_NEAR(est_objects / (double)objects, 1.0, 0.10);
	CHECK_NEAR(est_bytes / (double)bytes, 1.0, 0.05);
}

/*
 * The countdown's law, by Pearson's chi-square test: P(left = k) =
 * q^(k-1) (1 - q), q = exp(-1/R), for k = 1 .. K-1 and one bin for the
 * tail k >= K, at small rates where a wrong first value shows (the former
 * floor() with 0 read as 1 put 1 - q^2 on k = 1).  Under the law the
 * statistic is chi-square with K - 1 degrees of freedom; the test fails
 * above the quantile 1 - 1e-6 (Wilson-Hilferty: df (1 - 2/(9 df) +
 * z sqrt(2/(9 df)))^3, z = 4.7534 the normal's 1 - 1e-6 quantile).  K is
 * chosen so that every bin expects at least 200 draws.
 */
static void test_countdown_law(void)
{
	static const uint64_t rates[] = { 2, 3, 16, 64, 1000 };
	const int n = 400000;
	for (size_t r = 0; r < sizeof(rates) / sizeof(rates[0]); r++) {
		const uint64_t rate = rates[r];
		const double q = exp(-1.0 / (double)rate);
		unsigned K = 1;
		while (K < 4000 && n * pow(q, K) * (1 - q) >= 200 && n * pow(q, K) >= 200)
			K++;
		static uint64_t count[4001];
		for (unsigned k = 0; k <= K; k++)
			count[k] = 0;
		uint64_t st = mp_sampler_seed(1000 + rate), zero = 0;
		for (int i = 0; i < n; i++) {
			uint64_t g = mp_sampler_next(&st, rate);
			zero += g == 0;
			count[g < K ? g : K]++;
		}
		CHECK_U64(zero, 0);
		double chi2 = 0;
		for (unsigned k = 1; k <= K; k++) {
			double p = k < K ? pow(q, k - 1) * (1 - q) : pow(q, K - 1);
			double e = n * p, d = (double)count[k] - e;
			chi2 += d * d / e;
		}
		double df = K - 1, h = 2 / (9 * df);
		double crit = df * pow(1 - h + 4.7534 * sqrt(h), 3);
		CHECK(chi2 < crit);
		if (!(chi2 < crit))
			printf("# rate %llu: chi-square %.1f with %u bins, critical %.1f\n",
			       (unsigned long long)rate, chi2, K, crit);
	}
}

/*
 * The shim's countdown rule at small rates, where the block size is close
 * to the rate: blocks of s bytes, one after another.  Each block is
 * sampled independently with p = 1 - exp(-s/R) (sampler.c), so the number
 * of samples among n blocks is binomial(n, p): the test asks it to be
 * within 5 standard deviations, sqrt(n p (1 - p)), of n p (a false alarm
 * once in 1.7 million; the seed is fixed anyway), and the estimate of n
 * that the profile writer makes of them (mp_convert_scale_heap, samples /
 * p truncated) to be within 5 / p of them, plus 1 for the truncation.  The former countdown was
 * 30 standard deviations high for 8-byte blocks at rate 16.
 */
static void test_small_rates(void)
{
	static const struct {
		uint64_t size, rate;
	} cases[] = { { 8, 16 }, { 17, 64 }, { 1, 2 }, { 3, 3 }, { 1, 1000 }, { 100, 64 },
		      { 48, 4096 }, { 4096, 4096 }, { 3000, 16 } };
	const int n = 1000000;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const uint64_t size = cases[c].size, rate = cases[c].rate;
		uint64_t st = mp_sampler_seed(77 + c), left = mp_sampler_next(&st, rate);
		uint64_t samples = 0;
		for (int i = 0; i < n; i++) {
			if (left > size) {   /* mp_account's test (shim/shim.h) */
				left -= size;
				continue;
			}
			samples++;
			left = mp_sampler_next(&st, rate);
		}
		double p = -expm1(-(double)size / (double)rate);
		double sd = sqrt(n * p * (1 - p));
		int64_t est, est_bytes;
		mp_convert_scale_heap(samples, samples * size, rate, &est, &est_bytes);
		int ok = fabs((double)samples - n * p) <= 5 * sd &&
			 fabs((double)est - n) <= 5 * sd / p + 1 &&
			 fabs((double)est_bytes - (double)n * (double)size) <= (5 * sd / p + 1) * (double)size;
		CHECK(ok);
		if (!ok)
			printf("# %llu-byte blocks at rate %llu: %llu samples, expected %.1f +- %.1f "
			       "(estimate %lld of %d blocks)\n", (unsigned long long)size,
			       (unsigned long long)rate, (unsigned long long)samples, n * p, sd,
			       (long long)est, n);
	}
}

/*
 * The shim's mappings are never roots of the leak scan while they exist,
 * and stop being ours when released: the program may map its own memory at
 * the same place later.  Reserving and releasing over and over (a snapshot
 * every 10 ms) never fills the registry.
 */
static void test_vm_ownmem(void)
{
	const size_t size = (size_t)1 << 20;
	char *p = mp_vm_reserve(size);
	CHECK(p != NULL);
	CHECK(mp_ownmem_overlaps((uintptr_t)p, (uintptr_t)p + 1));
	CHECK(mp_ownmem_overlaps((uintptr_t)p + size - 1, (uintptr_t)p + size));
	mp_vm_release(p, size);
	CHECK(!mp_ownmem_overlaps((uintptr_t)p, (uintptr_t)p + size));
	int lost = 0;
	for (int i = 0; i < 2 * MP_OWNMEM_MAX; i++) {
		char *q = mp_vm_reserve(4096);
		lost += !q || !mp_ownmem_overlaps((uintptr_t)q, (uintptr_t)q + 1);
		mp_vm_release(q, 4096);
	}
	CHECK_INT(lost, 0);
}

static const struct mp_snap_heap_rec *bucket(uint32_t b)
{
	const void *data;
	size_t size;
	mp_prof_buckets(&data, &size);
	if ((size_t)(b + 1) * sizeof(struct mp_snap_heap_rec) > size)
		return NULL;
	return (const struct mp_snap_heap_rec *)data + b;
}

static void test_stacks(void)
{
	CHECK_INT(mp_prof_init(), 0);
	uint64_t a[3] = { 0x1000, 0x2000, 0x3000 }, b[3] = { 0x1000, 0x2000, 0x3001 };
	int64_t b1 = mp_prof_record_alloc(a, 3, 64);
	int64_t b2 = mp_prof_record_alloc(a, 3, 64);
	int64_t b3 = mp_prof_record_alloc(a, 3, 128);
	int64_t b4 = mp_prof_record_alloc(b, 3, 64);
	int64_t b5 = mp_prof_record_alloc(a, 2, 64);
	CHECK_INT(b1, 0);
	CHECK_INT(b2, 0);
	CHECK_INT(b3, 1);
	CHECK_INT(b4, 2);
	CHECK_INT(b5, 3);
	CHECK_U64(bucket(0)->alloc_objects, 2);
	CHECK_U64(bucket(0)->stack_id, 1);
	CHECK_U64(bucket(1)->stack_id, 1);
	CHECK_U64(bucket(2)->stack_id, 2);
	CHECK_U64(bucket(3)->stack_id, 3);
	/* What the walk memo uses: a stack's id, its bucket by id, one more. */
	CHECK_INT(mp_prof_intern_stack(a, 3), 1);
	CHECK_INT(mp_prof_intern_stack(b, 3), 2);
	CHECK_INT(mp_prof_record_stack(1, 64), 0);
	CHECK_INT(mp_prof_record_stack(2, 128), 4);
	mp_prof_record_again(0);
	CHECK_U64(bucket(0)->alloc_objects, 4);
	CHECK_U64(bucket(4)->stack_id, 2);
	CHECK_U64(bucket(4)->size, 128);
	uint32_t gen = mp_prof_generation();
	mp_prof_reset();
	CHECK(mp_prof_generation() != gen);
	CHECK_INT(mp_prof_record_alloc(a, 3, 64), 0);
	CHECK_INT(mp_prof_record_alloc(a, 3, 128), 1);
	CHECK_INT(mp_prof_record_alloc(b, 3, 64), 2);
	CHECK_INT(mp_prof_record_alloc(a, 2, 64), 3);
	CHECK_U64(bucket(0)->alloc_objects, 1);
	mp_prof_record_free(0);
	CHECK_U64(bucket(0)->free_objects, 1);
	mp_prof_unrecord_free(0);
	CHECK_U64(bucket(0)->free_objects, 0);

	/* The stack region is exactly the snapshot's record format. */
	const void *data;
	size_t size;
	mp_prof_stacks(&data, &size);
	CHECK_U64(size, (8 + 24) * 2 + (8 + 16));
	const uint32_t *rec = data;
	CHECK_U64(rec[0], 1);
	CHECK_U64(rec[1], 3);
	CHECK_U64(((const uint64_t *)(rec + 2))[2], 0x3000);

	/* Growth: many distinct stacks and buckets keep their identity. */
	int ok = 1;
	for (uint64_t i = 0; i < 100000 && ok; i++) {
		uint64_t pcs[2] = { i, i * 7 };
		int64_t x = mp_prof_record_alloc(pcs, 2, i % 5);
		int64_t y = mp_prof_record_alloc(pcs, 2, i % 5);
		ok = x >= 0 && x == y && bucket((uint32_t)x)->alloc_objects == 2;
	}
	CHECK(ok);
	CHECK(!mp_prof_truncated());
}

/* Fingerprints: the walker's stepwise one (outermost frame first) is the
 * table's, and the table finds a stack by it alone. */
static void test_fingerprint(void)
{
	uint64_t a[4] = { 0x401000, 0x402000, 0x403000, 0x404000 };
	struct mp_fp f = mp_fp_start();
	for (int i = 3; i >= 0; i--)
		f = mp_fp_step(f, a[i]);
	struct mp_fp g = mp_fp_of(a, 4);
	CHECK(f.a == g.a && f.b == g.b);
	/* One frame different, or one frame fewer: another fingerprint. */
	uint64_t b[4] = { 0x401000, 0x402001, 0x403000, 0x404000 };
	struct mp_fp h = mp_fp_of(b, 4), k = mp_fp_of(a + 1, 3);
	CHECK(h.a != g.a && h.b != g.b);
	CHECK(k.a != g.a && k.b != g.b);
	/* Swapped frames (the same multiset): another one too. */
	uint64_t c[4] = { 0x402000, 0x401000, 0x403000, 0x404000 };
	struct mp_fp sw = mp_fp_of(c, 4);
	CHECK(sw.a != g.a && sw.b != g.b);

	uint64_t *last;
	mp_prof_reset();
	CHECK_INT(mp_prof_find_fp(g, 4, &last), 0);
	CHECK(last == NULL);
	int64_t id = mp_prof_intern_stack_fp(a, 4, g);
	CHECK(id >= 1);
	CHECK_INT(mp_prof_find_fp(g, 4, &last), id);
	/* Its last bucket: none yet, then the one of its last size. */
	CHECK(last != NULL);
	CHECK_INT(mp_prof_last_bucket(last, 64), -1);
	mp_prof_last_set(last, 64, 7);
	CHECK_INT(mp_prof_last_bucket(last, 64), 7);
	CHECK_INT(mp_prof_last_bucket(last, 65), -1);
	mp_prof_last_set(last, (uint64_t)1 << 40, 9);   /* too big to keep: unchanged */
	CHECK_INT(mp_prof_last_bucket(last, 64), 7);
	uint64_t *again;
	CHECK_INT(mp_prof_find_fp(g, 4, &again), id);
	CHECK(again == last);
	CHECK_INT(mp_prof_find_fp(g, 3, &last), 0);          /* the depth is part of the key */
	CHECK_INT(mp_prof_intern_stack(a, 4), id);    /* the same stack by its frames */
	CHECK_INT(mp_prof_find_fp(h, 4, &last), 0);
	CHECK_INT(mp_prof_intern_stack(b, 4), id + 1);
	CHECK_INT(mp_prof_find_fp(h, 4, &last), id + 1);
	/* Unloaded code: the stacks through it are never found again; the
	 * same frames make a new stack. */
	uint64_t range[2] = { 0x402000, 0x402001 };   /* the call before 0x402001 */
	CHECK_U64(mp_prof_unmapped(range, 1), id + 1);
	CHECK_INT(mp_prof_find_fp(h, 4, &last), 0);
	CHECK_INT(mp_prof_find_fp(g, 4, &last), id);
	CHECK_INT(mp_prof_intern_stack(b, 4), id + 2);
	mp_prof_reset();
}

static void test_live(void)
{
	uint64_t b = 0;
	void *p = (void *)0x7f0000001000;
	CHECK(!mp_live_maybe(p));
	CHECK_INT(mp_live_remove(p, &b), 0);
	CHECK_INT(mp_live_insert(p, 0xfedcba9876543217ull), 0);
	CHECK(mp_live_maybe(p));
	CHECK_U64(mp_live_count(), 1);
	CHECK_INT(mp_live_remove(p, &b), 1);
	CHECK_U64(b, 0xfedcba9876543217ull);   /* all 64 bits of the tag */
	CHECK(!mp_live_maybe(p));
	CHECK_INT(mp_live_remove(p, &b), 0);

	/* Many entries, with growth and tombstones: every one found exactly once. */
	int ok = 1;
	for (uintptr_t i = 1; i <= 200000; i++)
		ok &= mp_live_insert((void *)(i * 16), (uint64_t)i << 20 | i) == 0;
	for (uintptr_t i = 1; i <= 200000; i += 2)
		ok &= mp_live_remove((void *)(i * 16), &b) == 1 && b == ((uint64_t)i << 20 | i);
	CHECK(ok);
	CHECK_U64(mp_live_count(), 100000);
	for (uintptr_t i = 2; i <= 200000; i += 2)
		ok &= mp_live_remove((void *)(i * 16), &b) == 1 && b == ((uint64_t)i << 20 | i);
	CHECK(ok);
	CHECK_U64(mp_live_count(), 0);
	int none = 1;
	for (uintptr_t i = 1; i <= 200000; i++)
		none &= !mp_live_maybe((void *)(i * 16));
	CHECK(none);
}

/* ---- tags, lifetimes, the peak (tag.h, peak.h) ---------------------------- */

/* The TSC clock (where the CPU has an invariant one) agrees with
 * CLOCK_MONOTONIC: ticks over 20 ms read both ways. */
static void test_tick_clock(void)
{
	mp_tag_init();
	if (!mp_tag_tsc) {
		/* No invariant TSC: ticks are CLOCK_MONOTONIC's, nothing to measure. */
		CHECK_U64(mp_tag_ns(3), 3 << MP_TAG_TICK_SHIFT);
		return;
	}
	uint64_t m0 = mp_tag_mono_ns(), t0 = mp_tag_now(), m1;
	while ((m1 = mp_tag_mono_ns()) - m0 < 20000000)
		;
	uint64_t ns = mp_tag_ns(mp_tag_now() - t0);
	CHECK(ns > (m1 - m0) * 99 / 100 && ns < (m1 - m0) * 101 / 100 + 10000);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t real = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	uint64_t got = mp_tag_real_ns(mp_tag_now());
	CHECK(got > real - 1000000 && got < real + 1000000);
}

static void test_tag(void)
{
	mp_tag_tsc = 0;   /* ticks of 1024 ns, for exact figures below */
	uint64_t now = 0x123456789abull;   /* more than 40 bits of ticks: wraps */
	uint64_t t = mp_tag_make(MP_TAG_MAX_BUCKETS - 1, now);
	CHECK(t != 0);
	CHECK_U64(mp_tag_bucket(t), MP_TAG_MAX_BUCKETS - 1);
	CHECK_U64(mp_tag_bucket(mp_tag_make(0, 0)), 0);
	CHECK(mp_tag_make(0, 0) != 0);
	CHECK_U64(mp_tag_age_ns(t, now), 0);
	CHECK_U64(mp_tag_age_ns(t, now + 3), 3 << MP_TAG_TICK_SHIFT);
	/* Across the 40-bit wrap of the allocation time. */
	uint64_t w = mp_tag_make(5, MP_TAG_TIME_MASK);
	CHECK_U64(mp_tag_age_ns(w, MP_TAG_TIME_MASK + 2), 2 << MP_TAG_TICK_SHIFT);
	/* Classes: decades from 10 us. */
	CHECK_INT(mp_tag_life_class(0), 0);
	CHECK_INT(mp_tag_life_class(9999), 0);
	CHECK_INT(mp_tag_life_class(10000), 1);
	CHECK_INT(mp_tag_life_class(999999), 2);
	CHECK_INT(mp_tag_life_class(1000000), 3);
	CHECK_INT(mp_tag_life_class(9999999999ull), 6);
	CHECK_INT(mp_tag_life_class(10000000000ull), 7);
	CHECK_INT(mp_tag_life_class(UINT64_MAX), MP_SNAP_LIFE_CLASSES - 1);
	for (unsigned k = 0; k + 1 < MP_SNAP_LIFE_CLASSES; k++) {
		CHECK_INT(mp_tag_life_class(mp_snap_life_bound_ns(k) - 1), k);
		CHECK_INT(mp_tag_life_class(mp_snap_life_bound_ns(k)), k + 1);
	}
	CHECK_STR(mp_snap_life_name(0), "<10us");
	CHECK_STR(mp_snap_life_name(MP_SNAP_LIFE_CLASSES - 1), ">=10s");
	CHECK_STR(mp_snap_life_name(MP_SNAP_LIFE_CLASSES), MP_LIFE_UNKNOWN);
}

/* The shim's weight (no libm) against libm's. */
static void test_weight(void)
{
	double worst = 0;
	static const double xs[] = { 1e-9, 1e-4, 0.0078125, 0.015, 0.0156251, 0.5, 1, 2.5, 10,
				     49, 51, 700 };
	for (size_t i = 0; i < sizeof(xs) / sizeof(xs[0]); i++) {
		uint64_t rate = 1 << 20;
		uint64_t size = (uint64_t)(xs[i] * (double)rate);
		if (size == 0)
			size = 1;
		double x = (double)size / (double)rate;
		double want = 1 / -expm1(-x), got = mp_sampler_weight(size, rate);
		double rel = fabs(got - want) / want;
		if (rel > worst)
			worst = rel;
	}
	CHECK(worst < 1e-12);
	CHECK(mp_sampler_weight(100, 1) == 1.0);
	CHECK(mp_sampler_weight(0, 512) == 1.0);
}

/* Peak record i as the reader resolves it (common/snapshot.h). */
static void peak_counts(uint32_t b, uint64_t *ret_alloc, uint64_t *ret_free)
{
	const void *hd, *rd, *bd;
	size_t hs, rs, bs;
	mp_prof_buckets(&bd, &bs);
	uint32_t nb = (uint32_t)(bs / sizeof(struct mp_snap_heap_rec));
	mp_peak_region(nb, &hd, &hs, &rd, &rs);
	const struct mp_snap_peak *h = hd;
	const struct mp_snap_peak_rec *r = (const struct mp_snap_peak_rec *)rd + b;
	const struct mp_snap_heap_rec *hr = (const struct mp_snap_heap_rec *)bd + b;
	if (!(h->flags & MP_SNAP_PEAK_F_NOW) && r->epoch >= h->epoch) {
		*ret_alloc = r->alloc_objects;
		*ret_free = r->free_objects;
	} else {
		*ret_alloc = hr->alloc_objects;
		*ret_free = hr->free_objects;
	}
}

#define CHECK_PEAK(b, a, f)                                   \
	do {                                                  \
		uint64_t pa_, pf_;                            \
		peak_counts((b), &pa_, &pf_);                 \
		CHECK_U64(pa_, (a));                          \
		CHECK_U64(pf_, (f));                          \
	} while (0)

/* One sampled allocation as the shim makes it (init.c record()): its tag. */
static uint64_t alloc_one(const uint64_t *pcs, uint64_t size, uint64_t tick)
{
	int64_t b = mp_prof_record_alloc(pcs, 2, size);
	mp_peak_grew(size, tick);
	return mp_tag_make((uint32_t)b, tick);
}

static void test_peak(void)
{
	uint64_t a[2] = { 0x10, 0x20 }, c[2] = { 0x30, 0x40 }, d[2] = { 0x50, 0x60 };
	uint64_t ta[8], tc, td;
	mp_prof_reset();
	mp_peak_set_rate(1);
	for (int i = 0; i < 3; i++)
		ta[i] = alloc_one(a, 100, 1000);            /* bucket 0: 300 B */
	tc = alloc_one(c, 1000, 1000);                      /* bucket 1: peak 1300 */
	CHECK_U64(mp_peak_state().inuse, 1300);
	CHECK(mp_peak_state().flags & MP_SNAP_PEAK_F_NOW);
	CHECK_PEAK(0, 3, 0);                                /* at the peak now */
	CHECK_INT(mp_peak_freed(tc, 1005), 0);              /* 5 ticks: < 10 us */
	CHECK(!(mp_peak_state().flags & MP_SNAP_PEAK_F_NOW));
	CHECK_INT(mp_peak_freed(ta[0], 1000 + 100), 2);     /* 102 us: 100us-1ms */
	for (int i = 3; i < 5; i++)
		ta[i] = alloc_one(a, 100, 2000);            /* 400 B: below the peak */
	CHECK_U64(mp_peak_state().now, 400);
	CHECK_U64(mp_peak_state().inuse, 1300);
	CHECK_PEAK(0, 3, 0);                                /* saved when it changed */
	CHECK_PEAK(1, 1, 0);
	CHECK_U64(bucket(0)->alloc_objects, 5);
	CHECK_U64(bucket(0)->free_objects, 1);
	CHECK_U64(bucket(1)->free_objects, 1);

	/* A new bucket takes the heap past the peak: every count is the peak's. */
	td = alloc_one(d, 5000, 3000);
	CHECK_U64(mp_peak_state().inuse, 5400);
	CHECK_PEAK(0, 5, 1);
	CHECK_PEAK(1, 1, 1);
	CHECK_PEAK(2, 1, 0);
	/* The next free captures it; buckets changed later keep its counts. */
	mp_peak_freed(ta[1], 3000);
	ta[5] = alloc_one(a, 100, 3001);                    /* back to 5400: a tie, no new peak */
	CHECK_U64(mp_peak_state().inuse, 5400);
	CHECK_PEAK(0, 5, 1);
	CHECK_PEAK(1, 1, 1);
	CHECK_PEAK(2, 1, 0);
	CHECK_U64(bucket(0)->free_objects, 2);
	CHECK_U64(bucket(0)->alloc_objects, 6);

	/* A realloc that failed takes a free back: in use again. */
	uint64_t before = mp_peak_state().now;
	unsigned k = mp_peak_freed(td, 3000 + 20000);       /* 20.5 ms */
	CHECK_INT(k, 4);
	mp_peak_unfreed(td, k);
	CHECK_U64(mp_peak_state().now, before);
	CHECK_U64(bucket(2)->free_objects, 0);

	/* Lifetimes: one record per bucket, the classes counted. */
	const void *ld;
	size_t ls;
	mp_peak_life_region(3, &ld, &ls);
	CHECK_U64(ls, 3 * sizeof(struct mp_snap_life_rec));
	const struct mp_snap_life_rec *life = ld;
	CHECK_U64(life[0].freed[2], 1);   /* ta[0] */
	CHECK_U64(life[0].freed[3], 1);   /* ta[1]: 2000 ticks, 2 ms */
	CHECK_U64(life[1].freed[0], 1);   /* tc */
	CHECK_U64(life[2].freed[4], 0);   /* td, taken back */
	(void)ta;
	mp_prof_reset();
	CHECK_U64(mp_peak_state().inuse, 0);
	CHECK_U64(mp_peak_state().epoch, 1);
}

/* At a sampled rate the estimate weighs each block as the profile does. */
static void test_peak_rate(void)
{
	uint64_t a[2] = { 0x70, 0x80 };
	mp_prof_reset();
	mp_peak_set_rate(512 * 1024);
	uint64_t t = alloc_one(a, 4096, 1);
	uint64_t want = (uint64_t)(4096.0 / -expm1(-4096.0 / (512 * 1024)) + 0.5);
	CHECK_U64(mp_peak_state().inuse, want);
	mp_peak_freed(t, 2);
	CHECK_U64(mp_peak_state().now, 0);
	mp_peak_set_rate(1);
	mp_prof_reset();
}

/*
 * mp_peak_on_free, the allocator's callback, takes a short way at --rate 1
 * with one thread once the lifetime bounds are known in ticks (peak.c):
 * the same frees through it and through mp_peak_freed leave the same
 * counts, peak and lifetimes.
 */
struct on_free_result {
	struct mp_snap_peak state;
	uint64_t peak[2][2], freed[2];
	struct mp_snap_life_rec life[2];
};

static void on_free_run(int cb, struct on_free_result *r)
{
	uint64_t a[2] = { 0x110, 0x120 }, c[2] = { 0x130, 0x140 }, t[5];
	mp_prof_reset();
	mp_peak_set_rate(1);
	for (int i = 0; i < 3; i++)
		t[i] = alloc_one(a, 100, 1000);
	t[3] = alloc_one(c, 1000, 1000);                    /* the peak, 1300 */
	static const struct { int i; uint64_t now; } frees[] = {
		{ 3, 1005 }, { 0, 1100 }, { 1, 3000 }, { 2, 1000 + 50000000 },
	};
	for (size_t k = 0; k < sizeof(frees) / sizeof(frees[0]); k++) {
		if (k == 2)
			t[4] = alloc_one(a, 100, 2000);
		if (cb)
			mp_peak_on_free(t[frees[k].i], frees[k].now);
		else
			mp_peak_freed(t[frees[k].i], frees[k].now);
	}
	r->state = mp_peak_state();
	r->state.time_ns = 0;
	const void *ld;
	size_t ls;
	mp_peak_life_region(2, &ld, &ls);
	memcpy(r->life, ld, sizeof(r->life));
	for (uint32_t b = 0; b < 2; b++) {
		peak_counts(b, &r->peak[b][0], &r->peak[b][1]);
		r->freed[b] = bucket(b)->free_objects;
	}
}

static void test_peak_on_free(void)
{
	/* With the TSC (test_tag chose ticks of 1024 ns) the bounds in ticks
	 * are known once its rate is measured, 10 ms after the clock started
	 * (peak.c ns_per_tick); a free then sets them.  Without, the short
	 * way is never taken. */
	mp_tag_init();
	if (mp_tag_tsc) {
		struct timespec ts = { 0, 15000000 };
		nanosleep(&ts, NULL);
		uint64_t a[2] = { 0x150, 0x160 };
		mp_prof_reset();
		mp_peak_set_rate(1);
		mp_peak_freed(alloc_one(a, 10, 1), 2);
	}
	struct on_free_result want, got;
	memset(&want, 0, sizeof(want));
	memset(&got, 0, sizeof(got));
	on_free_run(0, &want);
	on_free_run(1, &got);
	CHECK_U64(got.state.inuse, 1300);
	CHECK_U64(got.state.now, 100);
	CHECK(memcmp(&got.state, &want.state, sizeof(got.state)) == 0);
	CHECK_U64(got.freed[0], 3);
	CHECK_U64(got.freed[1], 1);
	CHECK(memcmp(got.freed, want.freed, sizeof(got.freed)) == 0);
	CHECK(memcmp(got.peak, want.peak, sizeof(got.peak)) == 0);
	CHECK_U64(got.life[0].freed[MP_SNAP_LIFE_CLASSES - 1], 1);   /* 50 million ticks */
	CHECK(memcmp(got.life, want.life, sizeof(got.life)) == 0);

	/* mp_peak_freed_now's short way reads the clock itself. */
	uint64_t c[2] = { 0x170, 0x180 };
	mp_prof_reset();
	mp_peak_set_rate(1);
	int64_t b = mp_prof_record_alloc(c, 2, 64);
	CHECK_INT(b, 0);
	mp_peak_grew(64, mp_tag_now());
	unsigned k = mp_peak_freed_now(mp_tag_make(0, mp_tag_now()));
	CHECK(k < MP_SNAP_LIFE_CLASSES);
	CHECK_U64(bucket(0)->free_objects, 1);
	CHECK_U64(mp_peak_state().now, 0);
	const void *ld;
	size_t ls;
	mp_peak_life_region(1, &ld, &ls);
	const struct mp_snap_life_rec *life = ld;
	uint64_t sum = 0;
	for (unsigned i = 0; i < MP_SNAP_LIFE_CLASSES; i++)
		sum += life[0].freed[i];
	CHECK_U64(sum, 1);
	CHECK_U64(life[0].freed[k < MP_SNAP_LIFE_CLASSES ? k : 0], 1);
	mp_prof_reset();
}

/*
 * Threads other than the first publish the estimate in batches (peak.c):
 * the peak captured and recorded stays within 2 * H(n) / 2048 of the real
 * one.  Threads one after the other, so that the real peak is known: A
 * allocates 50,000 blocks of 20 B (the real peak, 1,000,000 B) and frees
 * 25,000; B allocates 15,000 (800,000 B in use) and frees everything.  (Near
 * the peak a thread publishes every 24 or so events.)  Last of
 * the tests: from here on every thread batches.
 */
static uint64_t thr_tags[65000];

static void *thr_a(void *arg)
{
	(void)arg;
	uint64_t a[2] = { 0x90, 0xa0 };
	for (int i = 0; i < 50000; i++)
		thr_tags[i] = alloc_one(a, 20, 10);
	for (int i = 0; i < 25000; i++)
		mp_peak_freed(thr_tags[i], 20);
	return NULL;
}

static void *thr_b(void *arg)
{
	(void)arg;
	uint64_t b[2] = { 0xb0, 0xc0 };
	for (int i = 50000; i < 65000; i++)
		thr_tags[i] = alloc_one(b, 20, 30);
	for (int i = 25000; i < 65000; i++)
		mp_peak_freed(thr_tags[i], 40);
	return NULL;
}

static void test_peak_threads(void)
{
	mp_prof_reset();
	mp_peak_set_rate(1);
	pthread_t t;
	CHECK_INT(pthread_create(&t, NULL, thr_a, NULL), 0);
	pthread_join(t, NULL);
	CHECK_INT(pthread_create(&t, NULL, thr_b, NULL), 0);
	pthread_join(t, NULL);
	/* Main and A batched, then B: n <= 3, 2 * H(3) / 2048 < 0.18%. */
	uint64_t peak = 1000000, slack = peak * 18 / 10000;
	uint64_t inuse = mp_peak_state().inuse;
	CHECK(inuse + slack >= peak && inuse <= peak + slack);
	/* The captured moment: A's blocks in use, within the slack (20 B
	 * blocks), none of B's. */
	uint64_t pa, pf;
	peak_counts(0, &pa, &pf);
	CHECK(pa - pf + slack / 20 >= 50000 && pa - pf <= 50000);
	CHECK(inuse != peak);   /* batched: the published peak lags the real one */
	peak_counts(1, &pa, &pf);
	CHECK_U64(pa - pf, 0);
	/* Every count and lifetime exact. */
	CHECK_U64(bucket(0)->alloc_objects, 50000);
	CHECK_U64(bucket(0)->free_objects, 50000);
	CHECK_U64(bucket(1)->alloc_objects, 15000);
	CHECK_U64(bucket(1)->free_objects, 15000);
	mp_prof_reset();
}

int main(void)
{
	test_ln();
	test_edges();
	test_mean();
	test_unbiased();
	test_countdown_law();
	test_vm_ownmem();
	test_small_rates();
	test_stacks();
	test_fingerprint();
	test_live();
	test_tick_clock();
	test_tag();
	test_weight();
	test_peak();
	test_peak_rate();
	test_peak_on_free();
	test_peak_threads();   /* last: from here on every thread batches */
	return tap_done();
}

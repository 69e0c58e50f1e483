/* SPDX-License-Identifier: MIT */
/*
 * What t-sig and t-sigstorm's signal handlers do with the heap: keep a
 * set of blocks, each filled with a pattern of its address and size, and
 * replace a few of them per call by malloc, calloc and realloc, checking
 * every block met (a calloc'ed one is zero) and raising `corrupt` when one
 * is not intact.  The includer defines HKEEP, the blocks per set.
 */
#ifndef MP_TEST_CHURN_H
#define MP_TEST_CHURN_H

#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifndef HKEEP
#error "define HKEEP (blocks per set) before including churn.h"
#endif

struct keep {
	unsigned char *p[HKEEP];
	size_t n[HKEEP];
};

static volatile sig_atomic_t corrupt;

static unsigned char tag(const void *p, size_t n)
{
	return (unsigned char)(((uintptr_t)p >> 4) ^ n ^ 0x5a);
}

/* The first 64 bytes and the last one. */
static void fill(unsigned char *p, size_t n)
{
	size_t k = n < 64 ? n : 64;
	memset(p, tag(p, n), k);
	p[n - 1] = tag(p, n);
}

static int intact(const unsigned char *p, size_t n)
{
	size_t k = n < 64 ? n : 64;
	for (size_t i = 0; i < k; i++)
		if (p[i] != tag(p, n))
			return 0;
	return p[n - 1] == tag(p, n);
}

/* Replace four of kp's blocks, chosen by `seed`, with blocks of sizes from
 * sizes[0..nsizes): free and malloc, realloc, free and calloc, free and
 * malloc. */
static void churn(struct keep *kp, unsigned seed, const size_t *sizes, size_t nsizes)
{
	for (unsigned i = 0; i < 4; i++) {
		unsigned k = (seed * 7 + i * 13) % HKEEP;
		size_t n = sizes[(seed + i) % nsizes];
		if (kp->p[k] && !intact(kp->p[k], kp->n[k]))
			corrupt = 1;
		if (i == 1 && kp->p[k]) {
			unsigned char *q = realloc(kp->p[k], n);
			if (q) {
				kp->p[k] = q;
				kp->n[k] = n;
				fill(q, n);
			}
			continue;
		}
		free(kp->p[k]);
		kp->p[k] = i == 2 ? calloc(1, n) : malloc(n);
		kp->n[k] = n;
		if (kp->p[k]) {
			if (i == 2 && (kp->p[k][0] || kp->p[k][n - 1]))
				corrupt = 1;
			fill(kp->p[k], n);
		}
	}
}

/* Check and free every block of kp (once no handler can run). */
static void keep_release(struct keep *kp)
{
	for (int k = 0; k < HKEEP; k++) {
		if (kp->p[k] && !intact(kp->p[k], kp->n[k]))
			corrupt = 1;
		free(kp->p[k]);
		kp->p[k] = NULL;
	}
}

#endif

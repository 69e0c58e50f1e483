/* SPDX-License-Identifier: MIT */
/*
 * The weight of a sampled block (see sampler.c for the model): a block of
 * s bytes sampled at rate R stands for 1 / (1 - exp(-s/R)) blocks.  Apart
 * from sampler.c so that the shim, which never needs it, does not link libm.
 */
#include <math.h>

#include "sample/sampler.h"

double mp_sampler_weight(uint64_t size, uint64_t rate)
{
	if (rate <= 1 || size == 0)
		return 1.0;
	return 1.0 / -expm1(-(double)size / (double)rate);
}

/* SPDX-License-Identifier: MIT */
/*
 * CLOCK_MONOTONIC in nanoseconds and in milliseconds, for the CLI's
 * deadlines and waits.
 */
#ifndef MP_COMMON_MONO_H
#define MP_COMMON_MONO_H

#include <stdint.h>
#include <time.h>

static inline uint64_t mp_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t mp_mono_ms(void)
{
	return mp_mono_ns() / 1000000u;
}

#endif

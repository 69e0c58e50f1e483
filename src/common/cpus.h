/* SPDX-License-Identifier: MIT */
/*
 * The number of CPUs online, read once per file that asks (CLI only).
 * glibc's sysconf(_SC_NPROCESSORS_ONLN) opens and parses
 * /sys/devices/system/cpu/online on every call, and a run of a process
 * tree asked about ten times per process converted (the gzip parts, the
 * builder's stream, the symbolizer's threads): 2,000 opens for 200 short
 * processes.  A CPU brought online during a run is seen by the next run.
 */
#ifndef MP_COMMON_CPUS_H
#define MP_COMMON_CPUS_H

#include <unistd.h>

/* sysconf's answer (> 0), or -1 when it has none. */
static inline long mp_cpus_online(void)
{
	static long cached;   /* 0: not asked yet */
	long n = __atomic_load_n(&cached, __ATOMIC_RELAXED);

	if (n == 0) {
		n = sysconf(_SC_NPROCESSORS_ONLN);
		if (n <= 0)
			n = -1;
		__atomic_store_n(&cached, n, __ATOMIC_RELAXED);
	}
	return n;
}

#endif

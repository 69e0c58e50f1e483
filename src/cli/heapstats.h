/* SPDX-License-Identifier: MIT */
/* `memprof run --stats`: the allocator statistics of a snapshot in one line;
 * the note on profiles with few samples. */
#ifndef MP_CLI_HEAPSTATS_H
#define MP_CLI_HEAPSTATS_H

#include <stddef.h>

struct mp_snap;

/*
 * Format the statistics of `snap` as one line without a newline, e.g.
 * "HeapAlloc 10.1 MiB, HeapInuse 11.9 MiB, HeapIdle 2.0 MiB, HeapReleased
 * 2.0 MiB, HeapSys 13.8 MiB, Mallocs 3755810, Frees 3753804, RSS 15.8 MiB"
 * into buf (always NUL-terminated).  Returns the number of statistics
 * shown: 0 when the snapshot has none (allocator=system and no RSS).
 */
size_t mp_heapstats_line(const struct mp_snap *snap, char *buf, size_t size);

/*
 * After `memprof run` writes heap profile `out` of snapshot `snap`: when its
 * figures rest on few sampled allocations (fewer than MP_FEW_SAMPLES,
 * report/stats.h), say so on stderr and suggest --rate 1, so that an empty
 * table from `memprof top` does not look like a broken profiler.
 */
void mp_run_few_samples_note(const struct mp_snap *snap, const char *out);

#endif

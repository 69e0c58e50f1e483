/* SPDX-License-Identifier: MIT */
/*
 * What memprof attach collects from the BPF program's events, turned into
 * raw snapshots (common/snapshot-read.h's parsed form) that the converter
 * writes as the same profiles `memprof run` writes.  CLI only; needs no
 * libbpf (unit-tested with synthetic events).
 *
 * - heap: each sampled call's stack (unwound from its copied stack,
 *   runwind.h) and size form a (stack, size) bucket; its pointer is kept
 *   until a free of it.  Blocks allocated before attach are unknown.
 * - descriptors and threads: seeded from /proc/PID/fd and /proc/PID/task
 *   when attaching (no creation stack: "[before attach]"), then updated by
 *   the system calls that create and close them, with their stacks.
 * - mappings: mmap, mremap and brk growth since attach, as a heap-shaped
 *   profile at rate 1 (a region counts in use until all of it is unmapped).
 */
#ifndef MP_BPF_COLLECT_H
#define MP_BPF_COLLECT_H

#include <stdbool.h>
#include <stdint.h>

#include "bpf/attach.h"

struct mp_collect;
struct mp_snap;
struct mp_runwind;

/* For process `pid` sampled at `rate`, stacks cut at `max_depth` frames.
 * Reads /proc/PID now.  0, -ENOMEM, or -errno (-ENOENT: no such process). */
int mp_collect_new(int pid, uint64_t rate, uint32_t max_depth, struct mp_collect **ret);
void mp_collect_free(struct mp_collect *c);   /* accepts NULL */

/* The unwinder it uses (its modules: where to probe). */
struct mp_runwind *mp_collect_unwinder(struct mp_collect *c);

/* One event from the ring buffer, in order. */
void mp_collect_event(struct mp_collect *c, const struct mp_bpf_ev *ev, const uint8_t *stack);

/* The moment of detach, before the probes stop: read from /proc what is
 * alive now (descriptors, threads) and the resident set size.  Not called
 * when the process has exited. */
void mp_collect_stop(struct mp_collect *c);

/*
 * The collection so far as snapshots: *ret_heap (heap buckets, live
 * descriptors and threads alive at mp_collect_stop, threads that ended
 * during the attach; stats from `counters`) and *ret_maps (mappings as
 * heap buckets at rate 1).  `exited`: the process ended during attach.
 * 0 or -ENOMEM.  Free with mp_snap_free.
 */
int mp_collect_finish(struct mp_collect *c, const struct mp_bpf_counters *counters, int exited,
		      struct mp_snap **ret_heap, struct mp_snap **ret_maps);

/* The in-use bytes of each heap record of the mappings snapshot
 * (*ret_maps), in its order: what of each region is still mapped (for
 * mp_converter_set_inuse_bytes).  Valid until mp_collect_free. */
const uint64_t *mp_collect_map_inuse(const struct mp_collect *c);

/* The processes it forked during the attach (pids, in order; not
 * profiled).  Valid until mp_collect_free. */
const int *mp_collect_children(const struct mp_collect *c, size_t *ret_n);

/* One-line summary of what the in-use figures mean, for the profiles'
 * comments (malloc'd); `other_root`: the process sees another file system
 * than memprof (its file names are its own). */
char *mp_collect_note(const struct mp_collect *c, bool other_root);

#endif

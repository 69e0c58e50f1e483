/* SPDX-License-Identifier: MIT */
/*
 * Raw snapshot (src/common/snapshot.h) -> pprof profiles.  CLI only.
 */
#ifndef MP_CONVERT_CONVERT_H
#define MP_CONVERT_CONVERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/profile-kind.h"

struct mp_snap;
struct mp_symbolizer;

/*
 * The profiles of one snapshot (what memprof run writes: heap, fds,
 * threads, timers) come from one converter: the snapshot's files are opened
 * and its addresses symbolized once, then each profile is written or
 * encoded.  The shapes:
 *   - heap: Go's heap profile; sample types alloc_objects/count,
 *     alloc_space/bytes, inuse_objects/count, inuse_space/bytes; period type
 *     space/bytes, period = rate; values unbiased like runtime/pprof's
 *     scaleHeapSample (mp_convert_scale_heap below); a numeric label
 *     "bytes" per sample; with the snapshot's lifetimes (MP_SNAP_LIFETIMES)
 *     a string label "lifetime" too, a record split into one sample per
 *     lifetime class, one for its blocks in use ("in-use") and one for
 *     frees of unknown lifetime, adding up exactly to the unsplit values;
 *     the allocator's statistics in the memprof_stat field;
 *   - peak: the heap's shape, of the records at the peak (MP_SNAP_PEAK),
 *     no lifetime labels, no statistics, time_nanos the peak's time, its
 *     size and time in the comment; -ENODATA for a snapshot without one;
 *   - fds, threads, timers: Go's goroutine profile; sample type
 *     <kind>/count, period 1, one sample per descriptor, thread or timer
 *     with the stack that created it and labels saying what it is (kind,
 *     fd, path or socket addresses, inherited; state, tid, thread name,
 *     start routine; clock and interval).
 * Every profile has one comment line: program, pid, (peak,) rate, samples, heap.
 */
struct mp_converter;
enum {
	/* Open no file named in the snapshot's maps: every location keeps its
	 * address and mapping but gets no function names (for the fuzzer). */
	MP_CONVERT_F_NO_FILES = 1u << 0,
};

/*
 * A converter of the parsed snapshot `snap` (common/snapshot-read.h), which
 * must outlive it.  `flags`: MP_CONVERT_F_*.  `sym`, when not NULL, lends
 * the files it has loaded for the same mappings (e.g. a symbolizer made and
 * warmed while the process ran, mp_symbolizer_new_from); it stays the
 * caller's and must outlive the converter.  0 or a negative errno.
 */
int mp_converter_new(const struct mp_snap *snap, unsigned flags, struct mp_symbolizer *sym,
		     struct mp_converter **ret);
void mp_converter_free(struct mp_converter *c);     /* accepts NULL */

/* Write one profile to `out` as gzip'd pprof, through a temporary name and
 * rename(2) (an existing file is untouched on failure).  0, or a negative
 * errno with a one-line reason in *ret_err (malloc'd, may be NULL) naming
 * the profile ("cannot write heap profile 'x': ..."), which the caller
 * prints after "memprof: ". */
int mp_converter_write(struct mp_converter *c, enum mp_profile_kind kind, const char *out,
		       char **ret_err);
/* The same into a malloc'd buffer (*ret_buf, *ret_len, the caller's;
 * untouched on failure). */
int mp_converter_encode(struct mp_converter *c, enum mp_profile_kind kind, uint8_t **ret_buf,
			size_t *ret_len, char **ret_err);

/*
 * Profiles made ahead: mp_converter_ahead_start begins building and
 * compressing kinds[0..n) in that order on a thread of its own (or two:
 * mp_converter_ahead_help), each file
 * outs[i] written but for its rename (common/file-write.h: the temporary
 * on the disk), while the caller writes another profile of the same
 * converter with mp_converter_write (profiles of one converter may be
 * built at once; nothing else of it may change meanwhile).
 * mp_converter_ahead_write(a, i) waits for kinds[i] and renames its file
 * into place, with mp_converter_write's contract and messages; each at
 * most once.  mp_converter_ahead_free (accepts NULL) stops, waits for the
 * thread and removes the temporaries of the files not written: call it
 * before the converter goes.  outs must live until then.  When no thread
 * can be made, or `thread` is false, each profile is made when it is asked
 * for (or by mp_converter_ahead_help).  Start returns 0 or -ENOMEM.
 */
struct mp_converter_ahead;
int mp_converter_ahead_start(struct mp_converter *c, const enum mp_profile_kind *kinds,
			     const char *const *outs, size_t n, bool thread,
			     struct mp_converter_ahead **ret);
int mp_converter_ahead_write(struct mp_converter_ahead *a, size_t i, char **ret_err);
/* The calling thread makes the profiles of `a` the thread has not begun
 * (it takes them in order, as the thread does), then waits until every
 * one is made: two profiles are built at once, one on each thread. */
void mp_converter_ahead_help(struct mp_converter_ahead *a);
void mp_converter_ahead_free(struct mp_converter_ahead *a);

/* Text every profile it writes adds to its one comment line, after "; "
 * (e.g. what memprof attach's counts cover).  0 or -ENOMEM. */
int mp_converter_add_comment(struct mp_converter *c, const char *text);
/* For a heap profile at rate 1 whose blocks can shrink (memprof attach's
 * mappings, part of a region unmapped): inuse_bytes[i] is the in-use
 * space of the snapshot's heap record i, instead of its in-use objects
 * times its size.  The array must outlive the converter; ignored at other
 * rates. */
void mp_converter_set_inuse_bytes(struct mp_converter *c, const uint64_t *inuse_bytes);
/* Its symbolizer, for the leak report (convert/leaks.h) of the same snapshot. */
struct mp_symbolizer *mp_converter_symbolizer(struct mp_converter *c);

/*
 * The unbiasing of one (objects, bytes) pair sampled at `rate`, exactly as
 * runtime/pprof's scaleHeapSample computes it: with avg = bytes / objects,
 * both are multiplied by 1 / (1 - exp(-avg / rate)) and truncated toward
 * zero; rate <= 1 leaves them as they are; objects == 0 gives (0, 0).  One
 * difference: zero-byte blocks (malloc(0), recorded only at rate 1) keep
 * their object count, where Go reports (0, 0) (its profile never holds
 * zero-sized blocks).  Results beyond INT64_MAX are clamped to it.  The
 * only unbiasing memprof ships: the sampler's law (sample/sampler.c)
 * makes it exact, and tests/unit/test-sample.c checks the two together.
 */
void mp_convert_scale_heap(uint64_t objects, uint64_t bytes, uint64_t rate,
			   int64_t *ret_objects, int64_t *ret_bytes);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * Raw snapshot (src/common/snapshot.h) -> pprof profiles.  CLI only.
 */
#ifndef MP_CONVERT_CONVERT_H
#define MP_CONVERT_CONVERT_H

#include <stddef.h>
#include <stdint.h>

#include "common/profile-kind.h"

/*
 * Read the raw snapshot at `snapshot_path`, symbolize its stacks out of
 * process (ELF/DWARF of the files named in its maps), and write the heap
 * profile as gzip'd pprof to `heap_out` (temp name + rename; an existing file
 * is untouched on failure).  Go heap profile shape: sample types
 * alloc_objects/count, alloc_space/bytes, inuse_objects/count,
 * inuse_space/bytes; period type space/bytes; period = rate; values unbiased
 * like runtime/pprof's scaleHeapSample; numeric label "bytes" per sample.
 *
 * Returns 0, or a negative errno with a one-line reason in *ret_err (malloc'd,
 * caller frees; may be NULL) that the caller prints after "memprof: ".
 */
int mp_convert_heap(const char *snapshot_path, const char *heap_out, char **ret_err);

/* Same from a snapshot already in memory (for tests and the fuzzer). */
int mp_convert_heap_buf(const uint8_t *buf, size_t len, const char *heap_out, char **ret_err);

struct mp_snap;

/* Same from a snapshot already parsed (common/snapshot-read.h); *ret_err
 * names `heap_out` only (the caller names the snapshot). */
int mp_convert_heap_snap(const struct mp_snap *snap, const char *heap_out, char **ret_err);

/*
 * The live file descriptors of a parsed snapshot (MP_SNAP_RESOURCES) as a
 * pprof profile shaped like Go's goroutine profile: sample type fds/count,
 * period 1, one sample per descriptor with the stack that created it and
 * the labels kind (file, socket, pipe, ...), fd, path or detail (what it
 * is when the snapshot was taken: a file's path, a socket's addresses), and
 * inherited=true for descriptors open at start.  Same returns as
 * mp_convert_heap_snap.
 */
int mp_convert_fds_snap(const struct mp_snap *snap, const char *out, char **ret_err);

/* Same for threads (threads/count; labels state = running or "ended, not
 * joined", tid, thread = its name, start = its start routine). */
int mp_convert_threads_snap(const struct mp_snap *snap, const char *out, char **ret_err);

/* Same for POSIX timers not deleted (timers/count; labels state = armed or
 * disarmed, clock with the interval). */
int mp_convert_timers_snap(const struct mp_snap *snap, const char *out, char **ret_err);

/*
 * Several profiles of one snapshot (what memprof run writes: heap, fds,
 * threads, timers) share one converter: the snapshot's files are opened and
 * its addresses symbolized once.  The snapshot must outlive the converter.
 * `flags`: MP_CONVERT_F_*.  0 or a negative errno.
 */
struct mp_converter;
int mp_converter_new(const struct mp_snap *snap, unsigned flags, struct mp_converter **ret);
/* Same, taking the files `sym` (which stays the caller's and must outlive
 * the converter) has loaded for the same mappings, e.g. a symbolizer made
 * and warmed while the process ran (mp_symbolizer_new_from). */
struct mp_symbolizer;
int mp_converter_new_with(const struct mp_snap *snap, unsigned flags, struct mp_symbolizer *sym,
			  struct mp_converter **ret);
void mp_converter_free(struct mp_converter *c);     /* accepts NULL */
/* Write one profile (shapes as above) to `out`, atomically; on failure a
 * one-line reason in *ret_err as mp_convert_heap_snap gives. */
int mp_converter_write(struct mp_converter *c, enum mp_profile_kind kind, const char *out,
		       char **ret_err);
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

enum {
	/* Open no file named in the snapshot's maps: every location keeps its
	 * address and mapping but gets no function names (for the fuzzer). */
	MP_CONVERT_F_NO_FILES = 1u << 0,
};

/*
 * Same, but the gzip'd profile goes to a malloc'd buffer (*ret_buf,
 * *ret_len; caller frees) instead of a file.  `flags`: MP_CONVERT_F_*.
 */
int mp_convert_heap_encode(const uint8_t *buf, size_t len, unsigned flags, uint8_t **ret_buf,
			   size_t *ret_len, char **ret_err);

/*
 * The unbiasing of one (objects, bytes) pair sampled at `rate`, exactly as
 * runtime/pprof's scaleHeapSample computes it: with avg = bytes / objects,
 * both are multiplied by 1 / (1 - exp(-avg / rate)) and truncated toward
 * zero; rate <= 1 leaves them as they are; objects == 0 gives (0, 0).  One
 * difference: zero-byte blocks (malloc(0), recorded only at rate 1) keep
 * their object count, where Go reports (0, 0) (its profile never holds
 * zero-sized blocks).  Results beyond INT64_MAX are clamped to it.
 */
void mp_convert_scale_heap(uint64_t objects, uint64_t bytes, uint64_t rate,
			   int64_t *ret_objects, int64_t *ret_bytes);

#endif

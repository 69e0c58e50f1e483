/* SPDX-License-Identifier: MIT */
/*
 * Raw snapshot (src/common/snapshot.h) -> pprof profiles.  CLI only.
 */
#ifndef MP_CONVERT_CONVERT_H
#define MP_CONVERT_CONVERT_H

#include <stddef.h>
#include <stdint.h>

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

#endif

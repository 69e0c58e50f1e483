/* SPDX-License-Identifier: MIT */
/*
 * The on-disk symbolization cache: per ELF build ID, the frames of every
 * file address symbolized before, so that a program profiled again (a CI
 * job, a benchmark loop) has each address symbolized once.  CLI only.
 *
 * Where: $MEMPROF_CACHE_DIR, else $XDG_CACHE_HOME/memprof, else
 * $HOME/.cache/memprof; MEMPROF_CACHE_DIR=off turns it off.  One file per
 * build ID and kind of answer (with DWARF or symbols only), named
 * "<build-id>.<kind>.symc".  The total size stays below
 * MEMPROF_CACHE_SIZE (bytes, K/M/G suffixes; default 256M): after a write,
 * the least recently used files go first.
 *
 * Safety.  A file is written whole to a temporary name in the directory
 * and renamed over the old one, while holding an exclusive flock on
 * "<dir>/lock" (so two runs merge rather than lose each other's entries);
 * readers take no lock: a rename swaps whole files.  Everything read is
 * untrusted: the size, a checksum over the contents, sorted addresses,
 * frame and string bounds are checked before use, and a file that fails
 * is ignored (and replaced at the next write).  Fuzzed:
 * tests/fuzz/fuzz-symcache.c.
 *
 * File layout (little-endian; offsets in bytes from the start):
 *   header   struct mp_symcache_header
 *   addrs    u64[naddrs], strictly ascending file addresses
 *   recs     struct mp_symcache_rec[naddrs]
 *   frames   struct mp_symcache_frame[nframes]
 *   strings  strbytes bytes of NUL-terminated strings; the last byte is NUL
 * The checksum is FNV-1a 64 over everything after the header.
 */
#ifndef MP_SYMBOLIZE_SYMCACHE_H
#define MP_SYMBOLIZE_SYMCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "symbolize/symbolize.h"

#define MP_SYMCACHE_MAGIC "MPSYMC\0\1"
/*
 * The version changes whenever the answers for the same file would differ,
 * since frames hold display names, not only linker names: a file of another
 * version is ignored and replaced at the next write.  2: Rust names
 * demangled (version 1 kept them mangled, legacy ones with their hash).
 */
#define MP_SYMCACHE_VERSION 2
#define MP_SYMCACHE_NO_STRING UINT32_MAX

struct mp_symcache_header {
	char magic[8];
	uint32_t version;
	uint32_t kind;              /* MP_SYMCACHE_KIND_* */
	char build_id[2 * 64 + 1];  /* lowercase hex, NUL-padded */
	uint8_t pad[7];
	uint32_t naddrs, nframes;
	uint32_t strbytes, reserved;
	uint64_t checksum;
};

struct mp_symcache_rec {
	uint32_t first_frame;
	uint16_t nframes;
	uint8_t source;             /* enum mp_sym_source */
	uint8_t pad;
};

struct mp_symcache_frame {
	uint32_t function, system_name, file;   /* string offsets; file may be NO_STRING */
	uint32_t pad;
	int64_t line, start_line;
};

enum {
	MP_SYMCACHE_KIND_SYMTAB = 1,    /* no DWARF was found for the file */
	MP_SYMCACHE_KIND_DWARF = 2,
};

/* A validated cache file in memory (not owned). */
struct mp_symcache_view {
	const uint64_t *addrs;
	const struct mp_symcache_rec *recs;
	const struct mp_symcache_frame *frames;
	const char *strings;
	uint32_t naddrs, nframes, strbytes;
};

/*
 * Check `len` bytes at `data` (8-byte aligned) as a cache file for
 * `build_id` and `kind`.  Returns 0 and *ret, or -EBADMSG (corrupt,
 * truncated, another version, build ID or kind).  Reads nothing outside
 * [data, data + len).
 */
int mp_symcache_parse(const void *data, size_t len, const char *build_id, uint32_t kind,
		      struct mp_symcache_view *ret);

/* The checksum of a file's contents after the header (for tests and the
 * fuzzer, which fixes it up to reach the checks behind it). */
uint64_t mp_symcache_checksum(const void *p, size_t n);

/* The position of file address `addr` in the view, or -ENOENT. */
int64_t mp_symcache_index(const struct mp_symcache_view *v, uint64_t addr);

/* The number of frames of entry i (< naddrs). */
size_t mp_symcache_nframes(const struct mp_symcache_view *v, size_t i);

/*
 * Entry i's source and frames into frames[] (at least
 * mp_symcache_nframes(v, i) of them; strings point into the view).
 * Returns the number of frames.
 */
size_t mp_symcache_decode(const struct mp_symcache_view *v, size_t i,
			  enum mp_sym_source *ret_source, struct mp_sym_frame *frames);

/* One symbolized address to store. */
struct mp_symcache_entry {
	uint64_t addr;
	enum mp_sym_source source;
	const struct mp_sym_frame *frames;
	size_t nframes;
};

/* An open cache directory (NULL-safe: every call with NULL does nothing). */
struct mp_symcache_dir;

/* The directory the environment names (created if missing), or NULL when
 * turned off or unusable. */
struct mp_symcache_dir *mp_symcache_dir_open(void);
void mp_symcache_dir_free(struct mp_symcache_dir *d);

/* A loaded file (mmap), or NULL when there is none or it is not valid. */
struct mp_symcache_file;
struct mp_symcache_file *mp_symcache_load(struct mp_symcache_dir *d, const char *build_id,
					  uint32_t kind);
const struct mp_symcache_view *mp_symcache_file_view(const struct mp_symcache_file *f);
void mp_symcache_unload(struct mp_symcache_file *f);

/*
 * Add entries e[0..n) (any order; addresses already in the file keep the
 * file's answer) to the file of build_id/kind: merge under the directory
 * lock with what is there now, write a temporary file, rename it, then
 * trim the directory to its size limit.  Returns 0 or a negative errno;
 * failures leave the old file as it was.
 */
int mp_symcache_store(struct mp_symcache_dir *d, const char *build_id, uint32_t kind,
		      const struct mp_symcache_entry *e, size_t n);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * pprof profile.proto: building, writing, reading and validating profiles.
 * CLI only (allocates freely; never linked into the shim).
 *
 * A profile read from disk (or viewed from a builder) is a struct
 * mp_profile: protobuf-c's message, validated once, with its ids resolved,
 * which every report reads (pprof's profile.Profile after Parse).
 */
#ifndef MP_PPROF_PPROF_H
#define MP_PPROF_PPROF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profile.pb-c.h"
#include "pprof/keymap.h"

/*
 * A validated profile.  `msg` holds everything as profile.proto has it and
 * satisfies every rule mp_pprof_validate() checks, so reports check nothing
 * again; the id indexes turn the ids that samples, locations and lines
 * refer by into indexes of msg's arrays (a direct array for the ids 1..n
 * that pprof writers use, a hash table for others), built once by the
 * validator.  Read-only for reports; free with mp_profile_free().
 */
struct mp_profile {
	const Perftools__Profiles__Profile *msg;
	struct mp_idmap mapping_ix;    /* mapping id -> index into msg->mapping */
	struct mp_idmap function_ix;   /* function id -> index into msg->function */
	struct mp_idmap location_ix;   /* location id -> index into msg->location */

	/* private: what owns msg's memory (the reader's arena, a builder view) */
	void (*release)(void *owner);
	void *owner;
};

/* ---- building ---------------------------------------------------------- */

struct mp_pprof_builder;

/* One source line of a location; a location has several when inlined,
 * innermost (the inlined callee) first, as profile.proto requires. */
struct mp_pprof_line {
	const char *function;      /* display name (demangled), never NULL */
	const char *system_name;   /* linker name (mangled); NULL: same as function */
	const char *file;          /* source file or NULL */
	int64_t line;              /* 0 when unknown */
	int64_t start_line;        /* first line of the function, 0 when unknown */
};

struct mp_pprof_label {
	const char *key;
	const char *str;           /* string label, or NULL for a numeric one */
	int64_t num;
	const char *num_unit;      /* may be NULL */
};

/* Abort on out-of-memory: the CLI has nothing better to do. */
struct mp_pprof_builder *mp_pprof_builder_new(void);
void mp_pprof_builder_free(struct mp_pprof_builder *b);   /* accepts NULL */

/* Sample types in order; the last one added is pprof's default unless
 * mp_pprof_set_default_sample_type() names another. */
void mp_pprof_add_sample_type(struct mp_pprof_builder *b, const char *type, const char *unit);
void mp_pprof_set_period(struct mp_pprof_builder *b, const char *type, const char *unit, int64_t period);
void mp_pprof_set_default_sample_type(struct mp_pprof_builder *b, const char *type);
void mp_pprof_set_time(struct mp_pprof_builder *b, int64_t time_nanos, int64_t duration_nanos);
void mp_pprof_add_comment(struct mp_pprof_builder *b, const char *comment);
/* One statistic of the process (memprof_stat, memprof's own field of the
 * profile, which pprof skips): "HeapAlloc", 1234. */
void mp_pprof_add_stat(struct mp_pprof_builder *b, const char *name, int64_t value);

/* Returns the mapping id (1, 2, ...).  build_id may be NULL or "". */
uint64_t mp_pprof_add_mapping(struct mp_pprof_builder *b, uint64_t start, uint64_t limit,
			      uint64_t file_offset, const char *file, const char *build_id,
			      bool has_functions, bool has_filenames, bool has_line_numbers,
			      bool has_inline_frames);

/* Returns the location id.  Locations are deduplicated by (mapping, address):
 * adding the same pair again returns the first id and ignores `lines`.
 * Address 0 (unknown) locations are deduplicated by (mapping, lines) instead.
 * mapping_id 0 means no mapping. */
uint64_t mp_pprof_add_location(struct mp_pprof_builder *b, uint64_t mapping_id, uint64_t address,
			       const struct mp_pprof_line *lines, size_t nlines);

/* values[] has one entry per sample type added so far; location ids leaf first. */
void mp_pprof_add_sample(struct mp_pprof_builder *b, const uint64_t *location_ids, size_t nlocations,
			 const int64_t *values, size_t nvalues,
			 const struct mp_pprof_label *labels, size_t nlabels);

/*
 * Compress the profile while its samples are added, on a thread of its own
 * (when the machine has two CPUs or more; mp_pprof_write_file and
 * mp_pprof_encode then finish it): for a profile built to be written, to
 * be written sooner.  The bytes are the same.
 */
void mp_pprof_builder_stream(struct mp_pprof_builder *b);

/* Serialize, gzip and write to `path` through a temporary name in the same
 * directory and rename(2): the file appears whole or not at all, and an
 * existing file at `path` is untouched on failure.  0 or -errno. */
int mp_pprof_write_file(struct mp_pprof_builder *b, const char *path);

/* Serialized, gzip'd bytes in a malloc'd buffer (for tests).  0 or -errno. */
int mp_pprof_encode(struct mp_pprof_builder *b, uint8_t **ret_buf, size_t *ret_len);

/* The profile built so far as a profile read back, without encoding it
 * (for a profile only read back in memory): it points into the builder, so
 * it is valid until the builder changes or is freed; free it with
 * mp_profile_free().  Aborts on out-of-memory. */
struct mp_profile *mp_pprof_builder_view(struct mp_pprof_builder *b);

/* ---- reading ----------------------------------------------------------- */

/*
 * Parse a profile from memory: gzip'd or plain protobuf.  Validates it the way
 * pprof's Profile.CheckValid does (ids nonzero and unique, every reference
 * resolves, string indexes in range, string_table[0] == "", each sample has
 * one value per sample type) before returning it.
 * 0 and *ret set on success; on failure a negative errno (-EBADMSG for a
 * malformed profile) and, if ret_err is not NULL, a static or
 * ret_err-owned message explaining why, in *ret_err (caller frees with free()).
 */
int mp_pprof_parse(const uint8_t *buf, size_t len, struct mp_profile **ret, char **ret_err);
/* Read and parse a file.  Same contract; errno-style errors for I/O. */
int mp_pprof_read_file(const char *path, struct mp_profile **ret, char **ret_err);

/*
 * The reader refuses files and decompressed data larger than this (a zip
 * bomb guard): -EFBIG.  mp_pprof_parse_limited() takes another limit (tests,
 * fuzzers).  In all reader functions *ret_err, when set, is malloc'd and
 * the caller frees it; it reads well after "cannot read profile 'x': ".
 */
#define MP_PPROF_MAX_DECOMPRESSED ((size_t)1 << 30)
int mp_pprof_parse_limited(const uint8_t *buf, size_t len, size_t max_decompressed,
			   struct mp_profile **ret, char **ret_err);

/*
 * The validity check mp_pprof_parse applies (pprof's CheckValid plus the
 * string index checks of its decoder; validate.c), building the profile's
 * id indexes as it goes.  0 and *ret, a profile over `msg` that does not
 * own it (mp_profile_free() leaves msg alone); or -EBADMSG with the reason
 * in *ret_err (malloc'd; may be NULL), e.g. "sample 2 has 3 values,
 * expected 4 (one per sample type)"; -ENOMEM.  *ret untouched on failure.
 */
int mp_profile_new(const Perftools__Profiles__Profile *msg, struct mp_profile **ret,
		   char **ret_err);
/* The same check alone, for messages built in memory (tests). */
int mp_pprof_validate(const Perftools__Profiles__Profile *msg, char **ret_err);
void mp_profile_free(struct mp_profile *p);     /* accepts NULL */

/* ---- reading a profile (profile.c) ---------------------------------------- */

/* String at index i, or "" when out of range (the profile is validated). */
const char *mp_profile_str(const struct mp_profile *p, int64_t i);

/* The index of the mapping, function or location with `id` in msg's array,
 * or -1 (id 0, or none: only a location's mapping_id may be absent). */
static inline int64_t mp_profile_mapping_index(const struct mp_profile *p, uint64_t id)
{
	return mp_idmap_get(&p->mapping_ix, id);
}
static inline int64_t mp_profile_function_index(const struct mp_profile *p, uint64_t id)
{
	return mp_idmap_get(&p->function_ix, id);
}
static inline int64_t mp_profile_location_index(const struct mp_profile *p, uint64_t id)
{
	return mp_idmap_get(&p->location_ix, id);
}
/* The same as pointers, NULL for -1. */
static inline const Perftools__Profiles__Mapping *mp_profile_mapping(const struct mp_profile *p,
								     uint64_t id)
{
	int64_t i = mp_profile_mapping_index(p, id);

	return i < 0 ? NULL : p->msg->mapping[i];
}
static inline const Perftools__Profiles__Function *mp_profile_function(const struct mp_profile *p,
								       uint64_t id)
{
	int64_t i = mp_profile_function_index(p, id);

	return i < 0 ? NULL : p->msg->function[i];
}
static inline const Perftools__Profiles__Location *mp_profile_location(const struct mp_profile *p,
								       uint64_t id)
{
	int64_t i = mp_profile_location_index(p, id);

	return i < 0 ? NULL : p->msg->location[i];
}

/* Index of the sample type named exactly `type`, or -1. */
int mp_profile_type_index(const struct mp_profile *p, const char *type);

/*
 * The sample type a report shows, chosen as pprof's -sample_index chooses
 * it (Profile.SampleIndexByName), for every command that takes
 * --sample-index: NULL or "" is the default (the type default_sample_type
 * names, else the last one); a decimal number is an index; a name is a
 * type, and "inuse_X" also finds type "X" (Go's profiles name a space type
 * "space" where ours say "inuse_space").  The index, or -EINVAL with the
 * reason in *ret_err ("unknown sample index 'x': the profile has a b",
 * "sample index '5' is outside the range [0..3]"), or -ENODATA ("profile
 * has no sample types").  ret_err may be NULL; *ret_err is malloc'd.
 */
int mp_profile_sample_index(const struct mp_profile *p, const char *want, char **ret_err);

/* The value of statistic `name` (memprof_stat, the field of memprof's own
 * that `memprof stats` prints): 0 and *ret, or -ENOENT (*ret untouched). */
int mp_profile_stat(const struct mp_profile *p, const char *name, int64_t *ret);

/* ---- names of frames without a symbol (framename.c) ---------------------- */

/* The longest name these functions write, NUL included, for paths of up
 * to PATH_MAX; longer object names are cut. */
#define MP_FRAME_NAME_MAX 320

/*
 * "<base name of object>+0x<offset in the file>" for `address` in a mapping
 * of `object` that starts at `start` and maps the file from `file_offset`
 * ("libstdc++.so.6.0.30+0x9a7b9", as perf names such frames): the same in
 * every run, where the address changes with ASLR.  "0x<address>" when the
 * object has no name (anonymous code) or the address is below `start`.
 * Always NUL-terminated (cut to `size`).
 */
void mp_frame_offset_name(const char *object, uint64_t address, uint64_t start,
			  uint64_t file_offset, char *buf, size_t size);

/* The name of location `l` of `p` where it has no line (no symbol): its
 * mapping's object and file offset as above, else its address. */
void mp_profile_location_name(const struct mp_profile *p, const Perftools__Profiles__Location *l,
			      char *buf, size_t size);

/*
 * Whether a frame belongs to the runtime rather than to the program: the
 * allocator, libc, the dynamic loader, the C and C++ runtimes (by the
 * object's file name), code inlined from system headers (/usr/include/...),
 * and allocation wrappers by name (malloc, strdup, operator new, std::...).
 * Reports skip them to name the program's own frame: generated
 * suppressions, the timeline's stack labels.  Any argument may be NULL.
 */
bool mp_frame_is_runtime(const char *function, const char *file, const char *object);

#endif

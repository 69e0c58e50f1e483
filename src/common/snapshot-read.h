/* SPDX-License-Identifier: MIT */
/*
 * Reading a raw snapshot (common/snapshot.h) into memory.  CLI only: it
 * allocates with malloc.  The file is untrusted; the parser checks every
 * field it relies on and refuses the file with -EBADMSG and a one-line
 * reason otherwise.
 */
#ifndef MP_COMMON_SNAPSHOT_READ_H
#define MP_COMMON_SNAPSHOT_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/shm.h"
#include "common/snapshot.h"

/* One stack of the stack table: pcs[0] is the innermost frame. */
struct mp_snap_stack {
	uint32_t depth;
	const uint64_t *pcs;       /* depth return addresses, into mp_snap.pcs */
};

/* One MP_SNAP_STATS entry, name NUL-terminated. */
struct mp_snap_stat {
	char name[sizeof(((struct mp_snap_kv *)0)->name) + 1];
	uint64_t value;
};

/* One MP_SNAP_UNLOADED record: a library unloaded before the snapshot. */
struct mp_snap_unloaded {
	uint32_t last_stack;
	char *text;                /* its maps lines, NUL-terminated, no other NUL */
	size_t text_len;
	uint8_t build_id[32];
	uint32_t build_id_len;     /* <= 32 */
	int layer;                 /* where mp_snap.maps holds its lines: 0 as they
				    * are, k > 0 moved up by k * 2^57 (snapshot-unloaded.c),
				    * -1 nowhere */
};

/*
 * A parsed snapshot.  Everything is a private copy (the input buffer may be
 * freed after parsing), and every invariant below has been checked:
 *   - header: magic, version, endian tag, header_size; rate, start_ns and
 *     end_ns fit in int64_t; max_depth <= MP_SNAP_MAX_DEPTH
 *   - maps and exe are NUL-terminated and contain no other NUL byte
 *   - stacks[i] has id i + 1 and depth <= max_depth
 *   - each heap record's stack_id is in 1..nstacks, free_objects <=
 *     alloc_objects, and size * alloc_objects fits in int64_t
 *   - stat names are printable ASCII, non-empty
 *   - peak and lifetime sections have one record per heap record; every
 *     peak record resolves to counts with free <= alloc that fit
 *   - each leak record's stack_id is 0 or in 1..nstacks, its category is
 *     an enum mp_snap_leak_category, count is nonzero, count and bytes fit
 *     in int64_t
 */
struct mp_snap {
	struct mp_snap_header header;
	char *maps;                /* text of /proc/<pid>/maps (a required section) */
	size_t maps_len;
	char *exe;                 /* executable path; "" when absent */
	size_t exe_len;
	struct mp_snap_stack *stacks;   /* stacks[id - 1] */
	uint32_t nstacks;
	uint64_t *pcs;             /* all stacks' frames, back to back */
	struct mp_snap_heap_rec *heap;
	size_t nheap;
	struct mp_snap_stat *stats;
	size_t nstats;
	bool has_stats;            /* the file had an MP_SNAP_STATS section */
	struct mp_snap_leak_rec *leaks; /* the leak scan's result (leak=1) */
	size_t nleaks;
	bool has_leaks;            /* the file had an MP_SNAP_LEAKS section */
	struct mp_snap_res_rec *res; /* live resources; detail NUL-terminated */
	size_t nres;
	bool has_res;              /* the file had an MP_SNAP_RESOURCES section */
	struct mp_snap_unloaded *unloaded; /* libraries unloaded before it, in order */
	size_t nunloaded;
	char name[MP_SNAP_NAME_MAX + 1]; /* MP_SNAP_NAME (memprof_snapshot(3)); "" when none */
	bool has_death;            /* built by the CLI after the process died
				    * (MP_SNAP_DEATH, common/shm.h) */
	struct mp_snap_death death; /* signal < 65 */
	/* The peak (MP_SNAP_PEAK), resolved: peak_heap[i] is heap record i as
	 * it was when the sampled heap in use was highest (same stack and
	 * size, the counts of that moment), with heap's invariants.  NULL when
	 * the snapshot has no peak section. */
	bool has_peak;
	struct mp_snap_peak peak;  /* its header: inuse and time_ns of the peak */
	struct mp_snap_heap_rec *peak_heap;
	/* Lifetimes (MP_SNAP_LIFETIMES), one per heap record, each sum trimmed
	 * to at most the record's free_objects; NULL when absent. */
	struct mp_snap_life_rec *life;
};

/*
 * With MP_SNAP_UNLOADED records, a parsed snapshot is also resolved: `maps`
 * is the maps text of the section followed by the unloaded libraries' lines,
 * and stack addresses into a library whose range other code took later are
 * moved with its lines (snapshot-unloaded.c), so that a symbolizer made from
 * `maps` names every frame with the code that was there when the stack was
 * taken.
 */

/*
 * Parse `len` bytes at `buf` (any alignment).  Returns 0 and sets *ret (free
 * with mp_snap_free), or -EBADMSG for a malformed snapshot, -ENOMEM.  On
 * failure *ret is untouched and, when ret_err is not NULL, *ret_err gets a
 * malloc'd one-line reason (e.g. "stack 3 has depth 300, more than
 * max_depth 64") that reads well after "malformed snapshot 'x': ".
 */
int mp_snap_parse(const uint8_t *buf, size_t len, struct mp_snap **ret, char **ret_err);

/*
 * Read the file at `path` and parse it.  Same contract; I/O errors return
 * -errno with *ret_err set to NULL (the caller names the file and the errno);
 * a path that names no regular file is -EISDIR for a directory, -EINVAL for
 * anything else (a device such as /dev/null, a FIFO, a socket).
 * Files larger than MP_SNAP_MAX_FILE are refused with -EFBIG.
 */
#define MP_SNAP_MAX_FILE ((size_t)4 << 30)
int mp_snap_read_file(const char *path, struct mp_snap **ret, char **ret_err);

void mp_snap_free(struct mp_snap *s);   /* accepts NULL */

/* The stack with id `id`, or NULL when out of range. */
const struct mp_snap_stack *mp_snap_stack(const struct mp_snap *s, uint32_t id);

/* For the parser: fold the unloaded records into maps and stacks (above).
 * 0 or -ENOMEM. */
int mp_snap_fold_unloaded(struct mp_snap *s);

#endif

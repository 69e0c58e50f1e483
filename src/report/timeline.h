/* SPDX-License-Identifier: MIT */
/*
 * `memprof timeline`: heap in use, RSS and live resources over a series of
 * snapshots, with the stacks whose in-use bytes grew most, drawn as a
 * self-contained SVG or HTML page (no script or style from the network).
 * Also the names of numbered snapshot profiles, shared with `memprof run`.
 * CLI only.
 */
#ifndef MP_REPORT_TIMELINE_H
#define MP_REPORT_TIMELINE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/profile-kind.h"
#include "pprof/pprof.h"

/* ---- names ------------------------------------------------------------------ */

/*
 * The name of numbered snapshot `seq` (>= 1) of the profile named `final`:
 * ".s<seq>" (at least 4 digits) inserted before the profile kind's suffix
 * (".heap.pb.gz", ".fds.pb.gz", ...: common/profile-kind.h) or ".pb.gz",
 * else appended:
 *   app.heap.pb.gz  -> app.s0001.heap.pb.gz
 *   x.pb.gz         -> x.s0012.pb.gz
 *   out             -> out.s0001
 * malloc'd; NULL on OOM.
 */
char *mp_snapname_numbered(const char *final, uint32_t seq);

/*
 * Split a profile file name (no directory) into its series, snapshot number
 * and kind: "app.s0003.heap.pb.gz" -> series "app", seq 3, MP_PROFILE_HEAP;
 * "app.heap.pb.gz" -> "app", 0 (final), MP_PROFILE_HEAP; "x.s0003.pb.gz" ->
 * "x", 3, MP_PROFILE_NONE.  Names that end in none of the suffixes above are
 * MP_PROFILE_NONE with the whole name as series.
 * 0, or -ENOMEM.  *ret_series is malloc'd.
 */
int mp_snapname_parse(const char *name, char **ret_series, uint32_t *ret_seq,
		      enum mp_profile_kind *ret_kind);

/* The sibling of heap profile path `heap` for `kind` ("x.s0001.heap.pb.gz" ->
 * "x.s0001.fds.pb.gz"; "x.s0001.pb.gz", as `memprof run -o x.pb.gz` names
 * them, -> "x.s0001.fds.pb.gz"); NULL when `heap` ends in neither
 * ".heap.pb.gz" nor a ".pb.gz" of no other kind, for MP_PROFILE_NONE, or on
 * OOM. */
char *mp_snapname_sibling(const char *heap, enum mp_profile_kind kind);

/* ---- the chart --------------------------------------------------------------- */

#define MP_TIMELINE_UNKNOWN INT64_MIN

struct mp_timeline_point {
	char *label;          /* file name, for tooltips */
	int64_t time_ns;      /* when the snapshot was taken (time_nanos) */
	int64_t heap;         /* bytes: HeapAlloc stat, else the inuse_space total */
	int heap_from_stat;   /* heap came from the HeapAlloc comment */
	int64_t rss;          /* bytes (RSS comment) or MP_TIMELINE_UNKNOWN */
	int64_t fds, threads, timers;   /* live counts or MP_TIMELINE_UNKNOWN */
};

struct mp_timeline_stack {
	char *name;           /* its first frame in the program, with file:line:
			       * "load_config (config.c:42)"; the allocator's,
			       * libc's and the C++ runtime's frames skipped */
	char *full;           /* every frame, one per line, leaf first */
	int64_t *inuse;       /* in-use bytes per point (0 when absent) */
	int64_t growth;       /* at point `peak` minus at the first point */
	char *where;          /* (while adding) the name, from its first sample */
};

struct mp_timeline {
	struct mp_timeline_point *points;
	size_t npoints;
	struct mp_timeline_stack *stacks;   /* after finish: the top growing ones */
	size_t nstacks;
	size_t peak;                        /* after finish: the point with the
					     * largest heap, which growth is
					     * measured to (not the last: an
					     * at-exit profile comes after the
					     * program freed its caches) */
	void *priv;                         /* stack index while adding */
	/* The highest sampled heap in use of the peak profiles added
	 * (mp_timeline_add_peak), and when: MP_TIMELINE_UNKNOWN without one. */
	int64_t heap_peak, heap_peak_ns;
};

void mp_timeline_init(struct mp_timeline *t);
void mp_timeline_done(struct mp_timeline *t);   /* accepts a zeroed struct */

/*
 * Add the next point (call in time order): `heap` must be a validated heap
 * profile with an inuse_space sample type; fds, threads and timers may be
 * NULL.  0, -EINVAL (no inuse_space; *ret_err says so) or -ENOMEM.
 */
int mp_timeline_add(struct mp_timeline *t, const char *label, const struct mp_profile *heap,
		    const struct mp_profile *fds, const struct mp_profile *threads, const struct mp_profile *timers,
		    char **ret_err);

/* A peak profile (X.peak.pb.gz: inuse_space at the peak, time_nanos its
 * time) of one of the points: the chart marks the highest.  0 or -EINVAL
 * (no inuse_space). */
int mp_timeline_add_peak(struct mp_timeline *t, const struct mp_profile *peak);

/* Keep the `top` stacks that grew most (growth > 0) from the first point to
 * the one with the largest heap, largest first.  0 or -ENOMEM. */
int mp_timeline_finish(struct mp_timeline *t, size_t top);

/* Draw it.  `title` is printed at the top.  0 or -EIO. */
int mp_timeline_write_svg(const struct mp_timeline *t, const char *title, FILE *f);
int mp_timeline_write_html(const struct mp_timeline *t, const char *title, FILE *f);

/* "1.50 MiB", "512 B": binary units, for axes and tables. */
void mp_timeline_format_bytes(int64_t v, char *buf, size_t size);

#endif

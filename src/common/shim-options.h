/* SPDX-License-Identifier: MIT */
/*
 * The shim's options, MEMPROF_OPTIONS ("rate=524288,interval=5s"): one
 * table (name, type, default, bounds, help) and one parser, which the shim
 * reads its settings with, and the CLI writes them with (memprof run) and
 * reads them back from a running process (memprof snapshot).  The shim
 * never reads argv.
 *
 * Syntax: items separated by ',', each "name=value"; a name given twice
 * takes its last value (so a front end appends its settings to the
 * user's).  Values: decimal numbers (no sign, no junk, no overflow) within
 * the option's bounds; durations as <digits><unit> terms (ns us ms s m h:
 * "1m30s") or a bare number of seconds; paths (non-empty, < PATH_MAX);
 * allocator=memprof|system.  A bad item (unknown name, missing or bad
 * value, or options joined the sanitizers' way with ':') is reported and
 * leaves its field as it was.
 *
 * Runs in the target: no allocation, no stdio, no locale, reentrant (the
 * first malloc may parse before anything is set up); and in the CLI.
 */
#ifndef MP_COMMON_SHIM_OPTIONS_H
#define MP_COMMON_SHIM_OPTIONS_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "common/snapshot.h"

#define MP_OPTIONS_ENV "MEMPROF_OPTIONS"

/* The most frames a stack keeps: depth='s bound, the stack table's, and
 * that of a snapshot's stacks. */
#define MP_MAX_DEPTH ((int)MP_SNAP_MAX_DEPTH)

/* allocator=memprof (own allocator, the default) or allocator=system */
enum { MP_ALLOCATOR_MEMPROF = 0, MP_ALLOCATOR_SYSTEM = 1 };

struct mp_options {
	uint64_t rate;             /* rate=: bytes between samples on average */
	uint32_t depth;            /* depth=: frames kept per stack, 1..MP_MAX_DEPTH */
	int verbose;               /* verbose=: print the effective options */
	char snapdir[PATH_MAX];    /* snapdir=: where snapshots go ("" = cwd at start) */
	uint64_t interval_ns;      /* interval=: numbered snapshot period (0 = none) */
	uint32_t snapshot_signal;  /* snapshot_signal=: on-demand signal (0 = none) */
	int leak;                  /* leak=: run the leak scan at exit */
	int live;                  /* live=: answer live snapshot requests (trigger.h) */
	int allocator;             /* allocator=: MP_ALLOCATOR_* */
	uint32_t unwind;           /* unwind=: the walker, MP_UNWIND_* (sample/unwind.h) */
	int shm;                   /* shm=: share the tables with memprof run (common/shm.h) */
};

enum mp_option_type {
	MP_OPT_U64,                /* uint64_t, decimal */
	MP_OPT_U32,                /* uint32_t, decimal */
	MP_OPT_BOOL,               /* int, 0 or 1 */
	MP_OPT_PATH,               /* char[PATH_MAX] */
	MP_OPT_DURATION,           /* uint64_t nanoseconds */
	MP_OPT_ALLOCATOR,          /* int, MP_ALLOCATOR_*: memprof or system */
};

struct mp_option_desc {
	const char *name;
	enum mp_option_type type;
	size_t offset;             /* in struct mp_options */
	uint64_t def, min, max;    /* numbers and durations (ns) */
	const char *help;          /* one line */
};

/* The table, in the order verbose=1 prints it. */
extern const struct mp_option_desc mp_options_table[];
extern const size_t mp_options_count;

/* The entry named name[0..n), or NULL. */
const struct mp_option_desc *mp_options_find(const char *name, size_t n);

/* Every field at its default (snapdir empty: the working directory). */
void mp_options_default(struct mp_options *o);

/*
 * Called for each bad item: `what` says why ("unknown option",
 * "missing value", "bad value", "colon": options joined with ':'), and
 * item[0..n) is the item as written (not NUL-terminated).
 */
typedef void (*mp_options_warn_fn)(void *ctx, const char *what, const char *item, size_t n);

/*
 * Apply the items of `s` (a MEMPROF_OPTIONS value; NULL: none) to *o, in
 * order.  Each bad item is reported through warn (NULL: silently) and
 * changes nothing.  Returns the number of bad items.
 */
int mp_options_parse(struct mp_options *o, const char *s, mp_options_warn_fn warn, void *ctx);

/*
 * Whether s[0..n) holds ":<name>=" for an option's name: options joined
 * the sanitizers' way ("rate=1:verbose=1"), which the parser refuses.
 * *ret_at (may be NULL): the offset of the first such ':'.
 */
int mp_options_colon_at(const char *s, size_t n, size_t *ret_at);

/*
 * The value of option `d` in *o as text, as the parser reads it back: a
 * number, a path, "memprof" or "system"; durations in nanoseconds with
 * "ns" when `units`, bare otherwise (verbose=1 prints them so).  Points
 * into *o, at a constant, or at buf (at least 24 bytes).
 */
const char *mp_options_value(const struct mp_options *o, const struct mp_option_desc *d,
			     int units, char *buf);

/*
 * "name=value,name=value" for the options named in `names` (a list
 * separated by ',': "rate,depth,snapdir"), in that order, with durations
 * in nanoseconds ("interval=5000000000ns"), into buf (NUL-terminated when
 * cap > 0, cut to cap - 1 bytes).  Returns the length of the whole text
 * (snprintf's way), or -1 for a name not in the table.
 */
long mp_options_format(char *buf, size_t cap, const struct mp_options *o, const char *names);

#endif

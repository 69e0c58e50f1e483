/* SPDX-License-Identifier: MIT */
/*
 * The leak report of `memprof run --leak-check`: what a snapshot's leak scan
 * found (common/snapshot.h MP_SNAP_LEAKS), symbolized, grouped by stack and
 * class, largest first; suppressions in LeakSanitizer's format; the text
 * report (Valgrind-like), the JSON report, and which classes fail a run.
 * CLI only.
 */
#ifndef MP_CONVERT_LEAKS_H
#define MP_CONVERT_LEAKS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/profile-kind.h"

struct mp_snap;

struct mp_leak_frame {
	char *function;            /* never NULL ("??" when unknown) */
	char *file;                /* NULL when unknown */
	int64_t line;              /* 0 when unknown */
	char *object;              /* file name of the mapping, NULL when unknown */
};

/* One descriptor, thread or timer of a resource leak, as the snapshot
 * describes it (common/snapshot.h struct mp_snap_res_rec). */
struct mp_leak_res {
	int64_t id;                /* fd number, thread id, timer id */
	uint32_t kind;             /* enum mp_snap_fd_kind, _thread_kind, _timer_kind */
	char *detail;              /* never NULL */
};

struct mp_leak {
	enum mp_profile_kind kind;       /* never MP_PROFILE_NONE */
	int category;              /* heap: enum mp_snap_leak_category */
	uint64_t bytes, count;
	struct mp_leak_frame *frames;   /* innermost first */
	size_t nframes;
	const char *suppressed_by; /* the matching suppression line, or NULL */
	struct mp_leak_res *res;   /* fd, thread, timer: each one (count of them) */
	size_t nres;
};

struct mp_leak_report {
	uint64_t pid;
	char *program;             /* file name of the executable; never NULL */
	struct mp_leak *leaks;
	size_t nleaks;
};

/* Fail-on classes (--fail-on). */
enum {
	MP_FAIL_DEFINITE = 1u << 0,
	MP_FAIL_INDIRECT = 1u << 1,
	MP_FAIL_REACHABLE = 1u << 2,
	MP_FAIL_FDS = 1u << 3,
	MP_FAIL_THREADS = 1u << 4,
	MP_FAIL_TIMERS = 1u << 5,
	MP_FAIL_POSSIBLE = 1u << 6,
	/* all but reachable, as Valgrind's --errors-for-leak-kinds=definite,possible
	 * (with indirect, and the resources) */
	MP_FAIL_DEFAULT = MP_FAIL_DEFINITE | MP_FAIL_INDIRECT | MP_FAIL_POSSIBLE | MP_FAIL_FDS |
			  MP_FAIL_THREADS | MP_FAIL_TIMERS,
};

/* "definite,indirect,possible,fds": 0 and *ret, or -EINVAL with *ret
 * untouched. */
int mp_leaks_parse_fail_on(const char *s, unsigned *ret);

/*
 * Build the report of `snap` (which must have a leaks section): blocks of
 * one stack and class merged, symbolized with the snapshot's maps, sorted
 * by bytes, largest first.  Blocks whose allocation was not recorded
 * (stack 0: the shim's own bootstrap) are left out.  sym_flags: MP_SYM_F_*
 * (symbolize/symbolize.h; MP_SYM_F_NO_FILES for untrusted input).  0, or
 * -ENOMEM.
 */
int mp_leaks_build(const struct mp_snap *snap, unsigned sym_flags, struct mp_leak_report **ret);
/* Same with a symbolizer of the same snapshot's maps already made (e.g.
 * mp_converter_symbolizer), which stays the caller's; NULL: as above. */
struct mp_symbolizer;
int mp_leaks_build_with(const struct mp_snap *snap, unsigned sym_flags,
			struct mp_symbolizer *shared, struct mp_leak_report **ret);
void mp_leaks_free(struct mp_leak_report *r);   /* accepts NULL */

/* Suppressions: lines "leak:PATTERN" (heap), "fd:", "thread:", "timer:";
 * '#' comments and blank lines ignored.  PATTERN is matched, as
 * LeakSanitizer does, against every frame's function, source file and
 * object name: '*' matches any run of characters, '^' and '$' anchor,
 * otherwise it may match anywhere.  memprof's extension: several frame
 * patterns separated by ';' (innermost first) must match consecutive
 * frames, "leak:^parse_config$;^main$".  0 and *ret, or -EINVAL with a
 * one-line reason in *ret_err (malloc'd), or -ENOMEM. */
struct mp_supp;
int mp_supp_parse(const char *text, size_t len, struct mp_supp **ret, char **ret_err);
void mp_supp_free(struct mp_supp *s);
/* Mark the leaks the suppressions name. */
void mp_supp_apply(const struct mp_supp *s, struct mp_leak_report *r);
/* The template match itself (for tests). */
bool mp_supp_match(const char *pattern, const char *text);

/* Whether the report has an unsuppressed leak of a class in `fail_on`. */
bool mp_leaks_failing(const struct mp_leak_report *r, unsigned fail_on);
/* The MP_FAIL_* bit of a group's class. */
unsigned mp_leak_fail_bit(const struct mp_leak *l);
/* Its class as --fail-on would name it, singular: "definite", "indirect",
 * "possible", "reachable", "fd", "thread", "timer" (static). */
const char *mp_leak_class(const struct mp_leak *l);

/* What a group is, in one line without its newline, as the text report
 * heads it: "100 bytes in 1 block definitely lost", "2 file descriptors
 * still open: 3 (/etc/hostname), 4 (pipe, read end)". */
void mp_leak_describe(FILE *f, const struct mp_leak *l);
/* One frame as the text report shows it: "lose_one (src/t.c:12)",
 * "xmlStrdup (in libxml2.so.2)", "libfoo.so+0x1139". */
void mp_leak_frame_describe(FILE *f, const struct mp_leak_frame *fr);
/* The stack, a line per frame, innermost first: prefix "at " the first,
 * prefix "by " the others (Valgrind's form). */
void mp_leak_print_stack(FILE *f, const struct mp_leak *l, const char *prefix);
/* Index of the first frame that is neither the allocator's, libc's nor
 * the C++ runtime's (pprof.h mp_frame_is_runtime): where the program's
 * own code starts.  l->nframes when every frame is such a wrapper. */
size_t mp_leak_first_own(const struct mp_leak *l);
/* One descriptor, thread or timer as a JSON object (see mp_leaks_json). */
void mp_leak_res_json(FILE *f, enum mp_profile_kind kind, const struct mp_leak_res *x);

/* Size of arrays indexed by enum mp_snap_leak_category (common/snapshot.h). */
#define MP_LEAK_CATEGORIES 5

/* The sums of one report, or of several added up: heap bytes and blocks
 * per class (indexed by enum mp_snap_leak_category, 1..4), descriptors,
 * threads and timers left, and what suppressions took: groups of every
 * kind, heap bytes and blocks.  The text, the JSON, SARIF and JUnit
 * summaries all come from it. */
struct mp_leak_totals {
	uint64_t bytes[MP_LEAK_CATEGORIES], blocks[MP_LEAK_CATEGORIES];
	uint64_t fds, threads, timers;
	uint64_t suppressed_groups, suppressed_bytes, suppressed_blocks;
};
/* Add the leaks of r to *t (zeroed by the caller before the first). */
void mp_leak_totals_add(struct mp_leak_totals *t, const struct mp_leak_report *r);

/* Valgrind-like text on f; full: with stacks of lost and possibly lost
 * blocks (Valgrind's --show-leak-kinds=definite,possible, plus indirect) and every
 * descriptor, thread and timer left (fd 3: /etc/hostname; thread 4242
 * 'worker' running; a timer's clock and interval). */
void mp_leaks_print(FILE *f, const struct mp_leak_report *r, bool full);
/* One ready suppression per unsuppressed lost block group (duplicates
 * once), each singling its leak out: the first frames that are neither the
 * allocator's, libc's nor the C++ runtime's (wrappers like strdup or
 * std::allocator would silence every leak through them), up to three, as
 * a ';'-separated stack pattern. */
void mp_leaks_print_suppressions(FILE *f, const struct mp_leak_report *r);
/* That suppression line for one leak (no newline); malloc'd, NULL on OOM. */
char *mp_leak_suppression(const struct mp_leak *l);
/* The JSON document (leaks of every report, one summary). */
int mp_leaks_json(FILE *f, struct mp_leak_report *const *reports, size_t n);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * The kinds of profile a snapshot turns into, and their names: the one list
 * the converter, the leak reports, the file names of `memprof run` and
 * `memprof timeline`, and every front end share.  Data only: usable in the
 * target and in the CLI.
 */
#ifndef MP_COMMON_PROFILE_KIND_H
#define MP_COMMON_PROFILE_KIND_H

#include <stdint.h>

enum mp_profile_kind {
	MP_PROFILE_NONE = -1,     /* none of them (a name without a kind's suffix) */
	MP_PROFILE_HEAP,          /* sampled heap (MP_SNAP_HEAP, MP_SNAP_LEAKS) */
	MP_PROFILE_FDS,           /* file descriptors (MP_SNAP_RESOURCES, MP_RES_FD) */
	MP_PROFILE_THREADS,       /* threads (MP_RES_THREAD) */
	MP_PROFILE_TIMERS,        /* POSIX timers (MP_RES_TIMER) */
	MP_PROFILE_PEAK,          /* the sampled heap at its peak (MP_SNAP_PEAK): heap-shaped */
};
#define MP_PROFILE_KINDS 5        /* the kinds, MP_PROFILE_NONE not counted */

struct mp_profile_kind_info {
	/* "heap", "fds", "threads", "timers": the part of a profile's file
	 * name before ".pb.gz" (app.fds.pb.gz), a resource profile's sample
	 * type, the item of --fail-on. */
	const char *name;
	/* "heap", "fd", "thread", "timer": one leaked thing of the kind (the
	 * leak reports' "kind"). */
	const char *item;
	/* "heap", "descriptor", "thread", "timer": in messages. */
	const char *noun;
	/* ".heap.pb.gz", ".fds.pb.gz", ...: name, then ".pb.gz". */
	const char *suffix;
	/* enum mp_snap_res_class of its records; 0 for the heap. */
	uint32_t res_class;
};

/* Indexed by enum mp_profile_kind, MP_PROFILE_NONE excepted. */
extern const struct mp_profile_kind_info mp_profile_kinds[MP_PROFILE_KINDS];

/* The kind whose suffix `name` ends in, after at least one character
 * ("x.fds.pb.gz"); MP_PROFILE_NONE for any other name ("x.pb.gz", "x",
 * ".fds.pb.gz"). */
enum mp_profile_kind mp_profile_kind_of_name(const char *name);

/* The kind of a resource record's res_class; MP_PROFILE_NONE for a value
 * that is no resource class. */
enum mp_profile_kind mp_profile_kind_of_res_class(uint32_t res_class);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * Snapshot collection for `memprof run`: the private directory the shim
 * writes snapshots to (one per process, numbered ones while it runs) turned
 * into profiles named after -o (cli/outnames.h), each process's line of
 * files written, its --stats line and its leak report.  CLI only; every
 * function prints its own one-line messages.
 */
#ifndef MP_CLI_COLLECT_H
#define MP_CLI_COLLECT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "cli/snapshots.h"

struct mp_leakcheck;

/*
 * Numbered snapshots are converted while the program runs, at most every
 * MP_COLLECT_POLL_MS, so their profiles can be looked at during a long run
 * (and a program killed with SIGKILL keeps all it wrote).
 */
#define MP_COLLECT_POLL_MS 250

/* Initialize with designated initializers: the settings, the rest zero. */
/* More processes than this besides the program: one line for them all
 * (mp_collect_final). */
#define MP_COLLECT_TREE_LINES 3

struct mp_collect {
	const char *snapdir;        /* the shim's snapdir= */
	const char *output;         /* -o: the target's heap profile; NULL: default names */
	pid_t target;               /* the program's pid, once it runs */
	bool quiet;                 /* -q: no line naming the files written */
	bool stats;                 /* --stats: a line of allocator statistics each */
	struct mp_leakcheck *leaks; /* --leak-check, or NULL */
	/* Processes not waited for, still running in sessions of their own
	 * (supervise.h, mp_child.detached), or NULL; mp_collect_final names
	 * them and may reorder them. */
	pid_t *unwaited;
	size_t n_unwaited;
	bool snapshot_hint;         /* they can be asked for snapshots (snapshot_signal) */

	struct timespec last;       /* CLOCK_MONOTONIC of the last numbered scan */
	size_t kept;                /* snapshots that failed to convert and were kept */
	int failures;               /* conversions that failed */
};

/*
 * One snapshot: read once, symbolized once (with the symbols gathered while
 * the program ran, cli/early-sym.h) for the heap profile `out`, the
 * descriptor, thread and timer profiles beside it and the leak report.  0,
 * or < 0 when it failed (the reason printed, naming the snapshot as kept:
 * the caller keeps it).
 */
int mp_collect_one(const struct mp_collect *c, const char *snap, const char *out);

/* The hooks for cli/final-snap.h that begin converting the target's final
 * snapshot (c->target's, named after c->output) as soon as it is read. */
struct mp_final_snap_hooks;
void mp_collect_final_snap_hooks(struct mp_collect *c, struct mp_final_snap_hooks *ret);

/* Convert the finished numbered snapshots now (mp_snapshots_collect). */
void mp_collect_numbered(struct mp_collect *c);

/* The same at most every MP_COLLECT_POLL_MS: a mp_supervise_hooks tick. */
void mp_collect_tick(void *c);

/*
 * Once no process we wait for can write any more: convert every final
 * snapshot (the target's first, then the others by pid), then remove the
 * directory.  A snapshot that fails to convert is kept (and named) so
 * `memprof convert` can be tried on it; then the directory stays.  Then a
 * line for each process of c->unwaited that left no snapshot (one for them
 * all beyond MP_COLLECT_TREE_LINES): not waited for, no profile of it.
 * Those may still write: the directory is renamed out of their way before
 * it is emptied (a write that finds it gone is silent, shim/shim.h).
 * Returns the number of failures, numbered ones included;
 * *ret_target_found says whether the target left a snapshot.
 */
int mp_collect_final(struct mp_collect *c, bool *ret_target_found);

/*
 * Empty and remove a snapshot directory, saying so in one line when it
 * cannot.  With `writers` (processes still running that write into it), it
 * is first renamed to a name of its own that they do not know, so that no
 * file appears in it any more and their shims find their directory gone
 * (and say nothing, shim/shim.h); a file one was writing at the rename is
 * removed at the next pass.
 */
void mp_collect_remove_dir(const char *snapdir, bool writers);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * Profiles after any death, for `memprof run` (the contract: common/shm.h).
 *
 * mp_crash_listen() binds the socket "<snapdir>/memprof.sock" before the
 * program starts; a thread of ours takes every memfd the shims send (each
 * process image's tables) and holds it, and drops those of an image that
 * wrote its exit snapshot.  After the last process is gone,
 * mp_crash_salvage() writes, for every image that held tables and wrote no
 * exit snapshot (killed by a signal, SIGKILL and the OOM killer included),
 * the snapshot "memprof.<pid>.snap" built from its tables (with the signal
 * that ended it), which the collector then converts like any other.
 * CLI only.
 */
#ifndef MP_CLI_CRASH_H
#define MP_CLI_CRASH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct mp_crash;

/* Listen in snapdir.  NULL when it cannot (the reason printed, as a
 * warning: profiles are then written only by processes that exit). */
struct mp_crash *mp_crash_listen(const char *snapdir);

/* fn(ctx, pid), on the receiving thread, whenever a shim says that
 * process pid's exit snapshot is in place (it may not be true: anything of
 * the user's may write to the socket).  Set it before the program starts. */
void mp_crash_on_written(struct mp_crash *c, void (*fn)(void *ctx, pid_t pid), void *ctx);

/*
 * Stop listening, then write the snapshots of the images that died (see
 * above).  target/status: the program's pid and wait status (its death
 * signal; the other processes' come from their shims when they caught
 * it).  running[0..n_running): processes still running, not waited for
 * (supervise.h): their images did not die, and get no snapshot.
 * *target_execd (when not NULL): whether the target's last image with the
 * shim exec'd a program without it (static, setuid: no snapshot of it).
 * Returns how many were written.  Frees c (accepts NULL).
 */
int mp_crash_salvage(struct mp_crash *c, pid_t target, int status, const pid_t *running,
		     size_t n_running, bool *target_execd);

#endif

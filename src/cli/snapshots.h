/* SPDX-License-Identifier: MIT */
/*
 * Numbered snapshots on the CLI side (cmd-snapshot.c): turning the ones a
 * running program writes ("memprof.<pid>.<seq>.snap", common/snapfile.h)
 * into numbered profiles for `memprof run`, and the signal names
 * `--snapshot-signal` accepts.  CLI only.
 */
#ifndef MP_CLI_SNAPSHOTS_H
#define MP_CLI_SNAPSHOTS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/snapfile.h"

/* "<dir>/<name>" of a snapshot directory's file (mp_snapfile_path), then
 * `suffix` (NULL or a string); malloc'd, NULL on OOM. */
char *mp_snapshots_path(const char *dir, enum mp_snapfile kind, pid_t pid, uint32_t seq,
			const char *suffix);

struct mp_snapshots_ops {
	void *ctx;
	/* The final heap profile name of process `pid` (malloc'd; NULL: OOM). */
	char *(*final_name)(void *ctx, pid_t pid);
	/* Turn raw snapshot `snap` into profiles named after heap profile `out`;
	 * 0, or < 0 with the reason already printed. */
	int (*convert)(void *ctx, const char *snap, const char *out);
};

/*
 * Convert every finished numbered snapshot in `snapdir` (pid order, then
 * seq) to the final name with ".sNNNN" inserted (mp_snapname_numbered), and
 * remove it.  One that fails is kept, renamed "memprof.<pid>.<seq>.snap.failed"
 * (so it is tried once), and counted in *ret_kept.  Returns the number of
 * failures.  For `memprof snapshot`, which waits for the profile rather
 * than the raw snapshot (removed here), each conversion leaves a record
 * "memprof.<pid>.<seq>.profile" holding the heap profile's absolute path
 * (empty when the conversion failed), renamed into place.
 */
int mp_snapshots_collect(const char *snapdir, const struct mp_snapshots_ops *ops,
			 size_t *ret_kept);

/*
 * The collector's presence in `snapdir`: mp_snapshots_announce() marks the
 * directory as one `memprof run` converts (MP_SNAPSHOTS_COLLECTOR), before
 * the program starts; mp_snapshots_done() removes the marker and the
 * records once nothing is converted any more.  Errors are ignored: without
 * the marker `memprof snapshot` names the raw snapshot, as for a program
 * that preloads the shim itself.
 */
#define MP_SNAPSHOTS_COLLECTOR "memprof.collector"
void mp_snapshots_announce(const char *snapdir);
void mp_snapshots_done(const char *snapdir);

/*
 * "USR2", "SIGUSR2", "12", "RTMIN+3", "none" (0) -> signal number.  Signals
 * the shim cannot or must not take (KILL, STOP, SEGV, BUS, ILL, FPE, ABRT,
 * TRAP, SYS, CHLD, CONT, TSTP, TTIN, TTOU) are refused.  0 or -EINVAL.
 */
int mp_snapshots_parse_signal(const char *s, int *ret_sig);

/* Whether process `pid`'s maps name the shim: 1, 0, or -errno (-ENOENT:
 * no such process). */
int mp_snapshots_shim_loaded(pid_t pid);

/*
 * The shim's helper thread in process `pid` (common/trigger.h), found by
 * its name, with its doorbell read from its blocked signals: its thread id
 * and *ret_bell, 0 when there is none (yet), or -errno (-ENOENT: no such
 * process).
 */
pid_t mp_snapshots_helper_thread(pid_t pid, int *ret_bell);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * How a front end asks a running shim for a numbered snapshot (the shim's
 * side: shim/trigger.c; a front end's: memprof snapshot).
 *
 * The shim runs a helper thread named MP_TRIGGER_THREAD_NAME (its comm),
 * which blocks every signal but one real-time signal, its doorbell.  A
 * request is that signal sent to that thread alone with
 * rt_tgsigqueueinfo(2), si_code SI_QUEUE and the value MP_TRIGGER_MAGIC:
 * no thread of the program is interrupted.  A front end finds the thread
 * among /proc/PID/task/ by its name, and the doorbell in its blocked mask
 * (SigBlk in /proc/PID/task/TID/status): the helper also blocks SIGHUP,
 * SIGINT and SIGTERM, which a thread of the program that happens to bear
 * the name rarely does.  The snapshot signal (snapshot_signal=, SIGUSR2)
 * sent to the process with MP_TRIGGER_MAGIC (sigqueue(3)) is a request too
 * (what older front ends sent), and never reaches the program's handler.
 *
 * A live request (memprof run --http) rings the same doorbell with the
 * value MP_TRIGGER_MAGIC_LIVE in the low 32 bits of sival_ptr and a token
 * (1..UINT32_MAX, the front end's choice) in the high 32 bits: the helper
 * writes "memprof.<pid>.<token>.live" (common/snapfile.h) instead of a
 * numbered snapshot, and uses no snapshot number.  Requests that arrive
 * while one is written are coalesced: the next snapshot carries the last
 * token asked for.  A shim older than live requests takes the value for
 * the program's own signal (its default action, termination): front ends
 * send live requests only to shims of their own build (memprof run's).
 *
 * No allocation, no stdio: for the target and the CLI.
 */
#ifndef MP_COMMON_TRIGGER_H
#define MP_COMMON_TRIGGER_H

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#define MP_TRIGGER_MAGIC 0x6d656d70   /* "memp" */
#define MP_TRIGGER_MAGIC_LIVE 0x6d706c76   /* "mplv" */
#define MP_TRIGGER_THREAD_NAME "memprof"

/* Whether si (or NULL) is a request. */
static inline int mp_trigger_is_request(const siginfo_t *si)
{
	return si && si->si_code == SI_QUEUE && si->si_value.sival_int == MP_TRIGGER_MAGIC;
}

/* A request on signal `sig`, from process pid of user uid, into *si (for
 * rt_tgsigqueueinfo). */
void mp_trigger_request(siginfo_t *si, int sig, pid_t pid, uid_t uid);

/* A live request with `token` (nonzero), otherwise the same. */
void mp_trigger_live_request(siginfo_t *si, int sig, pid_t pid, uid_t uid, uint32_t token);

/* Whether si (or NULL) is a live request: 1 with its token in *ret_token,
 * else 0 (*ret_token untouched).  Async-signal-safe. */
static inline int mp_trigger_live_token(const siginfo_t *si, uint32_t *ret_token)
{
	uint64_t v;

	if (!si || si->si_code != SI_QUEUE)
		return 0;
	v = (uint64_t)(uintptr_t)si->si_value.sival_ptr;
	if ((uint32_t)v != MP_TRIGGER_MAGIC_LIVE || !(v >> 32))
		return 0;
	*ret_token = (uint32_t)(v >> 32);
	return 1;
}

/*
 * The doorbell of a thread named MP_TRIGGER_THREAD_NAME whose blocked
 * signals are `sigblk` (bit sig - 1 for signal sig, as SigBlk shows them):
 * the highest real-time signal it leaves unblocked; 0 when the mask is not
 * the helper's (SIGHUP, SIGINT or SIGTERM unblocked, or no real-time
 * signal unblocked).
 */
int mp_trigger_bell(uint64_t sigblk);

#endif

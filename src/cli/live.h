/* SPDX-License-Identifier: MIT */
/*
 * The live endpoint of `memprof run --http ADDR`: Go's /debug/pprof/ in the
 * CLI process, each profile made from a fresh snapshot of the running
 * program, so `go tool pprof http://ADDR/debug/pprof/heap` and the scrapers
 * of Parca and Pyroscope work on a native program.
 *
 *   /debug/pprof/               index (HTML): the profiles, the processes
 *   /debug/pprof/heap, allocs   heap profile (?debug=N: text; ?seconds=N: delta)
 *   /debug/pprof/fds            open descriptors and their creation stacks
 *   /debug/pprof/threads, threadcreate   live threads
 *   /debug/pprof/timers         armed timers
 *   ?pid=N                      another process of the tree than the program
 *
 * One thread: the server is polled with the supervisor's signals
 * (cli/supervise.h hooks), sleeps in poll(2) with no timeout while idle,
 * reads requests and writes answers without blocking, and drops clients
 * that take too long.  Only the wait for a snapshot blocks (the program
 * answers within milliseconds; at most SNAP_TIMEOUT_MS, 10 s, for one that
 * is stopped): signals that come meanwhile are passed on after it.  CLI
 * only; every function prints its own messages.
 */
#ifndef MP_CLI_LIVE_H
#define MP_CLI_LIVE_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct mp_live;
struct mp_snap;

/*
 * Listen on `addr` ("PORT", ":PORT", "HOST:PORT", "[IPV6]:PORT"; no host:
 * 127.0.0.1; port 0: any free one) and say where on stderr.  Snapshots are
 * asked of processes writing to `snapdir`.  0 with *ret, or -1 (the reason
 * printed).
 */
int mp_live_open(const char *addr, const char *snapdir, struct mp_live **ret);

/* The program the profiles are of, once it runs. */
void mp_live_set_target(struct mp_live *lv, pid_t pid);

/* The supervisor's hooks (mp_supervise_hooks.poll_fds, .polled). */
int mp_live_poll_fds(void *lv, struct pollfd *fds, int max, int *timeout_ms);
void mp_live_polled(void *lv, const struct pollfd *fds, int n);

/* Close every connection and the socket, remove any snapshot left for it;
 * accepts NULL. */
void mp_live_close(struct mp_live *lv);

/*
 * A fresh snapshot of process `pid`, which runs the shim with live=1 and
 * writes to `snapdir`, parsed into *ret (mp_snap_free).  Waits at most
 * timeout_ms.  0, or -errno with a one-line reason in *ret_err (malloc'd):
 * -ENOTCONN (no snapshot thread), -ESRCH (the process has exited),
 * -ETIMEDOUT.  The one way the endpoint gets a snapshot (live-snap.c).
 */
int mp_live_snapshot(const char *snapdir, pid_t pid, unsigned timeout_ms, struct mp_snap **ret,
		     char **ret_err);

/* Remove live answers of `pid` (0: of every process) from snapdir but
 * token `keep` (0: none). */
void mp_live_snapshot_clean(const char *snapdir, pid_t pid, uint32_t keep);

#endif

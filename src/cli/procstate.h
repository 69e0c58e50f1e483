/* SPDX-License-Identifier: MIT */
/*
 * What kind of process a pid names, for the commands that act on a running
 * process (snapshot, attach): a kernel thread or a zombie gets an error that
 * says so instead of a misleading one from a later step.  CLI only.
 */
#ifndef MP_CLI_PROCSTATE_H
#define MP_CLI_PROCSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum mp_proc_kind {
	MP_PROC_USER,          /* a live user-space process (or unknown: let later steps say) */
	MP_PROC_KTHREAD,       /* a kernel thread (PF_KTHREAD): no user-space memory */
	MP_PROC_ZOMBIE,        /* exited, not yet reaped by its parent */
	MP_PROC_GONE,          /* no such process */
};

/* Whether process pid runs as another user (its file-system uid, in
 * *ret_uid) than the owner of directory dir, which no one else may write
 * into (memprof run's, mode 0700): it cannot write its snapshots there.
 * Root's processes can. */
bool mp_proc_cannot_write(pid_t pid, const char *dir, unsigned *ret_uid);

/* The parent of process pid, 0 when it cannot be read. */
pid_t mp_proc_parent(pid_t pid);

/* The state letter of process pid (/proc/PID/stat: R, S, D, T or t when
 * stopped by a signal or a debugger, Z, X...), 0 when it cannot be read. */
char mp_proc_state(pid_t pid);

/* Whether state letter s is a stopped process's (SIGSTOP, SIGTSTP, a
 * debugger): it cannot answer a snapshot request until it is continued. */
static inline bool mp_proc_state_stopped(char s)
{
	return s == 'T' || s == 't';
}

static inline bool mp_proc_stopped(pid_t pid)
{
	return mp_proc_state_stopped(mp_proc_state(pid));
}

/* From /proc/PID/stat; MP_PROC_USER when it cannot be read for another
 * reason than the process's absence. */
enum mp_proc_kind mp_proc_kind(pid_t pid);

/* A one-line reason ("is a kernel thread", ...) for a kind other than
 * MP_PROC_USER, NULL for MP_PROC_USER. */
const char *mp_proc_kind_reason(enum mp_proc_kind k);

/* Append the children of every thread of process `pid` (0: ours: an
 * orphan is re-parented to one of our threads, not always the main one)
 * to *v (grown with MP_GROW), from /proc/PID/task/TID/children.  0, or -1
 * when they cannot be read (a kernel without CONFIG_PROC_CHILDREN, the
 * process gone, no memory). */
int mp_proc_children(pid_t pid, pid_t **v, size_t *n, size_t *cap);

/* The process's name (/proc/PID/comm) in buf, "?" when it cannot be read. */
void mp_proc_comm(pid_t pid, char *buf, size_t cap);

#endif

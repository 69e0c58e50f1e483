/* SPDX-License-Identifier: MIT */
/*
 * What kind of process a pid names, for the commands that act on a running
 * process (snapshot, attach): a kernel thread or a zombie gets an error that
 * says so instead of a misleading one from a later step.  CLI only.
 */
#ifndef MP_CLI_PROCSTATE_H
#define MP_CLI_PROCSTATE_H

#include <sys/types.h>

enum mp_proc_kind {
	MP_PROC_USER,          /* a live user-space process (or unknown: let later steps say) */
	MP_PROC_KTHREAD,       /* a kernel thread (PF_KTHREAD): no user-space memory */
	MP_PROC_ZOMBIE,        /* exited, not yet reaped by its parent */
	MP_PROC_GONE,          /* no such process */
};

/* From /proc/PID/stat; MP_PROC_USER when it cannot be read for another
 * reason than the process's absence. */
enum mp_proc_kind mp_proc_kind(pid_t pid);

/* A one-line reason ("is a kernel thread", ...) for a kind other than
 * MP_PROC_USER, NULL for MP_PROC_USER. */
const char *mp_proc_kind_reason(enum mp_proc_kind k);

#endif

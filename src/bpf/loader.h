/* SPDX-License-Identifier: MIT */
/*
 * Loading, attaching and reading memprof attach's BPF program (libbpf and,
 * for what Debian's libbpf 1.1 lacks, the bpf(2) system call itself).
 * CLI only; built only with -Dbpf (MP_HAVE_BPF).
 *
 * Allocator probes are uprobe sessions on one uprobe_multi link per module
 * (Linux 6.12 or later): libbpf 1.1 has no API for them, so the link is
 * made with BPF_LINK_CREATE directly.  The system-call tracepoint goes
 * through libbpf.
 */
#ifndef MP_BPF_LOADER_H
#define MP_BPF_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bpf/attach.h"
#include "bpf/sites.h"

struct mp_bpf;

struct mp_bpf_opts {
	int pid;                   /* the process (thread group) to profile */
	uint64_t rate;             /* mean bytes between samples; 1: all; 0: none */
	bool syscalls;             /* also descriptors, threads, mappings */
	uint32_t live_max;         /* sampled blocks tracked at once */
	bool verbose;              /* libbpf's messages to stderr */
	bool empty_probes;         /* benchmark only: probes that do nothing */
};

/*
 * Load the program for opts->pid.  0, or a negative errno with a one-line
 * reason in *ret_err (malloc'd): -EPERM (not permitted), -ENOSYS (no BPF),
 * -ENOENT (no BTF), others.
 */
int mp_bpf_open(const struct mp_bpf_opts *o, struct mp_bpf **ret, char **ret_err);

/* Probe the allocator entry points p[0..n) of the module whose file the
 * kernel finds at `path` (messages call it `name`).  0 or a negative errno
 * with *ret_err (-ESRCH when the process is gone). */
int mp_bpf_attach_probes(struct mp_bpf *b, const char *path, const char *name,
			 const struct mp_probe *p, size_t n, char **ret_err);

/* Start seeing the process's system calls.  0 or -errno with *ret_err. */
int mp_bpf_attach_syscalls(struct mp_bpf *b, char **ret_err);

/* Called for every event, in order: ev and the stack bytes after it. */
typedef void (*mp_bpf_event_fn)(void *arg, const struct mp_bpf_ev *ev, const uint8_t *stack);

/* Wait up to timeout_ms for events and hand each to fn.  Number of
 * events, or -errno (-EINTR when a signal came). */
int mp_bpf_poll(struct mp_bpf *b, int timeout_ms, mp_bpf_event_fn fn, void *arg);

/* Start (true) or stop (false) collecting, in every probe at once:
 * attach them all first, stop before detaching.  `syscalls`: the system
 * calls and thread ends too (stopped after the allocator probes). */
void mp_bpf_enable(struct mp_bpf *b, bool on, bool syscalls);

/* Remove every probe (the program's maps stay readable). */
void mp_bpf_detach(struct mp_bpf *b);

void mp_bpf_counters(const struct mp_bpf *b, struct mp_bpf_counters *ret);

/* Benchmark only: have the kernel time every run of the programs
 * (BPF_ENABLE_STATS, on while `b` lives; adds two clock reads per run).
 * 0 or -errno. */
int mp_bpf_enable_stats(struct mp_bpf *b);

/* One line per program that ran: runs, mean ns per run, and the size of
 * the program as the kernel runs it (instructions after the verifier's
 * rewrites). */
void mp_bpf_print_prog_stats(const struct mp_bpf *b, FILE *f);

void mp_bpf_free(struct mp_bpf *b);       /* detaches; accepts NULL */

#endif

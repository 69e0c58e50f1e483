/* SPDX-License-Identifier: MIT */
/*
 * The shim's part of crash-safe profiles (crash.c; the contract:
 * common/shm.h).  In the target.
 */
#ifndef MP_SHIM_CRASH_H
#define MP_SHIM_CRASH_H

#include <stdint.h>

/* With shm=1: share the tables with the CLI from now on (before any table
 * is made).  0, or -errno (the tables stay private). */
int mp_crash_init(void);

/* From the constructor: the maps as loaded, and the fatal-signal hook. */
void mp_crash_start(void);

/* A stack pcs[0..n) was added to the table: refresh the maps if it holds
 * code they do not (loaded since).  Not in a signal handler. */
void mp_crash_new_stack(const uint64_t *pcs, uint32_t n);

/* Refresh the shared maps text now (privfd).  Not in a signal handler. */
void mp_crash_maps_refresh(void);

/* In a fork child, after mp_shm_after_fork_child. */
void mp_crash_after_fork_child(void);

#endif

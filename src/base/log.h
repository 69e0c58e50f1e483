/* SPDX-License-Identifier: MIT */
/*
 * Messages from inside the target: one write(2) per line to standard
 * error, "memprof: " prefixed, built in a stack buffer.  No stdio (it may
 * lock or allocate), no locale, no allocation; safe in a signal handler
 * and after fork.  Warnings are capped (8 per process): a misbehaving
 * program cannot flood its standard error with ours.
 */
#ifndef MP_BASE_LOG_H
#define MP_BASE_LOG_H

#include <stdint.h>

/* mp_utoa, the messages' numbers: one helper with the contract's formatters. */
#include "common/utoa.h"

/* "memprof: " a b c d, each NULL or a string; one line. */
void mp_log(const char *a, const char *b, const char *c, const char *d);
/* "memprof: warning: " a b c d; nothing after the eighth warning. */
void mp_warn(const char *a, const char *b, const char *c, const char *d);
/* CLOCK_REALTIME in nanoseconds. */
uint64_t mp_now_ns(void);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * Symbolization while the target runs (memprof run): a thread of the CLI
 * symbolizes the addresses the target records as it records them
 * (cli/addrfeed.h), so that converting its snapshots at exit finds them
 * done.  CLI only.
 */
#ifndef MP_CLI_EARLY_SYM_H
#define MP_CLI_EARLY_SYM_H

#include <sys/types.h>

struct mp_symbolizer;

/* Start the thread for the process `pid` just exec'd (once per run). */
void mp_early_sym_start(pid_t pid);

/* Ask the thread to stop, without waiting for it (the program is gone:
 * it stops while the CLI does other things). */
void mp_early_sym_stop(void);

/* Stop the thread (waiting for the batch in hand) and return its
 * symbolizer, or NULL: a donor for mp_symbolizer_new_from, owned here.
 * Any number of calls, under mp_early_sym_lock. */
struct mp_symbolizer *mp_early_sym_finish(void);

/* The symbolizers made from the donor share its files, which are not
 * thread-safe: a conversion holds this lock from mp_early_sym_finish until
 * its converter is freed, so that the target's, begun on another thread
 * as soon as its snapshot is in (cli/final-snap.h), and those of the main
 * thread (numbered snapshots, --http) take turns. */
void mp_early_sym_lock(void);
void mp_early_sym_unlock(void);

/* Stop, and free the symbolizer (no conversion may run). */
void mp_early_sym_free(void);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * The program's signal actions, kept virtual (signals.c).  Runs inside the
 * target.
 *
 * Every handler the program installs (sigaction, signal, bsd_signal,
 * sysv_signal, or before the shim's constructor ran) is called by the
 * shim's trampoline, which brackets it with mp_alloc_signal_enter/leave so
 * that the handler may allocate while the code it interrupted is inside the
 * allocator (alloc/alloc.c, base/lock.h).  The program reads back exactly
 * the action it set.  Two signals, the snapshot signal and the helper
 * thread's doorbell, may be claimed by trigger.c: their kernel action is the
 * trampoline whatever the program's, and trigger.c sees each instance first.
 *
 * Not covered: actions set with the rt_sigaction system call directly, and
 * sigset(3)/sigignore(3) (their handlers run unbracketed, as before).
 */
#ifndef MP_SHIM_SIGNALS_H
#define MP_SHIM_SIGNALS_H

#include <signal.h>
#include <sys/types.h>

/*
 * Bracket the handlers installed before the shim's constructor ran.  Once,
 * from the constructor; not in a signal handler.
 */
void mp_signals_init(void);

/*
 * Claim `sig` for trigger.c: `fn` runs first for every instance delivered
 * to any thread, with the program's action (handler and flags only), and
 * returns nonzero when it took the instance (the program's handler is then
 * not called).  fn must be async-signal-safe and keep errno.  At most two
 * signals.  0, or -errno when the kernel refuses the action.
 */
typedef int (*mp_signal_claim_fn)(int sig, siginfo_t *si, void (*handler)(int), int flags);
int mp_signals_claim(int sig, mp_signal_claim_fn fn);

/*
 * Call fn(sig) when a fatal signal (SEGV, BUS, ILL, FPE, ABRT, INT, TERM,
 * QUIT, HUP) is about to end the process by its default action: for each,
 * while the program's action is SIG_DFL, the kernel's is the trampoline,
 * which calls fn, restores the default action and has it re-delivered, so
 * the process dies of it as it would have (status, core dump).  fn runs in
 * a signal handler.  Once, after mp_signals_init.
 */
void mp_signals_on_death(void (*fn)(int));

/* The program's action for sig, handler and flags (SIG_DFL when unknown).
 * Async-signal-safe. */
void (*mp_signals_program_handler(int sig, int *ret_flags))(int);

#endif

/* SPDX-License-Identifier: MIT */
/* Stop and resume the process's other threads (see stopworld.c). */
#ifndef MP_LEAKSCAN_STOPWORLD_H
#define MP_LEAKSCAN_STOPWORLD_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/ucontext.h>

#define MP_STOP_MAX 4096

struct mp_stopped {
	pid_t tid;
	int stopped;             /* 1 while held in the handler: registers valid */
	uintptr_t sp, tp;        /* stack pointer and thread pointer when stopped */
	greg_t regs[NGREG];
};

/* Stop every other thread but `skip` (memprof's own helper, which blocks
 * every signal; 0: none); returns how many were signalled and sets *ret to
 * their slots (check `stopped` for each). */
unsigned mp_stopworld_stop(pid_t skip, struct mp_stopped **ret);

/* Let them go on. */
void mp_stopworld_resume(void);

#endif

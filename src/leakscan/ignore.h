/* SPDX-License-Identifier: MIT */
/*
 * Blocks the program declared intentional leaks (memprof_ignore(3)): the
 * leak scan takes each as a root, so neither it nor what it points to is
 * reported, as LeakSanitizer's __lsan_ignore_object.  The set holds block
 * starts; a block freed leaves it (mp_leakscan_forget, on every free of the
 * own allocator while the set is not empty), so a later block at the same
 * address is not ignored.  Lock-free (CAS on the slots): safe from any
 * thread and from signal handlers.  In the target.
 */
#ifndef MP_LEAKSCAN_IGNORE_H
#define MP_LEAKSCAN_IGNORE_H

#include <stdint.h>

#include "base/compiler.h"

/* Blocks in the set; free() looks only when it is not 0. */
extern uint32_t mp_leakscan_nignored;

/* The most blocks ignored at once. */
#define MP_LEAKSCAN_IGNORE_MAX 65536

/* Ignore the block of the own allocator holding p (interior pointers
 * count).  0, -EINVAL (p is not in a block of the own allocator), -ENOSPC
 * (MP_LEAKSCAN_IGNORE_MAX blocks already), -ENOMEM. */
int mp_leakscan_ignore(const void *p);

void mp_leakscan_forget_slow(const void *p);

/* Block p is being freed. */
static inline void mp_leakscan_forget(const void *p)
{
	if (MP_UNLIKELY(__atomic_load_n(&mp_leakscan_nignored, __ATOMIC_RELAXED)))
		mp_leakscan_forget_slow(p);
}

/* For the scan: call fn on each ignored block start. */
void mp_leakscan_foreach_ignored(void (*fn)(uintptr_t start, void *ctx), void *ctx);

#endif

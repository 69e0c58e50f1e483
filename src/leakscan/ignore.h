/* SPDX-License-Identifier: MIT */
/*
 * Blocks the program declared intentional leaks (memprof_ignore(3)): the
 * leak scan takes each as a root, so neither it nor what it points to is
 * reported, as LeakSanitizer's __lsan_ignore_object.  The set holds block
 * starts; a block freed leaves it (the allocator calls mp_leakscan_forget
 * for the frees in the spans of ignored blocks: alloc.h mp_alloc_watch),
 * so a later block at the same address is not ignored.  Lock-free (CAS on
 * the slots): safe from any thread and from signal handlers.  In the
 * target.
 */
#ifndef MP_LEAKSCAN_IGNORE_H
#define MP_LEAKSCAN_IGNORE_H

#include <stdint.h>

/* The most blocks ignored at once. */
#define MP_LEAKSCAN_IGNORE_MAX 65536

/* Ignore the block of the own allocator holding p (interior pointers
 * count).  0, -EINVAL (p is not in a block of the own allocator), -ENOSPC
 * (MP_LEAKSCAN_IGNORE_MAX blocks already), -ENOMEM. */
int mp_leakscan_ignore(const void *p);

/* Block p is being freed (called by the allocator, alloc.h). */
void mp_leakscan_forget(void *p);

/* For the scan: call fn on each ignored block start. */
void mp_leakscan_foreach_ignored(void (*fn)(uintptr_t start, void *ctx), void *ctx);

#endif

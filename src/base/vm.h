/* SPDX-License-Identifier: MIT */
/*
 * Memory the in-target modules map for themselves, never from the target's
 * allocator.  Safe in the target and after fork; not in signal handlers
 * (mmap is, but callers hold locks).
 */
#ifndef MP_BASE_VM_H
#define MP_BASE_VM_H

#include <stddef.h>

/* Reserve `size` bytes of zeroed, lazily committed read-write memory.
 * Returns NULL on failure (errno set by mmap). */
void *mp_vm_reserve(size_t size);
/* Release what mp_vm_reserve returned; accepts NULL. */
void mp_vm_release(void *p, size_t size);

#endif

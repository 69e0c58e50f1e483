/* SPDX-License-Identifier: MIT */
/*
 * The leak scan, in the target at exit: stop the other threads, take the
 * roots (every writable mapping that is not memprof's own, the live part of
 * every thread's stack, the threads' registers, the thread control blocks),
 * mark conservatively through the heap of the own allocator (alloc/leak.h),
 * then split the unreached blocks into definitely and indirectly lost the
 * way Valgrind does, and aggregate by allocation stack.
 *
 * Interior pointers as Valgrind's memcheck takes them (interior.h): a block
 * reached from the roots only through chains with a pointer inside it, not
 * at its start, is possibly lost, unless one of memcheck's heuristics
 * (stdstring, length64, newarray, multipleinheritance) takes that pointer
 * for a start pointer.
 *
 * Must never: allocate from any heap, block on a lock another thread may
 * hold, or leave a thread stopped.  Not for signal handlers.
 */
#ifndef MP_LEAKSCAN_LEAKSCAN_H
#define MP_LEAKSCAN_LEAKSCAN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Run the scan now.  `caller_sp` is the calling thread's stack pointer
 * where the program called into the shim: the calling thread's stack is
 * scanned from there up, so the shim's own frames are not roots, and
 * `caller_regs` (n of them: the callee-saved registers the program had at
 * that call, which the frames below may have saved) are roots too.  0, or
 * a negative errno (the allocator is not ours, memory for the work lists
 * cannot be mapped).  `skip_tid`: a thread of memprof's own not to stop
 * (0: none); its stack is scanned whole, like any mapping.  The result
 * stays available until the next run.
 */
int mp_leakscan_run(uintptr_t caller_sp, const uintptr_t *caller_regs, unsigned n,
		    pid_t skip_tid);

/*
 * The same while the program runs on (memprof_leak_check(3)), from one of
 * its threads: the other threads are stopped only while no one holds a
 * lock of the allocator (tried again every 0.1 ms, -EBUSY after 1000
 * tries), and resumed after.  0 with the definitely lost bytes in
 * *ret_definite, or as mp_leakscan_run.
 */
int mp_leakscan_run_live(uintptr_t caller_sp, const uintptr_t *caller_regs, unsigned n,
			 pid_t skip_tid, uint64_t *ret_definite);

/* The last result as an array of struct mp_snap_leak_rec (common/snapshot.h),
 * for the snapshot writer; size 0 when there was no scan. */
void mp_leakscan_records(const void **ret_data, size_t *ret_size);

/* Bytes scanned (roots and heap blocks) and the scan's duration, stop and
 * resume included, of the last run (0 without one). */
void mp_leakscan_timing(uint64_t *ret_bytes, uint64_t *ret_ns);

/* Mark the shim's own writable segments as never-roots (call once at init
 * with the shim's load address range). */
void mp_leakscan_exclude_self(uintptr_t lo, uintptr_t hi);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * File descriptors of the process with the stack that created each: the
 * shim interposes every libc function that creates or closes descriptors
 * (fds.c lists them) and keeps one slot per descriptor number.  In the
 * target: the table is mapped memory, slots are written by the thread that
 * owns the descriptor at that moment, no lock.  Direct system calls that
 * bypass libc are not seen.
 */
#ifndef MP_RESOURCES_FDS_H
#define MP_RESOURCES_FDS_H

#include <stddef.h>

/* Map the table and mark the descriptors already open as inherited.  Not
 * thread-safe: from the shim's init.  0 or -ENOMEM. */
int mp_fds_init(void);

/* The live descriptors as struct mp_snap_res_rec records into a buffer of
 * memprof's own (*ret_buf, valid until the next call; writers are
 * serialized); returns how many. */
size_t mp_fds_records(const void **ret_buf);

#endif

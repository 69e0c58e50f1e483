/* SPDX-License-Identifier: MIT */
/* POSIX timers with their creation stacks (timers.c). */
#ifndef MP_RESOURCES_TIMERS_H
#define MP_RESOURCES_TIMERS_H

#include <stddef.h>

/* Map the table.  From the shim's init.  0 or -ENOMEM. */
int mp_timers_init(void);

/* Timers created and not deleted, as struct mp_snap_res_rec records
 * (res_class MP_RES_TIMER; kind armed or not; detail: clock and interval)
 * into a buffer of memprof's own; returns how many.  Writers serialized. */
size_t mp_timers_records(const void **ret_buf);

#endif

/* SPDX-License-Identifier: MIT */
/* Threads made with pthread_create, with their creation stacks (threads.c). */
#ifndef MP_RESOURCES_THREADS_H
#define MP_RESOURCES_THREADS_H

#include <stddef.h>

/* Map the table.  From the shim's init.  0 or -ENOMEM. */
int mp_threads_init(void);

/* Threads running, and joinable threads ended but not joined, as struct
 * mp_snap_res_rec records (res_class MP_RES_THREAD; detail: the name set
 * with pthread_setname_np, then the start routine's symbol) into a buffer
 * of memprof's own; returns how many.  Writers are serialized. */
size_t mp_threads_records(const void **ret_buf);

#endif

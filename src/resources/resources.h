/* SPDX-License-Identifier: MIT */
/*
 * Resources of the program with the stacks that created them: file
 * descriptors (fds.c, fd-detail.c), threads (threads.c) and POSIX timers
 * (timers.c).  Each tracker interposes the libc functions that create and
 * destroy its resources (MP_EXPORT: exported from the shim) and keeps the
 * live ones in a table of mapped memory (base/vmarea.h); a snapshot copies
 * them out as struct mp_snap_res_rec records (common/snapshot.h).
 *
 * The layer's whole surface.  It runs in the target: no allocation from the
 * program's heap, no stdio, no lock, errno and return values untouched.
 * What it needs of the layer above (the shim) comes through the hooks, set
 * before the first tracker starts; with no hooks every resource is
 * recorded with no stack.
 */
#ifndef MP_RESOURCES_RESOURCES_H
#define MP_RESOURCES_RESOURCES_H

#include <stddef.h>
#include <stdint.h>

struct mp_snap_res_rec;

struct mp_res_hooks {
	/* The stack table's id of the calling thread's stack, which is
	 * creating a resource; 0 when there is none (profiling off, the table
	 * full).  Called with the recursion guard raised (base/guard.h). */
	uint32_t (*creation_stack)(void);
	/* Whether the calling thread is memprof's own, or is creating one
	 * (its threads are not the program's).  Any thread, any time. */
	int (*own_thread)(void);
};

/* Set the hooks (copied).  Not thread-safe: before the trackers' init. */
void mp_res_set_hooks(const struct mp_res_hooks *hooks);

/*
 * Map a tracker's table and start recording.  Not thread-safe: once, from
 * the shim's init.  0 or -ENOMEM (that tracker then records nothing).
 * mp_fds_init also records the descriptors open now, as inherited.
 */
int mp_fds_init(void);
int mp_threads_init(void);
int mp_timers_init(void);

/*
 * The live resources as struct mp_snap_res_rec records, in a buffer of the
 * tracker's own (*ret_buf, valid until its next call; callers serialize
 * calls); returns how many.
 *   fds:     every open descriptor (res_class MP_RES_FD), described as it
 *            is now (mp_fd_describe); call it in the program's descriptor
 *            table, never under mp_privfd_run.
 *   threads: running threads, and joinable threads ended but not joined
 *            (MP_RES_THREAD; detail: the name set with pthread_setname_np,
 *            then the start routine's symbol).
 *   timers:  timers created and not deleted (MP_RES_TIMER; kind armed or
 *            not; detail: clock and interval).
 */
size_t mp_fds_records(const void **ret_buf);
size_t mp_threads_records(const void **ret_buf);
size_t mp_timers_records(const void **ret_buf);

/* The process is dying of a signal: records are refreshed from its handler
 * from now on (the threads' without dladdr, which takes the loader's lock). */
void mp_res_dying(void);

/*
 * Update r->detail for descriptor r->id (kind r->kind) from the kernel: a
 * file's path as the kernel names it (absolute), a socket's addresses
 * ("inet stream 127.0.0.1:5000 <-> 127.0.0.1:41234", "... listening",
 * "unix stream /run/app.sock").  Leaves it as recorded at creation when the
 * lookup fails.  Raw system calls, no allocation; errno kept.
 */
void mp_fd_describe(struct mp_snap_res_rec *r);

/* A socket address as the detail shows it ("127.0.0.1:80", "[2001:db8::1]:443",
 * "/run/app.sock", "@abstract", "(unnamed)"), NUL-terminated, cut to
 * `size`.  `addr`: a struct sockaddr of `len` bytes. */
void mp_fd_format_addr(char *buf, size_t size, const void *addr, unsigned len);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * What a live file descriptor is, looked up when a snapshot is taken: a
 * file's path as the kernel names it (absolute), a socket's addresses
 * ("inet stream 127.0.0.1:5000 <-> 127.0.0.1:41234", "... listening",
 * "unix stream /run/app.sock").  In the target: raw system calls, no
 * allocation, safe in the snapshot writer and its signal handler.
 */
#ifndef MP_RESOURCES_FD_DETAIL_H
#define MP_RESOURCES_FD_DETAIL_H

#include <stddef.h>

struct mp_snap_res_rec;

/* Update r->detail for descriptor r->id (kind r->kind) from the kernel;
 * leaves it as recorded at creation when the lookup fails.  errno kept. */
void mp_fd_describe(struct mp_snap_res_rec *r);

/* A socket address as the detail shows it ("127.0.0.1:80", "[2001:db8::1]:443",
 * "/run/app.sock", "@abstract", "(unnamed)"), NUL-terminated, cut to
 * `size`.  `addr`: a struct sockaddr of `len` bytes.  (For tests.) */
void mp_fd_format_addr(char *buf, size_t size, const void *addr, unsigned len);

#endif

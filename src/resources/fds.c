/* SPDX-License-Identifier: MIT */
/*
 * File descriptor tracking (see resources.h).  Interposed: open, open64, openat,
 * openat64, creat, creat64, socket, socketpair, accept, accept4, pipe,
 * pipe2, dup, dup2, dup3, fcntl (F_DUPFD, F_DUPFD_CLOEXEC, F_SETFD),
 * eventfd, epoll_create, epoll_create1, timerfd_create, signalfd,
 * inotify_init, inotify_init1, memfd_create, fopen, fopen64, fdopen, freopen,
 * freopen64, fclose, opendir, fdopendir, closedir, close, close_range.
 * Each calls the next definition (libc's) found with dlsym(RTLD_NEXT) once,
 * and records on success.  The shim's own descriptors (snapshot files, procfs
 * reads) are opened with the recursion guard set and never recorded.
 *
 * Must never: change errno or a return value, allocate from the target's
 * heap for itself, take a lock.
 */
/* The plain names (open, not open64 under another name): both are defined
 * below, as the symbols libc exports. */
#undef _FILE_OFFSET_BITS
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/compiler.h"
#include "base/guard.h"
#include "base/log.h"
#include "base/procdir.h"
#include "base/vmarea.h"
#include "common/snapshot.h"
#include "resources/internal.h"

#define MAX_FDS 65536

/* By descriptor number, mapped up to the highest one seen (base/vmarea.h):
 * res_class 0 = closed.  `outs` is the snapshot copy. */
static struct mp_vm_table tab, outs;
static struct mp_snap_res_rec *table, *out;
static int ready;
static int top_fd = -1;                 /* highest descriptor ever recorded */

#define REAL(name, type) \
	static __typeof__(type) real_##name; \
	if (!real_##name) \
		real_##name = (type)dlsym(RTLD_NEXT, #name)

static void set_detail(struct mp_snap_res_rec *r, const char *a, const char *b)
{
	size_t n = 0;
	for (const char *s = a; s && *s && n < sizeof(r->detail) - 1; s++)
		r->detail[n++] = *s;
	for (const char *s = b; s && *s && n < sizeof(r->detail) - 1; s++)
		r->detail[n++] = *s;
	r->detail[n] = 0;
}

/* Record descriptor fd, just created, with the caller's stack.  Inlined
 * into every wrapper: one frame fewer to unwind. */
static inline __attribute__((always_inline)) void record(int fd, unsigned kind, const char *a,
							 const char *b, int cloexec)
{
	if (fd < 0 || fd >= MAX_FDS || !__atomic_load_n(&ready, __ATOMIC_ACQUIRE))
		return;
	if (mp_busy)
		return;   /* the shim's own descriptor */
	int saved = errno;
	mp_busy = 1;
	if (mp_vm_table_cover(&tab, (size_t)fd) < 0) {
		mp_busy = 0;
		errno = saved;
		return;
	}
	struct mp_snap_res_rec *r = &table[fd];
	r->res_class = 0;
	r->kind = kind;
	r->id = fd;
	r->flags = cloexec ? MP_RES_F_CLOEXEC : 0;
	r->stack_id = mp_res_creation_stack();
	set_detail(r, a, b);
	mp_res_raise_top(&top_fd, fd);
	__atomic_store_n(&r->res_class, MP_RES_FD, __ATOMIC_RELEASE);
	mp_busy = 0;
	errno = saved;
}

/* Whether fd has an entry (mapped; it may be closed). */
static int known(int fd)
{
	return fd >= 0 && table && mp_vm_table_has(&tab, (size_t)fd);
}

static void forget(int fd)
{
	if (known(fd))
		__atomic_store_n(&table[fd].res_class, 0, __ATOMIC_RELEASE);
}

/* A copy of fd's record for newfd (dup): same kind and stack of creation
 * is unknown to the caller... the dup's own stack is what created newfd. */
static void record_dup(int oldfd, int newfd, int cloexec)
{
	unsigned kind = MP_FD_OTHER;
	char detail[sizeof(table[0].detail)] = "";
	if (known(oldfd) && table[oldfd].res_class) {
		kind = table[oldfd].kind;
		memcpy(detail, table[oldfd].detail, sizeof(detail));
	}
	record(newfd, kind, detail, NULL, cloexec);
}

int mp_fds_init(void)
{
	if (mp_vm_table_init(&tab, sizeof(*table), MAX_FDS) < 0 ||
	    mp_vm_table_init(&outs, sizeof(*out), MAX_FDS) < 0)
		return -ENOMEM;
	mp_vm_table_share(&outs, MP_SNAP_RESOURCES);
	table = mp_vm_table_at(&tab, 0);
	out = mp_vm_table_at(&outs, 0);
	/* Inherited descriptors: whatever is open now. */
	struct mp_procdir d;
	if (mp_procdir_open(&d, "/proc/self/fd") == 0) {
		int fd;
		while ((fd = mp_procdir_next(&d)) >= 0) {
			if (fd == d.fd || fd >= MAX_FDS || mp_vm_table_cover(&tab, (size_t)fd) < 0)
				continue;
			struct mp_snap_res_rec *r = &table[fd];
			char link[24] = "/proc/self/fd/", target[sizeof(r->detail)];
			char num[24];
			size_t l = strlen(link);
			for (const char *s = mp_utoa((uint64_t)fd, num); *s && l < sizeof(link) - 1; s++)
				link[l++] = *s;
			link[l] = 0;
			long tl = syscall(SYS_readlink, link, target, sizeof(target) - 1);
			target[tl > 0 ? tl : 0] = 0;
			r->kind = MP_FD_OTHER;
			r->id = fd;
			r->flags = MP_RES_F_INHERITED;
			set_detail(r, target, NULL);
			mp_res_raise_top(&top_fd, fd);
			r->res_class = MP_RES_FD;
		}
		mp_procdir_close(&d);
	}
	__atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
	return 0;
}

size_t mp_fds_records(const void **ret_buf)
{
	size_t n = 0;
	*ret_buf = out;
	if (!table || !out)
		return 0;
	int top = __atomic_load_n(&top_fd, __ATOMIC_RELAXED);
	if (top >= 0 && mp_res_out_cover(&outs, (size_t)top) < 0)
		return 0;
	for (int fd = 0; fd <= top && known(fd); fd++)
		if (__atomic_load_n(&table[fd].res_class, __ATOMIC_ACQUIRE) == MP_RES_FD) {
			mp_res_out_begin(&outs, n);
			out[n] = table[fd];
			mp_fd_describe(&out[n++]);   /* what it is now: path, addresses */
			mp_res_out_end(&outs);
		}
	mp_res_out_publish(&outs, n);
	return n;
}

/* ---- the interposed functions ---- */

static int open_mode_needed(int flags)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

#define OPEN_LIKE(name)                                                          \
	MP_EXPORT int name(const char *path, int flags, ...)                     \
	{                                                                        \
		mode_t mode = 0;                                                 \
		if (open_mode_needed(flags)) {                                   \
			va_list ap;                                              \
			va_start(ap, flags);                                     \
			mode = va_arg(ap, mode_t);                               \
			va_end(ap);                                              \
		}                                                                \
		REAL(name, int (*)(const char *, int, ...));                     \
		int fd = real_##name(path, flags, mode);                         \
		if (fd >= 0)                                                     \
			record(fd, (flags & O_DIRECTORY) ? MP_FD_DIR : MP_FD_FILE, path, NULL, \
			       !!(flags & O_CLOEXEC));                           \
		return fd;                                                       \
	}

OPEN_LIKE(open)
OPEN_LIKE(open64)

#define OPENAT_LIKE(name)                                                        \
	MP_EXPORT int name(int dirfd, const char *path, int flags, ...)          \
	{                                                                        \
		mode_t mode = 0;                                                 \
		if (open_mode_needed(flags)) {                                   \
			va_list ap;                                              \
			va_start(ap, flags);                                     \
			mode = va_arg(ap, mode_t);                               \
			va_end(ap);                                              \
		}                                                                \
		REAL(name, int (*)(int, const char *, int, ...));                \
		int fd = real_##name(dirfd, path, flags, mode);                  \
		if (fd >= 0)                                                     \
			record(fd, (flags & O_DIRECTORY) ? MP_FD_DIR : MP_FD_FILE, path, NULL, \
			       !!(flags & O_CLOEXEC));                           \
		return fd;                                                       \
	}

OPENAT_LIKE(openat)
OPENAT_LIKE(openat64)

static const char *family_name(int domain)
{
	switch (domain) {
	case AF_UNIX: return "unix ";
	case AF_INET: return "inet ";
	case AF_INET6: return "inet6 ";
	case AF_NETLINK: return "netlink ";
	case AF_PACKET: return "packet ";
	default: return "other ";
	}
}

static const char *type_name(int type)
{
	switch (type & 0xf) {
	case SOCK_STREAM: return "stream";
	case SOCK_DGRAM: return "dgram";
	case SOCK_RAW: return "raw";
	case SOCK_SEQPACKET: return "seqpacket";
	default: return "other";
	}
}

MP_EXPORT int socket(int domain, int type, int protocol)
{
	REAL(socket, int (*)(int, int, int));
	int fd = real_socket(domain, type, protocol);
	if (fd >= 0)
		record(fd, MP_FD_SOCKET, family_name(domain), type_name(type), !!(type & SOCK_CLOEXEC));
	return fd;
}

MP_EXPORT int socketpair(int domain, int type, int protocol, int sv[2])
{
	REAL(socketpair, int (*)(int, int, int, int *));
	int r = real_socketpair(domain, type, protocol, sv);
	if (r == 0) {
		record(sv[0], MP_FD_SOCKET, family_name(domain), type_name(type), !!(type & SOCK_CLOEXEC));
		record(sv[1], MP_FD_SOCKET, family_name(domain), type_name(type), !!(type & SOCK_CLOEXEC));
	}
	return r;
}

/* An accepted connection: the listening socket's description. */
static void record_accept(int lfd, int fd, int cloexec)
{
	record_dup(lfd, fd, cloexec);
}

MP_EXPORT int accept(int s, struct sockaddr *addr, socklen_t *len)
{
	REAL(accept, int (*)(int, struct sockaddr *, socklen_t *));
	int fd = real_accept(s, addr, len);
	if (fd >= 0)
		record_accept(s, fd, 0);
	return fd;
}

MP_EXPORT int accept4(int s, struct sockaddr *addr, socklen_t *len, int flags)
{
	REAL(accept4, int (*)(int, struct sockaddr *, socklen_t *, int));
	int fd = real_accept4(s, addr, len, flags);
	if (fd >= 0)
		record_accept(s, fd, !!(flags & SOCK_CLOEXEC));
	return fd;
}

MP_EXPORT int pipe(int p[2])
{
	REAL(pipe, int (*)(int *));
	int r = real_pipe(p);
	if (r == 0) {
		record(p[0], MP_FD_PIPE, "read end", NULL, 0);
		record(p[1], MP_FD_PIPE, "write end", NULL, 0);
	}
	return r;
}

MP_EXPORT int pipe2(int p[2], int flags)
{
	REAL(pipe2, int (*)(int *, int));
	int r = real_pipe2(p, flags);
	if (r == 0) {
		record(p[0], MP_FD_PIPE, "read end", NULL, !!(flags & O_CLOEXEC));
		record(p[1], MP_FD_PIPE, "write end", NULL, !!(flags & O_CLOEXEC));
	}
	return r;
}

MP_EXPORT int dup(int fd)
{
	REAL(dup, int (*)(int));
	int n = real_dup(fd);
	if (n >= 0)
		record_dup(fd, n, 0);
	return n;
}

MP_EXPORT int dup2(int fd, int fd2)
{
	REAL(dup2, int (*)(int, int));
	int n = real_dup2(fd, fd2);
	if (n >= 0 && n != fd)
		record_dup(fd, n, 0);   /* replaces (closes) what fd2 was */
	return n;
}

MP_EXPORT int dup3(int fd, int fd2, int flags)
{
	REAL(dup3, int (*)(int, int, int));
	int n = real_dup3(fd, fd2, flags);
	if (n >= 0)
		record_dup(fd, n, !!(flags & O_CLOEXEC));
	return n;
}

MP_EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	REAL(fcntl, int (*)(int, int, ...));
	int r = real_fcntl(fd, cmd, arg);
	if (r >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC))
		record_dup(fd, r, cmd == F_DUPFD_CLOEXEC);
	else if (r >= 0 && cmd == F_SETFD && known(fd) && table[fd].res_class) {
		if ((long)arg & FD_CLOEXEC)
			table[fd].flags |= MP_RES_F_CLOEXEC;
		else
			table[fd].flags &= ~MP_RES_F_CLOEXEC;
	}
	return r;
}

MP_EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return fcntl(fd, cmd, arg);
}

#define SIMPLE_CREATOR(name, params, args, kind, detail, cloexec_expr)           \
	MP_EXPORT int name params                                                \
	{                                                                        \
		REAL(name, int (*) params);                                      \
		int fd = real_##name args;                                       \
		if (fd >= 0)                                                     \
			record(fd, kind, detail, NULL, cloexec_expr);            \
		return fd;                                                       \
	}

SIMPLE_CREATOR(creat, (const char *path, mode_t mode), (path, mode), MP_FD_FILE, path, 0)
SIMPLE_CREATOR(creat64, (const char *path, mode_t mode), (path, mode), MP_FD_FILE, path, 0)
SIMPLE_CREATOR(eventfd, (unsigned int v, int flags), (v, flags), MP_FD_EVENTFD, "", !!(flags & O_CLOEXEC))
SIMPLE_CREATOR(epoll_create, (int size), (size), MP_FD_EPOLL, "", 0)
SIMPLE_CREATOR(epoll_create1, (int flags), (flags), MP_FD_EPOLL, "", !!(flags & O_CLOEXEC))
SIMPLE_CREATOR(timerfd_create, (int clock, int flags), (clock, flags), MP_FD_TIMERFD, "",
	       !!(flags & O_CLOEXEC))
SIMPLE_CREATOR(inotify_init, (void), (), MP_FD_INOTIFY, "", 0)
SIMPLE_CREATOR(inotify_init1, (int flags), (flags), MP_FD_INOTIFY, "", !!(flags & O_CLOEXEC))
SIMPLE_CREATOR(memfd_create, (const char *n, unsigned int flags), (n, flags), MP_FD_MEMFD, n,
	       !!(flags & 1u /* MFD_CLOEXEC */))

MP_EXPORT int signalfd(int fd, const void *mask, int flags)
{
	REAL(signalfd, int (*)(int, const void *, int));
	int r = real_signalfd(fd, mask, flags);
	if (r >= 0 && r != fd)
		record(r, MP_FD_SIGNALFD, "", NULL, !!(flags & O_CLOEXEC));
	return r;
}

MP_EXPORT int close(int fd)
{
	REAL(close, int (*)(int));
	forget(fd);   /* before: another thread may get the number right after */
	return real_close(fd);
}

MP_EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
	REAL(close_range, int (*)(unsigned int, unsigned int, int));
	int r = real_close_range(first, last, flags);
	if (r == 0 && table) {
		unsigned int top = (unsigned int)__atomic_load_n(&top_fd, __ATOMIC_RELAXED);
	for (unsigned int fd = first; fd <= last && fd <= top && known((int)fd); fd++) {
			if (flags & 4 /* CLOSE_RANGE_CLOEXEC */) {
				if (table[fd].res_class)
					table[fd].flags |= MP_RES_F_CLOEXEC;
			} else {
				forget((int)fd);
			}
		}
	}
	return r;
}

MP_EXPORT void closefrom(int lowfd)
{
	REAL(closefrom, void (*)(int));
	real_closefrom(lowfd);
	int top = __atomic_load_n(&top_fd, __ATOMIC_RELAXED);
	for (int fd = lowfd < 0 ? 0 : lowfd; fd <= top && known(fd); fd++)
		forget(fd);
}

/* stdio and dirent open descriptors through libc's internal calls, which
 * the functions above do not see. */
#define FOPEN_LIKE(name)                                                         \
	MP_EXPORT FILE *name(const char *path, const char *mode)                 \
	{                                                                        \
		REAL(name, FILE *(*)(const char *, const char *));               \
		FILE *f = real_##name(path, mode);                               \
		if (f)                                                           \
			record(fileno(f), MP_FD_FILE, path, NULL, strchr(mode, 'e') != NULL); \
		return f;                                                        \
	}

FOPEN_LIKE(fopen)
FOPEN_LIKE(fopen64)

#define FREOPEN_LIKE(name)                                                       \
	MP_EXPORT FILE *name(const char *path, const char *mode, FILE *old)      \
	{                                                                        \
		REAL(name, FILE *(*)(const char *, const char *, FILE *));       \
		int oldfd = old ? fileno(old) : -1;                              \
		FILE *f = real_##name(path, mode, old);                          \
		forget(oldfd);                                                   \
		if (f)                                                           \
			record(fileno(f), MP_FD_FILE, path ? path : "", NULL,     \
			       strchr(mode, 'e') != NULL);                       \
		return f;                                                        \
	}

FREOPEN_LIKE(freopen)
FREOPEN_LIKE(freopen64)

MP_EXPORT int fclose(FILE *f)
{
	REAL(fclose, int (*)(FILE *));
	if (f)
		forget(fileno(f));
	return real_fclose(f);
}

MP_EXPORT DIR *opendir(const char *path)
{
	REAL(opendir, DIR *(*)(const char *));
	DIR *d = real_opendir(path);
	if (d)
		record(dirfd(d), MP_FD_DIR, path, NULL, 1);
	return d;
}

MP_EXPORT int closedir(DIR *d)
{
	REAL(closedir, int (*)(DIR *));
	DIR *volatile dv = d;   /* glibc declares d nonnull; programs still pass NULL */
	if (dv)
		forget(dirfd(dv));
	return real_closedir(d);
}

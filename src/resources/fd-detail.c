/* SPDX-License-Identifier: MIT */
/*
 * What a live descriptor is at snapshot time (see resources.h, mp_fd_describe): the path
 * the kernel names for it (absolute, as valgrind --track-fds shows it, even
 * when the program opened a relative name, or "(deleted)"), and for a
 * socket its local and peer addresses.  Runs in the target, in the
 * snapshot writer (possibly from a signal handler): raw system calls only,
 * no allocation, no stdio, errno left as it was.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/log.h"
#include "common/snapshot.h"
#include "resources/internal.h"

struct out {
	char *buf;
	size_t n, cap;            /* cap includes the NUL */
};

static void put(struct out *o, const char *s)
{
	for (; *s && o->n + 1 < o->cap; s++)
		o->buf[o->n++] = *s;
	o->buf[o->n] = 0;
}

static void put_num(struct out *o, uint64_t v)
{
	char num[24];
	put(o, mp_utoa(v, num));
}

static void put_hex16(struct out *o, unsigned v)
{
	static const char hex[] = "0123456789abcdef";
	char s[5];
	int n = 0;
	for (int shift = 12; shift >= 0; shift -= 4)
		if (n || (v >> shift) & 0xf || shift == 0)
			s[n++] = hex[(v >> shift) & 0xf];
	s[n] = 0;
	put(o, s);
}

/* "127.0.0.1:8080", "[::1]:80" (RFC 5952: the longest run of two or more
 * zero groups as "::"), "/run/x.sock", "@abstract", "(unnamed)". */
static void put_addr(struct out *o, const struct sockaddr_storage *ss, socklen_t len)
{
	if (ss->ss_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
		const uint8_t *a = (const uint8_t *)&in->sin_addr;
		for (int i = 0; i < 4; i++) {
			if (i)
				put(o, ".");
			put_num(o, a[i]);
		}
		put(o, ":");
		put_num(o, ntohs(in->sin_port));
	} else if (ss->ss_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
		const uint8_t *a = in6->sin6_addr.s6_addr;
		unsigned g[8];
		int best = -1, best_len = 1;
		for (int i = 0; i < 8; i++)
			g[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
		for (int i = 0; i < 8;) {
			int j = i;
			while (j < 8 && g[j] == 0)
				j++;
			if (j - i > best_len) {
				best = i;
				best_len = j - i;
			}
			i = j > i ? j : i + 1;
		}
		put(o, "[");
		for (int i = 0; i < 8; i++) {
			if (i == best) {
				put(o, "::");
				i += best_len - 1;
				continue;
			}
			if (i && i != best + best_len)
				put(o, ":");
			put_hex16(o, g[i]);
		}
		put(o, "]:");
		put_num(o, ntohs(in6->sin6_port));
	} else if (ss->ss_family == AF_UNIX) {
		const struct sockaddr_un *un = (const struct sockaddr_un *)ss;
		size_t plen = len > offsetof(struct sockaddr_un, sun_path)
				      ? len - offsetof(struct sockaddr_un, sun_path) : 0;
		if (plen == 0 || (plen == 1 && un->sun_path[0] == 0)) {
			put(o, "(unnamed)");
		} else if (un->sun_path[0] == 0) {
			put(o, "@");   /* abstract: no NUL at the end, may hold NULs */
			for (size_t i = 1; i < plen && i < sizeof(un->sun_path) && o->n + 1 < o->cap;
			     i++)
				o->buf[o->n++] = un->sun_path[i] ? un->sun_path[i] : '@';
			o->buf[o->n] = 0;
		} else {
			char path[sizeof(un->sun_path) + 1];
			size_t k = 0;
			for (; k < plen && k < sizeof(un->sun_path) && un->sun_path[k]; k++)
				path[k] = un->sun_path[k];
			path[k] = 0;
			put(o, path);
		}
	} else {
		put(o, "?");
	}
}

void mp_fd_format_addr(char *buf, size_t size, const void *addr, unsigned len)
{
	struct sockaddr_storage ss;
	struct out o = { buf, 0, size };

	if (size == 0)
		return;
	buf[0] = 0;
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, addr, len < sizeof(ss) ? len : sizeof(ss));
	put_addr(&o, &ss, len < sizeof(ss) ? len : sizeof(ss));
}

static void describe_socket(struct mp_snap_res_rec *r)
{
	struct sockaddr_storage local, peer;
	socklen_t llen = sizeof(local), plen = sizeof(peer);
	int listening = 0;
	socklen_t ol = sizeof(listening);
	int fd = (int)r->id;

	memset(&local, 0, sizeof(local));
	memset(&peer, 0, sizeof(peer));
	if (syscall(SYS_getsockname, fd, &local, &llen) < 0)
		return;   /* keep the family and type recorded at creation */
	int family = local.ss_family;
	if (family != AF_INET && family != AF_INET6 && family != AF_UNIX)
		return;
	bool have_peer = syscall(SYS_getpeername, fd, &peer, &plen) == 0;
	syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ol);

	/* The recorded "family type" stays first ("inet stream"), cut at its
	 * end so a description made at an earlier snapshot is replaced. */
	char *sp = memchr(r->detail, ' ', sizeof(r->detail));
	char *end = sp ? memchr(sp + 1, ' ', sizeof(r->detail) - (size_t)(sp + 1 - r->detail)) : NULL;
	struct out o = { r->detail, end ? (size_t)(end - r->detail) : strnlen(r->detail,
						       sizeof(r->detail) - 1), sizeof(r->detail) };
	r->detail[o.n] = 0;
	bool bound = family == AF_UNIX ? llen > offsetof(struct sockaddr_un, sun_path) + 1
		     : family == AF_INET ? ((struct sockaddr_in *)&local)->sin_port != 0
					 : ((struct sockaddr_in6 *)&local)->sin6_port != 0;
	put(&o, " ");
	if (bound || have_peer)
		put_addr(&o, &local, llen);
	else
		put(&o, "unbound");
	if (listening)
		put(&o, " listening");
	else if (have_peer) {
		put(&o, " <-> ");
		put_addr(&o, &peer, plen);
	}
}

void mp_fd_describe(struct mp_snap_res_rec *r)
{
	int saved = errno;

	if (r->kind == MP_FD_SOCKET) {
		describe_socket(r);
	} else if (r->kind == MP_FD_FILE || r->kind == MP_FD_DIR || r->kind == MP_FD_MEMFD ||
		   r->kind == MP_FD_OTHER) {
		/* The kernel's name: absolute, " (deleted)" for a removed file,
		 * "memfd:name", "pipe:[123]" for what was inherited. */
		char link[40] = "/proc/self/fd/", target[sizeof(r->detail)], num[24];
		size_t l = strlen(link);
		for (const char *s = mp_utoa((uint64_t)r->id, num); *s && l < sizeof(link) - 1; s++)
			link[l++] = *s;
		link[l] = 0;
		long n = syscall(SYS_readlink, link, target, sizeof(target) - 1);
		if (n > 0) {
			memcpy(r->detail, target, (size_t)n);
			r->detail[n] = 0;
		}
	}
	errno = saved;
}

/* SPDX-License-Identifier: MIT */
/*
 * What the shim says a socket is bound or connected to
 * (resources/fd-detail.c): IPv4, IPv6 with RFC 5952's "::" for the longest
 * run of zero groups (the first of equal runs, never a single group), unix
 * paths, abstract and unnamed unix sockets.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "resources/resources.h"
#include "tap.h"

static void check6(const char *text, int port, const char *want)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port) };
	char buf[128];

	inet_pton(AF_INET6, text, &a.sin6_addr);
	mp_fd_format_addr(buf, sizeof(buf), &a, sizeof(a));
	CHECK_STR(buf, want);
}

int main(void)
{
	char buf[128];
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(8080) };

	inet_pton(AF_INET, "10.1.255.0", &a4.sin_addr);
	mp_fd_format_addr(buf, sizeof(buf), &a4, sizeof(a4));
	CHECK_STR(buf, "10.1.255.0:8080");

	check6("::1", 443, "[::1]:443");
	check6("::", 0, "[::]:0");
	check6("2001:db8::1", 80, "[2001:db8::1]:80");
	check6("2001:db8:0:1:1:1:1:1", 1, "[2001:db8:0:1:1:1:1:1]:1");   /* one zero: no "::" */
	check6("2001:0:0:1:0:0:0:1", 2, "[2001:0:0:1::1]:2");           /* the longest run */
	check6("2001:db8:0:0:1:0:0:1", 3, "[2001:db8::1:0:0:1]:3");      /* the first of equals */
	check6("fe80::", 4, "[fe80::]:4");
	check6("1:2:3:4:5:6:7:8", 65535, "[1:2:3:4:5:6:7:8]:65535");
	check6("::ffff:192.0.2.1", 5, "[::ffff:c000:201]:5");

	struct sockaddr_un un = { .sun_family = AF_UNIX };
	strcpy(un.sun_path, "/run/app.sock");
	mp_fd_format_addr(buf, sizeof(buf), &un, sizeof(un));
	CHECK_STR(buf, "/run/app.sock");
	memcpy(un.sun_path, "\0hidden", 7);
	mp_fd_format_addr(buf, sizeof(buf), &un, (unsigned)offsetof(struct sockaddr_un, sun_path) + 7);
	CHECK_STR(buf, "@hidden");
	mp_fd_format_addr(buf, sizeof(buf), &un, (unsigned)offsetof(struct sockaddr_un, sun_path));
	CHECK_STR(buf, "(unnamed)");

	/* cut, always terminated */
	mp_fd_format_addr(buf, 6, &a4, sizeof(a4));
	CHECK_STR(buf, "10.1.");
	return tap_done();
}

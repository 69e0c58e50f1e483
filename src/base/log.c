/* SPDX-License-Identifier: MIT */
/* Messages from inside the target (see log.h). */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"

#define MAX_WARNINGS 8

static int nwarnings;

static size_t append(char *buf, size_t len, size_t cap, const char *s)
{
	if (!s)
		return len;
	size_t n = strlen(s);
	if (n > cap - len)
		n = cap - len;
	memcpy(buf + len, s, n);
	return len + n;
}

void mp_log(const char *a, const char *b, const char *c, const char *d)
{
	char buf[1024];
	size_t cap = sizeof(buf) - 1, len = 0;
	len = append(buf, len, cap, "memprof: ");
	len = append(buf, len, cap, a);
	len = append(buf, len, cap, b);
	len = append(buf, len, cap, c);
	len = append(buf, len, cap, d);
	buf[len++] = '\n';
	ssize_t r = write(STDERR_FILENO, buf, len);
	(void)r;
}

void mp_warn(const char *a, const char *b, const char *c, const char *d)
{
	if (__atomic_fetch_add(&nwarnings, 1, __ATOMIC_RELAXED) >= MAX_WARNINGS)
		return;
	char buf[512];
	size_t cap = sizeof(buf) - 1, len = 0;
	len = append(buf, len, cap, "warning: ");
	len = append(buf, len, cap, a);
	buf[len] = 0;
	mp_log(buf, b, c, d);
}

uint64_t mp_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

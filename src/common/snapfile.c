/* SPDX-License-Identifier: MIT */
/* Names in a snapshot directory (see snapfile.h). */
#include <limits.h>
#include <string.h>

#include "common/snapfile.h"
#include "common/utoa.h"

#define PREFIX "memprof."

/* Append s to buf at *n; false when it does not fit (NUL included). */
static int append(char *buf, size_t cap, size_t *n, const char *s)
{
	size_t l = strlen(s);
	if (*n + l >= cap)
		return 0;
	memcpy(buf + *n, s, l);
	*n += l;
	buf[*n] = 0;
	return 1;
}

static int append_num(char *buf, size_t cap, size_t *n, uint64_t v)
{
	char num[MP_UTOA_SIZE];
	return append(buf, cap, n, mp_utoa(v, num));
}

size_t mp_snapfile_path(char *buf, size_t cap, const char *dir, enum mp_snapfile kind,
			uint64_t pid, uint32_t seq, const char *suffix)
{
	size_t n = 0;
	int ok;

	if (!cap)
		return 0;
	buf[0] = 0;
	ok = !dir || (append(buf, cap, &n, dir) && append(buf, cap, &n, "/"));
	ok = ok && append(buf, cap, &n, PREFIX) && append_num(buf, cap, &n, pid);
	if (kind == MP_SNAPFILE_NUMBERED || kind == MP_SNAPFILE_PROFILE || kind == MP_SNAPFILE_LIVE)
		ok = ok && append(buf, cap, &n, ".") && append_num(buf, cap, &n, seq);
	ok = ok && append(buf, cap, &n, kind == MP_SNAPFILE_SEQ ? ".seq"
				       : kind == MP_SNAPFILE_PROFILE ? ".profile"
				       : kind == MP_SNAPFILE_LIVE ? ".live" : ".snap");
	ok = ok && (!suffix || append(buf, cap, &n, suffix));
	return ok ? n : 0;
}

/* Digits at *p up to `max`: the value, *p moved past them; 0 for none,
 * too many or too much. */
static uint64_t number(const char **p, uint64_t max)
{
	uint64_t v = 0;
	const char *s = *p;

	if (*s < '0' || *s > '9')
		return 0;
	for (; *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > max)
			return 0;
	}
	*p = s;
	return v;
}

int mp_snapfile_parse(const char *name, uint64_t *ret_pid, uint32_t *ret_seq)
{
	const char *p = name;
	uint64_t pid, seq = 0;
	int kind;

	if (strncmp(p, PREFIX, sizeof(PREFIX) - 1) != 0)
		return -1;
	p += sizeof(PREFIX) - 1;
	pid = number(&p, INT_MAX);
	if (!pid)
		return -1;
	if (strcmp(p, ".snap") == 0) {
		kind = MP_SNAPFILE_FINAL;
	} else if (strcmp(p, ".seq") == 0) {
		kind = MP_SNAPFILE_SEQ;
	} else {
		if (*p++ != '.')
			return -1;
		seq = number(&p, UINT32_MAX);
		if (!seq)
			return -1;
		if (strcmp(p, ".snap") == 0)
			kind = MP_SNAPFILE_NUMBERED;
		else if (strcmp(p, ".profile") == 0)
			kind = MP_SNAPFILE_PROFILE;
		else if (strcmp(p, ".live") == 0)
			kind = MP_SNAPFILE_LIVE;
		else
			return -1;
	}
	*ret_pid = pid;
	*ret_seq = (uint32_t)seq;
	return kind;
}

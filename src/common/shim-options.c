/* SPDX-License-Identifier: MIT */
/*
 * The shim's option table and its parser (see shim-options.h): on the
 * environment string in place, without allocating, as mimalloc reads its
 * options.
 */
#include <stddef.h>
#include <string.h>

#include "common/shim-options.h"
#include "common/utoa.h"

const struct mp_option_desc mp_options_table[] = {
	{ "rate", MP_OPT_U64, offsetof(struct mp_options, rate), 524288, 0, UINT64_MAX / 4,
	  "average bytes between samples; 1 = every allocation, 0 = off" },
	{ "depth", MP_OPT_U32, offsetof(struct mp_options, depth), 64, 1, MP_MAX_DEPTH,
	  "frames kept per stack" },
	{ "verbose", MP_OPT_BOOL, offsetof(struct mp_options, verbose), 0, 0, 1,
	  "print the effective options at start" },
	{ "snapdir", MP_OPT_PATH, offsetof(struct mp_options, snapdir), 0, 0, 0,
	  "directory for snapshots (default: the working directory at start)" },
	{ "interval", MP_OPT_DURATION, offsetof(struct mp_options, interval_ns), 0, 0, UINT64_MAX / 4,
	  "write a numbered snapshot this often (500ms, 10s, 1m; 0 = never)" },
	{ "snapshot_signal", MP_OPT_U32, offsetof(struct mp_options, snapshot_signal), 12, 0, 64,
	  "signal number that asks for a snapshot (default 12, SIGUSR2; 0 = none)" },
	{ "leak", MP_OPT_BOOL, offsetof(struct mp_options, leak), 0, 0, 1,
	  "scan the heap for leaks at exit (needs allocator=memprof)" },
	{ "live", MP_OPT_BOOL, offsetof(struct mp_options, live), 0, 0, 1,
	  "run the snapshot thread and answer live requests (memprof run --http)" },
	{ "allocator", MP_OPT_ALLOCATOR, offsetof(struct mp_options, allocator), MP_ALLOCATOR_MEMPROF,
	  0, 1, "memprof (own size-class allocator) or system (glibc's malloc)" },
	{ "unwind", MP_OPT_U32, offsetof(struct mp_options, unwind), 0, 0, 2,
	  "stack walker: 0 = memprof's (libgcc's where it cannot), 1 = libunwind only, "
	  "2 = both, counting the stacks where they differ (for tests)" },
	{ "shm", MP_OPT_BOOL, offsetof(struct mp_options, shm), 0, 0, 1,
	  "share the tables with memprof run through snapdir's socket (profiles after any death)" },
};

const size_t mp_options_count = sizeof(mp_options_table) / sizeof(mp_options_table[0]);

const struct mp_option_desc *mp_options_find(const char *name, size_t n)
{
	for (size_t i = 0; i < mp_options_count; i++)
		if (strlen(mp_options_table[i].name) == n &&
		    memcmp(mp_options_table[i].name, name, n) == 0)
			return &mp_options_table[i];
	return NULL;
}

void mp_options_default(struct mp_options *o)
{
	memset(o, 0, sizeof(*o));
	for (size_t i = 0; i < mp_options_count; i++) {
		const struct mp_option_desc *d = &mp_options_table[i];
		char *f = (char *)o + d->offset;
		switch (d->type) {
		case MP_OPT_U64:
		case MP_OPT_DURATION: *(uint64_t *)f = d->def; break;
		case MP_OPT_U32: *(uint32_t *)f = (uint32_t)d->def; break;
		case MP_OPT_BOOL:
		case MP_OPT_ALLOCATOR: *(int *)f = (int)d->def; break;
		case MP_OPT_PATH: break;
		}
	}
}

/* Decimal, no sign, no junk, no overflow.  0 on success. */
static int parse_u64(const char *s, size_t n, uint64_t *ret)
{
	uint64_t v = 0;
	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*ret = v;
	return 0;
}

/* A duration: <digits><unit> terms, units ns us ms s m h ("1m30s"), or a
 * bare number of seconds ("2", as the CLI's options take it).
 * Nanoseconds in *ret; 0 on success. */
static int parse_duration(const char *s, size_t n, uint64_t *ret)
{
	static const struct { const char *u; uint64_t ns; } units[] = {
		{ "ns", 1 }, { "us", 1000 }, { "ms", 1000000 }, { "s", 1000000000ull },
		{ "m", 60000000000ull }, { "h", 3600000000000ull },
	};
	uint64_t total = 0, v;
	size_t i = 0;
	if (n == 0)
		return -1;
	if (parse_u64(s, n, &v) == 0) {
		if (v > (UINT64_MAX / 4) / 1000000000ull)
			return -1;
		*ret = v * 1000000000ull;
		return 0;
	}
	while (i < n) {
		size_t d = i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (parse_u64(s + d, i - d, &v) < 0)
			return -1;
		size_t best = 0, blen = 0;
		for (size_t k = 0; k < sizeof(units) / sizeof(units[0]); k++) {
			size_t l = strlen(units[k].u);
			if (l > blen && l <= n - i && memcmp(s + i, units[k].u, l) == 0) {
				best = k;
				blen = l;
			}
		}
		if (!blen || v > (UINT64_MAX / 4) / units[best].ns)
			return -1;
		total += v * units[best].ns;
		if (total > UINT64_MAX / 4)
			return -1;
		i += blen;
	}
	*ret = total;
	return 0;
}

int mp_options_colon_at(const char *s, size_t n, size_t *ret_at)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] != ':')
			continue;
		for (size_t k = 0; k < mp_options_count; k++) {
			size_t l = strlen(mp_options_table[k].name);
			if (i + 1 + l < n && memcmp(s + i + 1, mp_options_table[k].name, l) == 0 &&
			    s[i + 1 + l] == '=') {
				if (ret_at)
					*ret_at = i;
				return 1;
			}
		}
	}
	return 0;
}

/* Apply one item, item[0..n).  NULL, or why it is refused. */
static const char *set_one(struct mp_options *o, const char *item, size_t n)
{
	const char *eq = memchr(item, '=', n);
	if (!eq)
		return "missing value";
	size_t klen = (size_t)(eq - item);
	const char *val = eq + 1;
	size_t vlen = n - klen - 1;
	if (mp_options_colon_at(val, vlen, NULL))
		return "colon";
	const struct mp_option_desc *d = mp_options_find(item, klen);
	if (!d)
		return "unknown option";
	char *f = (char *)o + d->offset;
	uint64_t v;
	switch (d->type) {
	case MP_OPT_PATH:
		if (vlen == 0 || vlen >= PATH_MAX)
			return "bad value";
		memcpy(f, val, vlen);
		f[vlen] = 0;
		return NULL;
	case MP_OPT_ALLOCATOR:
		if (vlen == 7 && memcmp(val, "memprof", 7) == 0)
			*(int *)f = MP_ALLOCATOR_MEMPROF;
		else if (vlen == 6 && memcmp(val, "system", 6) == 0)
			*(int *)f = MP_ALLOCATOR_SYSTEM;
		else
			return "bad value";
		return NULL;
	default:
		break;
	}
	if ((d->type == MP_OPT_DURATION ? parse_duration(val, vlen, &v)
					: parse_u64(val, vlen, &v)) < 0 ||
	    v < d->min || v > d->max)
		return "bad value";
	if (d->type == MP_OPT_U64 || d->type == MP_OPT_DURATION)
		*(uint64_t *)f = v;
	else if (d->type == MP_OPT_U32)
		*(uint32_t *)f = (uint32_t)v;
	else
		*(int *)f = (int)v;
	return NULL;
}

int mp_options_parse(struct mp_options *o, const char *s, mp_options_warn_fn warn, void *ctx)
{
	int bad = 0;
	if (!s)
		return 0;
	while (*s) {
		const char *end = strchr(s, ',');
		size_t n = end ? (size_t)(end - s) : strlen(s);
		if (n) {
			const char *why = set_one(o, s, n);
			if (why) {
				bad++;
				if (warn)
					warn(ctx, why, s, n);
			}
		}
		s += n;
		if (*s == ',')
			s++;
	}
	return bad;
}

const char *mp_options_value(const struct mp_options *o, const struct mp_option_desc *d,
			     int units, char *buf)
{
	const char *f = (const char *)o + d->offset;
	switch (d->type) {
	case MP_OPT_U64: return mp_utoa(*(const uint64_t *)f, buf);
	case MP_OPT_U32: return mp_utoa(*(const uint32_t *)f, buf);
	case MP_OPT_BOOL: return mp_utoa((uint64_t)*(const int *)f, buf);
	case MP_OPT_PATH: return f;
	case MP_OPT_DURATION:
		mp_utoa(*(const uint64_t *)f, buf);
		if (units)
			strcat(buf, "ns");
		return buf;
	case MP_OPT_ALLOCATOR:
		return *(const int *)f == MP_ALLOCATOR_SYSTEM ? "system" : "memprof";
	}
	return "";
}

/* Append s[0..n) to buf (cap), at *len, which counts every byte. */
static void put(char *buf, size_t cap, size_t *len, const char *s, size_t n)
{
	if (*len < cap) {
		size_t room = cap - 1 - *len;
		memcpy(buf + *len, s, n < room ? n : room);
	}
	*len += n;
}

long mp_options_format(char *buf, size_t cap, const struct mp_options *o, const char *names)
{
	size_t len = 0;
	char num[24];
	while (*names) {
		size_t n = strcspn(names, ",");
		const struct mp_option_desc *d = mp_options_find(names, n);
		if (!d)
			return -1;
		const char *v = mp_options_value(o, d, 1, num);
		if (len)
			put(buf, cap, &len, ",", 1);
		put(buf, cap, &len, d->name, strlen(d->name));
		put(buf, cap, &len, "=", 1);
		put(buf, cap, &len, v, strlen(v));
		names += n;
		if (*names == ',')
			names++;
	}
	if (cap)
		buf[len < cap ? len : cap - 1] = 0;
	return (long)len;
}

/* SPDX-License-Identifier: MIT */
/*
 * Shim options: one table, read from MEMPROF_OPTIONS ("rate=1,depth=32") by
 * the shim itself, never from argv.  Parsing works on the environment string
 * in place, without allocating.  An unknown key or bad value gets one warning
 * and the default is kept; verbose=1 prints the effective table.
 */
#include <stddef.h>
#include <string.h>

#include "sample/stacks.h"
#include "sample/unwind.h"
#include "shim/shim.h"

enum opt_type { OPT_U64, OPT_U32, OPT_BOOL, OPT_PATH, OPT_DURATION, OPT_ALLOCATOR };

struct opt_desc {
	const char *name;
	enum opt_type type;
	size_t offset;
	uint64_t def, min, max;
	const char *help;
};

static const struct opt_desc opts[] = {
	{ "rate", OPT_U64, offsetof(struct mp_options, rate), 524288, 0, UINT64_MAX / 4,
	  "average bytes between samples; 1 = every allocation, 0 = off" },
	{ "depth", OPT_U32, offsetof(struct mp_options, depth), 64, 1, MP_MAX_DEPTH,
	  "frames kept per stack" },
	{ "verbose", OPT_BOOL, offsetof(struct mp_options, verbose), 0, 0, 1,
	  "print the effective options at start" },
	{ "snapdir", OPT_PATH, offsetof(struct mp_options, snapdir), 0, 0, 0,
	  "directory for snapshots (default: the working directory at start)" },
	{ "interval", OPT_DURATION, offsetof(struct mp_options, interval_ns), 0, 0, UINT64_MAX / 4,
	  "write a numbered snapshot this often (500ms, 10s, 1m; 0 = never)" },
	{ "snapshot_signal", OPT_U32, offsetof(struct mp_options, snapshot_signal), 12, 0, 64,
	  "signal number that asks for a snapshot (default 12, SIGUSR2; 0 = none)" },
	{ "leak", OPT_BOOL, offsetof(struct mp_options, leak), 0, 0, 1,
	  "scan the heap for leaks at exit (needs allocator=memprof)" },
	{ "allocator", OPT_ALLOCATOR, offsetof(struct mp_options, allocator), MP_ALLOCATOR_MEMPROF, 0, 1,
	  "memprof (own size-class allocator) or system (glibc's malloc)" },
	{ "unwind", OPT_U32, offsetof(struct mp_options, unwind), 0, 0, 2,
	  "stack walker: 0 = memprof's (libgcc's where it cannot), 1 = libunwind only, "
	  "2 = both, counting the stacks where they differ (for tests)" },
};

void mp_options_default(struct mp_options *o)
{
	memset(o, 0, sizeof(*o));
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		char *f = (char *)o + opts[i].offset;
		switch (opts[i].type) {
		case OPT_U64: *(uint64_t *)f = opts[i].def; break;
		case OPT_U32: *(uint32_t *)f = (uint32_t)opts[i].def; break;
		case OPT_BOOL: *(int *)f = (int)opts[i].def; break;
		case OPT_PATH: break;
		case OPT_DURATION: *(uint64_t *)f = opts[i].def; break;
		case OPT_ALLOCATOR: *(int *)f = (int)opts[i].def; break;
		}
	}
}

static int parse_u64(const char *s, size_t n, uint64_t *ret);

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
		uint64_t v;
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

static void bad(const char *what, const char *s, size_t n)
{
	char buf[128];
	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	memcpy(buf, s, n);
	buf[n] = 0;
	mp_warn(what, " in MEMPROF_OPTIONS: '", buf, "', ignoring");
}

/* Whether `val` holds ":<option name>=": options separated the sanitizers'
 * way ("rate=1:verbose=1"), where MEMPROF_OPTIONS takes ','. */
static int colon_separated(const char *val, size_t vlen)
{
	for (size_t i = 0; i < vlen; i++) {
		if (val[i] != ':')
			continue;
		for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]); k++) {
			size_t l = strlen(opts[k].name);
			if (i + 1 + l < vlen && memcmp(val + i + 1, opts[k].name, l) == 0 &&
			    val[i + 1 + l] == '=')
				return 1;
		}
	}
	return 0;
}

static void set_one(struct mp_options *o, const char *kv, size_t n)
{
	const char *eq = memchr(kv, '=', n);
	if (!eq) {
		bad("missing value", kv, n);
		return;
	}
	size_t klen = (size_t)(eq - kv);
	const char *val = eq + 1;
	size_t vlen = n - klen - 1;
	if (colon_separated(val, vlen)) {
		char buf[128];
		if (n >= sizeof(buf))
			n = sizeof(buf) - 1;
		memcpy(buf, kv, n);
		buf[n] = 0;
		mp_warn("MEMPROF_OPTIONS separates options with ',', not ':': '", buf,
			"', ignoring", NULL);
		return;
	}
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		const struct opt_desc *d = &opts[i];
		if (strlen(d->name) != klen || memcmp(d->name, kv, klen) != 0)
			continue;
		char *f = (char *)o + d->offset;
		uint64_t v;
		if (d->type == OPT_PATH) {
			if (vlen == 0 || vlen >= PATH_MAX) {
				bad("bad value", kv, n);
				return;
			}
			memcpy(f, val, vlen);
			f[vlen] = 0;
			return;
		}
		if (d->type == OPT_ALLOCATOR) {
			if (vlen == 7 && memcmp(val, "memprof", 7) == 0)
				*(int *)f = MP_ALLOCATOR_MEMPROF;
			else if (vlen == 6 && memcmp(val, "system", 6) == 0)
				*(int *)f = MP_ALLOCATOR_SYSTEM;
			else
				bad("bad value", kv, n);
			return;
		}
		if ((d->type == OPT_DURATION ? parse_duration(val, vlen, &v)
					     : parse_u64(val, vlen, &v)) < 0 ||
		    v < d->min || v > d->max) {
			bad("bad value", kv, n);
			return;
		}
		if (d->type == OPT_U64 || d->type == OPT_DURATION)
			*(uint64_t *)f = v;
		else if (d->type == OPT_U32)
			*(uint32_t *)f = (uint32_t)v;
		else
			*(int *)f = (int)v;
		return;
	}
	bad("unknown option", kv, n);
}

void mp_options_parse(struct mp_options *o, const char *s)
{
	if (!s)
		return;
	while (*s) {
		const char *end = strchr(s, ',');
		size_t n = end ? (size_t)(end - s) : strlen(s);
		if (n)
			set_one(o, s, n);
		s += n;
		if (*s == ',')
			s++;
	}
}

void mp_options_print(const struct mp_options *o)
{
	char num[24];
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		const char *f = (const char *)o + opts[i].offset;
		const char *val = num;
		switch (opts[i].type) {
		case OPT_U64: mp_utoa(*(const uint64_t *)f, num); break;
		case OPT_U32: mp_utoa(*(const uint32_t *)f, num); break;
		case OPT_BOOL: mp_utoa((uint64_t)*(const int *)f, num); break;
		case OPT_PATH: val = f; break;
		case OPT_DURATION: mp_utoa(*(const uint64_t *)f, num); break;
		case OPT_ALLOCATOR:
			val = *(const int *)f == MP_ALLOCATOR_SYSTEM ? "system" : "memprof";
			break;
		}
		mp_log("option ", opts[i].name, "=", val);
	}
}

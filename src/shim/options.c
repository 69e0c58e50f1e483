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
#include "shim/shim.h"

enum opt_type { OPT_U64, OPT_U32, OPT_BOOL, OPT_PATH };

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

static void bad(const char *what, const char *s, size_t n)
{
	char buf[128];
	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	memcpy(buf, s, n);
	buf[n] = 0;
	mp_warn(what, " in MEMPROF_OPTIONS: '", buf, "', ignoring");
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
		if (parse_u64(val, vlen, &v) < 0 || v < d->min || v > d->max) {
			bad("bad value", kv, n);
			return;
		}
		if (d->type == OPT_U64)
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
		}
		mp_log("option ", opts[i].name, "=", val);
	}
}

/* SPDX-License-Identifier: MIT */
/*
 * Number, size and duration parsing for CLI options (src/cli/options.c):
 * tables of good inputs with their exact values, and of bad ones with their
 * error, checking that the output is left untouched on error.
 */
#include <errno.h>
#include <stdlib.h>
#include <stdint.h>

#include "cli/options.h"
#include "tap.h"

#define UNTOUCHED 0xdeadbeefcafef00dull
#define N(a) (sizeof(a) / sizeof((a)[0]))

struct good {
	const char *in;
	uint64_t want;
};

struct bad {
	const char *in;
	int err;
};

typedef int (*parse_fn)(const char *s, uint64_t *ret);

static void run_good(const char *what, parse_fn fn, const struct good *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t v = UNTOUCHED;
		int r = fn(t[i].in, &v);

		printf("# %s(\"%s\")\n", what, t[i].in);
		CHECK_INT(r, 0);
		CHECK_U64(v, t[i].want);
	}
}

static void run_bad(const char *what, parse_fn fn, const struct bad *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t v = UNTOUCHED;
		int r = fn(t[i].in, &v);

		printf("# %s(\"%s\")\n", what, t[i].in ? t[i].in : "(null)");
		CHECK_INT(r, t[i].err);
		CHECK_U64(v, UNTOUCHED);
	}
}

static const struct good u64_good[] = {
	{ "0", 0 },
	{ "1", 1 },
	{ "42", 42 },
	{ "007", 7 },
	{ "18446744073709551615", UINT64_MAX },
	{ "000000000000000000000000018446744073709551615", UINT64_MAX },
};

static const struct bad u64_bad[] = {
	{ NULL, -EINVAL },
	{ "", -EINVAL },
	{ " 1", -EINVAL },
	{ "1 ", -EINVAL },
	{ "+1", -EINVAL },
	{ "-1", -EINVAL },
	{ "0x10", -EINVAL },
	{ "1K", -EINVAL },
	{ "1.0", -EINVAL },
	{ "18446744073709551616", -EOVERFLOW },
	{ "99999999999999999999999", -EOVERFLOW },
	/* Junk wins over overflow. */
	{ "99999999999999999999999x", -EINVAL },
};

static const struct good size_good[] = {
	{ "0", 0 },
	{ "1", 1 },
	{ "512", 512 },
	{ "1B", 1 },
	{ "1b", 1 },
	{ "512K", 524288 },
	{ "512k", 524288 },
	{ "512KB", 524288 },
	{ "512KiB", 524288 },
	{ "512kib", 524288 },
	{ "0K", 0 },
	{ "1M", 1048576 },
	{ "3MiB", 3 * 1048576ull },
	{ "2mb", 2 * 1048576ull },
	{ "1G", 1073741824ull },
	{ "4GiB", 4 * 1073741824ull },
	{ "18446744073709551615", UINT64_MAX },
	{ "18014398509481983K", 18014398509481983ull * 1024 },  /* 2^54 - 1 K */
	{ "17179869183G", 17179869183ull << 30 },              /* 2^34 - 1 G */
};

static const struct bad size_bad[] = {
	{ NULL, -EINVAL },
	{ "", -EINVAL },
	{ "K", -EINVAL },
	{ " 1K", -EINVAL },
	{ "1 K", -EINVAL },
	{ "1K ", -EINVAL },
	{ "-1K", -EINVAL },
	{ "+1K", -EINVAL },
	{ "1.5M", -EINVAL },
	{ "1T", -EINVAL },
	{ "1KK", -EINVAL },
	{ "1Ki", -EINVAL },
	{ "1iB", -EINVAL },
	{ "1KBB", -EINVAL },
	{ "1Kx", -EINVAL },
	{ "0x1000", -EINVAL },
	{ "18446744073709551616", -EOVERFLOW },
	{ "18014398509481984K", -EOVERFLOW },   /* 2^54 K = 2^64 */
	{ "17592186044416M", -EOVERFLOW },      /* 2^44 M = 2^64 */
	{ "17179869184G", -EOVERFLOW },         /* 2^34 G = 2^64 */
	{ "99999999999999999999999G", -EOVERFLOW },
	{ "99999999999999999999999Q", -EINVAL },
};

#define NS 1ull
#define US 1000ull
#define MS 1000000ull
#define SEC 1000000000ull

static const struct good duration_good[] = {
	{ "0", 0 },
	{ "0s", 0 },
	{ "1ns", 1 },
	{ "7us", 7 * US },
	{ "500ms", 500 * MS },
	{ "10s", 10 * SEC },
	{ "2m", 120 * SEC },
	{ "3h", 3 * 3600 * SEC },
	{ "1m30s", 90 * SEC },
	{ "1h2m3s4ms5us6ns", 3723 * SEC + 4 * MS + 5 * US + 6 * NS },
	{ "1s1s", 2 * SEC },
	{ "18446744073709551615ns", UINT64_MAX },
	{ "18446744073s", 18446744073ull * SEC },
	/* A bare number is seconds. */
	{ "1", SEC },
	{ "2", 2 * SEC },
	{ "00", 0 },
	{ "0.5", 500 * MS },
	{ ".25", 250 * MS },
	{ "18446744073", 18446744073ull * SEC },
	/* Fractions. */
	{ "1.5s", 1500 * MS },
	{ "1.5m", 90 * SEC },
	{ "0.001ms", 1 * US },
	{ "1.0000000019s", SEC + 1 },             /* digits past the 9th dropped */
	{ "2.5ms500us", 3 * MS },
};

static const struct bad duration_bad[] = {
	{ NULL, -EINVAL },
	{ "", -EINVAL },
	{ ".", -EINVAL },
	{ "1.", -EINVAL },
	{ "1..5", -EINVAL },
	{ "1.5.5", -EINVAL },
	{ "1.s", -EINVAL },
	{ ".s", -EINVAL },
	{ "18446744074", -EOVERFLOW },            /* bare seconds > 2^64 ns */
	{ "18446744073.8", -EOVERFLOW },
	{ "s", -EINVAL },
	{ "10 s", -EINVAL },
	{ " 10s", -EINVAL },
	{ "10s ", -EINVAL },
	{ "-1s", -EINVAL },
	{ "10sec", -EINVAL },
	{ "10S", -EINVAL },
	{ "1d", -EINVAL },
	{ "1m30", -EINVAL },
	{ "ms", -EINVAL },
	{ "18446744073709551616ns", -EOVERFLOW },
	{ "18446744074s", -EOVERFLOW },           /* > 2^64 ns */
	{ "18446744073709551615ns1ns", -EOVERFLOW },
	{ "99999999999999999999999h", -EOVERFLOW },
	{ "99999999999999999999999x", -EINVAL },
};

/* Counts: 0 to INT_MAX, digits only. */
static void test_count(void)
{
	static const struct { const char *s; int r, v; } t[] = {
		{ "0", 0, 0 }, { "7", 0, 7 }, { "007", 0, 7 }, { "2147483647", 0, 2147483647 },
		{ "2147483648", -EINVAL, 0 }, { "-1", -EINVAL, 0 }, { "+1", -EINVAL, 0 },
		{ "", -EINVAL, 0 }, { "1 ", -EINVAL, 0 }, { " 1", -EINVAL, 0 }, { "1x", -EINVAL, 0 },
		{ "99999999999999999999", -EINVAL, 0 },
	};
	for (size_t i = 0; i < N(t); i++) {
		int v = -42;
		CHECK_INT(mp_parse_count(t[i].s, &v), t[i].r);
		CHECK_INT(v, t[i].r == 0 ? t[i].v : -42);
	}
}

/* MEMPROF_OPTIONS in the sanitizers' ':' style is refused, with the value
 * as it should be; paths with a ':' are fine. */
static void test_shim_options(void)
{
	static const struct { const char *s, *fixed; } t[] = {
		{ "rate=1,verbose=1", NULL }, { "", NULL }, { "snapdir=/tmp/a:b", NULL },
		{ "snapdir=/tmp/x:1=2", NULL }, { "rate=1:verbose=1", "rate=1,verbose=1" },
		{ "verbose=1,rate=1:depth=8:leak=1", "verbose=1,rate=1,depth=8,leak=1" },
		{ "snapshot_signal=12:rate=4", "snapshot_signal=12,rate=4" },
	};
	for (size_t i = 0; i < N(t); i++) {
		char *fixed = (char *)"untouched";
		int r = mp_check_shim_options(t[i].s, &fixed);
		CHECK_INT(r, t[i].fixed ? -EINVAL : 0);
		CHECK_STR(fixed, t[i].fixed ? t[i].fixed : "untouched");
		if (r < 0)
			free(fixed);
	}
}

int main(void)
{
	run_good("mp_parse_u64", mp_parse_u64, u64_good, N(u64_good));
	run_bad("mp_parse_u64", mp_parse_u64, u64_bad, N(u64_bad));
	run_good("mp_parse_size", mp_parse_size, size_good, N(size_good));
	run_bad("mp_parse_size", mp_parse_size, size_bad, N(size_bad));
	run_good("mp_parse_duration", mp_parse_duration, duration_good, N(duration_good));
	run_bad("mp_parse_duration", mp_parse_duration, duration_bad, N(duration_bad));
	test_count();
	test_shim_options();
	return tap_done();
}

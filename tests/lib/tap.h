/* SPDX-License-Identifier: MIT */
/*
 * A tiny TAP harness for unit tests.  CHECK* macros print file:line and both
 * values on failure and go on; tap_done() prints the plan and returns the exit
 * status (0 only when every check passed).
 */
#ifndef MP_TESTS_TAP_H
#define MP_TESTS_TAP_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

static inline void tap_ok(int ok, const char *file, int line, const char *what)
{
	tap_n++;
	if (!ok)
		tap_failed++;
	printf("%sok %d - %s:%d %s\n", ok ? "" : "not ", tap_n, file, line, what);
	fflush(stdout);
}

#define CHECK(cond) tap_ok(!!(cond), __FILE__, __LINE__, #cond)

#define CHECK_INT(a, b) do { \
	long long a_ = (long long)(a), b_ = (long long)(b); \
	tap_ok(a_ == b_, __FILE__, __LINE__, #a " == " #b); \
	if (a_ != b_) \
		printf("#   got %lld, want %lld\n", a_, b_); \
} while (0)

#define CHECK_U64(a, b) do { \
	uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b); \
	tap_ok(a_ == b_, __FILE__, __LINE__, #a " == " #b); \
	if (a_ != b_) \
		printf("#   got %" PRIu64 ", want %" PRIu64 "\n", a_, b_); \
} while (0)

#define CHECK_STR(a, b) do { \
	const char *a_ = (a), *b_ = (b); \
	int ok_ = a_ && b_ && strcmp(a_, b_) == 0; \
	tap_ok(ok_, __FILE__, __LINE__, #a " == " #b); \
	if (!ok_) \
		printf("#   got \"%s\", want \"%s\"\n", a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
} while (0)

#define CHECK_NEAR(a, b, tol) do { \
	double a_ = (double)(a), b_ = (double)(b), t_ = (double)(tol); \
	int ok_ = a_ - b_ <= t_ && b_ - a_ <= t_; \
	tap_ok(ok_, __FILE__, __LINE__, #a " ~= " #b); \
	if (!ok_) \
		printf("#   got %g, want %g +- %g\n", a_, b_, t_); \
} while (0)

static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	if (tap_failed)
		printf("# %d of %d checks failed\n", tap_failed, tap_n);
	return tap_failed ? 1 : 0;
}

#endif

/* SPDX-License-Identifier: MIT */
/*
 * A number in decimal without stdio or locale: the one conversion the
 * target's messages (base/log.h), its file names (snapfile.c), its paths
 * under /proc and the options' formatter (shim-options.c) share.  Header
 * only, so that both the contract and the bottom layer of the target use
 * it without linking each other.  Allocation-free, async-signal-safe,
 * safe after fork; in the target and in the CLI.
 */
#ifndef MP_COMMON_UTOA_H
#define MP_COMMON_UTOA_H

#include <stdint.h>

/* Digits of a uint64_t at the most (18446744073709551615), and the buffer
 * mp_utoa needs: those and the NUL. */
#define MP_UTOA_DIGITS 20
#define MP_UTOA_SIZE (MP_UTOA_DIGITS + 1)

/* v in decimal into buf (at least MP_UTOA_SIZE bytes), NUL-terminated;
 * returns buf. */
static inline char *mp_utoa(uint64_t v, char *buf)
{
	char tmp[MP_UTOA_DIGITS];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (int i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	buf[n] = 0;
	return buf;
}

#endif

/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for attach's probe-site chooser (src/bpf/sites.c),
 * which decodes machine code from the target's files (untrusted).  Input:
 * one byte of flags (bits 0-1: arguments read, bit 2: a return probe, bit
 * 3: a free, bits 4-7: max_off / 4, 15 for none), then the function's
 * bytes (a copy of exactly that many, so that ASan sees any read past
 * them).  The site must lie in the bytes, keep the return address at sp
 * when a return probe is asked for, and name its instruction; the same
 * bytes as a code segment must give a branch target within the asked
 * range.  Built as a libFuzzer binary with -Dfuzz=enabled (clang), and
 * always as a replay test over corpus/sites/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpf/sites.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
	fprintf(stderr, "fuzz-sites: %s\n", what);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mp_site s;
	unsigned flags, nargs;
	uint32_t max_off, t;
	uint8_t *code;
	size_t n;

	if (size < 1)
		return 0;
	flags = data[0];
	nargs = flags & 3;
	max_off = (flags >> 4) == 15 ? UINT32_MAX : (flags >> 4) * 4;
	n = size - 1;
	code = malloc(n ? n : 1);
	if (!code)
		return 0;
	memcpy(code, data + 1, n);
	mp_site_choose(code, n, nargs, flags & 4, flags & 8, max_off, &s);
	if (s.off && (s.off >= n || s.off > max_off))
		fail("site outside the bytes or past max_off");
	if (!s.emulated && s.off)
		fail("a single-stepped site not at the entry");
	if ((flags & 4) && s.ra_off)
		fail("a return probe's site with the return address not at sp");
	if (s.after_null_test && !(flags & 8))
		fail("past a NULL test of a function that is not a free");
	if (!memchr(s.insn, 0, sizeof(s.insn)) || !s.insn[0])
		fail("no instruction name");
	t = mp_site_branched_into(code, n, 0x10000, 0x10000, n / 2, s.off);
	if (t && (t > s.off || t == 0))
		fail("branch target outside (0, site]");
	free(code);
	return 0;
}

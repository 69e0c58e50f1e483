/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the CFI reader the stack walker uses
 * (src/sample/cfi.c).  Input: a 2-byte offset of the FDE, a 2-byte pc
 * offset into the function, then the call frame information the FDE and
 * its CIE must lie in (a copy of exactly that many bytes, so that ASan sees
 * any read past it).  Every pc up to the given one is asked for too, and
 * any rule returned must be one the walker can follow.  Built as a
 * libFuzzer binary with -Dfuzz=enabled (clang), and always as a replay test
 * over corpus/cfi/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sample/cfi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
	fprintf(stderr, "fuzz-cfi: %s\n", what);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 4)
		return 0;
	size_t fde_off = data[0] | (size_t)data[1] << 8;
	unsigned pc_off = data[2] | (unsigned)data[3] << 8;
	size_t n = size - 4;
	uint8_t *cfi = malloc(n ? n : 1);
	if (!cfi)
		return 0;
	memcpy(cfi, data + 4, n);
	const uint64_t func = 0x400000;
	for (unsigned d = 0; d <= pc_off && d < 256; d++) {
		uint64_t pc = func + pc_off - d + 1;
		uint64_t r = mp_cfi_rule((uintptr_t)cfi, (uintptr_t)(cfi + n),
					 cfi + (fde_off < n ? fde_off : n), func, pc);
		if (r == MP_CFI_BAD || mp_cfi_kind(r) == MP_CFI_END)
			continue;
		if (mp_cfi_kind(r) != MP_CFI_RSP && mp_cfi_kind(r) != MP_CFI_RBP)
			fail("a rule of no kind");
		if (mp_cfi_rbp_off(r) % 8 != 0)
			fail("RBP's slot is not 8-aligned from the CFA");
		if (mp_cfi_cfa_off(r) < -(1 << 23) || mp_cfi_cfa_off(r) >= (1 << 23))
			fail("CFA offset out of range");
	}
	free(cfi);
	return 0;
}

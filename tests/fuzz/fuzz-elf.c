/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the ELF program-header check of `memprof run`
 * (mp_elf_probe_mem in src/cli/target.c): any bytes are a program file; the
 * probe must classify them without reading outside the buffer.  Also built
 * as a replay test over corpus/elf/ (replay.c).
 *
 *   CC=clang meson setup B -Dfuzz=enabled -Db_sanitize=address,undefined -Db_lundef=false
 *   ninja -C B tests/fuzz/fuzz-elf
 *   mkdir new && B/tests/fuzz/fuzz-elf -max_len=4096 new tests/fuzz/corpus/elf
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "cli/target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum mp_elf_kind k = mp_elf_probe_mem(data, size);

	if (k != MP_ELF_NOT_ELF && k != MP_ELF_DYNAMIC && k != MP_ELF_STATIC &&
	    k != MP_ELF_FOREIGN && k != MP_ELF_MALFORMED)
		abort();
	/* Without the magic nothing is ELF. */
	if (size < 4 && k != MP_ELF_NOT_ELF)
		abort();
	return 0;
}

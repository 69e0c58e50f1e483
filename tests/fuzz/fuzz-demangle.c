/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for symbol name demangling (src/symbolize/demangle.c):
 * any bytes up to the first NUL are a symbol name, as an ELF symbol table
 * or a DWARF linkage name could hold it.  The answer must be a refusal or
 * a non-empty string, and a name without a mangled prefix is refused.
 * Also built as a replay test over corpus/demangle/ (replay.c).
 *
 * The Rust demangler is libiberty's and the C++ one libstdc++'s, both
 * prebuilt without coverage instrumentation: libFuzzer sees only the
 * wrapper's branches, so the corpus carries names of both Rust manglings
 * and of C++ (ASan still checks every heap block they allocate).
 *
 *   CC=clang meson setup B -Dfuzz=enabled -Db_sanitize=address,undefined -Db_lundef=false
 *   ninja -C B tests/fuzz/fuzz-demangle
 *   mkdir new && B/tests/fuzz/fuzz-demangle -max_len=4096 new tests/fuzz/corpus/demangle
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize/demangle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *name = malloc(size + 1);
	char *d = NULL;
	int r;

	if (!name)
		return 0;
	memcpy(name, data, size);
	name[size] = '\0';
	r = mp_demangle(name, &d);
	if (r != 0 && r != 1 && r != -ENOMEM)
		abort();
	if (r == 1 && (!d || d[0] == '\0'))
		abort();
	if (r != 1 && d)
		abort();
	if (!mp_demangle_candidate(name) && r != 0)
		abort();
	free(d);
	free(name);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * Names for frames without a symbol (see pprof.h): the object's file name
 * and the offset in that file, "libstdc++.so.6.0.30+0x9a7b9", as perf
 * names them.  A runtime address changes with every run (ASLR); the file
 * offset does not, so two runs of the same program name such a frame the
 * same way and every report that compares stacks by name (diff, flame,
 * timeline, the leak report, suppressions) sees one frame, not two.
 * CLI only.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "pprof/pprof.h"

void mp_frame_offset_name(const char *object, uint64_t address, uint64_t start,
			  uint64_t file_offset, char *buf, size_t size)
{
	const char *base = object ? strrchr(object, '/') : NULL;

	base = base ? base + 1 : object;
	if (!base || !*base || address < start) {
		snprintf(buf, size, "0x%" PRIx64, address);
		return;
	}
	snprintf(buf, size, "%s+0x%" PRIx64, base, address - start + file_offset);
}

void mp_profile_location_name(const struct mp_profile *p, const Perftools__Profiles__Location *l,
			      char *buf, size_t size)
{
	const Perftools__Profiles__Mapping *m = mp_profile_mapping(p, l->mapping_id);

	if (!m) {
		snprintf(buf, size, "0x%" PRIx64, l->address);
		return;
	}
	mp_frame_offset_name(mp_profile_str(p, m->filename), l->address, m->memory_start,
			     m->file_offset, buf, size);
}

bool mp_frame_is_runtime(const char *function, const char *file, const char *object)
{
	static const char *const objects[] = {
		"libc.so", "libc-", "libstdc++.so", "libgcc_s.so", "libm.so", "ld-linux",
		"libpthread.so", "libdl.so", "libc++.so", "libc++abi.so", "libmemprof.so",
	};
	/* Prefixes of names; one ending in a letter matches the whole name or
	 * the name before its parameters ("malloc", "malloc(unsigned long)"). */
	static const char *const names[] = {
		"std::", "__gnu_cxx::", "operator new", "operator delete", "__cxa_", "__gnu_",
		"malloc", "calloc", "realloc", "reallocarray", "free", "strdup", "strndup",
		"__GI_", "__libc_", "__strdup", "__strndup", "aligned_alloc", "posix_memalign",
		"memalign", "valloc", "pvalloc",
	};
	const char *base = object ? strrchr(object, '/') : NULL;

	base = base ? base + 1 : object;
	if (base)
		for (size_t i = 0; i < sizeof(objects) / sizeof(objects[0]); i++)
			if (strncmp(base, objects[i], strlen(objects[i])) == 0)
				return true;
	if (file && (strncmp(file, "/usr/include/", 13) == 0 ||
		     strncmp(file, "/usr/lib/gcc/", 13) == 0))
		return true;
	if (!function)
		return false;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t n = strlen(names[i]);
		char last = names[i][n - 1];

		if (strncmp(function, names[i], n) == 0 &&
		    (last == ':' || last == '_' || last == ' ' || function[n] == 0 ||
		     function[n] == '('))
			return true;
	}
	return false;
}

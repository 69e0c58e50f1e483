/* SPDX-License-Identifier: MIT */
/*
 * Resident pages of mapped files the symbolizer no longer reads (pages.h).
 *
 * libelf maps a whole file and what was read through the mapping stays
 * resident until the file is closed: the symbol table once our index is
 * built (2 MiB for cc1), the packed DWARF sections libdw inflated (4 MiB
 * for libc's debug file).  Those pages are the file's, unchanged, so
 * MADV_DONTNEED drops them at no risk and a later touch (a symbol's name
 * for an answer) reads them in again.  A mapping is only touched when it
 * has the shape of libelf's (the whole file, from offset 0; the loader
 * maps segments) and /proc/self/smaps shows no private dirty and no
 * anonymous page in it: pages written in a private mapping (relocations,
 * a conversion in place) would be lost, so such a mapping is left alone.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "symbolize/pages.h"

void mp_pages_give_back(const struct mp_pages_file *files, int n)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	FILE *f = n > 0 ? fopen("/proc/self/smaps", "re") : NULL;
	char line[4352];
	uint64_t lo = 0, hi = 0;
	bool candidate = false, own_pages = false;

	if (!f)
		return;
	for (;;) {
		bool end = !fgets(line, sizeof(line), f);
		unsigned long long s, e, off, inode;
		unsigned maj, min;
		char perms[8];
		unsigned long kib;

		if (end || sscanf(line, "%llx-%llx %7s %llx %x:%x %llu", &s, &e, perms, &off, &maj, &min,
				  &inode) == 7) {
			/* The previous mapping is complete: drop it if it
			 * qualified. */
			if (candidate && !own_pages)
				(void)madvise((void *)(uintptr_t)lo, hi - lo, MADV_DONTNEED);
			if (end)
				break;
			lo = s;
			hi = e;
			candidate = false;
			for (int i = 0; i < n && !candidate; i++) {
				uint64_t whole = (files[i].size + page - 1) & ~(page - 1);

				candidate = inode == (unsigned long long)files[i].ino &&
					    maj == major(files[i].dev) && min == minor(files[i].dev) &&
					    off == 0 && e - s == whole && whole && perms[0] == 'r' &&
					    perms[3] == 'p';
			}
			own_pages = false;
			continue;
		}
		if (candidate && (sscanf(line, "Private_Dirty: %lu kB", &kib) == 1 ||
				  sscanf(line, "Anonymous: %lu kB", &kib) == 1) && kib)
			own_pages = true;
	}
	fclose(f);
}

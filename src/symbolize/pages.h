/* SPDX-License-Identifier: MIT */
/*
 * Giving back the resident pages of files libelf mapped for the
 * symbolizer (pages.c says when and why).  Internal to src/symbolize/.
 */
#ifndef MP_SYMBOLIZE_PAGES_H
#define MP_SYMBOLIZE_PAGES_H

#include <stdint.h>
#include <sys/types.h>

/*
 * Drop from this process's resident set the pages of every mapping of one
 * of the files[0..n) whole, from offset 0 (libelf's
 * ELF_C_READ_MMAP[_PRIVATE] shape) that holds no page of its own (no
 * private dirty or anonymous page): what such a mapping holds is the
 * file's, and is read in again from the page cache when touched.  Any
 * thread; failures change nothing.
 */
struct mp_pages_file {
	dev_t dev;
	ino_t ino;
	uint64_t size;
};

void mp_pages_give_back(const struct mp_pages_file *files, int n);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * Parsing the text of /proc/<pid>/maps as a snapshot carries it.  CLI only.
 * The text is untrusted: lines that do not parse are skipped, never trusted.
 */
#ifndef MP_SYMBOLIZE_MAPS_H
#define MP_SYMBOLIZE_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One line of the maps file (proc(5)). */
struct mp_maps_entry {
	uint64_t start, end;        /* [start, end), start < end */
	uint64_t offset;            /* file offset of start */
	uint64_t inode;
	uint32_t dev_major, dev_minor;
	char perms[5];              /* "r-xp", NUL-terminated */
	char *path;                 /* pathname field, " (deleted)" removed; "" if none */
	bool deleted;               /* the pathname ended in " (deleted)" */
};

/*
 * Parse `len` bytes of maps text (need not be NUL-terminated).  Returns 0
 * and a malloc'd array of the lines that parse, in text order, in *ret (free
 * with mp_maps_free), or -ENOMEM with the outputs untouched.  Malformed lines
 * (bad numbers, start >= end, missing fields, NUL bytes) are skipped.
 */
int mp_maps_parse(const char *text, size_t len, struct mp_maps_entry **ret, size_t *ret_n);

void mp_maps_free(struct mp_maps_entry *e, size_t n);   /* accepts NULL */

#endif

/* SPDX-License-Identifier: MIT */
/*
 * A separate debug file's compressed DWARF opened with libdw without
 * inflating what answers never read, and without keeping the packed bytes
 * resident (dwopen.c says how and why).  Internal to src/symbolize/.
 */
#ifndef MP_SYMBOLIZE_DWOPEN_H
#define MP_SYMBOLIZE_DWOPEN_H

#include <elfutils/libdw.h>
#include <string.h>

struct mp_dwopen;

/* The DWARF of debug file `path` whose build ID is bits[0..bits_len), or
 * NULL when this does not apply (no compressed DWARF, a dwz alternate
 * file, another build, another byte order) or fails: then libdwfl opens
 * it.  The caller holds the module's lock. */
struct mp_dwopen *mp_dwopen(const char *path, const unsigned char *bits, int bits_len);

Dwarf *mp_dwopen_dwarf(const struct mp_dwopen *d);

void mp_dwopen_close(struct mp_dwopen *d);     /* accepts NULL */

/* A DWARF section's name without its ".debug_" or ".zdebug_" prefix
 * ("info", "line", ...), or NULL for any other section. */
static inline const char *mp_dwarf_section_suffix(const char *name)
{
	if (strncmp(name, ".debug_", 7) == 0)
		return name + 7;
	if (strncmp(name, ".zdebug_", 8) == 0)
		return name + 8;
	return NULL;
}

#endif

/* SPDX-License-Identifier: MIT */
/*
 * Where a position-independent executable was loaded (linkaddr.c), so the
 * profile can give its addresses as the ELF file has them.  CLI only.
 */
#ifndef MP_CONVERT_LINKADDR_H
#define MP_CONVERT_LINKADDR_H

#include <stdint.h>

/*
 * The load bias of the executable mapping [start, ...) at file offset
 * `offset` of the ELF file `path`: run-time address minus the address the
 * ELF gives the same byte.  0 for a fixed-address executable (ET_EXEC).
 * 0 and *ret, or -errno (-ENOENT: not an executable or no segment holds
 * the offset; -EBADMSG: not ELF), *ret untouched.
 */
int mp_convert_link_bias(const char *path, uint64_t start, uint64_t offset, uint64_t *ret);

#endif

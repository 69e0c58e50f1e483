/* SPDX-License-Identifier: MIT */
/*
 * A loaded module (executable or shared library) of another process, read
 * from its file for memprof attach: where its code lands in the process,
 * its dynamic symbols, and the FDE that covers an address in its
 * .eh_frame (through PT_GNU_EH_FRAME's sorted table).  CLI only; the file
 * is untrusted and every offset is checked against its size.
 */
#ifndef MP_BPF_ELFMOD_H
#define MP_BPF_ELFMOD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mp_elfmod;

/*
 * Open the file at `path` (for another process: "/proc/PID/root" + its
 * path, or a /proc/PID/map_files entry) and map it read-only.  0 and *ret,
 * -errno when it cannot be opened or mapped, -ENOEXEC when it is not a
 * 64-bit x86-64 ELF file, -EBADMSG when its headers are out of bounds.
 */
int mp_elfmod_open(const char *path, struct mp_elfmod **ret);
void mp_elfmod_free(struct mp_elfmod *m);     /* accepts NULL */

/* Whether it has a PT_INTERP header (an executable linked dynamically). */
bool mp_elfmod_has_interp(const struct mp_elfmod *m);

/* The link-time address (vaddr) of file offset `off`, from the PT_LOAD that
 * maps it; false when no PT_LOAD does. */
bool mp_elfmod_off_to_vaddr(const struct mp_elfmod *m, uint64_t off, uint64_t *ret);
/* The file offset of vaddr `va`; false when no PT_LOAD maps it from the file. */
bool mp_elfmod_vaddr_to_off(const struct mp_elfmod *m, uint64_t va, uint64_t *ret);

/* A defined function (STT_FUNC, not an IFUNC) of .dynsym named `name`
 * (version ignored; the default version wins): its vaddr and size. */
bool mp_elfmod_dynsym(const struct mp_elfmod *m, const char *name, uint64_t *ret_vaddr,
		      uint64_t *ret_size);

/* Up to `n` bytes of the file at vaddr `va` (fewer at the end of the
 * segment); NULL when unmapped.  Points into the mapped file. */
const uint8_t *mp_elfmod_bytes(const struct mp_elfmod *m, uint64_t va, size_t *n);

/* The bytes the file gives the PT_LOAD segment that maps vaddr `va`: its
 * start vaddr in *ret_va and its length in *ret_len; NULL when none maps it. */
const uint8_t *mp_elfmod_segment(const struct mp_elfmod *m, uint64_t va, uint64_t *ret_va,
				  size_t *ret_len);

/*
 * The FDE covering vaddr `va`: a pointer to it in the mapped file, the
 * function's start vaddr, and the region [*ret_lo, *ret_hi) the FDE and its
 * CIE must lie in (for mp_cfi_rule).  False when there is no table or no
 * FDE covers `va`.
 */
bool mp_elfmod_fde(const struct mp_elfmod *m, uint64_t va, const uint8_t **ret_fde,
		   uint64_t *ret_func, uintptr_t *ret_lo, uintptr_t *ret_hi);

#endif

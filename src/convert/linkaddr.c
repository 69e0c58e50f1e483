/* SPDX-License-Identifier: MIT */
/*
 * Link-time addresses of a position-independent executable (see
 * linkaddr.h).  pprof's viewers find a location's instructions by looking
 * its address up among the executable's symbols (`go tool pprof -disasm`,
 * -weblist, Go's own objfile reader): they take the address as it is, so for
 * a PIE (ET_DYN, Debian's default) loaded at a random base nothing matched
 * and the source and disassembly views came out empty.  The profile
 * therefore gives the executable's locations and mapping in the ELF's own
 * virtual addresses, as a non-PIE program has them anyway; pprof's
 * relocation arithmetic (base = start - offset + p_offset - p_vaddr) then
 * gives 0, and every pprof reader agrees.  CLI only.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include "convert/linkaddr.h"

int mp_convert_link_bias(const char *path, uint64_t start, uint64_t offset, uint64_t *ret)
{
	GElf_Ehdr eh;
	size_t nph = 0;
	int r = -ENOENT;
	int fd;
	Elf *e;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -ENOTSUP;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (!e || !gelf_getehdr(e, &eh) || elf_getphdrnum(e, &nph) != 0) {
		r = -EBADMSG;
		goto out;
	}
	if (eh.e_type != ET_DYN) {
		r = eh.e_type == ET_EXEC ? 0 : -ENOENT;
		if (r == 0)
			*ret = 0;   /* already at its link-time addresses */
		goto out;
	}
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_LOAD || ph.p_filesz == 0)
			continue;
		/* The segment the mapping's file offset falls in (the mapping
		 * starts at the page holding the segment's first byte). */
		if ((ph.p_offset & ~(uint64_t)0xfff) > offset || offset >= ph.p_offset + ph.p_filesz)
			continue;
		uint64_t bias = start - offset + ph.p_offset - ph.p_vaddr;
		if (bias > start) {
			r = -ERANGE;   /* would put the mapping below address 0 */
			goto out;
		}
		*ret = bias;
		r = 0;
		goto out;
	}
out:
	if (e)
		elf_end(e);
	close(fd);
	return r;
}

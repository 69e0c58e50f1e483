/* SPDX-License-Identifier: MIT */
/*
 * Opening a separate debug file's compressed DWARF with less memory than
 * libdw takes (dwopen.h).
 *
 * libdw's dwarf_begin_elf() inflates every compressed section it knows
 * (elfutils 0.188: check_section() calls elf_compress() on each), location
 * lists, call frame information and macros included, while libelf's
 * mapping keeps the packed bytes resident: for libc's debug file 10 MiB
 * inflated (1.4 MiB of it location lists) beside 4 MiB of packed pages,
 * all at once at the peak.  Here the file is mapped privately, the
 * sections answers never read are marked SHT_NOBITS in the mapped section
 * headers (libdw skips those), and the others are inflated one by one
 * before libdw opens the file, each one's packed pages given back
 * (MADV_DONTNEED) once it is inflated, so the peak is the inflated
 * sections plus one packed section.
 *
 * Only for a separate debug file with compressed DWARF, no .gnu_debugaltlink
 * (its alternate file is found by libdwfl, not here) and the byte order of
 * this machine; anything else is libdwfl's to open, as before.
 */
#include <elfutils/libdwelf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "symbolize/dwopen.h"

struct mp_dwopen {
	void *image;
	size_t len;
	Elf *elf;
	Dwarf *dw;
};

/* Sections libdw reads that answers never need (libdw's names, without
 * the ".debug_" or ".zdebug_" prefix): location lists, call frame
 * information, macros, public names. */
static bool unused(const char *what)
{
	static const char *const names[] = {
		"loc", "loclists", "frame", "macinfo", "macro", "pubnames",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(what, names[i]) == 0)
			return true;
	return false;
}

/* Give back the whole pages of [off, off + n) of the image, except those
 * holding the ELF header or the section headers (edited: a private
 * mapping would lose the edits). */
static void give_back(struct mp_dwopen *d, uint64_t off, uint64_t n, uint64_t keep_lo,
		      uint64_t keep_hi)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), lo, hi;

	if (off > d->len || n > d->len - off)
		return;
	lo = (off + page - 1) & ~(page - 1);
	hi = (off + n) & ~(page - 1);
	if (lo < page)
		lo = page;                      /* the ELF header */
	if (hi > keep_lo && lo < keep_hi) {     /* the section headers */
		if (lo < (keep_lo & ~(page - 1)))
			(void)madvise((char *)d->image + lo, (keep_lo & ~(page - 1)) - lo,
				      MADV_DONTNEED);
		lo = (keep_hi + page - 1) & ~(page - 1);
	}
	if (hi > lo)
		(void)madvise((char *)d->image + lo, hi - lo, MADV_DONTNEED);
}

struct mp_dwopen *mp_dwopen(const char *path, const unsigned char *bits, int bits_len)
{
	struct mp_dwopen *d = NULL;
	const unsigned char *ident;
	const void *id;
	GElf_Ehdr eh;
	size_t shstrndx;
	Elf_Scn *scn = NULL;
	struct stat st;
	uint64_t sh_lo, sh_hi;
	bool packed = false;
	int fd;

	if (bits_len <= 0)
		return NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < (off_t)sizeof(Elf64_Ehdr) ||
	    !(d = calloc(1, sizeof(*d))))
		goto fail;
	d->len = (size_t)st.st_size;
	d->image = mmap(NULL, d->len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (d->image == MAP_FAILED) {
		d->image = NULL;
		goto fail;
	}
	close(fd);
	fd = -1;
	d->elf = elf_memory(d->image, d->len);
	if (!d->elf || elf_kind(d->elf) != ELF_K_ELF || !gelf_getehdr(d->elf, &eh) ||
	    !(ident = (const unsigned char *)elf_getident(d->elf, NULL)) ||
	    ident[EI_DATA] != (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? ELFDATA2LSB : ELFDATA2MSB) ||
	    elf_getshdrstrndx(d->elf, &shstrndx) != 0)
		goto fail;
	/* The debug file of this very build. */
	if (dwelf_elf_gnu_build_id(d->elf, &id) != bits_len || memcmp(id, bits, (size_t)bits_len) != 0)
		goto fail;
	sh_lo = eh.e_shoff;
	sh_hi = eh.e_shoff + (uint64_t)eh.e_shnum * eh.e_shentsize;
	/* First pass: what is there, and the sections to skip. */
	while ((scn = elf_nextscn(d->elf, scn))) {
		GElf_Shdr sh;
		const char *name, *what;

		if (!gelf_getshdr(scn, &sh) || !(name = elf_strptr(d->elf, shstrndx, sh.sh_name)))
			continue;
		if (strcmp(name, ".gnu_debugaltlink") == 0)
			goto fail;      /* dwz: libdwfl finds the alternate file */
		if (!(what = mp_dwarf_section_suffix(name)))
			continue;
		if (sh.sh_type == SHT_NOBITS || !(sh.sh_flags & SHF_COMPRESSED))
			continue;       /* (.zdebug_: left to libdw as it is) */
		packed = true;
		if (unused(what)) {
			sh.sh_type = SHT_NOBITS;
			if (!gelf_update_shdr(scn, &sh))
				goto fail;
		}
	}
	if (!packed)
		goto fail;              /* nothing to gain */
	/* Second pass: inflate, one section at a time, giving back its
	 * packed pages. */
	while ((scn = elf_nextscn(d->elf, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS ||
		    !(sh.sh_flags & SHF_COMPRESSED) || !(name = elf_strptr(d->elf, shstrndx, sh.sh_name)) ||
		    strncmp(name, ".debug_", 7) != 0)
			continue;
		if (elf_compress(scn, 0, 0) < 0)
			continue;       /* libdw will skip it too */
		give_back(d, sh.sh_offset, sh.sh_size, sh_lo, sh_hi);
	}
	d->dw = dwarf_begin_elf(d->elf, DWARF_C_READ, NULL);
	if (!d->dw)
		goto fail;
	return d;
fail:
	if (fd >= 0)
		close(fd);
	mp_dwopen_close(d);
	return NULL;
}

Dwarf *mp_dwopen_dwarf(const struct mp_dwopen *d)
{
	return d->dw;
}

void mp_dwopen_close(struct mp_dwopen *d)
{
	if (!d)
		return;
	if (d->dw)
		dwarf_end(d->dw);
	if (d->elf)
		elf_end(d->elf);
	if (d->image)
		munmap(d->image, d->len);
	free(d);
}

/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the line table reader (src/symbolize/lines.c),
 * differential against libdw: the input becomes the .debug_line (and
 * .debug_str, .debug_line_str) of an ELF file made in memory with one
 * compilation unit whose DW_AT_stmt_list is 0; the unit's table is read
 * by lines.c (through dwarf-lines.c's choice of sections) and by libdw.
 * Where lines.c reads a table, libdw must read it too, with the same
 * files and directories, and for every address of libdw's rows (and the
 * bytes either side) the same answer as dwarf_getsrc_die.  Where lines.c
 * declines, libdw answers (that is the fallback).
 *
 * Input: flags (bit 0: 4-byte addresses, bit 1: no DW_AT_comp_dir, bit 2:
 * DWARF 5 unit), .debug_str length (u16 LE), .debug_line_str length (u16
 * LE), those two sections, then .debug_line.  Also built as a replay test
 * over corpus/lines/ (replay.c).
 *
 *   CC=clang meson setup B -Dfuzz=enabled -Db_sanitize=address,undefined -Db_lundef=false
 *   ninja -C B tests/fuzz/fuzz-lines
 *   mkdir new && B/tests/fuzz/fuzz-lines -max_len=8192 new tests/fuzz/corpus/lines
 */
#include <dwarf.h>
#include <elf.h>
#include <elfutils/libdw.h>
#include <libelf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize/lines.h"
#include "symbolize/module-int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { INFO, ABBREV, LINE, STR, LINE_STR, SHSTRTAB, NSEC };

static const char shstrtab[] = "\0.debug_info\0.debug_abbrev\0.debug_line\0.debug_str\0"
			       ".debug_line_str\0.shstrtab";
static const unsigned name_off[NSEC] = { 1, 13, 27, 39, 50, 66 };

/* An ELF image with the six sections; malloc'd, *ret_len bytes. */
static unsigned char *make_elf(const unsigned char *sec[NSEC], const size_t len[NSEC], size_t *ret_len)
{
	size_t off = sizeof(Elf64_Ehdr), shoff, total;
	size_t at[NSEC];
	unsigned char *img;
	Elf64_Ehdr *eh;

	for (int i = 0; i < NSEC; i++) {
		at[i] = off;
		off += len[i];
	}
	shoff = (off + 7) & ~(size_t)7;
	total = shoff + (NSEC + 1) * sizeof(Elf64_Shdr);
	img = calloc(1, total);
	if (!img)
		abort();
	eh = (Elf64_Ehdr *)img;
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_DYN;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_ehsize = sizeof(Elf64_Ehdr);
	eh->e_shoff = shoff;
	eh->e_shentsize = sizeof(Elf64_Shdr);
	eh->e_shnum = NSEC + 1;
	eh->e_shstrndx = SHSTRTAB + 1;
	for (int i = 0; i < NSEC; i++) {
		Elf64_Shdr *sh = (Elf64_Shdr *)(img + shoff) + i + 1;

		if (len[i])
			memcpy(img + at[i], sec[i], len[i]);
		sh->sh_name = name_off[i];
		sh->sh_type = i == SHSTRTAB ? SHT_STRTAB : SHT_PROGBITS;
		sh->sh_offset = at[i];
		sh->sh_size = len[i];
		sh->sh_addralign = 1;
	}
	*ret_len = total;
	return img;
}

static bool same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void check_addr(Dwarf_Die *cu, const struct mp_lines *l, uint64_t a)
{
	Dwarf_Line *dl = dwarf_getsrc_die(cu, a);
	const struct mp_line_row *r = mp_lines_find(l, a);
	int dline = 0;

	if (dl && dwarf_lineno(dl, &dline) != 0)
		abort();
	if ((!dl) != (!r))
		abort();
	if (r && (dline != r->line ||
		  !same(dwarf_linesrc(dl, NULL, NULL), r->file < l->nfiles ? l->files[r->file] : NULL)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char abbrev4[] = {
		1, DW_TAG_compile_unit, DW_CHILDREN_no, DW_AT_stmt_list, DW_FORM_sec_offset,
		DW_AT_comp_dir, DW_FORM_string, 0, 0, 0,
	};
	static const unsigned char abbrev4_nodir[] = {
		1, DW_TAG_compile_unit, DW_CHILDREN_no, DW_AT_stmt_list, DW_FORM_sec_offset, 0, 0, 0,
	};
	unsigned char info[64];
	const unsigned char *sec[NSEC];
	size_t len[NSEC], n = 0, img_len, str_len, line_str_len;
	unsigned flags;
	unsigned char *img;
	Elf *elf;
	Dwarf *dw;
	Dwarf_Die cu;
	struct mp_lines_input in;
	struct mp_lines *l = NULL, *files_only = NULL;
	int r;

	if (size < 5)
		return 0;
	flags = data[0];
	str_len = data[1] | (size_t)data[2] << 8;
	line_str_len = data[3] | (size_t)data[4] << 8;
	data += 5;
	size -= 5;
	if (str_len > size || line_str_len > size - str_len)
		return 0;

	/* One unit: DWARF 4 or 5, address size 8 or 4, stmt_list 0. */
	memset(info, 0, sizeof(info));
	n = 4;
	if (flags & 4) {
		info[n++] = 5;
		info[n++] = 0;
		info[n++] = DW_UT_compile;
		info[n++] = (flags & 1) ? 4 : 8;
		n += 4;                 /* abbrev offset 0 */
	} else {
		info[n++] = 4;
		info[n++] = 0;
		n += 4;
		info[n++] = (flags & 1) ? 4 : 8;
	}
	info[n++] = 1;                  /* abbrev 1 */
	n += 4;                         /* DW_AT_stmt_list 0 */
	if (!(flags & 2)) {
		memcpy(info + n, "/comp/dir", 10);
		n += 10;
	}
	info[0] = (unsigned char)(n - 4);
	sec[INFO] = info;
	len[INFO] = n;
	sec[ABBREV] = (flags & 2) ? abbrev4_nodir : abbrev4;
	len[ABBREV] = (flags & 2) ? sizeof(abbrev4_nodir) : sizeof(abbrev4);
	sec[STR] = data;
	len[STR] = str_len;
	sec[LINE_STR] = data + str_len;
	len[LINE_STR] = line_str_len;
	sec[LINE] = data + str_len + line_str_len;
	len[LINE] = size - str_len - line_str_len;
	sec[SHSTRTAB] = (const unsigned char *)shstrtab;
	len[SHSTRTAB] = sizeof(shstrtab);
	if (!len[LINE])
		return 0;

	img = make_elf(sec, len, &img_len);
	elf_version(EV_CURRENT);
	elf = elf_memory((char *)img, img_len);
	dw = elf ? dwarf_begin_elf(elf, DWARF_C_READ, NULL) : NULL;
	if (!dw || !dwarf_offdie(dw, (flags & 4) ? 12 : 11, &cu)) {
		if (dw)
			dwarf_end(dw);
		if (elf)
			elf_end(elf);
		free(img);
		return 0;
	}
	if (mp_dwarf_lines_input(&cu, &in) && (r = mp_lines_read(&in, true, &l)) == 0) {
		Dwarf_Lines *dlines;
		Dwarf_Files *dfiles;
		const char *const *ddirs;
		size_t dn, dnf, dnd;

		/* Read without rows: the same verdict and the same files. */
		if (mp_lines_read(&in, false, &files_only) != 0 || files_only->nfiles != l->nfiles ||
		    files_only->rows)
			abort();
		if (dwarf_getsrclines(&cu, &dlines, &dn) != 0 ||
		    dwarf_getsrcfiles(&cu, &dfiles, &dnf) != 0 ||
		    dwarf_getsrcdirs(dfiles, &ddirs, &dnd) != 0)
			abort();        /* read here, rejected by libdw */
		if (l->nfiles != dnf || l->ndirs != dnd)
			abort();
		for (size_t i = 0; i < dnf; i++)
			if (!same(l->files[i], dwarf_filesrc(dfiles, i, NULL, NULL)) ||
			    !same(files_only->files[i], l->files[i]))
				abort();
		for (size_t i = 0; i < dnd; i++)
			if (!same(l->dirs[i], ddirs[i]))
				abort();
		for (size_t i = 1; i < l->nrows; i++)
			if (l->rows[i].addr <= l->rows[i - 1].addr)
				abort();
		for (size_t i = 0; i < dn && i < 4096; i++) {
			Dwarf_Addr a;

			if (dwarf_lineaddr(dwarf_onesrcline(dlines, i), &a) != 0)
				abort();
			check_addr(&cu, l, a);
			check_addr(&cu, l, a - 1);
			check_addr(&cu, l, a + 1);
		}
	}
	mp_lines_free(l);
	mp_lines_free(files_only);
	dwarf_end(dw);
	elf_end(elf);
	free(img);
	return 0;
}

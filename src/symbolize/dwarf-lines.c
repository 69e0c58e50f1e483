/* SPDX-License-Identifier: MIT */
/*
 * Units' line tables for dwarf.c, read by lines.c instead of libdw's
 * dwarf_getsrclines() (lines.h says why), with libdw as the fallback for
 * what lines.c leaves to it.
 *
 * A table is keyed, as libdw keys it, by its Dwarf and its offset in
 * .debug_line (units may share one); its files and directories stay
 * while the module is loaded (a few KiB a unit), its rows only for the
 * ROW_UNITS units used last: addresses come sorted, so the rows of a unit
 * are read once for all its addresses, then freed.  Everything here runs
 * under the module's lock.
 */
#include <dwarf.h>
#include <endian.h>
#include <errno.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>

#include "common/grow.h"
#include "symbolize/dwopen.h"
#include "symbolize/lines.h"
#include "symbolize/module-int.h"

#define ROW_UNITS 4

/* The sections of one Dwarf lines.c reads, as libdw found them. */
struct dw_sections {
	Dwarf *dbg;
	bool ok;                    /* plain DWARF with a .debug_line, ours to read */
	const unsigned char *line, *str, *line_str;
	size_t line_len, str_len, line_str_len;
};

struct unit_table {
	Dwarf *dbg;
	uint64_t offset;
	const char *comp_dir;       /* of the unit that asked first (libdw's rule) */
	unsigned address_size;
	struct mp_lines *l;         /* NULL: libdw's; rows only for the units used last */
	unsigned long used;         /* when its rows were last used */
};

struct mp_unit_lines {
	struct dw_sections sec[4];  /* the file's Dwarf and its alternate one */
	size_t nsec;
	struct unit_table *t;
	size_t n, cap;
	unsigned long clock;
};

/* The data of section scn as libdw uses it (inflated when it opened the
 * file), or false. */
static bool section_data(Elf_Scn *scn, const unsigned char **ret, size_t *ret_len)
{
	GElf_Shdr sh;
	Elf_Data *d;

	if (!gelf_getshdr(scn, &sh) || (sh.sh_flags & SHF_COMPRESSED))
		return false;
	d = elf_getdata(scn, NULL);
	if (!d || !d->d_buf)
		return false;
	*ret = d->d_buf;
	*ret_len = d->d_size;
	return true;
}

/* Find .debug_line, .debug_str and .debug_line_str as libdw's
 * check_section() picks them for plain (not split, not LTO) DWARF: by
 * name, .z-prefixed too, the first of each, outside section groups. */
static void find_sections(struct dw_sections *s)
{
	static const char *const want[3] = { "line", "str", "line_str" };
	const unsigned char **ptr[3] = { &s->line, &s->str, &s->line_str };
	size_t *len[3] = { &s->line_len, &s->str_len, &s->line_str_len };
	bool seen[3] = { false }, plain = false;
	Elf *elf = dwarf_getelf(s->dbg);
	const unsigned char *ident;
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	s->ok = false;
	if (__BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__ || !elf || !(ident = (const unsigned char *)
	    elf_getident(elf, NULL)) || ident[EI_DATA] != ELFDATA2LSB || elf_getshdrstrndx(elf, &shstrndx) != 0)
		return;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name, *what;
		size_t nlen;

		if (!gelf_getshdr(scn, &sh) || !(name = elf_strptr(elf, shstrndx, sh.sh_name)))
			continue;
		if (!(what = mp_dwarf_section_suffix(name)))
			continue;
		nlen = strlen(name);
		if (nlen < 4 || strcmp(name + nlen - 4, ".dwo") != 0)
			plain = true;
		if (sh.sh_type == SHT_NOBITS || (sh.sh_flags & SHF_GROUP))
			continue;
		for (int i = 0; i < 3; i++) {
			if (seen[i] || strcmp(what, want[i]) != 0)
				continue;
			seen[i] = true;
			if (!section_data(scn, ptr[i], len[i]))
				*ptr[i] = NULL;
		}
	}
	s->ok = plain && s->line;
}

static struct dw_sections *sections(struct mp_module *m, Dwarf *dbg)
{
	struct mp_unit_lines *u = m->unit_lines;

	for (size_t i = 0; i < u->nsec; i++)
		if (u->sec[i].dbg == dbg)
			return &u->sec[i];
	if (u->nsec == sizeof(u->sec) / sizeof(u->sec[0]))
		return NULL;
	u->sec[u->nsec] = (struct dw_sections){ .dbg = dbg };
	find_sections(&u->sec[u->nsec]);
	return &u->sec[u->nsec++];
}

/* Read t (with its rows when `with_rows`) into t->l, or its rows alone
 * into t->l when it has been read before.  0 or a negative errno. */
static int read_table(struct mp_module *m, struct unit_table *t, bool with_rows)
{
	struct dw_sections *s = sections(m, t->dbg);
	struct mp_lines *l = NULL;
	int r;

	if (!s)
		return -EBADMSG;
	struct mp_lines_input in = {
		s->line, s->line_len, s->str, s->str_len, s->line_str, s->line_str_len,
		t->offset, t->comp_dir, t->address_size,
	};
	r = mp_lines_read(&in, with_rows, &l);
	if (r < 0)
		return r;
	if (!t->l) {
		t->l = l;
		return 0;
	}
	/* Read again for its rows (the files read first stay: answers may
	 * point to them until the pool has its copies). */
	t->l->rows = l->rows;
	t->l->nrows = l->nrows;
	l->rows = NULL;
	mp_lines_free(l);
	return 0;
}

/* The rows of at most ROW_UNITS units are kept: free the oldest others. */
static void evict_rows(struct mp_unit_lines *u)
{
	size_t with = 0, oldest = SIZE_MAX;

	for (size_t i = 0; i < u->n; i++) {
		if (!u->t[i].l || !u->t[i].l->rows)
			continue;
		with++;
		if (oldest == SIZE_MAX || u->t[i].used < u->t[oldest].used)
			oldest = i;
	}
	if (with >= ROW_UNITS) {
		free(u->t[oldest].l->rows);
		u->t[oldest].l->rows = NULL;
		u->t[oldest].l->nrows = 0;
	}
}

bool mp_dwarf_lines_input(Dwarf_Die *unit, struct mp_lines_input *ret)
{
	struct dw_sections s = { 0 };
	Dwarf_Attribute a;
	Dwarf_Word off;
	Dwarf_Half version;
	uint8_t unit_type = 0, address_size = 0, offset_size = 0;

	if (!unit->cu || dwarf_cu_info(unit->cu, &version, &unit_type, NULL, NULL, NULL, &address_size,
				       &offset_size) != 0 ||
	    unit_type == DW_UT_split_compile || unit_type == DW_UT_split_type ||
	    !dwarf_attr(unit, DW_AT_stmt_list, &a) || dwarf_formudata(&a, &off) != 0 ||
	    !(s.dbg = dwarf_cu_getdwarf(unit->cu)))
		return false;
	find_sections(&s);
	if (!s.ok)
		return false;
	*ret = (struct mp_lines_input){
		s.line, s.line_len, s.str, s.str_len, s.line_str, s.line_str_len, off,
		dwarf_formstring(dwarf_attr(unit, DW_AT_comp_dir, &a)), address_size,
	};
	return true;
}

/* The table of unit `unit`, with its rows when `with_rows`, or NULL when
 * libdw is to be asked (lines.c cannot read it, or it is not there), or
 * on failure (*ret_err). */
static struct unit_table *table(struct mp_module *m, Dwarf_Die *unit, bool with_rows, int *ret_err)
{
	struct mp_unit_lines *u = m->unit_lines;
	Dwarf_Attribute a;
	Dwarf_Word off;
	Dwarf_Half version;
	uint8_t unit_type = 0, address_size = 0, offset_size = 0;
	struct dw_sections *s;
	struct unit_table *t = NULL;
	Dwarf *dbg;
	int r;

	if (!u) {
		u = m->unit_lines = calloc(1, sizeof(*u));
		if (!u) {
			*ret_err = -ENOMEM;
			return NULL;
		}
	}
	/* Split units take their lines from their skeleton: libdw's. */
	if (!unit->cu || dwarf_cu_info(unit->cu, &version, &unit_type, NULL, NULL, NULL, &address_size,
				       &offset_size) != 0 ||
	    unit_type == DW_UT_split_compile || unit_type == DW_UT_split_type ||
	    !dwarf_attr(unit, DW_AT_stmt_list, &a) || dwarf_formudata(&a, &off) != 0 ||
	    !(dbg = dwarf_cu_getdwarf(unit->cu)) || !(s = sections(m, dbg)) || !s->ok)
		return NULL;
	for (size_t i = 0; i < u->n && !t; i++)
		if (u->t[i].dbg == dbg && u->t[i].offset == off)
			t = &u->t[i];
	if (t && !t->l)
		return NULL;            /* lines.c could not read it before */
	if (!t) {
		if (MP_GROW(u->t, u->n + 1, u->cap) < 0) {
			*ret_err = -ENOMEM;
			return NULL;
		}
		t = &u->t[u->n++];
		*t = (struct unit_table){ .dbg = dbg, .offset = off, .address_size = address_size };
		t->comp_dir = dwarf_formstring(dwarf_attr(unit, DW_AT_comp_dir, &a));
	} else if (!with_rows || t->l->rows) {
		if (with_rows)
			t->used = ++u->clock;
		return t;
	}
	if (with_rows) {
		evict_rows(u);
		t->used = ++u->clock;
	}
	r = read_table(m, t, with_rows);
	if (r == -ENOMEM) {
		*ret_err = r;
		return NULL;
	}
	return t->l ? t : NULL;
}

bool mp_unit_files_locked(struct mp_module *m, Dwarf_Die *unit, const struct mp_lines **ret,
			  int *ret_err)
{
	struct unit_table *t = table(m, unit, false, ret_err);

	if (!t)
		return false;
	*ret = t->l;
	return true;
}

int mp_unit_line_locked(struct mp_module *m, Dwarf_Die *unit, uint64_t a, const char **ret_name,
			int *ret_line, int *ret_err)
{
	struct unit_table *t = table(m, unit, true, ret_err);
	const struct mp_line_row *row;

	if (!t)
		return *ret_err ? 0 : -1;
	if (!t->l->rows)
		return 0;       /* (out of memory: *ret_err) */
	row = mp_lines_find(t->l, a);
	if (!row)
		return 0;
	/* dwarf_linesrc: no name for an index past the file table. */
	*ret_name = row->file < t->l->nfiles ? t->l->files[row->file] : NULL;
	*ret_line = row->line;
	return 1;
}

void mp_unit_lines_done(struct mp_module *m)
{
	struct mp_unit_lines *u = m->unit_lines;

	if (!u)
		return;
	for (size_t i = 0; i < u->n; i++)
		mp_lines_free(u->t[i].l);
	free(u->t);
	free(u);
	m->unit_lines = NULL;
}

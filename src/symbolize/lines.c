/* SPDX-License-Identifier: MIT */
/*
 * A unit's line table (see lines.h).  The checks and the arithmetic follow
 * libdw 0.188's read_srclines() step by step, including its integer
 * widths (an address advance is computed in 32 bits, a line advance is
 * read into an int, a column must fit 16 bits and a discriminator 24),
 * because a table libdw rejects has no lines at all and a value libdw
 * truncates gives another row.  Where libdw would read past the table
 * (an operand missing at its very end, a standard opcode length outside
 * the header) this reader rejects the table and leaves it to libdw.
 */
#include <dwarf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/grow.h"
#include "symbolize/lines.h"

/* Forms of DWARF 5 directory and file entries this reader handles. */
enum { MAX_FORMS = 256 };

struct reader {
	const struct mp_lines_input *in;
	const unsigned char *end;         /* of the unit */
	unsigned offset_size;             /* 4 or 8: the unit's */
};

static uint64_t rd16(const unsigned char *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8;
}

static uint64_t rd32(const unsigned char *p)
{
	return rd16(p) | rd16(p + 2) << 16;
}

static uint64_t rd64(const unsigned char *p)
{
	return rd32(p) | rd32(p + 4) << 32;
}

/* libdw's __libdw_get_uleb128: *p < end on entry; at most 10 bytes; a
 * value that does not end in them is UINT64_MAX. */
static uint64_t uleb(const unsigned char **p, const unsigned char *end)
{
	uint64_t acc = 0;
	size_t max = (size_t)(end - *p) < 10 ? (size_t)(end - *p) : 10;

	for (size_t i = 0; i < (max ? max : 1); i++) {
		unsigned char b = *(*p)++;

		acc |= (uint64_t)(b & 0x7f) << (i * 7);
		if (!(b & 0x80))
			return acc;
	}
	return UINT64_MAX;
}

/* libdw's __libdw_get_sleb128: *p < end on entry. */
static int64_t sleb(const unsigned char **p, const unsigned char *end)
{
	uint64_t acc = 0;
	size_t max = (size_t)(end - *p) < 9 ? (size_t)(end - *p) : 9;
	unsigned char b;

	for (size_t i = 0; i < (max ? max : 1); i++) {
		b = *(*p)++;
		acc |= (uint64_t)(b & 0x7f) << (i * 7);
		if (!(b & 0x80)) {
			if (b & 0x40)
				acc |= -((uint64_t)1 << ((i + 1) * 7));
			return (int64_t)acc;
		}
	}
	if (*p == end)
		return INT64_MAX;
	b = *(*p)++;
	if (!(b & 0x80))
		return (int64_t)(acc | (uint64_t)b << 63);
	return INT64_MAX;
}

/* Whether libdw accepts form in an entry format (libdw_valid_user_form). */
static bool valid_user_form(unsigned form)
{
	switch (form) {
	case DW_FORM_block: case DW_FORM_block1: case DW_FORM_block2: case DW_FORM_block4:
	case DW_FORM_data1: case DW_FORM_data2: case DW_FORM_data4: case DW_FORM_data8:
	case DW_FORM_data16: case DW_FORM_flag: case DW_FORM_line_strp: case DW_FORM_sdata:
	case DW_FORM_sec_offset: case DW_FORM_string: case DW_FORM_strp: case DW_FORM_strp_sup:
	case DW_FORM_strx: case DW_FORM_strx1: case DW_FORM_strx2: case DW_FORM_strx3:
	case DW_FORM_strx4: case DW_FORM_udata:
		return true;
	default:
		return false;
	}
}

/* The size of a value of form at p (libdw's __libdw_form_val_len), or 0
 * when it is invalid or a form this reader leaves to libdw. */
static size_t form_len(const struct reader *r, unsigned form, const unsigned char *p)
{
	size_t left = (size_t)(r->end - p), n;
	const unsigned char *q = p, *nul;

	switch (form) {
	case DW_FORM_data1: case DW_FORM_flag: n = 1; break;
	case DW_FORM_data2: n = 2; break;
	case DW_FORM_data4: n = 4; break;
	case DW_FORM_data8: n = 8; break;
	case DW_FORM_data16: n = 16; break;
	case DW_FORM_strp: case DW_FORM_line_strp: case DW_FORM_sec_offset: n = r->offset_size; break;
	case DW_FORM_block1:
		if (left < 1)
			return 0;
		n = (size_t)*p + 1;
		break;
	case DW_FORM_block2:
		if (left < 2)
			return 0;
		n = (size_t)rd16(p) + 2;
		break;
	case DW_FORM_block4:
		if (left < 4)
			return 0;
		n = (size_t)rd32(p) + 4;
		break;
	case DW_FORM_block: {
		uint64_t v;

		if (left < 1)
			return 0;
		v = uleb(&q, r->end);
		if (v > left)
			return 0;
		n = (size_t)v + (size_t)(q - p);
		break;
	}
	case DW_FORM_udata: case DW_FORM_sdata:
		if (left < 1)
			return 0;
		(void)uleb(&q, r->end);
		n = (size_t)(q - p);
		break;
	case DW_FORM_string:
		nul = memchr(p, 0, left);
		if (!nul)
			return 0;
		n = (size_t)(nul - p) + 1;
		break;
	default:
		return 0;       /* strx*, strp_sup: not handled here */
	}
	return n <= left ? n : 0;
}

/* A NUL-terminated string at offset off of a string section, or NULL. */
static const char *section_string(const unsigned char *sec, size_t len, uint64_t off)
{
	if (!sec || off >= len || !memchr(sec + off, 0, len - (size_t)off))
		return NULL;
	return (const char *)sec + off;
}

/* The string a value of form at p names (dwarf_formstring), or NULL. */
static const char *form_string(const struct reader *r, unsigned form, const unsigned char *p)
{
	size_t w = r->offset_size;
	uint64_t off;

	switch (form) {
	case DW_FORM_string:
		return (const char *)p;
	case DW_FORM_strp:
	case DW_FORM_line_strp:
		if ((size_t)(r->end - p) < w)
			return NULL;
		off = w == 4 ? rd32(p) : rd64(p);
		return form == DW_FORM_strp ? section_string(r->in->str, r->in->str_len, off)
					    : section_string(r->in->line_str, r->in->line_str_len, off);
	default:
		return NULL;
	}
}

/* The number a value of form at p holds (dwarf_formudata); false when
 * this reader does not take that form for a number. */
static bool form_udata(const struct reader *r, unsigned form, const unsigned char *p, uint64_t *ret)
{
	size_t left = (size_t)(r->end - p);

	switch (form) {
	case DW_FORM_data1: if (left < 1) return false; *ret = *p; return true;
	case DW_FORM_data2: if (left < 2) return false; *ret = rd16(p); return true;
	case DW_FORM_data4: if (left < 4) return false; *ret = rd32(p); return true;
	case DW_FORM_data8: if (left < 8) return false; *ret = rd64(p); return true;
	case DW_FORM_udata: if (left < 1) return false; *ret = uleb(&p, r->end); return true;
	default: return false;
	}
}

/* A DWARF 5 entry format (directory_entry_format, file_name_entry_format):
 * the form of each value of an entry, and which value is its path and
 * which its directory index (NO_VALUE: none). */
enum { NO_VALUE = 0xff };       /* above any index: at most 255 values */

struct entry_format {
	unsigned forms[MAX_FORMS], n, path, dir_index;
};

/*
 * The entry format at *p and the count of entries that follows it, with
 * libdw's checks: forms it takes, a path in every entry, and a count the
 * bytes left can hold.  files: the entries are files, which carry a
 * directory index too (a directory's DW_LNCT_directory_index is a value
 * like any other, skipped).  false where libdw rejects the table; *p and
 * the outputs are then undefined.
 */
static bool read_entry_format(const unsigned char **p, const unsigned char *end, bool files,
			      struct entry_format *f, uint64_t *ret_count)
{
	uint64_t count;

	if (end - *p < 1)
		return false;
	f->n = *(*p)++;
	f->path = f->dir_index = NO_VALUE;
	for (unsigned i = 0; i < f->n; i++) {
		unsigned desc, form;

		if (end - *p < 1)
			return false;
		desc = (uint16_t)uleb(p, end);
		if (end - *p < 1)
			return false;
		form = (uint16_t)uleb(p, end);
		if (!valid_user_form(form))
			return false;
		f->forms[i] = form;
		if (desc == DW_LNCT_path)
			f->path = i;
		else if (files && desc == DW_LNCT_directory_index)
			f->dir_index = i;
	}
	if (f->n > 0 && (f->path == NO_VALUE || (files && f->dir_index == NO_VALUE)))
		return false;
	if (end - *p < 1)
		return false;           /* (libdw reads a file count anyway) */
	count = uleb(p, end);
	if (f->n == 0 && count != 0)
		return false;
	if (f->n != 0 && count > (uint64_t)(end - *p) / f->n)
		return false;
	*ret_count = count;
	return true;
}

/* One entry of format f at *p, *p moved past it: its path, and its
 * directory index when f has one (else UINT64_MAX); false where libdw
 * rejects it. */
static bool read_entry(const struct reader *r, const struct entry_format *f, const unsigned char **p,
		       const char **ret_path, uint64_t *ret_dir_index)
{
	const char *path = NULL;
	uint64_t dir_index = UINT64_MAX;

	for (unsigned m = 0; m < f->n; m++) {
		size_t len;

		if (m == f->path) {
			if (!(path = form_string(r, f->forms[m], *p)))
				return false;
		} else if (m == f->dir_index) {
			if (!form_udata(r, f->forms[m], *p, &dir_index))
				return false;
		}
		len = form_len(r, f->forms[m], *p);
		if (!len)
			return false;
		*p += len;
	}
	if (!path)
		return false;
	*ret_path = path;
	*ret_dir_index = dir_index;
	return true;
}

/* ---- building the result ------------------------------------------------------ */

struct build {
	struct mp_lines *l;
	size_t cap_files, cap_owned;
	struct row {
		uint64_t addr;
		int64_t line;
		uint32_t file, seq;
		uint8_t end;
	} *rows;
	size_t nrows, cap_rows;
};

/* dir + "/" + name, or name itself when absolute or dir is NULL (libdw
 * keeps such a name relative). */
static int add_file(struct build *b, const char *dir, const char *name, bool as_file0)
{
	struct mp_lines *l = b->l;
	const char *v = name;

	if (name[0] != '/') {
		size_t dn = dir ? strlen(dir) : 0, nn = strlen(name);
		char *s = malloc(dn + 1 + nn + 1), *c = s;

		if (!s)
			return -ENOMEM;
		if (dir) {
			memcpy(c, dir, dn);
			c += dn;
			*c++ = '/';
		}
		memcpy(c, name, nn + 1);
		if (MP_GROW(l->owned, l->nowned + 1, b->cap_owned) < 0) {
			free(s);
			return -ENOMEM;
		}
		l->owned[l->nowned++] = s;
		v = s;
	}
	if (as_file0) {
		l->files[0] = v;
		return 0;
	}
	if (MP_GROW(l->files, l->nfiles + 1, b->cap_files) < 0)
		return -ENOMEM;
	l->files[l->nfiles++] = v;
	return 0;
}

/* The state machine's registers (libdw's struct line_state). */
struct state {
	uint64_t addr;
	uint32_t op_index;
	uint32_t file;
	int64_t line;
	uint32_t column;
	uint8_t is_stmt;
	uint32_t isa, discriminator, context, function_name;
};

/* A row from the registers; false where libdw's add_new_line() finds a
 * value too wide for its row and rejects the table. */
static int add_row(struct build *b, const struct state *s, bool end)
{
	if (s->line < INT32_MIN || s->line > INT32_MAX || s->column > 0xffff || s->is_stmt > 1 ||
	    s->isa > 0xff || s->discriminator > 0xffffff || s->op_index > 0xff)
		return -EBADMSG;
	if (!b->rows)
		return 0;       /* files only */
	/* a row's index is a uint32_t */
	if (b->nrows >= UINT32_MAX || MP_GROW(b->rows, b->nrows + 1, b->cap_rows) < 0)
		return -ENOMEM;
	b->rows[b->nrows] = (struct row){ s->addr, s->line, s->file, (uint32_t)b->nrows, end };
	b->nrows++;
	return 0;
}

/* libdw's order: by address, an end of sequence first, then as emitted. */
static int cmp_row(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	if (x->end != y->end)
		return x->end ? -1 : 1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

/* Sort the rows, keep the last of each address, end with an end. */
static int finish_rows(struct build *b)
{
	struct mp_lines *l = b->l;
	size_t n = 0;

	if (b->nrows)
		qsort(b->rows, b->nrows, sizeof(*b->rows), cmp_row);
	l->rows = malloc((b->nrows ? b->nrows : 1) * sizeof(*l->rows));
	if (!l->rows)
		return -ENOMEM;
	for (size_t i = 0; i < b->nrows; i++) {
		const struct row *r = &b->rows[i];

		if (i + 1 < b->nrows && b->rows[i + 1].addr == r->addr)
			continue;
		/* (a file index past the table, whose end is known only
		 * now, has no name: one value stands for all of them) */
		l->rows[n++] = (struct mp_line_row){
			r->addr, (int32_t)r->line,
			r->end ? MP_LINE_END : r->file < l->nfiles ? r->file : MP_LINE_NO_FILE
		};
	}
	/* The highest row ends the table, whatever the program said. */
	if (n)
		l->rows[n - 1].file = MP_LINE_END;
	l->nrows = n;
	if (n && n < b->nrows) {
		struct mp_line_row *shrunk = realloc(l->rows, n * sizeof(*l->rows));

		if (shrunk)
			l->rows = shrunk;
	}
	return 0;
}

/* ---- the table ----------------------------------------------------------------- */

#define BAD do { err = -EBADMSG; goto out; } while (0)

int mp_lines_read(const struct mp_lines_input *in, bool want_rows, struct mp_lines **ret)
{
	struct build b = { 0 };
	struct reader r = { .in = in };
	const unsigned char *p, *end, *std_len, *header_start;
	uint64_t unit_length, header_length, ndirs;
	unsigned version, min_len, max_ops = 1, default_is_stmt, line_range, opcode_base;
	int line_base, err = 0;
	uint32_t str_offset = 0;
	struct state s;
	struct mp_lines *l;

	if (in->offset >= in->line_len || (in->address_size != 4 && in->address_size != 8))
		return -EBADMSG;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	b.l = l;
	p = in->line + in->offset;
	end = in->line + in->line_len;

	/* The header. */
	if (end - p < 4)
		BAD;
	unit_length = rd32(p);
	p += 4;
	r.offset_size = 4;
	if (unit_length == 0xffffffff) {
		if (end - p < 8)
			BAD;
		unit_length = rd64(p);
		p += 8;
		r.offset_size = 8;
	}
	if (unit_length > (uint64_t)(end - p))
		BAD;
	end = p + unit_length;
	r.end = end;
	if (end - p < 2)
		BAD;
	version = (unsigned)rd16(p);
	p += 2;
	if (version < 2 || version > 5)
		BAD;
	if (version >= 5) {
		if (end - p < 2)
			BAD;
		if (p[0] != in->address_size || p[1] != 0)
			BAD;
		p += 2;
	}
	if ((size_t)(end - p) < r.offset_size)
		BAD;
	header_length = r.offset_size == 4 ? rd32(p) : rd64(p);
	p += r.offset_size;
	header_start = p;
	if (p >= end)
		BAD;            /* (libdw reads it anyway) */
	min_len = *p++;
	if (version >= 4) {
		if (end - p < 1)
			BAD;
		max_ops = *p++;
		if (max_ops == 0)
			BAD;
	}
	if (end - p < 4)
		BAD;
	default_is_stmt = *p++;
	line_base = (int8_t)*p++;
	line_range = *p++;
	opcode_base = *p++;
	std_len = p - 1;                /* std_len[op] for op in 1..opcode_base-1 */
	if (opcode_base == 0)
		BAD;            /* libdw steps back a byte: not handled here */
	if ((size_t)(end - p) < opcode_base - 1)
		BAD;
	p += opcode_base - 1;

	/* Directories: entry 0 is the compilation directory before DWARF 5. */
	if (version < 5) {
		const unsigned char *q = p;

		ndirs = 0;
		while (q < end && *q) {
			const unsigned char *nul = memchr(q, 0, (size_t)(end - q));

			if (!nul)
				BAD;
			ndirs++;
			q = nul + 1;
		}
		if (q >= end || *q)
			BAD;
		ndirs++;
		l->dirs = malloc(ndirs * sizeof(*l->dirs));
		if (!l->dirs) {
			err = -ENOMEM;
			goto out;
		}
		l->dirs[0] = in->comp_dir;
		for (uint64_t i = 1; i < ndirs; i++) {
			l->dirs[i] = (const char *)p;
			p += strlen((const char *)p) + 1;
		}
		p++;
	} else {
		struct entry_format f;
		uint64_t unused;

		if (!read_entry_format(&p, end, false, &f, &ndirs))
			BAD;
		l->dirs = malloc((ndirs ? ndirs : 1) * sizeof(*l->dirs));
		if (!l->dirs) {
			err = -ENOMEM;
			goto out;
		}
		for (uint64_t n = 0; n < ndirs; n++)
			if (!read_entry(&r, &f, &p, &l->dirs[n], &unused))
				BAD;
	}
	l->ndirs = (size_t)ndirs;

	/* Files: file 0 is "???" until DWARF 5 names it. */
	b.cap_files = 16;
	l->files = malloc(b.cap_files * sizeof(*l->files));
	if (!l->files) {
		err = -ENOMEM;
		goto out;
	}
	l->files[0] = "???";
	l->nfiles = 1;
	if (version < 5) {
		if (p >= end)
			BAD;
		while (p < end && *p) {
			const char *name = (const char *)p;
			const unsigned char *nul = memchr(p, 0, (size_t)(end - p));
			uint64_t diridx;

			if (!nul)
				BAD;
			p = nul + 1;
			if (p >= end)
				BAD;
			diridx = uleb(&p, end);
			if (diridx >= ndirs)
				BAD;
			if ((err = add_file(&b, l->dirs[diridx], name, false)) < 0)
				goto out;
			if (p >= end)
				BAD;
			(void)uleb(&p, end);    /* modification time */
			if (p >= end)
				BAD;
			(void)uleb(&p, end);    /* length */
		}
		if (p >= end || *p)
			BAD;
		p++;
	} else {
		struct entry_format f;
		uint64_t nfiles;

		if (!read_entry_format(&p, end, true, &f, &nfiles))
			BAD;
		for (uint64_t n = 0; n < nfiles; n++) {
			const char *name;
			uint64_t diridx;

			if (!read_entry(&r, &f, &p, &name, &diridx) || diridx == UINT64_MAX ||
			    diridx >= ndirs)
				BAD;
			/* Entry 0 is file 0 ("an off-by-one in the spec", libdw). */
			if ((err = add_file(&b, l->dirs[diridx], name, n == 0)) < 0)
				goto out;
		}
	}
	if ((uint64_t)(p - header_start) + 4 == header_length) {
		/* CUBIN: a 4-byte offset of function names in .debug_str. */
		if (end - p < 4)
			BAD;
		str_offset = (uint32_t)rd32(p);
		p += 4;
	}
	if ((uint64_t)(p - header_start) != header_length)
		BAD;

	/* The program. */
	if (want_rows) {
		b.cap_rows = 256;
		b.rows = malloc(b.cap_rows * sizeof(*b.rows));
		if (!b.rows) {
			err = -ENOMEM;
			goto out;
		}
	}
	memset(&s, 0, sizeof(s));
	s.file = 1;
	s.line = 1;
	s.is_stmt = (uint8_t)default_is_stmt;
#define STD_LEN(op) (std_len + (op) < end ? (int)std_len[op] : -1)
#define ADVANCE(adv) do { \
		uint32_t a_ = s.op_index + (uint32_t)(adv); \
		s.addr += (uint32_t)(min_len * (a_ / max_ops)); \
		s.op_index = a_ % max_ops; \
	} while (0)
	while (p < end) {
		unsigned op = *p++;

		if (op >= opcode_base) {
			if (line_range == 0)
				BAD;
			s.line += line_base + (int)((op - opcode_base) % line_range);
			ADVANCE((op - opcode_base) / line_range);
			if ((err = add_row(&b, &s, false)) < 0)
				goto out;
			s.discriminator = 0;
		} else if (op == 0) {
			unsigned len, sub;

			if (end - p < 2)
				BAD;
			len = *p++;
			if ((size_t)(end - p) < len)
				BAD;
			sub = *p++;
			switch (sub) {
			case DW_LNE_end_sequence:
				if ((err = add_row(&b, &s, true)) < 0)
					goto out;
				memset(&s, 0, sizeof(s));
				s.file = 1;
				s.line = 1;
				s.is_stmt = (uint8_t)default_is_stmt;
				break;
			case DW_LNE_set_address:
				s.op_index = 0;
				if ((size_t)(end - p) < in->address_size)
					BAD;
				s.addr = in->address_size == 4 ? rd32(p) : rd64(p);
				p += in->address_size;
				break;
			case DW_LNE_define_file: {
				const char *name = (const char *)p;
				const unsigned char *nul = memchr(p, 0, (size_t)(end - p));
				uint32_t diridx;

				if (!nul)
					BAD;
				p = nul + 1;
				if (p >= end)
					BAD;
				diridx = (uint32_t)uleb(&p, end);
				if (diridx >= ndirs)
					BAD;
				if (p >= end)
					BAD;
				(void)uleb(&p, end);
				if (p >= end)
					BAD;
				(void)uleb(&p, end);
				if ((err = add_file(&b, l->dirs[diridx], name, false)) < 0)
					goto out;
				break;
			}
			case DW_LNE_set_discriminator:
				/* (libdw checks the length of standard opcode 4) */
				if (STD_LEN(DW_LNE_set_discriminator) != 1 || p >= end)
					BAD;
				s.discriminator = (uint32_t)uleb(&p, end);
				break;
			case DW_LNE_NVIDIA_inlined_call:
				if (p >= end)
					BAD;
				s.context = (uint32_t)uleb(&p, end);
				if (p >= end)
					BAD;
				s.function_name = (uint32_t)uleb(&p, end) + str_offset;
				break;
			case DW_LNE_NVIDIA_set_function_name:
				if (p >= end)
					BAD;
				s.function_name = (uint32_t)uleb(&p, end) + str_offset;
				break;
			default:
				/* Unknown: skipped by its length (libdw steps back
				 * a byte for length 0: not handled here). */
				if (len == 0 || (size_t)(end - (p - 1)) < len)
					BAD;
				p += len - 1;
				break;
			}
		} else if (op <= DW_LNS_set_isa) {
			switch (op) {
			case DW_LNS_copy:
				if (STD_LEN(op) != 0)
					BAD;
				if ((err = add_row(&b, &s, false)) < 0)
					goto out;
				s.discriminator = 0;
				break;
			case DW_LNS_advance_pc:
				if (STD_LEN(op) != 1 || p >= end)
					BAD;
				ADVANCE((uint32_t)uleb(&p, end));
				break;
			case DW_LNS_advance_line:
				if (STD_LEN(op) != 1 || p >= end)
					BAD;
				s.line += (int32_t)sleb(&p, end);
				break;
			case DW_LNS_set_file:
				if (STD_LEN(op) != 1 || p >= end)
					BAD;
				s.file = (uint32_t)uleb(&p, end);
				break;
			case DW_LNS_set_column:
				if (STD_LEN(op) != 1 || p >= end)
					BAD;
				s.column = (uint32_t)uleb(&p, end);
				break;
			case DW_LNS_negate_stmt:
				if (STD_LEN(op) != 0)
					BAD;
				s.is_stmt = (uint8_t)(1 - s.is_stmt);
				break;
			case DW_LNS_set_basic_block:
			case DW_LNS_set_prologue_end:
			case DW_LNS_set_epilogue_begin:
				if (STD_LEN(op) != 0)
					BAD;
				break;
			case DW_LNS_const_add_pc:
				if (STD_LEN(op) != 0 || line_range == 0)
					BAD;
				ADVANCE((255 - opcode_base) / line_range);
				break;
			case DW_LNS_fixed_advance_pc:
				if (STD_LEN(op) != 1 || end - p < 2)
					BAD;
				s.addr += rd16(p);
				p += 2;
				s.op_index = 0;
				break;
			case DW_LNS_set_isa:
				if (STD_LEN(op) != 1 || p >= end)
					BAD;
				s.isa = (uint32_t)uleb(&p, end);
				break;
			}
		} else {
			/* A standard opcode this reader does not know: its
			 * operands are skipped. */
			for (int n = std_len[op]; n > 0; n--) {
				if (p >= end)
					BAD;
				(void)uleb(&p, end);
			}
		}
	}
#undef STD_LEN
#undef ADVANCE
	if (want_rows && (err = finish_rows(&b)) < 0)
		goto out;
out:
	free(b.rows);
	if (err < 0) {
		mp_lines_free(l);
		return err;
	}
	*ret = l;
	return 0;
}

void mp_lines_free(struct mp_lines *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->nowned; i++)
		free(l->owned[i]);
	free(l->owned);
	free(l->files);
	free(l->dirs);
	free(l->rows);
	free(l);
}

const struct mp_line_row *mp_lines_find(const struct mp_lines *l, uint64_t a)
{
	size_t lo = 0, hi = l->nrows;

	/* The last row at or below a: dwarf_getsrc_die's answer, unless it
	 * ends a sequence. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->rows[mid].addr <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || l->rows[lo - 1].file == MP_LINE_END)
		return NULL;
	return &l->rows[lo - 1];
}

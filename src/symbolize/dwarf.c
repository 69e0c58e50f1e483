/* SPDX-License-Identifier: MIT */
/*
 * Frames from DWARF for a module (module-int.h), with libdw: which unit
 * holds an address (.debug_aranges through libdwfl, else the units' own
 * ranges), which function of the unit (an index of the unit's functions,
 * built on its first lookup), the chain of inlined instances out to the
 * subprogram that holds the code, file and line from the unit's line table
 * (read once per unit by libdw) and from each instance's call site.
 * Everything here runs under the module's lock.
 */
#include <dwarf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/grow.h"
#include "symbolize/lines.h"
#include "symbolize/module-int.h"
#include "symbolize/paths.h"

/*
 * Source file names from the line table, made into names a profile can
 * show and pprof can find: joined to the compilation directory and
 * lexically cleaned (paths.h).
 *
 * libdw already joins each file's name to its directory entry
 * (dwarf_getsrclines), and directory entry 0 is the compilation directory
 * itself (DW_AT_comp_dir before DWARF 5, the table's entry 0 since).  A
 * name libdw hands back relative therefore came either from a relative
 * entry 0 (then it starts with that entry, and is complete: Debian builds
 * map the build directory to ".", as in glibc's "./csu/../sysdeps/x.h";
 * clang's "cd sub; cc ../src/x.c" with such a map gives "./sub/../src/x.c")
 * or from another relative entry, which DWARF makes relative to the
 * compilation directory (gcc's entry "src" for "gcc -c src/x.c" run from a
 * project root): then it is joined to entry 0.  (binutils' addr2line and
 * llvm-symbolizer join entry 0 twice in the first case of DWARF 5 and name
 * files that do not exist, "./sub/./sub/../src/x.c".)  With a relative
 * compilation directory the result stays relative, to the top of the
 * source tree: "sysdeps/x86/libc-start.c".  Returns `name` itself when it
 * is clean and needs no joining.  Under the lock.
 */
static const char *absolute_file(struct mp_module *m, Dwarf_Die *unit, const char *name,
				 int *ret_err)
{
	static const char none[] = "";
	const char *dir = NULL, *done;
	char *path;

	if (!name)
		return NULL;
	if (name[0] != '/') {
		Dwarf_Files *files;
		const char *const *dirs;
		size_t nfiles, ndirs;
		const struct mp_lines *l;
		Dwarf_Attribute a;

		if (mp_unit_files_locked(m, unit, &l, ret_err)) {
			if (l->ndirs > 0 && l->dirs[0])
				dir = l->dirs[0];
		} else if (dwarf_getsrcfiles(unit, &files, &nfiles) == 0 &&
			   dwarf_getsrcdirs(files, &dirs, &ndirs) == 0 && ndirs > 0 && dirs[0]) {
			dir = dirs[0];
		}
		if (!dir)
			dir = dwarf_formstring(dwarf_attr(unit, DW_AT_comp_dir, &a));
		if (dir && dir[0] != '/') {
			size_t n = strlen(dir);

			if (strncmp(name, dir, n) == 0 && name[n] == '/')
				dir = NULL;     /* joined to entry 0 already */
		}
	}
	if (!dir || !dir[0]) {
		if (mp_path_is_clean(name))
			return name;
		dir = none;
	}
	done = mp_module_memo_get(m, dir, name);
	if (done)
		return done;
	path = mp_path_resolve(dir, name);
	if (!path) {
		*ret_err = -ENOMEM;
		return name;
	}
	done = mp_module_memo_put(m, dir, name, path, ret_err);
	return done ? done : name;
}

static const char *die_string(Dwarf_Die *die, unsigned int name)
{
	Dwarf_Attribute a;

	return dwarf_formstring(dwarf_attr_integrate(die, name, &a));
}

static bool die_udata(Dwarf_Die *die, unsigned int name, Dwarf_Word *ret)
{
	Dwarf_Attribute a;

	return dwarf_formudata(dwarf_attr_integrate(die, name, &a), ret) == 0;
}

/* The file at index `idx` of the line table of the unit holding `die`. */
static const char *unit_file(struct mp_module *m, Dwarf_Die *die, Dwarf_Word idx, int *ret_err)
{
	Dwarf_Die unit;
	Dwarf_Files *files;
	size_t nfiles;
	const struct mp_lines *l;

	if (!dwarf_diecu(die, &unit, NULL, NULL))
		return NULL;
	if (mp_unit_files_locked(m, &unit, &l, ret_err))
		return idx < l->nfiles ? absolute_file(m, &unit, l->files[idx], ret_err) : NULL;
	if (dwarf_getsrcfiles(&unit, &files, &nfiles) != 0 || idx >= nfiles)
		return NULL;
	return absolute_file(m, &unit, dwarf_filesrc(files, idx, NULL, NULL), ret_err);
}

/* The line table's file (as the table names it) and line for unit
 * address a: dwarf_getsrc_die's answer.  False when there is none. */
static bool unit_line(struct mp_module *m, Dwarf_Die *cu, uint64_t a, const char **ret_name,
		      int *ret_line, int *ret_err)
{
	Dwarf_Line *line;
	int r = mp_unit_line_locked(m, cu, a, ret_name, ret_line, ret_err);

	if (r >= 0)
		return r == 1;
	line = dwarf_getsrc_die(cu, a);
	if (!line || dwarf_lineno(line, ret_line) != 0)
		return false;
	*ret_name = dwarf_linesrc(line, NULL, NULL);
	return true;
}

static int cmp_range(const void *a, const void *b)
{
	const struct cu_range *x = a, *y = b;

	return (x->lo > y->lo) - (x->lo < y->lo);
}

/* The units of a debug file dwopen.c opened, in .debug_info order (what
 * libdwfl's dwfl_module_nextcu walks for its own files). */
static int own_units_locked(struct mp_module *m)
{
	Dwarf_Off off = 0, next;
	size_t hsize, cap = 0;

	if (m->own_units)
		return 0;
	while (dwarf_next_unit(m->dw, off, &next, &hsize, NULL, NULL, NULL, NULL, NULL, NULL) == 0) {
		if (MP_GROW(m->own_units, m->own_nunits + 1, cap) < 0)
			return -ENOMEM;
		if (dwarf_offdie(m->dw, off + hsize, &m->own_units[m->own_nunits]))
			m->own_nunits++;
		off = next;
	}
	if (!m->own_units && !(m->own_units = malloc(sizeof(*m->own_units))))
		return -ENOMEM;
	return 0;
}

/* The next unit after cu (NULL: the first), as dwfl_module_nextcu. */
static Dwarf_Die *next_unit(struct mp_module *m, Dwarf_Die *cu, int *ret_err)
{
	Dwarf_Addr bias;
	size_t i;

	if (!m->own)
		return dwfl_module_nextcu(m->mod, cu, &bias);
	if ((*ret_err = own_units_locked(m)) < 0)
		return NULL;
	i = cu ? (size_t)(cu - m->own_units) + 1 : 0;
	return i < m->own_nunits ? &m->own_units[i] : NULL;
}

static int build_cu_table_locked(struct mp_module *m)
{
	Dwarf_Die *cu = NULL;
	size_t cap = 0;
	int err = 0;

	m->cus_built = true;
	while ((cu = next_unit(m, cu, &err))) {
		Dwarf_Addr base, lo, hi;
		ptrdiff_t off = 0;

		while ((off = dwarf_ranges(cu, off, &base, &lo, &hi)) > 0) {
			if (lo >= hi)
				continue;
			if (MP_GROW(m->cus, m->ncus + 1, cap) < 0)
				return -ENOMEM;
			m->cus[m->ncus++] = (struct cu_range){ lo, hi, cu };
		}
	}
	if (m->ncus)
		qsort(m->cus, m->ncus, sizeof(*m->cus), cmp_range);
	return err;
}

/* The unit of address a (a DWARF address) by .debug_aranges: libdwfl's
 * dwfl_module_addrdie, or libdw's dwarf_addrdie for own's file (into the
 * module's scratch unit, valid until the next call: the lock is held
 * from the lookup to the last use). */
static Dwarf_Die *arange_unit(struct mp_module *m, uint64_t addr)
{
	Dwarf_Addr bias;

	if (!m->own)
		return dwfl_module_addrdie(m->mod, addr, &bias);
	return dwarf_addrdie(m->dw, addr - m->dwbias, &m->own_unit);
}

/*
 * The compilation unit holding addr.  libdwfl finds it through
 * .debug_aranges, which clang does not emit by default; then the units'
 * own ranges (DW_AT_low_pc/high_pc, DW_AT_ranges) are searched.
 */
static Dwarf_Die *find_cu(struct mp_module *m, uint64_t addr, Dwarf_Addr *ret_bias, int *ret_err)
{
	Dwarf_Die *cu = arange_unit(m, addr);
	size_t lo = 0, hi;
	uint64_t a;

	*ret_bias = m->dwbias;
	if (cu || !m->dw)
		return cu;
	if (!m->cus_built && (*ret_err = build_cu_table_locked(m)) < 0)
		return NULL;
	a = addr - *ret_bias;
	hi = m->ncus;
	while (lo < hi) {           /* first range with lo > a */
		size_t mid = lo + (hi - lo) / 2;

		if (m->cus[mid].lo <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Ranges of different units do not overlap in sane DWARF; look back a
	 * little in case they do. */
	for (size_t i = lo, n = 0; i > 0 && n < 8; i--, n++)
		if (a >= m->cus[i - 1].lo && a < m->cus[i - 1].hi)
			return m->cus[i - 1].cu;
	return NULL;
}

static void set_names_locked(struct mp_module *m, struct mp_sym_frame *fr, const char *linkage,
			     const char *name, int *ret_err)
{
	if (linkage) {
		fr->system_name = linkage;
		fr->function = mp_module_demangle_locked(m, linkage, ret_err);
	} else {
		fr->system_name = fr->function = name;
	}
}

/*
 * A unit's functions as an address index, built on the unit's first lookup
 * by one walk of its DIE tree: every subprogram and inlined_subroutine
 * with code (its low/high pc or ranges), with the function DIE that holds
 * it in the tree (its parent for the chain of frames), swept into
 * stretches of addresses each naming the innermost function there.  A
 * lookup is a binary search; dwarf_getscopes(), which walked the unit's
 * tree for every address, took 2 ms an address on libpython's units.
 */
struct cu_fns {
	uint64_t *start;            /* stretch starts (unit addresses), ascending */
	int32_t *die;               /* innermost function of each stretch, -1: none */
	size_t n;
	Dwarf_Die *dies;            /* the functions */
	int32_t *parent;            /* enclosing function of each, -1: none */
	size_t ndies;
};

struct fn_range {
	uint64_t lo, hi;
	int32_t die;
	uint32_t depth;
};

struct fns_build {
	struct cu_fns *c;
	size_t cap_dies, cap_parent;
	struct fn_range *r;
	size_t nr, cap_r;
	unsigned imports;
	int err;
};

static void cu_fns_free(struct cu_fns *c)
{
	if (!c)
		return;
	free(c->start);
	free(c->die);
	free(c->dies);
	free(c->parent);
	free(c);
}

/* DIEs whose children never hold code. */
static bool leaf_tag(int tag)
{
	switch (tag) {
	case DW_TAG_subprogram: case DW_TAG_inlined_subroutine: case DW_TAG_lexical_block:
	case DW_TAG_compile_unit: case DW_TAG_partial_unit: case DW_TAG_namespace:
	case DW_TAG_module: case DW_TAG_try_block: case DW_TAG_catch_block:
	case DW_TAG_with_stmt: case DW_TAG_common_block: case DW_TAG_entry_point:
		return false;
	default:
		return true;
	}
}

static void walk_fns(struct fns_build *b, Dwarf_Die *parent_die, int32_t parent, uint32_t depth)
{
	Dwarf_Die child;

	if (depth > 512 || b->err || dwarf_child(parent_die, &child) != 0)
		return;
	do {
		int tag = dwarf_tag(&child);
		int32_t self = parent;

		if (tag == DW_TAG_imported_unit) {
			Dwarf_Attribute a;
			Dwarf_Die unit;

			/* dwz's partial units, shared between units; bounded
			 * against import cycles in hostile data. */
			if (b->imports++ < 1024 && dwarf_attr(&child, DW_AT_import, &a) &&
			    dwarf_formref_die(&a, &unit))
				walk_fns(b, &unit, parent, depth + 1);
			continue;
		}
		if (tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine) {
			Dwarf_Addr base, lo, hi;
			ptrdiff_t off = 0;
			bool any = false;

			while ((off = dwarf_ranges(&child, off, &base, &lo, &hi)) > 0) {
				if (lo >= hi)
					continue;
				if (!any) {
					struct cu_fns *c = b->c;

					/* parent[] holds indexes of dies[] as int32_t */
					if (c->ndies >= INT32_MAX ||
					    MP_GROW(c->dies, c->ndies + 1, b->cap_dies) < 0 ||
					    MP_GROW(c->parent, c->ndies + 1, b->cap_parent) < 0) {
						b->err = -ENOMEM;
						return;
					}
					c->dies[c->ndies] = child;
					c->parent[c->ndies] = parent;
					self = (int32_t)c->ndies++;
					any = true;
				}
				if (MP_GROW(b->r, b->nr + 1, b->cap_r) < 0) {
					b->err = -ENOMEM;
					return;
				}
				b->r[b->nr++] = (struct fn_range){ lo, hi, self, depth };
			}
		}
		if (!leaf_tag(tag))
			walk_fns(b, &child, self, depth + 1);
	} while (!b->err && dwarf_siblingof(&child, &child) == 0);
}

static int cmp_u64v(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static int cmp_fn_lo(const void *a, const void *b)
{
	const struct fn_range *x = a, *y = b;

	if (x->lo != y->lo)
		return (x->lo > y->lo) - (x->lo < y->lo);
	return (x->depth > y->depth) - (x->depth < y->depth);
}

/* Whether range a is innermost in preference to b (both hold an address). */
static bool fn_better(const struct fn_range *a, const struct fn_range *b)
{
	if (a->depth != b->depth)
		return a->depth > b->depth;
	if (a->lo != b->lo)
		return a->lo > b->lo;
	return a->die > b->die;
}

/* Sweep the ranges into stretches (as symindex.c does with symbols). */
static int fns_stretches(struct cu_fns *c, struct fn_range *r, size_t nr)
{
	uint64_t *bounds = malloc((2 * nr + 1) * sizeof(*bounds));
	size_t *heap = malloc((nr + 1) * sizeof(*heap)), nh = 0, nb = 0, p = 0;

	c->start = malloc((2 * nr + 1) * sizeof(*c->start));
	c->die = malloc((2 * nr + 1) * sizeof(*c->die));
	if (!bounds || !heap || !c->start || !c->die) {
		free(bounds);
		free(heap);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nr; i++) {
		bounds[nb++] = r[i].lo;
		bounds[nb++] = r[i].hi;
	}
	qsort(bounds, nb, sizeof(*bounds), cmp_u64v);
	qsort(r, nr, sizeof(*r), cmp_fn_lo);
	for (size_t k = 0; k < nb; k++) {
		uint64_t b = bounds[k];
		int32_t win = -1;

		if (k > 0 && b == bounds[k - 1])
			continue;
		for (; p < nr && r[p].lo <= b; p++) {          /* push, sift up */
			size_t i = nh++;

			while (i > 0 && fn_better(&r[p], &r[heap[(i - 1) / 2]])) {
				heap[i] = heap[(i - 1) / 2];
				i = (i - 1) / 2;
			}
			heap[i] = p;
		}
		while (nh && r[heap[0]].hi <= b) {              /* pop expired tops */
			size_t x = heap[--nh], i = 0;

			for (;;) {
				size_t ch = 2 * i + 1;

				if (ch >= nh)
					break;
				if (ch + 1 < nh && fn_better(&r[heap[ch + 1]], &r[heap[ch]]))
					ch++;
				if (!fn_better(&r[heap[ch]], &r[x]))
					break;
				heap[i] = heap[ch];
				i = ch;
			}
			if (nh)
				heap[i] = x;
		}
		if (nh)
			win = r[heap[0]].die;
		if (c->n && c->die[c->n - 1] == win)
			continue;
		c->start[c->n] = b;
		c->die[c->n] = win;
		c->n++;
	}
	free(bounds);
	free(heap);
	return 0;
}

/* The function index of unit `cu` (built now if new), or NULL with
 * *ret_err on failure.  Under the lock. */
static struct cu_fns *cu_fns_locked(struct mp_module *m, Dwarf_Die *cu, int *ret_err)
{
	void *key = cu->addr;
	struct fns_build b = { 0 };
	size_t j;

	if (m->cap_cufns) {
		for (j = ((uintptr_t)key >> 4) & (m->cap_cufns - 1); m->cufns[j].key;
		     j = (j + 1) & (m->cap_cufns - 1))
			if (m->cufns[j].key == key)
				return m->cufns[j].fns;
	}
	if ((m->ncufns + 1) * 2 > m->cap_cufns) {
		size_t ncap = m->cap_cufns ? 2 * m->cap_cufns : 64;
		struct cu_slot *n = calloc(ncap, sizeof(*n));

		if (!n) {
			*ret_err = -ENOMEM;
			return NULL;
		}
		for (size_t i = 0; i < m->cap_cufns; i++) {
			if (!m->cufns[i].key)
				continue;
			for (j = ((uintptr_t)m->cufns[i].key >> 4) & (ncap - 1); n[j].key; j = (j + 1) & (ncap - 1))
				;
			n[j] = m->cufns[i];
		}
		free(m->cufns);
		m->cufns = n;
		m->cap_cufns = ncap;
	}
	b.c = calloc(1, sizeof(*b.c));
	if (!b.c) {
		*ret_err = -ENOMEM;
		return NULL;
	}
	walk_fns(&b, cu, -1, 0);
	if (b.err || fns_stretches(b.c, b.r, b.nr) < 0) {
		free(b.r);
		cu_fns_free(b.c);
		*ret_err = -ENOMEM;
		return NULL;
	}
	free(b.r);
	for (j = ((uintptr_t)key >> 4) & (m->cap_cufns - 1); m->cufns[j].key; j = (j + 1) & (m->cap_cufns - 1))
		;
	m->cufns[j].key = key;
	m->cufns[j].fns = b.c;
	m->ncufns++;
	return b.c;
}

/* The innermost function of c holding unit address a, or -1. */
static int32_t cu_fns_lookup(const struct cu_fns *c, uint64_t a)
{
	size_t lo = 0, hi = c->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->start[mid] <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? c->die[lo - 1] : -1;
}

/*
 * Frames from DWARF; false when DWARF knows no function at addr.  Under
 * the lock.  The innermost function comes from the unit's function index,
 * the chain of physically enclosing ones (inlined instances, then the
 * subprogram that holds the code) from the DIE tree, not from the abstract
 * origins.
 */
bool mp_dwarf_frames_locked(struct mp_module *m, uint64_t addr, struct frames *f)
{
	Dwarf_Addr bias;
	Dwarf_Die *cu = find_cu(m, addr, &bias, &f->err);
	struct cu_fns *c;
	const char *file = NULL, *name = NULL;
	int lineno = 0;
	int32_t d;
	bool found = false;

	if (!cu)
		return false;
	c = cu_fns_locked(m, cu, &f->err);
	if (!c)
		return false;
	d = cu_fns_lookup(c, addr - bias);
	if (d < 0)
		return false;

	if (unit_line(m, cu, addr - bias, &name, &lineno, &f->err))
		file = absolute_file(m, cu, name, &f->err);
	else
		lineno = 0;
	/* From the innermost function out, through the inlined instances to
	 * the subprogram that holds the code. */
	for (; d >= 0 && !f->err; d = c->parent[d]) {
		Dwarf_Die *die = &c->dies[d];
		const char *fn_name, *linkage;
		struct mp_sym_frame *fr;
		Dwarf_Word v;
		int decl = 0;

		fr = mp_frames_add(f);
		if (!fr)
			break;
		found = true;
		linkage = die_string(die, DW_AT_linkage_name);
		if (!linkage)
			linkage = die_string(die, DW_AT_MIPS_linkage_name);
		fn_name = dwarf_diename(die);
		if (!linkage && !fn_name && dwarf_tag(die) == DW_TAG_subprogram) {
			int64_t s = mp_module_sym_at(m, addr - m->bias);

			linkage = s >= 0 ? m->symname[s] : NULL;
		}
		set_names_locked(m, fr, linkage, fn_name ? fn_name : "??", &f->err);
		fr->file = file;
		fr->line = lineno > 0 ? lineno : 0;
		if (dwarf_decl_line(die, &decl) == 0 && decl > 0)
			fr->start_line = decl;
		if (dwarf_tag(die) == DW_TAG_subprogram)
			break;
		/* The next frame out is at this inlined instance's call site. */
		file = die_udata(die, DW_AT_call_file, &v) ? unit_file(m, die, v, &f->err) : NULL;
		lineno = die_udata(die, DW_AT_call_line, &v) && v <= INT32_MAX ? (int)v : 0;
	}
	return found;
}

/*
 * The line table's file and line for addr when DWARF has no function DIE
 * holding it (GCC's link-time optimisation puts the code's DIEs in units
 * the address ranges do not lead to; the line table still has the place).
 * Under the lock.
 */
void mp_dwarf_line_locked(struct mp_module *m, uint64_t addr, const char **ret_file, int *ret_line,
			  int *ret_err)
{
	Dwarf_Addr bias;
	Dwarf_Die *cu = find_cu(m, addr, &bias, ret_err);
	const char *name = NULL;
	int lineno;

	if (cu && unit_line(m, cu, addr - bias, &name, &lineno, ret_err) && lineno > 0) {
		*ret_file = absolute_file(m, cu, name, ret_err);
		*ret_line = lineno;
	}
}

void mp_dwarf_warm_locked(struct mp_module *m)
{
	if (!m->cus_built && m->dw)
		(void)build_cu_table_locked(m);
}

void mp_dwarf_done(struct mp_module *m)
{
	mp_unit_lines_done(m);
	for (size_t i = 0; i < m->cap_cufns; i++)
		cu_fns_free(m->cufns[i].fns);
	free(m->cufns);
	m->cufns = NULL;
	m->ncufns = m->cap_cufns = 0;
	free(m->cus);
	m->cus = NULL;
	m->ncus = 0;
	m->cus_built = false;
}

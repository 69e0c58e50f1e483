/* SPDX-License-Identifier: MIT */
/*
 * The symbolizer as it was before its own symbol index (libdwfl's
 * dwfl_module_addrinfo for symbol names, libdw for DWARF frames), kept as
 * the reference that tests/bench/sym-bench.c compares today's answers
 * with, address by address.  Not part of memprof.
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "symbolize/maps.h"
#include "symbolize/paths.h"
#include "symbolize/symbolize.h"
#include "symref.h"

/* libstdc++'s demangler (the Itanium C++ ABI's abi::__cxa_demangle). */
extern char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

/* A unit's address range, for files without .debug_aranges. */
struct cu_range {
	uint64_t lo, hi;            /* [lo, hi), file addresses */
	Dwarf_Die *cu;              /* owned by libdwfl */
};

struct mapping {
	struct mp_sym_mapping pub;
	char *path;
	uint64_t inode;
	uint32_t dev_major, dev_minor;
	char build_id[2 * 64 + 1];
	Dwfl *dwfl;                 /* NULL when no ELF */
	Dwfl_Module *mod;
	struct cu_range *cus;       /* sorted by lo; built on the first miss */
	size_t ncus;
	bool cus_built;
	bool borrowed_dwfl;         /* dwfl, mod belong to another symbolizer */
	bool borrowed_cus;          /* cus too */
};

struct entry {
	uint64_t addr;
	struct mp_sym_result r;
	struct mp_sym_frame *frames;
};

struct ref_symbolizer {
	struct mapping *maps;
	size_t nmaps;

	struct entry *entries;
	size_t nentries, cap_entries;
	uint32_t *slots;            /* entry index + 1, 0 = empty; open addressing */
	size_t nslots;              /* power of two */

	/* Strings made here (demangled names, absolute file names), each
	 * memoized by the libdw strings it was made from. */
	struct memo {
		const void *k1, *k2;
		char *value;
	} *memo;
	size_t nmemo, cap_memo;     /* cap_memo: power of two (or 0) */
};

static char *debuginfo_path;   /* NULL: libdwfl's default search path */

static const Dwfl_Callbacks offline_callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.section_address = dwfl_offline_section_address,
	.debuginfo_path = &debuginfo_path,
};

/* ---- loading files ---------------------------------------------------------- */

/*
 * The load bias of the ELF open on `fd` when its file offset `offset` is
 * mapped at `start`.  False when no PT_LOAD segment holds that offset (not
 * the file that was mapped).  Executable segments win over others.
 */
static bool load_bias(int fd, uint64_t start, uint64_t offset, uint64_t *ret_bias)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	bool found = false, found_x = false;
	size_t phnum;

	if (!elf)
		return false;
	if (elf_kind(elf) != ELF_K_ELF || elf_getphdrnum(elf, &phnum) != 0)
		goto out;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		bool x;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		x = ph.p_flags & PF_X;
		/* The file bytes of the segment, from the page p_offset is in. */
		if (ph.p_filesz == 0 || ph.p_filesz > UINT64_MAX - ph.p_offset ||
		    offset < (ph.p_offset & ~(page - 1)) || offset >= ph.p_offset + ph.p_filesz ||
		    (found_x && !x))
			continue;
		*ret_bias = start - offset - (ph.p_vaddr - ph.p_offset);
		found = true;
		found_x = x;
	}
out:
	elf_end(elf);
	return found;
}

static void hex(const unsigned char *b, int n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = 0;
}

/*
 * Open the file behind an executable mapping and report it to a Dwfl of its
 * own.  Any failure leaves the mapping without ELF (address-only results).
 */
static void load(struct mapping *m, const struct mp_maps_entry *e)
{
	const unsigned char *bits;
	GElf_Addr vaddr;
	uint64_t bias;
	struct stat st;
	int fd, n;

	if (e->deleted || e->path[0] != '/')
		return;         /* gone, or [vdso], [vsyscall], ... */
	/* O_NONBLOCK: the name comes from an untrusted file and might be a FIFO. */
	fd = open(e->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		goto fail;
	/*
	 * Same file as the process mapped?  Only comparable on the same device:
	 * overlayfs, for one, shows another device (and inode) in maps than
	 * stat() does, and then we have to trust the name.
	 */
	if (major(st.st_dev) == e->dev_major && minor(st.st_dev) == e->dev_minor &&
	    (uint64_t)st.st_ino != e->inode)
		goto fail;
	if (!load_bias(fd, e->start, e->offset, &bias))
		goto fail;
	m->dwfl = dwfl_begin(&offline_callbacks);
	if (!m->dwfl)
		goto fail;
	dwfl_report_begin(m->dwfl);
	m->mod = dwfl_report_elf(m->dwfl, e->path, e->path, fd, bias, true);
	dwfl_report_end(m->dwfl, NULL, NULL);
	if (!m->mod) {
		dwfl_end(m->dwfl);
		m->dwfl = NULL;
		goto fail;      /* fd not consumed on failure */
	}
	m->pub.has_elf = true;
	n = dwfl_module_build_id(m->mod, &bits, &vaddr);
	if (n > 0 && n <= 64)
		hex(bits, n, m->build_id);
	return;
fail:
	close(fd);
}

static int cmp_start(const void *a, const void *b)
{
	const struct mp_maps_entry *x = *(const struct mp_maps_entry *const *)a;
	const struct mp_maps_entry *y = *(const struct mp_maps_entry *const *)b;

	return (x->start > y->start) - (x->start < y->start);
}

/* The donor's mapping of the same range, offset and file as e, or NULL. */
static struct mapping *donor_mapping(struct ref_symbolizer *d, const struct mp_maps_entry *e)
{
	size_t lo = 0, hi;

	if (!d)
		return NULL;
	for (hi = d->nmaps; lo < hi;) {
		size_t mid = lo + (hi - lo) / 2;

		if (d->maps[mid].pub.start < e->start)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == d->nmaps)
		return NULL;
	struct mapping *m = &d->maps[lo];
	if (m->pub.start != e->start || m->pub.limit != e->end || m->pub.offset != e->offset ||
	    m->inode != e->inode || m->dev_major != e->dev_major || m->dev_minor != e->dev_minor ||
	    strcmp(m->path, e->path) != 0 || !m->pub.has_elf)
		return NULL;
	return m;
}

int ref_symbolizer_new(const char *maps, size_t len, unsigned flags, struct ref_symbolizer **ret)
{
	return ref_symbolizer_new_from(maps, len, flags, NULL, ret);
}

int ref_symbolizer_new_from(const char *maps, size_t len, unsigned flags,
			   struct ref_symbolizer *donor, struct ref_symbolizer **ret)
{
	struct mp_maps_entry *e = NULL, **x = NULL;
	struct ref_symbolizer *s;
	size_t n = 0, nx = 0;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	r = mp_maps_parse(maps, len, &e, &n);
	if (r < 0)
		goto fail;
	r = -ENOMEM;
	x = malloc((n ? n : 1) * sizeof(*x));
	if (!x)
		goto fail;
	for (size_t i = 0; i < n; i++)
		if (e[i].perms[2] == 'x')
			x[nx++] = &e[i];
	qsort(x, nx, sizeof(*x), cmp_start);
	s->maps = calloc(nx ? nx : 1, sizeof(*s->maps));
	if (!s->maps)
		goto fail;
	elf_version(EV_CURRENT);
	for (size_t i = 0; i < nx; i++) {
		struct mapping *m;

		if (s->nmaps && x[i]->start < s->maps[s->nmaps - 1].pub.limit)
			continue;       /* overlaps the previous one: not from a kernel */
		m = &s->maps[s->nmaps++];
		m->pub.start = x[i]->start;
		m->pub.limit = x[i]->end;
		m->pub.offset = x[i]->offset;
		m->pub.build_id = m->build_id;
		m->inode = x[i]->inode;
		m->dev_major = x[i]->dev_major;
		m->dev_minor = x[i]->dev_minor;
		struct mapping *d = flags & MP_SYM_F_NO_FILES ? NULL : donor_mapping(donor, x[i]);
		if (d) {
			/* Same file at the same place: the donor's loaded module. */
			m->dwfl = d->dwfl;
			m->mod = d->mod;
			m->borrowed_dwfl = true;
			m->pub.has_elf = true;
			memcpy(m->build_id, d->build_id, sizeof(m->build_id));
			if (d->cus_built) {
				m->cus = d->cus;
				m->ncus = d->ncus;
				m->cus_built = true;
				m->borrowed_cus = true;
			}
		} else if (!(flags & MP_SYM_F_NO_FILES)) {
			load(m, x[i]);
		}
		m->path = x[i]->path;       /* taken over */
		x[i]->path = NULL;
		m->pub.path = m->path;
	}
	free(x);
	mp_maps_free(e, n);
	*ret = s;
	return 0;
fail:
	free(x);
	mp_maps_free(e, n);
	ref_symbolizer_free(s);
	return r;
}

static int build_cu_table(struct mapping *m);

void ref_symbolizer_warm(struct ref_symbolizer *s)
{
	for (size_t i = 0; i < s->nmaps; i++) {
		struct mapping *m = &s->maps[i];
		Dwarf_Addr bias;

		if (!m->mod)
			continue;
		(void)dwfl_module_getsymtab(m->mod);
		if (dwfl_module_getdwarf(m->mod, &bias) && !m->cus_built)
			(void)build_cu_table(m);
	}
}

void ref_symbolizer_free(struct ref_symbolizer *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nmaps; i++) {
		if (s->maps[i].dwfl && !s->maps[i].borrowed_dwfl)
			dwfl_end(s->maps[i].dwfl);
		free(s->maps[i].path);
		if (!s->maps[i].borrowed_cus)
			free(s->maps[i].cus);
	}
	free(s->maps);
	for (size_t i = 0; i < s->nentries; i++)
		free(s->entries[i].frames);
	free(s->entries);
	free(s->slots);
	for (size_t i = 0; i < s->cap_memo; i++)
		free(s->memo[i].value);
	free(s->memo);
	free(s);
}

size_t ref_symbolizer_nmappings(const struct ref_symbolizer *s)
{
	return s->nmaps;
}

const struct mp_sym_mapping *ref_symbolizer_mapping(const struct ref_symbolizer *s, size_t i)
{
	return i < s->nmaps ? &s->maps[i].pub : NULL;
}

/* ---- names -------------------------------------------------------------------- */

static size_t memo_slot(const void *k1, const void *k2, size_t cap)
{
	uint64_t h = (uint64_t)(uintptr_t)k1 * 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)k2;

	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	return (size_t)(h >> 32) & (cap - 1);
}

/* The string memoized for (k1, k2), or NULL. */
static const char *memo_get(const struct ref_symbolizer *s, const void *k1, const void *k2)
{
	if (!s->cap_memo)
		return NULL;
	for (size_t j = memo_slot(k1, k2, s->cap_memo); s->memo[j].value;
	     j = (j + 1) & (s->cap_memo - 1))
		if (s->memo[j].k1 == k1 && s->memo[j].k2 == k2)
			return s->memo[j].value;
	return NULL;
}

/* Keep `value` (malloc'd, taken over even on failure) for (k1, k2). */
static const char *memo_put(struct ref_symbolizer *s, const void *k1, const void *k2, char *value,
			    int *ret_err)
{
	size_t j;

	if ((s->nmemo + 1) * 2 > s->cap_memo) {
		size_t ncap = s->cap_memo ? 2 * s->cap_memo : 256;
		struct memo *n = calloc(ncap, sizeof(*n));

		if (!n) {
			free(value);
			*ret_err = -ENOMEM;
			return NULL;
		}
		for (size_t i = 0; i < s->cap_memo; i++) {
			if (!s->memo[i].value)
				continue;
			for (j = memo_slot(s->memo[i].k1, s->memo[i].k2, ncap); n[j].value;
			     j = (j + 1) & (ncap - 1))
				;
			n[j] = s->memo[i];
		}
		free(s->memo);
		s->memo = n;
		s->cap_memo = ncap;
	}
	for (j = memo_slot(k1, k2, s->cap_memo); s->memo[j].value; j = (j + 1) & (s->cap_memo - 1))
		;
	s->memo[j].k1 = k1;
	s->memo[j].k2 = k2;
	s->memo[j].value = value;
	s->nmemo++;
	return value;
}

/* Demangled form of a C++ linker name (owned by s); `name` itself otherwise. */
static const char *demangle(struct ref_symbolizer *s, const char *name, int *ret_err)
{
	const char *done;
	char *d;
	int status = 0;

	if (name[0] != '_' || name[1] != 'Z')
		return name;
	done = memo_get(s, name, NULL);
	if (done)
		return done;
	d = __cxa_demangle(name, NULL, NULL, &status);
	if (!d || status != 0) {
		free(d);
		if (status == -1)
			*ret_err = -ENOMEM;
		return name;
	}
	done = memo_put(s, name, NULL, d, ret_err);
	return done ? done : name;
}

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
 * is clean and needs no joining.
 */
static const char *absolute_file(struct ref_symbolizer *s, Dwarf_Die *unit, const char *name,
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
		Dwarf_Attribute a;

		if (dwarf_getsrcfiles(unit, &files, &nfiles) == 0 &&
		    dwarf_getsrcdirs(files, &dirs, &ndirs) == 0 && ndirs > 0 && dirs[0])
			dir = dirs[0];
		else
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
	done = memo_get(s, dir, name);
	if (done)
		return done;
	path = mp_path_resolve(dir, name);
	if (!path) {
		*ret_err = -ENOMEM;
		return name;
	}
	done = memo_put(s, dir, name, path, ret_err);
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

/* ---- one address ------------------------------------------------------------------ */

struct frames {
	struct mp_sym_frame *v;
	size_t n, cap;
	int err;
};

static struct mp_sym_frame *add_frame(struct frames *f)
{
	if (f->n == f->cap) {
		size_t ncap = f->cap ? 2 * f->cap : 4;
		struct mp_sym_frame *n = realloc(f->v, ncap * sizeof(*n));

		if (!n) {
			f->err = -ENOMEM;
			return NULL;
		}
		f->v = n;
		f->cap = ncap;
	}
	memset(&f->v[f->n], 0, sizeof(f->v[0]));
	return &f->v[f->n++];
}

static void set_names(struct ref_symbolizer *s, struct mp_sym_frame *fr, const char *linkage,
		      const char *name, int *ret_err)
{
	if (linkage) {
		fr->system_name = linkage;
		fr->function = demangle(s, linkage, ret_err);
	} else {
		fr->system_name = fr->function = name;
	}
}

/* The name of the ELF symbol covering addr, or NULL. */
static const char *symtab_name(Dwfl_Module *mod, uint64_t addr)
{
	GElf_Off off;
	GElf_Sym sym;
	const char *name = dwfl_module_addrinfo(mod, addr, &off, &sym, NULL, NULL, NULL);

	return name && name[0] ? name : NULL;
}

/* The file at index `idx` of the line table of the unit holding `die`. */
static const char *unit_file(struct ref_symbolizer *s, Dwarf_Die *die, Dwarf_Word idx, int *ret_err)
{
	Dwarf_Die unit;
	Dwarf_Files *files;
	size_t nfiles;

	if (!dwarf_diecu(die, &unit, NULL, NULL) || dwarf_getsrcfiles(&unit, &files, &nfiles) != 0 ||
	    idx >= nfiles)
		return NULL;
	return absolute_file(s, &unit, dwarf_filesrc(files, idx, NULL, NULL), ret_err);
}

static int cmp_range(const void *a, const void *b)
{
	const struct cu_range *x = a, *y = b;

	return (x->lo > y->lo) - (x->lo < y->lo);
}

static int build_cu_table(struct mapping *m)
{
	Dwarf_Die *cu = NULL;
	Dwarf_Addr bias;
	size_t cap = 0;

	m->cus_built = true;
	while ((cu = dwfl_module_nextcu(m->mod, cu, &bias))) {
		Dwarf_Addr base, lo, hi;
		ptrdiff_t off = 0;

		while ((off = dwarf_ranges(cu, off, &base, &lo, &hi)) > 0) {
			if (lo >= hi)
				continue;
			if (m->ncus == cap) {
				size_t ncap = cap ? 2 * cap : 64;
				struct cu_range *n = realloc(m->cus, ncap * sizeof(*n));

				if (!n)
					return -ENOMEM;
				m->cus = n;
				cap = ncap;
			}
			m->cus[m->ncus++] = (struct cu_range){ lo, hi, cu };
		}
	}
	if (m->ncus)
		qsort(m->cus, m->ncus, sizeof(*m->cus), cmp_range);
	return 0;
}

/*
 * The compilation unit holding addr.  libdwfl finds it through
 * .debug_aranges, which clang does not emit by default; then the units'
 * own ranges (DW_AT_low_pc/high_pc, DW_AT_ranges) are searched.
 */
static Dwarf_Die *find_cu(struct mapping *m, uint64_t addr, Dwarf_Addr *ret_bias, int *ret_err)
{
	Dwarf_Die *cu = dwfl_module_addrdie(m->mod, addr, ret_bias);
	size_t lo = 0, hi;
	uint64_t a;

	if (cu)
		return cu;
	if (!dwfl_module_getdwarf(m->mod, ret_bias))
		return NULL;
	if (!m->cus_built && (*ret_err = build_cu_table(m)) < 0)
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

static bool is_function(Dwarf_Die *d)
{
	int tag = dwarf_tag(d);

	return tag == DW_TAG_inlined_subroutine || tag == DW_TAG_subprogram;
}

/*
 * Frames from DWARF; false when DWARF knows no function at addr.
 *
 * dwarf_getscopes() finds the innermost DIE holding the address, but above
 * an inlined instance it continues with the scopes of the instance's
 * abstract origin, not with the function the code was inlined into.  So it
 * is used only to find the innermost function-like DIE; the chain of
 * physically enclosing DIEs (inlined instances, then the subprogram that
 * holds the code) comes from dwarf_getscopes_die() on that DIE.
 */
static bool dwarf_frames(struct ref_symbolizer *s, struct mapping *m, uint64_t addr, struct frames *f)
{
	Dwfl_Module *mod = m->mod;
	Dwarf_Addr bias;
	Dwarf_Die *cu = find_cu(m, addr, &bias, &f->err), *scopes = NULL, *chain = NULL;
	Dwarf_Die inner;
	Dwarf_Line *line;
	const char *file = NULL;
	int nscopes, nchain, lineno = 0, i;
	bool found = false;

	if (!cu)
		return false;
	nscopes = dwarf_getscopes(cu, addr - bias, &scopes);
	for (i = 0; i < nscopes && !is_function(&scopes[i]); i++)
		;
	if (i >= nscopes) {
		free(scopes);
		return false;
	}
	inner = scopes[i];
	free(scopes);
	nchain = dwarf_getscopes_die(&inner, &chain);
	if (nchain <= 0)
		return false;

	line = dwarf_getsrc_die(cu, addr - bias);
	if (line && dwarf_lineno(line, &lineno) == 0)
		file = absolute_file(s, cu, dwarf_linesrc(line, NULL, NULL), &f->err);
	else
		lineno = 0;
	for (i = 0; i < nchain && !f->err; i++) {
		Dwarf_Die *d = &chain[i];
		const char *name, *linkage;
		struct mp_sym_frame *fr;
		Dwarf_Word v;
		int decl = 0;

		if (!is_function(d))
			continue;       /* lexical blocks */
		fr = add_frame(f);
		if (!fr)
			break;
		found = true;
		linkage = die_string(d, DW_AT_linkage_name);
		if (!linkage)
			linkage = die_string(d, DW_AT_MIPS_linkage_name);
		name = dwarf_diename(d);
		if (!linkage && !name && dwarf_tag(d) == DW_TAG_subprogram)
			linkage = symtab_name(mod, addr);
		set_names(s, fr, linkage, name ? name : "??", &f->err);
		fr->file = file;
		fr->line = lineno > 0 ? lineno : 0;
		if (dwarf_decl_line(d, &decl) == 0 && decl > 0)
			fr->start_line = decl;
		if (dwarf_tag(d) == DW_TAG_subprogram)
			break;
		/* The next frame out is at this inlined instance's call site. */
		file = die_udata(d, DW_AT_call_file, &v) ? unit_file(s, d, v, &f->err) : NULL;
		lineno = die_udata(d, DW_AT_call_line, &v) && v <= INT32_MAX ? (int)v : 0;
	}
	free(chain);
	return found;
}

static int lookup(struct ref_symbolizer *s, uint64_t addr, struct entry *e)
{
	struct frames f = { 0 };
	size_t lo = 0, hi = s->nmaps;
	struct mapping *m = NULL;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (addr < s->maps[mid].pub.start) {
			hi = mid;
		} else if (addr >= s->maps[mid].pub.limit) {
			lo = mid + 1;
		} else {
			m = &s->maps[mid];
			break;
		}
	}
	memset(e, 0, sizeof(*e));
	e->addr = addr;
	if (!m)
		return 0;
	e->r.mapping = &m->pub;
	e->r.mapping_index = (size_t)(m - s->maps);
	if (!m->mod)
		return 0;
	if (dwarf_frames(s, m, addr, &f)) {
		e->r.source = MP_SYM_DWARF;
	} else if (!f.err) {
		const char *name = symtab_name(m->mod, addr);
		struct mp_sym_frame *fr;

		if (name && (fr = add_frame(&f))) {
			set_names(s, fr, name, name, &f.err);
			e->r.source = MP_SYM_SYMTAB;
		}
	}
	if (f.err) {
		free(f.v);
		return f.err;
	}
	e->frames = f.v;
	e->r.frames = f.v;
	e->r.nframes = f.n;
	return 0;
}

/* ---- the cache --------------------------------------------------------------------- */

static size_t slot_of(uint64_t addr, size_t nslots)
{
	addr ^= addr >> 31;
	addr *= 0x9e3779b97f4a7c15ull;
	return (size_t)(addr >> 20) & (nslots - 1);
}

static int grow_slots(struct ref_symbolizer *s)
{
	size_t n = s->nslots ? 2 * s->nslots : 1024;
	uint32_t *slots = calloc(n, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < s->nentries; i++) {
		size_t j = slot_of(s->entries[i].addr, n);

		while (slots[j])
			j = (j + 1) & (n - 1);
		slots[j] = (uint32_t)i + 1;
	}
	free(s->slots);
	s->slots = slots;
	s->nslots = n;
	return 0;
}

int ref_symbolize(struct ref_symbolizer *s, uint64_t addr, struct mp_sym_result *ret)
{
	struct entry e;
	size_t j;
	int r;

	if (s->nslots) {
		for (j = slot_of(addr, s->nslots); s->slots[j]; j = (j + 1) & (s->nslots - 1)) {
			if (s->entries[s->slots[j] - 1].addr == addr) {
				*ret = s->entries[s->slots[j] - 1].r;
				return 0;
			}
		}
	}
	if ((s->nentries + 1) * 2 > s->nslots || s->nentries >= UINT32_MAX - 1) {
		if (s->nentries >= UINT32_MAX - 1)
			return -ENOMEM;
		r = grow_slots(s);
		if (r < 0)
			return r;
	}
	if (s->nentries == s->cap_entries) {
		size_t ncap = s->cap_entries ? 2 * s->cap_entries : 256;
		struct entry *n = realloc(s->entries, ncap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		s->entries = n;
		s->cap_entries = ncap;
	}
	r = lookup(s, addr, &e);
	if (r < 0)
		return r;
	s->entries[s->nentries++] = e;
	for (j = slot_of(addr, s->nslots); s->slots[j]; j = (j + 1) & (s->nslots - 1))
		;
	s->slots[j] = (uint32_t)s->nentries;
	*ret = e.r;
	return 0;
}

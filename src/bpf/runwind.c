/* SPDX-License-Identifier: MIT */
/* Unwinding a copied stack of another process (see runwind.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bpf/dwunwind.h"
#include "bpf/elfmod.h"
#include "bpf/runwind.h"
#include "common/grow.h"
#include "sample/cfi.h"

/* The deepest walk elfutils is asked for. */
#define MAX_WALK 512

/* Rules by runtime pc, cached: computing one runs the CIE and FDE programs. */
#define CACHE_BITS 16

struct centry {
	uint64_t key;              /* pc << 1 | first; 0: empty */
	uint64_t rule;
};

/* The code ranges (vaddr) of a file's C++ operator new functions. */
#define MAX_WRAPPERS 8

struct file {
	char *path;
	char *opened;              /* the name it was opened by (a /proc one) */
	struct mp_elfmod *elf;
	uint64_t wrap_lo[MAX_WRAPPERS], wrap_hi[MAX_WRAPPERS];
	size_t nwrap;
};

struct mp_runwind {
	int pid;
	char *maps;
	size_t maps_len;
	struct mp_rmodule *mods;   /* sorted by start */
	size_t nmods;
	struct file *files;        /* opened files, by path */
	size_t nfiles, cap_files;
	struct centry *cache;
	uint64_t last_reload_ns;
	uint64_t walks, cfi_frames, fp_frames, dw_walks, dw_frames;
	struct mp_dwunwind *dw;    /* elfutils, for what cfi.c refuses (lazily) */
	bool dw_stale;             /* its modules are not the maps' */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int read_text(const char *path, char **ret, size_t *ret_len)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0, cap = 0;

	if (!f)
		return -errno;
	for (;;) {
		size_t n;

		if (cap - len < 4096 && MP_GROW(buf, len + 16384, cap) < 0) {
			free(buf);
			fclose(f);
			return -ENOMEM;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		int e = errno ? -errno : -EIO;

		free(buf);
		fclose(f);
		return e;
	}
	fclose(f);
	buf[len] = '\0';
	*ret = buf;
	*ret_len = len;
	return 0;
}

/*
 * C++'s operator new in a shared library (libstdc++) allocates with
 * malloc, so the malloc probe sees it on top of the stack; `memprof run`
 * interposes operator new itself and its stacks begin at new's caller.
 * These are the functions whose frames a stack drops from its top to
 * agree.  A program that defines operator new itself keeps its frames:
 * run cannot interpose that one either.
 */
static void find_wrappers(struct file *f)
{
	static const char *const names[MAX_WRAPPERS] = {
		"_Znwm", "_Znam", "_ZnwmRKSt9nothrow_t", "_ZnamRKSt9nothrow_t",
		"_ZnwmSt11align_val_t", "_ZnamSt11align_val_t",
		"_ZnwmSt11align_val_tRKSt9nothrow_t", "_ZnamSt11align_val_tRKSt9nothrow_t",
	};

	if (!f->elf || mp_elfmod_has_interp(f->elf))
		return;
	for (size_t i = 0; i < MAX_WRAPPERS; i++) {
		uint64_t va, size;

		if (mp_elfmod_dynsym(f->elf, names[i], &va, &size) && size) {
			f->wrap_lo[f->nwrap] = va;
			f->wrap_hi[f->nwrap++] = va + size;
		}
	}
}

static struct mp_elfmod *file_for(struct mp_runwind *u, const char *path, uint64_t start,
				  uint64_t end)
{
	char proc[4200];
	struct mp_elfmod *m = NULL;

	for (size_t i = 0; i < u->nfiles; i++)
		if (strcmp(u->files[i].path, path) == 0)
			return u->files[i].elf;
	/* The very file mapped, through the process's map_files entry (also
	 * a file deleted or replaced since, or one in a container whose name
	 * means nothing here); else its name under the process's root (no
	 * CAP_SYS_ADMIN for map_files); else its name. */
	snprintf(proc, sizeof(proc), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, u->pid, start,
		 end);
	if (mp_elfmod_open(proc, &m) < 0) {
		snprintf(proc, sizeof(proc), "/proc/%d/root%s", u->pid, path);
		if (mp_elfmod_open(proc, &m) < 0) {
			snprintf(proc, sizeof(proc), "%s", path);
			if (mp_elfmod_open(proc, &m) < 0)
				m = NULL;
		}
	}
	if (MP_GROW(u->files, u->nfiles + 1, u->cap_files) < 0) {
		mp_elfmod_free(m);
		return NULL;
	}
	memset(&u->files[u->nfiles], 0, sizeof(u->files[0]));
	u->files[u->nfiles].path = strdup(path);
	if (!u->files[u->nfiles].path) {
		mp_elfmod_free(m);
		return NULL;
	}
	u->files[u->nfiles].elf = m;
	u->files[u->nfiles].opened = m ? strdup(proc) : NULL;
	find_wrappers(&u->files[u->nfiles++]);
	return m;
}

static int cmp_mod(const void *a, const void *b)
{
	const struct mp_rmodule *x = a, *y = b;

	return (x->start > y->start) - (x->start < y->start);
}

/* Executable file mappings from the maps text (proc(5)). */
static int parse_maps(struct mp_runwind *u)
{
	struct mp_rmodule *mods = NULL;
	size_t n = 0, cap = 0;
	char *line = u->maps, *next;

	for (; line && *line; line = next) {
		uint64_t start, end, off;
		char perms[5];
		int pos = -1;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %4s %" SCNx64 " %*x:%*x %*u %n", &start, &end,
			   perms, &off, &pos) < 4 || pos < 0 || start >= end)
			goto restore;
		if (perms[2] != 'x' || line[pos] != '/')
			goto restore;
		if (MP_GROW(mods, n + 1, cap) < 0) {
			free(mods);
			if (next)
				next[-1] = '\n';
			return -ENOMEM;
		}
		{
			char *path = line + pos;
			size_t pl = strlen(path);
			struct mp_rmodule *m = &mods[n];
			uint64_t va;

			if (pl > 10 && strcmp(path + pl - 10, " (deleted)") == 0)
				pl -= 10;
			*m = (struct mp_rmodule){ .start = start, .end = end, .offset = off };
			m->path = strndup(path, pl);
			if (!m->path)
				goto restore;
			m->elf = file_for(u, m->path, start, end);
			if (m->elf && mp_elfmod_off_to_vaddr(m->elf, off, &va))
				m->bias = start - va;
			else
				m->elf = NULL;
			n++;
		}
restore:
		if (next)
			next[-1] = '\n';
	}
	qsort(mods, n, sizeof(*mods), cmp_mod);
	for (size_t i = 0; i < u->nmods; i++)
		free((char *)u->mods[i].path);
	free(u->mods);
	u->mods = mods;
	u->nmods = n;
	return 0;
}

int mp_runwind_reload(struct mp_runwind *u)
{
	char path[64], *text = NULL;
	size_t len = 0;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/maps", u->pid);
	r = read_text(path, &text, &len);
	if (r < 0)
		return r;
	if (len == 0) {                  /* a zombie: no memory left */
		free(text);
		return -ESRCH;
	}
	free(u->maps);
	u->maps = text;
	u->maps_len = len;
	u->last_reload_ns = now_ns();
	memset(u->cache, 0, sizeof(*u->cache) << CACHE_BITS);
	u->dw_stale = true;
	return parse_maps(u);
}

int mp_runwind_new(int pid, struct mp_runwind **ret)
{
	struct mp_runwind *u = calloc(1, sizeof(*u));
	int r;

	if (!u)
		return -ENOMEM;
	u->pid = pid;
	u->cache = calloc((size_t)1 << CACHE_BITS, sizeof(*u->cache));
	if (!u->cache) {
		free(u);
		return -ENOMEM;
	}
	r = mp_runwind_reload(u);
	if (r < 0) {
		mp_runwind_free(u);
		return r;
	}
	*ret = u;
	return 0;
}

void mp_runwind_free(struct mp_runwind *u)
{
	if (!u)
		return;
	for (size_t i = 0; i < u->nmods; i++)
		free((char *)u->mods[i].path);
	for (size_t i = 0; i < u->nfiles; i++) {
		free(u->files[i].path);
		free(u->files[i].opened);
		mp_elfmod_free(u->files[i].elf);
	}
	free(u->files);
	free(u->mods);
	free(u->maps);
	free(u->cache);
	mp_dwunwind_free(u->dw);
	free(u);
}

const char *mp_runwind_maps(const struct mp_runwind *u, size_t *ret_len)
{
	*ret_len = u->maps_len;
	return u->maps;
}

size_t mp_runwind_nmodules(const struct mp_runwind *u)
{
	return u->nmods;
}

const struct mp_rmodule *mp_runwind_module(const struct mp_runwind *u, size_t i)
{
	return i < u->nmods ? &u->mods[i] : NULL;
}

static const struct mp_rmodule *find(const struct mp_runwind *u, uint64_t pc)
{
	size_t lo = 0, hi = u->nmods;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (pc < u->mods[mid].start)
			hi = mid;
		else if (pc >= u->mods[mid].end)
			lo = mid + 1;
		else
			return &u->mods[mid];
	}
	return NULL;
}

const struct mp_rmodule *mp_runwind_find(struct mp_runwind *u, uint64_t pc)
{
	const struct mp_rmodule *m = find(u, pc);

	/* Not in any mapping we know: perhaps a library loaded since.  Read
	 * the maps again, at most every 50 ms. */
	if (!m && now_ns() - u->last_reload_ns > 50000000u && mp_runwind_reload(u) == 0)
		m = find(u, pc);
	return m;
}

/* The rule for a frame at pc: `first` for an instruction about to run
 * (the row at pc), else a return address (the row of the call before it). */
static uint64_t rule_at(struct mp_runwind *u, const struct mp_rmodule *m, uint64_t pc, bool first)
{
	uint64_t key = pc << 1 | first, va, func, rule = MP_CFI_BAD;
	size_t mask = ((size_t)1 << CACHE_BITS) - 1;
	struct centry *e = &u->cache[(key * 0x9e3779b97f4a7c15ull) >> (64 - CACHE_BITS) & mask];
	const uint8_t *fde;
	uintptr_t lo, hi;

	if (e->key == key)
		return e->rule;
	va = pc - m->bias;
	if (m->elf && mp_elfmod_fde(m->elf, first ? va : va - 1, &fde, &func, &lo, &hi))
		rule = mp_cfi_rule(lo, hi, fde, func, first ? va + 1 : va);
	e->key = key;
	e->rule = rule;
	return rule;
}

static bool read_word(uint64_t base, const uint8_t *stack, size_t len, uint64_t addr,
		      uint64_t *ret)
{
	if (addr < base || addr - base > len || len - (addr - base) < 8)
		return false;
	memcpy(ret, stack + (addr - base), 8);
	return true;
}

/* Our own walk: CFI rules of RSP or RBP plus an offset (sample/cfi.c).
 * *ret_refused: a frame had a rule it could not take. */
static uint32_t cfi_walk(struct mp_runwind *u, const struct mp_bpf_regs *r, const uint8_t *stack,
			 size_t len, uint64_t *pcs, uint32_t max, bool *ret_refused)
{
	uint64_t base = r->sp, pc = r->ip, sp = r->sp, bp = r->bp;
	uint32_t n = 0;
	bool first = true;

	*ret_refused = false;
	while (n < max) {
		const struct mp_rmodule *m = mp_runwind_find(u, pc);
		uint64_t rule, cfa, ra;

		if (!m)
			break;
		rule = rule_at(u, m, pc, first);
		if (rule == MP_CFI_END)
			break;
		if (rule != MP_CFI_BAD) {
			cfa = (mp_cfi_kind(rule) == MP_CFI_RSP ? sp : bp) + (uint64_t)mp_cfi_cfa_off(rule);
			if (!read_word(base, stack, len, cfa - 8, &ra))
				break;
			if (mp_cfi_rbp_off(rule) && !read_word(base, stack, len,
								cfa + (uint64_t)mp_cfi_rbp_off(rule), &bp))
				break;
			u->cfi_frames++;
		} else if (first && read_word(base, stack, len, sp, &ra) && ra &&
			   find(u, ra)) {
			/* The first frame without CFI (glibc's clone3 leaves its
			 * syscall out of every FDE): a code address on top of the
			 * stack is taken as the return address, as if at entry. */
			cfa = sp + 8;
			u->fp_frames++;
		} else {
			/* A rule we cannot take (or none): the frame pointer
			 * chain, if RBP points into the stack; elfutils gets a
			 * go at the whole stack afterwards. */
			uint64_t nbp;

			*ret_refused = true;
			if (bp < sp || (bp & 7) || !read_word(base, stack, len, bp + 8, &ra) ||
			    !read_word(base, stack, len, bp, &nbp))
				break;
			cfa = bp + 16;
			bp = nbp;
			u->fp_frames++;
		}
		if (ra == 0 || cfa <= sp || (cfa & 7))
			break;
		pcs[n++] = ra;
		sp = cfa;
		pc = ra;
		first = false;
	}
	return n;
}

/* The modules for elfutils, once per set of maps. */
static struct mp_dwunwind *dw_ready(struct mp_runwind *u)
{
	if (!u->dw) {
		u->dw = mp_dwunwind_new();
		u->dw_stale = true;
	}
	if (u->dw && u->dw_stale) {
		mp_dwunwind_reset(u->dw);
		for (size_t i = 0; i < u->nmods; i++) {
			const struct mp_rmodule *m = &u->mods[i];
			const char *opened = mp_runwind_opened(u, m);
			bool seen = false;

			for (size_t k = 0; k < i && !seen; k++)
				seen = u->mods[k].elf == m->elf;
			if (m->elf && opened && !seen)
				(void)mp_dwunwind_add(u->dw, m->path, opened, m->bias);
		}
		u->dw_stale = false;
	}
	return u->dw;
}

uint32_t mp_runwind_walk(struct mp_runwind *u, const struct mp_bpf_regs *r, const uint8_t *stack,
			 size_t len, uint64_t *pcs, uint32_t max)
{
	uint64_t dpcs[MAX_WALK];
	struct mp_dwunwind *dw;
	uint32_t n, dn;
	bool refused;

	u->walks++;
	n = cfi_walk(u, r, stack, len, pcs, max, &refused);
	if (!refused || !(dw = dw_ready(u)))
		return n;
	/* A frame our reader refused: elfutils evaluates every rule (CFA
	 * expressions, other registers) and has the say when it gets at
	 * least as far. */
	u->dw_walks++;
	dn = mp_dwunwind_walk(dw, r, stack, len, dpcs, max < MAX_WALK ? max : MAX_WALK);
	if (dn < n)
		return n;
	memcpy(pcs, dpcs, dn * sizeof(*pcs));
	u->dw_frames += dn;
	return dn;
}

const char *mp_runwind_opened(const struct mp_runwind *u, const struct mp_rmodule *m)
{
	for (size_t i = 0; m->elf && i < u->nfiles; i++)
		if (u->files[i].elf == m->elf)
			return u->files[i].opened;
	return NULL;
}

bool mp_runwind_in_wrapper(struct mp_runwind *u, uint64_t pc)
{
	const struct mp_rmodule *m = find(u, pc);

	if (!m || !m->elf)
		return false;
	for (size_t i = 0; i < u->nfiles; i++) {
		const struct file *f = &u->files[i];

		if (f->elf != m->elf)
			continue;
		for (size_t k = 0; k < f->nwrap; k++)
			if (pc - m->bias >= f->wrap_lo[k] && pc - m->bias < f->wrap_hi[k])
				return true;
		return false;
	}
	return false;
}

void mp_runwind_stats(const struct mp_runwind *u, struct mp_runwind_stats *ret)
{
	ret->walks = u->walks;
	ret->cfi_frames = u->cfi_frames;
	ret->fp_frames = u->fp_frames;
	ret->dw_walks = u->dw_walks;
	ret->dw_frames = u->dw_frames;
}

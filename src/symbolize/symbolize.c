/* SPDX-License-Identifier: MIT */
/*
 * The symbolizer (see symbolize.h): a process's executable mappings, each
 * with the module (module.h) of its file, shared by reference with every
 * other symbolizer alive that has the same file at the same place (the
 * donor of mp_symbolizer_new_from first, then any other).
 *
 * mp_symbolizer_prepare() spreads the addresses it is given over threads:
 * the addresses are grouped by module into chunks; each thread takes the
 * next chunk; a chunk of a module with DWARF holds that module's lock (one
 * libdw Dwarf is not thread-safe), a chunk of a module with symbols only
 * needs none (the index is read-only).  Answers come back in the chunk and
 * the calling thread files them in the modules' answer tables, which no
 * other thread touches.
 */
#include <errno.h>
#include <libelf.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/cpus.h"
#include "symbolize/maps.h"
#include "symbolize/module.h"
#include "symbolize/symbolize.h"

struct mapping {
	struct mp_sym_mapping pub;
	char *path;
	uint64_t inode;
	uint32_t dev_major, dev_minor;
	char build_id[2 * 64 + 1];
	struct mp_module *mod;      /* a reference; NULL when no ELF */
	uint64_t bias;              /* this mapping's addresses - mod's file
				     * addresses (mod may be another process's
				     * mapping of the file: module.h) */
};

struct mp_symbolizer {
	struct mapping *maps;
	size_t nmaps;
	unsigned flags;
};

static int cmp_start(const void *a, const void *b)
{
	const struct mp_maps_entry *x = *(const struct mp_maps_entry *const *)a;
	const struct mp_maps_entry *y = *(const struct mp_maps_entry *const *)b;

	return (x->start > y->start) - (x->start < y->start);
}

/* The donor's mapping with a module for the same range, offset and file
 * as e, or NULL. */
static const struct mapping *donor_mapping(struct mp_symbolizer *d, const struct mp_maps_entry *e)
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
	if (lo == d->nmaps || !d->maps[lo].mod || !mp_module_matches(d->maps[lo].mod, e))
		return NULL;
	return &d->maps[lo];
}

int mp_symbolizer_new(const char *maps, size_t len, unsigned flags, struct mp_symbolizer **ret)
{
	return mp_symbolizer_new_from(maps, len, flags, NULL, ret);
}

int mp_symbolizer_new_from(const char *maps, size_t len, unsigned flags,
			   struct mp_symbolizer *donor, struct mp_symbolizer **ret)
{
	return mp_symbolizer_new_proc(maps, len, flags, 0, donor, ret);
}

int mp_symbolizer_new_proc(const char *maps, size_t len, unsigned flags, int pid,
			   struct mp_symbolizer *donor, struct mp_symbolizer **ret)
{
	struct mp_maps_entry *e = NULL, **x = NULL;
	struct mp_symbolizer *s;
	size_t n = 0, nx = 0;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->flags = flags;
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
		const struct mapping *d;

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
		if (!(flags & MP_SYM_F_NO_FILES)) {
			d = donor_mapping(donor, x[i]);
			if (d) {
				mp_module_ref(d->mod);
				m->mod = d->mod;
				m->bias = d->bias;
			} else {
				m->mod = mp_module_get_or_open(x[i], pid, !(flags & MP_SYM_F_NO_CACHE),
							       &m->bias);
			}
		}
		if (m->mod) {
			m->pub.has_elf = true;
			memcpy(m->build_id, mp_module_build_id(m->mod), sizeof(m->build_id));
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
	mp_symbolizer_free(s);
	return r;
}

void mp_symbolizer_keep_files(size_t max)
{
	mp_module_keep(max);
}

void mp_symbolizer_free(struct mp_symbolizer *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nmaps; i++) {
		mp_module_unref(s->maps[i].mod);
		free(s->maps[i].path);
	}
	free(s->maps);
	free(s);
}

size_t mp_symbolizer_nmappings(const struct mp_symbolizer *s)
{
	return s->nmaps;
}

const struct mp_sym_mapping *mp_symbolizer_mapping(const struct mp_symbolizer *s, size_t i)
{
	return i < s->nmaps ? &s->maps[i].pub : NULL;
}

static struct mapping *find_mapping(struct mp_symbolizer *s, uint64_t addr)
{
	size_t lo = 0, hi = s->nmaps;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (addr < s->maps[mid].pub.start)
			hi = mid;
		else if (addr >= s->maps[mid].pub.limit)
			lo = mid + 1;
		else
			return &s->maps[mid];
	}
	return NULL;
}

int mp_symbolize(struct mp_symbolizer *s, uint64_t addr, struct mp_sym_result *ret)
{
	struct mapping *m = find_mapping(s, addr);
	struct mp_module_answer a, got;
	uint64_t fa;
	int r;

	memset(ret, 0, sizeof(*ret));
	if (!m)
		return 0;
	ret->mapping = &m->pub;
	ret->mapping_index = (size_t)(m - s->maps);
	if (!m->mod)
		return 0;
	fa = addr - m->bias;
	if (!mp_module_get(m->mod, fa, &a)) {
		r = mp_module_compute(m->mod, fa, &got);
		if (r >= 0)
			r = mp_module_put(m->mod, fa, &got, &a);
		if (r < 0) {
			memset(ret, 0, sizeof(*ret));
			return r;
		}
	}
	ret->frames = a.frames;
	ret->nframes = a.nframes;
	ret->source = (enum mp_sym_source)a.source;
	return 0;
}

/* ---- in parallel ------------------------------------------------------------------ */

struct item {
	struct mp_module *mod;
	uint64_t fa;
	struct mp_module_answer a;
	int err;
};

struct chunk {
	size_t first, n;
	size_t *left;               /* the module's chunks not done yet (atomic) */
};

struct batch {
	struct item *items;
	struct chunk *chunks;
	size_t nchunks;
	size_t next;                /* atomic: the next chunk to take */
	bool warm;                  /* items are modules to warm, not addresses */
	bool release;               /* free each module's loaded data when its
				     * last chunk is done */
};

static void *batch_worker(void *arg)
{
	struct batch *b = arg;

	for (;;) {
		size_t c = __atomic_fetch_add(&b->next, 1, __ATOMIC_RELAXED);
		struct chunk *ch;

		if (c >= b->nchunks)
			break;
		ch = &b->chunks[c];
		for (size_t i = ch->first; i < ch->first + ch->n; i++) {
			struct item *it = &b->items[i];

			if (b->warm)
				mp_module_warm(it->mod);
			else
				it->err = mp_module_compute(it->mod, it->fa, &it->a);
		}
		/* The answers are in the module's pool: what libdw loaded can
		 * go once no chunk of the module is left, so that only the
		 * files being worked on take memory. */
		if (b->release && ch->n && __atomic_sub_fetch(ch->left, 1, __ATOMIC_ACQ_REL) == 0)
			mp_module_release(b->items[ch->first].mod);
	}
	return NULL;
}

/*
 * The threads that symbolize: one per CPU, at most 64, and at most one per
 * 32 descriptors of the limit (RLIMIT_NOFILE): each loads a file at a
 * time, with its debug file and cache entry open meanwhile, and the
 * profile must still be written after (module.c keeps the files' own
 * descriptors in the lower half of the limit).
 */
static unsigned ncpus(void)
{
	long n = mp_cpus_online();
	const char *env = getenv("MEMPROF_THREADS");
	struct rlimit rl;

	if (env && *env) {
		long v = strtol(env, NULL, 10);

		if (v >= 1 && v <= 256)
			return (unsigned)v;
	}
	if (n < 1)
		n = 1;
	if (n > 64)
		n = 64;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    (rlim_t)n > rl.rlim_cur / 32)
		n = rl.rlim_cur >= 64 ? (long)(rl.rlim_cur / 32) : 1;
	return (unsigned)n;
}

/* Run the batch's chunks on up to ncpus() threads, this one included
 * (only this one when `serial`). */
static void run_batch(struct batch *b, bool serial)
{
	unsigned n = serial ? 1 : ncpus();
	pthread_t t[64];
	unsigned started = 0;

	if (n > b->nchunks)
		n = (unsigned)b->nchunks;
	for (unsigned i = 1; i < n; i++) {
		if (pthread_create(&t[started], NULL, batch_worker, b) != 0)
			break;
		started++;
	}
	batch_worker(b);
	for (unsigned i = 0; i < started; i++)
		pthread_join(t[i], NULL);
}

static int cmp_item(const void *a, const void *b)
{
	const struct item *x = a, *y = b;

	if (x->mod != y->mod)
		return (uintptr_t)x->mod < (uintptr_t)y->mod ? -1 : 1;
	return (x->fa > y->fa) - (x->fa < y->fa);
}

#define CHUNK 512

int mp_symbolizer_prepare(struct mp_symbolizer *s, const uint64_t *addrs, size_t n)
{
	struct batch b = { .release = !(s->flags & MP_SYM_F_KEEP) };
	size_t ni = 0, u = 0, *left = NULL, nleft = 0;
	int r = 0;

	/* Two passes: the first counts what is not known yet (from this run
	 * or the disk cache), so that only that much is allocated. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n; i++) {
			struct mapping *m = find_mapping(s, addrs[i]);
			struct mp_module_answer known;
			uint64_t fa;

			if (!m || !m->mod)
				continue;
			fa = addrs[i] - m->bias;
			if (mp_module_get(m->mod, fa, &known) || (i > 0 && addrs[i] == addrs[i - 1]))
				continue;       /* (sorted input: duplicates cost nothing) */
			if (pass == 1)
				b.items[ni] = (struct item){ .mod = m->mod, .fa = fa };
			ni++;
		}
		if (pass == 0) {
			if (!ni)
				return 0;
			b.items = malloc(ni * sizeof(*b.items));
			if (!b.items)
				return -ENOMEM;
			ni = 0;
		}
	}
	if (ni)
		qsort(b.items, ni, sizeof(*b.items), cmp_item);
	for (size_t i = 0; i < ni; i++)
		if (u == 0 || cmp_item(&b.items[i], &b.items[u - 1]) != 0)
			b.items[u++] = b.items[i];
	ni = u;
	b.chunks = malloc((ni / CHUNK + s->nmaps + 1) * sizeof(*b.chunks));
	left = calloc(s->nmaps + 1, sizeof(*left));
	if (!b.chunks || !left) {
		free(b.items);
		free(b.chunks);
		free(left);
		return -ENOMEM;
	}
	for (size_t i = 0; i < ni;) {
		size_t j = i;

		if (i == 0 || b.items[i].mod != b.items[i - 1].mod)
			nleft++;        /* a module's first chunk */
		while (j < ni && j - i < CHUNK && b.items[j].mod == b.items[i].mod)
			j++;
		b.chunks[b.nchunks++] = (struct chunk){ i, j - i, &left[nleft - 1] };
		left[nleft - 1]++;
		i = j;
	}
	if (b.nchunks)
		run_batch(&b, s->flags & MP_SYM_F_SERIAL);
	for (size_t i = 0; i < ni; i++) {
		struct item *it = &b.items[i];
		struct mp_module_answer kept;

		if (it->err < 0) {
			r = it->err;
			continue;
		}
		if (mp_module_put(it->mod, it->fa, &it->a, &kept) < 0)
			r = -ENOMEM;
	}
	free(b.items);
	free(b.chunks);
	free(left);
	return r;
}

void mp_symbolizer_warm(struct mp_symbolizer *s)
{
	struct batch b = { .warm = true };
	size_t n = 0;

	b.items = calloc(s->nmaps ? s->nmaps : 1, sizeof(*b.items));
	b.chunks = calloc(s->nmaps ? s->nmaps : 1, sizeof(*b.chunks));
	if (!b.items || !b.chunks)
		goto out;
	for (size_t i = 0; i < s->nmaps; i++) {
		if (!s->maps[i].mod)
			continue;
		b.items[n].mod = s->maps[i].mod;
		b.chunks[n] = (struct chunk){ n, 1, NULL };
		n++;
	}
	b.nchunks = n;
	if (n)
		run_batch(&b, s->flags & MP_SYM_F_SERIAL);
out:
	free(b.items);
	free(b.chunks);
}

void mp_symbolizer_release(struct mp_symbolizer *s)
{
	for (size_t i = 0; i < s->nmaps; i++)
		if (s->maps[i].mod)
			mp_module_release(s->maps[i].mod);
}

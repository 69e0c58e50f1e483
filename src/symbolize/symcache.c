/* SPDX-License-Identifier: MIT */
/*
 * The on-disk symbolization cache (see symcache.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/grow.h"
#include "common/write-all.h"
#include "symbolize/symcache.h"

_Static_assert(sizeof(struct mp_symcache_header) == 176, "header layout");
_Static_assert(sizeof(struct mp_symcache_rec) == 8, "record layout");
_Static_assert(sizeof(struct mp_symcache_frame) == 32, "frame layout");

#define MAX_ENTRIES (1u << 24)          /* per file: bounds a file to a few 100 MB */
#define DEFAULT_LIMIT ((uint64_t)256 << 20)

/*
 * The checksum: FNV-1a's step over 64-bit words (then the tail bytes), so
 * a load checks a file at several GB/s.  It is no defence against a
 * forger (the cache is the user's own), only against truncated, torn and
 * corrupt files.
 */
static uint64_t sum_words(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t w;

		memcpy(&w, b + i, 8);
		h ^= w;
		h *= 0x100000001b3ull;
		h ^= h >> 29;
	}
	for (; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

#define SUM_SEED 0xcbf29ce484222325ull

uint64_t mp_symcache_checksum(const void *p, size_t n)
{
	return sum_words(SUM_SEED, p, n);
}

int mp_symcache_parse(const void *data, size_t len, const char *build_id, uint32_t kind,
		      struct mp_symcache_view *ret)
{
	const struct mp_symcache_header *h = data;
	const char *base = data;
	struct mp_symcache_view v;
	uint64_t need;

	if (len < sizeof(*h) || memcmp(h->magic, MP_SYMCACHE_MAGIC, 8) != 0 ||
	    h->version != MP_SYMCACHE_VERSION || h->kind != kind ||
	    memchr(h->build_id, 0, sizeof(h->build_id)) == NULL ||
	    strcmp(h->build_id, build_id) != 0)
		return -EBADMSG;
	if (h->naddrs > MAX_ENTRIES || h->nframes > 16 * (uint64_t)MAX_ENTRIES)
		return -EBADMSG;
	need = sizeof(*h) + (uint64_t)h->naddrs * (8 + sizeof(struct mp_symcache_rec)) +
	       (uint64_t)h->nframes * sizeof(struct mp_symcache_frame) + h->strbytes;
	if (need != len)
		return -EBADMSG;
	if (sum_words(SUM_SEED, base + sizeof(*h), len - sizeof(*h)) != h->checksum)
		return -EBADMSG;
	v.naddrs = h->naddrs;
	v.nframes = h->nframes;
	v.strbytes = h->strbytes;
	v.addrs = (const uint64_t *)(base + sizeof(*h));
	v.recs = (const struct mp_symcache_rec *)(v.addrs + v.naddrs);
	v.frames = (const struct mp_symcache_frame *)(v.recs + v.naddrs);
	v.strings = (const char *)(v.frames + v.nframes);
	if (v.strbytes && v.strings[v.strbytes - 1] != 0)
		return -EBADMSG;
	for (uint32_t i = 0; i < v.naddrs; i++) {
		const struct mp_symcache_rec *r = &v.recs[i];

		if ((i > 0 && v.addrs[i] <= v.addrs[i - 1]) || r->source > MP_SYM_DWARF ||
		    (uint64_t)r->first_frame + r->nframes > v.nframes ||
		    (r->source == MP_SYM_NONE) != (r->nframes == 0))
			return -EBADMSG;
	}
	for (uint32_t i = 0; i < v.nframes; i++) {
		const struct mp_symcache_frame *f = &v.frames[i];

		if (f->function >= v.strbytes || f->system_name >= v.strbytes ||
		    (f->file != MP_SYMCACHE_NO_STRING && f->file >= v.strbytes))
			return -EBADMSG;
	}
	*ret = v;
	return 0;
}

int64_t mp_symcache_index(const struct mp_symcache_view *v, uint64_t addr)
{
	size_t lo = 0, hi = v->naddrs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->addrs[mid] < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == v->naddrs || v->addrs[lo] != addr)
		return -ENOENT;
	return (int64_t)lo;
}

size_t mp_symcache_nframes(const struct mp_symcache_view *v, size_t i)
{
	return v->recs[i].nframes;
}

size_t mp_symcache_decode(const struct mp_symcache_view *v, size_t i,
			  enum mp_sym_source *ret_source, struct mp_sym_frame *frames)
{
	const struct mp_symcache_rec *r = &v->recs[i];

	for (uint32_t k = 0; k < r->nframes; k++) {
		const struct mp_symcache_frame *f = &v->frames[r->first_frame + k];

		frames[k] = (struct mp_sym_frame){
			.function = v->strings + f->function,
			.system_name = v->strings + f->system_name,
			.file = f->file == MP_SYMCACHE_NO_STRING ? NULL : v->strings + f->file,
			.line = f->line,
			.start_line = f->start_line,
		};
	}
	*ret_source = (enum mp_sym_source)r->source;
	return r->nframes;
}

/* ---- files ------------------------------------------------------------------------ */

struct mp_symcache_dir {
	char *path;
	uint64_t limit;
};

struct mp_symcache_file {
	void *map;
	size_t len;
	struct mp_symcache_view view;
};

static uint64_t parse_limit(const char *s)
{
	char *end;
	unsigned long long v;

	if (!s || !*s)
		return DEFAULT_LIMIT;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return DEFAULT_LIMIT;
	switch (*end) {
	case 'K': case 'k': v <<= 10; end++; break;
	case 'M': case 'm': v <<= 20; end++; break;
	case 'G': case 'g': v <<= 30; end++; break;
	}
	return *end ? DEFAULT_LIMIT : v;
}

static int mkdirs(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(path, 0700) < 0 && errno != EEXIST) {
			*p = '/';
			return -errno;
		}
		*p = '/';
	}
	return mkdir(path, 0700) < 0 && errno != EEXIST ? -errno : 0;
}

struct mp_symcache_dir *mp_symcache_dir_open(void)
{
	const char *env = getenv("MEMPROF_CACHE_DIR"), *xdg, *home;
	struct mp_symcache_dir *d;
	char *path = NULL;

	if (env && (!*env || strcmp(env, "off") == 0))
		return NULL;
	if (env && env[0] == '/')
		path = strdup(env);
	else if ((xdg = getenv("XDG_CACHE_HOME")) && xdg[0] == '/')
		(void)!asprintf(&path, "%s/memprof", xdg);
	else if ((home = getenv("HOME")) && home[0] == '/')
		(void)!asprintf(&path, "%s/.cache/memprof", home);
	if (!path)
		return NULL;
	if (mkdirs(path) < 0) {
		free(path);
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		free(path);
		return NULL;
	}
	d->path = path;
	d->limit = parse_limit(getenv("MEMPROF_CACHE_SIZE"));
	return d;
}

void mp_symcache_dir_free(struct mp_symcache_dir *d)
{
	if (!d)
		return;
	free(d->path);
	free(d);
}

static bool valid_build_id(const char *b)
{
	size_t n = strlen(b);

	if (n < 2 || n > 128)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((b[i] >= '0' && b[i] <= '9') || (b[i] >= 'a' && b[i] <= 'f')))
			return false;
	return true;
}

static char *file_name(const struct mp_symcache_dir *d, const char *build_id, uint32_t kind)
{
	char *p = NULL;

	if (asprintf(&p, "%s/%s.%s.symc", d->path, build_id,
		     kind == MP_SYMCACHE_KIND_DWARF ? "dwarf" : "symtab") < 0)
		return NULL;
	return p;
}

struct mp_symcache_file *mp_symcache_load(struct mp_symcache_dir *d, const char *build_id,
					  uint32_t kind)
{
	struct mp_symcache_file *f = NULL;
	struct stat st;
	char *name;
	void *map;
	int fd;

	if (!d || !valid_build_id(build_id))
		return NULL;
	name = file_name(d, build_id, kind);
	if (!name)
		return NULL;
	fd = open(name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	free(name);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (uint64_t)st.st_size > SIZE_MAX) {
		close(fd);
		return NULL;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	/* Used: recently used files are the last to be trimmed. */
	futimens(fd, NULL);
	close(fd);
	if (map == MAP_FAILED)
		return NULL;
	f = calloc(1, sizeof(*f));
	if (!f || mp_symcache_parse(map, (size_t)st.st_size, build_id, kind, &f->view) < 0) {
		munmap(map, (size_t)st.st_size);
		free(f);
		return NULL;
	}
	f->map = map;
	f->len = (size_t)st.st_size;
	return f;
}

const struct mp_symcache_view *mp_symcache_file_view(const struct mp_symcache_file *f)
{
	return &f->view;
}

void mp_symcache_unload(struct mp_symcache_file *f)
{
	if (!f)
		return;
	munmap(f->map, f->len);
	free(f);
}

/* ---- writing ---------------------------------------------------------------------- */

/* A string table under construction: each distinct string once. */
struct strtab {
	char *buf;
	size_t len, cap;
	struct { const char *s; uint32_t off; } *slot;
	size_t nslot, used;
};

static uint64_t str_hash(const char *s)
{
	uint64_t h = SUM_SEED;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return h;
}

static int strtab_grow_slots(struct strtab *t)
{
	size_t n = t->nslot ? 2 * t->nslot : 1024;
	__typeof__(t->slot) ns = calloc(n, sizeof(*ns));

	if (!ns)
		return -ENOMEM;
	for (size_t i = 0; i < t->nslot; i++) {
		if (!t->slot[i].s)
			continue;
		size_t j = str_hash(t->slot[i].s) & (n - 1);
		while (ns[j].s)
			j = (j + 1) & (n - 1);
		ns[j] = t->slot[i];
	}
	free(t->slot);
	t->slot = ns;
	t->nslot = n;
	return 0;
}

/* The offset of s in the table (added if new), or -ENOMEM / -E2BIG. */
static int64_t strtab_add(struct strtab *t, const char *s)
{
	size_t n = strlen(s) + 1, j;

	if ((t->used + 1) * 2 > t->nslot && strtab_grow_slots(t) < 0)
		return -ENOMEM;
	for (j = str_hash(s) & (t->nslot - 1); t->slot[j].s; j = (j + 1) & (t->nslot - 1))
		if (strcmp(t->slot[j].s, s) == 0)
			return t->slot[j].off;
	if (t->len + n >= MP_SYMCACHE_NO_STRING)
		return -E2BIG;
	if (MP_GROW(t->buf, t->len + n, t->cap) < 0)
		return -ENOMEM;
	memcpy(t->buf + t->len, s, n);
	/* The slot keeps a pointer to the caller's string: valid until the
	 * write ends (entries and the old file's view outlive it). */
	t->slot[j].s = s;
	t->slot[j].off = (uint32_t)t->len;
	t->used++;
	t->len += n;
	return t->slot[j].off;
}

/* Runs of frames already written, to share identical ones. */
struct runs {
	struct { uint32_t first, n; uint64_t hash; } *slot;
	size_t nslot, used;
};

/*
 * Whether frames[first, first + n) repeats an earlier run: its start, or
 * -1 after remembering this one (its frames stay), or -ENOMEM.  `frames`
 * may move between calls (realloc): runs are kept as indexes.
 */
static int64_t runs_find_or_add(struct runs *t, const struct mp_symcache_frame *frames, size_t first,
				size_t n)
{
	uint64_t h = sum_words(SUM_SEED, &frames[first], n * sizeof(*frames));
	size_t j;

	if ((t->used + 1) * 2 > t->nslot) {
		size_t ns = t->nslot ? 2 * t->nslot : 1024;
		__typeof__(t->slot) nv = calloc(ns, sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		for (size_t i = 0; i < t->nslot; i++) {
			if (!t->slot[i].n)
				continue;
			for (j = t->slot[i].hash & (ns - 1); nv[j].n; j = (j + 1) & (ns - 1))
				;
			nv[j] = t->slot[i];
		}
		free(t->slot);
		t->slot = nv;
		t->nslot = ns;
	}
	for (j = h & (t->nslot - 1); t->slot[j].n; j = (j + 1) & (t->nslot - 1))
		if (t->slot[j].hash == h && t->slot[j].n == n &&
		    memcmp(&frames[t->slot[j].first], &frames[first], n * sizeof(*frames)) == 0)
			return t->slot[j].first;
	t->slot[j].first = (uint32_t)first;
	t->slot[j].n = (uint32_t)n;
	t->slot[j].hash = h;
	t->used++;
	return -1;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct mp_symcache_entry *x = *(const struct mp_symcache_entry *const *)a;
	const struct mp_symcache_entry *y = *(const struct mp_symcache_entry *const *)b;

	return (x->addr > y->addr) - (x->addr < y->addr);
}

struct usage {
	char *name;
	off_t size;
	struct timespec mtime;
};

static int cmp_usage(const void *a, const void *b)
{
	const struct usage *x = a, *y = b;

	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	return (x->mtime.tv_nsec > y->mtime.tv_nsec) - (x->mtime.tv_nsec < y->mtime.tv_nsec);
}

/* With the lock held: remove the least recently used files until the
 * directory holds at most three quarters of its limit, when it holds more
 * than the limit.  Stale temporary files (a run that died mid-write) go too. */
static void trim(struct mp_symcache_dir *d, int dfd)
{
	DIR *dir = fdopendir(dup(dfd));
	struct usage *u = NULL;
	size_t n = 0, cap = 0;
	uint64_t total = 0;
	struct dirent *de;
	time_t now = time(NULL);

	if (!dir)
		return;
	while ((de = readdir(dir))) {
		size_t len = strlen(de->d_name);
		bool tmp = strncmp(de->d_name, ".tmp.", 5) == 0;
		struct stat st;

		if (!tmp && (len < 6 || strcmp(de->d_name + len - 5, ".symc") != 0))
			continue;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (tmp) {
			if (now - st.st_mtime > 3600)
				unlinkat(dfd, de->d_name, 0);
			continue;
		}
		if (MP_GROW(u, n + 1, cap) < 0)
			break;
		u[n].name = strdup(de->d_name);
		if (!u[n].name)
			break;
		u[n].size = st.st_size;
		u[n].mtime = st.st_mtim;
		total += (uint64_t)st.st_size;
		n++;
	}
	closedir(dir);
	if (total > d->limit) {
		qsort(u, n, sizeof(*u), cmp_usage);
		for (size_t i = 0; i < n && total > d->limit / 4 * 3; i++) {
			if (unlinkat(dfd, u[i].name, 0) == 0)
				total -= (uint64_t)u[i].size;
		}
	}
	for (size_t i = 0; i < n; i++)
		free(u[i].name);
	free(u);
}

int mp_symcache_store(struct mp_symcache_dir *d, const char *build_id, uint32_t kind,
		      const struct mp_symcache_entry *e, size_t n)
{
	struct mp_symcache_header h;
	struct mp_symcache_file *old = NULL;
	const struct mp_symcache_entry **sorted = NULL;
	uint64_t *addrs = NULL;
	struct mp_symcache_rec *recs = NULL;
	struct mp_symcache_frame *frames = NULL;
	struct mp_sym_frame *scratch = NULL;
	struct strtab st = { 0 };
	struct runs runs = { 0 };
	size_t nsorted = 0, nout = 0, nframes = 0, cap_frames = 0, i = 0, j = 0;
	char *name = NULL, tmp[64];
	int dfd = -1, lock = -1, fd = -1, r = -ENOMEM;

	if (!d || !valid_build_id(build_id) || n == 0)
		return 0;
	dfd = open(d->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	lock = openat(dfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lock < 0) {
		r = -errno;
		goto out;
	}
	while (flock(lock, LOCK_EX) < 0) {
		if (errno != EINTR) {
			r = -errno;
			goto out;
		}
	}
	old = mp_symcache_load(d, build_id, kind);
	name = file_name(d, build_id, kind);
	sorted = malloc(n * sizeof(*sorted));
	scratch = malloc(65535 * sizeof(*scratch));
	if (!name || !sorted || !scratch)
		goto out;
	for (size_t k = 0; k < n; k++)
		if (e[k].nframes <= 65535 && (e[k].source == MP_SYM_NONE) == (e[k].nframes == 0))
			sorted[nsorted++] = &e[k];
	qsort(sorted, nsorted, sizeof(*sorted), cmp_entry);
	{
		size_t total = nsorted + (old ? old->view.naddrs : 0);

		if (total > MAX_ENTRIES)
			total = MAX_ENTRIES;
		addrs = malloc((total ? total : 1) * sizeof(*addrs));
		recs = malloc((total ? total : 1) * sizeof(*recs));
		if (!addrs || !recs)
			goto out;
	}
	/* Merge: the old file's entries and the new ones, by address. */
	for (;;) {
		const struct mp_sym_frame *fr;
		enum mp_sym_source src;
		uint64_t addr;
		size_t nf;
		bool from_old;

		while (j < nsorted && j > 0 && sorted[j]->addr == sorted[j - 1]->addr)
			j++;
		if (old && i < old->view.naddrs && (j >= nsorted || old->view.addrs[i] <= sorted[j]->addr))
			from_old = true;
		else if (j < nsorted)
			from_old = false;
		else
			break;
		if (nout == MAX_ENTRIES)
			break;
		if (from_old) {
			addr = old->view.addrs[i];
			nf = mp_symcache_decode(&old->view, i, &src, scratch);
			fr = scratch;
			if (j < nsorted && sorted[j]->addr == addr)
				j++;
			i++;
		} else {
			addr = sorted[j]->addr;
			src = sorted[j]->source;
			fr = sorted[j]->frames;
			nf = sorted[j]->nframes;
			j++;
		}
		if (MP_GROW(frames, nframes + nf, cap_frames) < 0)
			goto out;
		addrs[nout] = addr;
		size_t run = nframes;
		for (size_t k = 0; k < nf; k++) {
			int64_t fn = strtab_add(&st, fr[k].function);
			int64_t sn = strtab_add(&st, fr[k].system_name);
			int64_t fl = fr[k].file ? strtab_add(&st, fr[k].file) : MP_SYMCACHE_NO_STRING;

			if (fn < 0 || sn < 0 || fl < 0) {
				r = fn < 0 ? (int)fn : sn < 0 ? (int)sn : (int)fl;
				goto out;
			}
			frames[nframes++] = (struct mp_symcache_frame){
				(uint32_t)fn, (uint32_t)sn, (uint32_t)fl, 0, fr[k].line, fr[k].start_line
			};
		}
		/* The same frames as an earlier entry (every address of a
		 * function known by its symbol only): share them. */
		if (nf) {
			int64_t same = runs_find_or_add(&runs, frames, run, nf);

			if (same == -ENOMEM) {
				r = -ENOMEM;
				goto out;
			}
			if (same >= 0) {
				nframes = run;
				run = (size_t)same;
			}
		}
		recs[nout] = (struct mp_symcache_rec){ (uint32_t)run, (uint16_t)nf, (uint8_t)src, 0 };
		nout++;
	}
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, MP_SYMCACHE_MAGIC, 8);
	h.version = MP_SYMCACHE_VERSION;
	h.kind = kind;
	snprintf(h.build_id, sizeof(h.build_id), "%s", build_id);
	h.naddrs = (uint32_t)nout;
	h.nframes = (uint32_t)nframes;
	h.strbytes = (uint32_t)st.len;
	{
		uint64_t c = SUM_SEED;
		const void *parts[4] = { addrs, recs, frames, st.buf };
		size_t sizes[4] = { nout * sizeof(*addrs), nout * sizeof(*recs),
				    nframes * sizeof(*frames), st.len };

		/* The first three are whole words: summing them one after the
		 * other is summing the file's contents. */
		for (int p = 0; p < 4; p++)
			c = sum_words(c, parts[p], sizes[p]);
		h.checksum = c;
		snprintf(tmp, sizeof(tmp), ".tmp.%d.XXXXXX", (int)getpid());
		/* mkstemp wants a path: build it in the directory. */
		char *tpath = NULL;
		if (asprintf(&tpath, "%s/%s", d->path, tmp) < 0)
			goto out;
		fd = mkostemp(tpath, O_CLOEXEC);
		if (fd < 0) {
			r = -errno;
			free(tpath);
			goto out;
		}
		r = mp_write_all(fd, &h, sizeof(h));
		for (int p = 0; p < 4 && r == 0; p++)
			r = mp_write_all(fd, parts[p], sizes[p]);
		if (r == 0 && close(fd) < 0)
			r = -errno;
		fd = -1;
		if (r == 0 && rename(tpath, name) < 0)
			r = -errno;
		if (r < 0)
			unlink(tpath);
		free(tpath);
	}
	if (r == 0)
		trim(d, dfd);
out:
	if (fd >= 0)
		close(fd);
	mp_symcache_unload(old);
	if (lock >= 0)
		close(lock);            /* releases the flock */
	if (dfd >= 0)
		close(dfd);
	free(name);
	free(sorted);
	free(scratch);
	free(addrs);
	free(recs);
	free(frames);
	free(st.buf);
	free(st.slot);
	free(runs.slot);
	return r;
}

/* SPDX-License-Identifier: MIT */
/*
 * Names for code unloaded before the snapshot: dlclose is interposed, and
 * every library it unloads is recorded with what the CLI needs to
 * symbolize its addresses later (common/snapshot.h, MP_SNAP_UNLOADED): its
 * loaded segments as /proc/self/maps lines (path, device and inode, file
 * offset), its build ID, and the size of the stack table at that moment.
 * heaptrack does the same from its dlopen/dlclose hooks.
 *
 * Which libraries a dlclose unloads (the one named, and dependencies no one
 * else holds) is known only afterwards, when their memory is gone: so the
 * loaded objects are listed first (dl_iterate_phdr: address, name, PT_LOAD
 * segments and build-ID note, copied), and listed again after the call;
 * those missing are recorded.  dl_iterate_phdr's unload counter (dlpi_subs)
 * skips the second listing when nothing was unloaded.  Concurrent calls and
 * a destructor's nested dlclose may both see one unload: a record for the
 * same address and name made after this call's first listing is the same
 * unload, and not made twice.
 *
 * Then the unloaded code is forgotten where it was remembered by address:
 * stacks holding its addresses are retired from the stack table (a stack of
 * code loaded at the same place later gets an id of its own), and the
 * walkers drop its unwind rules and their memos of walks through it.
 *
 * dlclose calls made inside glibc (NSS and iconv modules, at exit) do not
 * come through here.
 *
 * Memory: the listings and the records live in mappings of our own; no
 * malloc.  Records are appended under a lock of ours, never held across
 * the real dlclose, and published with a release store of their size, so
 * the snapshot writer reads them without it.
 */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base/vmarea.h"
#include "base/shm.h"
#include "common/snapshot.h"
#include "sample/stacks.h"
#include "sample/unwind.h"
#include "base/vm.h"
#include "shim/crash.h"
#include "shim/shim.h"

#define MAX_SEGS 8

struct seg {
	uint64_t vaddr, filesz, memsz, offset;
	uint32_t flags;
};

struct obj {
	uint64_t base;
	uint32_t name_off, name_len;
	uint32_t nsegs, build_id_len;
	struct seg segs[MAX_SEGS];
	uint8_t build_id[32];
	bool present;
};

/* One listing of the loaded objects, in one mapping of its own. */
struct listing {
	size_t cap, n, map_size;
	struct obj *objs;
	char *names;
	size_t names_cap, names_len;
	unsigned long long subs;
	bool overflow;
};

/*
 * Listing buffers: two of SPARE_SIZE bytes kept for the next call (a
 * program that loads and unloads plugins in a loop would otherwise map and
 * fault in fresh pages twice per dlclose); a call that finds none free, or
 * needs more, maps its own.  Taken and given back with atomic exchanges:
 * concurrent calls never share one.
 */
#define SPARE_SIZE ((size_t)256 << 10)
static void *spare[2];

static void *map(size_t size, size_t *ret_size)
{
	if (size <= SPARE_SIZE) {
		for (int i = 0; i < 2; i++) {
			void *p = __atomic_exchange_n(&spare[i], NULL, __ATOMIC_ACQ_REL);
			if (p) {
				*ret_size = SPARE_SIZE;
				return p;
			}
		}
		size = SPARE_SIZE;
	}
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	*ret_size = size;
	return p;
}

static void unmap(void *p, size_t size)
{
	for (int i = 0; size == SPARE_SIZE && i < 2; i++) {
		void *expect = NULL;
		if (__atomic_compare_exchange_n(&spare[i], &expect, p, 0, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			return;
	}
	munmap(p, size);
}

static void build_id_of(const struct dl_phdr_info *info, const ElfW(Phdr) *ph, struct obj *o)
{
	const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
	const uint8_t *end = p + ph->p_memsz;
	while ((size_t)(end - p) >= sizeof(ElfW(Nhdr))) {
		ElfW(Nhdr) nh;
		memcpy(&nh, p, sizeof(nh));
		size_t name = (nh.n_namesz + 3) & ~(size_t)3, desc = (nh.n_descsz + 3) & ~(size_t)3;
		const uint8_t *d = p + sizeof(nh) + name;
		if (name > (size_t)(end - p) || desc > (size_t)(end - d))
			return;
		if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
		    memcmp(p + sizeof(nh), "GNU", 4) == 0) {
			o->build_id_len = nh.n_descsz < sizeof(o->build_id) ? nh.n_descsz
									     : sizeof(o->build_id);
			memcpy(o->build_id, d, o->build_id_len);
			return;
		}
		p = d + desc;
	}
}

/* dl_iterate_phdr callbacks run under the loader's lock: they only read
 * and copy. */
static int count_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	size_t *c = arg;
	(void)size;
	c[0]++;
	c[1] += strlen(info->dlpi_name) + 1;
	return 0;
}

static int list_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct listing *l = arg;
	size_t len = strlen(info->dlpi_name);
	if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs))
		l->subs = info->dlpi_subs;
	if (l->n == l->cap || l->names_cap - l->names_len < len + 1) {
		l->overflow = true;
		return 0;
	}
	struct obj *o = &l->objs[l->n++];
	memset(o, 0, sizeof(*o));
	o->base = info->dlpi_addr;
	o->name_off = (uint32_t)l->names_len;
	o->name_len = (uint32_t)len;
	memcpy(l->names + l->names_len, info->dlpi_name, len + 1);
	l->names_len += len + 1;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_LOAD && o->nsegs < MAX_SEGS)
			o->segs[o->nsegs++] = (struct seg){ ph->p_vaddr, ph->p_filesz, ph->p_memsz,
							    ph->p_offset, ph->p_flags };
		else if (ph->p_type == PT_NOTE && !o->build_id_len)
			build_id_of(info, ph, o);
	}
	return 0;
}

/* The loaded objects, into a mapping the caller unmaps (l->objs, l->cap
 * objects and the names after them).  0 or -ENOMEM. */
static int list(struct listing *l)
{
	size_t c[2] = { 0, 0 };
	dl_iterate_phdr(count_cb, c);
	memset(l, 0, sizeof(*l));
	/* Room for objects loaded by other threads meanwhile. */
	l->cap = c[0] + 64;
	l->names_cap = c[1] + 64 * 256;
	l->objs = map(l->cap * sizeof(*l->objs) + l->names_cap, &l->map_size);
	if (!l->objs)
		return -ENOMEM;
	l->names = (char *)(l->objs + l->cap);
	dl_iterate_phdr(list_cb, l);
	return 0;
}

static void unlist(struct listing *l)
{
	if (l->objs)
		unmap(l->objs, l->map_size);
}

static int subs_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs))
		*(unsigned long long *)arg = info->dlpi_subs;
	return 1;   /* the first object is enough */
}

/* ---- the records ---- */

#define RECORDS_MAX ((size_t)64 << 20)

static pthread_mutex_t rec_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t *records;        /* MP_SNAP_UNLOADED's payload */
static size_t records_used;     /* published with release stores */
static int records_full;

size_t mp_unload_records(const void **ret)
{
	*ret = records;
	return __atomic_load_n(&records_used, __ATOMIC_ACQUIRE);
}

void mp_unload_after_fork_child(void)
{
	pthread_mutex_init(&rec_lock, NULL);
}

static char *put_hex(char *p, uint64_t v, int min)
{
	char tmp[16];
	int n = 0;
	do {
		tmp[n++] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	while (n < min)
		tmp[n++] = '0';
	while (n)
		*p++ = tmp[--n];
	return p;
}

static char *put_dec(char *p, uint64_t v)
{
	char tmp[24];
	return stpcpy(p, mp_utoa(v, tmp));
}

/* What tells one unload from another: the object's address and name, and
 * the size of the stack table when it was recorded.  Beside the records,
 * under rec_lock. */
struct key {
	uint64_t base, name_hash;
	uint32_t last_stack;
};
#define KEYS_MAX (RECORDS_MAX / 64)
static struct key *keys;
static struct mp_vm_area records_area, keys_area;
static size_t nkeys;

static uint64_t hash_name(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;   /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
	return h;
}

/* Whether this object's unload was recorded since the stack table held
 * `since` stacks (by another call that saw the same unload). */
static bool recorded_locked(uint64_t base, uint64_t name_hash, uint32_t since)
{
	for (size_t i = nkeys; i-- > 0 && keys[i].last_stack >= since;)
		if (keys[i].base == base && keys[i].name_hash == name_hash)
			return true;
	return false;
}

/* Record one unloaded object; `path` is its name made absolute. */
static void record(const struct obj *o, const char *name, const char *path, uint32_t since)
{
	struct stat st;
	uint64_t dev_major = 0, dev_minor = 0, ino = 0;
	if (stat(path, &st) == 0) {
		dev_major = major(st.st_dev);
		dev_minor = minor(st.st_dev);
		ino = st.st_ino;
	}
	size_t plen = strlen(path);
	/* One line per segment: 4 hex numbers, an inode, perms, a path. */
	size_t cap = sizeof(struct mp_snap_unload_rec) + o->nsegs * (5 * 17 + 24 + 8 + plen + 1) + 8;
	uint64_t ranges[2 * MAX_SEGS];
	size_t nranges = 0;
	long page = sysconf(_SC_PAGESIZE);
	uint64_t pm = page > 0 ? (uint64_t)page - 1 : 4095;

	uint64_t name_hash = hash_name(name);

	pthread_mutex_lock(&rec_lock);
	if (!records && !records_full) {
		/* Windows mapped as they fill (base/vmarea.h): 65 MiB of
		 * address space reserved here would count against the
		 * program's RLIMIT_AS. */
		records_full = mp_vm_area_init(&records_area, RECORDS_MAX) < 0 ||
			       mp_vm_area_init(&keys_area, KEYS_MAX * sizeof(*keys)) < 0;
		if (!records_full) {
			/* Shared with the CLI when it asked (base/shm.h). */
			mp_vm_area_share(&records_area, MP_SNAP_UNLOADED, 0);
			records = (uint8_t *)records_area.base;
			keys = (struct key *)keys_area.base;
		}
	}
	if (records_full || recorded_locked(o->base, name_hash, since)) {
		pthread_mutex_unlock(&rec_lock);
		return;
	}
	if (RECORDS_MAX - records_used < cap || nkeys == KEYS_MAX ||
	    mp_vm_area_grow(&records_area, records_used + cap, (size_t)64 << 10) < 0 ||
	    mp_vm_area_grow(&keys_area, (nkeys + 1) * sizeof(*keys), (size_t)4 << 10) < 0) {
		records_full = 1;   /* later unloads keep no names */
		pthread_mutex_unlock(&rec_lock);
		return;
	}
	uint8_t *rec = records + records_used;
	mp_shm_begin(&records_area, records_used, cap);
	char *text = (char *)rec + sizeof(struct mp_snap_unload_rec), *p = text;
	for (uint32_t i = 0; i < o->nsegs; i++) {
		const struct seg *s = &o->segs[i];
		if (!s->filesz)
			continue;
		uint64_t start = (o->base + s->vaddr) & ~pm;
		uint64_t end = (o->base + s->vaddr + s->filesz + pm) & ~pm;
		p = put_hex(p, start, 1);
		*p++ = '-';
		p = put_hex(p, end, 1);
		*p++ = ' ';
		*p++ = s->flags & PF_R ? 'r' : '-';
		*p++ = s->flags & PF_W ? 'w' : '-';
		*p++ = s->flags & PF_X ? 'x' : '-';
		*p++ = 'p';
		*p++ = ' ';
		p = put_hex(p, s->offset & ~pm, 8);
		*p++ = ' ';
		p = put_hex(p, dev_major, 2);
		*p++ = ':';
		p = put_hex(p, dev_minor, 2);
		*p++ = ' ';
		p = put_dec(p, ino);
		*p++ = ' ';
		memcpy(p, path, plen);
		p += plen;
		*p++ = '\n';
		if (s->flags & PF_X && nranges < 2 * MAX_SEGS) {
			ranges[nranges++] = start;
			ranges[nranges++] = end;
		}
	}
	struct mp_snap_unload_rec h = {
		.text_len = (uint32_t)(p - text),
		.build_id_len = o->build_id_len,
	};
	memcpy(h.build_id, o->build_id, o->build_id_len);
	/* The table's size once its stacks are retired: later ones are not
	 * its (see mp_prof_unmapped); the walkers forget it too. */
	h.last_stack = mp_prof_unmapped(ranges, nranges / 2);
	mp_unwind_forget(ranges, nranges / 2);
	memcpy(rec, &h, sizeof(h));
	keys[nkeys++] = (struct key){ o->base, name_hash, h.last_stack };
	while ((size_t)(p - text) % 8)
		*p++ = 0;
	__atomic_store_n(&records_used, records_used + sizeof(h) + (size_t)(p - text),
			 __ATOMIC_RELEASE);
	mp_shm_publish(&records_area, 0, records_used);
	mp_shm_end(&records_area);
	pthread_mutex_unlock(&rec_lock);
}

typedef int (*dlclose_fn)(void *);

MP_EXPORT int dlclose(void *handle)
{
	static dlclose_fn real;
	dlclose_fn f = __atomic_load_n(&real, __ATOMIC_ACQUIRE);
	if (!f) {
		f = (dlclose_fn)dlsym(RTLD_NEXT, "dlclose");
		if (!f) {
			errno = ENOSYS;
			return -1;
		}
		__atomic_store_n(&real, f, __ATOMIC_RELEASE);
	}
	if (__atomic_load_n(&mp_shim.init, __ATOMIC_ACQUIRE) != MP_INIT_DONE || !mp_shim.enabled ||
	    mp_busy)
		return f(handle);

	struct listing before;
	mp_busy++;
	int listed = list(&before) == 0;
	uint32_t since = mp_prof_nstacks();
	mp_busy--;

	int r = f(handle);

	if (!listed)
		return r;
	int saved = errno;
	mp_busy++;
	unsigned long long subs = before.subs;
	dl_iterate_phdr(subs_cb, &subs);
	struct listing after;
	if (subs != before.subs && list(&after) == 0) {
		for (size_t i = 0; i < after.n; i++)
			for (size_t j = 0; j < before.n; j++)
				if (before.objs[j].base == after.objs[i].base &&
				    strcmp(before.names + before.objs[j].name_off,
					   after.names + after.objs[i].name_off) == 0)
					before.objs[j].present = true;
		char cwd[PATH_MAX], path[PATH_MAX];
		size_t cwd_len = 0;
		for (size_t j = 0; j < before.n; j++) {
			const struct obj *o = &before.objs[j];
			const char *name = before.names + o->name_off;
			if (o->present || !name[0])
				continue;
			if (name[0] == '/') {
				record(o, name, name, since);
				continue;
			}
			/* A name relative to the working directory. */
			if (!cwd_len && getcwd(cwd, sizeof(cwd)))
				cwd_len = strlen(cwd);
			if (cwd_len && cwd_len + 1 + o->name_len < sizeof(path)) {
				memcpy(path, cwd, cwd_len);
				path[cwd_len] = '/';
				memcpy(path + cwd_len + 1, name, o->name_len + 1);
				record(o, name, path, since);
			}
		}
		unlist(&after);
	}
	unlist(&before);
	mp_crash_maps_refresh();   /* the maps the CLI reads after a death */
	mp_busy--;
	errno = saved;
	return r;
}

/* SPDX-License-Identifier: MIT */
/*
 * The leak scan (see leakscan.h).
 *
 * Classes, as Valgrind's memcheck defines them (mc_leakcheck.c, 3.19):
 *   - reachable: reached from a root through a chain of start pointers
 *     (to a block's first byte, or interior pointers one of memcheck's
 *     heuristics takes for start pointers, or a glibc thread control
 *     block's pointer into its DTV, which memcheck does not know:
 *     interior.h);
 *   - possibly lost: reached from a root, but only through chains with an
 *     interior pointer no heuristic takes;
 *   - definitely lost: not reached, and not reached from another lost block
 *     either (the head of a lost structure, or a lone lost block; of a lost
 *     cycle one block is counted definite, the others indirect);
 *   - indirectly lost: not reached from a root, but reached from a lost
 *     block, through any pointer, interior or not.
 * Marking from the roots (mp_leak_reach): a word of a root or of a
 * reachable block that is a start pointer makes a block reachable, any
 * other word pointing into it makes an unreached block possibly lost; a
 * word of a possibly lost block makes at most possibly lost.  Each change
 * queues the block, and whether its words count as definite is decided
 * when it is scanned, from its state then: a possibly lost block upgraded
 * later is scanned again, and upgrades what it reaches.  So a block is
 * scanned at most twice.
 * Lost blocks are taken in address order; each not yet claimed becomes a
 * definite "leader" and claims as indirect everything it reaches that was
 * not reached from a root, including leaders met earlier.  Possibly lost
 * blocks stay possibly lost when a lost block points to them too (memcheck
 * claims only unreached blocks).
 *
 * What points to a block: a word with its address, or one inside the bytes
 * the program can use (see below); a pointer past them, into the rest of
 * its size class, is not one (memcheck would not find a block there).
 *
 * What is read of a block: the bytes the program asked for (the size in its
 * profile bucket, or a large block's request), not the rest of its size
 * class.  That rest was never the program's to write (memcheck does not
 * read it either); it holds what the memory held before, which under ASLR
 * differs from run to run, so reading it made classes change between runs
 * of the same program.  A block with no bucket (not sampled) is read whole,
 * and so is every block once the program has asked malloc_usable_size
 * (alloc.h): it may then use the rest.
 *
 * Memory: the work list and the result live in memory mapped here; nothing
 * is allocated from a heap.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc/alloc.h"
#include "alloc/central.h"
#include "alloc/leak.h"
#include "base/ownmem.h"
#include "base/vmarea.h"
#include "common/snapshot.h"
#include "leakscan/ignore.h"
#include "leakscan/interior.h"
#include "leakscan/leakscan.h"
#include "leakscan/stopworld.h"
#include "base/privfd.h"
#include "sample/stacks.h"
#include "sample/tag.h"
#include "base/vm.h"

#define WORK_MAX ((size_t)1 << 30)          /* bytes of work list at most */
#define MAPS_MAX ((size_t)64 << 20)
#define REGIONS_MAX ((size_t)64 << 20)    /* bytes of region table at most */

struct work {
	uintptr_t start;
	size_t size;
	uint8_t *state;      /* the block's MP_BLK_*, read when it is scanned */
};

static struct work *work;
static size_t nwork;
static uint64_t scanned_bytes, scan_ns;   /* of the last run (stats) */
static int work_overflow;

static struct mp_snap_leak_rec *result;
static size_t nresult, result_cap;

/* The profile's buckets (requested sizes), set for the length of a run. */
static const struct mp_snap_heap_rec *bucket_recs;
static size_t nbucket_recs;

/* The bytes block b's allocation asked for, as far as known (memcheck's
 * size of the block, which its heuristics compare with). */
static size_t requested(const struct mp_blk *b)
{
	uint32_t k = b->tag ? mp_tag_bucket(b->tag) : UINT32_MAX;
	if (k < nbucket_recs && bucket_recs[k].size < b->req)
		return (size_t)bucket_recs[k].size;
	return b->req;
}

/* The bytes of block b that can hold the program's pointers (see above). */
static size_t extent(const struct mp_blk *b)
{
	return mp_alloc_slack_used ? b->size : requested(b);
}

/* The mappings of the process (interior.h), read once per run before any
 * word is scanned: the roots, and the heuristics' vtables and code. */
static struct mp_vm_area region_area;
static struct mp_leak_region *regions;
static size_t nregions;

void mp_leakscan_exclude_self(uintptr_t lo, uintptr_t hi)
{
	mp_ownmem_add((const void *)lo, hi - lo);
}

/* The work list: a window mapped as it fills (base/vmarea.h), so the scan
 * of a program near its RLIMIT_AS costs what it uses. */
static struct mp_vm_area work_area;
static size_t work_cap;             /* entries mapped */

static MP_NOINLINE void push_slow(uintptr_t start, size_t size, uint8_t *state)
{
	if (mp_vm_area_grow(&work_area, (nwork + 1) * sizeof(struct work), (size_t)1 << 20) < 0) {
		work_overflow = 1;
		return;
	}
	work_cap = work_area.mapped / sizeof(struct work);
	work[nwork].start = start;
	work[nwork].size = size;
	work[nwork].state = state;
	nwork++;
}

static void push(uintptr_t start, size_t size, uint8_t *state)
{
	if (MP_LIKELY(nwork < work_cap)) {
		work[nwork].start = start;
		work[nwork].size = size;
		work[nwork].state = state;
		nwork++;
	} else
		push_slow(start, size, state);
}

/* Whether v, inside block b's usable bytes at offset off != 0, points to
 * the block: inside what the program may use (extent). */
static int inside(const struct mp_blk *b, uintptr_t off)
{
	return off < extent(b);
}

/* The first 8-byte aligned word of [lo, hi); the range counts as scanned. */
static uintptr_t words_from(uintptr_t lo, uintptr_t hi)
{
	lo = (lo + 7) & ~(uintptr_t)7;
	if (hi > lo)
		scanned_bytes += hi - lo;
	return lo;
}

/* Whether the word at p points into a block of the heap [base, base +
 * size): the block in *b, the word in *ret_v.  (base and size are the
 * caller's locals: stores through the uint8_t state pointers may alias
 * anything, so globals would be reloaded for every word.) */
static inline __attribute__((always_inline)) bool
points_into(uintptr_t p, uintptr_t base, uintptr_t size, uintptr_t *ret_v, struct mp_blk *b)
{
	uintptr_t v = *(const uintptr_t *)p;
	*ret_v = v;
	return v - base < size && mp_alloc_leak_lookup(v, b);
}

/* Marking from the roots: every block a word of [lo, hi) points into moves
 * as mp_leak_reach says, and is queued when its state changes.  definite:
 * [lo, hi) is a root or a reachable block's. */
static void scan_reach(uintptr_t lo, uintptr_t hi, int definite)
{
	const uintptr_t base = mp_heap.base, size = mp_heap.size;
	for (uintptr_t p = words_from(lo, hi), v; p + 8 <= hi; p += 8) {
		struct mp_blk b;
		if (!points_into(p, base, size, &v, &b))
			continue;
		uint8_t st = *b.state;
		if (st != MP_BLK_LIVE && st != MP_BLK_POSSIBLE)
			continue;
		uintptr_t off = v - b.start;
		int start = off == 0;
		if (!start) {
			if (!inside(&b, off))
				continue;
			/* The heuristics matter only for a definite pointer: any
			 * other leaves the block possibly lost at best. */
			start = definite &&
				((off == 16 && p - 8 >= lo && p + 16 <= hi &&
				  mp_leak_is_tcb_dtv((const uintptr_t *)p)) ||
				 mp_leak_heuristic((const void *)b.start, requested(&b), b.size, off,
						   regions, nregions) != MP_HEUR_NONE);
		}
		uint8_t to = mp_leak_reach(st, start, definite);
		if (to != st) {
			*b.state = to;
			push(b.start, extent(&b), b.state);
		}
	}
}

static void drain_reach(void)
{
	while (nwork > 0) {
		struct work w = work[--nwork];
		scan_reach(w.start, w.start + w.size, *w.state != MP_BLK_POSSIBLE);
	}
}

/* Claiming for a leader: every unreached (LIVE) block a word of [lo, hi)
 * points into, interior pointers included, becomes INDIRECT and is queued;
 * DEFINITE ones other than the leader become INDIRECT too (their own
 * blocks were claimed already).  Reachable and possibly lost blocks are
 * left as they are. */
static void scan_lost(uintptr_t lo, uintptr_t hi, uintptr_t leader)
{
	const uintptr_t base = mp_heap.base, size = mp_heap.size;
	for (uintptr_t p = words_from(lo, hi), v; p + 8 <= hi; p += 8) {
		struct mp_blk b;
		if (!points_into(p, base, size, &v, &b))
			continue;
		uint8_t st = *b.state;
		if (st != MP_BLK_LIVE && (st != MP_BLK_DEFINITE || b.start == leader))
			continue;
		if (v != b.start && !inside(&b, v - b.start))
			continue;
		*b.state = MP_BLK_INDIRECT;
		if (st == MP_BLK_LIVE)
			push(b.start, extent(&b), b.state);
	}
}

static void drain_lost(uintptr_t leader)
{
	while (nwork > 0) {
		struct work w = work[--nwork];
		scan_lost(w.start, w.start + w.size, leader);
	}
}

/* A root range, minus our own memory (page by page where they overlap). */
static void scan_root(uintptr_t lo, uintptr_t hi)
{
	if (lo >= hi)
		return;
	uintptr_t p = lo, olo, ohi;
	while (p < hi) {
		if (!mp_ownmem_next(p, &olo, &ohi) || olo >= hi) {
			scan_reach(p, hi, 1);
			return;
		}
		if (olo > p)
			scan_reach(p, olo, 1);
		p = ohi;   /* skip ours */
	}
}

/* /proc/self/maps, read whole into a window mapped as it fills. */
static struct mp_vm_area maps_area;

/* Under mp_privfd_run: /proc/self is the same memory there. */
static int read_maps_fn(void *arg)
{
	size_t *ret_len = arg, n = 0;
	int fd = mp_sys_open("/proc/self/maps", O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (n + 1 >= maps_area.mapped &&
		    mp_vm_area_grow(&maps_area, n + 2, (size_t)64 << 10) < 0)
			break;
		char *buf = (char *)maps_area.base;
		ssize_t r = read(fd, buf + n, maps_area.mapped - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	mp_sys_close(fd);
	*ret_len = n;
	return 0;
}

/* The text, NUL-terminated, in maps_area; its length (0: none). */
static size_t read_maps(void)
{
	size_t len = 0;
	if (!maps_area.base && mp_vm_area_init(&maps_area, MAPS_MAX) < 0)
		return 0;
	if (mp_privfd_run(read_maps_fn, &len) < 0 || maps_area.mapped == 0)
		return 0;
	((char *)maps_area.base)[len] = 0;
	return len;
}

/* The region table from /proc/self/maps (nregions 0 when it cannot be
 * read: no roots from mappings then, and no multipleinheritance). */
static void load_regions(void)
{
	size_t n = read_maps(), lines = 1;
	const char *buf = (const char *)maps_area.base;

	nregions = 0;
	if (n == 0)
		return;
	for (const char *p = buf; (p = memchr(p, '\n', (size_t)(buf + n - p))) != NULL; p++)
		lines++;
	if (!region_area.base && mp_vm_area_init(&region_area, REGIONS_MAX) < 0)
		goto out;
	size_t need = lines * sizeof(struct mp_leak_region);
	if (need > region_area.mapped && mp_vm_area_grow(&region_area, need, 0) < 0)
		goto out;
	regions = (struct mp_leak_region *)region_area.base;
	nregions = mp_leak_regions_parse(buf, n, regions, region_area.mapped / sizeof(*regions));
out:
	mp_vm_area_trim(&maps_area, 0);
}

/* Every writable mapping is a root, except ours, the kernel's special ones
 * and devices (MP_REGION_ROOT); a mapping that holds a thread's stack
 * pointer is scanned from just below it (the red zone) up.  sps[0] is the
 * calling thread's, exact: it is taken at a call (mp_leakscan_run), where
 * no red zone is in use. */
static void scan_maps(const uintptr_t *sps, unsigned nsps)
{
	for (size_t k = 0; k < nregions; k++) {
		const struct mp_leak_region *r = &regions[k];
		if (!(r->flags & MP_REGION_ROOT))
			continue;
		uintptr_t from = r->lo;
		for (unsigned i = 0; i < nsps; i++) {
			uintptr_t red = i ? 128 : 0;
			if (sps[i] >= r->lo && sps[i] < r->hi && sps[i] - red > from)
				from = sps[i] - red < r->lo ? r->lo : sps[i] - red;
		}
		scan_root(from, r->hi);
	}
}

/* Aggregation by (bucket, class). */
struct agg {
	uint64_t count, bytes;
};
#define NCAT 4                      /* enum mp_snap_leak_category - 1 */
static struct agg *aggs;            /* (nbuckets + 1) x NCAT */
static uint32_t agg_buckets;

static int classify(const struct mp_blk *b, void *ctx)
{
	(void)ctx;
	if (*b->state != MP_BLK_LIVE)
		return 0;
	*b->state = MP_BLK_DEFINITE;
	scan_lost(b->start, b->start + extent(b), b->start);
	drain_lost(b->start);
	return 0;
}

static int aggregate(const struct mp_blk *b, void *ctx)
{
	(void)ctx;
	unsigned cat;
	switch (*b->state) {
	case MP_BLK_DEFINITE: cat = MP_LEAK_DEFINITE; break;
	case MP_BLK_INDIRECT: cat = MP_LEAK_INDIRECT; break;
	case MP_BLK_REACHABLE: cat = MP_LEAK_REACHABLE; break;
	case MP_BLK_POSSIBLE: cat = MP_LEAK_POSSIBLE; break;
	default: return 0;
	}
	uint32_t k = b->tag ? mp_tag_bucket(b->tag) + 1 : 0;   /* bucket + 1, 0: none */
	k = k <= agg_buckets ? k : 0;
	uint64_t bytes = b->size;
	if (k && k - 1 < nbucket_recs)
		bytes = bucket_recs[k - 1].size;
	else
		k = 0;
	aggs[(size_t)k * NCAT + cat - 1].count++;
	aggs[(size_t)k * NCAT + cat - 1].bytes += bytes;
	return 0;
}

static uintptr_t stopped_sps[MP_STOP_MAX + 1];

/* An ignored block (ignore.h) is a root: reached, and its words scanned. */
static void ignored_root(uintptr_t start, void *ctx)
{
	struct mp_blk b;
	(void)ctx;
	if (mp_alloc_leak_lookup(start, &b) && b.start == start &&
	    *b.state != MP_BLK_REACHABLE) {
		*b.state = MP_BLK_REACHABLE;
		push(b.start, extent(&b), b.state);
	}
}

/* With every other thread stopped: whether none holds a lock of the
 * allocator (metadata, page heap, central lists), so its lists are whole.
 * Blocks between lists then hang from a root (a batch in a register or on
 * a stack, its blocks linked; a new large block's address is in a register
 * before the page heap's lock goes), never only from metadata.
 * Locks are tried, never waited for, and released at once: the holders
 * are stopped, so no thread can take one before they run again. */
static int allocator_quiet(void)
{
	if (mp_meta_trylock() < 0)
		return 0;
	mp_meta_unlock();
	if (pthread_mutex_trylock(&mp_heap.lock) != 0)
		return 0;
	pthread_mutex_unlock(&mp_heap.lock);
	if (mp_central_trylock_all() < 0)
		return 0;
	mp_central_unlock_all();
	return 1;
}

static int run(uintptr_t caller_sp, const uintptr_t *caller_regs, unsigned n, pid_t skip_tid,
	       int live);

int mp_leakscan_run(uintptr_t caller_sp, const uintptr_t *caller_regs, unsigned n,
		    pid_t skip_tid)
{
	return run(caller_sp, caller_regs, n, skip_tid, 0);
}

int mp_leakscan_run_live(uintptr_t caller_sp, const uintptr_t *caller_regs, unsigned n,
			 pid_t skip_tid, uint64_t *ret_definite)
{
	int r = run(caller_sp, caller_regs, n, skip_tid, 1);
	if (r < 0)
		return r;
	uint64_t sum = 0;
	for (size_t i = 0; i < nresult; i++)
		if (result[i].category == MP_LEAK_DEFINITE)
			sum += result[i].bytes;
	*ret_definite = sum;
	return 0;
}

static int run(uintptr_t caller_sp, const uintptr_t *caller_regs, unsigned n, pid_t skip_tid,
	       int live)
{
	if (!mp_heap.base)
		return -ENOTSUP;
	if (!work) {
		if (mp_vm_area_init(&work_area, WORK_MAX) < 0)
			return -ENOMEM;
		work = (struct work *)work_area.base;
	}
	nwork = 0;
	work_overflow = 0;
	scanned_bytes = 0;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);

	struct mp_stopped *th;
	unsigned nth = mp_stopworld_stop(skip_tid, &th);
	/* While the program runs on, a stopped thread may hold a lock the
	 * scan needs: let them go and try again a little later. */
	for (unsigned tries = 0; live && !allocator_quiet(); tries++) {
		mp_stopworld_resume();
		if (tries == 1000)
			return -EBUSY;
		struct timespec ts = { 0, 100000 };
		nanosleep(&ts, NULL);
		nth = mp_stopworld_stop(skip_tid, &th);
	}
	int r = mp_alloc_leak_begin();
	if (r < 0)
		goto out;
	const void *bd;
	size_t bsize;
	mp_prof_buckets(&bd, &bsize);
	bucket_recs = bd;
	nbucket_recs = bsize / sizeof(struct mp_snap_heap_rec);
	load_regions();

	/* Roots: registers and thread control blocks of the stopped threads,
	 * every writable mapping (stacks from their stack pointers). */
	unsigned nsps = 0;
	stopped_sps[nsps++] = caller_sp;
	for (unsigned i = 0; i < nth; i++) {
		if (__atomic_load_n(&th[i].stopped, __ATOMIC_ACQUIRE) != 1)
			continue;
		stopped_sps[nsps++] = th[i].sp;
		/* Our copies, in our own memory: scanned directly, not as
		 * root ranges (which skip memprof's memory). */
		scan_reach((uintptr_t)th[i].regs, (uintptr_t)(th[i].regs + NGREG), 1);
		uintptr_t tp = th[i].tp;
		scan_reach((uintptr_t)&tp, (uintptr_t)(&tp + 1), 1);
	}
	uintptr_t self_tp;
	__asm__ volatile("mov %%fs:0, %0" : "=r"(self_tp));
	scan_reach((uintptr_t)&self_tp, (uintptr_t)(&self_tp + 1), 1);
	scan_reach((uintptr_t)caller_regs, (uintptr_t)(caller_regs + n), 1);
	scan_maps(stopped_sps, nsps);
	mp_leakscan_foreach_ignored(ignored_root, NULL);
	drain_reach();
	nregions = 0;   /* the heuristics are done with them */
	mp_vm_area_trim(&region_area, 0);

	/* Lost blocks: leaders and their cliques. */
	mp_alloc_leak_foreach(classify, NULL);

	/* Aggregate by bucket (requested sizes come from the bucket). */
	agg_buckets = (uint32_t)nbucket_recs;
	size_t agg_bytes = ((size_t)agg_buckets + 1) * NCAT * sizeof(struct agg);
	aggs = mp_vm_reserve(agg_bytes);
	if (!aggs) {
		r = -ENOMEM;
		goto out_end;
	}
	mp_alloc_leak_foreach(aggregate, NULL);

	size_t need = 0;
	for (size_t i = 0; i < ((size_t)agg_buckets + 1) * NCAT; i++)
		need += aggs[i].count != 0;
	if (result)
		mp_vm_release(result, result_cap * sizeof(*result));
	result_cap = need ? need : 1;
	result = mp_vm_reserve(result_cap * sizeof(*result));
	nresult = 0;
	if (!result) {
		r = -ENOMEM;
		goto out_aggs;
	}
	for (size_t k = 0; k <= agg_buckets; k++)
		for (unsigned cat = 0; cat < NCAT; cat++) {
			const struct agg *a = &aggs[k * NCAT + cat];
			if (!a->count)
				continue;
			struct mp_snap_leak_rec *o = &result[nresult++];
			o->stack_id = k ? bucket_recs[k - 1].stack_id : 0;
			o->category = cat + 1;
			o->size = k ? bucket_recs[k - 1].size : 0;
			o->count = a->count;
			o->bytes = a->bytes;
		}
out_aggs:
	mp_vm_release(aggs, agg_bytes);
	aggs = NULL;
out_end:
	mp_alloc_leak_end();
out:
	mp_stopworld_resume();
	clock_gettime(CLOCK_MONOTONIC, &t1);
	scan_ns = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000u + (uint64_t)t1.tv_nsec -
		  (uint64_t)t0.tv_nsec;
	return r < 0 ? r : (work_overflow ? -ENOSPC : 0);
}

void mp_leakscan_timing(uint64_t *ret_bytes, uint64_t *ret_ns)
{
	*ret_bytes = scanned_bytes;
	*ret_ns = scan_ns;
}

void mp_leakscan_records(const void **ret_data, size_t *ret_size)
{
	*ret_data = result;
	*ret_size = result ? nresult * sizeof(*result) : 0;
}

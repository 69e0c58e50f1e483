/* SPDX-License-Identifier: MIT */
/*
 * Raw snapshot -> pprof heap profile (see convert.h).
 *
 * The shape is Go's runtime/pprof heap profile (writeHeapProto in
 * protomem.go): sample types alloc_objects/count, alloc_space/bytes,
 * inuse_objects/count, inuse_space/bytes (no default_sample_type, so pprof
 * shows the last, inuse_space); period type space/bytes with period = rate;
 * per sample a numeric label "bytes" = the block size (when not 0).  Heap
 * records whose four values are all zero are left out.
 *
 * Every pc of a stack is a return address, so the location address is
 * pc - 1, inside the call instruction, for every frame (pc 0, a broken
 * frame, stays 0).  Mappings are the executable mappings of the process's
 * maps (like Go's), the executable's first (pprof takes the first mapping
 * as the main binary), the rest by address.  A position-independent
 * executable's mapping and locations are given at the ELF's own (link-time)
 * addresses (linkaddr.c: pprof's source and disassembly views look
 * addresses up as they are).  has_functions is true only when every
 * location in the mapping has a function name, as Go's profileBuilder
 * decides it; has_filenames, has_line_numbers and has_inline_frames when
 * the mapping's locations carry that information (some of them: pprof's
 * own symbolizer sets them so); a mapping with no location has none.
 *
 * time_nanos is when the snapshot was taken (Go: when the profile was
 * written), duration_nanos the time since profiling started.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/errmsg.h"
#include "common/file-write.h"
#include "common/grow.h"
#include "common/human.h"
#include "common/snapshot-read.h"
#include "convert/convert.h"
#include "convert/linkaddr.h"
#include "pprof/keymap.h"
#include "pprof/pprof.h"
#include "symbolize/symbolize.h"

/* ---- values ------------------------------------------------------------------- */

static int64_t to_int64(double v)
{
	/* 2^63 is exactly representable; anything at or above it is clamped
	 * (converting it would be undefined behaviour). */
	if (!(v < 9223372036854775808.0))
		return INT64_MAX;
	return v > 0 ? (int64_t)v : 0;
}

void mp_convert_scale_heap(uint64_t objects, uint64_t bytes, uint64_t rate,
			   int64_t *ret_objects, int64_t *ret_bytes)
{
	double avg, scale;

	if (objects == 0) {
		*ret_objects = *ret_bytes = 0;
		return;
	}
	if (bytes == 0 || rate <= 1) {
		*ret_objects = objects > INT64_MAX ? INT64_MAX : (int64_t)objects;
		*ret_bytes = bytes > INT64_MAX ? INT64_MAX : (int64_t)bytes;
		return;
	}
	/* The same operations, in the same order, as scaleHeapSample. */
	avg = (double)bytes / (double)objects;
	scale = 1 / (1 - exp(-avg / (double)rate));
	*ret_objects = to_int64((double)objects * scale);
	*ret_bytes = to_int64((double)bytes * scale);
}

/* The four values of a heap record; false when they are all zero. */
static bool record_values(const struct mp_snap_heap_rec *h, uint64_t rate, int64_t v[4])
{
	uint64_t inuse = h->alloc_objects - h->free_objects;   /* reader checked free <= alloc */

	/* The reader checked that size * alloc_objects fits in int64_t. */
	mp_convert_scale_heap(h->alloc_objects, h->alloc_objects * h->size, rate, &v[0], &v[1]);
	mp_convert_scale_heap(inuse, inuse * h->size, rate, &v[2], &v[3]);
	return v[0] || v[1] || v[2] || v[3];
}

/* ---- mappings ------------------------------------------------------------------ */

struct mapstat {
	size_t nlocs;               /* distinct addresses in the mapping */
	size_t nfunc, nfile, nline, ninline;   /* of those, how many have it */
	uint64_t id;                /* pprof mapping id */
	uint64_t bias;              /* run-time minus link-time address: a PIE's
				     * load bias, else 0 (linkaddr.h) */
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* The address a frame's location is symbolized at: the call's, inside it.
 * Never UINT64_MAX, the one key an mp_u64map cannot hold. */
static uint64_t location_address(uint64_t pc)
{
	return pc ? pc - 1 : 0;
}

enum { IN_HEAP = 1 };

/*
 * The slot in `set` (complete: slots move while it grows) of every frame's
 * address, by the frame's index in snap->pcs: the profiles name 820,000
 * frames each (a compile's 43,000 heap records) with 250,000 stacks'
 * frames, and an array read costs less than a probe of the set.
 * (A snapshot of at most 4 GiB has fewer than 2^29 frames: a slot fits
 * in 32 bits.)
 */
static int frame_slots(const struct mp_snap *snap, const struct mp_u64map *set,
		       uint32_t **ret)
{
	size_t n = 0;
	uint32_t *slot;

	for (uint32_t id = 1; id <= snap->nstacks; id++) {
		const struct mp_snap_stack *stk = mp_snap_stack(snap, id);
		size_t end = (size_t)(stk->pcs - snap->pcs) + stk->depth;

		n = end > n ? end : n;
	}
	slot = malloc((n + 1) * sizeof(*slot));
	if (!slot)
		return -ENOMEM;
	for (uint32_t id = 1; id <= snap->nstacks; id++) {
		const struct mp_snap_stack *stk = mp_snap_stack(snap, id);
		uint32_t *to = slot + (stk->pcs - snap->pcs);

		for (uint32_t j = 0; j < stk->depth; j++)
			to[j] = (uint32_t)mp_u64map_find(set, location_address(stk->pcs[j]));
	}
	*ret = slot;
	return 0;
}

/*
 * Symbolize every distinct address of every stack of the snapshot (the
 * heap profile's, and those the resource profiles and the leak report
 * will ask for), all at once, and count, per mapping, what the heap
 * samples' locations have.  Each stack is read once: heap records share
 * stacks, and a list of every frame of every record (a compile's snapshot
 * has a million) would cost more memory than the symbolization itself.
 * The set of addresses stays in *set (the caller's, also on failure): the
 * profiles key their location ids by its slots.
 */
static int survey(const struct mp_snap *snap, struct mp_symbolizer *sym, struct mapstat *st,
		  struct mp_u64map *set, uint32_t **ret_frame_slot)
{
	uint8_t *heap_stack = calloc((size_t)snap->nstacks + 1, 1);
	uint64_t *addrs = NULL;
	size_t n = 0;
	int r = 0;

	if (!heap_stack)
		return -ENOMEM;
	for (size_t i = 0; i < snap->nheap; i++) {
		int64_t v[4];

		if (record_values(&snap->heap[i], snap->header.rate, v))
			heap_stack[snap->heap[i].stack_id] = IN_HEAP;
	}
	for (uint32_t id = 1; id <= snap->nstacks && r >= 0; id++) {
		const struct mp_snap_stack *stk = mp_snap_stack(snap, id);

		for (uint32_t j = 0; j < stk->depth && r >= 0; j++) {
			size_t slot;

			r = mp_u64map_add(set, location_address(stk->pcs[j]), &slot);
			if (r >= 0)
				set->vals[slot] |= heap_stack[id];
		}
	}
	free(heap_stack);
	if (r >= 0)
		r = frame_slots(snap, set, ret_frame_slot);
	if (r >= 0 && !(addrs = malloc((set->n + 1) * sizeof(*addrs))))
		r = -ENOMEM;
	if (r < 0)
		return r;
	for (size_t i = 0; i < mp_u64map_nslots(set); i++)
		n += mp_u64map_key_at(set, i, &addrs[n]);
	if (n)
		qsort(addrs, n, sizeof(*addrs), cmp_u64);
	/* All of them at once, on all cores; the loop below then looks up. */
	r = mp_symbolizer_prepare(sym, addrs, n);
	for (size_t i = 0; i < n && r == 0; i++) {
		struct mp_sym_result res;
		struct mapstat *m;
		bool file = true, line = true;

		/* Only the heap samples' locations count. */
		if (!(set->vals[mp_u64map_find(set, addrs[i])] & IN_HEAP))
			continue;
		r = mp_symbolize(sym, addrs[i], &res);
		if (r < 0 || !res.mapping)
			continue;
		m = &st[res.mapping_index];
		m->nlocs++;
		for (size_t k = 0; k < res.nframes; k++) {
			file = file && res.frames[k].file;
			line = line && res.frames[k].line > 0;
		}
		if (res.nframes) {
			m->nfunc++;
			m->nfile += file;
			m->nline += line;
		}
		/* (a location without frames has neither file nor line) */
		m->ninline += res.source == MP_SYM_DWARF;
	}
	free(addrs);
	return r;
}

/* The mappings' pprof ids, once for every profile of the converter: the
 * executable's mappings first (pprof takes the first as the main binary),
 * then the others by address.  order[k] is the mapping of id k + 1. */
static void number_mappings(const struct mp_snap *snap, struct mp_symbolizer *sym,
			    struct mapstat *st, size_t *order)
{
	size_t n = mp_symbolizer_nmappings(sym), k = 0;

	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n; i++) {
			const struct mp_sym_mapping *m = mp_symbolizer_mapping(sym, i);
			bool is_exe = snap->exe[0] && strcmp(m->path, snap->exe) == 0;

			if (is_exe != (pass == 0))
				continue;
			order[k] = i;
			st[i].id = ++k;
		}
	}
}

/* Reads st only: profiles of one converter may be built at once. */
static void add_mappings(struct mp_pprof_builder *b, struct mp_symbolizer *sym,
			 const struct mapstat *st, const size_t *order)
{
	size_t n = mp_symbolizer_nmappings(sym);

	for (size_t k = 0; k < n; k++) {
		const struct mp_sym_mapping *m = mp_symbolizer_mapping(sym, order[k]);
		const struct mapstat *s = &st[order[k]];
		bool all = s->nlocs > 0;
		uint64_t id;

		id = mp_pprof_add_mapping(b, m->start - s->bias, m->limit - s->bias, m->offset,
					  m->path, m->build_id, all && s->nfunc == s->nlocs,
					  s->nfile > 0, s->nline > 0, s->ninline > 0);
		assert(id == s->id);
		(void)id;
	}
}

/* ---- samples --------------------------------------------------------------------- */

/*
 * What the samples of one profile need to name their stacks: a location id
 * per address slot of the converter's set, 0 until the address is first
 * met.  A compile's snapshot has 40,000 heap records over 12,000 stacks and
 * 800,000 frames, of 7,000 addresses: each address is symbolized and
 * named (mp_frame_offset_name) once per profile, and its other frames
 * cost two array reads (frame_slot, ids).  The profile is the same:
 * mp_pprof_add_location answers a known (mapping, address) with its id
 * and changes nothing.
 */
struct locs_ctx {
	struct mp_pprof_builder *b;
	struct mp_symbolizer *sym;
	pthread_mutex_t *sym_lock;  /* the converter's: held around mp_symbolize */
	const struct mapstat *st;
	const uint64_t *pcs;        /* the snapshot's */
	const uint32_t *frame_slot; /* frame_slots() */
	uint64_t *ids;              /* a location id per slot of the set */
	struct mp_pprof_line *lines;   /* scratch */
	size_t cap_lines;
};

/* The location of address `addr` (symbolized, inlined frames as lines). */
static int address_location(struct locs_ctx *x, uint64_t addr, uint64_t *ret)
{
	struct mp_sym_result res;
	char unnamed[MP_FRAME_NAME_MAX];
	size_t nlines;
	int r;

	/* Two profiles of one converter may be built at once (mp_converter_ahead):
	 * the symbolizer is not thread-safe, but its answers stay valid until it
	 * is freed, so only the lookup itself takes turns. */
	pthread_mutex_lock(x->sym_lock);
	r = mp_symbolize(x->sym, addr, &res);
	pthread_mutex_unlock(x->sym_lock);
	if (r < 0)
		return r;
	if (MP_GROW(x->lines, res.nframes + 1, x->cap_lines) < 0)
		return -ENOMEM;
	for (size_t k = 0; k < res.nframes; k++) {
		x->lines[k] = (struct mp_pprof_line){
			.function = res.frames[k].function,
			.system_name = res.frames[k].system_name,
			.file = res.frames[k].file,
			.line = res.frames[k].line,
			.start_line = res.frames[k].start_line,
		};
	}
	nlines = res.nframes;
	if (nlines == 0 && res.mapping && res.mapping->path[0]) {
		/* No symbol: named by object and file offset, the same in
		 * every run (the mapping's has_functions stays false: survey()
		 * counts real names only). */
		mp_frame_offset_name(res.mapping->path, addr, res.mapping->start,
				     res.mapping->offset, unnamed, sizeof(unnamed));
		x->lines[0] = (struct mp_pprof_line){ .function = unnamed };
		nlines = 1;
	}
	*ret = mp_pprof_add_location(x->b, res.mapping ? x->st[res.mapping_index].id : 0,
				     res.mapping ? addr - x->st[res.mapping_index].bias : addr,
				     x->lines, nlines);
	return 0;
}

/* The locations of stack `stk` into locs[0..stk->depth). */
static int stack_locations(struct locs_ctx *x, const struct mp_snap_stack *stk, uint64_t *locs)
{
	const uint32_t *slot = x->frame_slot + (stk->pcs - x->pcs);

	for (uint32_t j = 0; j < stk->depth; j++) {
		uint64_t *id = &x->ids[slot[j]];
		int r;

		if (*id) {
			locs[j] = *id;
			continue;
		}
		r = address_location(x, location_address(stk->pcs[j]), &locs[j]);
		if (r < 0)
			return r;
		*id = locs[j];
	}
	return 0;
}

/*
 * A record's samples split by lifetime (MP_SNAP_LIFETIMES): one per class
 * its freed blocks fall in, allocations only, labelled with the class; one
 * for the blocks still in use (their allocations and the in-use values),
 * labelled MP_LIFE_INUSE; one for freed blocks of no known lifetime.  The
 * unbiased values of the parts are differences of the whole's scaled at
 * running sums, so they add up to exactly the record's unsplit values.
 */
static void add_life_samples(struct mp_pprof_builder *b, const struct mp_snap_heap_rec *h,
			     const struct mp_snap_life_rec *life, uint64_t rate, const int64_t v[4],
			     const uint64_t *locs, uint32_t depth)
{
	struct mp_pprof_label labels[2] = {
		{ .key = MP_LIFE_LABEL },
		{ .key = "bytes", .num = (int64_t)h->size },
	};
	size_t nl = h->size ? 2 : 1;
	uint64_t freed = 0, cum = 0;
	int64_t prev[2] = { 0, 0 };

	for (int k = 0; k < MP_SNAP_LIFE_CLASSES; k++)
		freed += life->freed[k];
	/* Parts in order: the classes, the unknown frees, the blocks in use. */
	for (int k = 0; k <= MP_SNAP_LIFE_CLASSES + 1; k++) {
		uint64_t n = k < MP_SNAP_LIFE_CLASSES ? life->freed[k]
			     : k == MP_SNAP_LIFE_CLASSES ? h->free_objects - freed
							 : h->alloc_objects - h->free_objects;
		int64_t s[4] = { 0, 0, 0, 0 };

		if (n == 0)
			continue;
		cum += n;
		mp_convert_scale_heap(cum, cum * h->size, rate, &s[0], &s[1]);
		int64_t part[4] = { s[0] - prev[0], s[1] - prev[1], 0, 0 };
		prev[0] = s[0];
		prev[1] = s[1];
		if (k == MP_SNAP_LIFE_CLASSES + 1) {
			part[2] = v[2];
			part[3] = v[3];
		}
		labels[0].str = k == MP_SNAP_LIFE_CLASSES + 1 ? MP_LIFE_INUSE : mp_snap_life_name(k);
		if (part[0] || part[1] || part[2] || part[3])
			mp_pprof_add_sample(b, locs, depth, part, 4, labels, nl);
	}
}

/* recs: the heap records (the snapshot's, or the peak's); life: NULL, or
 * their lifetimes; inuse_bytes: NULL, or each record's in-use bytes
 * (mp_converter_set_inuse_bytes). */
static int add_samples(struct locs_ctx *x, const struct mp_snap *snap,
		       const struct mp_snap_heap_rec *recs, const struct mp_snap_life_rec *life,
		       const uint64_t *inuse_bytes)
{
	struct mp_pprof_builder *b = x->b;
	uint64_t locs[MP_SNAP_MAX_DEPTH];
	int r = 0;

	for (size_t i = 0; i < snap->nheap && r == 0; i++) {
		const struct mp_snap_heap_rec *h = &recs[i];
		const struct mp_snap_stack *stk = mp_snap_stack(snap, h->stack_id);
		struct mp_pprof_label label = { .key = "bytes", .num = (int64_t)h->size };
		int64_t v[4];

		if (!record_values(h, snap->header.rate, v))
			continue;
		if (inuse_bytes)
			v[3] = inuse_bytes[i] > INT64_MAX ? INT64_MAX : (int64_t)inuse_bytes[i];
		r = stack_locations(x, stk, locs);
		if (r == 0 && life)
			add_life_samples(b, h, &life[i], snap->header.rate, v, locs, stk->depth);
		else if (r == 0)
			mp_pprof_add_sample(b, locs, stk->depth, v, 4, &label, h->size ? 1 : 0);
	}
	return r;
}

static const char *const fd_kinds[MP_FD_KINDS] = {
	"other", "file", "dir", "socket", "pipe", "eventfd", "epoll", "timerfd", "signalfd",
	"inotify", "memfd",
};

/* One sample per live descriptor (value 1), labels kind, fd and the
 * detail (path of a file, family and type of a socket...). */
static int add_res_samples(struct locs_ctx *x, const struct mp_snap *snap, uint32_t res_class)
{
	struct mp_pprof_builder *b = x->b;
	uint64_t locs[MP_SNAP_MAX_DEPTH];
	int r = 0;

	for (size_t i = 0; i < snap->nres && r == 0; i++) {
		const struct mp_snap_res_rec *rr = &snap->res[i];
		const struct mp_snap_stack *stk = rr->stack_id ? mp_snap_stack(snap, rr->stack_id) : NULL;
		struct mp_pprof_label labels[5];
		char thread_name[sizeof(rr->detail)];
		size_t nl = 0;
		int64_t one = 1;

		if (rr->res_class != res_class)
			continue;
		if (res_class == MP_RES_TIMER) {
			labels[nl++] = (struct mp_pprof_label){
				.key = "state", .str = rr->kind == MP_TIMER_ARMED ? "armed" : "disarmed" };
			labels[nl++] = (struct mp_pprof_label){ .key = "clock", .str = rr->detail };
		} else if (res_class == MP_RES_THREAD) {
			labels[nl++] = (struct mp_pprof_label){
				.key = "state",
				.str = rr->kind == MP_THREAD_RUNNING ? "running"
				       : rr->kind == MP_THREAD_EXITED ? "ended during attach"
								       : "ended, not joined" };
			labels[nl++] = (struct mp_pprof_label){ .key = "tid", .num = rr->id };
			/* detail: "name routine", the routine after the last space */
			const char *sp = strrchr(rr->detail, ' ');
			size_t name_len = sp ? (size_t)(sp - rr->detail) : strlen(rr->detail);
			if (name_len) {
				snprintf(thread_name, sizeof(thread_name), "%.*s", (int)name_len,
					 rr->detail);
				labels[nl++] = (struct mp_pprof_label){ .key = "thread", .str = thread_name };
			}
			if (sp && sp[1])
				labels[nl++] = (struct mp_pprof_label){ .key = "start", .str = sp + 1 };
		} else {
			labels[nl++] = (struct mp_pprof_label){ .key = "kind", .str = fd_kinds[rr->kind] };
			labels[nl++] = (struct mp_pprof_label){ .key = "fd", .num = rr->id };
			if (rr->detail[0])
				labels[nl++] = (struct mp_pprof_label){
					.key = rr->kind == MP_FD_FILE || rr->kind == MP_FD_DIR ? "path"
												  : "detail",
					.str = rr->detail };
		}
		if (rr->flags & MP_RES_F_INHERITED)
			labels[nl++] = (struct mp_pprof_label){ .key = "inherited", .str = "true" };
		uint32_t depth = 1;
		if (stk) {
			r = stack_locations(x, stk, locs);
			depth = stk->depth;
		} else {
			/* No creation stack: one synthetic frame says why, so the
			 * descriptor shows in every report (pprof drops samples
			 * without locations from some). */
			struct mp_pprof_line ln = {
				.function = rr->flags & MP_RES_F_INHERITED ? "[inherited]"
					    : rr->flags & MP_RES_F_BEFORE_ATTACH ? "[before attach]"
										 : "[unrecorded]",
			};
			locs[0] = mp_pprof_add_location(b, 0, 0, &ln, 1);
		}
		if (r == 0)
			mp_pprof_add_sample(b, locs, depth, &one, 1, labels, nl);
	}
	return r;
}

/* ---- the profile ------------------------------------------------------------------ */


struct mp_converter {
	const struct mp_snap *snap;
	struct mp_symbolizer *sym;
	struct mapstat *st;
	size_t *order;              /* number_mappings() */
	pthread_mutex_t sym_lock;   /* held around mp_symbolize (address_location) */
	struct mp_u64map addrs;     /* every frame's address, its value
				     * IN_HEAP or 0 (survey()) */
	uint32_t *frame_slot;       /* each frame's slot in addrs (frame_slots()) */
	char **comments;            /* mp_converter_add_comment */
	size_t ncomments, cap_comments;
	const uint64_t *inuse_bytes;   /* mp_converter_set_inuse_bytes */
};

void mp_converter_set_inuse_bytes(struct mp_converter *c, const uint64_t *inuse_bytes)
{
	c->inuse_bytes = c->snap->header.rate <= 1 ? inuse_bytes : NULL;
}

int mp_converter_add_comment(struct mp_converter *c, const char *text)
{
	if (MP_GROW(c->comments, c->ncomments + 1, c->cap_comments) < 0)
		return -ENOMEM;
	c->comments[c->ncomments] = strdup(text);
	if (!c->comments[c->ncomments])
		return -ENOMEM;
	c->ncomments++;
	return 0;
}

int mp_converter_new(const struct mp_snap *snap, unsigned flags, struct mp_symbolizer *sym,
		     struct mp_converter **ret)
{
	struct mp_converter *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	c->snap = snap;
	pthread_mutex_init(&c->sym_lock, NULL);
	r = mp_symbolizer_new_from(snap->maps, snap->maps_len,
				   flags & MP_CONVERT_F_NO_FILES ? MP_SYM_F_NO_FILES : 0, sym, &c->sym);
	if (r < 0) {
		pthread_mutex_destroy(&c->sym_lock);
		free(c);
		return r;
	}
	c->st = calloc(mp_symbolizer_nmappings(c->sym) + 1, sizeof(*c->st));
	c->order = calloc(mp_symbolizer_nmappings(c->sym) + 1, sizeof(*c->order));
	r = c->st && c->order ? survey(snap, c->sym, c->st, &c->addrs, &c->frame_slot)
				 : -ENOMEM;
	if (r == 0)
		number_mappings(snap, c->sym, c->st, c->order);
	/* The executable's load bias, when it is position-independent and the
	 * file is the one the process ran (the symbolizer checked it). */
	for (size_t i = 0; r == 0 && i < mp_symbolizer_nmappings(c->sym); i++) {
		const struct mp_sym_mapping *m = mp_symbolizer_mapping(c->sym, i);
		uint64_t bias;

		if (m->has_elf && snap->exe[0] && strcmp(m->path, snap->exe) == 0 &&
		    mp_convert_link_bias(m->path, m->start, m->offset, &bias) == 0)
			c->st[i].bias = bias;
	}
	if (r < 0) {
		mp_converter_free(c);
		return r;
	}
	*ret = c;
	return 0;
}

void mp_converter_free(struct mp_converter *c)
{
	if (!c)
		return;
	free(c->st);
	free(c->order);
	free(c->frame_slot);
	pthread_mutex_destroy(&c->sym_lock);
	mp_u64map_done(&c->addrs);
	for (size_t i = 0; i < c->ncomments; i++)
		free(c->comments[i]);
	free(c->comments);
	mp_symbolizer_free(c->sym);
	free(c);
}

struct mp_symbolizer *mp_converter_symbolizer(struct mp_converter *c)
{
	return c->sym;
}

/*
 * The profile's one comment, which pprof prints above its reports: the
 * program and pid, and for a heap profile the rate, how many samples the
 * estimates rest on and the heap in use, e.g.
 *   "memprof 0.1.0: app (pid 1234), rate 512 KiB, 37 samples, heap in use 12.3 MiB"
 * malloc'd in *ret; 0 or -ENOMEM.
 */
static int profile_comment(const struct mp_snap *snap, enum mp_profile_kind kind, char **ret)
{
	const struct mp_snap_header *h = &snap->header;
	const char *prog = strrchr(snap->exe, '/');
	char *buf = NULL, num[32];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return -ENOMEM;
	prog = prog ? prog + 1 : snap->exe;
	fprintf(f, "memprof %s: %s (pid %" PRIu64 ")", MP_VERSION, *prog ? prog : "?", h->pid);
	if (snap->name[0])
		fprintf(f, ", snapshot '%s'", snap->name);
	if (kind == MP_PROFILE_HEAP || kind == MP_PROFILE_PEAK) {
		uint64_t samples = 0, heap = 0;
		bool have_heap = false;

		for (size_t i = 0; i < snap->nheap; i++)
			samples += snap->heap[i].alloc_objects;
		if (kind == MP_PROFILE_PEAK) {
			/* When and how high: the peak of the sampled estimate. */
			time_t sec = (time_t)(snap->peak.time_ns / 1000000000u);
			struct tm tm;
			char when[32] = "?";

			if (snap->peak.time_ns && gmtime_r(&sec, &tm))
				strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
			mp_human_bytes(snap->peak.inuse, num, sizeof(num));
			if (!snap->peak.time_ns)
				fputs(", no peak (nothing sampled in use)", f);
			else
				fprintf(f, ", peak heap in use %s at %s.%03uZ", num, when,
					(unsigned)(snap->peak.time_ns / 1000000u % 1000u));
			if (snap->peak.time_ns && snap->peak.time_ns >= h->start_ns)
				fprintf(f, " (%.3f s after start)",
					(double)(snap->peak.time_ns - h->start_ns) / 1e9);
			else if (snap->peak.time_ns)
				fputs(" (before start: in the parent, before fork)", f);
		}
		for (size_t i = 0; i < snap->nstats; i++)
			if (strcmp(snap->stats[i].name, "HeapAlloc") == 0) {
				heap = snap->stats[i].value;
				have_heap = true;
			}
		if (h->rate == 0) {
			fputs(", sampling off (rate 0)", f);
		} else if (h->rate == 1) {
			fprintf(f, ", rate 1, %" PRIu64 " allocation%s recorded", samples,
				samples == 1 ? "" : "s");
		} else {
			mp_human_bytes(h->rate, num, sizeof(num));
			fprintf(f, ", rate %s, %" PRIu64 " sample%s", num, samples,
				samples == 1 ? "" : "s");
		}
		if (have_heap && kind == MP_PROFILE_HEAP) {
			mp_human_bytes(heap, num, sizeof(num));
			fprintf(f, ", heap in use %s", num);
		}
	}
	if (h->flags & MP_SNAP_F_TRUNCATED)
		fputs("; warning: a profile table filled up, some samples were dropped", f);
	if (snap->has_death) {
		/* Built by memprof run from the tables it shared with the
		 * process, after the process died (common/shm.h). */
		const char *abbrev = snap->death.signal ? sigabbrev_np((int)snap->death.signal) : NULL;
		if (abbrev)
			fprintf(f, "; killed by SIG%s (signal %u)", abbrev, snap->death.signal);
		else if (snap->death.signal)
			fprintf(f, "; killed by signal %u", snap->death.signal);
		else if (snap->death.flags & MP_DEATH_F_EXITED)
			fputs("; exited without writing its profile", f);
		else
			fputs("; ended without writing its profile", f);
		/* At a catchable signal the shim recorded the resources too;
		 * after SIGKILL they are those of the last snapshot. */
		fprintf(f, ": %s read from the tables shared with memprof, "
			"%" PRIu64 " record%s torn by the death skipped",
			snap->death.flags & MP_DEATH_F_AT_SIGNAL
				? "state at death"
				: "heap at death (descriptors, threads, timers as last recorded)",
			snap->death.torn, snap->death.torn == 1 ? "" : "s");
	}
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	*ret = buf;
	return 0;
}

static int build_kind(struct mp_converter *c, enum mp_profile_kind kind,
		      struct mp_pprof_builder **ret)
{
	const struct mp_snap *snap = c->snap;
	const struct mp_snap_header *h = &snap->header;
	struct mp_pprof_builder *b;
	char *comment = NULL;
	int r;

	bool heapish = kind == MP_PROFILE_HEAP || kind == MP_PROFILE_PEAK;

	if (kind == MP_PROFILE_PEAK && !snap->has_peak)
		return -ENODATA;   /* a snapshot of a shim that did not follow the peak */
	b = mp_pprof_builder_new();
	mp_pprof_builder_stream(b);   /* compressed while built: it is to be written */
	if (!heapish) {
		/* Shaped like Go's goroutine profile: a count, period 1. */
		const char *what = mp_profile_kinds[kind].name;
		mp_pprof_set_period(b, what, "count", 1);
		mp_pprof_add_sample_type(b, what, "count");
	} else {
		mp_pprof_set_period(b, "space", "bytes", (int64_t)h->rate);
		mp_pprof_add_sample_type(b, "alloc_objects", "count");
		mp_pprof_add_sample_type(b, "alloc_space", "bytes");
		mp_pprof_add_sample_type(b, "inuse_objects", "count");
		mp_pprof_add_sample_type(b, "inuse_space", "bytes");
	}
	uint64_t at = kind == MP_PROFILE_PEAK && snap->peak.time_ns ? snap->peak.time_ns : h->end_ns;
	mp_pprof_set_time(b, (int64_t)at, at >= h->start_ns ? (int64_t)(at - h->start_ns) : 0);
	r = profile_comment(snap, kind, &comment);
	/* What a front end adds (memprof attach says what its counts cover)
	 * goes on the same line: a profile has one comment. */
	for (size_t i = 0; r == 0 && i < c->ncomments; i++) {
		char *longer = NULL;

		if (asprintf(&longer, "%s; %s", comment, c->comments[i]) < 0) {
			r = -ENOMEM;
			break;
		}
		free(comment);
		comment = longer;
	}
	if (r < 0) {
		free(comment);
		mp_pprof_builder_free(b);
		return r;
	}
	mp_pprof_add_comment(b, comment);
	free(comment);
	/* The statistics go to memprof's own field of the heap profile, where
	 * `memprof stats` and the timeline read them, not to comments (pprof
	 * shows every comment above its reports: 40 lines of BySize.N.Mallocs). */
	for (size_t i = 0; kind == MP_PROFILE_HEAP && i < snap->nstats; i++)
		mp_pprof_add_stat(b, snap->stats[i].name,
				  snap->stats[i].value > INT64_MAX ? INT64_MAX
								   : (int64_t)snap->stats[i].value);
	add_mappings(b, c->sym, c->st, c->order);
	struct locs_ctx x = { .b = b, .sym = c->sym, .sym_lock = &c->sym_lock, .st = c->st,
			      .pcs = snap->pcs, .frame_slot = c->frame_slot,
			      .ids = calloc(mp_u64map_nslots(&c->addrs) + 1, sizeof(*x.ids)) };
	/* (+ 1: a snapshot without stacks has no slots, and calloc(0) may be NULL) */
	if (!x.ids)
		r = -ENOMEM;
	else if (kind == MP_PROFILE_PEAK)
		r = add_samples(&x, snap, snap->peak_heap, NULL, NULL);
	else if (kind == MP_PROFILE_HEAP)
		r = add_samples(&x, snap, snap->heap, snap->life, c->inuse_bytes);
	else
		r = add_res_samples(&x, snap, mp_profile_kinds[kind].res_class);
	free(x.ids);
	free(x.lines);
	if (r < 0) {
		mp_pprof_builder_free(b);
		return r;
	}
	*ret = b;
	return 0;
}

/* One profile built and gzip'd into *ret_buf (malloc'd): 0 or a negative errno. */
static int encode_kind(struct mp_converter *c, enum mp_profile_kind kind, uint8_t **ret_buf,
		       size_t *ret_len)
{
	struct mp_pprof_builder *b = NULL;
	int r = build_kind(c, kind, &b);

	if (r == 0)
		r = mp_pprof_encode(b, ret_buf, ret_len);
	mp_pprof_builder_free(b);
	return r;
}

/* r, with mp_converter_write's message when it is an error. */
static int write_result(enum mp_profile_kind kind, const char *out, int r, char **ret_err)
{
	if (r < 0)
		mp_set_err(ret_err, "cannot write %s profile '%s': %s", mp_profile_kinds[kind].noun, out,
			   strerror(-r));
	return r;
}

int mp_converter_write(struct mp_converter *c, enum mp_profile_kind kind, const char *out,
		       char **ret_err)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	if (ret_err)
		*ret_err = NULL;
	r = encode_kind(c, kind, &buf, &len);
	if (r == 0)
		r = mp_file_write_whole(out, buf, len);
	free(buf);
	return write_result(kind, out, r, ret_err);
}

int mp_converter_encode(struct mp_converter *c, enum mp_profile_kind kind, uint8_t **ret_buf,
			size_t *ret_len, char **ret_err)
{
	int r;

	if (ret_err)
		*ret_err = NULL;
	r = encode_kind(c, kind, ret_buf, ret_len);
	if (r < 0)
		mp_set_err(ret_err, "cannot encode %s profile: %s", mp_profile_kinds[kind].noun, strerror(-r));
	return r;
}

/* ---- profiles built ahead ------------------------------------------------------------ */

struct ahead_slot {
	enum mp_profile_kind kind;
	const char *out;
	uint8_t *buf;               /* the gzip'd profile, once done */
	size_t len;
	int r;                      /* how encoding it went */
	struct mp_file_pending file;   /* its file, all but renamed, when r is 0 */
	bool claimed;               /* (under lock) begun, by the thread or a helper */
	bool done;                  /* (under lock) */
};

struct mp_converter_ahead {
	struct mp_converter *c;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool started;               /* the thread runs; else each is made when asked for */
	bool stop;                  /* (under lock) make no more */
	size_t n;
	struct ahead_slot slots[];
};

/* Slot s's profile encoded and its file prepared. */
static void ahead_make(struct mp_converter *c, struct ahead_slot *s)
{
	s->r = encode_kind(c, s->kind, &s->buf, &s->len);
	if (s->r == 0)
		mp_file_prepare(s->out, s->buf, s->len, &s->file);
}

/* Make the slots no one has begun, in order, until none is left or the
 * ahead is stopped (the thread, and mp_converter_ahead_help's caller). */
static void make_unclaimed(struct mp_converter_ahead *a)
{
	for (;;) {
		struct ahead_slot *s = NULL;

		pthread_mutex_lock(&a->lock);
		for (size_t i = 0; i < a->n && !a->stop && !s; i++)
			if (!a->slots[i].claimed)
				s = &a->slots[i];
		if (s)
			s->claimed = true;
		pthread_mutex_unlock(&a->lock);
		if (!s)
			return;
		ahead_make(a->c, s);
		pthread_mutex_lock(&a->lock);
		s->done = true;
		pthread_cond_broadcast(&a->cond);
		pthread_mutex_unlock(&a->lock);
	}
}

static void *ahead_main(void *arg)
{
	make_unclaimed(arg);
	return NULL;
}

void mp_converter_ahead_help(struct mp_converter_ahead *a)
{
	make_unclaimed(a);
	pthread_mutex_lock(&a->lock);
	for (size_t i = 0; i < a->n; i++)
		while (a->slots[i].claimed && !a->slots[i].done)
			pthread_cond_wait(&a->cond, &a->lock);
	pthread_mutex_unlock(&a->lock);
}

int mp_converter_ahead_start(struct mp_converter *c, const enum mp_profile_kind *kinds,
			     const char *const *outs, size_t n, bool thread,
			     struct mp_converter_ahead **ret)
{
	struct mp_converter_ahead *a = calloc(1, sizeof(*a) + n * sizeof(a->slots[0]));
	sigset_t all, old;

	if (!a)
		return -ENOMEM;
	a->c = c;
	a->n = n;
	for (size_t i = 0; i < n; i++) {
		a->slots[i].kind = kinds[i];
		a->slots[i].out = outs[i];
	}
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->cond, NULL);
	/* The thread takes no signal: they are for the caller's threads.
	 * When no thread can be made (RLIMIT_NPROC, memory), each profile is
	 * made when it is asked for, as mp_converter_write does. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	a->started = thread && n && pthread_create(&a->thread, NULL, ahead_main, a) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	*ret = a;
	return 0;
}

int mp_converter_ahead_write(struct mp_converter_ahead *a, size_t i, char **ret_err)
{
	struct ahead_slot *s = &a->slots[i];
	int r;

	if (ret_err)
		*ret_err = NULL;
	assert(i < a->n);
	pthread_mutex_lock(&a->lock);
	bool mine = !s->claimed;    /* (no thread, or it stopped before it) */
	s->claimed = true;
	while (!mine && !s->done)
		pthread_cond_wait(&a->cond, &a->lock);
	pthread_mutex_unlock(&a->lock);
	if (mine) {
		ahead_make(a->c, s);
		pthread_mutex_lock(&a->lock);
		s->done = true;
		pthread_cond_broadcast(&a->cond);
		pthread_mutex_unlock(&a->lock);
	}
	r = s->r == 0 ? mp_file_commit(&s->file) : s->r;
	free(s->buf);
	s->buf = NULL;
	return write_result(s->kind, s->out, r, ret_err);
}

void mp_converter_ahead_free(struct mp_converter_ahead *a)
{
	if (!a)
		return;
	if (a->started) {
		pthread_mutex_lock(&a->lock);
		a->stop = true;
		pthread_mutex_unlock(&a->lock);
		pthread_join(a->thread, NULL);
	}
	for (size_t i = 0; i < a->n; i++) {
		mp_file_abandon(&a->slots[i].file);   /* (those not written) */
		free(a->slots[i].buf);
	}
	pthread_cond_destroy(&a->cond);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

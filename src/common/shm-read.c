/* SPDX-License-Identifier: MIT */
/*
 * A raw snapshot from a dead process's shared tables (see shm-read.h and
 * common/shm.h).  CLI only.
 *
 * Every table is read through its directory entry, copied once (the
 * memory is untrusted, not concurrently written: the process is gone).
 * What the snapshot parser would refuse is dropped here and counted with
 * the torn records, so the result always parses: a stack record cut short
 * or out of sequence ends the stack table there; heap records of unknown
 * stacks, resource records of unknown class, unloaded records that run
 * past their table are skipped.  Free counts above the allocation counts
 * (a fork child's copy can race with its parent's frees) are capped.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include "common/shm-read.h"
#include "common/snapshot.h"

struct buf {
	uint8_t *p;
	size_t len, cap;
	int oom;
};

static void put(struct buf *b, const void *data, size_t n)
{
	if (b->oom || !n)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n)
			cap *= 2;
		uint8_t *q = realloc(b->p, cap);
		if (!q) {
			b->oom = 1;
			return;
		}
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

static void put_section(struct buf *b, uint32_t type, const void *data, size_t size, uint32_t *n)
{
	static const uint8_t zeros[8];
	struct mp_snap_section s = { .type = type, .size = size };
	put(b, &s, sizeof(s));
	put(b, data, size);
	put(b, zeros, -size & 7);
	(*n)++;
}

static int bad(char **ret_err, const char *fmt, ...)
{
	if (ret_err) {
		va_list ap;
		va_start(ap, fmt);
		if (vasprintf(ret_err, fmt, ap) < 0)
			*ret_err = NULL;
		va_end(ap);
	}
	return -EBADMSG;
}

/*
 * The valid bytes of every table holding `section`, slot order, into *out
 * (each table's fixed records whole, the torn ones skipped and counted).
 */
static void gather(const struct mp_shm_meta *m, const struct mp_shm_view *views, uint32_t section,
		   uint64_t rec_size, struct buf *out, uint64_t *torn)
{
	for (uint32_t slot = 1; slot < MP_SHM_MAX_TABLES; slot++) {
		const struct mp_shm_table *t = &m->tables[slot];
		const struct mp_shm_view *v = &views[slot];
		if (t->section != section || !v->data)
			continue;
		uint64_t off = t->off, used = t->used;
		bool odd = t->seq & 1;
		if (t->rec_size == MP_SHM_REC_SWAP) {
			if (rec_size != 0)
				goto unreadable;
			if (odd) {   /* the new range is whole: take it */
				off = t->torn_off;
				used = t->torn_len;
			}
			odd = false;
		} else if (t->rec_size != rec_size) {
			goto unreadable;
		}
		if (off > v->size || used > v->size - off)
			goto unreadable;
		if (rec_size) {
			uint64_t to = t->torn_off, tl = t->torn_len;
			for (uint64_t r = 0; r + rec_size <= used; r += rec_size) {
				uint64_t at = off + r;
				if (odd && at < to + tl && to < at + rec_size && to + tl >= to) {
					(*torn)++;
					continue;
				}
				put(out, v->data + at, rec_size);
			}
			if (odd && t->torn_off >= off + used)
				(*torn)++;   /* a record being added, not yet counted in */
			continue;
		}
		if (odd) {
			/* Appended only: the record in flight is the last one. */
			if (t->torn_off >= off && t->torn_off - off < used)
				used = t->torn_off - off;
			(*torn)++;
		}
		put(out, v->data + off, used);
		continue;
unreadable:
		(*torn)++;
	}
}

/* Whether some table holds records of `section`. */
static bool has_table(const struct mp_shm_meta *m, const struct mp_shm_view *views,
		      uint32_t section)
{
	for (uint32_t slot = 1; slot < MP_SHM_MAX_TABLES; slot++)
		if (m->tables[slot].section == section && views[slot].data)
			return true;
	return false;
}

/* The stack records' longest well-formed prefix; returns the count. */
static uint32_t check_stacks(struct buf *s, uint32_t max_depth, uint64_t *torn)
{
	size_t off = 0;
	uint32_t n = 0;
	while (s->len - off >= 8) {
		uint32_t rec[2];
		memcpy(rec, s->p + off, sizeof(rec));
		if (rec[0] != n + 1 || rec[1] > max_depth ||
		    (uint64_t)rec[1] * 8 > s->len - off - 8)
			break;
		off += 8 + (size_t)rec[1] * 8;
		n++;
	}
	if (off != s->len) {
		(*torn)++;
		s->len = off;
	}
	return n;
}

/* Records parallel to the heap's: record i is heap record i's. */
struct par {
	struct buf *b;       /* NULL: none */
	size_t size;
};

/*
 * The heap records that are whole, and beside them those of the tables
 * parallel to them (each holds at least as many records: see the caller).
 */
static void check_heap(struct buf *h, const struct par *par, size_t npar, uint32_t nstacks,
		       uint64_t *torn)
{
	size_t w = 0, i = 0;
	for (size_t off = 0; off + sizeof(struct mp_snap_heap_rec) <= h->len;
	     off += sizeof(struct mp_snap_heap_rec), i++) {
		struct mp_snap_heap_rec r;
		uint64_t bytes;
		memcpy(&r, h->p + off, sizeof(r));
		if (r.stack_id == 0 || r.stack_id > nstacks || r.alloc_objects > INT64_MAX ||
		    __builtin_mul_overflow(r.size, r.alloc_objects, &bytes) || bytes > INT64_MAX) {
			(*torn)++;
			continue;
		}
		r.peak_mark = 0;
		if (r.free_objects > r.alloc_objects)
			r.free_objects = r.alloc_objects;
		for (size_t k = 0; k < npar; k++)   /* (kept records move down, never up) */
			if (par[k].b)
				memmove(par[k].b->p + w / sizeof(r) * par[k].size,
					par[k].b->p + i * par[k].size, par[k].size);
		memcpy(h->p + w, &r, sizeof(r));
		w += sizeof(r);
	}
	h->len = w;
	for (size_t k = 0; k < npar; k++)
		if (par[k].b)
			par[k].b->len = w / sizeof(struct mp_snap_heap_rec) * par[k].size;
}

/*
 * The MP_SNAP_PEAK section from the peak's state and records (common/shm.h),
 * records as check_heap left them; false when the state is not one a live
 * shim could have written (the profile is then written without its peak).
 * Records whose saved counts could not be (a torn save) say the bucket did
 * not change since the peak.
 */
static bool make_peak(const struct buf *st, struct buf *recs, const struct buf *heap,
		      uint64_t now_ns, struct buf *out)
{
	struct mp_shm_peak ps;
	if (st->len < sizeof(ps))
		return false;
	memcpy(&ps, st->p, sizeof(ps));
	if (ps.epoch == 0 || ps.inuse > INT64_MAX || ps.now > INT64_MAX)
		return false;
	struct mp_snap_peak h = { .epoch = ps.epoch, .inuse = ps.inuse, .now = ps.now,
				  .flags = ps.flags & MP_SNAP_PEAK_F_NOW };
	double npt;
	memcpy(&npt, &ps.ns_per_tick, sizeof(npt));
#if defined(__x86_64__)
	/* 0: the ticks are the TSC's, and the process died before the shim
	 * measured its rate (10 ms into the run).  The TSC runs at one rate
	 * on the whole machine (the shim used it only then): measured here,
	 * from the process's start to now. */
	if (ps.ns_per_tick == 0 && ps.tick_shift < 32) {
		uint64_t t1 = __rdtsc() >> ps.tick_shift;
		if (t1 > ps.tick0 && now_ns > ps.real0)
			npt = (double)(now_ns - ps.real0) / (double)(t1 - ps.tick0);
	}
#endif
	if (ps.tick && npt > 0 && npt < 1e6) {
		double t = (double)ps.real0 + ((double)ps.tick - (double)ps.tick0) * npt;
		if (t > 0 && t < 9.2e18)
			h.time_ns = (uint64_t)t;
	}
	size_t n = heap->len / sizeof(struct mp_snap_heap_rec);
	for (size_t i = 0; i < n; i++) {
		struct mp_snap_heap_rec hr;
		struct mp_snap_peak_rec r;
		uint64_t bytes;
		memcpy(&hr, heap->p + i * sizeof(hr), sizeof(hr));
		memcpy(&r, recs->p + i * sizeof(r), sizeof(r));
		if (r.free_objects > r.alloc_objects || r.alloc_objects > hr.alloc_objects ||
		    __builtin_mul_overflow(hr.size, r.alloc_objects, &bytes) || bytes > INT64_MAX) {
			r = (struct mp_snap_peak_rec){ 0 };
			memcpy(recs->p + i * sizeof(r), &r, sizeof(r));
		}
	}
	put(out, &h, sizeof(h));
	put(out, recs->p, recs->len);
	return !out->oom;
}

static void check_res(struct buf *b, uint32_t nstacks, uint64_t *torn)
{
	size_t w = 0;
	for (size_t off = 0; off + sizeof(struct mp_snap_res_rec) <= b->len;
	     off += sizeof(struct mp_snap_res_rec)) {
		struct mp_snap_res_rec r;
		memcpy(&r, b->p + off, sizeof(r));
		if ((r.res_class != MP_RES_FD || r.kind >= MP_FD_KINDS) &&
		    (r.res_class != MP_RES_THREAD || r.kind >= MP_THREAD_KINDS) &&
		    (r.res_class != MP_RES_TIMER || r.kind >= MP_TIMER_KINDS)) {
			(*torn)++;
			continue;
		}
		r.detail[sizeof(r.detail) - 1] = 0;
		if (r.stack_id > nstacks)
			r.stack_id = 0;
		memcpy(b->p + w, &r, sizeof(r));
		w += sizeof(r);
	}
	b->len = w;
}

/* Unloaded records: the well-formed prefix (texts without NUL). */
static void check_unloaded(struct buf *b, uint64_t *torn)
{
	size_t off = 0;
	while (b->len - off >= sizeof(struct mp_snap_unload_rec)) {
		struct mp_snap_unload_rec h;
		memcpy(&h, b->p + off, sizeof(h));
		uint64_t padded = (uint64_t)h.text_len + (-(uint64_t)h.text_len & 7);
		if (padded > b->len - off - sizeof(h) || h.build_id_len > sizeof(h.build_id) ||
		    memchr(b->p + off + sizeof(h), 0, h.text_len))
			break;
		off += sizeof(h) + (size_t)padded;
	}
	if (off != b->len) {
		(*torn)++;
		b->len = off;
	}
}

int mp_shm_build(const struct mp_shm_view *views, uint32_t signal, uint32_t flags,
		 uint64_t now_ns, uint8_t **ret_buf, size_t *ret_len, uint64_t *ret_torn,
		 char **ret_err)
{
	struct mp_shm_meta *m;
	struct buf out = { 0 }, maps = { 0 }, stacks = { 0 }, heap = { 0 }, res = { 0 }, life = { 0 },
		   pstate = { 0 }, precs = { 0 },
		   unl = { 0 }, stats = { 0 }, leaks = { 0 };
	uint64_t torn = 0;
	uint32_t nsec = 0;
	int r = 0;

	if (!views[0].data || views[0].size < sizeof(*m))
		return bad(ret_err, "no directory of the shared tables");
	m = malloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	memcpy(m, views[0].data, sizeof(*m));
	if (memcmp(m->magic, MP_SHM_MAGIC, sizeof(m->magic)) != 0 ||
	    m->version != MP_SHM_VERSION) {
		r = bad(ret_err, "the shared tables' directory is not one this memprof reads");
		goto out;
	}
	if (m->max_depth > MP_SNAP_MAX_DEPTH || m->rate > INT64_MAX || m->start_ns > INT64_MAX) {
		r = bad(ret_err, "the shared tables' directory is damaged");
		goto out;
	}
	if (!signal && m->death_signal < 65)
		signal = m->death_signal;
	if (m->death_signal && m->death_signal < 65)
		flags |= MP_DEATH_F_AT_SIGNAL;
	if (signal >= 65)
		signal = 0;

	gather(m, views, MP_SNAP_MAPS, 0, &maps, &torn);
	gather(m, views, MP_SNAP_STACKS, 0, &stacks, &torn);
	gather(m, views, MP_SNAP_HEAP, sizeof(struct mp_snap_heap_rec), &heap, &torn);
	gather(m, views, MP_SNAP_RESOURCES, sizeof(struct mp_snap_res_rec), &res, &torn);
	gather(m, views, MP_SNAP_UNLOADED, 0, &unl, &torn);
	gather(m, views, MP_SNAP_LIFETIMES, sizeof(struct mp_snap_life_rec), &life, &torn);
	gather(m, views, MP_SHM_PEAK_STATE, sizeof(struct mp_shm_peak), &pstate, &torn);
	gather(m, views, MP_SHM_PEAK_RECS, sizeof(struct mp_snap_peak_rec), &precs, &torn);
	/* Only from a process that exited but could not write its snapshot
	 * (shim/snapshot-write.c, salvage). */
	gather(m, views, MP_SNAP_STATS, sizeof(struct mp_snap_kv), &stats, &torn);
	gather(m, views, MP_SNAP_LEAKS, sizeof(struct mp_snap_leak_rec), &leaks, &torn);
	/* At least as many lifetime and peak records as heap records: a
	 * bucket's are made before the bucket is published, so only a torn
	 * table can have fewer; the missing ones count no lifetime and say
	 * no change since the peak (zeros). */
	bool has_life = has_table(m, views, MP_SNAP_LIFETIMES);
	bool has_peak = has_table(m, views, MP_SHM_PEAK_RECS) && pstate.len;
	size_t nheap = heap.len / sizeof(struct mp_snap_heap_rec);
	static const uint8_t zeros[sizeof(struct mp_snap_life_rec)];
	while (has_life && life.len < nheap * sizeof(struct mp_snap_life_rec) && !life.oom)
		put(&life, zeros, sizeof(struct mp_snap_life_rec));
	while (has_peak && precs.len < nheap * sizeof(struct mp_snap_peak_rec) && !precs.oom)
		put(&precs, zeros, sizeof(struct mp_snap_peak_rec));
	if (maps.oom || stacks.oom || heap.oom || res.oom || unl.oom || life.oom || pstate.oom ||
	    precs.oom || stats.oom || leaks.oom) {
		r = -ENOMEM;
		goto out;
	}
	/* Maps: whole lines, no NUL (a cut text ends with a partial line). */
	if (maps.len) {
		uint8_t *nul = memchr(maps.p, 0, maps.len);
		if (nul)
			maps.len = (size_t)(nul - maps.p);
		while (maps.len && maps.p[maps.len - 1] != '\n')
			maps.len--;
	}
	uint32_t nstacks = check_stacks(&stacks, m->max_depth, &torn);
	const struct par par[2] = { { has_life ? &life : NULL, sizeof(struct mp_snap_life_rec) },
				    { has_peak ? &precs : NULL, sizeof(struct mp_snap_peak_rec) } };
	check_heap(&heap, par, 2, nstacks, &torn);
	struct buf peak = { 0 };
	has_peak = has_peak && make_peak(&pstate, &precs, &heap, now_ns, &peak);
	check_res(&res, nstacks, &torn);
	check_unloaded(&unl, &torn);

	size_t exe_len = m->exe_len < sizeof(m->exe) ? m->exe_len : sizeof(m->exe);
	const char *nul = memchr(m->exe, 0, exe_len);
	if (nul)
		exe_len = (size_t)(nul - m->exe);
	uint64_t end = m->death_ns && m->death_ns <= INT64_MAX ? m->death_ns : now_ns;
	if (end > INT64_MAX)
		end = 0;
	struct mp_snap_header h = {
		.version = MP_SNAP_VERSION,
		.endian = MP_SNAP_ENDIAN_TAG,
		.header_size = sizeof(h),
		.pid = m->pid,
		.ppid = m->ppid,
		.rate = m->rate,
		.start_ns = m->start_ns,
		.end_ns = end,
		.max_depth = m->max_depth,
		.seq = 0,
		.flags = MP_SNAP_F_FINAL | (m->flags & (MP_SNAP_F_FORKED | MP_SNAP_F_TRUNCATED)),
	};
	memcpy(h.magic, MP_SNAP_MAGIC, sizeof(h.magic));
	put(&out, &h, sizeof(h));
	put_section(&out, MP_SNAP_MAPS, maps.p, maps.len, &nsec);
	put_section(&out, MP_SNAP_EXE, m->exe, exe_len, &nsec);
	put_section(&out, MP_SNAP_STACKS, stacks.p, stacks.len, &nsec);
	put_section(&out, MP_SNAP_HEAP, heap.p, heap.len, &nsec);
	put_section(&out, MP_SNAP_RESOURCES, res.p, res.len, &nsec);
	if (has_peak)
		put_section(&out, MP_SNAP_PEAK, peak.p, peak.len, &nsec);
	free(peak.p);
	if (has_life)
		put_section(&out, MP_SNAP_LIFETIMES, life.p, life.len, &nsec);
	if (unl.len)
		put_section(&out, MP_SNAP_UNLOADED, unl.p, unl.len, &nsec);
	if (stats.len)
		put_section(&out, MP_SNAP_STATS, stats.p, stats.len, &nsec);
	if (leaks.len)
		put_section(&out, MP_SNAP_LEAKS, leaks.p, leaks.len, &nsec);
	/* Tables of sections this reader does not know (a newer shim's, or
	 * ones added since through the same mechanism): carried as they are,
	 * their torn records skipped the same way; the snapshot's reader
	 * checks what it knows of them and skips the rest. */
	for (uint32_t slot = 1; slot < MP_SHM_MAX_TABLES; slot++) {
		uint32_t sec = m->tables[slot].section;
		bool seen = false;
		if (!sec || !views[slot].data || sec == MP_SNAP_MAPS || sec == MP_SNAP_EXE ||
		    sec == MP_SHM_PEAK_STATE || sec == MP_SHM_PEAK_RECS ||
		    sec == MP_SNAP_STACKS || sec == MP_SNAP_HEAP || sec == MP_SNAP_RESOURCES ||
		    sec == MP_SNAP_UNLOADED || sec == MP_SNAP_DEATH || sec == MP_SNAP_STATS ||
		    sec == MP_SNAP_LEAKS || sec == MP_SNAP_PEAK || sec == MP_SNAP_LIFETIMES)
			continue;
		for (uint32_t e = 1; e < slot && !seen; e++)
			seen = m->tables[e].section == sec && views[e].data;
		if (seen)
			continue;   /* gathered with the first table of its section */
		struct buf b = { 0 };
		uint64_t rs = m->tables[slot].rec_size;
		gather(m, views, sec, rs == MP_SHM_REC_SWAP ? 0 : rs, &b, &torn);
		if (b.oom) {
			free(b.p);
			r = -ENOMEM;
			goto out;
		}
		put_section(&out, sec, b.p, b.len, &nsec);
		free(b.p);
	}
	struct mp_snap_death d = { .signal = signal, .flags = flags, .torn = torn };
	put_section(&out, MP_SNAP_DEATH, &d, sizeof(d), &nsec);
	if (out.oom) {
		r = -ENOMEM;
		goto out;
	}
	memcpy(out.p + offsetof(struct mp_snap_header, nsections), &nsec, sizeof(nsec));
	*ret_buf = out.p;
	*ret_len = out.len;
	*ret_torn = torn;
	out.p = NULL;
out:
	free(out.p);
	free(maps.p);
	free(stacks.p);
	free(heap.p);
	free(res.p);
	free(unl.p);
	free(stats.p);
	free(leaks.p);
	free(life.p);
	free(pstate.p);
	free(precs.p);
	free(m);
	return r;
}

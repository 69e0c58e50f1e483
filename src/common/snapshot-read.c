/* SPDX-License-Identifier: MIT */
/*
 * Parsing raw snapshots (see snapshot-read.h and snapshot.h).
 *
 * The input is untrusted: a snapshot may come from a crashed or hostile
 * process, or be any file a user names.  Every size is checked against the
 * bytes that remain before it is used, arithmetic on sizes is done with
 * overflow checks, and nothing is read through a pointer into the input
 * (memcpy only), so the buffer may have any alignment.
 *
 * Sections: MAPS, STACKS and HEAP are required, EXE and STATS optional, each
 * at most once; unknown section types are skipped, so a writer of the same
 * version may add sections.  A header larger than ours is accepted for the
 * same reason (its tail is skipped).  The file must end exactly after the
 * padding of its last section.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/shm.h"
#include "common/snapshot-read.h"

/* A reason for rejecting the file, in *ret_err; returns -EBADMSG. */
static int bad(char **ret_err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int bad(char **ret_err, const char *fmt, ...)
{
	va_list ap;

	if (ret_err) {
		va_start(ap, fmt);
		if (vasprintf(ret_err, fmt, ap) < 0)
			*ret_err = NULL;
		va_end(ap);
	}
	return -EBADMSG;
}

static const char *section_name(uint32_t type)
{
	switch (type) {
	case MP_SNAP_MAPS:   return "maps";
	case MP_SNAP_EXE:    return "exe";
	case MP_SNAP_STACKS: return "stacks";
	case MP_SNAP_HEAP:   return "heap";
	case MP_SNAP_STATS:  return "stats";
	case MP_SNAP_LEAKS:  return "leaks";
	case MP_SNAP_RESOURCES: return "resources";
	case MP_SNAP_UNLOADED: return "unloaded";
	case MP_SNAP_NAME:   return "name";
	case MP_SNAP_PEAK:   return "peak";
	case MP_SNAP_LIFETIMES: return "lifetimes";
	default:             return "unknown";
	}
}

/* A NUL-terminated copy of a text section; NUL bytes inside are refused. */
static int copy_text(const uint8_t *p, uint64_t size, const char *what, char **ret,
		     size_t *ret_len, char **ret_err)
{
	char *s;

	if (memchr(p, 0, size))
		return bad(ret_err, "%s section contains a NUL byte", what);
	s = malloc(size + 1);
	if (!s)
		return -ENOMEM;
	memcpy(s, p, size);
	s[size] = 0;
	*ret = s;
	*ret_len = size;
	return 0;
}

/*
 * Two passes over the stack records: the first checks them and counts the
 * frames, the second copies them into one array (so `pcs` pointers stay
 * valid: the array is never reallocated).
 */
static int parse_stacks(struct mp_snap *s, const uint8_t *p, uint64_t size, char **ret_err)
{
	uint64_t off = 0, nframes = 0;
	uint32_t n = 0;

	while (off < size) {
		uint32_t rec[2];

		if (size - off < sizeof(rec))
			return bad(ret_err, "stacks section ends inside the record of stack %u",
				   n + 1);
		memcpy(rec, p + off, sizeof(rec));
		if (n == UINT32_MAX || rec[0] != n + 1)
			return bad(ret_err, "stack record %u has id %u, expected %u", n + 1,
				   rec[0], n + 1);
		if (rec[1] > s->header.max_depth)
			return bad(ret_err, "stack %u has depth %u, more than max_depth %u",
				   rec[0], rec[1], s->header.max_depth);
		off += sizeof(rec);
		if ((size - off) / sizeof(uint64_t) < rec[1])
			return bad(ret_err, "stacks section ends inside the frames of stack %u",
				   rec[0]);
		off += (uint64_t)rec[1] * sizeof(uint64_t);
		nframes += rec[1];
		n++;
	}
	if (n) {
		s->stacks = calloc(n, sizeof(*s->stacks));
		s->pcs = malloc(nframes ? nframes * sizeof(uint64_t) : 1);
		if (!s->stacks || !s->pcs)
			return -ENOMEM;
	}
	s->nstacks = n;
	off = 0;
	nframes = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t rec[2];

		memcpy(rec, p + off, sizeof(rec));
		off += sizeof(rec);
		s->stacks[i].depth = rec[1];
		s->stacks[i].pcs = s->pcs + nframes;
		memcpy(s->pcs + nframes, p + off, (size_t)rec[1] * sizeof(uint64_t));
		off += (uint64_t)rec[1] * sizeof(uint64_t);
		nframes += rec[1];
	}
	return 0;
}

/*
 * A section of fixed-size records: its size a multiple of rec_size (what
 * names the section in the message), a malloc'd copy of its records in *ret
 * (left as it is when there are none) and their count in *ret_n.  0,
 * -EBADMSG or -ENOMEM; nothing is touched on failure.
 */
static int copy_records(const char *what, const uint8_t *p, uint64_t size, size_t rec_size,
			void **ret, size_t *ret_n, char **ret_err)
{
	size_t n;

	if (size % rec_size)
		return bad(ret_err, "%s section size %llu is not a multiple of %zu", what,
			   (unsigned long long)size, rec_size);
	n = size / rec_size;
	if (n) {
		void *v = malloc(n * rec_size);

		if (!v)
			return -ENOMEM;
		memcpy(v, p, n * rec_size);
		*ret = v;
	}
	*ret_n = n;
	return 0;
}

static int parse_heap(struct mp_snap *s, const uint8_t *p, uint64_t size, char **ret_err)
{
	void *v = NULL;
	int r = copy_records("heap", p, size, sizeof(*s->heap), &v, &s->nheap, ret_err);

	s->heap = v;
	return r;
}

static int parse_leaks(struct mp_snap *s, const uint8_t *p, uint64_t size, char **ret_err)
{
	void *v = NULL;
	int r;

	if (s->has_leaks)
		return bad(ret_err, "more than one leaks section");
	r = copy_records("leaks", p, size, sizeof(*s->leaks), &v, &s->nleaks, ret_err);
	s->leaks = v;
	if (r == 0)
		s->has_leaks = true;
	return r;
}

static int parse_unloaded(struct mp_snap *s, const uint8_t *p, uint64_t size, char **ret_err)
{
	size_t n = 0;

	if (s->unloaded)
		return bad(ret_err, "more than one unloaded section");
	for (int pass = 0; pass < 2; pass++) {
		uint64_t off = 0;
		size_t i = 0;

		while (off < size) {
			struct mp_snap_unload_rec h;
			uint64_t padded;

			if (size - off < sizeof(h))
				return bad(ret_err, "unloaded section ends inside record %zu", i + 1);
			memcpy(&h, p + off, sizeof(h));
			off += sizeof(h);
			padded = h.text_len + (-(uint64_t)h.text_len & 7);
			if (padded > size - off)
				return bad(ret_err, "unloaded record %zu: text runs past the section",
					   i + 1);
			if (h.build_id_len > sizeof(h.build_id))
				return bad(ret_err, "unloaded record %zu: build ID of %u bytes", i + 1,
					   h.build_id_len);
			if (pass == 1) {
				struct mp_snap_unloaded *u = &s->unloaded[i];
				size_t len = 0;   /* set by copy_text; GCC -O2 cannot see it */
				int r = copy_text(p + off, h.text_len, "unloaded", &u->text, &len,
						  ret_err);
				if (r < 0)
					return r;
				u->text_len = len;
				u->last_stack = h.last_stack;
				u->build_id_len = h.build_id_len;
				memcpy(u->build_id, h.build_id, h.build_id_len);
			}
			off += padded;
			i++;
		}
		if (pass == 0) {
			n = i;
			s->unloaded = calloc(n ? n : 1, sizeof(*s->unloaded));
			if (!s->unloaded)
				return -ENOMEM;
			s->nunloaded = n;   /* texts freed by mp_snap_free, even half done */
		}
	}
	return 0;
}

static int parse_res(struct mp_snap *s, const uint8_t *p, uint64_t size, char **ret_err)
{
	void *v = NULL;
	size_t n = 0;
	int r;

	if (s->has_res)
		return bad(ret_err, "more than one resources section");
	r = copy_records("resources", p, size, sizeof(*s->res), &v, &n, ret_err);
	s->res = v;
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		struct mp_snap_res_rec *r = &s->res[i];
		if ((r->res_class != MP_RES_FD || r->kind >= MP_FD_KINDS) &&
		    (r->res_class != MP_RES_THREAD || r->kind >= MP_THREAD_KINDS) &&
		    (r->res_class != MP_RES_TIMER || r->kind >= MP_TIMER_KINDS))
			return bad(ret_err, "resource record %zu has unknown class or kind %u", i + 1,
				   r->kind);
		if (!memchr(r->detail, 0, sizeof(r->detail)))
			return bad(ret_err, "resource record %zu: detail is not terminated", i + 1);
	}
	s->nres = n;
	s->has_res = true;
	return 0;
}

static int check_res(const struct mp_snap *s, char **ret_err)
{
	for (size_t i = 0; i < s->nres; i++)
		if (s->res[i].stack_id > s->nstacks)
			return bad(ret_err, "resource record %zu refers to unknown stack %u", i + 1,
				   s->res[i].stack_id);
	return 0;
}

/* Leak records refer to stacks (0: none) and carry bounded counts. */
static int check_leaks(const struct mp_snap *s, char **ret_err)
{
	for (size_t i = 0; i < s->nleaks; i++) {
		const struct mp_snap_leak_rec *l = &s->leaks[i];

		if (l->stack_id > s->nstacks)
			return bad(ret_err, "leak record %zu refers to unknown stack %u", i + 1,
				   l->stack_id);
		if (l->category < MP_LEAK_DEFINITE || l->category > MP_LEAK_CATEGORY_MAX)
			return bad(ret_err, "leak record %zu has unknown category %u", i + 1,
				   l->category);
		if (l->count == 0 || l->count > INT64_MAX || l->bytes > INT64_MAX)
			return bad(ret_err, "leak record %zu: bad count %llu or bytes %llu", i + 1,
				   (unsigned long long)l->count, (unsigned long long)l->bytes);
	}
	return 0;
}

/*
 * Heap records refer to stacks: checked once both sections are in.
 *
 * More frees than allocations in a record is what a fork child of a
 * threaded program can honestly show: its tables are copied before the
 * fork (base/shm.c, mp_shm_before_fork) while the parent's other threads
 * go on, so a block another thread sampled between the copy and the fork
 * is in the child's memory but not in its counts, and the child may free
 * it.  The block was the child's: it is counted allocated (alloc_objects
 * raised to free_objects) rather than the whole snapshot refused.
 */
static int check_heap(struct mp_snap *s, char **ret_err)
{
	for (size_t i = 0; i < s->nheap; i++) {
		struct mp_snap_heap_rec *h = &s->heap[i];
		uint64_t bytes;

		if (h->stack_id == 0 || h->stack_id > s->nstacks)
			return bad(ret_err, "heap record %zu refers to unknown stack %u", i + 1,
				   h->stack_id);
		if (h->free_objects > h->alloc_objects)
			h->alloc_objects = h->free_objects;
		if (__builtin_mul_overflow(h->size, h->alloc_objects, &bytes) ||
		    bytes > INT64_MAX || h->alloc_objects > INT64_MAX)
			return bad(ret_err, "heap record %zu: %llu objects of %llu bytes overflow",
				   i + 1, (unsigned long long)h->alloc_objects,
				   (unsigned long long)h->size);
	}
	return 0;
}

/*
 * The peak and lifetime sections (common/snapshot.h), once the heap is in:
 * records parallel to the heap records, the peak's resolved through the
 * epochs into plain heap records.
 */
static int check_peak(struct mp_snap *s, const uint8_t *p, uint64_t size, char **ret_err)
{
	struct mp_snap_peak h;

	if (size < sizeof(h) || (size - sizeof(h)) % sizeof(struct mp_snap_peak_rec))
		return bad(ret_err, "peak section size %llu is not a header and records",
			   (unsigned long long)size);
	if ((size - sizeof(h)) / sizeof(struct mp_snap_peak_rec) != s->nheap)
		return bad(ret_err, "peak section has %llu records for %zu heap records",
			   (unsigned long long)((size - sizeof(h)) / sizeof(struct mp_snap_peak_rec)),
			   s->nheap);
	memcpy(&h, p, sizeof(h));
	if (h.epoch == 0 || h.inuse > INT64_MAX || h.time_ns > INT64_MAX)
		return bad(ret_err, "peak header: bad epoch %llu, size %llu or time %llu",
			   (unsigned long long)h.epoch, (unsigned long long)h.inuse,
			   (unsigned long long)h.time_ns);
	s->peak_heap = malloc(s->nheap ? s->nheap * sizeof(*s->peak_heap) : 1);
	if (!s->peak_heap)
		return -ENOMEM;
	for (size_t i = 0; i < s->nheap; i++) {
		struct mp_snap_peak_rec r;
		struct mp_snap_heap_rec *o = &s->peak_heap[i];
		uint64_t bytes;

		memcpy(&r, p + sizeof(h) + i * sizeof(r), sizeof(r));
		*o = s->heap[i];
		/* Saved at the peak (or at a later one, reached while the
		 * snapshot was written); else unchanged since. */
		if (!(h.flags & MP_SNAP_PEAK_F_NOW) && r.epoch >= h.epoch) {
			o->alloc_objects = r.alloc_objects;
			o->free_objects = r.free_objects;
		}
		if (o->free_objects > o->alloc_objects ||
		    __builtin_mul_overflow(o->size, o->alloc_objects, &bytes) || bytes > INT64_MAX ||
		    o->alloc_objects > INT64_MAX)
			return bad(ret_err, "peak record %zu: %llu of %llu objects freed", i + 1,
				   (unsigned long long)o->free_objects,
				   (unsigned long long)o->alloc_objects);
	}
	s->peak = h;
	s->has_peak = true;
	return 0;
}

static int check_life(struct mp_snap *s, const uint8_t *p, uint64_t size, char **ret_err)
{
	if (size % sizeof(struct mp_snap_life_rec) ||
	    size / sizeof(struct mp_snap_life_rec) != s->nheap)
		return bad(ret_err, "lifetimes section size %llu is not %zu records",
			   (unsigned long long)size, s->nheap);
	s->life = malloc(s->nheap ? s->nheap * sizeof(*s->life) : 1);
	if (!s->life)
		return -ENOMEM;
	memcpy(s->life, p, s->nheap * sizeof(*s->life));
	for (size_t i = 0; i < s->nheap; i++) {
		/* Frees counted while the snapshot was written, or a realloc's
		 * taken back: the excess comes off the longest classes. */
		uint64_t left = s->heap[i].free_objects;
		for (int k = 0; k < MP_SNAP_LIFE_CLASSES; k++) {
			uint64_t *f = &s->life[i].freed[k];
			if (*f > left)
				*f = left;
			left -= *f;
		}
	}
	return 0;
}

static int parse_stats(struct mp_snap *s, const uint8_t *p, uint64_t size, char **ret_err)
{
	size_t n;

	if (size % sizeof(struct mp_snap_kv))
		return bad(ret_err, "stats section size %llu is not a multiple of %zu",
			   (unsigned long long)size, sizeof(struct mp_snap_kv));
	n = size / sizeof(struct mp_snap_kv);
	if (n) {
		s->stats = calloc(n, sizeof(*s->stats));
		if (!s->stats)
			return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct mp_snap_kv kv;
		size_t len;

		memcpy(&kv, p + i * sizeof(kv), sizeof(kv));
		len = strnlen(kv.name, sizeof(kv.name));
		if (len == 0)
			return bad(ret_err, "stat %zu has an empty name", i + 1);
		for (size_t j = 0; j < sizeof(kv.name); j++) {
			unsigned char c = (unsigned char)kv.name[j];

			if (j < len ? c <= ' ' || c > '~' || c == '=' : c != 0)
				return bad(ret_err, "stat %zu has a malformed name", i + 1);
		}
		memcpy(s->stats[i].name, kv.name, len);
		s->stats[i].name[len] = 0;
		s->stats[i].value = kv.value;
	}
	s->nstats = n;
	s->has_stats = true;
	return 0;
}

static int check_header(const struct mp_snap_header *h, size_t len, char **ret_err)
{
	if (memcmp(h->magic, MP_SNAP_MAGIC, sizeof(h->magic)) != 0)
		return bad(ret_err, "not a memprof snapshot (bad magic)");
	if (h->endian != MP_SNAP_ENDIAN_TAG)
		return bad(ret_err, "written on a machine of another byte order");
	if (h->version != MP_SNAP_VERSION)
		return bad(ret_err, "unsupported version %u (this memprof reads %u)",
			   h->version, MP_SNAP_VERSION);
	if (h->header_size < sizeof(*h) || h->header_size % 8 || h->header_size > len)
		return bad(ret_err, "bad header size %u", h->header_size);
	if (h->max_depth > MP_SNAP_MAX_DEPTH)
		return bad(ret_err, "max_depth %u is more than %u", h->max_depth,
			   MP_SNAP_MAX_DEPTH);
	if (h->rate > INT64_MAX)
		return bad(ret_err, "rate %llu is out of range", (unsigned long long)h->rate);
	if (h->start_ns > INT64_MAX || h->end_ns > INT64_MAX)
		return bad(ret_err, "timestamp out of range");
	return 0;
}

static int parse(struct mp_snap *s, const uint8_t *buf, size_t len, char **ret_err)
{
	uint32_t seen = 0;
	const uint8_t *peak_p = NULL, *life_p = NULL;
	uint64_t peak_size = 0, life_size = 0;
	size_t off;
	int r;

	if (len < sizeof(s->header))
		return bad(ret_err, "file too short (%zu bytes) for a snapshot header", len);
	memcpy(&s->header, buf, sizeof(s->header));
	r = check_header(&s->header, len, ret_err);
	if (r < 0)
		return r;
	off = s->header.header_size;

	for (uint32_t i = 0; i < s->header.nsections; i++) {
		struct mp_snap_section sec;
		uint64_t padded;
		const uint8_t *p;

		if (len - off < sizeof(sec))
			return bad(ret_err, "file ends before section %u of %u", i + 1,
				   s->header.nsections);
		memcpy(&sec, buf + off, sizeof(sec));
		off += sizeof(sec);
		padded = sec.size + (-sec.size & 7);
		if (sec.size > len - off || padded > len - off)
			return bad(ret_err, "%s section (%llu bytes) runs past the end of the file",
				   section_name(sec.type), (unsigned long long)sec.size);
		p = buf + off;
		off += padded;
		if (sec.type >= MP_SNAP_MAPS && sec.type <= MP_SNAP_STATS) {
			if (seen & (1u << sec.type))
				return bad(ret_err, "more than one %s section", section_name(sec.type));
			seen |= 1u << sec.type;
		}
		switch (sec.type) {
		case MP_SNAP_MAPS:
			r = copy_text(p, sec.size, "maps", &s->maps, &s->maps_len, ret_err);
			break;
		case MP_SNAP_EXE:
			r = copy_text(p, sec.size, "exe", &s->exe, &s->exe_len, ret_err);
			break;
		case MP_SNAP_STACKS:
			r = parse_stacks(s, p, sec.size, ret_err);
			break;
		case MP_SNAP_HEAP:
			r = parse_heap(s, p, sec.size, ret_err);
			break;
		case MP_SNAP_STATS:
			r = parse_stats(s, p, sec.size, ret_err);
			break;
		case MP_SNAP_LEAKS:
			r = parse_leaks(s, p, sec.size, ret_err);
			break;
		case MP_SNAP_RESOURCES:
			r = parse_res(s, p, sec.size, ret_err);
			break;
		case MP_SNAP_UNLOADED:
			r = parse_unloaded(s, p, sec.size, ret_err);
			break;
		case MP_SNAP_NAME:
			if (s->name[0])
				return bad(ret_err, "more than one name section");
			if (!mp_snap_name_ok((const char *)p, sec.size))
				return bad(ret_err, "name section is not 1 to %d letters, digits, "
					   "'_' or '-' (and not 's' and digits)", MP_SNAP_NAME_MAX);
			memcpy(s->name, p, sec.size);
			s->name[sec.size] = 0;
			r = 0;
			break;
		case MP_SNAP_DEATH:
			if (s->has_death)
				return bad(ret_err, "more than one death section");
			if (sec.size != sizeof(s->death))
				return bad(ret_err, "death section of %llu bytes, not %zu",
					   (unsigned long long)sec.size, sizeof(s->death));
			memcpy(&s->death, p, sizeof(s->death));
			if (s->death.signal >= 65)
				return bad(ret_err, "death by signal %u", s->death.signal);
			s->has_death = true;
			r = 0;
			break;
		case MP_SNAP_PEAK:
		case MP_SNAP_LIFETIMES:
			/* Records parallel to the heap's: checked after it. */
			if (sec.type == MP_SNAP_PEAK ? peak_p != NULL : life_p != NULL)
				return bad(ret_err, "more than one %s section", section_name(sec.type));
			if (sec.type == MP_SNAP_PEAK) {
				peak_p = p;
				peak_size = sec.size;
			} else {
				life_p = p;
				life_size = sec.size;
			}
			r = 0;
			break;
		default:
			r = 0;  /* a section from a newer writer: skipped */
			break;
		}
		if (r < 0)
			return r;
	}
	if (off != len)
		return bad(ret_err, "%zu bytes of trailing data after the last section", len - off);
	for (uint32_t t = MP_SNAP_MAPS; t <= MP_SNAP_HEAP; t++) {
		if (t != MP_SNAP_EXE && !(seen & (1u << t)))
			return bad(ret_err, "no %s section", section_name(t));
	}
	if (!s->exe) {
		s->exe = strdup("");
		if (!s->exe)
			return -ENOMEM;
	}
	r = check_heap(s, ret_err);
	if (r == 0 && peak_p)
		r = check_peak(s, peak_p, peak_size, ret_err);
	if (r == 0 && life_p)
		r = check_life(s, life_p, life_size, ret_err);
	if (r == 0)
		r = check_leaks(s, ret_err);
	if (r == 0)
		r = check_res(s, ret_err);
	return r < 0 ? r : mp_snap_fold_unloaded(s);
}

int mp_snap_parse(const uint8_t *buf, size_t len, struct mp_snap **ret, char **ret_err)
{
	struct mp_snap *s = calloc(1, sizeof(*s));
	char *err = NULL;
	int r;

	if (!s)
		return -ENOMEM;
	r = parse(s, buf, len, &err);
	if (r < 0) {
		mp_snap_free(s);
		if (ret_err)
			*ret_err = err;
		else
			free(err);
		return r;
	}
	*ret = s;
	return 0;
}

int mp_snap_read_file(const char *path, struct mp_snap **ret, char **ret_err)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	struct stat st;
	int fd, r = 0;

	if (ret_err)
		*ret_err = NULL;
	/* Not blocking in open (a FIFO no one writes to): only regular files
	 * are read. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		goto out;
	}
	if ((uint64_t)st.st_size > MP_SNAP_MAX_FILE) {
		r = -EFBIG;
		goto out;
	}
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	/* Snapshots appear whole (rename), but a file that shrinks under us is
	 * read short and then refused by the parser as truncated. */
	while (len < (size_t)st.st_size) {
		ssize_t got = read(fd, buf + len, (size_t)st.st_size - len);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = -errno;
			goto out;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	r = mp_snap_parse(buf, len, ret, ret_err);
out:
	free(buf);
	close(fd);
	return r;
}

void mp_snap_free(struct mp_snap *s)
{
	if (!s)
		return;
	free(s->maps);
	free(s->exe);
	free(s->stacks);
	free(s->pcs);
	free(s->heap);
	free(s->peak_heap);
	free(s->life);
	free(s->stats);
	free(s->leaks);
	free(s->res);
	for (size_t i = 0; i < s->nunloaded; i++)
		free(s->unloaded[i].text);
	free(s->unloaded);
	free(s);
}

const struct mp_snap_stack *mp_snap_stack(const struct mp_snap *s, uint32_t id)
{
	if (id == 0 || id > s->nstacks)
		return NULL;
	return &s->stacks[id - 1];
}

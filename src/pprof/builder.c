/* SPDX-License-Identifier: MIT */
/*
 * Building pprof profiles: interned strings, deduplicated functions and
 * locations, samples; then protobuf serialization, gzip (gzip.c, as Go
 * writes them; streamed while the samples are added, for a profile built to
 * be written) and an atomic write (common/file-write.h: temp file in the
 * target's directory, fsync, rename).
 *
 * What pprof expects of a writer and this file guarantees: string_table[0]
 * is "", mapping/location/function ids are 1..n in insertion order, every
 * reference resolves, and each sample has one value per sample type.
 * CLI only; aborts on out-of-memory (the CLI has nothing better to do).
 */
#include "common/cpus.h"
#include "common/grow.h"
#include "common/file-write.h"
#include "pprof/pprof.h"
#include "pprof/internal.h"
#include "pprof/keymap.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct bmapping {
	uint64_t start, limit, offset;
	int64_t file, build_id;
	bool has_functions, has_filenames, has_line_numbers, has_inline_frames;
};

struct bfunction {
	int64_t name, system_name, file, start_line;
};

struct bline {
	uint64_t function_id;
	int64_t line;
};

struct blocation {
	uint64_t mapping_id, address;
	size_t line_off, nline;
};

/* Strings interned lately, by address (intern()). */
#define INTERN_RECENT 16

struct mp_pprof_builder {
	struct mp_keymap strmap;
	char **strs;
	size_t nstrs, cap_strs;
	struct {
		const char *s;      /* the caller's string at the time */
		uint32_t idx;
	} recent[INTERN_RECENT];

	int64_t (*sample_types)[2];
	size_t nsample_types, cap_sample_types;
	int64_t period_type[2];
	bool has_period_type;
	int64_t period, default_sample_type, time_nanos, duration_nanos;
	int64_t *comments;
	size_t ncomments, cap_comments;
	Perftools__Profiles__MemprofStat *stats;    /* names malloc'd */
	size_t nstats, cap_stats;

	struct bmapping *mappings;
	size_t nmappings, cap_mappings;

	struct mp_keymap funcmap;
	struct bfunction *functions;
	size_t nfunctions, cap_functions;

	struct mp_keymap locmap;
	struct blocation *locations;
	size_t nlocations, cap_locations;
	struct bline *lines;
	size_t nlines, cap_lines;

	/* The samples, each kept as its protobuf encoding (a Sample message
	 * as field 2 of the Profile: tag, length, fields), back to back: the
	 * encoder writes the other fields around them (pack), and the arrays
	 * they replace took four times the memory (for a --rate 1 profile of
	 * a compiler, 10 MiB of the convert process's peak).  The view
	 * decodes them. */
	uint8_t *sbytes;
	size_t nsbytes, cap_sbytes;
	size_t nsamples;
	size_t nsample_locs, nlabels;   /* over all samples, for the view */

	/* mp_pprof_builder_stream: the profile's bytes compressed while the
	 * samples are added (gzip.c), the head then the samples up to
	 * sbytes[gz_fed], once GZ_FEED of them are there. */
	bool gz_want;
	struct mp_gz_stream *gz;
	size_t gz_fed;
	uint8_t *gz_head;           /* the head as fed (put_head) */
	size_t gz_head_len;
};

/* The samples' bytes go to the stream GZ_FEED at a time. */
#define GZ_FEED ((size_t)64 << 10)

static void oom(void)
{
	fputs("memprof: out of memory\n", stderr);
	abort();
}

/* Make room for `more` elements after *n (common/grow.h); abort on OOM. */
static void *reserve(void *arr, size_t *cap, size_t n, size_t more, size_t elem)
{
	size_t need = n + more;

	if (need < n)
		oom();
	if (need <= *cap)
		return arr;
	arr = mp_grow_array(arr, need, elem, cap);
	if (!arr)
		oom();
	return arr;
}

#define RESERVE(b, arr, n, cap, more) \
	((b)->arr = reserve((b)->arr, &(b)->cap, (b)->n, (more), sizeof(*(b)->arr)))

static int64_t intern(struct mp_pprof_builder *b, const char *s)
{
	uint32_t idx;
	size_t len, k;
	int r;

	if (!s)
		s = "";
	/* A string met again at the same address is mostly the same string
	 * (the converter's label keys and lifetime classes, interned with
	 * each of 100,000 samples): compared with the one kept for it, it
	 * costs no hash and no probe.  An address that now holds another
	 * string (a caller's buffer) fails the comparison. */
	k = ((uintptr_t)s >> 3) % INTERN_RECENT;
	if (b->recent[k].s == s && strcmp(b->strs[b->recent[k].idx], s) == 0)
		return b->recent[k].idx;
	len = strlen(s);
	r = mp_keymap_intern(&b->strmap, s, len, (uint32_t)b->nstrs, &idx);
	if (r < 0)
		oom();
	if (r == 1) {
		RESERVE(b, strs, nstrs, cap_strs, 1);
		b->strs[b->nstrs] = strdup(s);
		if (!b->strs[b->nstrs])
			oom();
		b->nstrs++;
	}
	b->recent[k].s = s;
	b->recent[k].idx = idx;
	return idx;
}

struct mp_pprof_builder *mp_pprof_builder_new(void)
{
	struct mp_pprof_builder *b = calloc(1, sizeof(*b));

	if (!b)
		oom();
	mp_keymap_init(&b->strmap);
	mp_keymap_init(&b->funcmap);
	mp_keymap_init(&b->locmap);
	intern(b, "");          /* string_table[0] */
	return b;
}

void mp_pprof_builder_free(struct mp_pprof_builder *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->nstrs; i++)
		free(b->strs[i]);
	free(b->strs);
	mp_keymap_done(&b->strmap);
	mp_keymap_done(&b->funcmap);
	mp_keymap_done(&b->locmap);
	free(b->sample_types);
	free(b->comments);
	for (size_t i = 0; i < b->nstats; i++)
		free(b->stats[i].name);
	free(b->stats);
	free(b->mappings);
	free(b->functions);
	free(b->locations);
	free(b->lines);
	free(b->sbytes);
	mp_gz_stream_free(b->gz);
	free(b->gz_head);
	free(b);
}

void mp_pprof_add_sample_type(struct mp_pprof_builder *b, const char *type, const char *unit)
{
	/* Samples already added would lack a value for the new type. */
	assert(b->nsamples == 0);
	RESERVE(b, sample_types, nsample_types, cap_sample_types, 1);
	b->sample_types[b->nsample_types][0] = intern(b, type);
	b->sample_types[b->nsample_types][1] = intern(b, unit);
	b->nsample_types++;
}

void mp_pprof_set_period(struct mp_pprof_builder *b, const char *type, const char *unit, int64_t period)
{
	b->period_type[0] = intern(b, type);
	b->period_type[1] = intern(b, unit);
	b->has_period_type = true;
	b->period = period;
}

void mp_pprof_set_default_sample_type(struct mp_pprof_builder *b, const char *type)
{
	b->default_sample_type = intern(b, type);
}

void mp_pprof_set_time(struct mp_pprof_builder *b, int64_t time_nanos, int64_t duration_nanos)
{
	b->time_nanos = time_nanos;
	b->duration_nanos = duration_nanos;
}

void mp_pprof_add_comment(struct mp_pprof_builder *b, const char *comment)
{
	RESERVE(b, comments, ncomments, cap_comments, 1);
	b->comments[b->ncomments++] = intern(b, comment);
}

void mp_pprof_add_stat(struct mp_pprof_builder *b, const char *name, int64_t value)
{
	RESERVE(b, stats, nstats, cap_stats, 1);
	perftools__profiles__memprof_stat__init(&b->stats[b->nstats]);
	b->stats[b->nstats].name = strdup(name);
	if (!b->stats[b->nstats].name)
		oom();
	b->stats[b->nstats++].value = value;
}

uint64_t mp_pprof_add_mapping(struct mp_pprof_builder *b, uint64_t start, uint64_t limit,
			      uint64_t file_offset, const char *file, const char *build_id,
			      bool has_functions, bool has_filenames, bool has_line_numbers,
			      bool has_inline_frames)
{
	struct bmapping *m;

	RESERVE(b, mappings, nmappings, cap_mappings, 1);
	m = &b->mappings[b->nmappings++];
	m->start = start;
	m->limit = limit;
	m->offset = file_offset;
	m->file = intern(b, file);
	m->build_id = intern(b, build_id);
	m->has_functions = has_functions;
	m->has_filenames = has_filenames;
	m->has_line_numbers = has_line_numbers;
	m->has_inline_frames = has_inline_frames;
	return b->nmappings;
}

static uint64_t add_function(struct mp_pprof_builder *b, const struct mp_pprof_line *ln)
{
	struct bfunction f = {
		.name = intern(b, ln->function),
		.system_name = intern(b, ln->system_name ? ln->system_name : ln->function),
		.file = intern(b, ln->file),
		.start_line = ln->start_line,
	};
	uint32_t idx;
	int r;

	r = mp_keymap_intern(&b->funcmap, &f, sizeof(f), (uint32_t)b->nfunctions, &idx);
	if (r < 0)
		oom();
	if (r == 1) {
		RESERVE(b, functions, nfunctions, cap_functions, 1);
		b->functions[b->nfunctions++] = f;
	}
	return (uint64_t)idx + 1;
}

uint64_t mp_pprof_add_location(struct mp_pprof_builder *b, uint64_t mapping_id, uint64_t address,
			       const struct mp_pprof_line *lines, size_t nlines)
{
	uint64_t key[2] = { mapping_id, address };
	struct blocation *l;
	uint32_t idx;
	size_t line_off = b->nlines;
	int r;

	assert(mapping_id <= b->nmappings);
	if (address != 0) {
		if (mp_keymap_get(&b->locmap, key, sizeof(key), &idx) == 0)
			return (uint64_t)idx + 1;
	}
	RESERVE(b, lines, nlines, cap_lines, nlines);
	for (size_t i = 0; i < nlines; i++) {
		b->lines[line_off + i].function_id = add_function(b, &lines[i]);
		b->lines[line_off + i].line = lines[i].line;
	}
	if (address != 0) {
		r = mp_keymap_intern(&b->locmap, key, sizeof(key), (uint32_t)b->nlocations, NULL);
	} else {
		/*
		 * No address (a synthetic frame): the lines identify the location.
		 * Key = mapping, 0, then the (function id, line) pairs.
		 */
		size_t klen = sizeof(key) + nlines * sizeof(struct bline);
		uint8_t *k = malloc(klen);

		if (!k)
			oom();
		memcpy(k, key, sizeof(key));
		if (nlines)
			memcpy(k + sizeof(key), &b->lines[line_off], nlines * sizeof(struct bline));
		r = mp_keymap_intern(&b->locmap, k, klen, (uint32_t)b->nlocations, &idx);
		free(k);
		if (r == 0)
			return (uint64_t)idx + 1;       /* lines not kept */
	}
	if (r < 0)
		oom();
	b->nlines += nlines;
	RESERVE(b, locations, nlocations, cap_locations, 1);
	l = &b->locations[b->nlocations++];
	l->mapping_id = mapping_id;
	l->address = address;
	l->line_off = line_off;
	l->nline = nlines;
	return b->nlocations;
}

/* ---- direct encoding ----------------------------------------------------
 *
 * The profile's protobuf bytes written straight from the builder's arrays
 * (the samples are encoded as they are added), byte for byte what
 * protobuf-c packs from the view (fields in number order; proto3: zero
 * scalars, empty strings and absent messages left out, repeated scalars
 * packed; an int64 as its 64-bit two's complement), which the unit tests
 * check, without building the view.  For a --rate 1
 * profile of a compiler the view was 7 MiB of the convert process's peak.
 * Each message is measured by the function that writes it, with nowhere
 * to write (enc.p NULL: count only).
 */
struct enc {
	uint8_t *p;             /* NULL: count only */
	size_t n;
};

static void put_varint(struct enc *e, uint64_t v)
{
	if (!e->p) {
		/* 7 bits a byte: the significant bits (at least 1), rounded up. */
		e->n += (size_t)(64 - __builtin_clzll(v | 1) + 6) / 7;
		return;
	}
	while (v >= 0x80) {
		e->p[e->n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	e->p[e->n++] = (uint8_t)v;
}

static void put_tag(struct enc *e, uint32_t field, unsigned wire_type)
{
	put_varint(e, (uint64_t)field << 3 | wire_type);
}

/* A singular scalar (varint) field, left out when 0. */
static void put_scalar(struct enc *e, uint32_t field, uint64_t v)
{
	if (v) {
		put_tag(e, field, 0);
		put_varint(e, v);
	}
}

static void put_bytes(struct enc *e, uint32_t field, const void *data, size_t len)
{
	put_tag(e, field, 2);
	put_varint(e, len);
	if (e->p && len)
		memcpy(e->p + e->n, data, len);
	e->n += len;
}

/* A packed repeated varint field of n values (int64s as uint64s). */
static void put_packed(struct enc *e, uint32_t field, const uint64_t *v, size_t n)
{
	struct enc c = { NULL, 0 };

	if (!n)
		return;
	for (size_t i = 0; i < n; i++)
		put_varint(&c, v[i]);
	put_tag(e, field, 2);
	put_varint(e, c.n);
	for (size_t i = 0; i < n; i++)
		put_varint(e, v[i]);
}

/* The bytes put_varint takes for v. */
static size_t varint_len(uint64_t v)
{
	struct enc c = { NULL, 0 };

	put_varint(&c, v);
	return c.n;
}

/*
 * put_packed for a writer with room for the longest such field (the tag,
 * then 10 bytes for the length and each value) after e->n: the values
 * are written once, after room for the longest length they can have,
 * then moved to follow the real length.  Measuring them first took as
 * long as writing them (the samples' stacks are most of a heap profile).
 */
static void put_packed_roomy(struct enc *e, uint32_t field, const uint64_t *v, size_t n)
{
	struct enc c;
	size_t room;

	if (!e->p) {
		put_packed(e, field, v, n);
		return;
	}
	if (!n)
		return;
	put_tag(e, field, 2);
	room = varint_len(10 * (uint64_t)n);
	c = (struct enc){ e->p + e->n + room, 0 };
	for (size_t i = 0; i < n; i++)
		put_varint(&c, v[i]);
	put_varint(e, c.n);
	if (e->p + e->n != c.p)
		memmove(e->p + e->n, c.p, c.n);
	e->n += c.n;
}

typedef void put_fn(struct enc *e, const struct mp_pprof_builder *b, size_t i);

/* Message i of a kind as field `field`: its length, then itself. */
static void put_msg(struct enc *e, uint32_t field, put_fn *fn, const struct mp_pprof_builder *b,
		    size_t i)
{
	struct enc c = { NULL, 0 };

	fn(&c, b, i);
	put_tag(e, field, 2);
	put_varint(e, c.n);
	fn(e, b, i);
}

/* A Label message's fields, string ids interned: key, str, num, num_unit. */
struct label_fields {
	int64_t f[4];
};

/* The bytes a Label takes as field 3 at most: tag, a one-byte length (the
 * fields take at most 44), four tagged varints. */
#define LABEL_MAX (1 + 1 + 4 * (1 + 10))

/* The fields of a Sample message. */
static void put_sample_fields(struct enc *e, const uint64_t *location_ids, size_t nlocations,
			      const int64_t *values, size_t nvalues,
			      const struct label_fields *labels, size_t nlabels)
{
	put_packed_roomy(e, 1, location_ids, nlocations);
	put_packed_roomy(e, 2, (const uint64_t *)values, nvalues);
	for (size_t i = 0; i < nlabels; i++) {
		const int64_t *f = labels[i].f;
		struct enc c = { NULL, 0 };

		for (uint32_t k = 0; k < 4; k++)
			put_scalar(&c, k + 1, (uint64_t)f[k]);
		put_tag(e, 3, 2);
		put_varint(e, c.n);
		for (uint32_t k = 0; k < 4; k++)
			put_scalar(e, k + 1, (uint64_t)f[k]);
	}
}

static void put_head(struct enc *e, const struct mp_pprof_builder *b);

void mp_pprof_builder_stream(struct mp_pprof_builder *b)
{
	/* (on one CPU the thread would only take turns with this one) */
	b->gz_want = mp_cpus_online() > 1;
}

static void stream_stop(struct mp_pprof_builder *b)
{
	mp_gz_stream_free(b->gz);
	b->gz = NULL;
	b->gz_want = false;
}

/* The samples added since the last feed to the stream, started at the
 * first with the head (the sample types, which cannot change once there
 * are samples). */
static void stream_feed(struct mp_pprof_builder *b)
{
	bool ok;

	if (!b->gz) {
		struct enc head = { NULL, 0 };

		b->gz = mp_gz_stream_new();
		put_head(&head, b);
		b->gz_head = b->gz ? malloc(head.n ? head.n : 1) : NULL;
		if (!b->gz_head) {
			stream_stop(b);
			return;
		}
		b->gz_head_len = head.n;
		head = (struct enc){ b->gz_head, 0 };
		put_head(&head, b);
		if (!mp_gz_stream_feed(b->gz, b->gz_head, b->gz_head_len)) {
			stream_stop(b);
			return;
		}
	}
	ok = mp_gz_stream_feed(b->gz, b->sbytes + b->gz_fed, b->nsbytes - b->gz_fed);
	b->gz_fed = b->nsbytes;
	if (!ok)
		stream_stop(b);
}

void mp_pprof_add_sample(struct mp_pprof_builder *b, const uint64_t *location_ids, size_t nlocations,
			 const int64_t *values, size_t nvalues,
			 const struct mp_pprof_label *labels, size_t nlabels)
{
	struct label_fields lf_small[8], *lf = lf_small;
	struct enc w;
	size_t max, len, head;

	assert(nvalues == b->nsample_types);
	for (size_t i = 0; i < nlocations; i++)
		assert(location_ids[i] >= 1 && location_ids[i] <= b->nlocations);
	if (nlabels > sizeof(lf_small) / sizeof(lf_small[0]) && !(lf = malloc(nlabels * sizeof(*lf))))
		oom();
	/* Strings interned once, in the order of the labels. */
	for (size_t i = 0; i < nlabels; i++) {
		const struct mp_pprof_label *l = &labels[i];

		lf[i].f[0] = intern(b, l->key);
		lf[i].f[1] = l->str ? intern(b, l->str) : 0;
		lf[i].f[2] = l->str ? 0 : l->num;
		lf[i].f[3] = !l->str && l->num_unit ? intern(b, l->num_unit) : 0;
	}
	/* Written once, as field 2 of the Profile: the fields at most `max`
	 * bytes, after room for the longest tag and length (6 bytes: the
	 * length is below 2^35), then moved to follow the real ones. */
	if (nlocations > SIZE_MAX / 32 - nvalues)
		oom();
	max = 2 * (1 + 10) + 10 * (nlocations + nvalues);
	if (nlabels > (SIZE_MAX - max) / LABEL_MAX)
		oom();
	max += LABEL_MAX * nlabels;
	RESERVE(b, sbytes, nsbytes, cap_sbytes, 6 + max);
	w = (struct enc){ b->sbytes + b->nsbytes + 6, 0 };
	put_sample_fields(&w, location_ids, nlocations, values, nvalues, lf, nlabels);
	len = w.n;
	assert(len <= max);
	w = (struct enc){ b->sbytes + b->nsbytes, 0 };
	put_tag(&w, 2, 2);
	put_varint(&w, len);
	head = w.n;
	memmove(b->sbytes + b->nsbytes + head, b->sbytes + b->nsbytes + 6, len);
	b->nsbytes += head + len;
	b->nsamples++;
	b->nsample_locs += nlocations;
	b->nlabels += nlabels;
	if (lf != lf_small)
		free(lf);
	if (b->gz_want && b->nsbytes - b->gz_fed >= GZ_FEED)
		stream_feed(b);
}

/* ---- serialization ------------------------------------------------------ */

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p)
		oom();
	return p;
}

/*
 * The builder's profile as protobuf-c's structure, pointing into the
 * builder's own arrays: what pack() serializes and what a caller that only
 * reads the profile back in memory (diff) uses without encoding it.
 */
struct view {
	Perftools__Profiles__Profile p;
	Perftools__Profiles__ValueType *types, period_type;
	Perftools__Profiles__Sample *samples;
	Perftools__Profiles__Label *labels, **label_ptrs;
	Perftools__Profiles__Mapping *mappings;
	Perftools__Profiles__Location *locations;
	Perftools__Profiles__Line *lines, **line_ptrs;
	Perftools__Profiles__Function *functions;
	uint64_t *sample_locs;   /* decoded from the builder's samples */
	int64_t *values;
};

/* A varint of the builder's own encoding (trusted: never malformed). */
static uint64_t get_varint(const uint8_t **q)
{
	uint64_t v = 0;
	unsigned shift = 0;
	uint8_t c;

	do {
		c = *(*q)++;
		v |= (uint64_t)(c & 0x7f) << shift;
		shift += 7;
	} while (c & 0x80);
	return v;
}

/* The view's samples, decoded from the builder's encoding of them. */
static void view_samples(struct view *v, const struct mp_pprof_builder *b)
{
	const uint8_t *q = b->sbytes;
	size_t nloc = 0, nval = 0, nlab = 0;

	for (size_t i = 0; i < b->nsamples; i++) {
		Perftools__Profiles__Sample *o = &v->samples[i];
		const uint8_t *end;

		perftools__profiles__sample__init(o);
		o->location_id = &v->sample_locs[nloc];
		o->value = &v->values[nval];
		o->label = &v->label_ptrs[nlab];
		uint64_t len;

		(void)get_varint(&q);                   /* field 2, length-delimited */
		len = get_varint(&q);
		end = q + len;
		while (q < end) {
			uint64_t field = get_varint(&q) >> 3;  /* 1, 2: packed; 3: a label */
			uint64_t flen = get_varint(&q);
			const uint8_t *fend = q + flen;

			if (field == 3) {
				Perftools__Profiles__Label *l = &v->labels[nlab];

				while (q < fend) {
					uint64_t lf = get_varint(&q) >> 3;
					int64_t x = (int64_t)get_varint(&q);

					if (lf == 1)
						l->key = x;
					else if (lf == 2)
						l->str = x;
					else if (lf == 3)
						l->num = x;
					else
						l->num_unit = x;
				}
				v->label_ptrs[nlab++] = l;
				o->n_label++;
				continue;
			}
			while (q < fend) {
				if (field == 1) {
					v->sample_locs[nloc++] = get_varint(&q);
					o->n_location_id++;
				} else {
					v->values[nval++] = (int64_t)get_varint(&q);
					o->n_value++;
				}
			}
		}
		if (!o->n_location_id)
			o->location_id = NULL;
		if (!o->n_value)
			o->value = NULL;
		if (!o->n_label)
			o->label = NULL;
	}
}

static struct view *view_new(struct mp_pprof_builder *b)
{
	struct view *v = xcalloc(1, sizeof(*v));
	Perftools__Profiles__Profile *p = &v->p;

	perftools__profiles__profile__init(p);
	v->types = xcalloc(b->nsample_types, sizeof(*v->types));
	v->samples = xcalloc(b->nsamples, sizeof(*v->samples));
	v->labels = xcalloc(b->nlabels, sizeof(*v->labels));
	v->label_ptrs = xcalloc(b->nlabels, sizeof(*v->label_ptrs));
	v->mappings = xcalloc(b->nmappings, sizeof(*v->mappings));
	v->locations = xcalloc(b->nlocations, sizeof(*v->locations));
	v->lines = xcalloc(b->nlines, sizeof(*v->lines));
	v->line_ptrs = xcalloc(b->nlines, sizeof(*v->line_ptrs));
	v->functions = xcalloc(b->nfunctions, sizeof(*v->functions));
	v->sample_locs = xcalloc(b->nsample_locs, sizeof(*v->sample_locs));
	v->values = xcalloc(b->nsamples * b->nsample_types, sizeof(*v->values));
	for (size_t i = 0; i < b->nlabels; i++)
		perftools__profiles__label__init(&v->labels[i]);

	p->n_sample_type = b->nsample_types;
	p->sample_type = xcalloc(b->nsample_types, sizeof(*p->sample_type));
	for (size_t i = 0; i < b->nsample_types; i++) {
		perftools__profiles__value_type__init(&v->types[i]);
		v->types[i].type = b->sample_types[i][0];
		v->types[i].unit = b->sample_types[i][1];
		p->sample_type[i] = &v->types[i];
	}
	view_samples(v, b);
	p->n_sample = b->nsamples;
	p->sample = xcalloc(b->nsamples, sizeof(*p->sample));
	for (size_t i = 0; i < b->nsamples; i++)
		p->sample[i] = &v->samples[i];
	p->n_mapping = b->nmappings;
	p->mapping = xcalloc(b->nmappings, sizeof(*p->mapping));
	for (size_t i = 0; i < b->nmappings; i++) {
		const struct bmapping *m = &b->mappings[i];
		Perftools__Profiles__Mapping *o = &v->mappings[i];

		perftools__profiles__mapping__init(o);
		o->id = i + 1;
		o->memory_start = m->start;
		o->memory_limit = m->limit;
		o->file_offset = m->offset;
		o->filename = m->file;
		o->build_id = m->build_id;
		o->has_functions = m->has_functions;
		o->has_filenames = m->has_filenames;
		o->has_line_numbers = m->has_line_numbers;
		o->has_inline_frames = m->has_inline_frames;
		p->mapping[i] = o;
	}
	for (size_t i = 0; i < b->nlines; i++) {
		perftools__profiles__line__init(&v->lines[i]);
		v->lines[i].function_id = b->lines[i].function_id;
		v->lines[i].line = b->lines[i].line;
		v->line_ptrs[i] = &v->lines[i];
	}
	p->n_location = b->nlocations;
	p->location = xcalloc(b->nlocations, sizeof(*p->location));
	for (size_t i = 0; i < b->nlocations; i++) {
		const struct blocation *l = &b->locations[i];
		Perftools__Profiles__Location *o = &v->locations[i];

		perftools__profiles__location__init(o);
		o->id = i + 1;
		o->mapping_id = l->mapping_id;
		o->address = l->address;
		o->n_line = l->nline;
		o->line = &v->line_ptrs[l->line_off];
		p->location[i] = o;
	}
	p->n_function = b->nfunctions;
	p->function = xcalloc(b->nfunctions, sizeof(*p->function));
	for (size_t i = 0; i < b->nfunctions; i++) {
		const struct bfunction *f = &b->functions[i];
		Perftools__Profiles__Function *o = &v->functions[i];

		perftools__profiles__function__init(o);
		o->id = i + 1;
		o->name = f->name;
		o->system_name = f->system_name;
		o->filename = f->file;
		o->start_line = f->start_line;
		p->function[i] = o;
	}
	p->n_string_table = b->nstrs;
	p->string_table = b->strs;
	p->time_nanos = b->time_nanos;
	p->duration_nanos = b->duration_nanos;
	if (b->has_period_type) {
		perftools__profiles__value_type__init(&v->period_type);
		v->period_type.type = b->period_type[0];
		v->period_type.unit = b->period_type[1];
		p->period_type = &v->period_type;
	}
	p->period = b->period;
	p->n_comment = b->ncomments;
	p->comment = b->comments;
	p->default_sample_type = b->default_sample_type;
	p->n_memprof_stat = b->nstats;
	p->memprof_stat = xcalloc(b->nstats, sizeof(*p->memprof_stat));
	for (size_t i = 0; i < b->nstats; i++)
		p->memprof_stat[i] = &b->stats[i];
	return v;
}

static void view_free(void *vp)
{
	struct view *v = vp;
	Perftools__Profiles__Profile *p = &v->p;

	free(p->sample_type);
	free(p->sample);
	free(p->mapping);
	free(p->location);
	free(p->function);
	free(p->memprof_stat);
	free(v->types);
	free(v->samples);
	free(v->labels);
	free(v->label_ptrs);
	free(v->mappings);
	free(v->locations);
	free(v->lines);
	free(v->line_ptrs);
	free(v->functions);
	free(v->sample_locs);
	free(v->values);
	free(v);
}

struct mp_profile *mp_pprof_builder_view(struct mp_pprof_builder *b)
{
	struct view *v = view_new(b);
	struct mp_profile *p = NULL;
	char *err = NULL;

	/* What the builder makes is valid by construction: only memory can
	 * fail here. */
	if (mp_profile_new_built(&v->p, &p, &err) < 0) {
		if (err) {
			fprintf(stderr, "memprof: internal error: the builder made a malformed "
				"profile: %s\n", err);
			abort();
		}
		oom();
	}
	p->release = view_free;
	p->owner = v;
	return p;
}

static void put_sample_type(struct enc *e, const struct mp_pprof_builder *b, size_t i)
{
	put_scalar(e, 1, (uint64_t)b->sample_types[i][0]);
	put_scalar(e, 2, (uint64_t)b->sample_types[i][1]);
}

static void put_period_type(struct enc *e, const struct mp_pprof_builder *b, size_t i)
{
	(void)i;
	put_scalar(e, 1, (uint64_t)b->period_type[0]);
	put_scalar(e, 2, (uint64_t)b->period_type[1]);
}

static void put_mapping(struct enc *e, const struct mp_pprof_builder *b, size_t i)
{
	const struct bmapping *m = &b->mappings[i];

	put_scalar(e, 1, i + 1);
	put_scalar(e, 2, m->start);
	put_scalar(e, 3, m->limit);
	put_scalar(e, 4, m->offset);
	put_scalar(e, 5, (uint64_t)m->file);
	put_scalar(e, 6, (uint64_t)m->build_id);
	put_scalar(e, 7, m->has_functions);
	put_scalar(e, 8, m->has_filenames);
	put_scalar(e, 9, m->has_line_numbers);
	put_scalar(e, 10, m->has_inline_frames);
}

static void put_line(struct enc *e, const struct mp_pprof_builder *b, size_t i)
{
	put_scalar(e, 1, b->lines[i].function_id);
	put_scalar(e, 2, (uint64_t)b->lines[i].line);
}

static void put_location(struct enc *e, const struct mp_pprof_builder *b, size_t i)
{
	const struct blocation *l = &b->locations[i];

	put_scalar(e, 1, i + 1);
	put_scalar(e, 2, l->mapping_id);
	put_scalar(e, 3, l->address);
	for (size_t k = 0; k < l->nline; k++)
		put_msg(e, 4, put_line, b, l->line_off + k);
}

static void put_function(struct enc *e, const struct mp_pprof_builder *b, size_t i)
{
	const struct bfunction *f = &b->functions[i];

	put_scalar(e, 1, i + 1);
	put_scalar(e, 2, (uint64_t)f->name);
	put_scalar(e, 3, (uint64_t)f->system_name);
	put_scalar(e, 4, (uint64_t)f->file);
	put_scalar(e, 5, (uint64_t)f->start_line);
}

static void put_stat(struct enc *e, const struct mp_pprof_builder *b, size_t i)
{
	const Perftools__Profiles__MemprofStat *st = &b->stats[i];

	if (st->name && st->name[0])
		put_bytes(e, 1, st->name, strlen(st->name));
	put_scalar(e, 2, (uint64_t)st->value);
}

/* The fields before the samples (sample_type). */
static void put_head(struct enc *e, const struct mp_pprof_builder *b)
{
	for (size_t i = 0; i < b->nsample_types; i++)
		put_msg(e, 1, put_sample_type, b, i);
}

/* The fields after the samples. */
static void put_tail(struct enc *e, const struct mp_pprof_builder *b)
{
	for (size_t i = 0; i < b->nmappings; i++)
		put_msg(e, 3, put_mapping, b, i);
	for (size_t i = 0; i < b->nlocations; i++)
		put_msg(e, 4, put_location, b, i);
	for (size_t i = 0; i < b->nfunctions; i++)
		put_msg(e, 5, put_function, b, i);
	for (size_t i = 0; i < b->nstrs; i++)
		put_bytes(e, 6, b->strs[i], strlen(b->strs[i]));
	/* (7, 8: drop_frames and keep_frames, never set) */
	put_scalar(e, 9, (uint64_t)b->time_nanos);
	put_scalar(e, 10, (uint64_t)b->duration_nanos);
	if (b->has_period_type)
		put_msg(e, 11, put_period_type, b, 0);
	put_scalar(e, 12, (uint64_t)b->period);
	put_packed(e, 13, (const uint64_t *)b->comments, b->ncomments);
	put_scalar(e, 14, (uint64_t)b->default_sample_type);
	for (size_t i = 0; i < b->nstats; i++)
		put_msg(e, 1000, put_stat, b, i);
}

/*
 * The profile's protobuf bytes, made where the samples' are: the head
 * goes before them, the tail after them, in the builder's own buffer (the
 * samples are most of a big profile: a copy of them would be the biggest
 * thing of all at the peak).  unpack() puts the samples back where they
 * were; until then the builder must not change.
 */
static uint8_t *pack(struct mp_pprof_builder *b, size_t *ret_len, size_t *ret_head)
{
	struct enc head = { NULL, 0 }, tail = { NULL, 0 };

	put_head(&head, b);
	put_tail(&tail, b);
	RESERVE(b, sbytes, nsbytes, cap_sbytes, head.n + tail.n);
	if (b->nsbytes)
		memmove(b->sbytes + head.n, b->sbytes, b->nsbytes);
	*ret_head = head.n;
	*ret_len = head.n + b->nsbytes + tail.n;
	head = (struct enc){ b->sbytes, 0 };
	put_head(&head, b);
	tail = (struct enc){ b->sbytes, head.n + b->nsbytes };
	put_tail(&tail, b);
	assert(tail.n == *ret_len);
	return b->sbytes;
}

static void unpack(struct mp_pprof_builder *b, size_t head)
{
	if (b->nsbytes)
		memmove(b->sbytes, b->sbytes + head, b->nsbytes);
}

/* The stream's gzip of the whole profile, when it has one and can make
 * it: 0, or nonzero and nothing in *ret_buf (the stream is gone). */
static int stream_end(struct mp_pprof_builder *b, uint8_t **ret_buf, size_t *ret_len)
{
	struct enc head = { NULL, 0 }, tail = { NULL, 0 };
	uint8_t *rest = NULL;
	size_t nrest = b->nsbytes - b->gz_fed;
	int r = 1;

	if (!b->gz)
		return 1;
	/* The head fed is the head still (nothing changes it once there
	 * are samples); then the samples not fed yet and the tail. */
	put_head(&head, b);
	put_tail(&tail, b);
	if (head.n == b->gz_head_len && (rest = malloc(head.n + nrest + tail.n + 1))) {
		head = (struct enc){ rest, 0 };
		put_head(&head, b);
		if (memcmp(rest, b->gz_head, head.n) != 0) {
			free(rest);
			rest = NULL;
		}
	}
	if (rest) {
		memcpy(rest, b->sbytes + b->gz_fed, nrest);
		tail = (struct enc){ rest, nrest };
		put_tail(&tail, b);
		r = mp_gz_stream_end(b->gz, rest, tail.n, ret_buf, ret_len);
		free(rest);
	}
	stream_stop(b);
	return r;
}

int mp_pprof_encode(struct mp_pprof_builder *b, uint8_t **ret_buf, size_t *ret_len)
{
	uint8_t *raw, *gz = NULL;
	size_t raw_len, head, gz_len = 0;
	int r;

	if (stream_end(b, &gz, &gz_len) == 0) {
		*ret_buf = gz;
		*ret_len = gz_len;
		return 0;
	}
	raw = pack(b, &raw_len, &head);
	r = mp_gzip(raw, raw_len, &gz, &gz_len);
	unpack(b, head);
	if (r < 0)
		return r;
	*ret_buf = gz;
	*ret_len = gz_len;
	return 0;
}

int mp_pprof_write_file(struct mp_pprof_builder *b, const char *path)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	r = mp_pprof_encode(b, &buf, &len);
	if (r == 0)
		r = mp_file_write_whole(path, buf, len);
	free(buf);
	return r;
}

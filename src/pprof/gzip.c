/* SPDX-License-Identifier: MIT */
/*
 * The gzip of a profile's bytes (internal.h): all at once, in parts on
 * several cores for a big one, or streamed while the profile is built.
 * CLI only.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "pprof/internal.h"

/*
 * gzip, as Go's compress/gzip writes it, at level 1 as Go's runtime/pprof
 * writes its profiles (level 6 took three times as long for files a third
 * smaller).  A big profile is compressed in parts on several cores, the way
 * pigz does: each part is a raw deflate stream primed with the 32 KiB before
 * it and ended by a sync flush (the last one by the final block), so the
 * parts laid end to end are one deflate stream, in one gzip member with one
 * CRC (crc32_combine).  Any gzip reader sees an ordinary file.
 */
#define GZ_PART_MIN ((size_t)4 << 20)
#define GZ_MAX_PARTS 4
#define GZ_WINDOW ((size_t)32 << 10)
#define GZ_MAX_LEN ((size_t)UINT32_MAX / 2)

/* Header: magic, deflate, no flags, no mtime, "fastest", Unix. */
static const uint8_t gzip_header[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 3 };

static long online_cpus(void)
{
	return sysconf(_SC_NPROCESSORS_ONLN);
}

/* How many parts in_len bytes are compressed in: one per GZ_PART_MIN, at
 * most one per CPU and GZ_MAX_PARTS, at least one. */
static size_t gz_nparts(size_t in_len)
{
	long cpus = online_cpus();
	size_t nparts = in_len / GZ_PART_MIN;

	if (cpus > 0 && nparts > (size_t)cpus)
		nparts = (size_t)cpus;
	if (nparts > GZ_MAX_PARTS)
		nparts = GZ_MAX_PARTS;
	return nparts < 1 ? 1 : nparts;
}

struct gz_part {
	const uint8_t *in, *dict;
	size_t len, dict_len;
	bool last;
	uint8_t *out;
	size_t out_len;
	uLong crc;
	int r;
};

static void *gz_part_run(void *arg)
{
	struct gz_part *g = arg;
	z_stream zs;
	size_t cap;

	memset(&zs, 0, sizeof(zs));
	g->r = -ENOMEM;
	if (deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return NULL;
	if (g->dict_len && deflateSetDictionary(&zs, g->dict, (uInt)g->dict_len) != Z_OK)
		goto out;
	cap = deflateBound(&zs, (uLong)g->len) + 64;   /* + the sync flush's empty block */
	g->out = malloc(cap);
	if (!g->out)
		goto out;
	zs.next_in = (Bytef *)g->in;
	zs.avail_in = (uInt)g->len;
	zs.next_out = g->out;
	zs.avail_out = (uInt)cap;
	int zr = deflate(&zs, g->last ? Z_FINISH : Z_SYNC_FLUSH);
	if (g->last ? zr != Z_STREAM_END : zr != Z_OK || zs.avail_in != 0 || zs.avail_out == 0) {
		g->r = -EIO;
		goto out;
	}
	g->out_len = cap - zs.avail_out;
	g->crc = crc32(0L, g->in, (uInt)g->len);
	g->r = 0;
out:
	deflateEnd(&zs);
	return NULL;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

int mp_gzip(const uint8_t *in, size_t in_len, uint8_t **ret_buf, size_t *ret_len)
{
	struct gz_part parts[GZ_MAX_PARTS];
	pthread_t th[GZ_MAX_PARTS];
	bool started[GZ_MAX_PARTS] = { false };
	size_t nparts = gz_nparts(in_len), off = 0, total;
	uint8_t *out = NULL;
	uLong crc = crc32(0L, Z_NULL, 0);
	int r = 0;

	if (in_len > GZ_MAX_LEN)
		return -EFBIG;
	for (size_t i = 0; i < nparts; i++) {
		size_t len = i + 1 < nparts ? in_len / nparts : in_len - off;
		size_t dict = off < GZ_WINDOW ? off : GZ_WINDOW;

		parts[i] = (struct gz_part){ .in = in + off, .len = len, .dict = in + off - dict,
					     .dict_len = dict, .last = i + 1 == nparts };
		off += len;
	}
	/* Parts after the first on their own threads; the first on this one. */
	for (size_t i = 1; i < nparts; i++)
		started[i] = pthread_create(&th[i], NULL, gz_part_run, &parts[i]) == 0;
	gz_part_run(&parts[0]);
	for (size_t i = 1; i < nparts; i++) {
		if (started[i])
			pthread_join(th[i], NULL);
		else
			gz_part_run(&parts[i]);
	}
	total = sizeof(gzip_header) + 8;
	for (size_t i = 0; i < nparts; i++) {
		if (parts[i].r < 0 && r == 0)
			r = parts[i].r;
		total += parts[i].out_len;
	}
	if (r == 0 && !(out = malloc(total)))
		r = -ENOMEM;
	if (r == 0) {
		memcpy(out, gzip_header, sizeof(gzip_header));
		off = sizeof(gzip_header);
		for (size_t i = 0; i < nparts; i++) {
			memcpy(out + off, parts[i].out, parts[i].out_len);
			off += parts[i].out_len;
			crc = crc32_combine(crc, parts[i].crc, (z_off_t)parts[i].len);
		}
		put_le32(out + off, (uint32_t)crc);
		put_le32(out + off + 4, (uint32_t)in_len);
		*ret_buf = out;
		*ret_len = total;
	}
	for (size_t i = 0; i < nparts; i++)
		free(parts[i].out);
	return r;
}


/* ---- streamed ---------------------------------------------------------------------- */

/*
 * A profile of one part is one raw deflate stream of all its bytes, and
 * zlib's deflate makes the same bytes whatever pieces its input comes in
 * and whatever room its output has, as long as nothing is flushed before
 * the end (Z_NO_FLUSH: it seeks a match only with MIN_LOOKAHEAD bytes
 * ahead of it or at the end, and ends a block when its symbol buffer
 * fills).  So a thread can compress a profile's samples while the builder
 * still adds them, and the file is the one mp_gzip makes of the whole
 * (test-pprof checks it).  Only with two CPUs or more, and only below
 * GZ_STREAM_MAX bytes: from there, with two CPUs, mp_gzip makes two parts.
 */
#define GZ_STREAM_MAX (2 * GZ_PART_MIN)

struct gz_chunk {
	struct gz_chunk *next;
	size_t len;
	bool last;
	uint8_t data[];
};

struct mp_gz_stream {
	pthread_t thread;
	bool joined;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct gz_chunk *first, **lastp;   /* the queue (under lock) */
	bool quit;                  /* (under lock) given up: stop */
	size_t in_len;              /* bytes fed so far (the feeder's) */
	/* The thread's while it runs: */
	z_stream zs;
	uint8_t *out;
	size_t out_len, out_cap;
	uLong crc;
	int r;                      /* 0, or how compressing failed */
};

static int stream_deflate(struct mp_gz_stream *s, const uint8_t *in, size_t len, bool last)
{
	int zr;

	s->crc = crc32(s->crc, in, (uInt)len);
	s->zs.next_in = (Bytef *)in;
	s->zs.avail_in = (uInt)len;
	do {
		/* Room for about what this takes (deflate stops when the room
		 * is full and goes on at the next call: the same bytes). */
		size_t want = s->out_len + len / 2 + ((size_t)64 << 10);

		if (s->out_cap < want) {
			size_t cap = s->out_cap * 2 > want ? s->out_cap * 2 : want;
			uint8_t *p = realloc(s->out, cap);

			if (!p)
				return -ENOMEM;
			s->out = p;
			s->out_cap = cap;
		}
		s->zs.next_out = s->out + s->out_len;
		s->zs.avail_out = (uInt)(s->out_cap - s->out_len);
		zr = deflate(&s->zs, last ? Z_FINISH : Z_NO_FLUSH);
		s->out_len = s->out_cap - s->zs.avail_out;
		if (zr != Z_OK && zr != Z_BUF_ERROR && zr != Z_STREAM_END)
			return -EIO;
	} while (last ? zr != Z_STREAM_END : s->zs.avail_in != 0 || s->zs.avail_out == 0);
	return 0;
}

static void *stream_main(void *arg)
{
	struct mp_gz_stream *s = arg;
	bool last = false;

	while (!last) {
		struct gz_chunk *c;

		pthread_mutex_lock(&s->lock);
		while (!s->first && !s->quit)
			pthread_cond_wait(&s->cond, &s->lock);
		if (s->quit) {
			pthread_mutex_unlock(&s->lock);
			break;
		}
		c = s->first;
		s->first = c->next;
		if (!s->first)
			s->lastp = &s->first;
		pthread_mutex_unlock(&s->lock);
		if (s->r == 0)
			s->r = stream_deflate(s, c->data, c->len, c->last);
		last = c->last;
		free(c);
	}
	return NULL;
}

struct mp_gz_stream *mp_gz_stream_new(void)
{
	struct mp_gz_stream *s;
	sigset_t all, old;
	int err;

	if (online_cpus() < 2)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	if (deflateInit2(&s->zs, Z_BEST_SPEED, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		free(s);
		return NULL;
	}
	s->crc = crc32(0L, Z_NULL, 0);
	s->lastp = &s->first;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	/* The thread takes no signal: those are the caller's threads' to take. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&s->thread, NULL, stream_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		s->joined = true;
		mp_gz_stream_free(s);
		return NULL;
	}
	return s;
}

static int stream_put(struct mp_gz_stream *s, const uint8_t *in, size_t len, bool last)
{
	struct gz_chunk *c = malloc(sizeof(*c) + len);

	if (!c)
		return -ENOMEM;
	c->next = NULL;
	c->len = len;
	c->last = last;
	if (len)
		memcpy(c->data, in, len);
	pthread_mutex_lock(&s->lock);
	*s->lastp = c;
	s->lastp = &c->next;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	s->in_len += len;
	return 0;
}

bool mp_gz_stream_feed(struct mp_gz_stream *s, const uint8_t *in, size_t len)
{
	return s->in_len + len < GZ_STREAM_MAX && stream_put(s, in, len, false) == 0;
}

int mp_gz_stream_end(struct mp_gz_stream *s, const uint8_t *in, size_t len, uint8_t **ret_buf,
		     size_t *ret_len)
{
	size_t total = s->in_len + len;
	uint8_t *out;

	if (total >= GZ_STREAM_MAX || gz_nparts(total) != 1 || stream_put(s, in, len, true) < 0)
		return 1;
	pthread_join(s->thread, NULL);
	s->joined = true;
	if (s->r < 0)
		return s->r;
	out = malloc(sizeof(gzip_header) + s->out_len + 8);
	if (!out)
		return -ENOMEM;
	memcpy(out, gzip_header, sizeof(gzip_header));
	memcpy(out + sizeof(gzip_header), s->out, s->out_len);
	put_le32(out + sizeof(gzip_header) + s->out_len, (uint32_t)s->crc);
	put_le32(out + sizeof(gzip_header) + s->out_len + 4, (uint32_t)total);
	*ret_buf = out;
	*ret_len = sizeof(gzip_header) + s->out_len + 8;
	return 0;
}

void mp_gz_stream_free(struct mp_gz_stream *s)
{
	if (!s)
		return;
	if (!s->joined) {
		pthread_mutex_lock(&s->lock);
		s->quit = true;
		pthread_cond_signal(&s->cond);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->thread, NULL);
	}
	while (s->first) {
		struct gz_chunk *c = s->first;

		s->first = c->next;
		free(c);
	}
	deflateEnd(&s->zs);
	free(s->out);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

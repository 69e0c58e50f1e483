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

#include "common/cpus.h"
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

/* How many parts in_len bytes are compressed in: one per GZ_PART_MIN, at
 * most one per CPU and GZ_MAX_PARTS, at least one. */
static size_t gz_nparts(size_t in_len)
{
	long cpus = mp_cpus_online();
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
 * A profile of one part is one raw deflate stream of all its bytes, made
 * here on a thread while the builder still adds samples; it must be the
 * file mp_gzip makes of the whole.  zlib's deflate (1.2.13, level 1,
 * nothing flushed before the end) makes the same bytes whatever room its
 * output has, and almost whatever pieces its input comes in: it seeks a
 * match only with MIN_LOOKAHEAD bytes ahead of it or at the end, and ends
 * a block when its symbol buffer fills.  Almost: short of lookahead, it
 * refills its 64 KiB window, first sliding it down 32 KiB once its
 * position is 32 KiB + MAX_DIST or more.  Given all the input at once it
 * refills only when the window is used up, after 64 KiB and then every
 * 32 KiB; a piece that ends elsewhere makes it refill earlier, and a slide
 * then made at exactly 32 KiB + MAX_DIST forgets the string MAX_DIST
 * behind, which one call would match (a first piece of 65,535 bytes did
 * it; test-pprof has the case).  So deflate gets pieces that end only
 * where one call would refill (refill_end: 64 KiB + k 32 KiB), the bytes
 * fed beyond waiting in `stage` for the next piece or the end; test-pprof
 * compares the bytes for many ways of cutting.  Only below GZ_STREAM_MAX
 * bytes: from there, with two CPUs, mp_gzip makes two parts.
 */
#define GZ_STREAM_MAX (2 * GZ_PART_MIN)

/* The longest prefix of n bytes that deflate may be given alone. */
static size_t refill_end(size_t n)
{
	return n < 2 * GZ_WINDOW ? 0 : n - (n - 2 * GZ_WINDOW) % GZ_WINDOW;
}

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
	/* The feeder's: */
	size_t queued;              /* bytes queued so far (a refill_end) */
	size_t nstage;              /* bytes fed after those, in stage */
	uint8_t stage[2 * GZ_WINDOW];
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

/* stage[0..nstage) then in[0..len) queued for the thread. */
static int stream_put(struct mp_gz_stream *s, const uint8_t *in, size_t len, bool last)
{
	struct gz_chunk *c = malloc(sizeof(*c) + s->nstage + len);

	if (!c)
		return -ENOMEM;
	c->next = NULL;
	c->len = s->nstage + len;
	c->last = last;
	memcpy(c->data, s->stage, s->nstage);
	if (len)
		memcpy(c->data + s->nstage, in, len);
	s->queued += c->len;
	s->nstage = 0;
	pthread_mutex_lock(&s->lock);
	*s->lastp = c;
	s->lastp = &c->next;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

bool mp_gz_stream_feed(struct mp_gz_stream *s, const uint8_t *in, size_t len)
{
	size_t fed = s->queued + s->nstage, end;

	if (fed + len >= GZ_STREAM_MAX)
		return false;
	end = refill_end(fed + len);
	if (end > fed) {   /* (the stage's bytes lie before end) */
		if (stream_put(s, in, end - fed, false) < 0)
			return false;
		in += end - fed;
		len -= end - fed;
	}
	/* (fewer than 64 KiB after the last piece's end) */
	memcpy(s->stage + s->nstage, in, len);
	s->nstage += len;
	return true;
}

int mp_gz_stream_end(struct mp_gz_stream *s, const uint8_t *in, size_t len, uint8_t **ret_buf,
		     size_t *ret_len)
{
	size_t total = s->queued + s->nstage + len;
	uint8_t *out;

	if (total >= GZ_STREAM_MAX || stream_put(s, in, len, true) < 0)
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

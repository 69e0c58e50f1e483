/* SPDX-License-Identifier: MIT */
/*
 * Reading pprof profiles: gzip'd or plain profile.proto bytes -> a validated
 * struct mp_profile.  Input is untrusted: every failure returns a negative
 * errno and a one-line reason, never a crash.
 *
 * Decompression follows what pprof's ParseData accepts: data starting with the
 * gzip magic is inflated, member after member (Go's gzip reader is
 * multistream), and anything after the last member that is not another gzip
 * member is an error.  The inflated size is capped (zip bombs).
 *
 * protobuf-c's unpacker only says yes or no, so before calling it a small
 * wire-format walker that knows profile.proto's shape checks the bytes and
 * names the first problem (truncated field, wrong wire type, ...) with its
 * offset.
 */
#include "common/errmsg.h"
#include "common/grow.h"
#include "common/open-input.h"
#include "pprof/pprof.h"

#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static const char *size_text(size_t n)
{
	static char buf[32];

	if (n >= ((size_t)1 << 30) && n % ((size_t)1 << 30) == 0)
		snprintf(buf, sizeof(buf), "%zu GiB", n >> 30);
	else if (n >= ((size_t)1 << 20) && n % ((size_t)1 << 20) == 0)
		snprintf(buf, sizeof(buf), "%zu MiB", n >> 20);
	else
		snprintf(buf, sizeof(buf), "%zu bytes", n);
	return buf;
}

/* ---- gzip -------------------------------------------------------------- */

static bool is_gzip(const uint8_t *buf, size_t len)
{
	return len >= 2 && buf[0] == 0x1f && buf[1] == 0x8b;
}

static int gunzip(const uint8_t *in, size_t in_len, size_t max, uint8_t **ret_out, size_t *ret_len,
		  char **ret_err)
{
	const size_t step = (size_t)1 << 30;   /* zlib counts in uInt */
	size_t in_pos = 0, cap = 0, len = 0;
	uint8_t *out = NULL;
	z_stream zs;
	int r, zr;

	memset(&zs, 0, sizeof(zs));
	/* 16 + MAX_WBITS: gzip wrapper only (no raw deflate, no zlib header). */
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
		mp_set_err(ret_err, "cannot initialize zlib");
		return -ENOMEM;
	}
	for (;;) {
		size_t avail_out, avail_in;

		if (len == cap) {
			/* Allocating max + 1 bytes at most tells "too big" apart. */
			size_t ncap = cap ? cap * 2 : (in_len < 4096 ? 16384 : in_len * 4);
			uint8_t *n;

			if (ncap > max + 1 || ncap < cap)
				ncap = max + 1;
			if (ncap <= cap) {
				mp_set_err(ret_err, "decompressed profile is larger than %s", size_text(max));
				r = -EFBIG;
				goto out;
			}
			/* Not MP_GROW: it may round up past max + 1. */
			n = realloc(out, ncap);
			if (!n) {
				mp_set_err(ret_err, "out of memory decompressing profile");
				r = -ENOMEM;
				goto out;
			}
			out = n;
			cap = ncap;
		}
		if (zs.avail_in == 0) {
			avail_in = in_len - in_pos < step ? in_len - in_pos : step;
			zs.next_in = (Bytef *)in + in_pos;
			zs.avail_in = (uInt)avail_in;
			in_pos += avail_in;
		}
		avail_out = cap - len < step ? cap - len : step;
		zs.next_out = out + len;
		zs.avail_out = (uInt)avail_out;
		zr = inflate(&zs, Z_NO_FLUSH);
		len += avail_out - zs.avail_out;
		switch (zr) {
		case Z_OK:
			continue;
		case Z_BUF_ERROR:
			/* No progress: either the output is full (grow) or the input is gone. */
			if (zs.avail_out == 0)
				continue;
			mp_set_err(ret_err, "truncated gzip data");
			r = -EBADMSG;
			goto out;
		case Z_STREAM_END: {
			size_t used = in_pos - zs.avail_in;

			if (used == in_len)
				break;
			/* Another member follows (Go reads them all), or garbage. */
			if (!is_gzip(in + used, in_len - used)) {
				mp_set_err(ret_err, "trailing garbage after gzip data at offset %zu", used);
				r = -EBADMSG;
				goto out;
			}
			if (inflateReset(&zs) != Z_OK) {
				mp_set_err(ret_err, "cannot reset zlib");
				r = -ENOMEM;
				goto out;
			}
			continue;
		}
		case Z_MEM_ERROR:
			mp_set_err(ret_err, "out of memory decompressing profile");
			r = -ENOMEM;
			goto out;
		default:
			mp_set_err(ret_err, "corrupt gzip data: %s", zs.msg ? zs.msg : "invalid data");
			r = -EBADMSG;
			goto out;
		}
		break;
	}
	if (len > max) {
		mp_set_err(ret_err, "decompressed profile is larger than %s", size_text(max));
		r = -EFBIG;
		goto out;
	}
	*ret_out = out;
	*ret_len = len;
	out = NULL;
	r = 0;
out:
	inflateEnd(&zs);
	free(out);
	return r;
}

/* ---- wire-format walk ---------------------------------------------------- */

/*
 * profile.proto's messages, by field number: 'm' sub-message (with its
 * type), 'v' varint, 'V' repeated varint (plain or packed), 's' string.
 * Unknown field numbers are skipped like any protobuf parser does.
 */
enum msg_kind { MSG_PROFILE, MSG_VALUE_TYPE, MSG_SAMPLE, MSG_LABEL, MSG_MAPPING, MSG_LOCATION,
		MSG_LINE, MSG_FUNCTION };

struct msg_schema {
	const char *name;
	const char *fields;            /* index = field number */
	enum msg_kind sub[16];         /* message type of 'm' fields */
};

static const struct msg_schema schemas[] = {
	[MSG_PROFILE] = { "Profile", "-mmmmmsvvvvmvVv",
		{ [1] = MSG_VALUE_TYPE, [2] = MSG_SAMPLE, [3] = MSG_MAPPING, [4] = MSG_LOCATION,
		  [5] = MSG_FUNCTION, [11] = MSG_VALUE_TYPE } },
	[MSG_VALUE_TYPE] = { "ValueType", "-vv", { 0 } },
	[MSG_SAMPLE] = { "Sample", "-VVm", { [3] = MSG_LABEL } },
	[MSG_LABEL] = { "Label", "-vvvv", { 0 } },
	[MSG_MAPPING] = { "Mapping", "-vvvvvvvvvv", { 0 } },
	[MSG_LOCATION] = { "Location", "-vvvmv", { [4] = MSG_LINE } },
	[MSG_LINE] = { "Line", "-vv", { 0 } },
	[MSG_FUNCTION] = { "Function", "-vvvvv", { 0 } },
};

/* 0 and the value, or -1 for a truncated or over-long varint. */
static int read_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *ret)
{
	uint64_t v = 0;

	for (int shift = 0; shift < 70; shift += 7) {
		uint8_t b;

		if (*pos >= len)
			return -1;
		b = p[(*pos)++];
		if (shift == 63 && b > 1)
			return -2;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*ret = v;
			return 0;
		}
	}
	return -2;
}

static int walk(const uint8_t *p, size_t start, size_t end, enum msg_kind kind, char **ret_err)
{
	const struct msg_schema *sc = &schemas[kind];
	size_t nfields = strlen(sc->fields);
	size_t pos = start;

	while (pos < end) {
		size_t at = pos;
		uint64_t key, v;
		uint64_t field;
		int wt, r;
		char want;

		r = read_varint(p, end, &pos, &key);
		if (r < 0) {
			mp_set_err(ret_err, "invalid protobuf: %s field key in %s at offset %zu",
				r == -1 ? "truncated" : "over-long", sc->name, at);
			return -EBADMSG;
		}
		field = key >> 3;
		wt = (int)(key & 7);
		if (field == 0 || field > 536870911) {
			mp_set_err(ret_err, "invalid protobuf: bad field number %" PRIu64 " in %s at offset %zu",
				field, sc->name, at);
			return -EBADMSG;
		}
		want = field < nfields ? sc->fields[field] : '?';
		if ((want == 'm' || want == 's') && wt != 2) {
			mp_set_err(ret_err, "invalid protobuf: %s field %" PRIu64 " at offset %zu has wire type %d, expected 2",
				sc->name, field, at, wt);
			return -EBADMSG;
		}
		if (want == 'v' && wt != 0) {
			mp_set_err(ret_err, "invalid protobuf: %s field %" PRIu64 " at offset %zu has wire type %d, expected 0",
				sc->name, field, at, wt);
			return -EBADMSG;
		}
		if (want == 'V' && wt != 0 && wt != 2) {
			mp_set_err(ret_err, "invalid protobuf: %s field %" PRIu64 " at offset %zu has wire type %d, expected 0 or 2",
				sc->name, field, at, wt);
			return -EBADMSG;
		}
		switch (wt) {
		case 0:
			r = read_varint(p, end, &pos, &v);
			if (r < 0) {
				mp_set_err(ret_err, "invalid protobuf: %s varint of %s field %" PRIu64 " at offset %zu",
					r == -1 ? "truncated" : "over-long", sc->name, field, at);
				return -EBADMSG;
			}
			break;
		case 1:
		case 5: {
			size_t n = wt == 1 ? 8 : 4;

			if (end - pos < n) {
				mp_set_err(ret_err, "invalid protobuf: truncated %s field %" PRIu64 " at offset %zu",
					sc->name, field, at);
				return -EBADMSG;
			}
			pos += n;
			break;
		}
		case 2:
			r = read_varint(p, end, &pos, &v);
			if (r < 0 || v > end - pos) {
				mp_set_err(ret_err, "invalid protobuf: truncated %s field %" PRIu64 " at offset %zu",
					sc->name, field, at);
				return -EBADMSG;
			}
			if (want == 'm') {
				r = walk(p, pos, pos + v, sc->sub[field], ret_err);
				if (r < 0)
					return r;
			} else if (want == 'V') {
				size_t q = pos;

				while (q < pos + v) {
					uint64_t x;

					if (read_varint(p, pos + v, &q, &x) < 0) {
						mp_set_err(ret_err, "invalid protobuf: bad packed varints in %s field %" PRIu64 " at offset %zu",
							sc->name, field, at);
						return -EBADMSG;
					}
				}
			}
			pos += v;
			break;
		default:
			/* Groups (3, 4) never appear in profile.proto; 6 and 7 do not exist. */
			mp_set_err(ret_err, "invalid protobuf: unsupported wire type %d in %s at offset %zu",
				wt, sc->name, at);
			return -EBADMSG;
		}
	}
	return 0;
}

/* ---- the unpacked message's memory ------------------------------------------
 * protobuf-c allocates every sub-message, string and array on its own; a
 * profile of 100 000 samples is hundreds of thousands of blocks, and
 * freeing them one by one took as long as reading them.  They come from an
 * arena instead, which the profile owns and mp_profile_free releases at
 * once. */

#define ARENA_CHUNK ((size_t)1 << 20)

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, cap;
	max_align_t data[];
};

struct arena {
	struct arena_chunk *head;
};

static void *arena_alloc(void *ad, size_t n)
{
	struct arena *a = ad;
	n = (n + 15) & ~(size_t)15;
	if (!a->head || a->head->cap - a->head->used < n) {
		size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
		struct arena_chunk *c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->next = a->head;
		c->used = 0;
		c->cap = cap;
		a->head = c;
	}
	void *p = (char *)a->head->data + a->head->used;
	a->head->used += n;
	return p;
}

static void arena_free(void *ad, void *p)
{
	(void)ad;
	(void)p;   /* everything goes at once with the arena */
}

static void arena_release(void *ad)
{
	struct arena *a = ad;

	for (struct arena_chunk *c = a->head, *n; c; c = n) {
		n = c->next;
		free(c);
	}
	free(a);
}

/* ---- parse --------------------------------------------------------------- */

int mp_pprof_parse_limited(const uint8_t *buf, size_t len, size_t max_decompressed,
			   struct mp_profile **ret, char **ret_err)
{
	uint8_t *plain = NULL;
	size_t plain_len = len;
	const uint8_t *data = buf;
	Perftools__Profiles__Profile *msg;
	struct mp_profile *p = NULL;
	char *why = NULL;
	int r;

	if (ret_err)
		*ret_err = NULL;
	if (len == 0) {
		mp_set_err(ret_err, "empty file");
		return -EBADMSG;
	}
	if (is_gzip(buf, len)) {
		r = gunzip(buf, len, max_decompressed, &plain, &plain_len, ret_err);
		if (r < 0)
			return r;
		data = plain;
		if (plain_len == 0) {
			mp_set_err(ret_err, "empty profile inside gzip data");
			r = -EBADMSG;
			goto out;
		}
	} else if (len > max_decompressed) {
		mp_set_err(ret_err, "profile is larger than %s", size_text(max_decompressed));
		return -EFBIG;
	}
	r = walk(data, 0, plain_len, MSG_PROFILE, ret_err);
	if (r < 0)
		goto out;
	struct arena *ar = calloc(1, sizeof(*ar));
	if (!ar) {
		r = -ENOMEM;
		goto out;
	}
	ProtobufCAllocator alloc = { .alloc = arena_alloc, .free = arena_free, .allocator_data = ar };
	msg = perftools__profiles__profile__unpack(&alloc, plain_len, data);
	if (!msg) {
		arena_release(ar);
		mp_set_err(ret_err, "invalid protobuf: not a profile.proto message");
		r = -EBADMSG;
		goto out;
	}
	r = mp_profile_new(msg, &p, &why);
	if (r < 0) {
		if (r == -ENOMEM)
			mp_set_err(ret_err, "out of memory validating profile");
		else
			mp_set_err(ret_err, "malformed profile: %s", why ? why : "invalid");
		free(why);
		arena_release(ar);
		goto out;
	}
	p->release = arena_release;
	p->owner = ar;
	*ret = p;
	r = 0;
out:
	free(plain);
	return r;
}

int mp_pprof_parse(const uint8_t *buf, size_t len, struct mp_profile **ret, char **ret_err)
{
	return mp_pprof_parse_limited(buf, len, MP_PPROF_MAX_DECOMPRESSED, ret, ret_err);
}

int mp_pprof_read_file(const char *path, struct mp_profile **ret, char **ret_err)
{
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;
	struct stat st;
	int fd, r;

	if (ret_err)
		*ret_err = NULL;
	fd = mp_open_input(path);
	if (fd < 0) {
		mp_set_err(ret_err, "%s", strerror(-fd));
		return fd;
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		r = -EISDIR;
		mp_set_err(ret_err, "%s", strerror(EISDIR));
		goto out;
	}
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    (uint64_t)st.st_size <= MP_PPROF_MAX_DECOMPRESSED) {
		/* One byte more than the size, so the first read sees the end. */
		buf = malloc((size_t)st.st_size + 1);
		if (!buf) {
			r = -ENOMEM;
			mp_set_err(ret_err, "%s", strerror(ENOMEM));
			goto out;
		}
		cap = (size_t)st.st_size + 1;
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {
			if (cap > MP_PPROF_MAX_DECOMPRESSED) {
				r = -EFBIG;
				mp_set_err(ret_err, "file is larger than %s", size_text(MP_PPROF_MAX_DECOMPRESSED));
				goto out;
			}
			if (MP_GROW(buf, cap ? cap * 2 : 65536, cap) < 0) {
				r = -ENOMEM;
				mp_set_err(ret_err, "%s", strerror(ENOMEM));
				goto out;
			}
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			mp_set_err(ret_err, "%s", strerror(-r));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > MP_PPROF_MAX_DECOMPRESSED) {
		r = -EFBIG;
		mp_set_err(ret_err, "file is larger than %s", size_text(MP_PPROF_MAX_DECOMPRESSED));
		goto out;
	}
	r = mp_pprof_parse(buf, len, ret, ret_err);
out:
	close(fd);
	free(buf);
	return r;
}

/* SPDX-License-Identifier: MIT */
/* Between the pprof module's own files, never outside it.  CLI only. */
#ifndef MP_PPROF_INTERNAL_H
#define MP_PPROF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pprof/pprof.h"

/*
 * mp_profile_new() for a message the builder made (validate.c): its ids
 * are indexed and nothing else is checked, for the builder's output holds
 * every rule by construction and checking a big one again costs as much as
 * reading it.  Same returns.
 */
int mp_profile_new_built(const Perftools__Profiles__Profile *msg, struct mp_profile **ret,
			 char **ret_err);

/*
 * gzip.c: in[0..in_len) gzip'd as Go writes it, at level 1, a big input in
 * parts on several cores (one deflate stream, one member).  0, -ENOMEM,
 * -EFBIG (2 GiB or more), -EIO.
 */
int mp_gzip(const uint8_t *in, size_t in_len, uint8_t **ret_buf, size_t *ret_len);

/*
 * The same bytes as mp_gzip's, compressed on a thread of its own while the
 * input is still being made: mp_gz_stream_feed the input in pieces of any
 * size, in order, then mp_gz_stream_end with the last piece.  new: NULL
 * when it cannot start.  feed copies the piece; false when the stream gave
 * up (the input is too long for it: mp_gzip will compress it in parts),
 * then free it.  end: 0 and the gzip'd bytes of everything fed (malloc'd),
 * or 1 when mp_gzip would make them in parts, or a negative errno (the
 * caller calls mp_gzip on the whole in both cases).  free (accepts NULL)
 * stops the thread and drops what is left.  The feeder is one thread.
 */
struct mp_gz_stream;
struct mp_gz_stream *mp_gz_stream_new(void);
bool mp_gz_stream_feed(struct mp_gz_stream *s, const uint8_t *in, size_t len);
int mp_gz_stream_end(struct mp_gz_stream *s, const uint8_t *in, size_t len, uint8_t **ret_buf,
		     size_t *ret_len);
void mp_gz_stream_free(struct mp_gz_stream *s);

#endif

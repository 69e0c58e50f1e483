/* SPDX-License-Identifier: MIT */
/*
 * A set of code addresses, each with a few flag bits and, once the set is
 * complete, a slot: a dense index the caller can key arrays of its own
 * with (a converter keeps each address's location id per profile there,
 * so that a frame met again costs one probe, not a symbolization).  CLI
 * only: allocates with malloc.
 *
 * Open addressing with linear probing; the empty key is UINT64_MAX, which
 * no return address - 1 can be, and is kept aside when it is added all
 * the same (its slot is the last one, mp_addrset_nslots() - 1).
 */
#ifndef MP_CONVERT_ADDRSET_H
#define MP_CONVERT_ADDRSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MP_ADDRSET_EMPTY UINT64_MAX

struct mp_addrset {
	uint64_t *key;             /* cap keys; MP_ADDRSET_EMPTY: free */
	uint8_t *flag;             /* cap flag sets */
	size_t n, cap;             /* n addresses (not counting the kept-aside
				    * one); cap a power of two, or 0 */
	bool has_empty;            /* MP_ADDRSET_EMPTY itself was added */
	uint8_t empty_flag;        /* and its flags */
};

/* Add `a` with flag bits `f` (or them in when `a` is there).  0, or
 * -ENOMEM with the set as it was.  Moves addresses: slots found before
 * are stale after it. */
int mp_addrset_add(struct mp_addrset *s, uint64_t a, uint8_t f);

/* The slot of `a`, in [0, mp_addrset_nslots(s)), or -1 when `a` is not in
 * the set. */
long mp_addrset_find(const struct mp_addrset *s, uint64_t a);

/* How many slots there are (the table's size, plus one for the kept-aside
 * address): the length of an array keyed by slot. */
size_t mp_addrset_nslots(const struct mp_addrset *s);

/* The flags of `a`; 0 when it is not in the set. */
uint8_t mp_addrset_flags(const struct mp_addrset *s, uint64_t a);

void mp_addrset_done(struct mp_addrset *s);   /* frees; the set is then empty */

#endif

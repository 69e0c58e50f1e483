/* SPDX-License-Identifier: MIT */
/*
 * One way to grow an array, git's ALLOC_GROW with an error return instead
 * of dying.  CLI only: it calls realloc(3), which code inside the target
 * never does.
 *
 *	struct item *v = NULL;
 *	size_t n = 0, cap = 0;
 *	...
 *	if (MP_GROW(v, n + 1, cap) < 0)
 *		return -ENOMEM;
 *	v[n++] = x;
 *
 * MP_GROW(arr, need, cap) makes room for at least `need` elements in `arr`,
 * which has room for `cap` (a size_t): when need > cap it reallocates arr
 * to the larger of `need` and (cap + 16) * 3 / 2 elements (git's alloc_nr:
 * appends cost amortized O(1)) and updates arr and cap.  Evaluates to 0, or
 * to -ENOMEM when realloc fails or the size in bytes would overflow size_t;
 * then arr and cap are untouched (the array is still the caller's to use
 * or free).  Arguments are evaluated more than once: pass plain lvalues.
 */
#ifndef MP_COMMON_GROW_H
#define MP_COMMON_GROW_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* MP_GROW's slow path: the reallocated array (*cap updated), or NULL with
 * nothing changed. */
static inline void *mp_grow_array(void *arr, size_t need, size_t elem, size_t *cap)
{
	size_t ncap = *cap <= (SIZE_MAX - 16) / 2 ? (*cap + 16) * 3 / 2 : need;
	size_t bytes;
	void *p;

	if (ncap < need)
		ncap = need;
	if (elem && ncap > SIZE_MAX / elem) {
		if (need > SIZE_MAX / elem)
			return NULL;
		ncap = SIZE_MAX / elem;
	}
	bytes = ncap * elem;
	p = realloc(arr, bytes > 0 ? bytes : 1);
	if (p)
		*cap = ncap;
	return p;
}

#define MP_GROW(arr, need, cap) __extension__ ({ \
	int mp_grow_r_ = 0; \
	if ((need) > (cap)) { \
		void *mp_grow_p_ = mp_grow_array((arr), (need), sizeof(*(arr)), &(cap)); \
		if (mp_grow_p_) \
			(arr) = mp_grow_p_; \
		else \
			mp_grow_r_ = -ENOMEM; \
	} \
	mp_grow_r_; \
})

#endif

/* SPDX-License-Identifier: MIT */
/*
 * Lexical path cleaning (see paths.h).
 *
 * mp_path_clean() works in place with a read cursor `in` and a write cursor
 * `w` over the same bytes.  The output keeps the elements without the '/'
 * that followed them in the input and writes a '/' before every element but
 * the first, so after the first element is written, `w` stays strictly
 * behind `in` (each element written consumed its own bytes and the '/'
 * after it): nothing is written over bytes not yet read, nor past the
 * string's NUL.  (The first version of this code wrote the '/' after each
 * element, which for the last element of a path with nothing removed
 * landed on the terminating NUL; the loop then read on past the buffer.)
 */
#include <stdlib.h>
#include <string.h>

#include "symbolize/paths.h"

size_t mp_path_clean(char *path)
{
	const bool rooted = path[0] == '/';
	char *const out = path + rooted;    /* first byte of the first element */
	char *w = out;                      /* elements [out, w), '/'-separated */
	char *floor = out;                  /* [out, floor): "../.." kept in a relative path */
	const char *in = out;

	if (!path[0])
		return 0;
	while (*in) {
		const char *end = strchrnul(in, '/');
		size_t n = (size_t)(end - in);

		if (n == 0 || (n == 1 && in[0] == '.')) {
			/* nothing */
		} else if (n == 2 && in[0] == '.' && in[1] == '.') {
			if (w > floor) {
				/* Drop the last element and the '/' before it. */
				while (w > floor && w[-1] != '/')
					w--;
				if (w > out && w[-1] == '/')
					w--;
			} else if (!rooted) {
				if (w > out)
					*w++ = '/';
				*w++ = '.';
				*w++ = '.';
				floor = w;
			}
			/* rooted: ".." of "/" is "/" */
		} else {
			if (w > out)
				*w++ = '/';
			memmove(w, in, n);
			w += n;
		}
		in = *end ? end + 1 : end;
	}
	if (w == out && !rooted)
		*w++ = '.';             /* the input was not empty: there is room */
	*w = 0;
	return (size_t)(w - path);
}

bool mp_path_is_clean(const char *path)
{
	const char *p = path;

	if (!p[0])
		return true;
	if (p[0] == '/')
		p++;
	if (!p[0])
		return true;            /* "/" */
	for (;;) {
		const char *end = strchrnul(p, '/');
		size_t n = (size_t)(end - p);

		if (n == 0)
			return false;   /* "//" or a trailing '/' */
		if (n == 1 && p[0] == '.')
			return path[0] != '/' && p == path && !*end;    /* "." alone */
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			/* Only leading ".." of a relative path stay. */
			if (path[0] == '/')
				return false;
			for (const char *q = path; q < p; q += 3)
				if (q[0] != '.' || q[1] != '.' || q[2] != '/')
					return false;
		}
		if (!*end)
			return true;
		p = end + 1;
	}
}

char *mp_path_resolve(const char *dir, const char *name)
{
	size_t nd, nn;
	char *path;

	if (name[0] == '/' || !dir || !dir[0])
		dir = "";
	nd = strlen(dir);
	nn = strlen(name);
	path = malloc(nd + 1 + nn + 1);
	if (!path)
		return NULL;
	memcpy(path, dir, nd);
	if (nd)
		path[nd++] = '/';
	memcpy(path + nd, name, nn + 1);
	mp_path_clean(path);
	return path;
}

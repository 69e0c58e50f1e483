/* SPDX-License-Identifier: MIT */
/*
 * The parts the CI formats share (see leaks-ci.h): the format a file name
 * asks for, the source root, where each source file is relative to it, and
 * the frame a report points at.  CLI only.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "convert/leaks-ci.h"

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n > k && strcasecmp(s + n - k, suffix) == 0;
}

int mp_leaks_format_of(const char *path, enum mp_leak_format *ret)
{
	/* The extension of the file name, not of a directory on its way. */
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	if (ends_with(base, ".sarif") || ends_with(base, ".sarif.json"))
		*ret = MP_LEAKFMT_SARIF;
	else if (ends_with(base, ".json"))
		*ret = MP_LEAKFMT_JSON;
	else if (ends_with(base, ".xml"))
		*ret = MP_LEAKFMT_JUNIT;
	else
		return -EINVAL;
	return 0;
}

int mp_leaks_write(FILE *f, enum mp_leak_format fmt, struct mp_leak_report *const *reports,
		   size_t n, const struct mp_leak_ci *ci)
{
	switch (fmt) {
	case MP_LEAKFMT_SARIF: return mp_leaks_sarif(f, reports, n, ci);
	case MP_LEAKFMT_JUNIT: return mp_leaks_junit(f, reports, n, ci);
	case MP_LEAKFMT_JSON: break;
	}
	return mp_leaks_json(f, reports, n);
}

/*
 * An absolute path without "." and ".." components or repeated '/'
 * ("/a/./b//../c" -> "/a/c"), as the path is written; symbolic links are
 * not resolved.  ".." at the root stays at the root.  malloc'd, NULL on OOM.
 */
static char *normalize(const char *abs)
{
	size_t n = strlen(abs);
	char *out = malloc(n + 2);
	size_t o = 0;

	if (!out)
		return NULL;
	for (const char *p = abs; *p;) {
		while (*p == '/')
			p++;
		const char *e = strchrnul(p, '/');
		size_t k = (size_t)(e - p);
		if (k == 0 || (k == 1 && p[0] == '.')) {
			/* nothing */
		} else if (k == 2 && p[0] == '.' && p[1] == '.') {
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;   /* the '/' before it */
		} else {
			out[o++] = '/';
			memcpy(out + o, p, k);
			o += k;
		}
		p = e;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = 0;
	return out;
}

/* The part of `path` below `root` (both normalized), or NULL. */
static const char *below(const char *path, const char *root)
{
	size_t n;

	if (!root)
		return NULL;
	if (strcmp(root, "/") == 0)
		return path[0] == '/' && path[1] ? path + 1 : NULL;
	n = strlen(root);
	if (strncmp(path, root, n) == 0 && path[n] == '/' && path[n + 1])
		return path + n + 1;
	return NULL;
}

int mp_leak_ci_from_cwd(struct mp_leak_ci *ci)
{
	char *cwd = getcwd(NULL, 0), *root, *alt = NULL;
	const char *pwd = getenv("PWD");
	struct stat a, b;

	if (!cwd)
		return -errno;
	root = normalize(cwd);
	free(cwd);
	if (!root)
		return -ENOMEM;
	/* $PWD is the shell's name for the directory, through the symbolic
	 * links the user went through: DWARF paths written by a build started
	 * there use it. */
	if (pwd && pwd[0] == '/' && stat(pwd, &a) == 0 && stat(root, &b) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
		alt = normalize(pwd);
		if (!alt) {
			free(root);
			return -ENOMEM;
		}
		if (strcmp(alt, root) == 0) {
			free(alt);
			alt = NULL;
		}
	}
	ci->srcroot = root;
	ci->srcroot_alt = alt;
	return 0;
}

void mp_leak_ci_done(struct mp_leak_ci *ci)
{
	free(ci->srcroot);
	free(ci->srcroot_alt);
	ci->srcroot = ci->srcroot_alt = NULL;
}

/* ---- places of source files ---- */

#define PLACE_BUCKETS 1024

struct place_entry {
	struct place_entry *next;
	char *file;              /* as the frame names it */
	char *buf;               /* owns place.path */
	struct mp_leak_place place;
};

struct mp_leak_places {
	const struct mp_leak_ci *ci;
	struct place_entry *buckets[PLACE_BUCKETS];
};

struct mp_leak_places *mp_leak_places_new(const struct mp_leak_ci *ci)
{
	struct mp_leak_places *pl = calloc(1, sizeof(*pl));

	if (pl)
		pl->ci = ci;
	return pl;
}

void mp_leak_places_free(struct mp_leak_places *pl)
{
	if (!pl)
		return;
	for (size_t i = 0; i < PLACE_BUCKETS; i++)
		for (struct place_entry *e = pl->buckets[i], *next; e; e = next) {
			next = e->next;
			free(e->file);
			free(e->buf);
			free(e);
		}
	free(pl);
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;   /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

/* Work out the place of `file` into e->buf / e->place.  0 or -ENOMEM. */
static int place_file(const struct mp_leak_ci *ci, const char *file, struct place_entry *e)
{
	const char *rel;
	char *norm;

	if (file[0] != '/') {
		/* Relative: only when it names a file under the root (a build made
		 * in the working directory the Makefile way); else it is relative
		 * to a directory we do not know. */
		char *joined;
		if (!ci->srcroot)
			return 0;
		if (asprintf(&joined, "%s/%s", ci->srcroot, file) < 0)
			return -ENOMEM;
		if (access(joined, F_OK) < 0) {
			free(joined);
			return 0;
		}
		norm = normalize(joined);
		free(joined);
	} else {
		norm = normalize(file);
	}
	if (!norm)
		return -ENOMEM;
	rel = below(norm, ci->srcroot);
	if (!rel)
		rel = below(norm, ci->srcroot_alt);
	if (!rel && ci->srcroot) {
		/* Through a symbolic link on the file's side? */
		char *real = realpath(norm, NULL);
		if (real && (rel = below(real, ci->srcroot))) {
			free(norm);
			norm = real;
		} else {
			free(real);
		}
	}
	if (rel) {
		memmove(norm, rel, strlen(rel) + 1);
		e->place.rel = true;
	}
	e->buf = norm;
	e->place.path = norm;
	return 0;
}

int mp_leak_place(struct mp_leak_places *pl, const char *file, const struct mp_leak_place **ret)
{
	static const struct mp_leak_place nowhere = { NULL, false };
	struct place_entry *e, **slot;

	if (!file || !*file) {
		*ret = &nowhere;
		return 0;
	}
	slot = &pl->buckets[hash_str(file) % PLACE_BUCKETS];
	for (e = *slot; e; e = e->next)
		if (strcmp(e->file, file) == 0) {
			*ret = &e->place;
			return 0;
		}
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->file = strdup(file);
	if (!e->file || place_file(pl->ci, file, e) < 0) {
		free(e->file);
		free(e->buf);
		free(e);
		return -ENOMEM;
	}
	e->next = *slot;
	*slot = e;
	*ret = &e->place;
	return 0;
}

int mp_leak_site(struct mp_leak_places *pl, const struct mp_leak *l, size_t *ret_index,
		 const struct mp_leak_place **ret_place)
{
	const struct mp_leak_place *best = NULL;
	size_t best_i = 0;

	for (size_t i = mp_leak_first_own(l); i < l->nframes; i++) {
		const struct mp_leak_place *p;
		if (mp_leak_place(pl, l->frames[i].file, &p) < 0)
			return -ENOMEM;
		if (!p->path)
			continue;
		if (p->rel) {
			*ret_index = i;
			*ret_place = p;
			return 0;
		}
		if (!best) {
			best = p;
			best_i = i;
		}
	}
	if (!best)
		return 1;
	*ret_index = best_i;
	*ret_place = best;
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * Source file names as DWARF gives them, made into the names a profile
 * shows: joined to the unit's DW_AT_comp_dir and lexically cleaned.  Pure
 * string work, no file system access.  CLI only.
 */
#ifndef MP_SYMBOLIZE_PATHS_H
#define MP_SYMBOLIZE_PATHS_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Clean `path` in place, lexically, as Go's path.Clean does: no empty or
 * "." elements, a ".." element removes the element before it, ".." at the
 * root of an absolute path is dropped, leading ".." of a relative path are
 * kept, no trailing '/'.  An absolute path that cleans to nothing becomes
 * "/", a relative one "." (the empty string stays empty).  The result is
 * never longer than `path`.  Returns its length.
 */
size_t mp_path_clean(char *path);

/* Whether mp_path_clean() would leave `path` as it is. */
bool mp_path_is_clean(const char *path);

/*
 * `name` resolved against the directory `dir` and cleaned: `name` itself
 * when it is absolute, else "dir/name" (`dir` NULL or "": `name` alone).
 * Returns a malloc'd string, or NULL when out of memory.
 */
char *mp_path_resolve(const char *dir, const char *name);

#endif

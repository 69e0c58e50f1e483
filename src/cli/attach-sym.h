/* SPDX-License-Identifier: MIT */
/*
 * Names for memprof attach's profiles.  While the probes run, a thread of
 * ours opens the files the process has mapped, as the process sees them
 * (its /proc map_files, else under its root: a process in a container,
 * another mount namespace or a chroot, gets its own files), and loads their
 * symbols and DWARF; at the end, the
 * mappings made since are opened too, and the profiles are symbolized
 * from those files, named as the process names them.  CLI only.
 */
#ifndef MP_CLI_ATTACH_SYM_H
#define MP_CLI_ATTACH_SYM_H

#include <stdbool.h>
#include <stddef.h>

struct mp_attach_sym;
struct mp_symbolizer;

/* Start loading the files of process `pid` (in a thread).  NULL when out
 * of memory or no thread could start: the profiles are then symbolized
 * from memprof's own view of the file names. */
struct mp_attach_sym *mp_attach_sym_start(int pid);

/*
 * A symbolizer for the maps text `maps` (the last read; any mapping the
 * loader saw is reused, the others are opened through the process's root
 * while it lives, else by their names as memprof sees them), for
 * mp_converter_new.  NULL: none (the converter opens the files
 * itself).  Owned by `a`.
 */
struct mp_symbolizer *mp_attach_sym_finish(struct mp_attach_sym *a, const char *maps,
					   size_t len);

/* Whether the process's root or mount namespace is not memprof's (a
 * container, a chroot): its file names are its own. */
bool mp_attach_sym_other_root(const struct mp_attach_sym *a);

void mp_attach_sym_free(struct mp_attach_sym *a);    /* accepts NULL */

#endif

/* SPDX-License-Identifier: MIT */
/*
 * The program `memprof run` is asked to start: find it like execvp(3) does,
 * and find out up front whether LD_PRELOAD can work for it at all, so a
 * static or setuid program gets a clear error instead of an empty profile.
 * CLI only.
 *
 * Program files are untrusted: every ELF offset and count is checked against
 * the file's size before use.
 */
#ifndef MP_CLI_TARGET_H
#define MP_CLI_TARGET_H

#include <stddef.h>
#include <stdint.h>

/*
 * Find `name` as execvp(3) would: a name containing '/' is used as is;
 * otherwise each directory of $PATH (default "/bin:/usr/bin"; an empty entry
 * is the working directory) is tried in order for an executable regular file.
 * Returns 0 and a malloc'd path in *ret_path, -ENOENT when nothing of that
 * name exists, -EACCES when something does but none is an executable regular
 * file (-EISDIR for a name with '/' naming a directory), -ENOMEM.
 */
int mp_target_resolve(const char *name, char **ret_path);

enum mp_elf_kind {
	MP_ELF_NOT_ELF,     /* no ELF magic */
	MP_ELF_DYNAMIC,     /* has PT_INTERP: the dynamic loader runs, LD_PRELOAD works */
	MP_ELF_STATIC,      /* no PT_INTERP (static or static-pie): nothing reads LD_PRELOAD */
	MP_ELF_FOREIGN,     /* other class, byte order or machine than this build */
	MP_ELF_MALFORMED,   /* program headers that the kernel would refuse */
};

/*
 * Classify an ELF file from its bytes; `buf` holds the whole file or at least
 * its first `len` bytes, where program headers past `len` count as
 * malformed.  Never reads outside buf.  Pure: for tests and fuzzing.
 */
enum mp_elf_kind mp_elf_probe_mem(const void *buf, size_t len);

enum mp_target_verdict {
	MP_TARGET_OK,            /* dynamically linked, or not ELF at all: exec decides */
	MP_TARGET_STATIC,        /* statically linked ELF */
	MP_TARGET_SETID,         /* setuid, setgid or file capabilities that give us
	                            privileges: secure-execution mode makes ld.so
	                            ignore our LD_PRELOAD */
	MP_TARGET_FOREIGN,       /* ELF the shim cannot be loaded into */
	MP_TARGET_MALFORMED,     /* ELF program headers out of bounds */
	MP_TARGET_BAD_INTERP,    /* "#!" interpreter missing, unreadable or nested too deep */
};

struct mp_target_info {
	enum mp_target_verdict verdict;
	int is_elf;              /* the program itself is ELF (no /bin/sh fallback) */
	int error;               /* for MP_TARGET_BAD_INTERP: the errno */
	char *culprit;           /* malloc'd: the file the verdict is about (the program,
	                            or the "#!" interpreter it leads to) */
};

/*
 * Inspect the file at `path` (as resolved by mp_target_resolve): its mode
 * bits and capabilities, then its ELF headers; for a "#!" script, its
 * interpreter instead, recursively (at most 5 scripts deep, like the
 * kernel).  A file that cannot be read (execute-only) gets MP_TARGET_OK:
 * exec decides.
 * Returns 0 and fills *ret (free with mp_target_info_done()), or -ENOMEM.
 */
int mp_target_inspect(const char *path, struct mp_target_info *ret);
void mp_target_info_done(struct mp_target_info *info);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * The inside of a module (module.h), shared by module.c (opening, the
 * symbol index, answers) and dwarf.c (frames from DWARF).  Internal to
 * src/symbolize/.
 */
#ifndef MP_SYMBOLIZE_MODULE_INT_H
#define MP_SYMBOLIZE_MODULE_INT_H

#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "symbolize/debuginfo.h"
#include "symbolize/module.h"
#include "symbolize/strpool.h"
#include "symbolize/symcache.h"
#include "symbolize/symindex.h"

/* A unit's address range, for files without .debug_aranges. */
struct cu_range {
	uint64_t lo, hi;            /* [lo, hi), file addresses */
	Dwarf_Die *cu;              /* owned by libdwfl */
};

struct memo {
	const void *k1, *k2;
	char *value;
};

enum { UNKNOWN = 0, YES = 1, NO = 2 };

struct cu_fns;

struct mp_module {
	int refs;                   /* under reg_lock */
	bool registered;            /* in reg[] */
	uint64_t parked;            /* refs 0 and kept (mp_module_keep): its
				     * turn in reg_lock's clock; 0: not */
	bool stale;                 /* its file changed since: not shared */
	struct stat st;             /* the file as opened, to tell a rewrite
				     * in place from the same file */
	bool cache_wanted;          /* opened for use with the disk cache */
	pthread_mutex_t lock;
	char *path;
	uint64_t start, limit, offset, inode;
	uint32_t dev_major, dev_minor;
	uint64_t bias;              /* address - file address */
	uint64_t report_bias;       /* the bias given to dwfl_report_elf */
	char build_id[2 * 64 + 1];
	struct mp_file_id file_id;  /* the file opened (libdwfl's user data) */
	int fd;                     /* the file, to load it again after a
				     * release; -1: opened again by name
				     * (reopen_locked) */
	int pid;                    /* the process whose root the name is
				     * under (0: ours) */

	/*
	 * What is loaded (libdwfl's session, our indexes): under lock until
	 * `prepared` is set (release), read-only after, all freed by
	 * mp_module_release() (prepared cleared) and loaded again on demand.
	 */
	Dwfl *dwfl;                 /* NULL: released (or never opened) */
	Dwfl_Module *mod;
	int prepared;               /* atomic */
	int dwarf;                  /* YES, NO: of the latest load */
	Dwarf *dw;                  /* the DWARF: libdwfl's, or own's */
	Dwarf_Addr dwbias;          /* address - DWARF address */
	struct mp_dwopen *own;      /* the debug file opened by dwopen.c, or
				     * NULL: libdwfl's (dwfl_module_* calls) */
	Dwarf_Die *own_units;       /* own's units, by offset (built on demand) */
	size_t own_nunits;
	Dwarf_Die own_unit;         /* own's unit found last by address */
	struct mp_symindex *index;
	const char **symname;       /* per indexed symbol */
	const char **demangled;     /* per indexed symbol: NULL until known (atomic) */
	const struct mp_sym_frame **symframe; /* per indexed symbol: its one frame,
				     * in the pool (atomic; made under lock) */
	size_t nsyms;

	/* Under lock, freed by a release too. */
	struct cu_range *cus;       /* sorted by lo; built on the first miss */
	size_t ncus;
	bool cus_built;
	struct memo *memo;          /* demangled names, joined paths */
	size_t nmemo, cap_memo;
	struct cu_slot {
		void *key;          /* the unit DIE's address in the data */
		struct cu_fns *fns;
	} *cufns;                   /* per unit: its function index, built once */
	size_t ncufns, cap_cufns;
	struct mp_unit_lines *unit_lines;   /* units' line tables (dwarf-lines.c) */

	/* Under lock, kept across releases: every string and symbol frame
	 * an answer points to. */
	struct mp_strpool pool;
	unsigned loads;             /* times loaded */

	/* Owner thread only. */
	struct answer_entry {
		uint64_t fa;
		const struct mp_sym_frame *frames;
		uint32_t nframes;
		uint8_t source;
	} *answers;                 /* computed in this process */
	size_t nanswers, cap_answers;
	uint32_t *slots;            /* answer index + 1, 0 = empty */
	size_t nslots;
	struct arena {
		struct arena_block { struct arena_block *next; } *head;
		size_t used, cap;
	} arena;                    /* DWARF answers' frames */
	struct mp_symcache_file *disk;
	struct mp_sym_frame *disk_frames;   /* the file's frames, decoded on first use */
	bool cache;
};

/* Frames of one answer under construction. */
struct frames {
	struct mp_sym_frame *v;
	size_t n, cap;
	int err;
};

/* ---- module.c, for dwarf.c ---- */

/* A new zeroed frame at the end of f, or NULL (f->err set). */
struct mp_sym_frame *mp_frames_add(struct frames *f);

/* The string memoized for (k1, k2), or NULL; keep `value` (malloc'd,
 * taken over even on failure) for (k1, k2).  Under the lock. */
const char *mp_module_memo_get(const struct mp_module *m, const void *k1, const void *k2);
const char *mp_module_memo_put(struct mp_module *m, const void *k1, const void *k2, char *value,
			       int *ret_err);

/* Demangled form of a linker name (owned by m), or `name`.  Under the lock. */
const char *mp_module_demangle_locked(struct mp_module *m, const char *name, int *ret_err);

/* The indexed symbol naming file address fa, or -1. */
int64_t mp_module_sym_at(const struct mp_module *m, uint64_t fa);

/* ---- dwarf.c ---- */

/* Frames from DWARF for addr (an address of the module, bias included);
 * false when DWARF knows no function there.  Under the lock. */
bool mp_dwarf_frames_locked(struct mp_module *m, uint64_t addr, struct frames *f);

/* The line table's file and line for addr when DWARF has no function for
 * it; *ret_file untouched when there is none.  Under the lock. */
void mp_dwarf_line_locked(struct mp_module *m, uint64_t addr, const char **ret_file, int *ret_line,
			  int *ret_err);

/* Index the units' address ranges now.  Under the lock. */
void mp_dwarf_warm_locked(struct mp_module *m);

/* Free what dwarf.c keeps in m. */
void mp_dwarf_done(struct mp_module *m);

/* ---- dwarf-lines.c: units' line tables ---- */

struct mp_lines;

/* The files and directory entries of unit's line table as libdw gives
 * them (dwarf_getsrcfiles, dwarf_getsrcdirs): true and *ret (valid while
 * the module is loaded), or false: ask libdw.  Under the lock. */
bool mp_unit_files_locked(struct mp_module *m, Dwarf_Die *unit, const struct mp_lines **ret,
			  int *ret_err);

/* dwarf_getsrc_die(unit, a) with dwarf_linesrc and dwarf_lineno: 1 with
 * the row's file name (NULL when its index is past the file table) and
 * line, 0 when there is no row, -1: ask libdw.  Under the lock. */
int mp_unit_line_locked(struct mp_module *m, Dwarf_Die *unit, uint64_t a, const char **ret_name,
			int *ret_line, int *ret_err);

void mp_unit_lines_done(struct mp_module *m);

/* Where unit's line table is, for lines.c, as dwarf-lines.c finds it (for
 * the benchmark's comparison with libdw); false: libdw's to read. */
struct mp_lines_input;
bool mp_dwarf_lines_input(Dwarf_Die *unit, struct mp_lines_input *ret);

#endif

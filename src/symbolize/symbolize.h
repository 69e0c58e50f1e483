/* SPDX-License-Identifier: MIT */
/*
 * Out-of-process symbolization of a profiled process's code addresses, from
 * the text of its /proc/<pid>/maps and the ELF/DWARF files it names (elfutils
 * libdwfl, with separate debug info found the standard way: build-id under
 * /usr/lib/debug/.build-id, .gnu_debuglink, MiniDebugInfo, and debuginfod
 * when DEBUGINFOD_URLS is set).  Symbols are looked up in an index of our
 * own per file; answers are kept in an on-disk cache keyed by build ID
 * (symcache.h: $XDG_CACHE_HOME/memprof; MEMPROF_CACHE_DIR=off turns it
 * off).  CLI only: allocates freely.
 *
 * Only executable mappings count (like Go's runtime/pprof).  For each one
 * backed by a regular file that is still the file the process mapped (same
 * inode when the device matches), the ELF is reported to libdwfl at the load
 * bias computed from the mapping's start, its file offset and the ELF's
 * PT_LOAD segments.  Anything missing degrades per address, never for the
 * whole run:
 *   DWARF for the address       -> frames with names, files, lines, inlines
 *   else an ELF symbol covers it -> one frame with the symbol's name (and
 *                                  the line table's file and line if any)
 *   else (stripped, file gone or replaced, [vdso], anonymous code)
 *                               -> no frames: the caller keeps the address
 *
 * Typical use:
 *
 *   struct mp_symbolizer *s;
 *   mp_symbolizer_new(maps_text, maps_len, 0, &s);
 *   for each address:
 *       struct mp_sym_result r;
 *       mp_symbolize(s, pc - 1, &r);   // a return address: look inside the call
 *   mp_symbolizer_free(s);
 *
 * Not thread-safe: one symbolizer per thread (mp_symbolizer_prepare()
 * uses threads of its own inside).
 */
#ifndef MP_SYMBOLIZE_SYMBOLIZE_H
#define MP_SYMBOLIZE_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mp_symbolizer;

/* An executable mapping of the process.  Strings are owned by the symbolizer. */
struct mp_sym_mapping {
	uint64_t start, limit;     /* [start, limit) */
	uint64_t offset;           /* file offset mapped at start */
	const char *path;          /* pathname from maps, " (deleted)" removed;
				    * "[vdso]" and the like; "" for anonymous code */
	const char *build_id;      /* lowercase hex of the ELF's GNU build ID note;
				    * "" when unknown (no file, no note) */
	bool has_elf;              /* the ELF file was opened and reported: symbols
				    * may follow for addresses in this mapping */
};

/* Where an address's frames came from. */
enum mp_sym_source {
	MP_SYM_NONE = 0,           /* no frames: address only */
	MP_SYM_SYMTAB,             /* one frame named by the ELF symbol table (no
				    * DWARF function for this address); file and
				    * line from the line table when DWARF has them
				    * (addr2line's answer), else none */
	MP_SYM_DWARF,              /* frames from DWARF, inlined ones included */
};

/* One source-level frame; an address has several when code was inlined. */
struct mp_sym_frame {
	const char *function;      /* display name: demangled (demangle.h) when the
				    * linker name is a mangled C++ or Rust name;
				    * never NULL */
	const char *system_name;   /* linker name (DW_AT_linkage_name or the symbol);
				    * equal to `function` for C; never NULL */
	const char *file;          /* source file as DWARF names it, NULL if unknown */
	int64_t line;              /* source line, 0 if unknown */
	int64_t start_line;        /* the function's DW_AT_decl_line, 0 if unknown */
};

struct mp_sym_result {
	const struct mp_sym_mapping *mapping;  /* NULL: in no executable mapping */
	size_t mapping_index;      /* index for mp_symbolizer_mapping(); valid
				    * when mapping is not NULL */
	const struct mp_sym_frame *frames;     /* innermost (inlined callee) first */
	size_t nframes;
	enum mp_sym_source source;
};

enum {
	/* Parse the maps text only: open no file (every result has no frames).
	 * For fuzzing, and for callers that must not touch the file system. */
	MP_SYM_F_NO_FILES = 1u << 0,
	/* Neither read nor write the on-disk cache. */
	MP_SYM_F_NO_CACHE = 1u << 1,
	/* mp_symbolizer_prepare() works in the calling thread only: for work
	 * in the background beside a running program, which needs the CPUs. */
	MP_SYM_F_SERIAL = 1u << 2,
	/* mp_symbolizer_prepare() keeps the files it loaded (they are freed
	 * with the symbolizer, or by mp_symbolizer_release()): for repeated
	 * batches, such as those of a program still running. */
	MP_SYM_F_KEEP = 1u << 3,
};

/*
 * Create a symbolizer for the process whose maps text is `maps` (`len` bytes,
 * need not be NUL-terminated; untrusted: malformed lines are skipped,
 * mappings overlapping an earlier one are dropped).  Files are opened here,
 * read lazily later.  Returns 0 and *ret, or -ENOMEM.  Problems with
 * individual files are not errors: those mappings just have has_elf false.
 */
int mp_symbolizer_new(const char *maps, size_t len, unsigned flags, struct mp_symbolizer **ret);

void mp_symbolizer_free(struct mp_symbolizer *s);   /* accepts NULL */

/*
 * Files no symbolizer uses any more kept, up to `max` (0, the default:
 * none), for the next symbolizer of a process that maps the same ones: a
 * process tree's snapshots converted one after another (memprof run).
 * Setting 0 stores the answers of every kept file in the disk cache and
 * frees them.  Thread-safe.
 */
void mp_symbolizer_keep_files(size_t max);

/*
 * Do now what the first lookups would do: load every file's symbol table
 * and DWARF (inflating compressed debug sections) and index its units,
 * files in parallel.
 * For a symbolizer made while the process still runs (memprof run does it
 * beside the target), so that converting its snapshot later is quick.
 */
void mp_symbolizer_warm(struct mp_symbolizer *s);

/*
 * Symbolize addrs[0..n) (any order, duplicates allowed) ahead, on all
 * cores: files in parallel, and the addresses of one file in parallel
 * when it has no DWARF (libdw's lookups in one file take turns).  After
 * it, mp_symbolize() of these addresses is a table lookup.  Unless the
 * symbolizer has MP_SYM_F_KEEP, what a file loaded (libdw's data, the
 * indexes) is freed as soon as its addresses are answered, so that the
 * memory taken is that of the files being worked on, not of all of them.
 * Returns 0 or -ENOMEM.
 */
int mp_symbolizer_prepare(struct mp_symbolizer *s, const uint64_t *addrs, size_t n);

/*
 * mp_symbolizer_new, taking every executable mapping that `donor` (NULL: none)
 * has too, same range, offset and file, from the donor as it is, files
 * opened and loaded (e.g. warmed while the process ran), instead of opening
 * it again, with every address the donor symbolized there.  The donor must
 * not be used at the same time as the new symbolizer (either may be freed
 * first: files are reference-counted).
 */
int mp_symbolizer_new_from(const char *maps, size_t len, unsigned flags,
			   struct mp_symbolizer *donor, struct mp_symbolizer **ret);

/*
 * mp_symbolizer_new_from for process `pid`, alive, whose files may not be
 * memprof's (a container: another mount namespace or root): each mapping's
 * file is opened as the process sees it, through its /proc/PID/map_files
 * entry (the very file mapped) or else its name under /proc/PID/root; names
 * are kept as the maps give them.  pid 0: mp_symbolizer_new_from.
 */
int mp_symbolizer_new_proc(const char *maps, size_t len, unsigned flags, int pid,
			   struct mp_symbolizer *donor, struct mp_symbolizer **ret);

/* The executable mappings, sorted by start address, indexes 0..n-1.  Valid
 * until mp_symbolizer_free. */
size_t mp_symbolizer_nmappings(const struct mp_symbolizer *s);
const struct mp_sym_mapping *mp_symbolizer_mapping(const struct mp_symbolizer *s, size_t i);

/*
 * Symbolize `addr`, an address inside an instruction (for a return address,
 * pass pc - 1).  Results are cached per address; *ret and everything it
 * points to stay valid until mp_symbolizer_free.  Returns 0, or -ENOMEM
 * with *ret untouched.
 */
int mp_symbolize(struct mp_symbolizer *s, uint64_t addr, struct mp_sym_result *ret);

/*
 * mp_symbolizer_prepare, then free what was loaded to answer (libdw's and
 * libelf's data, the indexes) as soon as a file's addresses are answered,
 * so that the memory symbolization takes is that of the files worked on
 * at once rather than of every file; the answers stay, and a file is
 * loaded again if an address not answered yet comes later.  Unless the
 * symbolizer was made with MP_SYM_F_KEEP, mp_symbolizer_prepare does this.
 */
void mp_symbolizer_release(struct mp_symbolizer *s);

/* What the symbolizers of this process loaded so far: for the benchmark's
 * memory figures (scripts/bench.py --set symbolize). */
struct mp_sym_stats {
	uint64_t files;             /* distinct files loaded */
	uint64_t loads;             /* loads, again after a release included */
	uint64_t symtab_bytes;      /* their symbol tables as libdwfl reads them:
				     * .symtab, else .dynsym, with its string
				     * table, of the file, its debug file and
				     * its MiniDebugInfo (inflated) */
	uint64_t dwarf_bytes;       /* the DWARF sections answers are read from,
				     * uncompressed: .debug_info, _abbrev, _line,
				     * _line_str, _str, _str_offsets, _addr,
				     * _ranges, _rnglists, _aranges (of the
				     * alternate dwz file too) */
};
void mp_symbolize_stats(struct mp_sym_stats *ret);

#endif

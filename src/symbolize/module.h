/* SPDX-License-Identifier: MIT */
/*
 * One ELF file as mapped by a process, loaded for symbolization: its own
 * symbol index, libdw for lines and inlined frames, the answers found so
 * far and its part of the on-disk cache.  Internal to src/symbolize/.
 *
 * Threads.  A module may be shared by several symbolizers (a donor warmed
 * while the program ran and the ones made from its snapshots) and worked on
 * by the batch threads of mp_symbolizer_prepare():
 *   - `lock` guards libdw (one Dwarf is not thread-safe), the lazy loads,
 *     the DWARF path's string memo and the pool answers' strings live in;
 *   - once mp_module_prepare() has returned, the symbol index is read-only
 *     and symbol-table answers (mp_module_compute() on a module without
 *     DWARF) take the lock only for a symbol's first answer;
 *   - mp_module_release() frees what is loaded while no other thread uses
 *     the module (the batch thread that finished the module's last chunk,
 *     or the owner thread), and the next computation loads it again;
 *   - the answer table (mp_module_get/put) belongs to the thread that owns
 *     the symbolizers using the module, never to batch threads.
 */
#ifndef MP_SYMBOLIZE_MODULE_H
#define MP_SYMBOLIZE_MODULE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "symbolize/maps.h"
#include "symbolize/symbolize.h"

struct mp_module;

/* Open the file of maps entry e (nothing read beyond its headers yet).
 * NULL when it cannot be (gone, replaced, not ELF, no segment for the
 * offset, out of memory).  `cache`: use the on-disk cache.  pid > 0: the
 * entry is process pid's, alive, and its file is opened as that process
 * sees it (mp_symbolizer_new_proc). */
struct mp_module *mp_module_open(const struct mp_maps_entry *e, int pid, bool cache);

/*
 * A module for maps entry e, with a new reference, and in *ret_bias the
 * bias of e's mapping (its addresses less file addresses): one alive
 * already for the same mapping (and cache use); else one alive or kept
 * (mp_module_keep) for the same segment of the same file mapped elsewhere
 * by another process (same path, device, inode, offset and length, and
 * the file's size and modification time unchanged since it was opened),
 * whose answers, by file address, are this mapping's too; else
 * mp_module_open's.  Thread-safe.
 */
struct mp_module *mp_module_get_or_open(const struct mp_maps_entry *e, int pid, bool cache,
					uint64_t *ret_bias);

void mp_module_ref(struct mp_module *m);
/* Drop a reference; the last one stores new answers in the disk cache and
 * frees everything (all answers' frames and strings with it), unless
 * modules are kept (mp_module_keep): it is released then (mp_module_release)
 * and kept for the next process that maps the same file. */
void mp_module_unref(struct mp_module *m);

/*
 * Keep up to `max` modules no symbolizer uses any more (0: none, the
 * default), the least recently dropped going first, for the processes of a
 * tree converted one after another (memprof run): each would otherwise open
 * the same files, load their disk cache entries and store them again.
 * Setting 0 stores and frees every kept module.  Thread-safe.
 */
void mp_module_keep(size_t max);

/* Whether m was opened for this very mapping (same range, offset, file). */
bool mp_module_matches(const struct mp_module *m, const struct mp_maps_entry *e);

const char *mp_module_build_id(const struct mp_module *m);     /* "" if none */

/* Load the symbol index and find out whether DWARF is there (under the
 * lock, once until the next release).  Any thread. */
void mp_module_prepare(struct mp_module *m);
/* Also index DWARF units (what a first DWARF lookup would do). */
void mp_module_warm(struct mp_module *m);
/*
 * Free what is loaded (libdwfl's session with libdw's and libelf's data,
 * the indexes); the answers and their strings stay, and the next
 * computation loads the file again (the same file: the module keeps a
 * descriptor of it; a module that could not get one stays loaded).  Only
 * when no other thread uses the module.
 */
void mp_module_release(struct mp_module *m);
/* After mp_module_prepare: whether answers need the lock (DWARF). */
bool mp_module_has_dwarf(struct mp_module *m);

/* One answer: the frames of one address. */
struct mp_module_answer {
	const struct mp_sym_frame *frames;  /* strings owned by the module */
	uint32_t nframes;
	uint8_t source;                     /* enum mp_sym_source */
	uint8_t owned;                      /* frames malloc'd (mp_module_put takes them) */
};

/*
 * Symbolize file address fa (address - bias).  Any thread; takes the lock
 * itself when the module has DWARF.  Returns 0 or -ENOMEM.  Symbol-table
 * answers share one frame per symbol; DWARF answers are malloc'd (owned).
 */
int mp_module_compute(struct mp_module *m, uint64_t fa, struct mp_module_answer *ret);

/* Free an answer's frames if it owns them (an answer not put). */
void mp_module_answer_free(struct mp_module_answer *a);

/* Owner thread: the answer for fa, from this run or the disk cache, in
 * *ret (frames valid while the module lives); false when there is none. */
bool mp_module_get(struct mp_module *m, uint64_t fa, struct mp_module_answer *ret);

/* Owner thread: keep answer a for fa (owned frames are taken over even on
 * failure).  Returns 0 and the kept answer in *ret, or -ENOMEM. */
int mp_module_put(struct mp_module *m, uint64_t fa, struct mp_module_answer *a,
		  struct mp_module_answer *ret);

/* Sizes for the benchmark: symbol index bytes. */
size_t mp_module_index_bytes(const struct mp_module *m);

#endif

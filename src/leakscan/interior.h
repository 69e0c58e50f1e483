/* SPDX-License-Identifier: MIT */
/*
 * Interior pointers in the leak scan, with Valgrind memcheck's rules
 * (memcheck manual 4.2.10; valgrind 3.19): when a word pointing inside a
 * block, not at its first byte, counts as a start pointer (the four
 * heuristics memcheck applies by default, --leak-check-heuristics=all),
 * the state such a word moves a block to while marking from the roots,
 * and the table of the process's mappings the scan keeps (its roots, and
 * where vtables and code are, for the multipleinheritance heuristic).
 *
 * Pure functions over memory the caller vouches for: in the target (no
 * allocation, no lock, no libc beyond memchr), and in the unit tests.
 */
#ifndef MP_LEAKSCAN_INTERIOR_H
#define MP_LEAKSCAN_INTERIOR_H

#include <stddef.h>
#include <stdint.h>

#include "alloc/leak.h"

enum mp_leak_heuristic {
	MP_HEUR_NONE = 0,
	MP_HEUR_STDSTRING,      /* length, capacity, refcount, chars: a pointer to the chars */
	MP_HEUR_LENGTH64,       /* a 64-bit (size - 8) first, a pointer past it (sqlite) */
	MP_HEUR_NEWARRAY,       /* new[] of objects with destructors: count, then the array */
	MP_HEUR_MULTIPLE_INHERITANCE,   /* a pointer to a second base's vtable pointer */
};

/* One line of /proc/self/maps, as much of it as the scan needs. */
struct mp_leak_region {
	uintptr_t lo, hi;
	uint64_t inode;           /* of the file mapped; 0: anonymous */
	uint32_t dev;             /* its device: major << 20 | minor */
	uint32_t flags;           /* MP_REGION_* */
};

enum {
	MP_REGION_R = 1u << 0,
	MP_REGION_W = 1u << 1,
	MP_REGION_X = 1u << 2,
	MP_REGION_FILE = 1u << 3,   /* maps a file (a path, not "[heap]" or nothing) */
	MP_REGION_OBJ = 1u << 4,    /* a file mapping of a loaded object: one of a run of
				     * lines mapping the same file, one of them executable */
	MP_REGION_ROOT = 1u << 5,   /* scanned as a root: writable, and neither a device
				     * nor one of the kernel's special mappings ([vvar],
				     * [vdso], [vsyscall]); [stack] and [heap] are roots */
};

/*
 * Parse the text of /proc/self/maps (len bytes; lines end in '\n') into
 * out[0..cap), in its order (ascending addresses); lines that do not parse
 * are skipped.  Returns how many regions were written.  The text is not
 * changed.
 */
size_t mp_leak_regions_parse(const char *text, size_t len, struct mp_leak_region *out,
			     size_t cap);

/* The region holding address a, or NULL (regions sorted, disjoint). */
const struct mp_leak_region *mp_leak_region_find(const struct mp_leak_region *r, size_t n,
						 uintptr_t a);

/*
 * Whether p (8-aligned, at or above 4096) looks like a vtable's address
 * point, as memcheck judges it: inside a readable mapping of a loaded
 * object (memcheck: any readable file mapping; a loaded object's are
 * mapped within the file, where a word read never faults), and among the
 * 21 words from p (fewer at the mapping's end) two non-null ones come
 * before any that is neither null nor a pointer into an executable file
 * mapping.  Reads those words: the caller vouches that r describes this
 * process as it is.
 */
int mp_leak_is_vtable(const struct mp_leak_region *r, size_t n, uintptr_t p);

/*
 * Which heuristic, if any, takes a pointer at offset off (0 < off) into a
 * block as a pointer to its start.  block: its first byte, 8-aligned;
 * size: the bytes the program asked for (memcheck's size of the block);
 * readable: bytes from block that may be read (at least size; the usable
 * size).  The heuristics in memcheck's order, first match wins:
 *   - stdstring: off 24, the second word (capacity) is size - 25, the
 *     first (length) at most that;
 *   - length64: off 8, the first word is size - 8, not 0;
 *   - newarray: off 8, the first word (element count) is not 0 and
 *     divides size - 8;
 *   - multipleinheritance: off 8-aligned with the word at off inside
 *     size, and both that word and the first look like vtable addresses
 *     (mp_leak_is_vtable, regions r[0..n)).
 * memcheck also requires the words it reads to be defined (written): a
 * scan in the process cannot know that, and reads what is there.
 */
enum mp_leak_heuristic mp_leak_heuristic(const void *block, size_t size, size_t readable,
					 size_t off, const struct mp_leak_region *r, size_t n);

/*
 * memprof's own rule, beside memcheck's: whether the word at w (with the
 * words before and after it readable) is the DTV pointer of a glibc thread
 * control block (x86-64 tcbhead_t: tcb, dtv, self, where tcb and self hold
 * the block's own address).  glibc stores there the address of the DTV's
 * second entry (INSTALL_DTV: dtv + 1), 16 bytes into the block calloc gave
 * it, so memcheck calls the DTV of every thread alive, or whose stack glibc
 * keeps for reuse, possibly lost (allocate_dtv, under pthread_create): a
 * report about glibc's bookkeeping that every threaded program would get
 * and fail on.  The pointer is glibc's own and certain; taken as a start
 * pointer.
 */
static inline int mp_leak_is_tcb_dtv(const uintptr_t *w)
{
	uintptr_t tcb = (uintptr_t)(w - 1);
	return w[-1] == tcb && w[1] == tcb;
}

/*
 * Marking from the roots: the state (MP_BLK_*) a block in `state` moves to
 * when a word points into it.  start: the word points at its first byte,
 * or a heuristic takes it so; definite: the word is in a root or in a
 * block reached from the roots through start pointers only (not in a
 * possibly lost block).  A definite start pointer makes a block reachable
 * (a possibly lost one included: it is upgraded); any other pointer makes
 * an unreached block possibly lost.  Reachable stays reachable.  The
 * caller (re)scans the block whenever its state changes, so a block is
 * scanned at most twice (LIVE -> POSSIBLE -> REACHABLE).
 */
static inline uint8_t mp_leak_reach(uint8_t state, int start, int definite)
{
	if (state != MP_BLK_LIVE && state != MP_BLK_POSSIBLE)
		return state;
	if (start && definite)
		return MP_BLK_REACHABLE;
	return MP_BLK_POSSIBLE;
}

#endif

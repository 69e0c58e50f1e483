/* SPDX-License-Identifier: MIT */
/*
 * Interior pointers (see interior.h).  The heuristics follow memcheck's
 * description of them (mc_leakcheck.c, heuristic_reachedness, valgrind
 * 3.19), written from its rules:
 *
 *   stdstring   ptr == block + 24, capacity = word[1], length = word[0]:
 *               24 + capacity + 1 == size (the old reference-counted
 *               std::string's representation, terminating NUL included)
 *               and length <= capacity;
 *   length64    ptr == block + 8, word[0] == size - 8 != 0;
 *   newarray    ptr == block + 8, word[0] = n != 0, (size - 8) % n == 0
 *               (the array cookie new[] puts before objects with a
 *               destructor); on 64-bit a length64 block passes it too;
 *   multipleinheritance
 *               ptr 8-aligned, the word at ptr and word[0] both 8-aligned,
 *               >= 4096 and vtable addresses: a pointer to a base class
 *               that is not the first one points at that base's vtable
 *               pointer, and the object starts with its own.
 *
 * A vtable address (memcheck's aligned_ptr_above_page0_is_vtable_addr) is
 * in a readable file mapping, and of the words from it, at most 21 and not
 * past the mapping's end, two non-null ones come before any word that is
 * neither null nor the address of code in a file mapping.  memcheck asks
 * that the code's mapping has had code translated from it (hasT), which a
 * scan in the process cannot know: an executable file mapping stands for
 * it.  And memcheck takes any readable file mapping for the table: here
 * only a loaded object's (MP_REGION_OBJ), whose words lie inside the file,
 * since a word read from a file mapping past the end of its file would
 * fault (SIGBUS), where memcheck catches the fault and moves on.
 *
 * In the target: no allocation, no lock.
 */
#include <string.h>

#include "leakscan/interior.h"

#define WORD sizeof(uintptr_t)
#define VTABLE_WORDS 21          /* p and the 20 words after it, at most */
#define PAGE0 4096               /* memcheck: no vtable in page 0 */

static const char *parse_hex(const char *s, const char *end, uint64_t *ret)
{
	uint64_t v = 0;
	const char *start = s;

	for (; s < end; s++) {
		unsigned d;
		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (*s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else
			break;
		v = v * 16 + d;
	}
	*ret = v;
	return s > start ? s : NULL;
}

static const char *skip_spaces(const char *s, const char *end)
{
	while (s < end && *s == ' ')
		s++;
	return s;
}

static int starts(const char *s, const char *end, const char *prefix)
{
	size_t n = strlen(prefix);
	return (size_t)(end - s) >= n && memcmp(s, prefix, n) == 0;
}

/* One line "lo-hi perms offset major:minor inode [path]": 1 and *ret, or 0. */
static int parse_line(const char *s, const char *end, struct mp_leak_region *ret)
{
	uint64_t lo, hi, off, maj, min, inode = 0;

	if (!(s = parse_hex(s, end, &lo)) || s == end || *s++ != '-' ||
	    !(s = parse_hex(s, end, &hi)) || hi <= lo || end - s < 6 || *s++ != ' ')
		return 0;
	const char *perms = s;
	s += 4;
	if (*s++ != ' ' || !(s = parse_hex(s, end, &off)) || s == end || *s++ != ' ' ||
	    !(s = parse_hex(s, end, &maj)) || s == end || *s++ != ':' ||
	    !(s = parse_hex(s, end, &min)) || s == end || *s++ != ' ')
		return 0;
	for (; s < end && *s >= '0' && *s <= '9'; s++)
		inode = inode * 10 + (uint64_t)(*s - '0');
	const char *name = skip_spaces(s, end);

	uint32_t fl = 0;
	fl |= perms[0] == 'r' ? MP_REGION_R : 0;
	fl |= perms[1] == 'w' ? MP_REGION_W : 0;
	fl |= perms[2] == 'x' ? MP_REGION_X : 0;
	int file = name < end && *name == '/';
	fl |= file ? MP_REGION_FILE : 0;
	/* Not roots: the kernel's special mappings but the stack and the
	 * heap, and devices but /dev/zero (memory like any other). */
	int special = name < end && *name == '[' && !starts(name, end, "[stack") &&
		      !starts(name, end, "[heap");
	int device = file && starts(name, end, "/dev/") && !starts(name, end, "/dev/zero");
	if ((fl & MP_REGION_R) && (fl & MP_REGION_W) && !special && !device)
		fl |= MP_REGION_ROOT;

	ret->lo = (uintptr_t)lo;
	ret->hi = (uintptr_t)hi;
	ret->inode = file ? inode : 0;
	ret->dev = (uint32_t)(maj << 20 | min);
	ret->flags = fl;
	return 1;
}

/* Runs of lines of one file (the segments of a loaded object, which the
 * dynamic loader maps one after the other) with an executable line are
 * loaded objects. */
static void mark_objects(struct mp_leak_region *r, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		uint32_t any = r[i].flags;
		if (r[i].inode) {
			while (j < n && r[j].inode == r[i].inode && r[j].dev == r[i].dev)
				any |= r[j++].flags;
			if (any & MP_REGION_X)
				for (size_t k = i; k < j; k++)
					r[k].flags |= MP_REGION_OBJ;
		}
		i = j;
	}
}

size_t mp_leak_regions_parse(const char *text, size_t len, struct mp_leak_region *out,
			     size_t cap)
{
	const char *s = text, *end = text + len;
	size_t n = 0;

	while (s < end && n < cap) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *le = nl ? nl : end;
		if (parse_line(s, le, &out[n]) && (n == 0 || out[n].lo >= out[n - 1].hi))
			n++;
		s = le + 1;
	}
	mark_objects(out, n);
	return n;
}

const struct mp_leak_region *mp_leak_region_find(const struct mp_leak_region *r, size_t n,
						 uintptr_t a)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (a < r[mid].lo)
			hi = mid;
		else if (a >= r[mid].hi)
			lo = mid + 1;
		else
			return &r[mid];
	}
	return NULL;
}

int mp_leak_is_vtable(const struct mp_leak_region *r, size_t n, uintptr_t p)
{
	const struct mp_leak_region *t = mp_leak_region_find(r, n, p);
	unsigned fns = 0;

	if (!t || (t->flags & (MP_REGION_R | MP_REGION_OBJ)) != (MP_REGION_R | MP_REGION_OBJ))
		return 0;
	uintptr_t last = p + (VTABLE_WORDS - 1) * WORD;
	if (last > t->hi - WORD || last < p)
		last = t->hi - WORD;
	for (uintptr_t a = p; a <= last; a += WORD) {
		uintptr_t fn = *(const uintptr_t *)a;
		if (fn == 0)
			continue;   /* memcheck: null entries happen in vtables */
		const struct mp_leak_region *c = mp_leak_region_find(r, n, fn);
		if (!c || (c->flags & (MP_REGION_FILE | MP_REGION_X)) != (MP_REGION_FILE | MP_REGION_X))
			return 0;
		if (++fns == 2)
			return 1;
	}
	return 0;
}

static uintptr_t word_at(const void *block, size_t off)
{
	uintptr_t w;
	memcpy(&w, (const char *)block + off, sizeof(w));
	return w;
}

enum mp_leak_heuristic mp_leak_heuristic(const void *block, size_t size, size_t readable,
					 size_t off, const struct mp_leak_region *r, size_t n)
{
	if (off == 3 * WORD && size > 3 * WORD && readable >= 2 * WORD) {
		uintptr_t capacity = word_at(block, WORD);
		if (capacity == size - 3 * WORD - 1 && word_at(block, 0) <= capacity)
			return MP_HEUR_STDSTRING;
	}
	if (off == 8 && size > 8 && readable >= 8) {
		uint64_t w0 = word_at(block, 0);
		if (w0 != 0 && w0 == size - 8)
			return MP_HEUR_LENGTH64;
		if (w0 != 0 && (size - 8) % w0 == 0)
			return MP_HEUR_NEWARRAY;
	}
	if (off % WORD == 0 && off + WORD <= size && off + WORD <= readable) {
		uintptr_t inner = word_at(block, off), first = word_at(block, 0);
		if (inner % WORD == 0 && inner >= PAGE0 && first % WORD == 0 && first >= PAGE0 &&
		    mp_leak_is_vtable(r, n, inner) && mp_leak_is_vtable(r, n, first))
			return MP_HEUR_MULTIPLE_INHERITANCE;
	}
	return MP_HEUR_NONE;
}

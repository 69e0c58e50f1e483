/* SPDX-License-Identifier: MIT */
/*
 * Interior pointers in the leak scan (leakscan/interior.h): the table of
 * mappings parsed from /proc/self/maps text (roots, files, loaded objects),
 * the lookup in it, memcheck's vtable test and its four heuristics on
 * blocks laid out by hand, and the states marking moves a block through.
 */
#include <stdint.h>
#include <string.h>

#include "leakscan/interior.h"
#include "tap.h"

static const char maps[] =
	"555555554000-555555556000 r--p 00000000 08:01 1234   /usr/bin/prog\n"
	"555555556000-555555558000 r-xp 00002000 08:01 1234   /usr/bin/prog\n"
	"555555558000-555555559000 r--p 00004000 08:01 1234   /usr/bin/prog\n"
	"555555559000-55555555a000 rw-p 00005000 08:01 1234   /usr/bin/prog\n"
	"55555555a000-55555555b000 rw-p 00000000 00:00 0 \n"
	"55555555b000-55555557c000 rw-p 00000000 00:00 0      [heap]\n"
	"7ffff7a00000-7ffff7a10000 r--p 00000000 08:01 99     /var/data.bin\n"
	"7ffff7a10000-7ffff7a20000 rw-s 00000000 00:05 7      /dev/dri/card0\n"
	"7ffff7a20000-7ffff7a30000 rw-s 00000000 00:01 8      /dev/zero (deleted)\n"
	"7ffff7a30000-7ffff7a31000 rw-p 00000000 00:01 9      /memfd:jit (deleted)\n"
	"this line is not a mapping\n"
	"7ffff7a31000-7ffff7a30000 rw-p 00000000 00:00 0 \n"          /* hi < lo */
	"7ffff7fc0000-7ffff7fc4000 r--p 00000000 00:00 0      [vvar]\n"
	"7ffff7fc4000-7ffff7fc6000 r-xp 00000000 00:00 0      [vdso]\n"
	"7ffff7fc6000-7ffff7fc7000 rw-p 00000000 00:00 0      [anon:glibc]\n"
	"7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0      [stack]\n"
	"7ffffff00000-7ffffff01000 rw-p 00000000 00:00 0 \n"          /* overlaps: dropped */
	"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0  [vsyscall]";   /* no '\n' */

static void test_parse(void)
{
	struct mp_leak_region r[32];
	size_t n = mp_leak_regions_parse(maps, strlen(maps), r, 32);
	const uint32_t obj = MP_REGION_FILE | MP_REGION_OBJ;

	CHECK_INT(n, 15);
	if (n != 15)
		return;
	CHECK_U64(r[0].lo, 0x555555554000u);
	CHECK_U64(r[0].hi, 0x555555556000u);
	CHECK_U64(r[0].inode, 1234);
	CHECK_INT(r[0].flags, MP_REGION_R | obj);
	CHECK_INT(r[1].flags, MP_REGION_R | MP_REGION_X | obj);
	CHECK_INT(r[2].flags, MP_REGION_R | obj);   /* .data.rel.ro after RELRO */
	CHECK_INT(r[3].flags, MP_REGION_R | MP_REGION_W | obj | MP_REGION_ROOT);
	CHECK_INT(r[4].flags, MP_REGION_R | MP_REGION_W | MP_REGION_ROOT);   /* .bss */
	CHECK_U64(r[4].inode, 0);
	CHECK_INT(r[5].flags, MP_REGION_R | MP_REGION_W | MP_REGION_ROOT);   /* [heap] */
	CHECK_INT(r[6].flags, MP_REGION_R | MP_REGION_FILE);   /* a file, no object */
	CHECK_INT(r[7].flags, MP_REGION_R | MP_REGION_W | MP_REGION_FILE);   /* a device */
	CHECK_INT(r[8].flags, MP_REGION_R | MP_REGION_W | MP_REGION_FILE | MP_REGION_ROOT);
	CHECK_INT(r[9].flags, MP_REGION_R | MP_REGION_W | MP_REGION_FILE | MP_REGION_ROOT);
	CHECK_INT(r[10].flags, MP_REGION_R);                   /* [vvar] */
	CHECK_INT(r[11].flags, MP_REGION_R | MP_REGION_X);     /* [vdso]: no file */
	CHECK_INT(r[12].flags, MP_REGION_R | MP_REGION_W);     /* named anonymous: as before */
	CHECK_INT(r[13].flags, MP_REGION_R | MP_REGION_W | MP_REGION_ROOT);  /* [stack] */
	CHECK_U64(r[14].lo, 0xffffffffff600000u);
	CHECK_INT(r[14].flags, MP_REGION_X);

	/* A full table: what fits, in order. */
	CHECK_INT(mp_leak_regions_parse(maps, strlen(maps), r, 2), 2);
	CHECK_INT(mp_leak_regions_parse(maps, 0, r, 32), 0);
	/* Cut inside a line: that line is dropped. */
	CHECK_INT(mp_leak_regions_parse(maps, 20, r, 32), 0);
}

static void test_find(void)
{
	struct mp_leak_region r[] = {
		{ 0x1000, 0x2000, 0, 0, 0 }, { 0x3000, 0x5000, 0, 0, 0 }, { 0x5000, 0x6000, 0, 0, 0 },
	};
	CHECK(mp_leak_region_find(r, 3, 0xfff) == NULL);
	CHECK(mp_leak_region_find(r, 3, 0x1000) == &r[0]);
	CHECK(mp_leak_region_find(r, 3, 0x1fff) == &r[0]);
	CHECK(mp_leak_region_find(r, 3, 0x2000) == NULL);
	CHECK(mp_leak_region_find(r, 3, 0x4fff) == &r[1]);
	CHECK(mp_leak_region_find(r, 3, 0x5000) == &r[2]);
	CHECK(mp_leak_region_find(r, 3, 0x6000) == NULL);
	CHECK(mp_leak_region_find(r, 0, 0x1000) == NULL);
}

/* The tables live in this test's memory; code is a made-up range (only
 * looked up, never read). */
#define CODE 0x400000u
static uintptr_t tables[32];

static void regions_for_tables(struct mp_leak_region *r, uint32_t table_flags)
{
	r[0] = (struct mp_leak_region){ CODE, CODE + 0x1000, 1, 1,
					MP_REGION_R | MP_REGION_X | MP_REGION_FILE | MP_REGION_OBJ };
	r[1] = (struct mp_leak_region){ (uintptr_t)tables, (uintptr_t)(tables + 32), 1, 1,
					table_flags };
	if (r[1].lo < r[0].hi) {   /* keep them sorted */
		struct mp_leak_region t = r[0];
		r[0] = r[1];
		r[1] = t;
	}
}

static void test_vtable(void)
{
	struct mp_leak_region r[2];
	const uint32_t ro = MP_REGION_R | MP_REGION_FILE | MP_REGION_OBJ;

	regions_for_tables(r, ro);
	memset(tables, 0, sizeof(tables));
	tables[0] = CODE + 0x10;
	tables[1] = CODE + 0x20;
	CHECK(mp_leak_is_vtable(r, 2, (uintptr_t)&tables[0]));
	tables[1] = 0;            /* nulls are skipped */
	tables[2] = CODE + 0x30;
	CHECK(mp_leak_is_vtable(r, 2, (uintptr_t)&tables[0]));
	tables[1] = 12345;        /* a word that is no code: no vtable */
	CHECK(!mp_leak_is_vtable(r, 2, (uintptr_t)&tables[0]));
	tables[1] = (uintptr_t)&tables[5];   /* a pointer to data is no code either */
	CHECK(!mp_leak_is_vtable(r, 2, (uintptr_t)&tables[0]));

	/* One function pointer, then the mapping ends: no. */
	memset(tables, 0, sizeof(tables));
	tables[31] = CODE;
	CHECK(!mp_leak_is_vtable(r, 2, (uintptr_t)&tables[31]));
	tables[30] = CODE;
	CHECK(mp_leak_is_vtable(r, 2, (uintptr_t)&tables[30]));

	/* 21 words at most: p and the 20 after it. */
	memset(tables, 0, sizeof(tables));
	tables[19] = tables[20] = CODE;
	CHECK(mp_leak_is_vtable(r, 2, (uintptr_t)&tables[0]));
	tables[19] = 0;
	tables[21] = CODE;
	CHECK(!mp_leak_is_vtable(r, 2, (uintptr_t)&tables[0]));

	/* Only in a loaded object's readable mapping. */
	memset(tables, 0, sizeof(tables));
	tables[0] = tables[1] = CODE;
	regions_for_tables(r, MP_REGION_R | MP_REGION_FILE);
	CHECK(!mp_leak_is_vtable(r, 2, (uintptr_t)&tables[0]));
	regions_for_tables(r, MP_REGION_FILE | MP_REGION_OBJ);
	CHECK(!mp_leak_is_vtable(r, 2, (uintptr_t)&tables[0]));
	regions_for_tables(r, ro);
	CHECK(!mp_leak_is_vtable(r, 1, CODE + 0x2000));   /* outside every mapping */
	/* Code must be a file's: an anonymous executable mapping (a JIT's) is not. */
	r[0].flags = r[0].lo == CODE ? MP_REGION_R | MP_REGION_X : r[0].flags;
	r[1].flags = r[1].lo == CODE ? MP_REGION_R | MP_REGION_X : r[1].flags;
	CHECK(!mp_leak_is_vtable(r, 2, (uintptr_t)&tables[0]));
}

static void test_heuristics(void)
{
	uint64_t b[16];
	struct mp_leak_region r[2];

	regions_for_tables(r, MP_REGION_R | MP_REGION_FILE | MP_REGION_OBJ);
	memset(tables, 0, sizeof(tables));

	/* stdstring: length, capacity, refcount, capacity + 1 chars. */
	memset(b, 0, sizeof(b));
	b[0] = 5;
	b[1] = 15;
	CHECK_INT(mp_leak_heuristic(b, 24 + 15 + 1, 48, 24, r, 2), MP_HEUR_STDSTRING);
	CHECK_INT(mp_leak_heuristic(b, 24 + 15 + 2, 48, 24, r, 2), MP_HEUR_NONE);
	CHECK_INT(mp_leak_heuristic(b, 24 + 15 + 1, 48, 16, r, 2), MP_HEUR_NONE);
	b[0] = 15;
	CHECK_INT(mp_leak_heuristic(b, 40, 48, 24, r, 2), MP_HEUR_STDSTRING);
	b[0] = 16;                /* length > capacity */
	CHECK_INT(mp_leak_heuristic(b, 40, 48, 24, r, 2), MP_HEUR_NONE);
	b[0] = 0;
	b[1] = (uint64_t)-1;      /* 24 + capacity + 1 wraps: not the size */
	CHECK_INT(mp_leak_heuristic(b, 40, 48, 24, r, 2), MP_HEUR_NONE);

	/* length64: size - 8 first (it passes newarray as well). */
	memset(b, 0, sizeof(b));
	b[0] = 40;
	CHECK_INT(mp_leak_heuristic(b, 48, 48, 8, r, 2), MP_HEUR_LENGTH64);
	CHECK_INT(mp_leak_heuristic(b, 48, 48, 16, r, 2), MP_HEUR_NONE);

	/* newarray: an element count that divides the rest. */
	b[0] = 3;
	CHECK_INT(mp_leak_heuristic(b, 8 + 3 * 16, 64, 8, r, 2), MP_HEUR_NEWARRAY);
	b[0] = 5;
	CHECK_INT(mp_leak_heuristic(b, 8 + 3 * 16, 64, 8, r, 2), MP_HEUR_NONE);
	b[0] = 0;
	CHECK_INT(mp_leak_heuristic(b, 8 + 3 * 16, 64, 8, r, 2), MP_HEUR_NONE);
	b[0] = 1;                 /* one element: any size passes */
	CHECK_INT(mp_leak_heuristic(b, 8 + 2, 16, 8, r, 2), MP_HEUR_NEWARRAY);

	/* multipleinheritance: the object's first word and the word the
	 * pointer points at are both vtables. */
	tables[0] = tables[1] = CODE;        /* the object's own vtable */
	tables[8] = tables[9] = CODE + 8;    /* the second base's */
	memset(b, 0, sizeof(b));
	b[0] = (uintptr_t)&tables[0];
	b[1] = 7;
	b[2] = (uintptr_t)&tables[8];
	b[3] = 9;
	CHECK_INT(mp_leak_heuristic(b, 32, 32, 16, r, 2), MP_HEUR_MULTIPLE_INHERITANCE);
	CHECK_INT(mp_leak_heuristic(b, 32, 32, 12, r, 2), MP_HEUR_NONE);   /* unaligned */
	CHECK_INT(mp_leak_heuristic(b, 20, 32, 16, r, 2), MP_HEUR_NONE);   /* word past size */
	CHECK_INT(mp_leak_heuristic(b, 32, 32, 24, r, 2), MP_HEUR_NONE);   /* 9: no vtable */
	b[0] = 64;                                  /* page 0: never */
	CHECK_INT(mp_leak_heuristic(b, 32, 32, 16, r, 2), MP_HEUR_NONE);
	b[0] = (uintptr_t)&tables[0] + 4;           /* unaligned */
	CHECK_INT(mp_leak_heuristic(b, 32, 32, 16, r, 2), MP_HEUR_NONE);
	b[0] = (uintptr_t)&tables[0];
	tables[9] = 12345;                          /* second base's table broken */
	CHECK_INT(mp_leak_heuristic(b, 32, 32, 16, r, 2), MP_HEUR_NONE);
	tables[9] = CODE;
	CHECK_INT(mp_leak_heuristic(b, 32, 32, 16, r, 0), MP_HEUR_NONE);  /* no regions */

	/* A plain interior pointer. */
	memset(b, 0, sizeof(b));
	CHECK_INT(mp_leak_heuristic(b, 64, 64, 16, r, 2), MP_HEUR_NONE);
	CHECK_INT(mp_leak_heuristic(b, 64, 64, 8, r, 2), MP_HEUR_NONE);
	CHECK_INT(mp_leak_heuristic(b, 64, 64, 24, r, 2), MP_HEUR_NONE);
}

static void test_tcb_dtv(void)
{
	uintptr_t tcb[4];

	tcb[0] = (uintptr_t)&tcb[0];
	tcb[1] = 0x1234010;               /* dtv + 1 */
	tcb[2] = (uintptr_t)&tcb[0];
	CHECK(mp_leak_is_tcb_dtv(&tcb[1]));
	tcb[2] = (uintptr_t)&tcb[1];      /* self is not the block */
	CHECK(!mp_leak_is_tcb_dtv(&tcb[1]));
	tcb[2] = (uintptr_t)&tcb[0];
	tcb[0] = 0;
	CHECK(!mp_leak_is_tcb_dtv(&tcb[1]));
}

static void test_reach(void)
{
	static const struct {
		uint8_t from;
		int start, definite;
		uint8_t to;
	} t[] = {
		{ MP_BLK_LIVE, 1, 1, MP_BLK_REACHABLE },
		{ MP_BLK_LIVE, 0, 1, MP_BLK_POSSIBLE },      /* interior from a root */
		{ MP_BLK_LIVE, 1, 0, MP_BLK_POSSIBLE },      /* from a possibly lost block */
		{ MP_BLK_LIVE, 0, 0, MP_BLK_POSSIBLE },
		{ MP_BLK_POSSIBLE, 1, 1, MP_BLK_REACHABLE }, /* upgraded */
		{ MP_BLK_POSSIBLE, 0, 1, MP_BLK_POSSIBLE },
		{ MP_BLK_POSSIBLE, 1, 0, MP_BLK_POSSIBLE },
		{ MP_BLK_POSSIBLE, 0, 0, MP_BLK_POSSIBLE },
		{ MP_BLK_REACHABLE, 0, 0, MP_BLK_REACHABLE },
		{ MP_BLK_REACHABLE, 1, 1, MP_BLK_REACHABLE },
		{ MP_BLK_FREE, 1, 1, MP_BLK_FREE },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		CHECK_INT(mp_leak_reach(t[i].from, t[i].start, t[i].definite), t[i].to);
}

int main(void)
{
	test_parse();
	test_find();
	test_vtable();
	test_heuristics();
	test_tcb_dtv();
	test_reach();
	return tap_done();
}

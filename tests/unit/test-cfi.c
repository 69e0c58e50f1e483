/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the CFI reader (src/sample/cfi.c): hand-assembled CIEs and
 * FDEs in the shape GCC emits for x86-64, the rules they give at each pc,
 * what must be refused, and the FDEs of this program's own functions.
 */
#include <stdint.h>
#include <string.h>

#include "sample/cfi.h"
#include "tap.h"

/* libgcc_s: the FDE covering pc (as the walker finds them). */
struct dwarf_eh_bases {
	void *tbase;
	void *dbase;
	void *func;
};
extern const void *_Unwind_Find_FDE(void *pc, struct dwarf_eh_bases *bases);

struct buf {
	uint8_t b[512];
	size_t n;
};

static void put(struct buf *b, const uint8_t *p, size_t n)
{
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

static void put32(struct buf *b, uint32_t v)
{
	put(b, (const uint8_t *)&v, 4);
}

static void pad(struct buf *b, size_t start)
{
	while ((b->n - start) % 8 != 4)
		b->b[b->n++] = 0;     /* DW_CFA_nop */
}

static void patch_len(struct buf *b, size_t start)
{
	uint32_t len = (uint32_t)(b->n - start - 4);
	memcpy(b->b + start, &len, 4);
}

#define BYTES(...) ((const uint8_t[]){ __VA_ARGS__ }), sizeof((const uint8_t[]){ __VA_ARGS__ })

/* A CIE as GCC writes it: version 1, augmentation `aug` ("zR" normally),
 * code alignment 1, data alignment `daf` (-8 or -4, as one byte of
 * SLEB128), return address register 16, FDE pointers pcrel|sdata4,
 * CFA = RSP + 8 and the return address at CFA - 8.  Returns its offset. */
static size_t cie(struct buf *b, const char *aug, uint8_t daf)
{
	uint8_t ra_factor = daf == 0x78 ? 1 : 2;
	size_t start = b->n;
	put32(b, 0);
	put32(b, 0);                          /* CIE id */
	put(b, BYTES(1));                     /* version */
	put(b, (const uint8_t *)aug, strlen(aug) + 1);
	put(b, BYTES(1, daf, 16));            /* code align, data align, RA column */
	put(b, BYTES(1, 0x1b));               /* augmentation data: R */
	put(b, BYTES(0x0c, 7, 8, 0x90, ra_factor));   /* def_cfa rsp+8; r16 at cfa-8 */
	pad(b, start);
	patch_len(b, start);
	return start;
}

/* An FDE for the CIE at `cie_at`, with CFA program `prog`; returns its
 * offset.  pc_begin and pc_range are not read by mp_cfi_rule (the caller
 * gives the function's start). */
static size_t fde(struct buf *b, size_t cie_at, const uint8_t *prog, size_t n)
{
	size_t start = b->n;
	put32(b, 0);
	put32(b, (uint32_t)(b->n - cie_at));  /* back to the CIE, from this field */
	put32(b, 0);                          /* pc_begin */
	put32(b, 64);                         /* pc_range */
	put(b, BYTES(0));                     /* augmentation data length */
	put(b, prog, n);
	pad(b, start);
	patch_len(b, start);
	return start;
}

#define FUNC 0x1000u

static uint64_t rule_at(const struct buf *b, size_t fde_at, uint64_t pc)
{
	return mp_cfi_rule((uintptr_t)b->b, (uintptr_t)(b->b + b->n), b->b + fde_at, FUNC, pc);
}

static void check_rule(uint64_t rule, unsigned kind, int64_t cfa_off, int64_t rbp_off,
		       const char *what)
{
	int ok = rule != MP_CFI_BAD && mp_cfi_kind(rule) == kind &&
		 mp_cfi_cfa_off(rule) == cfa_off && mp_cfi_rbp_off(rule) == rbp_off;
	tap_ok(ok, __FILE__, __LINE__, what);
	if (!ok)
		printf("#   got kind %u cfa %+lld rbp %+lld (rule %#llx)\n", mp_cfi_kind(rule),
		       (long long)mp_cfi_cfa_off(rule), (long long)mp_cfi_rbp_off(rule),
		       (unsigned long long)rule);
}

/* push %rbp; mov %rsp,%rbp; ...; leave; ret, as -fno-omit-frame-pointer. */
static void test_frame_pointer(void)
{
	struct buf b = { .n = 0 };
	size_t c = cie(&b, "zR", 0x78);
	size_t f = fde(&b, c, BYTES(0x41,          /* advance 1: after push %rbp */
				    0x0e, 16,      /* def_cfa_offset 16 */
				    0x86, 2,       /* offset rbp at cfa-16 */
				    0x43,          /* advance 3: after mov %rsp,%rbp */
				    0x0d, 6,       /* def_cfa_register rbp */
				    0x54,          /* advance 20: after leave */
				    0x0c, 7, 8));  /* def_cfa rsp+8 */
	/* A return address's row is its call's: pc - 1. */
	check_rule(rule_at(&b, f, FUNC + 1), MP_CFI_RSP, 8, 0, "entry: CFA = RSP+8");
	check_rule(rule_at(&b, f, FUNC + 2), MP_CFI_RSP, 16, -16, "after push: RSP+16, RBP saved");
	check_rule(rule_at(&b, f, FUNC + 4), MP_CFI_RSP, 16, -16, "row ends before its advance");
	check_rule(rule_at(&b, f, FUNC + 5), MP_CFI_RBP, 16, -16, "body: CFA = RBP+16");
	check_rule(rule_at(&b, f, FUNC + 24), MP_CFI_RBP, 16, -16, "last byte of the body");
	check_rule(rule_at(&b, f, FUNC + 25), MP_CFI_RSP, 8, -16, "after leave: RSP+8");
}

/* Frame-pointer-less code: stack adjustments, remember/restore around an
 * early return, a three-byte advance, a callee-saved RBP. */
static void test_no_frame_pointer(void)
{
	struct buf b = { .n = 0 };
	size_t c = cie(&b, "zR", 0x78);
	size_t f = fde(&b, c, BYTES(0x41, 0x0e, 16, 0x86, 2,   /* push %rbp */
				    0x44, 0x0e, 48,              /* sub $32,%rsp */
				    0x02, 10,                    /* advance_loc1 10 */
				    0x0a,                        /* remember_state */
				    0x0e, 16,                    /* add $32,%rsp */
				    0x41, 0x0e, 8,               /* pop %rbp */
				    0xc6,                        /* restore rbp */
				    0x41, 0x0b,                  /* ret; restore_state */
				    0x03, 0x00, 0x01,            /* advance_loc2 256 */
				    0x0e, 8));
	check_rule(rule_at(&b, f, FUNC + 6), MP_CFI_RSP, 48, -16, "body: RSP+48");
	check_rule(rule_at(&b, f, FUNC + 16), MP_CFI_RSP, 16, -16, "after remember: RSP+16");
	check_rule(rule_at(&b, f, FUNC + 17), MP_CFI_RSP, 8, 0, "after pop: RSP+8, RBP restored");
	check_rule(rule_at(&b, f, FUNC + 18), MP_CFI_RSP, 48, -16, "restore_state: the body's row");
	check_rule(rule_at(&b, f, FUNC + 18 + 256), MP_CFI_RSP, 8, -16, "advance_loc2");
}

/* _start: the return address is undefined, the walk ends there. */
static void test_outermost(void)
{
	struct buf b = { .n = 0 };
	size_t c = cie(&b, "zR", 0x78);
	size_t f = fde(&b, c, BYTES(0x07, 16));   /* undefined r16 */
	uint64_t r = rule_at(&b, f, FUNC + 4);
	CHECK(r != MP_CFI_BAD && mp_cfi_kind(r) == MP_CFI_END);
}

/* What the walker cannot follow, and what is not CFI at all. */
static void test_refused(void)
{
	struct buf b = { .n = 0 };
	size_t c = cie(&b, "zR", 0x78);
	size_t expr = fde(&b, c, BYTES(0x0f, 2, 0x77, 8));             /* def_cfa_expression */
	size_t rbp_reg = fde(&b, c, BYTES(0x09, 6, 3));                /* rbp in rbx */
	size_t ra_expr = fde(&b, c, BYTES(0x10, 16, 1, 0x96));         /* expression r16 */
	size_t r12 = fde(&b, c, BYTES(0x0c, 12, 8));                   /* CFA from r12 */
	size_t unknown = fde(&b, c, BYTES(0x3f));                      /* no such op */
	CHECK_U64(rule_at(&b, expr, FUNC + 1), MP_CFI_BAD);
	CHECK_U64(rule_at(&b, rbp_reg, FUNC + 1), MP_CFI_BAD);
	CHECK_U64(rule_at(&b, ra_expr, FUNC + 1), MP_CFI_BAD);
	CHECK_U64(rule_at(&b, r12, FUNC + 1), MP_CFI_BAD);
	CHECK_U64(rule_at(&b, unknown, FUNC + 1), MP_CFI_BAD);

	/* A signal frame ("S"), and RBP at an offset that is not a multiple of 8. */
	struct buf s = { .n = 0 };
	size_t cs = cie(&s, "zRS", 0x78);
	size_t fs = fde(&s, cs, BYTES(0x00));
	CHECK_U64(rule_at(&s, fs, FUNC + 1), MP_CFI_BAD);
	struct buf o = { .n = 0 };
	size_t co = cie(&o, "zR", 0x7c);                               /* data align -4 */
	size_t fo = fde(&o, co, BYTES(0x86, 3));                       /* rbp at cfa-12 */
	size_t fo8 = fde(&o, co, BYTES(0x86, 4));                      /* rbp at cfa-16 */
	CHECK_U64(rule_at(&o, fo, FUNC + 1), MP_CFI_BAD);
	check_rule(rule_at(&o, fo8, FUNC + 1), MP_CFI_RSP, 8, -16, "data alignment -4");

	/* Out of the region: a CIE pointer before it, an FDE longer than it,
	 * and an FDE given at its very end. */
	struct buf t = b;
	uint32_t far = 4096;
	memcpy(t.b + expr + 4, &far, 4);
	CHECK_U64(rule_at(&t, expr, FUNC + 1), MP_CFI_BAD);
	struct buf l = { .n = 0 };
	size_t cl = cie(&l, "zR", 0x78);
	size_t fl = fde(&l, cl, BYTES(0x41, 0x0e, 16));
	l.n -= 2;
	CHECK_U64(rule_at(&l, fl, FUNC + 2), MP_CFI_BAD);
	CHECK_U64(mp_cfi_rule((uintptr_t)b.b, (uintptr_t)(b.b + b.n), b.b + b.n, FUNC, FUNC + 1),
		  MP_CFI_BAD);
	CHECK_U64(mp_cfi_rule(0, UINTPTR_MAX, NULL, FUNC, FUNC + 1), MP_CFI_BAD);
}

/* This program's own code, as GCC compiled it: at a function's first
 * instruction the CFA is RSP + 8 and nothing is saved yet. */
static __attribute__((noinline)) int callee(int x)
{
	volatile int y = x * 3;
	return y + 1;
}

static void test_own_code(void)
{
	struct dwarf_eh_bases bases = { 0 };
	uintptr_t f = (uintptr_t)callee;
	const uint8_t *fde_p = _Unwind_Find_FDE((void *)f, &bases);
	CHECK(fde_p != NULL);
	CHECK((uintptr_t)bases.func == f);
	check_rule(mp_cfi_rule(0, UINTPTR_MAX, fde_p, (uint64_t)(uintptr_t)bases.func, f + 1),
		   MP_CFI_RSP, 8, 0, "own callee's first instruction");
	CHECK_INT(callee(2), 7);
}

int main(void)
{
	test_frame_pointer();
	test_no_frame_pointer();
	test_outermost();
	test_refused();
	test_own_code();
	return tap_done();
}

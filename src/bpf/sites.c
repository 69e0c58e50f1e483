/* SPDX-License-Identifier: MIT */
/* Probe sites on allocator entry points (see sites.h). */
#include <stdio.h>
#include <string.h>

#include "bpf/elfmod.h"
#include "bpf/sites.h"

static const char *const reg64[16] = {
	"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
	"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
};

enum { R_RAX = 0, R_RDX = 2, R_RSP = 4, R_RSI = 6, R_RDI = 7 };

static const char *const cc_names[16] = {
	"jo", "jno", "jb", "jae", "je", "jne", "jbe", "ja",
	"js", "jns", "jp", "jnp", "jl", "jge", "jle", "jg",
};

enum kind {
	K_PLAIN,        /* falls through, not emulated */
	K_PUSH,         /* emulated, writes the user stack */
	K_CALL,         /* emulated (pushes), control goes elsewhere */
	K_JCC,          /* emulated, may branch */
	K_JMP,          /* emulated, branches */
	K_NOP,          /* emulated by 6.18 (6.12 single-steps it): never a site */
};

/* One decoded instruction of the short list the chooser walks over. */
struct insn {
	size_t len;
	enum kind kind;
	uint32_t writes;          /* general registers written (bit = number) */
	int64_t sp;               /* change of the stack pointer */
	int64_t rel;              /* JCC, JMP, CALL: target - end of the instruction */
	unsigned cc;              /* JCC: condition (low nibble of the opcode) */
	char name[24];
};

/* Bytes of a ModRM operand at c[0..len) (ModRM, SIB, displacement), or 0. */
static size_t modrm_len(const uint8_t *c, size_t len)
{
	unsigned mod, rm;
	size_t n = 1;

	if (len < 1)
		return 0;
	mod = c[0] >> 6;
	rm = c[0] & 7;
	if (mod == 3)
		return 1;
	if (rm == 4) {                       /* SIB follows (whatever REX.B says) */
		if (len < 2)
			return 0;
		n = 2;
		if (mod == 0 && (c[1] & 7) == 5)
			n += 4;              /* no base: disp32 */
	} else if (mod == 0 && rm == 5) {
		n += 4;                      /* rip + disp32 */
	}
	if (mod == 1)
		n += 1;
	else if (mod == 2)
		n += 4;
	return n <= len ? n : 0;
}

static int32_t rd32(const uint8_t *c)
{
	return (int32_t)((uint32_t)c[0] | (uint32_t)c[1] << 8 | (uint32_t)c[2] << 16 |
			 (uint32_t)c[3] << 24);
}

/*
 * Decode the instruction at c[0..len) if it is one of the list: true and
 * *in, else false (unknown, cut short, or one that writes memory other than
 * by a push, or moves the stack pointer other than by a push or by adding
 * or subtracting a constant).
 */
static bool decode(const uint8_t *c, size_t len, struct insn *in)
{
	size_t i = 0, m;
	unsigned rex = 0, op, R, B, reg, rm;
	bool seg = false, opsize = false;

	memset(in, 0, sizeof(*in));
	if (len >= 4 && c[0] == 0xf3 && c[1] == 0x0f && c[2] == 0x1e && c[3] == 0xfa) {
		in->len = 4;
		snprintf(in->name, sizeof(in->name), "endbr64");
		return true;
	}
	if (i < len && (c[i] == 0x64 || c[i] == 0x65)) {     /* %fs:, %gs: (loads only) */
		seg = true;
		i++;
	}
	if (i < len && c[i] == 0x66) {                        /* operand size: nops only */
		opsize = true;
		i++;
	}
	if (i < len && (c[i] & 0xf0) == 0x40)
		rex = c[i++];
	if (i >= len)
		return false;
	op = c[i++];
	R = rex & 4 ? 8 : 0;
	B = rex & 1 ? 8 : 0;
	if (opsize && !(op == 0x0f && i < len && c[i] == 0x1f) && !(op == 0x90 && !rex))
		return false;
	if (seg && !(op == 0x8b || (op >= 0x38 && op <= 0x3b) || op == 0x84 || op == 0x85))
		return false;
	/* Instructions without ModRM. */
	if (op >= 0x50 && op <= 0x57) {
		in->len = i;
		in->kind = K_PUSH;
		in->sp = -8;
		snprintf(in->name, sizeof(in->name), "push %%%s", reg64[(op - 0x50) | B]);
		return true;
	}
	if (op == 0x90) {
		if (rex & 1)
			return false;                /* xchg %r8, %rax */
		in->len = i;
		in->kind = K_NOP;
		snprintf(in->name, sizeof(in->name), "nop");
		return true;
	}
	if (op >= 0x70 && op <= 0x7f) {
		if (rex || len < i + 1)
			return false;
		in->len = i + 1;
		in->kind = K_JCC;
		in->cc = op & 15;
		in->rel = (int8_t)c[i];
		snprintf(in->name, sizeof(in->name), "%s", cc_names[in->cc]);
		return true;
	}
	if (op == 0xeb || op == 0xe9 || op == 0xe8) {
		size_t n = op == 0xeb ? 1 : 4;

		if (rex || len < i + n)
			return false;
		in->len = i + n;
		in->kind = op == 0xe8 ? K_CALL : K_JMP;
		in->rel = n == 1 ? (int8_t)c[i] : rd32(c + i);
		snprintf(in->name, sizeof(in->name), "%s", op == 0xe8 ? "call" : "jmp");
		return true;
	}
	if (op >= 0xb8 && op <= 0xbf) {                      /* mov $imm, %reg */
		size_t n = rex & 8 ? 8 : 4;

		if (len < i + n)
			return false;
		in->len = i + n;
		in->writes = 1u << ((op - 0xb8) | B);
		snprintf(in->name, sizeof(in->name), "mov");
		return true;
	}
	if (op == 0xa8 || op == 0xa9 || op == 0x3c || op == 0x3d) {  /* test/cmp %al/%eax, $imm */
		size_t n = op == 0xa8 || op == 0x3c ? 1 : 4;

		if (len < i + n)
			return false;
		in->len = i + n;
		snprintf(in->name, sizeof(in->name), op <= 0x3d ? "cmp" : "test");
		return true;
	}
	if (op == 0x0f) {
		unsigned op2;

		if (i >= len)
			return false;
		op2 = c[i++];
		if (op2 >= 0x80 && op2 <= 0x8f) {
			if (rex || len < i + 4)
				return false;
			in->len = i + 4;
			in->kind = K_JCC;
			in->cc = op2 & 15;
			in->rel = rd32(c + i);
			snprintf(in->name, sizeof(in->name), "%s", cc_names[in->cc]);
			return true;
		}
		if (op2 == 0x1f) {                            /* nop r/m */
			m = modrm_len(c + i, len - i);
			if (!m || ((c[i] >> 3) & 7) != 0)
				return false;
			in->len = i + m;
			in->kind = K_NOP;
			snprintf(in->name, sizeof(in->name), "nop");
			return true;
		}
		if (op2 >= 0x90 && op2 <= 0x9f) {             /* setcc %r8 */
			if (i >= len || (c[i] >> 6) != 3)
				return false;
			rm = c[i] & 7;
			in->len = i + 1;
			/* Without REX, 4-7 are %ah..%bh. */
			in->writes = 1u << (rm | B) | 1u << (rm & 3);
			snprintf(in->name, sizeof(in->name), "set%s", cc_names[op2 & 15] + 1);
			return true;
		}
		return false;
	}
	/* Instructions with a ModRM operand. */
	m = modrm_len(c + i, len - i);
	if (!m)
		return false;
	reg = ((c[i] >> 3) & 7) | R;
	rm = (c[i] & 7) | B;
	bool is_reg = (c[i] >> 6) == 3;
	unsigned ext = (c[i] >> 3) & 7;

	in->len = i + m;
	switch (op) {
	case 0x89:                                            /* mov %reg, %rm */
		if (!is_reg)
			return false;                 /* a store */
		in->writes = 1u << rm;
		snprintf(in->name, sizeof(in->name), "mov");
		break;
	case 0x8b:                                            /* mov r/m, %reg */
		in->writes = 1u << reg;
		snprintf(in->name, sizeof(in->name), "mov");
		break;
	case 0x8d:                                            /* lea m, %reg */
		if (is_reg)
			return false;
		in->writes = 1u << reg;
		snprintf(in->name, sizeof(in->name), "lea");
		break;
	case 0x01: case 0x09: case 0x21: case 0x29: case 0x31:   /* alu %reg, %rm */
		if (!is_reg)
			return false;
		in->writes = 1u << rm;
		snprintf(in->name, sizeof(in->name), "alu");
		break;
	case 0x03: case 0x0b: case 0x23: case 0x2b: case 0x33:   /* alu r/m, %reg */
		in->writes = 1u << reg;
		snprintf(in->name, sizeof(in->name), "alu");
		break;
	case 0x84: case 0x85:
		snprintf(in->name, sizeof(in->name), "test");
		break;
	case 0x38: case 0x39: case 0x3a: case 0x3b:
		snprintf(in->name, sizeof(in->name), "cmp");
		break;
	case 0x80: case 0x81: case 0x83: {                    /* alu $imm, r/m */
		size_t n = op == 0x81 ? 4 : 1;
		int64_t imm;

		if (len < in->len + n)
			return false;
		imm = n == 1 ? (int8_t)c[in->len] : rd32(c + in->len);
		in->len += n;
		snprintf(in->name, sizeof(in->name), ext == 7 ? "cmp" : "alu");
		if (ext == 7)
			break;
		if (!is_reg)
			return false;                 /* a store */
		if (op == 0x80)
			in->writes = 1u << rm | 1u << (rm & 3);
		else if (rm == R_RSP && (rex & 8) && (ext == 0 || ext == 5))
			in->sp = ext == 0 ? imm : -imm;  /* add/sub $imm, %rsp */
		else
			in->writes = 1u << rm;
		break;
	}
	case 0xf6: case 0xf7: {                               /* group 3 */
		size_t n = op == 0xf7 ? 4 : 1;

		if (ext == 0) {                               /* test $imm, r/m */
			if (len < in->len + n)
				return false;
			in->len += n;
			snprintf(in->name, sizeof(in->name), "test");
		} else if (ext == 4 || ext == 5) {            /* mul, imul r/m */
			in->writes = 1u << R_RAX | (op == 0xf7 ? 1u << R_RDX : 0);
			snprintf(in->name, sizeof(in->name), "mul");
		} else {
			return false;
		}
		break;
	}
	case 0xc7:                                            /* mov $imm32, %rm */
		if (!is_reg || ext != 0 || len < in->len + 4)
			return false;
		in->len += 4;
		in->writes = 1u << rm;
		snprintf(in->name, sizeof(in->name), "mov");
		break;
	default:
		return false;
	}
	/* The stack pointer moves only by pushes and add/sub $imm. */
	if (in->writes & (1u << R_RSP))
		return false;
	return true;
}

static bool is_ret(const uint8_t *c, size_t len)
{
	return (len >= 1 && c[0] == 0xc3) || (len >= 2 && c[0] == 0xf3 && c[1] == 0xc3);
}

static void set_site(struct mp_site *s, uint32_t off, int64_t sp, const struct insn *in,
		     bool after_null)
{
	s->off = off;
	s->ra_off = (uint32_t)-sp;
	s->emulated = true;
	s->after_null_test = after_null;
	snprintf(s->insn, sizeof(s->insn), "%s", in->name);
}

void mp_site_choose(const uint8_t *code, size_t len, unsigned nargs, bool ret_probe,
		    bool null_free, uint32_t max_off, struct mp_site *ret)
{
	static const unsigned arg_regs[3] = { R_RDI, R_RSI, R_RDX };
	uint32_t need = 0, written = 0;
	size_t off = 0, prev_off = 0;
	int64_t sp = 0;
	bool fallback = false, after_null = false, prev_null_test = false;
	struct mp_site fb;
	struct insn in;

	for (unsigned k = 0; k < nargs && k < 3; k++)
		need |= 1u << arg_regs[k];
	memset(ret, 0, sizeof(*ret));
	memset(&fb, 0, sizeof(fb));
	for (int k = 0; k < 48 && off < len && off <= max_off; k++) {
		bool null_test;

		if (!decode(code + off, len - off, &in))
			break;
		/* `test %rdi,%rdi` with %rdi as at the entry. */
		null_test = in.len == 3 && code[off] == 0x48 && code[off + 1] == 0x85 &&
			    code[off + 2] == 0xff && !(written & (1u << R_RDI));
		if (in.kind != K_PLAIN && in.kind != K_NOP && !(written & need) && sp >= -0xffff &&
		    sp <= 0 &&
		    (!ret_probe || sp == 0)) {
			if (in.kind == K_JCC && null_free && prev_null_test && in.cc == 4 && sp == 0 &&
			    !after_null) {
				/* je after free's NULL test: to a ret? */
				int64_t t = (int64_t)(off + in.len) + in.rel;

				if (t >= 0 && (uint64_t)t < len && is_ret(code + t, len - (size_t)t)) {
					if (!fallback) {
						set_site(&fb, (uint32_t)off, sp, &in, false);
						fallback = true;
					}
					after_null = true;
					prev_off = off;
					off += in.len;
					prev_null_test = false;
					continue;
				}
			}
			if (in.kind == K_JCC || in.kind == K_JMP) {
				set_site(ret, (uint32_t)off, sp, &in, after_null);
				/* A site after the NULL test says so. */
				return;
			}
			/* A push or call: the site if nothing cheaper comes. */
			if (!fallback || (after_null && !fb.after_null_test)) {
				set_site(&fb, (uint32_t)off, sp, &in, after_null);
				fallback = true;
			}
		}
		if (in.kind == K_JCC || in.kind == K_JMP || in.kind == K_CALL)
			break;                        /* the straight line ends */
		written |= in.writes;
		sp += in.sp;
		if ((written & need) || (ret_probe && sp != 0))
			break;                        /* no later site can do */
		prev_null_test = null_test;
		prev_off = off;
		off += in.len;
	}
	(void)prev_off;
	if (fallback) {
		*ret = fb;
		return;
	}
	ret->off = 0;
	ret->ra_off = 0;
	ret->emulated = false;
	if (len && decode(code, len, &in))
		snprintf(ret->insn, sizeof(ret->insn), "%s", in.name);
	else
		snprintf(ret->insn, sizeof(ret->insn), "other");
}

uint32_t mp_site_branched_into(const uint8_t *seg, size_t seg_len, uint64_t seg_va,
			       uint64_t func_va, uint64_t func_size, uint32_t site_off)
{
	uint64_t lo = func_va + 1, hi = func_va + site_off;    /* [lo, hi] */
	uint64_t body = func_va + site_off, end = func_va + (func_size ? func_size : 4096);
	uint32_t best = 0;

	if (site_off == 0)
		return 0;
	for (size_t i = 0; i < seg_len; i++) {
		uint64_t at = seg_va + i, t;
		uint8_t b = seg[i];
		int64_t rel;
		size_t n;

		/* The instructions before the site are known: none branches
		 * back (the NULL test's je goes to a ret). */
		if (at >= func_va && at < body)
			continue;
		if ((b >= 0x70 && b <= 0x7f) || b == 0xeb || (b >= 0xe0 && b <= 0xe3)) {
			/* jcc, jmp, loop, jrcxz rel8: only from the function
			 * itself (the assembler never shortens a jump to
			 * another function's insides) */
			if (at < func_va || at >= end || i + 2 > seg_len)
				continue;
			rel = (int8_t)seg[i + 1];
			n = 2;
		} else if (b == 0xe8 || b == 0xe9) {
			if (i + 5 > seg_len)
				continue;
			rel = rd32(seg + i + 1);
			n = 5;
		} else if (b == 0x0f && i + 1 < seg_len && seg[i + 1] >= 0x80 && seg[i + 1] <= 0x8f) {
			if (i + 6 > seg_len)
				continue;
			rel = rd32(seg + i + 2);
			n = 6;
		} else {
			continue;
		}
		t = at + n + (uint64_t)rel;
		if (t >= lo && t <= hi && (!best || t - func_va < best))
			best = (uint32_t)(t - func_va);
	}
	return best;
}

/* reallocarray is not probed: glibc's tail-calls realloc, whose probe sees
 * it (with the caller's stack), and a probe on both would count it twice. */
static const struct {
	const char *name;
	enum mp_bpf_fn fn;
	bool outer;
	unsigned nargs;           /* integer arguments its program reads */
	bool ret_probe;           /* has a return probe (free never has) */
} funcs[] = {
	{ "malloc", MP_FN_MALLOC, false, 1, true },
	{ "calloc", MP_FN_CALLOC, false, 2, true },
	{ "realloc", MP_FN_REALLOC, true, 2, true },
	{ "free", MP_FN_FREE, false, 1, false },
	{ "cfree", MP_FN_FREE, false, 1, false },
	{ "memalign", MP_FN_MEMALIGN, true, 2, true },
	{ "aligned_alloc", MP_FN_MEMALIGN, true, 2, true },
	{ "posix_memalign", MP_FN_POSIX_MEMALIGN, true, 3, true },
	{ "valloc", MP_FN_VALLOC, true, 1, true },
	{ "pvalloc", MP_FN_PVALLOC, true, 1, true },
};

/* The site of a function at vaddr va with code[0..len): one that no branch
 * of the segment re-enters. */
static void choose_in(const struct mp_elfmod *m, uint64_t va, uint64_t size, const uint8_t *code,
		      size_t len, unsigned nargs, bool ret_probe, bool null_free,
		      struct mp_site *ret)
{
	uint64_t seg_va = 0;
	size_t seg_len = 0;
	const uint8_t *seg = mp_elfmod_segment(m, va, &seg_va, &seg_len);
	uint32_t max_off = UINT32_MAX;

	for (int k = 0; k < 8; k++) {
		uint32_t t;

		mp_site_choose(code, len, nargs, ret_probe, null_free, max_off, ret);
		if (!ret->off || !seg)
			return;
		t = mp_site_branched_into(seg, seg_len, seg_va, va, size, ret->off);
		if (!t)
			return;
		max_off = t - 1;              /* a site before the branch's target */
	}
	mp_site_choose(code, len, nargs, ret_probe, null_free, 0, ret);
}

size_t mp_probes_find(const struct mp_elfmod *m, struct mp_probe *ret)
{
	size_t n = 0;

	for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]) && n < MP_MAX_PROBES; i++) {
		struct mp_probe *p = &ret[n];
		const uint8_t *code;
		size_t len = 512;
		bool dup = false;

		if (!mp_elfmod_dynsym(m, funcs[i].name, &p->vaddr, &p->size))
			continue;
		for (size_t k = 0; k < n; k++) {
			if (ret[k].vaddr == p->vaddr) {
				if (!ret[k].also)
					ret[k].also = funcs[i].name;
				dup = true;
			}
		}
		if (dup)
			continue;
		code = mp_elfmod_bytes(m, p->vaddr, &len);
		if (!code)
			continue;
		if (p->size && len > p->size)
			len = (size_t)p->size;
		p->name = funcs[i].name;
		p->fn = funcs[i].fn;
		p->outer = funcs[i].outer;
		p->also = NULL;
		choose_in(m, p->vaddr, p->size, code, len, funcs[i].nargs, funcs[i].ret_probe,
			  funcs[i].fn == MP_FN_FREE, &p->site);
		if (!mp_elfmod_vaddr_to_off(m, p->vaddr + p->site.off, &p->file_off))
			continue;
		n++;
	}
	return n;
}

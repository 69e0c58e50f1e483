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

/* Length of an instruction that neither branches nor writes a register or
 * memory nor moves the stack pointer (it may set flags), or 0 when the one
 * at code[0..len) is not such a one we know. */
static size_t harmless(const uint8_t *c, size_t len, const char **name)
{
	size_t i = 0;
	bool rex = false;

	if (len >= 4 && c[0] == 0xf3 && c[1] == 0x0f && c[2] == 0x1e && c[3] == 0xfa) {
		*name = "endbr64";
		return 4;
	}
	if (len >= 1 && (c[0] & 0xf0) == 0x40) {      /* REX */
		rex = true;
		i = 1;
	}
	if (len < i + 2)
		return 0;
	switch (c[i]) {
	case 0x84: case 0x85:                          /* test r/m, r (register form only) */
	case 0x38: case 0x39: case 0x3a: case 0x3b:    /* cmp */
		if ((c[i + 1] & 0xc0) == 0xc0) {
			*name = c[i] <= 0x85 && c[i] >= 0x84 ? "test" : "cmp";
			return i + 2;
		}
		/* cmp with a rip-relative memory operand reads memory only */
		if (c[i] >= 0x38 && (c[i + 1] & 0xc7) == 0x05 && len >= i + 6) {
			*name = "cmp";
			return i + 6;
		}
		return 0;
	case 0x80: case 0x83: case 0x81:               /* group 1 with imm: only /7 (cmp) */
		if (((c[i + 1] >> 3) & 7) != 7)
			return 0;
		*name = "cmp";
		{
			size_t imm = c[i] == 0x81 ? 4 : 1, modrm_len;

			switch (c[i + 1] & 0xc7) {
			case 0x05: modrm_len = 5; break;   /* rip + disp32 */
			default:
				if ((c[i + 1] & 0xc0) == 0xc0)
					modrm_len = 1;
				else
					return 0;
			}
			if (len < i + 1 + modrm_len + imm)
				return 0;
			return i + 1 + modrm_len + imm;
		}
	case 0xf6: case 0xf7:                          /* test r/m, imm: /0 */
		if (((c[i + 1] >> 3) & 7) != 0 || (c[i + 1] & 0xc0) != 0xc0)
			return 0;
		*name = "test";
		{
			size_t imm = c[i] == 0xf7 ? 4 : 1;

			return len >= i + 2 + imm ? i + 2 + imm : 0;
		}
	default:
		(void)rex;
		return 0;
	}
}

/* Length of an instruction the kernel emulates at a uprobe, or 0. */
static size_t emulated(const uint8_t *c, size_t len, char *name, size_t name_size)
{
	if (len >= 1 && c[0] >= 0x50 && c[0] <= 0x57) {
		snprintf(name, name_size, "push %%%s", reg64[c[0] - 0x50]);
		return 1;
	}
	if (len >= 2 && c[0] == 0x41 && c[1] >= 0x50 && c[1] <= 0x57) {
		snprintf(name, name_size, "push %%%s", reg64[8 + c[1] - 0x50]);
		return 2;
	}
	if (len >= 2 && c[0] >= 0x70 && c[0] <= 0x7f) {
		snprintf(name, name_size, "jcc rel8");
		return 2;
	}
	if (len >= 6 && c[0] == 0x0f && c[1] >= 0x80 && c[1] <= 0x8f) {
		snprintf(name, name_size, "jcc rel32");
		return 6;
	}
	if (len >= 2 && c[0] == 0xeb) {
		snprintf(name, name_size, "jmp rel8");
		return 2;
	}
	if (len >= 5 && (c[0] == 0xe9 || c[0] == 0xe8)) {
		snprintf(name, name_size, c[0] == 0xe8 ? "call" : "jmp");
		return 5;
	}
	return 0;
}

void mp_site_choose(const uint8_t *code, size_t len, struct mp_site *ret)
{
	size_t off = 0;

	for (int k = 0; k < 8 && off < len; k++) {
		const char *h = NULL;
		size_t n;

		if (emulated(code + off, len - off, ret->insn, sizeof(ret->insn))) {
			ret->off = (uint32_t)off;
			ret->emulated = true;
			return;
		}
		n = harmless(code + off, len - off, &h);
		if (!n)
			break;
		off += n;
	}
	ret->off = 0;
	ret->emulated = false;
	{
		const char *h = NULL;
		size_t n = len ? harmless(code, len, &h) : 0;

		snprintf(ret->insn, sizeof(ret->insn), "%s", n ? h : "other");
	}
}

/* reallocarray is not probed: glibc's tail-calls realloc, whose probe sees
 * it (with the caller's stack), and a probe on both would count it twice. */
static const struct {
	const char *name;
	enum mp_bpf_fn fn;
	bool outer;
} funcs[] = {
	{ "malloc", MP_FN_MALLOC, false },
	{ "calloc", MP_FN_CALLOC, false },
	{ "realloc", MP_FN_REALLOC, true },
	{ "free", MP_FN_FREE, false },
	{ "cfree", MP_FN_FREE, false },
	{ "memalign", MP_FN_MEMALIGN, true },
	{ "aligned_alloc", MP_FN_MEMALIGN, true },
	{ "posix_memalign", MP_FN_POSIX_MEMALIGN, true },
	{ "valloc", MP_FN_VALLOC, true },
	{ "pvalloc", MP_FN_PVALLOC, true },
};

size_t mp_probes_find(const struct mp_elfmod *m, struct mp_probe *ret)
{
	size_t n = 0;

	for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]) && n < MP_MAX_PROBES; i++) {
		struct mp_probe *p = &ret[n];
		const uint8_t *code;
		size_t len = 64;
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
		mp_site_choose(code, len, &p->site);
		if (!mp_elfmod_vaddr_to_off(m, p->vaddr + p->site.off, &p->file_off))
			continue;
		n++;
	}
	return n;
}

/* SPDX-License-Identifier: MIT */
/* Call frame information into walker rules (see cfi.h).  DWARF 5 section
 * 6.4 and the LSB's .eh_frame format; x86-64 register numbers. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sample/cfi.h"

enum { REG_RBP = 6, REG_RSP = 7, REG_RA = 16 };

struct cur {
	const uint8_t *p, *end;
	bool bad;
};

static uint8_t u8(struct cur *c)
{
	if (c->p >= c->end) {
		c->bad = true;
		return 0;
	}
	return *c->p++;
}

static uint64_t uleb(struct cur *c)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		uint8_t b = u8(c);
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
	c->bad = true;
	return 0;
}

static int64_t sleb(struct cur *c)
{
	int64_t v = 0;
	unsigned shift = 0;
	uint8_t b;
	do {
		b = u8(c);
		v |= (int64_t)((uint64_t)(b & 0x7f) << shift);
		shift += 7;
	} while ((b & 0x80) && shift < 64 && !c->bad);
	if (shift < 64 && (b & 0x40))
		v = (int64_t)((uint64_t)v | (~(uint64_t)0 << shift));
	return v;
}

static void skip(struct cur *c, size_t n)
{
	if ((size_t)(c->end - c->p) < n) {
		c->bad = true;
		return;
	}
	c->p += n;
}

/* Size of an encoded pointer's value (DW_EH_PE_* low nibble); 0: LEB128,
 * -1: not known. */
static int enc_size(uint8_t enc)
{
	switch (enc & 0x0f) {
	case 0x00: return 8;          /* absptr */
	case 0x01: case 0x09: return 0;
	case 0x02: case 0x0a: return 2;
	case 0x03: case 0x0b: return 4;
	case 0x04: case 0x0c: return 8;
	default: return -1;
	}
}

static void skip_encoded(struct cur *c, uint8_t enc)
{
	int n;
	if (enc == 0xff)              /* omit */
		return;
	n = enc_size(enc);
	if (n < 0)
		c->bad = true;
	else if (n == 0)
		(void)uleb(c);
	else
		skip(c, (size_t)n);
}

/* The register rules this walker follows; anything else is "bad". */
struct row {
	uint64_t cfa_reg;
	int64_t cfa_off;
	int rbp;                      /* 0 same, 1 at CFA + rbp_off, 2 bad */
	int64_t rbp_off;
	int ra;                       /* 0 at CFA + ra_off, 1 undefined, 2 bad */
	int64_t ra_off;
	bool bad;
};

#define MAX_STATES 8

/* Run CFA instructions in [c) for code at `loc` onwards, up to `target`
 * (exclusive of rows after it).  `init` is the CIE's row (for restore). */
static void run_cfa(struct cur *c, struct row *r, const struct row *init, uint64_t loc,
		    uint64_t target, uint64_t caf, int64_t daf, uint8_t fde_enc)
{
	struct row stack[MAX_STATES];
	int depth = 0;

	while (c->p < c->end && !c->bad && !r->bad) {
		uint8_t op = u8(c);
		uint64_t reg, delta;
		int64_t off;

		switch (op >> 6) {
		case 1:
			delta = (uint64_t)(op & 0x3f) * caf;
			if (loc + delta > target)
				return;
			loc += delta;
			continue;
		case 2:
			reg = op & 0x3f;
			off = (int64_t)(uleb(c) * (uint64_t)daf);
			goto set_offset;
		case 3:
			reg = op & 0x3f;
			goto restore;
		}
		switch (op) {
		case 0x00:                    /* nop */
			break;
		case 0x01:                    /* set_loc */
			if (enc_size(fde_enc) != 8 || (fde_enc & 0x70) != 0) {
				r->bad = true;
				return;
			}
			if ((size_t)(c->end - c->p) < sizeof(delta)) {
				c->bad = true;
				return;
			}
			memcpy(&delta, c->p, sizeof(delta));
			c->p += sizeof(delta);
			if (delta > target)
				return;
			loc = delta;
			break;
		case 0x02: case 0x03: case 0x04: {   /* advance_loc1/2/4 */
			size_t n = op == 0x02 ? 1 : op == 0x03 ? 2 : 4;
			uint32_t v = 0;
			if ((size_t)(c->end - c->p) < n) {
				c->bad = true;
				return;
			}
			for (size_t i = 0; i < n; i++)
				v |= (uint32_t)c->p[i] << (8 * i);
			c->p += n;
			delta = (uint64_t)v * caf;
			if (loc + delta > target)
				return;
			loc += delta;
			break;
		}
		case 0x05:                    /* offset_extended */
			reg = uleb(c);
			off = (int64_t)(uleb(c) * (uint64_t)daf);
			goto set_offset;
		case 0x06:                    /* restore_extended */
			reg = uleb(c);
			goto restore;
		case 0x07:                    /* undefined */
			reg = uleb(c);
			if (reg == REG_RA)
				r->ra = 1;
			else if (reg == REG_RBP)
				r->rbp = 2;
			break;
		case 0x08:                    /* same_value */
			reg = uleb(c);
			if (reg == REG_RBP)
				r->rbp = 0;
			else if (reg == REG_RA)
				r->ra = 2;
			break;
		case 0x09:                    /* register */
			reg = uleb(c);
			(void)uleb(c);
			if (reg == REG_RBP)
				r->rbp = 2;
			else if (reg == REG_RA)
				r->ra = 2;
			break;
		case 0x0a:                    /* remember_state */
			if (depth == MAX_STATES) {
				r->bad = true;
				return;
			}
			stack[depth++] = *r;
			break;
		case 0x0b:                    /* restore_state */
			if (depth == 0) {
				r->bad = true;
				return;
			}
			*r = stack[--depth];     /* the CFA rule too, as GCC and libunwind do */
			break;
		case 0x0c:                    /* def_cfa */
			r->cfa_reg = uleb(c);
			r->cfa_off = (int64_t)uleb(c);
			break;
		case 0x0d:                    /* def_cfa_register */
			r->cfa_reg = uleb(c);
			break;
		case 0x0e:                    /* def_cfa_offset */
			r->cfa_off = (int64_t)uleb(c);
			break;
		case 0x0f:                    /* def_cfa_expression */
			r->bad = true;
			return;
		case 0x10:                    /* expression */
		case 0x16:                    /* val_expression */
			reg = uleb(c);
			skip(c, (size_t)uleb(c));
			if (reg == REG_RBP)
				r->rbp = 2;
			else if (reg == REG_RA)
				r->ra = 2;
			break;
		case 0x11:                    /* offset_extended_sf */
			reg = uleb(c);
			off = (int64_t)((uint64_t)sleb(c) * (uint64_t)daf);
			goto set_offset;
		case 0x12:                    /* def_cfa_sf */
			r->cfa_reg = uleb(c);
			r->cfa_off = (int64_t)((uint64_t)sleb(c) * (uint64_t)daf);
			break;
		case 0x13:                    /* def_cfa_offset_sf */
			r->cfa_off = (int64_t)((uint64_t)sleb(c) * (uint64_t)daf);
			break;
		case 0x14:                    /* val_offset */
		case 0x15:                    /* val_offset_sf */
			reg = uleb(c);
			if (op == 0x14)
				(void)uleb(c);
			else
				(void)sleb(c);
			if (reg == REG_RBP)
				r->rbp = 2;
			else if (reg == REG_RA)
				r->ra = 2;
			break;
		case 0x2e:                    /* GNU_args_size */
			(void)uleb(c);
			break;
		case 0x2f:                    /* GNU_negative_offset_extended */
			reg = uleb(c);
			off = (int64_t)(-(uleb(c) * (uint64_t)daf));
			goto set_offset;
		default:
			r->bad = true;
			return;
		}
		continue;
set_offset:
		if (reg == REG_RBP) {
			r->rbp = 1;
			r->rbp_off = off;
		} else if (reg == REG_RA) {
			r->ra = 0;
			r->ra_off = off;
		}
		continue;
restore:
		if (reg == REG_RBP) {
			r->rbp = init->rbp;
			r->rbp_off = init->rbp_off;
		} else if (reg == REG_RA) {
			r->ra = init->ra;
			r->ra_off = init->ra_off;
		}
	}
}

/* Whether [p, p + n) lies in [lo, hi). */
static bool within(uintptr_t lo, uintptr_t hi, const uint8_t *p, uint64_t n)
{
	uintptr_t a = (uintptr_t)p;
	return a >= lo && a <= hi && n <= hi - a;
}

uint64_t mp_cfi_rule(uintptr_t lo, uintptr_t hi, const uint8_t *fde, uint64_t func, uint64_t pc)
{
	uint32_t len, cie_off;

	if (!fde || !within(lo, hi, fde, 8))
		return MP_CFI_BAD;
	memcpy(&len, fde, 4);
	memcpy(&cie_off, fde + 4, 4);
	if (len < 4 || len == 0xffffffffu || cie_off == 0 || !within(lo, hi, fde, 4 + (uint64_t)len))
		return MP_CFI_BAD;
	/* The CIE pointer counts back from its own field. */
	if ((uintptr_t)fde + 4 - lo < cie_off)
		return MP_CFI_BAD;
	const uint8_t *cie = (const uint8_t *)((uintptr_t)fde + 4 - cie_off);
	uint32_t cie_len, cie_id;
	if (!within(lo, hi, cie, 8))
		return MP_CFI_BAD;
	memcpy(&cie_len, cie, 4);
	memcpy(&cie_id, cie + 4, 4);
	if (cie_len < 4 || cie_len == 0xffffffffu || cie_id != 0 ||
	    !within(lo, hi, cie, 4 + (uint64_t)cie_len))
		return MP_CFI_BAD;

	struct cur c = { cie + 8, cie + 4 + cie_len, false };
	uint8_t version = u8(&c);
	const char *aug = (const char *)c.p;
	size_t aug_len = strnlen(aug, (size_t)(c.end - c.p));
	skip(&c, aug_len + 1);
	uint64_t caf = uleb(&c);
	int64_t daf = sleb(&c);
	uint64_t ra_reg = version == 1 ? u8(&c) : uleb(&c);
	uint8_t fde_enc = 0;          /* absptr */
	bool has_z = aug_len > 0 && aug[0] == 'z';
	if (version != 1 && version != 3)
		return MP_CFI_BAD;
	if (ra_reg != REG_RA || c.bad)
		return MP_CFI_BAD;
	if (aug_len > 0 && !has_z)
		return MP_CFI_BAD;      /* "eh" and other old forms */
	if (has_z) {
		uint64_t n = uleb(&c);
		if (c.bad || n > (uint64_t)(c.end - c.p))
			return MP_CFI_BAD;
		const uint8_t *aug_end = c.p + n;
		for (size_t i = 1; i < aug_len && !c.bad; i++) {
			switch (aug[i]) {
			case 'R':
				fde_enc = u8(&c);
				break;
			case 'P': {
				uint8_t penc = u8(&c);
				skip_encoded(&c, penc);
				break;
			}
			case 'L':
				(void)u8(&c);
				break;
			default:          /* 'S' (signal frame) and the unknown */
				return MP_CFI_BAD;
			}
		}
		if (c.bad)
			return MP_CFI_BAD;
		c.p = aug_end;
	}
	struct row init = { .cfa_reg = REG_RSP, .cfa_off = 8, .rbp = 0, .ra = 2 };
	uint64_t start = func, target = pc - 1;
	run_cfa(&c, &init, &init, start, UINT64_MAX, caf, daf, fde_enc);
	if (c.bad || init.bad)
		return MP_CFI_BAD;

	/* The FDE: pc_begin, pc_range, augmentation data, instructions. */
	struct cur f = { fde + 8, fde + 4 + len, false };
	int n = enc_size(fde_enc);
	if (n <= 0)
		return MP_CFI_BAD;
	skip(&f, (size_t)n * 2);
	if (has_z)
		skip(&f, (size_t)uleb(&f));
	if (f.bad)
		return MP_CFI_BAD;
	struct row r = init;
	run_cfa(&f, &r, &init, start, target, caf, daf, fde_enc);
	if (f.bad || r.bad || r.rbp == 2 || r.ra == 2)
		return MP_CFI_BAD;
	if (r.ra == 1)
		return MP_CFI_END;
	if (r.ra_off != -8 || (r.cfa_reg != REG_RSP && r.cfa_reg != REG_RBP))
		return MP_CFI_BAD;
	if (r.cfa_off < -(1 << 23) || r.cfa_off >= (1 << 23) || r.rbp_off < -(1 << 23) ||
	    r.rbp_off >= (1 << 23) || (r.rbp == 1 && (r.rbp_off == 0 || (r.rbp_off & 7))))
		return MP_CFI_BAD;
	return (uint64_t)(r.cfa_reg == REG_RSP ? MP_CFI_RSP : MP_CFI_RBP) |
	       ((uint64_t)(r.cfa_off & 0xffffff) << 16) |
	       (r.rbp == 1 ? (uint64_t)(r.rbp_off & 0xffffff) << 40 : 0);
}


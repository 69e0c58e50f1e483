/* SPDX-License-Identifier: MIT */
/* A module of another process, read from its file (see elfmod.h).  Plain
 * ELF64 parsing with every offset checked: the file is untrusted. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bpf/elfmod.h"

struct mp_elfmod {
	const uint8_t *data;
	size_t size;
	const Elf64_Phdr *ph;
	size_t nph;
	const Elf64_Sym *dynsym;      /* NULL: none */
	size_t ndynsym;
	const char *dynstr;
	size_t dynstr_size;
	const uint16_t *versym;       /* NULL: none; else ndynsym entries */
	const uint8_t *hdr;           /* .eh_frame_hdr in the file, NULL: none */
	size_t hdr_size;
	uint64_t hdr_vaddr;
	bool interp;
};

static bool in_file(const struct mp_elfmod *m, uint64_t off, uint64_t len)
{
	return off <= m->size && len <= m->size - off;
}

int mp_elfmod_open(const char *path, struct mp_elfmod **ret)
{
	struct mp_elfmod *m;
	const Elf64_Ehdr *eh;
	struct stat st;
	void *p;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < (off_t)sizeof(Elf64_Ehdr)) {
		r = S_ISREG(st.st_mode) ? -ENOEXEC : -EINVAL;
		close(fd);
		return r;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -errno;
	m = calloc(1, sizeof(*m));
	if (!m) {
		munmap(p, (size_t)st.st_size);
		return -ENOMEM;
	}
	m->data = p;
	m->size = (size_t)st.st_size;
	eh = p;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_ident[EI_DATA] != ELFDATA2LSB || eh->e_machine != EM_X86_64) {
		r = -ENOEXEC;
		goto fail;
	}
	if (eh->e_phentsize != sizeof(Elf64_Phdr) ||
	    !in_file(m, eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr)) ||
	    (eh->e_phoff & 7)) {
		r = -EBADMSG;
		goto fail;
	}
	m->ph = (const Elf64_Phdr *)(m->data + eh->e_phoff);
	m->nph = eh->e_phnum;
	for (size_t i = 0; i < m->nph; i++) {
		const Elf64_Phdr *ph = &m->ph[i];

		if (ph->p_type == PT_INTERP)
			m->interp = true;
		if (ph->p_type == PT_GNU_EH_FRAME && in_file(m, ph->p_offset, ph->p_filesz) &&
		    ph->p_filesz >= 12) {
			m->hdr = m->data + ph->p_offset;
			m->hdr_size = ph->p_filesz;
			m->hdr_vaddr = ph->p_vaddr;
		}
	}
	/* Dynamic symbols, through the section headers (optional). */
	if (eh->e_shentsize == sizeof(Elf64_Shdr) && eh->e_shnum > 0 && !(eh->e_shoff & 7) &&
	    in_file(m, eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr))) {
		const Elf64_Shdr *sh = (const Elf64_Shdr *)(m->data + eh->e_shoff);

		for (size_t i = 0; i < eh->e_shnum; i++) {
			const Elf64_Shdr *s = &sh[i], *str;

			if (s->sh_type != SHT_DYNSYM || s->sh_entsize != sizeof(Elf64_Sym) ||
			    (s->sh_offset & 7) || !in_file(m, s->sh_offset, s->sh_size) ||
			    s->sh_link >= eh->e_shnum)
				continue;
			str = &sh[s->sh_link];
			if (str->sh_type != SHT_STRTAB || !in_file(m, str->sh_offset, str->sh_size))
				continue;
			m->dynsym = (const Elf64_Sym *)(m->data + s->sh_offset);
			m->ndynsym = s->sh_size / sizeof(Elf64_Sym);
			m->dynstr = (const char *)m->data + str->sh_offset;
			m->dynstr_size = str->sh_size;
		}
		for (size_t i = 0; i < eh->e_shnum && m->dynsym; i++) {
			const Elf64_Shdr *s = &sh[i];

			if (s->sh_type == SHT_GNU_versym && !(s->sh_offset & 1) &&
			    in_file(m, s->sh_offset, s->sh_size) &&
			    s->sh_size / 2 >= m->ndynsym)
				m->versym = (const uint16_t *)(m->data + s->sh_offset);
		}
	}
	*ret = m;
	return 0;
fail:
	mp_elfmod_free(m);
	return r;
}

void mp_elfmod_free(struct mp_elfmod *m)
{
	if (!m)
		return;
	munmap((void *)m->data, m->size);
	free(m);
}

bool mp_elfmod_has_interp(const struct mp_elfmod *m)
{
	return m->interp;
}

bool mp_elfmod_off_to_vaddr(const struct mp_elfmod *m, uint64_t off, uint64_t *ret)
{
	for (size_t i = 0; i < m->nph; i++) {
		const Elf64_Phdr *ph = &m->ph[i];

		if (ph->p_type == PT_LOAD && off >= ph->p_offset && off - ph->p_offset < ph->p_filesz) {
			*ret = ph->p_vaddr + (off - ph->p_offset);
			return true;
		}
	}
	return false;
}

/* The PT_LOAD that maps vaddr va from the file. */
static const Elf64_Phdr *load_of(const struct mp_elfmod *m, uint64_t va)
{
	for (size_t i = 0; i < m->nph; i++) {
		const Elf64_Phdr *ph = &m->ph[i];

		if (ph->p_type == PT_LOAD && va >= ph->p_vaddr && va - ph->p_vaddr < ph->p_filesz &&
		    in_file(m, ph->p_offset, ph->p_filesz))
			return ph;
	}
	return NULL;
}

bool mp_elfmod_vaddr_to_off(const struct mp_elfmod *m, uint64_t va, uint64_t *ret)
{
	const Elf64_Phdr *ph = load_of(m, va);

	if (!ph)
		return false;
	*ret = ph->p_offset + (va - ph->p_vaddr);
	return true;
}

const uint8_t *mp_elfmod_bytes(const struct mp_elfmod *m, uint64_t va, size_t *n)
{
	const Elf64_Phdr *ph = load_of(m, va);
	uint64_t left;

	if (!ph)
		return NULL;
	left = ph->p_filesz - (va - ph->p_vaddr);
	if (*n > left)
		*n = (size_t)left;
	return m->data + ph->p_offset + (va - ph->p_vaddr);
}

const uint8_t *mp_elfmod_segment(const struct mp_elfmod *m, uint64_t va, uint64_t *ret_va,
				  size_t *ret_len)
{
	const Elf64_Phdr *ph = load_of(m, va);

	if (!ph)
		return NULL;
	*ret_va = ph->p_vaddr;
	*ret_len = (size_t)ph->p_filesz;
	return m->data + ph->p_offset;
}

bool mp_elfmod_dynsym(const struct mp_elfmod *m, const char *name, uint64_t *ret_vaddr,
		      uint64_t *ret_size)
{
	bool found = false;

	for (size_t i = 1; i < m->ndynsym; i++) {
		const Elf64_Sym *s = &m->dynsym[i];
		const char *n;

		if (ELF64_ST_TYPE(s->st_info) != STT_FUNC || s->st_shndx == SHN_UNDEF ||
		    s->st_name >= m->dynstr_size)
			continue;
		n = m->dynstr + s->st_name;
		if (strnlen(n, m->dynstr_size - s->st_name) == m->dynstr_size - s->st_name ||
		    strcmp(n, name) != 0)
			continue;
		/* A hidden (non-default) version only when nothing else has the name. */
		if (found && m->versym && (m->versym[i] & 0x8000))
			continue;
		*ret_vaddr = s->st_value;
		*ret_size = s->st_size;
		found = true;
		if (!m->versym || !(m->versym[i] & 0x8000))
			break;
	}
	return found;
}

/* ---- .eh_frame_hdr ---------------------------------------------------------- */

/* Decode one pointer of encoding `enc` at *p (within [.., end)), `at` being
 * its vaddr and `hdr_va` the table's vaddr (for datarel).  False when the
 * encoding is one we do not read. */
static bool read_enc(const uint8_t **p, const uint8_t *end, uint8_t enc, uint64_t at,
		     uint64_t hdr_va, uint64_t *ret)
{
	uint64_t v;
	size_t n;

	switch (enc & 0x0f) {
	case 0x03: case 0x0b: n = 4; break;     /* udata4, sdata4 */
	case 0x00: case 0x04: case 0x0c: n = 8; break;
	default: return false;
	}
	if ((size_t)(end - *p) < n)
		return false;
	if (n == 4) {
		uint32_t u;

		memcpy(&u, *p, 4);
		v = (enc & 0x0f) == 0x0b ? (uint64_t)(int64_t)(int32_t)u : u;
	} else {
		memcpy(&v, *p, 8);
	}
	*p += n;
	switch (enc & 0x70) {
	case 0x00: break;
	case 0x10: v += at; break;               /* pcrel */
	case 0x30: v += hdr_va; break;           /* datarel */
	default: return false;
	}
	*ret = v;
	return true;
}

/* The size of the FDE's pc_begin and pc_range fields, from its CIE's 'R'
 * augmentation (absptr, 8 bytes, by default); 0 when unknown. */
static size_t fde_ptr_size(const uint8_t *cie, const uint8_t *end)
{
	const uint8_t *p = cie + 9;         /* length, id, version */
	const char *aug = (const char *)p;
	size_t alen = strnlen(aug, (size_t)(end - p));
	uint8_t version = cie[8];

	if (alen == (size_t)(end - p))
		return 0;
	p += alen + 1;
	for (int k = 0; k < 2; k++) {       /* code and data alignment (LEB128) */
		while (p < end && (*p & 0x80))
			p++;
		p++;
	}
	if (version == 1)
		p++;
	else {
		while (p < end && (*p & 0x80))
			p++;
		p++;
	}
	if (aug[0] != 'z')
		return 8;
	while (p < end && (*p & 0x80))      /* augmentation length */
		p++;
	p++;
	for (size_t i = 1; i < alen && p < end; i++) {
		switch (aug[i]) {
		case 'R':
			switch (*p & 0x0f) {
			case 0x00: case 0x04: case 0x0c: return 8;
			case 0x03: case 0x0b: return 4;
			case 0x02: case 0x0a: return 2;
			default: return 0;
			}
		case 'L':
			p++;
			break;
		case 'P': {
			uint8_t e = *p++;
			size_t n = (e & 0x0f) == 0x03 || (e & 0x0f) == 0x0b ? 4
				 : (e & 0x0f) == 0x02 || (e & 0x0f) == 0x0a ? 2 : 8;
			p += n;
			break;
		}
		default:
			return 0;
		}
	}
	return 8;
}

bool mp_elfmod_fde(const struct mp_elfmod *m, uint64_t va, const uint8_t **ret_fde,
		   uint64_t *ret_func, uintptr_t *ret_lo, uintptr_t *ret_hi)
{
	const uint8_t *h = m->hdr, *end = m->hdr + m->hdr_size, *p, *table;
	uint64_t ehf, count, lo_i, hi_i, func, fde_va, fde_off;
	const uint8_t *fde, *cie;
	uint32_t len, cie_off;
	size_t n;

	if (!h || h[0] != 1 || h[3] != 0x3b)           /* version 1, datarel sdata4 table */
		return false;
	p = h + 4;
	if (!read_enc(&p, end, h[1], m->hdr_vaddr + 4, m->hdr_vaddr, &ehf) ||
	    !read_enc(&p, end, h[2], m->hdr_vaddr + (uint64_t)(p - h), m->hdr_vaddr, &count))
		return false;
	table = p;
	if (count == 0 || count > (uint64_t)(end - table) / 8)
		return false;
	/* The last entry whose initial location is <= va. */
	lo_i = 0;
	hi_i = count;
	while (hi_i - lo_i > 1) {
		uint64_t mid = lo_i + (hi_i - lo_i) / 2;
		int32_t loc;

		memcpy(&loc, table + mid * 8, 4);
		if (m->hdr_vaddr + (uint64_t)(int64_t)loc <= va)
			lo_i = mid;
		else
			hi_i = mid;
	}
	{
		int32_t loc, off;

		memcpy(&loc, table + lo_i * 8, 4);
		memcpy(&off, table + lo_i * 8 + 4, 4);
		func = m->hdr_vaddr + (uint64_t)(int64_t)loc;
		fde_va = m->hdr_vaddr + (uint64_t)(int64_t)off;
	}
	if (func > va || !mp_elfmod_vaddr_to_off(m, fde_va, &fde_off) || !in_file(m, fde_off, 8))
		return false;
	fde = m->data + fde_off;
	memcpy(&len, fde, 4);
	memcpy(&cie_off, fde + 4, 4);
	if (len < 12 || len == 0xffffffffu || !in_file(m, fde_off, 4 + (uint64_t)len) ||
	    cie_off == 0 || cie_off > fde_off + 4)
		return false;
	cie = fde + 4 - cie_off;
	if (!in_file(m, (uint64_t)(cie - m->data), 9))
		return false;
	{
		uint32_t clen;

		memcpy(&clen, cie, 4);
		if (clen < 5 || !in_file(m, (uint64_t)(cie - m->data), 4 + (uint64_t)clen))
			return false;
		n = fde_ptr_size(cie, cie + 4 + clen);
	}
	/* pc_range follows pc_begin; check that va is inside. */
	if (n == 4 || n == 8) {
		uint64_t range = 0;

		if (8 + 2 * n > 4 + (uint64_t)len)
			return false;
		memcpy(&range, fde + 8 + n, n);
		if (va - func >= range)
			return false;
	}
	*ret_fde = fde;
	*ret_func = func;
	*ret_lo = (uintptr_t)m->data;
	*ret_hi = (uintptr_t)m->data + m->size;
	return true;
}

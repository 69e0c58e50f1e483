/* SPDX-License-Identifier: MIT */
/*
 * The address feed (see addrfeed.h and common/stackfeed.h).
 *
 * Everything read from the target is untrusted and may be torn (the
 * target's threads write while we read): a record counts only when its id
 * is the next expected one, its depth is 1..MP_SNAP_MAX_DEPTH and it lies
 * wholly below the count; reading resumes after the last record that
 * counted.  A wrong address here costs a wasted lookup, never a wrong
 * profile.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "cli/addrfeed.h"
#include "common/grow.h"
#include "common/snapshot-read.h"
#include "common/stackfeed.h"
#include "symbolize/maps.h"

#define CHUNK ((size_t)1 << 20)

struct mp_addrfeed {
	pid_t pid;
	uint64_t locator;           /* address of the target's struct mp_stackfeed */
	struct mp_stackfeed feed;
	uint64_t pos;               /* offset of the next record to read */
	uint32_t next_id;
	uint8_t *buf;
};

static int peek(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { buf, len }, remote = { (void *)(uintptr_t)addr, len };
	ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

/* The value of dynamic symbol `name` in the ELF file at `path`, and the
 * vaddr - offset of its first PT_LOAD segment. */
static int dynsym(const char *path, const char *name, uint64_t *ret_value, uint64_t *ret_first)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	Elf *elf;
	Elf_Scn *scn = NULL;
	size_t phnum;
	int r = -ENOENT;
	bool have_first = false;

	if (fd < 0)
		return -errno;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF || elf_getphdrnum(elf, &phnum) != 0)
		goto out;
	for (size_t i = 0; i < phnum && !have_first; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD) {
			*ret_first = (ph.p_vaddr & ~(uint64_t)0xfff) - (ph.p_offset & ~(uint64_t)0xfff);
			have_first = true;
		}
	}
	while (have_first && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNSYM || !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		for (size_t i = 0; data && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			const char *n;

			if (!gelf_getsym(data, (int)i, &sym))
				break;
			n = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (n && strcmp(n, name) == 0 && sym.st_shndx != SHN_UNDEF) {
				*ret_value = sym.st_value;
				r = 0;
				goto out;
			}
		}
	}
out:
	if (elf)
		elf_end(elf);
	close(fd);
	return r;
}

static bool is_shim(const char *path, const char *shim_path)
{
	const char *b = strrchr(path, '/');

	if (shim_path)
		return strcmp(path, shim_path) == 0;
	return b && strcmp(b + 1, "libmemprof.so") == 0;
}

int mp_addrfeed_open(pid_t pid, const char *shim_path, struct mp_addrfeed **ret)
{
	char name[64], *text = NULL;
	size_t len = 0, cap = 0, n = 0;
	struct mp_maps_entry *e = NULL;
	struct mp_addrfeed *f;
	uint64_t value = 0, first = 0, base = 0;
	bool found = false;
	FILE *in;
	int r;

	snprintf(name, sizeof(name), "/proc/%d/maps", (int)pid);
	in = fopen(name, "re");
	if (!in)
		return -errno;
	for (;;) {
		if (MP_GROW(text, len + 65536, cap) < 0) {
			fclose(in);
			free(text);
			return -ENOMEM;
		}
		size_t got = fread(text + len, 1, cap - len, in);

		len += got;
		if (got == 0)
			break;
	}
	fclose(in);
	r = mp_maps_parse(text, len, &e, &n);
	free(text);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && !found; i++) {
		if (e[i].offset == 0 && !e[i].deleted && is_shim(e[i].path, shim_path) &&
		    dynsym(e[i].path, MP_STACKFEED_SYMBOL, &value, &first) == 0) {
			base = e[i].start - first;
			found = true;
		}
	}
	mp_maps_free(e, n);
	if (!found)
		return -ENOENT;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->pid = pid;
	f->locator = base + value;
	f->next_id = 1;
	r = peek(pid, f->locator, &f->feed, sizeof(f->feed));
	if (r == 0 && (f->feed.magic != MP_STACKFEED_MAGIC || !f->feed.stacks || !f->feed.used))
		r = -ENOENT;    /* the shim has not made its tables yet */
	if (r == 0 && !(f->buf = malloc(CHUNK)))
		r = -ENOMEM;
	if (r < 0) {
		mp_addrfeed_free(f);
		return r;
	}
	*ret = f;
	return 0;
}

ssize_t mp_addrfeed_poll(struct mp_addrfeed *f, uint64_t *out, size_t max)
{
	struct mp_stackfeed now;
	uint64_t used = 0, want;
	size_t n = 0, off = 0;
	int r;

	/* Still the same shim in the same image? (exec replaces both) */
	r = peek(f->pid, f->locator, &now, sizeof(now));
	if (r < 0)
		return r;
	if (now.magic != MP_STACKFEED_MAGIC || now.stacks != f->feed.stacks || now.used != f->feed.used)
		return -ESTALE;
	r = peek(f->pid, f->feed.used, &used, sizeof(used));
	if (r < 0)
		return r;
	if (used > f->feed.size)
		return -EBADMSG;
	if (used < f->pos) {            /* emptied: from the top */
		f->pos = 0;
		f->next_id = 1;
	}
	want = used - f->pos;
	if (want > CHUNK)
		want = CHUNK;
	if (want < 8)
		return 0;
	r = peek(f->pid, f->feed.stacks + f->pos, f->buf, (size_t)want);
	if (r < 0)
		return r;
	while (off + 8 <= want) {
		uint32_t id, depth;

		memcpy(&id, f->buf + off, 4);
		memcpy(&depth, f->buf + off + 4, 4);
		if (id != f->next_id || depth == 0 || depth > MP_SNAP_MAX_DEPTH ||
		    off + 8 + (size_t)depth * 8 > want || n + depth > max)
			break;
		for (uint32_t i = 0; i < depth; i++) {
			uint64_t pc;

			memcpy(&pc, f->buf + off + 8 + (size_t)i * 8, 8);
			if (pc)
				out[n++] = pc - 1;
		}
		off += 8 + (size_t)depth * 8;
		f->next_id++;
	}
	f->pos += off;
	return (ssize_t)n;
}

void mp_addrfeed_free(struct mp_addrfeed *f)
{
	if (!f)
		return;
	free(f->buf);
	free(f);
}

/* SPDX-License-Identifier: MIT */
/*
 * Finding and vetting the program `memprof run` starts (see target.h).
 *
 * LD_PRELOAD is read by the dynamic loader, so it has no effect on a
 * statically linked program (no PT_INTERP program header: ld.so never runs),
 * and ld.so ignores preloads given by path in secure-execution mode
 * (ld.so(8): a setuid, setgid or file-capability program that gives the
 * caller privileges it did not have; root running a setuid-root program,
 * ping's capabilities, is not secure).  We check both before starting
 * anything.  For a "#!" script the kernel runs the interpreter, so
 * the interpreter is what we check.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cli/target.h"

/* ---- finding the program ---------------------------------------------- */

/* 0 if path is an executable regular file, else -ENOENT, -EACCES, -EISDIR. */
static int check_exec(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return errno == ENOENT || errno == ENOTDIR ? -ENOENT : -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode) || access(path, X_OK) < 0)
		return -EACCES;
	return 0;
}

int mp_target_resolve(const char *name, char **ret_path)
{
	const char *path, *p;
	bool seen = false;
	char *s;
	int r;

	if (!name || !*name)
		return -ENOENT;
	if (strchr(name, '/')) {
		r = check_exec(name);
		if (r < 0)
			return r;
		s = strdup(name);
		if (!s)
			return -ENOMEM;
		*ret_path = s;
		return 0;
	}

	/* execvp(3): without PATH, the default is confstr(_CS_PATH). */
	path = getenv("PATH");
	if (!path)
		path = "/bin:/usr/bin";
	for (p = path;; p++) {
		const char *end = strchrnul(p, ':');
		size_t dlen = (size_t)(end - p);

		/* An empty entry means the working directory. */
		if (dlen == 0)
			s = strdup(name);
		else if (asprintf(&s, "%.*s/%s", (int)dlen, p, name) < 0)
			s = NULL;
		if (!s)
			return -ENOMEM;
		r = check_exec(s);
		if (r == 0) {
			*ret_path = s;
			return 0;
		}
		free(s);
		if (r != -ENOENT)
			seen = true;
		p = end;
		if (!*p)
			break;
	}
	return seen ? -EACCES : -ENOENT;
}

/* ---- ELF --------------------------------------------------------------- */

#if defined(__x86_64__)
#define HOST_MACHINE EM_X86_64
#elif defined(__aarch64__)
#define HOST_MACHINE EM_AARCH64
#elif defined(__i386__)
#define HOST_MACHINE EM_386
#elif defined(__riscv)
#define HOST_MACHINE EM_RISCV
#elif defined(__powerpc64__)
#define HOST_MACHINE EM_PPC64
#elif defined(__s390x__)
#define HOST_MACHINE EM_S390
#else
#define HOST_MACHINE 0  /* unknown: do not check the machine */
#endif

#if __SIZEOF_POINTER__ == 8
#define HOST_CLASS ELFCLASS64
#else
#define HOST_CLASS ELFCLASS32
#endif

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HOST_DATA ELFDATA2LSB
#else
#define HOST_DATA ELFDATA2MSB
#endif

/* fs/binfmt_elf.c refuses program header tables larger than this. */
#define MAX_PHDR_BYTES 65536u

/* Random access to the bytes of a file or buffer: 0, or -1 when [off, off+n)
 * is not entirely inside it. */
struct reader {
	int (*read_at)(const struct reader *r, void *dst, size_t n, uint64_t off);
	uint64_t size;
	const void *buf;
	int fd;
};

static int mem_read_at(const struct reader *r, void *dst, size_t n, uint64_t off)
{
	if (off > r->size || n > r->size - off)
		return -1;
	memcpy(dst, (const char *)r->buf + off, n);
	return 0;
}

static int fd_read_at(const struct reader *r, void *dst, size_t n, uint64_t off)
{
	size_t done = 0;

	if (off > r->size || n > r->size - off)
		return -1;
	while (done < n) {
		ssize_t k = pread(r->fd, (char *)dst + done, n - done, (off_t)(off + done));

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		done += (size_t)k;
	}
	return 0;
}

/*
 * The checks mirror what the kernel's ELF loader needs before it runs a
 * program: magic, class, byte order, machine, type, and a program header
 * table of the native entry size that lies inside the file.  Only then do we
 * trust e_phnum entries to look for PT_INTERP.
 */
static enum mp_elf_kind probe(const struct reader *r)
{
	unsigned char ident[EI_NIDENT];
	ElfW(Ehdr) eh;
	uint64_t table;

	if (r->read_at(r, ident, sizeof(ident), 0) < 0 || memcmp(ident, ELFMAG, SELFMAG) != 0)
		return MP_ELF_NOT_ELF;
	if (ident[EI_CLASS] != HOST_CLASS || ident[EI_DATA] != HOST_DATA)
		return MP_ELF_FOREIGN;
	if (r->read_at(r, &eh, sizeof(eh), 0) < 0)
		return MP_ELF_MALFORMED;
	if (HOST_MACHINE != 0 && eh.e_machine != HOST_MACHINE)
		return MP_ELF_FOREIGN;
	if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN)
		return MP_ELF_MALFORMED;
	if (eh.e_phentsize != sizeof(ElfW(Phdr)) || eh.e_phnum == 0)
		return MP_ELF_MALFORMED;
	table = (uint64_t)eh.e_phnum * sizeof(ElfW(Phdr));
	if (table > MAX_PHDR_BYTES || eh.e_phoff > r->size || table > r->size - eh.e_phoff)
		return MP_ELF_MALFORMED;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		ElfW(Phdr) ph;

		if (r->read_at(r, &ph, sizeof(ph), eh.e_phoff + (uint64_t)i * sizeof(ph)) < 0)
			return MP_ELF_MALFORMED;
		if (ph.p_type == PT_INTERP)
			return MP_ELF_DYNAMIC;
	}
	return MP_ELF_STATIC;
}

enum mp_elf_kind mp_elf_probe_mem(const void *buf, size_t len)
{
	struct reader r = { .read_at = mem_read_at, .size = len, .buf = buf, .fd = -1 };

	return probe(&r);
}

/* ---- vetting ------------------------------------------------------------ */

/* binfmt_script: the "#!" line is read from the first BINPRM_BUF_SIZE bytes.
 * exec_binprm() (fs/exec.c) fails with ELOOP past 5 interpreter switches: a
 * chain of 5 scripts ending in a program runs, 6 scripts do not. */
#define SHEBANG_BYTES 256
#define MAX_INTERP_DEPTH 5

static int set_verdict(struct mp_target_info *info, enum mp_target_verdict v,
		       const char *culprit, int error)
{
	char *s = strdup(culprit);

	if (!s)
		return -ENOMEM;
	free(info->culprit);
	info->culprit = s;
	info->verdict = v;
	info->error = error;
	return 0;
}

static bool has_file_caps(int fd)
{
	return fgetxattr(fd, "security.capability", NULL, 0) > 0;
}

/* Whether gid is our effective group or one of our supplementary groups
 * (the kernel's in_group_p). */
static bool in_group(gid_t gid)
{
	gid_t *groups;
	bool found = false;
	int n;

	if (gid == getegid())
		return true;
	n = getgroups(0, NULL);
	if (n <= 0)
		return false;
	groups = calloc((size_t)n, sizeof(*groups));
	if (!groups)
		return false;
	n = getgroups(n, groups);
	for (int i = 0; i < n && !found; i++)
		found = groups[i] == gid;
	free(groups);
	return found;
}

/*
 * Whether the kernel would run this file in secure-execution mode for us
 * (AT_SECURE; security/commoncap.c, cap_bprm_creds_from_file): a
 * set-user-ID bit that changes our effective user, a set-group-ID bit
 * (with group execute: without, it means mandatory locking) for a group we
 * are not in, or file capabilities for a caller whose real user is not
 * root.  Under no_new_privs, or on a file system mounted nosuid, exec
 * grants nothing and nothing is secure.  Root running a setuid-root
 * program (passwd, su) or one with capabilities (ping) keeps LD_PRELOAD.
 */
static bool secure_exec(int fd, const struct stat *st)
{
	struct statvfs sv;
	bool set_uid = (st->st_mode & S_ISUID) != 0;
	bool set_gid = (st->st_mode & S_ISGID) && (st->st_mode & S_IXGRP);
	bool caps = has_file_caps(fd);

	if (!set_uid && !set_gid && !caps)
		return false;
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1)
		return false;
	if (fstatvfs(fd, &sv) == 0 && (sv.f_flag & ST_NOSUID))
		return false;
	if (set_uid && st->st_uid != geteuid())
		return true;
	if (set_gid && !in_group(st->st_gid))
		return true;
	return caps && getuid() != 0;
}

/* PT_INTERP of the main program, found by dl_iterate_phdr (it comes
 * first); data is a const char ** for the path. */
static int find_interp(struct dl_phdr_info *dl, size_t size, void *data)
{
	(void)size;
	for (int i = 0; i < dl->dlpi_phnum; i++)
		if (dl->dlpi_phdr[i].p_type == PT_INTERP) {
			*(const char **)data = (const char *)(dl->dlpi_addr + dl->dlpi_phdr[i].p_vaddr);
			break;
		}
	return 1;   /* the main program only */
}

/* Whether st is the dynamic loader memprof itself runs under: run directly
 * ("ld.so PROGRAM"), it has no PT_INTERP of its own, like a static
 * program, but it reads LD_PRELOAD and loads the shim. */
static bool is_our_loader(const struct stat *st)
{
	const char *interp = NULL;
	struct stat ls;

	dl_iterate_phdr(find_interp, &interp);
	return interp && stat(interp, &ls) == 0 && ls.st_dev == st->st_dev &&
	       ls.st_ino == st->st_ino;
}

/* Parse the interpreter of a "#!" line into a malloc'd string; NULL with
 * errno set: ENOEXEC (no interpreter), ENAMETOOLONG (line cut off), ENOMEM. */
static char *shebang_interp(const char *buf, size_t len)
{
	size_t i = 2, start;
	char *s;

	while (i < len && (buf[i] == ' ' || buf[i] == '\t'))
		i++;
	start = i;
	while (i < len && buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\n' && buf[i] != '\0')
		i++;
	if (i == start) {
		errno = ENOEXEC;
		return NULL;
	}
	if (i == len && len == SHEBANG_BYTES) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	/* Not strndup: buf holds no NUL when the name runs to its end, and a
	 * strict reader of strndup's argument (ASan's strict_string_checks)
	 * rightly looks for one. */
	s = malloc(i - start + 1);
	if (!s) {
		errno = ENOMEM;
		return NULL;
	}
	memcpy(s, buf + start, i - start);
	s[i - start] = 0;
	return s;
}

static int inspect(const char *path, int depth, struct mp_target_info *info)
{
	char buf[SHEBANG_BYTES];
	struct stat st;
	ssize_t n;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		/* An execute-only program cannot be read but runs fine: let exec
		 * decide.  A missing interpreter makes exec fail with ENOENT. */
		if (depth > 0 && errno != EACCES)
			return set_verdict(info, MP_TARGET_BAD_INTERP, path, errno);
		return 0;
	}
	if (fstat(fd, &st) < 0)
		goto out;
	do
		n = pread(fd, buf, sizeof(buf), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		goto out;

	if (n >= 2 && buf[0] == '#' && buf[1] == '!') {
		char *interp;

		if (depth == 0)
			info->is_elf = 0;
		if (depth >= MAX_INTERP_DEPTH) {
			r = set_verdict(info, MP_TARGET_BAD_INTERP, path, ELOOP);
			goto out;
		}
		interp = shebang_interp(buf, (size_t)n);
		if (!interp) {
			r = errno == ENOMEM ? -ENOMEM : set_verdict(info, MP_TARGET_BAD_INTERP, path, errno);
			goto out;
		}
		close(fd);
		r = inspect(interp, depth + 1, info);
		free(interp);
		return r;
	}

	if (secure_exec(fd, &st)) {
		r = set_verdict(info, MP_TARGET_SETID, path, 0);
		goto out;
	}

	{
		struct reader rd = { .read_at = fd_read_at, .size = (uint64_t)st.st_size, .fd = fd };
		enum mp_elf_kind k = probe(&rd);

		if (depth == 0)
			info->is_elf = k != MP_ELF_NOT_ELF;
		switch (k) {
		case MP_ELF_NOT_ELF:
		case MP_ELF_DYNAMIC:
			break;
		case MP_ELF_STATIC:
			if (!is_our_loader(&st))
				r = set_verdict(info, MP_TARGET_STATIC, path, 0);
			break;
		case MP_ELF_FOREIGN:
			r = set_verdict(info, MP_TARGET_FOREIGN, path, 0);
			break;
		case MP_ELF_MALFORMED:
			r = set_verdict(info, MP_TARGET_MALFORMED, path, 0);
			break;
		}
	}
out:
	close(fd);
	return r;
}

int mp_target_inspect(const char *path, struct mp_target_info *ret)
{
	struct mp_target_info info = { .verdict = MP_TARGET_OK };
	int r;

	r = inspect(path, 0, &info);
	if (r < 0) {
		mp_target_info_done(&info);
		return r;
	}
	*ret = info;
	return 0;
}

void mp_target_info_done(struct mp_target_info *info)
{
	if (!info)
		return;
	free(info->culprit);
	info->culprit = NULL;
}

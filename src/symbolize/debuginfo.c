/* SPDX-License-Identifier: MIT */
/*
 * Finding a file's separate debug file (debuginfo.h).
 *
 * libdwfl's dwfl_standard_find_debuginfo() looks by build ID under the
 * debug directories, then by the .gnu_debuglink name in the file's
 * directory, its .debug subdirectory and /usr/lib/debug followed by the
 * file's directory (and the same for the file's real path), and then asks
 * debuginfod.  For that last step it loads libdebuginfod, which links
 * libcurl, GnuTLS, libcrypto, Kerberos and p11-kit: 6 MiB of resident
 * libraries (and a few milliseconds) on the first file without a debug
 * file, only to learn that no server is configured when DEBUGINFOD_URLS is
 * empty.  So without servers the same search runs here, without the last
 * step; with servers libdwfl's own function runs.  The search order,
 * directories and checks are libdwfl's (elfutils 0.188, find-debuginfo.c):
 * a candidate is the debug file when its build ID is the file's (when the
 * file has one), else when its CRC-32 is the debuglink's; the file itself
 * under another name is never its own debug file.
 */
#include <elfutils/libdwelf.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "symbolize/debuginfo.h"

#define DEFAULT_DEBUGINFO_PATH ":.debug:/usr/lib/debug"

bool mp_debuginfod_servers(void)
{
	const char *urls = getenv("DEBUGINFOD_URLS");

	/* The client ignores blanks around and between URLs. */
	return urls && urls[strspn(urls, " \t\n")];
}

/* CRC-32 of the whole file open on fd (the .gnu_debuglink checksum: the
 * same polynomial and conditioning as zlib's crc32). */
static bool file_crc(int fd, uint32_t *ret)
{
	unsigned char buf[65536];
	uLong crc = crc32(0, Z_NULL, 0);
	off_t off = 0;
	ssize_t n;

	while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
		crc = crc32(crc, buf, (uInt)n);
		off += n;
	}
	if (n < 0)
		return false;
	*ret = (uint32_t)crc;
	return true;
}

/* Whether the ELF on fd has build ID bits[0..len). */
static bool same_build_id(int fd, const unsigned char *bits, int len)
{
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	const void *id;
	ssize_t n;
	bool same;

	if (!elf)
		return false;
	n = dwelf_elf_gnu_build_id(elf, &id);
	same = n == len && memcmp(id, bits, (size_t)len) == 0;
	elf_end(elf);
	return same;
}

/* Open [dir/][subdir/]name unless it is the main file; on success
 * *ret_name is the malloc'd name.  -1 with errno otherwise. */
static int try_open(const struct stat *main_st, const char *dir, const char *subdir,
		    const char *name, char **ret_name)
{
	char *path;
	struct stat st;
	int fd, r;

	if (!dir && !subdir)
		r = (path = strdup(name)) ? 0 : -1;
	else if (!subdir)
		r = asprintf(&path, "%s/%s", dir, name);
	else if (!dir)
		r = asprintf(&path, "%s/%s", subdir, name);
	else
		r = asprintf(&path, "%s/%s/%s", dir, subdir, name);
	if (r < 0)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		free(path);
		return -1;
	}
	if (fstat(fd, &st) == 0 && st.st_ino == main_st->st_ino && st.st_dev == main_st->st_dev) {
		free(path);
		close(fd);
		errno = ENOENT;
		return -1;
	}
	*ret_name = path;
	return fd;
}

/* Whether the candidate open on fd is the debug file: the same build ID
 * when the file has one, else the debuglink's CRC when it is checked. */
static bool valid(int fd, const unsigned char *bits, int bits_len, bool check, GElf_Word crc)
{
	uint32_t c;

	if (bits_len > 0)
		return same_build_id(fd, bits, bits_len);
	return !check || (file_crc(fd, &c) && c == crc);
}

/* find_debuginfo_in_path() of libdwfl, for a main file's debug file. */
static int search_path(Dwfl_Module *mod, const struct stat *main_st, const char *file_name,
		       const char *debuglink, GElf_Word crc, char **ret_name)
{
	const unsigned char *bits = NULL;
	GElf_Addr vaddr;
	int bits_len = dwfl_module_build_id(mod, &bits, &vaddr);
	bool cancheck = crc != 0, made_up = !debuglink;
	const char *base = file_name ? strrchr(file_name, '/') : NULL;
	char *local = NULL, *dir_name = NULL, *paths, *path, *p;
	int fd = -1;

	base = base ? base + 1 : file_name;
	if (made_up) {
		/* No debuglink: try "<file>.debug" (and, in other
		 * directories, the file's own name). */
		if (!base) {
			errno = 0;
			return -1;
		}
		if (asprintf(&local, "%s.debug", base) < 0)
			return -1;
		debuglink = local;
		cancheck = false;
	}
	paths = strdup(DEFAULT_DEBUGINFO_PATH);
	if (!paths) {
		free(local);
		return -1;
	}
	if (base != file_name && !(dir_name = strndup(file_name, (size_t)(base - 1 - file_name)))) {
		free(paths);
		free(local);
		return -1;
	}
	path = paths;
	while ((p = strsep(&path, ":"))) {
		bool check = cancheck, try_base, strip;
		const char *dir, *subdir;
		char *name = NULL;

		if (*p == '+' || *p == '-')
			check = *p++ == '+' && cancheck;
		if (p[0] == '\0') {
			/* The file's own directory. */
			dir = dir_name;
			subdir = NULL;
			try_base = strip = false;
		} else if (p[0] == '/') {
			/* p followed by the file's directory, then by it
			 * without its first component, and so on. */
			if (!dir_name || dir_name[0] != '/')
				continue;
			dir = p;
			subdir = dir_name;
			try_base = made_up;
			strip = true;
		} else {
			/* A subdirectory of the file's directory. */
			dir = dir_name;
			subdir = p;
			try_base = made_up;
			strip = false;
		}
		for (;;) {
			if (strip) {
				subdir = strchr(subdir, '/');
				if (subdir)
					subdir++;
				if (subdir && !*subdir)
					break;
			}
			strip = true;
			fd = try_open(main_st, dir, subdir, debuglink, &name);
			if (fd < 0 && try_base)
				fd = try_open(main_st, dir, subdir, base, &name);
			if (fd >= 0)
				break;
			if (errno != ENOENT && errno != ENOTDIR)
				goto out;       /* a real error: give up, as libdwfl does */
			if (!subdir)
				break;
		}
		if (fd < 0)
			continue;
		if (valid(fd, bits, bits_len, check, crc)) {
			*ret_name = name;
			goto out;
		}
		free(name);
		close(fd);
		fd = -1;
	}
	errno = 0;
out:
	free(paths);
	free(local);
	free(dir_name);
	return fd;
}

int mp_find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname, GElf_Addr base,
		      const char *file_name, const char *debuglink, GElf_Word crc, char **ret_name)
{
	const struct mp_file_id *id = *userdata;
	const unsigned char *bits = NULL;
	GElf_Addr vaddr, bias;
	struct stat main_st = { 0 };
	Elf *main_elf;
	GElf_Word main_crc;
	int fd;

	if (mp_debuginfod_servers())
		return dwfl_standard_find_debuginfo(mod, userdata, modname, base, file_name, debuglink,
						    crc, ret_name);
	/* Asked for the alternate (dwz) file of the debug file rather than
	 * the debug file itself: the debuglink given is not the file's.
	 * libdwfl's search handles that case (it asks debuginfod only when
	 * the file is nowhere on this machine). */
	main_elf = dwfl_module_getelf(mod, &bias);
	if (debuglink && (!main_elf || dwelf_elf_gnu_debuglink(main_elf, &main_crc) != debuglink))
		return dwfl_standard_find_debuginfo(mod, userdata, modname, base, file_name, debuglink,
						    crc, ret_name);
	if (dwfl_module_build_id(mod, &bits, &vaddr) > 0) {
		fd = dwfl_build_id_find_debuginfo(mod, userdata, modname, base, file_name, debuglink,
						  crc, ret_name);
		if (fd >= 0 || errno != 0)
			return fd;
	}
	/* The file itself, never its own debug file. */
	if (id) {
		main_st.st_dev = id->dev;
		main_st.st_ino = id->ino;
	} else if (!file_name || stat(file_name, &main_st) < 0) {
		main_st.st_dev = 0;
		main_st.st_ino = 0;
	}
	fd = search_path(mod, &main_st, file_name, debuglink, crc, ret_name);
	if (fd < 0 && errno == 0 && file_name) {
		/* A symbolic link: the debug file may go with its target. */
		char *canon = realpath(file_name, NULL);

		if (canon && strcmp(canon, file_name) != 0)
			fd = search_path(mod, &main_st, canon, debuglink, crc, ret_name);
		free(canon);
	}
	return fd;
}

/* SPDX-License-Identifier: MIT */
/*
 * Symbolizer: the maps parser on good and bad lines, then addresses of this
 * very program (built -g -O0, see tests/unit/meson.build) symbolized from
 * its own /proc/self/maps: function names, file, lines, the function's start
 * line, inlined frames, the mapping and its build ID (read independently
 * from our own program headers); a mangled C++ name from libstdc++; and the
 * fallbacks: a debug-stripped copy (symbol table names), a fully stripped
 * copy, a missing, replaced or deleted file, [vdso], and addresses in no
 * executable mapping.
 */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <link.h>
#include <spawn.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "symbolize/maps.h"
#include "symbolize/paths.h"
#include "symbolize/strpool.h"
#include "symbolize/symbolize.h"
#include "tap.h"

extern char **environ;

#define NOINLINE __attribute__((noinline, used))

/* ---- code to symbolize: keep the line numbers below in sync ------------------- */

static void *volatile sink;
static int caller_call_line, inlined_call_line, outer_call_line;

enum { LEAF_LINE = __LINE__ + 1 };
static NOINLINE void *sym_leaf(void) { return __builtin_return_address(0); }

enum { CALLER_LINE = __LINE__ + 1 };
static NOINLINE void *sym_caller(void)
{
	void *ra = sym_leaf(); caller_call_line = __LINE__;

	sink = ra;
	return ra;
}

enum { INLINED_LINE = __LINE__ + 1 };
static inline __attribute__((always_inline)) void *sym_inlined(void)
{
	void *ra = sym_leaf(); inlined_call_line = __LINE__;

	sink = ra;
	return ra;
}

enum { OUTER_LINE = __LINE__ + 1 };
static NOINLINE void *sym_outer(void)
{
	void *ra = sym_inlined(); outer_call_line = __LINE__;

	sink = ra;
	return ra;
}

/* ---- helpers ------------------------------------------------------------------- */

static char *read_text(const char *path, size_t *ret_len)
{
	int fd = open(path, O_RDONLY);
	size_t len = 0, cap = 1 << 16;
	char *buf = malloc(cap);
	ssize_t got;

	if (fd < 0 || !buf)
		abort();
	while ((got = read(fd, buf + len, cap - len - 1)) > 0) {
		len += (size_t)got;
		if (len + 1 == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf)
				abort();
		}
	}
	close(fd);
	buf[len] = 0;
	*ret_len = len;
	return buf;
}

static const char *base(const char *path)
{
	const char *s = path ? strrchr(path, '/') : NULL;

	return s ? s + 1 : path;
}

/* The GNU build ID of the main program, from its PT_NOTE segments in memory. */
static int note_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	char *out = data;

	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
		const uint8_t *end = p + ph->p_memsz;

		if (ph->p_type != PT_NOTE)
			continue;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)p;
			const uint8_t *name = p + sizeof(*n);
			const uint8_t *desc = name + ((n->n_namesz + 3) & ~3u);

			if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 &&
			    memcmp(name, "GNU", 4) == 0) {
				for (unsigned j = 0; j < n->n_descsz; j++)
					sprintf(out + 2 * j, "%02x", desc[j]);
				return 1;
			}
			p = desc + ((n->n_descsz + 3) & ~3u);
		}
	}
	return 1;       /* the first object is the main program */
}

/* The executable mapping of our own code, as a maps line for `path`. */
struct self_map {
	uint64_t start, end, offset;
	char line[4096];
};

static int find_self_map(const char *maps, uint64_t addr, struct self_map *ret)
{
	const char *p = maps;

	while (*p) {
		unsigned long long s, e, off;

		if (sscanf(p, "%llx-%llx %*4s %llx", &s, &e, &off) == 3 && addr >= s && addr < e) {
			ret->start = s;
			ret->end = e;
			ret->offset = off;
			return 0;
		}
		p = strchr(p, '\n');
		if (!p)
			break;
		p++;
	}
	return -1;
}

static void make_line(struct self_map *m, const char *path, const char *suffix, int inode_delta)
{
	struct stat st;

	memset(&st, 0, sizeof(st));
	stat(path, &st);
	snprintf(m->line, sizeof(m->line), "%llx-%llx r-xp %08llx %02x:%02x %llu    %s%s\n",
		 (unsigned long long)m->start, (unsigned long long)m->end,
		 (unsigned long long)m->offset, major(st.st_dev), minor(st.st_dev),
		 (unsigned long long)st.st_ino + (unsigned long long)inode_delta, path, suffix);
}

static int run(const char *const argv[])
{
	pid_t pid;
	int status;

	if (posix_spawnp(&pid, argv[0], NULL, NULL, (char *const *)argv, environ) != 0)
		return -1;
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* ---- tests ---------------------------------------------------------------------- */

static void test_maps_parse(void)
{
	static const char text[] =
		"00400000-00452000 r-xp 00000000 08:02 173521      /usr/bin/dbus-daemon\n"
		"7f0000001000-7f0000002000 rw-p 00001000 fe:01 12 /a dir/with spaces (deleted)\n"
		"7ffd0000-7ffd2000 r-xp 00000000 00:00 0                  [vdso]\n"
		"7ffd3000-7ffd4000 ---p 00000000 00:00 0\n"
		/* bad lines, skipped */
		"2000-1000 r-xp 00000000 00:00 0 /start/after/end\n"
		"1000-1000 r-xp 00000000 00:00 0 /empty\n"
		"1000-2000 r-xq 00000000 00:00 0 /bad/perms\n"
		"1000-2000 r-xp 0000000g 00:00 0 /bad/offset\n"
		"1000-2000 r-xp 00000000 00-00 0 /bad/dev\n"
		"1000-2000 r-xp 00000000 00:00 x /bad/inode\n"
		"1000-2000 r-xp 00000000 00:00 12x /junk/after/inode\n"
		"10000000000000000-10000000000000001 r-xp 00000000 00:00 0 /overflow\n"
		"-1000-2000 r-xp 00000000 00:00 0 /sign\n"
		"1000-2000 r-xp\n"
		"\n"
		"garbage\n"
		"3000-4000 r-xp 00000010 00:00 0 /no/newline/at/end";
	struct mp_maps_entry *e = NULL;
	size_t n = 0;

	CHECK_INT(mp_maps_parse(text, strlen(text), &e, &n), 0);
	CHECK_U64(n, 5);
	if (n != 5) {
		mp_maps_free(e, n);
		return;
	}
	CHECK_U64(e[0].start, 0x400000);
	CHECK_U64(e[0].end, 0x452000);
	CHECK_STR(e[0].perms, "r-xp");
	CHECK_U64(e[0].dev_major, 8);
	CHECK_U64(e[0].dev_minor, 2);
	CHECK_U64(e[0].inode, 173521);
	CHECK_STR(e[0].path, "/usr/bin/dbus-daemon");
	CHECK(!e[0].deleted);
	CHECK_U64(e[1].offset, 0x1000);
	CHECK_U64(e[1].dev_major, 0xfe);
	CHECK_U64(e[1].dev_minor, 1);
	CHECK_STR(e[1].path, "/a dir/with spaces");
	CHECK(e[1].deleted);
	CHECK_STR(e[2].path, "[vdso]");
	CHECK_STR(e[3].path, "");
	CHECK_STR(e[3].perms, "---p");
	CHECK_U64(e[4].start, 0x3000);
	CHECK_U64(e[4].offset, 0x10);
	CHECK_STR(e[4].path, "/no/newline/at/end");
	mp_maps_free(e, n);

	/* A NUL byte poisons its line only; length bounds the text. */
	{
		static const char nul[] = "1000-2000 r-xp 00000000 00:00 0 /a\0b\n"
					  "3000-4000 r-xp 00000000 00:00 0 /c\n"
					  "5000-6000 r-xp 00000000 00:00 0 /d\n";
		size_t cut = (size_t)(strstr(nul + 38, "5000") - nul);

		CHECK_INT(mp_maps_parse(nul, cut, &e, &n), 0);
		CHECK_U64(n, 1);
		if (n == 1)
			CHECK_STR(e[0].path, "/c");
		mp_maps_free(e, n);
	}
	CHECK_INT(mp_maps_parse("", 0, &e, &n), 0);
	CHECK_U64(n, 0);
	mp_maps_free(e, n);
}

/*
 * Path cleaning (Go's path.Clean) on a table, each input in a buffer of
 * exactly its size, so that ASan and valgrind see any write past the NUL
 * (the first version wrote the '/' after the last element over it when
 * nothing had been removed before, then read on past the buffer).
 */
static void test_paths(void)
{
	static const struct {
		const char *in, *want;
	} clean[] = {
		{ "", "" }, { "/", "/" }, { ".", "." }, { "..", ".." },
		{ "a", "a" }, { "abc", "abc" }, { "/a", "/a" }, { "/a/b", "/a/b" },
		{ "/tmp/relp/src/leaf.c", "/tmp/relp/src/leaf.c" },
		{ "a/b/", "a/b" }, { "/a/b/", "/a/b" }, { "//", "/" }, { "///a//b//", "/a/b" },
		{ "./a", "a" }, { "a/.", "a" }, { "/./a/./b/.", "/a/b" }, { "./", "." }, { "/.", "/" },
		{ "a/..", "." }, { "a/../..", ".." }, { "../a", "../a" }, { "../../a/b", "../../a/b" },
		{ "../a/..", ".." }, { "a/../../b", "../b" }, { "../../..", "../../.." },
		{ "/..", "/" }, { "/../..", "/" }, { "/../a", "/a" }, { "/a/..", "/" },
		{ "/a/b/../c", "/a/c" }, { "/a/b/../../c", "/c" }, { "/a/b/c/../../../..", "/" },
		{ "/home/u/proj/sub/../src/x.c", "/home/u/proj/src/x.c" },
		{ "/home/u/proj/./src/main.c", "/home/u/proj/src/main.c" },
		{ "./csu/../sysdeps/x86/libc-start.c", "sysdeps/x86/libc-start.c" },
		{ "...", "..." }, { "/a/.../b", "/a/.../b" }, { "..a/.b/b..", "..a/.b/b.." },
		{ "a/b/c/d/e/f/../../../../g", "a/b/g" }, { "x/", "x" },
	};
	static const struct {
		const char *dir, *name, *want;
	} resolve[] = {
		{ "/proj", "src/leaf.c", "/proj/src/leaf.c" },         /* gcc -c src/leaf.c */
		{ "/proj", "./src/leaf.c", "/proj/src/leaf.c" },       /* gcc -c ./src/leaf.c */
		{ "/proj/sub", "../src/leaf.c", "/proj/src/leaf.c" },  /* cd sub; gcc -c ../src/x.c */
		{ "/proj/", "src//leaf.c", "/proj/src/leaf.c" },
		{ "/proj", "/abs/src/leaf.c", "/abs/src/leaf.c" },     /* absolute name: dir unused */
		{ "/proj", "/abs/../src/./leaf.c", "/src/leaf.c" },
		{ "./csu", "../sysdeps/nptl/x.h", "sysdeps/nptl/x.h" }, /* Debian's relative comp_dir */
		{ ".", "src/a.c", "src/a.c" }, { NULL, "../a.c", "../a.c" }, { "", "a/./b.c", "a/b.c" },
		{ "/", "../../x.c", "/x.c" },
	};

	for (size_t i = 0; i < sizeof(clean) / sizeof(clean[0]); i++) {
		size_t n = strlen(clean[i].in);
		char *buf = malloc(n + 1);

		memcpy(buf, clean[i].in, n + 1);
		CHECK_U64(mp_path_clean(buf), strlen(clean[i].want));
		CHECK_STR(buf, clean[i].want);
		CHECK(mp_path_is_clean(clean[i].want));
		CHECK(mp_path_is_clean(clean[i].in) == (strcmp(clean[i].in, clean[i].want) == 0));
		free(buf);
	}
	for (size_t i = 0; i < sizeof(resolve) / sizeof(resolve[0]); i++) {
		char *p = mp_path_resolve(resolve[i].dir, resolve[i].name);

		CHECK(p != NULL);
		if (p)
			CHECK_STR(p, resolve[i].want);
		free(p);
	}
}

static void test_self(void)
{
	size_t len;
	char *maps = read_text("/proc/self/maps", &len);
	char exe[4096], build_id[129] = "";
	ssize_t exe_len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	struct mp_symbolizer *s = NULL;
	struct mp_sym_result r, r2;
	uint64_t ra;

	CHECK(exe_len > 0);
	exe[exe_len > 0 ? exe_len : 0] = 0;
	dl_iterate_phdr(note_cb, build_id);
	CHECK(strlen(build_id) >= 16);

	CHECK_INT(mp_symbolizer_new(maps, len, 0, &s), 0);
	if (!s)
		return;
	CHECK(mp_symbolizer_nmappings(s) >= 3);   /* us, libc, ld.so at least */
	for (size_t i = 1; i < mp_symbolizer_nmappings(s); i++)
		CHECK(mp_symbolizer_mapping(s, i)->start >= mp_symbolizer_mapping(s, i - 1)->limit);
	CHECK(mp_symbolizer_mapping(s, mp_symbolizer_nmappings(s)) == NULL);

	/* A function's entry: its own line. */
	CHECK_INT(mp_symbolize(s, (uint64_t)(uintptr_t)&sym_leaf, &r), 0);
	CHECK_INT(r.source, MP_SYM_DWARF);
	CHECK_U64(r.nframes, 1);
	CHECK(r.mapping != NULL);
	if (r.mapping) {
		CHECK_STR(r.mapping->path, exe);
		CHECK_STR(r.mapping->build_id, build_id);
		CHECK(r.mapping->has_elf);
		CHECK(r.mapping == mp_symbolizer_mapping(s, r.mapping_index));
		CHECK((uint64_t)(uintptr_t)&sym_leaf >= r.mapping->start);
		CHECK((uint64_t)(uintptr_t)&sym_leaf < r.mapping->limit);
	}
	if (r.nframes == 1) {
		CHECK_STR(r.frames[0].function, "sym_leaf");
		CHECK_STR(r.frames[0].system_name, "sym_leaf");
		CHECK_STR(base(r.frames[0].file), "test-symbolize.c");
		/* Absolute and clean (meson compiles "../tests/unit/..."), and there. */
		CHECK(r.frames[0].file[0] == '/');
		CHECK(!strstr(r.frames[0].file, "/../") && !strstr(r.frames[0].file, "/./") &&
		      !strstr(r.frames[0].file, "//"));
		CHECK_INT(access(r.frames[0].file, R_OK), 0);
		CHECK_INT(r.frames[0].line, LEAF_LINE);
		CHECK_INT(r.frames[0].start_line, LEAF_LINE);
	}

	/* A return address, minus one: the call's line in the caller. */
	ra = (uint64_t)(uintptr_t)sym_caller();
	CHECK_INT(mp_symbolize(s, ra - 1, &r), 0);
	CHECK_INT(r.source, MP_SYM_DWARF);
	CHECK_U64(r.nframes, 1);
	if (r.nframes == 1) {
		CHECK_STR(r.frames[0].function, "sym_caller");
		CHECK_STR(base(r.frames[0].file), "test-symbolize.c");
		CHECK_INT(r.frames[0].line, caller_call_line);
		CHECK_INT(r.frames[0].start_line, CALLER_LINE);
	}
	/* Cached: the same frames again. */
	CHECK_INT(mp_symbolize(s, ra - 1, &r2), 0);
	CHECK(r2.frames == r.frames && r2.nframes == r.nframes);

	/* Inlined: the inlined callee first, then the function it is inlined in. */
	ra = (uint64_t)(uintptr_t)sym_outer();
	CHECK_INT(mp_symbolize(s, ra - 1, &r), 0);
	CHECK_INT(r.source, MP_SYM_DWARF);
	CHECK_U64(r.nframes, 2);
	if (r.nframes == 2) {
		CHECK_STR(r.frames[0].function, "sym_inlined");
		CHECK_STR(base(r.frames[0].file), "test-symbolize.c");
		CHECK_INT(r.frames[0].line, inlined_call_line);
		CHECK_INT(r.frames[0].start_line, INLINED_LINE);
		CHECK_STR(r.frames[1].function, "sym_outer");
		CHECK_STR(base(r.frames[1].file), "test-symbolize.c");
		CHECK_INT(r.frames[1].line, outer_call_line);
		CHECK_INT(r.frames[1].start_line, OUTER_LINE);
	}

	/* A mangled C++ name from libstdc++ (symbol table, or DWARF when its
	 * debug info is installed): demangled for display. */
	{
		void *fn = dlsym(RTLD_DEFAULT, "_ZSt9terminatev");

		CHECK(fn != NULL);
		CHECK_INT(mp_symbolize(s, (uint64_t)(uintptr_t)fn, &r), 0);
		CHECK(r.source != MP_SYM_NONE);
		CHECK(r.nframes >= 1);
		CHECK(r.mapping && strstr(r.mapping->path, "libstdc++"));
		if (r.nframes >= 1) {
			CHECK_STR(r.frames[r.nframes - 1].function, "std::terminate()");
			CHECK_STR(r.frames[r.nframes - 1].system_name, "_ZSt9terminatev");
		}
	}

	/* [vdso]: a mapping, no frames. */
	{
		uint64_t vdso = getauxval(AT_SYSINFO_EHDR);
		bool found = false;

		for (size_t i = 0; i < mp_symbolizer_nmappings(s); i++) {
			const struct mp_sym_mapping *m = mp_symbolizer_mapping(s, i);

			if (strcmp(m->path, "[vdso]") == 0) {
				found = true;
				CHECK(!m->has_elf);
				CHECK_STR(m->build_id, "");
				CHECK_INT(mp_symbolize(s, m->start + (m->limit - m->start) / 2, &r), 0);
				CHECK(r.mapping == m);
				CHECK_U64(r.nframes, 0);
				CHECK_INT(r.source, MP_SYM_NONE);
			}
		}
		CHECK(found || vdso == 0);
	}

	/* No executable mapping: data, and an unmapped page. */
	CHECK_INT(mp_symbolize(s, (uint64_t)(uintptr_t)&caller_call_line, &r), 0);
	CHECK(r.mapping == NULL);
	CHECK_U64(r.nframes, 0);
	CHECK_INT(mp_symbolize(s, 16, &r), 0);
	CHECK(r.mapping == NULL);
	CHECK_U64(r.nframes, 0);
	mp_symbolizer_free(s);

	/* MP_SYM_F_NO_FILES: mappings, no file opened, no frames. */
	CHECK_INT(mp_symbolizer_new(maps, len, MP_SYM_F_NO_FILES, &s), 0);
	if (s) {
		CHECK_INT(mp_symbolize(s, (uint64_t)(uintptr_t)&sym_leaf, &r), 0);
		CHECK(r.mapping && strcmp(r.mapping->path, exe) == 0);
		CHECK(r.mapping && !r.mapping->has_elf);
		CHECK(r.mapping && strcmp(r.mapping->build_id, "") == 0);
		CHECK_U64(r.nframes, 0);
		mp_symbolizer_free(s);
	}
	free(maps);
}

/* The executable mapping of our code, named `path` in a one-line maps text. */
static struct mp_symbolizer *one_mapping(const char *path, const char *suffix, int inode_delta)
{
	size_t len;
	char *maps = read_text("/proc/self/maps", &len);
	struct self_map m;
	struct mp_symbolizer *s = NULL;

	if (find_self_map(maps, (uint64_t)(uintptr_t)&sym_leaf, &m) < 0)
		abort();
	free(maps);
	make_line(&m, path, suffix, inode_delta);
	if (mp_symbolizer_new(m.line, strlen(m.line), 0, &s) < 0)
		abort();
	return s;
}

static void expect_address_only(const char *path, const char *suffix, int inode_delta,
				const char *want_path)
{
	struct mp_symbolizer *s = one_mapping(path, suffix, inode_delta);
	struct mp_sym_result r;

	CHECK_INT(mp_symbolize(s, (uint64_t)(uintptr_t)&sym_leaf, &r), 0);
	CHECK(r.mapping != NULL);
	if (r.mapping) {
		CHECK_STR(r.mapping->path, want_path);
		CHECK(!r.mapping->has_elf);
		CHECK_STR(r.mapping->build_id, "");
	}
	CHECK_U64(r.nframes, 0);
	CHECK_INT(r.source, MP_SYM_NONE);
	mp_symbolizer_free(s);
}

static void test_fallbacks(void)
{
	char exe[4096], dir[] = "/tmp/test-symbolize-XXXXXX", debugless[4200], stripped[4200];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	struct mp_symbolizer *s;
	struct mp_sym_result r;

	if (n <= 0 || !mkdtemp(dir)) {
		CHECK(!"setup");
		return;
	}
	exe[n] = 0;

	/* Same ELF as the process mapped: full DWARF. */
	s = one_mapping(exe, "", 0);
	CHECK_INT(mp_symbolize(s, (uint64_t)(uintptr_t)&sym_leaf, &r), 0);
	CHECK_INT(r.source, MP_SYM_DWARF);
	CHECK(r.nframes == 1 && strcmp(r.frames[0].function, "sym_leaf") == 0);
	mp_symbolizer_free(s);

	expect_address_only("/nonexistent/test-symbolize", "", 0, "/nonexistent/test-symbolize");
	expect_address_only(exe, "", 1, exe);                 /* replaced: another inode */
	expect_address_only(exe, " (deleted)", 0, exe);       /* unlinked */
	expect_address_only("/dev/null", "", 0, "/dev/null"); /* not a regular file */
	expect_address_only("/etc/hostname", "", 0, "/etc/hostname");  /* not an ELF */

	/* Debug info stripped: names from the symbol table, nothing else. */
	snprintf(debugless, sizeof(debugless), "%s/debugless", dir);
	snprintf(stripped, sizeof(stripped), "%s/stripped", dir);
	{
		const char *const a1[] = { "objcopy", "--strip-debug", exe, debugless, NULL };
		const char *const a2[] = { "objcopy", "--strip-all", exe, stripped, NULL };

		CHECK_INT(run(a1), 0);
		CHECK_INT(run(a2), 0);
	}
	s = one_mapping(debugless, "", 0);
	CHECK_INT(mp_symbolize(s, (uint64_t)(uintptr_t)&sym_leaf, &r), 0);
	CHECK_INT(r.source, MP_SYM_SYMTAB);
	CHECK_U64(r.nframes, 1);
	if (r.nframes == 1) {
		CHECK_STR(r.frames[0].function, "sym_leaf");
		CHECK_STR(r.frames[0].system_name, "sym_leaf");
		CHECK(r.frames[0].file == NULL);
		CHECK_INT(r.frames[0].line, 0);
		CHECK_INT(r.frames[0].start_line, 0);
	}
	CHECK(r.mapping && r.mapping->has_elf);
	mp_symbolizer_free(s);

	/* No symbols at all: the mapping and its build ID, no frames. */
	s = one_mapping(stripped, "", 0);
	CHECK_INT(mp_symbolize(s, (uint64_t)(uintptr_t)&sym_leaf, &r), 0);
	CHECK_INT(r.source, MP_SYM_NONE);
	CHECK_U64(r.nframes, 0);
	CHECK(r.mapping && r.mapping->has_elf && strlen(r.mapping->build_id) >= 16);
	mp_symbolizer_free(s);

	unlink(debugless);
	unlink(stripped);
	rmdir(dir);
}

/*
 * A symbolizer warmed ahead (memprof run makes one while the target runs)
 * lends its loaded files to one made later from maps that share mappings
 * with it, which then answers as a fresh one does; mappings the donor does
 * not have are loaded as usual.
 */
static void test_warm(void)
{
	size_t len;
	char *maps = read_text("/proc/self/maps", &len);
	struct mp_symbolizer *warm = NULL, *from = NULL, *fresh = NULL, *partial = NULL;
	struct mp_sym_result a, b;

	CHECK_INT(mp_symbolizer_new(maps, len, 0, &warm), 0);
	CHECK_INT(mp_symbolizer_new(maps, len, 0, &fresh), 0);
	if (!warm || !fresh)
		return;
	mp_symbolizer_warm(warm);
	CHECK_INT(mp_symbolizer_new_from(maps, len, 0, warm, &from), 0);
	if (!from)
		return;
	CHECK_U64(mp_symbolizer_nmappings(from), mp_symbolizer_nmappings(fresh));
	CHECK_INT(mp_symbolize(from, (uint64_t)(uintptr_t)&sym_leaf, &a), 0);
	CHECK_INT(mp_symbolize(fresh, (uint64_t)(uintptr_t)&sym_leaf, &b), 0);
	CHECK_INT(a.source, MP_SYM_DWARF);
	CHECK_INT(a.source, b.source);
	CHECK_U64(a.nframes, b.nframes);
	if (a.nframes == 1 && b.nframes == 1) {
		CHECK_STR(a.frames[0].function, "sym_leaf");
		CHECK_STR(a.frames[0].file, b.frames[0].file);
		CHECK_INT(a.frames[0].line, b.frames[0].line);
		CHECK_STR(a.mapping->build_id, b.mapping->build_id);
	}
	CHECK_INT(mp_symbolize(from, (uint64_t)(uintptr_t)&printf, &a), 0);
	CHECK_INT(mp_symbolize(fresh, (uint64_t)(uintptr_t)&printf, &b), 0);
	CHECK(a.nframes >= 1 && a.nframes == b.nframes);
	if (a.nframes >= 1 && b.nframes >= 1)
		CHECK_STR(a.frames[0].function, b.frames[0].function);
	mp_symbolizer_free(from);       /* the donor's files stay open */

	/* A donor made from our own mapping only: libc is loaded afresh. */
	char exe[4096];
	ssize_t exe_len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[exe_len > 0 ? exe_len : 0] = 0;
	struct mp_symbolizer *ours = one_mapping(exe, "", 0);
	CHECK_INT(mp_symbolizer_new_from(maps, len, 0, ours, &partial), 0);
	if (partial) {
		CHECK_INT(mp_symbolize(partial, (uint64_t)(uintptr_t)&sym_leaf, &a), 0);
		CHECK(a.nframes == 1 && strcmp(a.frames[0].function, "sym_leaf") == 0);
		CHECK_INT(mp_symbolize(partial, (uint64_t)(uintptr_t)&printf, &a), 0);
		CHECK(a.nframes >= 1 && a.mapping && a.mapping->has_elf);
	}
	mp_symbolizer_free(partial);
	mp_symbolizer_free(ours);
	mp_symbolizer_free(warm);
	mp_symbolizer_free(fresh);
	free(maps);
}

/* Whether a and b are the same answer (strings compared by value). */
static bool same_result(const struct mp_sym_result *a, const struct mp_sym_result *b)
{
	if (a->nframes != b->nframes || a->source != b->source)
		return false;
	for (size_t i = 0; i < a->nframes; i++) {
		const struct mp_sym_frame *x = &a->frames[i], *y = &b->frames[i];

		if (strcmp(x->function, y->function) != 0 || strcmp(x->system_name, y->system_name) != 0 ||
		    (!x->file) != (!y->file) || (x->file && strcmp(x->file, y->file) != 0) ||
		    x->line != y->line || x->start_line != y->start_line)
			return false;
	}
	return true;
}

/*
 * Answers outlive what was loaded to find them: mp_symbolizer_prepare
 * frees a file's libdw and libelf data once its addresses are answered
 * (the answers' strings live in the module), mp_symbolizer_release frees
 * it on demand, and an address asked after that loads the file again.
 * Every answer must equal that of a symbolizer that keeps its files
 * loaded, before and after each release (the sanitizer build catches an
 * answer pointing into freed data).
 */
static void test_release(void)
{
	size_t len;
	char *maps = read_text("/proc/self/maps", &len);
	struct mp_symbolizer *s = NULL, *kept = NULL;
	uint64_t addrs[4] = {
		(uint64_t)(uintptr_t)sym_caller() - 1,    /* in sym_caller */
		(uint64_t)(uintptr_t)&sym_leaf,
		(uint64_t)(uintptr_t)&printf,             /* libc */
		(uint64_t)(uintptr_t)sym_outer() - 1,     /* sym_inlined in sym_outer */
	};
	struct mp_sym_result early[2], a, b;
	struct mp_sym_stats st0, st1;

	/* Different cache settings: separate modules (same ones otherwise).
	 * Making a symbolizer loads nothing yet. */
	mp_symbolize_stats(&st0);
	CHECK_INT(mp_symbolizer_new(maps, len, MP_SYM_F_NO_CACHE, &s), 0);
	CHECK_INT(mp_symbolizer_new(maps, len, MP_SYM_F_KEEP, &kept), 0);
	free(maps);
	if (!s || !kept)
		goto out;
	mp_symbolize_stats(&st1);
	CHECK_U64(st1.loads, st0.loads);
	CHECK_INT(mp_symbolizer_prepare(s, addrs, 2), 0);        /* ours, then freed */
	CHECK_INT(mp_symbolizer_prepare(kept, addrs, 4), 0);
	for (int i = 0; i < 2; i++) {
		CHECK_INT(mp_symbolize(s, addrs[i], &early[i]), 0);
		CHECK_INT(mp_symbolize(kept, addrs[i], &b), 0);
		CHECK(same_result(&early[i], &b));
	}
	CHECK_INT(early[0].source, MP_SYM_DWARF);
	CHECK(early[0].nframes == 1 && strcmp(early[0].frames[0].function, "sym_caller") == 0);
	/* Not asked before: our file is loaded again, libc for the first time. */
	for (int i = 2; i < 4; i++) {
		CHECK_INT(mp_symbolize(s, addrs[i], &a), 0);
		CHECK_INT(mp_symbolize(kept, addrs[i], &b), 0);
		CHECK(a.nframes >= 1 && same_result(&a, &b));
	}
	CHECK_INT(a.source, MP_SYM_DWARF);
	CHECK(a.nframes == 2 && strcmp(a.frames[0].function, "sym_inlined") == 0 &&
	      strcmp(a.frames[1].function, "sym_outer") == 0);
	mp_symbolizer_release(s);
	mp_symbolizer_release(s);       /* twice: nothing left to free */
	for (int i = 0; i < 2; i++) {
		CHECK_INT(mp_symbolize(kept, addrs[i], &b), 0);
		CHECK(same_result(&early[i], &b));
	}
	/* In the same function as an answered address, asked after release. */
	CHECK_INT(mp_symbolize(s, (uint64_t)(uintptr_t)&sym_leaf + 1, &a), 0);
	CHECK_INT(mp_symbolize(kept, (uint64_t)(uintptr_t)&sym_leaf + 1, &b), 0);
	CHECK(a.nframes == 1 && same_result(&a, &b));
	mp_symbolize_stats(&st1);
	/* Ours three times in s (prepare, after it, after the release), at
	 * least once in kept, libc in both. */
	CHECK(st1.loads >= st0.loads + 5);
out:
	mp_symbolizer_free(s);
	mp_symbolizer_free(kept);
}

/* The pool answers' strings live in: one copy per distinct string, every
 * block 8-aligned, big blocks beside the current one, all of it valid
 * until mp_strpool_done. */
static void test_strpool(void)
{
	struct mp_strpool p;
	const char *a, *b, *c, *strs[3000];
	char buf[32], *big;

	mp_strpool_init(&p);
	CHECK(mp_strpool_intern(&p, NULL) == NULL);
	CHECK(mp_strpool_copy(&p, NULL) == NULL);
	a = mp_strpool_intern(&p, "main");
	snprintf(buf, sizeof(buf), "ma%s", "in");
	b = mp_strpool_intern(&p, buf);
	CHECK(a && a == b && a != buf);
	c = mp_strpool_copy(&p, "main");
	CHECK(c && c != a && strcmp(c, "main") == 0);
	CHECK(mp_strpool_intern(&p, "") && strcmp(mp_strpool_intern(&p, ""), "") == 0);
	/* Growth of the set and of the blocks keeps earlier strings. */
	for (int i = 0; i < 3000; i++) {
		snprintf(buf, sizeof(buf), "f%d", i);
		strs[i] = mp_strpool_intern(&p, buf);
	}
	big = mp_strpool_alloc(&p, 100000);
	CHECK(big != NULL && ((uintptr_t)big & 7) == 0);
	if (big)
		memset(big, 'x', 100000);
	CHECK(((uintptr_t)mp_strpool_alloc(&p, 3) & 7) == 0);
	CHECK(((uintptr_t)mp_strpool_alloc(&p, 5) & 7) == 0);
	bool all = true;

	for (int i = 0; i < 3000; i++) {
		snprintf(buf, sizeof(buf), "f%d", i);
		all = all && strs[i] && strcmp(strs[i], buf) == 0 && mp_strpool_intern(&p, buf) == strs[i];
	}
	CHECK(all);
	CHECK(mp_strpool_intern(&p, "main") == a && strcmp(a, "main") == 0);
	CHECK(p.nstr == 3002);
	mp_strpool_done(&p);
	mp_strpool_done(&p);            /* twice: empty */
}

int main(void)
{
	/* Local files only, whatever the environment says; no disk cache but
	 * in test_cache (a stripped copy of a binary would get the answers
	 * cached for its build ID, which is what a user wants and not what
	 * test_fallbacks checks). */
	unsetenv("DEBUGINFOD_URLS");
	setenv("MEMPROF_CACHE_DIR", "off", 1);
	test_maps_parse();
	test_paths();
	test_strpool();
	test_self();
	test_fallbacks();
	test_warm();
	test_release();
	return tap_done();
}

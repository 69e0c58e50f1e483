/* SPDX-License-Identifier: MIT */
/*
 * The on-disk symbolization cache (src/symbolize/symcache.c): a store and
 * a load give back every entry; a second store merges (answers already in
 * the file stay); truncated, flipped and foreign files are refused and a
 * store replaces them; eight processes storing at once lose nothing; the
 * directory stays within MEMPROF_CACHE_SIZE, least recently used files
 * first, and stale temporary files go.  Then through the symbolizer: this
 * program's answers are written at its end, and a stripped copy of it
 * (same build ID) gets its DWARF answers back from the cache.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "symbolize/symcache.h"
#include "symbolize/symbolize.h"
#include "tap.h"

extern char **environ;

static char dir[] = "/tmp/test-symcache-XXXXXX";

static const char BID[] = "0123456789abcdef0123456789abcdef01234567";

static void entry(uint64_t addr, struct mp_sym_frame *f, struct mp_symcache_entry *e, int k)
{
	static char names[64][32];

	snprintf(names[k % 64], sizeof(names[0]), "fn_%llx", (unsigned long long)addr);
	f[0] = (struct mp_sym_frame){ names[k % 64], names[k % 64], "/src/a.c", (int64_t)addr % 1000, 7 };
	f[1] = (struct mp_sym_frame){ "outer", "_Z5outerv", NULL, 0, 0 };
	*e = (struct mp_symcache_entry){ addr, MP_SYM_DWARF, f, 1 + (addr & 1) };
}

/* Every address in [lo, hi) step `step` has its entry, with its name. */
static int has_all(const struct mp_symcache_view *v, uint64_t lo, uint64_t hi, uint64_t step)
{
	struct mp_sym_frame fr[4];
	char want[32];

	for (uint64_t a = lo; a < hi; a += step) {
		int64_t i = mp_symcache_index(v, a);
		enum mp_sym_source src;

		if (i < 0)
			return 0;
		if (mp_symcache_decode(v, (size_t)i, &src, fr) != 1 + (a & 1) || src != MP_SYM_DWARF)
			return 0;
		snprintf(want, sizeof(want), "fn_%llx", (unsigned long long)a);
		if (strcmp(fr[0].function, want) != 0 || fr[0].line != (int64_t)a % 1000 ||
		    strcmp(fr[0].file, "/src/a.c") != 0 || ((a & 1) && fr[1].file != NULL))
			return 0;
	}
	return 1;
}

static int store_range(struct mp_symcache_dir *d, const char *bid, uint64_t lo, uint64_t hi)
{
	size_t n = (size_t)(hi - lo);
	struct mp_symcache_entry *e = calloc(n, sizeof(*e));
	struct mp_sym_frame (*f)[2] = calloc(n, sizeof(*f));
	static char (*names)[32];
	int r;

	names = calloc(n, sizeof(*names));
	for (size_t i = 0; i < n; i++) {
		uint64_t a = lo + i;

		snprintf(names[i], sizeof(names[i]), "fn_%llx", (unsigned long long)a);
		f[i][0] = (struct mp_sym_frame){ names[i], names[i], "/src/a.c", (int64_t)a % 1000, 7 };
		f[i][1] = (struct mp_sym_frame){ "outer", "_Z5outerv", NULL, 0, 0 };
		e[i] = (struct mp_symcache_entry){ a, MP_SYM_DWARF, f[i], 1 + (a & 1) };
	}
	r = mp_symcache_store(d, bid, MP_SYMCACHE_KIND_DWARF, e, n);
	free(e);
	free(f);
	free(names);
	return r;
}

static char *path_of(const char *bid)
{
	char *p = NULL;

	if (asprintf(&p, "%s/%s.dwarf.symc", dir, bid) < 0)
		abort();
	return p;
}

static void test_store_load(void)
{
	struct mp_symcache_dir *d = mp_symcache_dir_open();
	struct mp_symcache_file *f;
	char *p = path_of(BID);
	struct stat st;

	CHECK(d != NULL);
	CHECK(mp_symcache_load(d, BID, MP_SYMCACHE_KIND_DWARF) == NULL);   /* none yet */
	CHECK_INT(store_range(d, BID, 0x1000, 0x1400), 0);
	f = mp_symcache_load(d, BID, MP_SYMCACHE_KIND_DWARF);
	CHECK(f != NULL);
	if (f) {
		CHECK_U64(mp_symcache_file_view(f)->naddrs, 0x400);
		CHECK(has_all(mp_symcache_file_view(f), 0x1000, 0x1400, 1));
		CHECK(mp_symcache_index(mp_symcache_file_view(f), 0x1400) < 0);
		mp_symcache_unload(f);
	}
	/* Another kind, another build ID: not this file. */
	CHECK(mp_symcache_load(d, BID, MP_SYMCACHE_KIND_SYMTAB) == NULL);
	CHECK(mp_symcache_load(d, "0123", MP_SYMCACHE_KIND_DWARF) == NULL);
	CHECK(mp_symcache_load(d, "../../etc/passwd", MP_SYMCACHE_KIND_DWARF) == NULL);

	/* A second store merges; an address already there keeps its answer. */
	{
		struct mp_sym_frame fr[2];
		struct mp_symcache_entry e;

		CHECK_INT(store_range(d, BID, 0x1300, 0x1800), 0);
		entry(0x1000, fr, &e, 0);
		fr[0].function = "other";
		CHECK_INT(mp_symcache_store(d, BID, MP_SYMCACHE_KIND_DWARF, &e, 1), 0);
		f = mp_symcache_load(d, BID, MP_SYMCACHE_KIND_DWARF);
		CHECK(f && mp_symcache_file_view(f)->naddrs == 0x800 &&
		      has_all(mp_symcache_file_view(f), 0x1000, 0x1800, 1));
		mp_symcache_unload(f);
	}

	/* Truncated, then one flipped byte, then not ours: refused; a store
	 * then writes a whole file again. */
	CHECK_INT(stat(p, &st), 0);
	CHECK_INT(truncate(p, st.st_size - 9), 0);
	CHECK(mp_symcache_load(d, BID, MP_SYMCACHE_KIND_DWARF) == NULL);
	CHECK_INT(store_range(d, BID, 0x1000, 0x1010), 0);
	f = mp_symcache_load(d, BID, MP_SYMCACHE_KIND_DWARF);
	CHECK(f && has_all(mp_symcache_file_view(f), 0x1000, 0x1010, 1));
	mp_symcache_unload(f);
	{
		int fd = open(p, O_RDWR);
		char c;

		CHECK(fd >= 0 && pread(fd, &c, 1, 300) == 1);
		c ^= 0x20;
		CHECK(pwrite(fd, &c, 1, 300) == 1);
		close(fd);
		CHECK(mp_symcache_load(d, BID, MP_SYMCACHE_KIND_DWARF) == NULL);
		fd = open(p, O_WRONLY | O_TRUNC);
		CHECK(fd >= 0 && write(fd, "hello", 5) == 5);
		close(fd);
		CHECK(mp_symcache_load(d, BID, MP_SYMCACHE_KIND_DWARF) == NULL);
	}
	CHECK_INT(store_range(d, BID, 0x1000, 0x1010), 0);
	f = mp_symcache_load(d, BID, MP_SYMCACHE_KIND_DWARF);
	CHECK(f && mp_symcache_file_view(f)->naddrs == 0x10);
	mp_symcache_unload(f);
	free(p);
	mp_symcache_dir_free(d);
}

/* Eight processes storing ranges of their own into one file at once, ten
 * times each: the last file holds every entry. */
static void test_concurrent(void)
{
	static const char bid[] = "feedfacefeedfacefeedfacefeedfacefeedface";
	pid_t pids[8];
	struct mp_symcache_dir *d;
	struct mp_symcache_file *f;

	for (int k = 0; k < 8; k++) {
		pids[k] = fork();
		if (pids[k] == 0) {
			struct mp_symcache_dir *cd = mp_symcache_dir_open();
			int bad = 0;

			for (int rep = 0; rep < 10; rep++)
				bad |= store_range(cd, bid, 0x10000 * (k + 1) + rep * 100,
						   0x10000 * (k + 1) + rep * 100 + 100) != 0;
			mp_symcache_dir_free(cd);
			_exit(bad);
		}
	}
	for (int k = 0; k < 8; k++) {
		int status = -1;

		CHECK_INT(waitpid(pids[k], &status, 0), pids[k]);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	d = mp_symcache_dir_open();
	f = mp_symcache_load(d, bid, MP_SYMCACHE_KIND_DWARF);
	CHECK(f != NULL);
	if (f) {
		CHECK_U64(mp_symcache_file_view(f)->naddrs, 8 * 1000);
		for (int k = 0; k < 8; k++)
			CHECK(has_all(mp_symcache_file_view(f), 0x10000 * (k + 1), 0x10000 * (k + 1) + 1000, 1));
		mp_symcache_unload(f);
	}
	mp_symcache_dir_free(d);
}

static size_t dir_bytes(int *ret_tmp)
{
	DIR *dd = opendir(dir);
	struct dirent *de;
	size_t total = 0;

	*ret_tmp = 0;
	while (dd && (de = readdir(dd))) {
		char p[4200];
		struct stat st;

		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (strstr(de->d_name, ".symc") && stat(p, &st) == 0)
			total += (size_t)st.st_size;
		if (strncmp(de->d_name, ".tmp.", 5) == 0)
			(*ret_tmp)++;
	}
	if (dd)
		closedir(dd);
	return total;
}

/* MEMPROF_CACHE_SIZE bounds the directory; the file used last stays. */
static void test_bound(void)
{
	struct mp_symcache_dir *d;
	char bid[41], stale[4200];
	struct timespec old[2] = { { 1000, 0 }, { 1000, 0 } };
	int fd, tmp;

	snprintf(stale, sizeof(stale), "%s/.tmp.1.abcdef", dir);
	fd = open(stale, O_CREAT | O_WRONLY, 0600);
	CHECK(fd >= 0);
	close(fd);
	CHECK_INT(utimensat(AT_FDCWD, stale, old, 0), 0);
	setenv("MEMPROF_CACHE_SIZE", "200K", 1);
	d = mp_symcache_dir_open();
	for (int k = 0; k < 40; k++) {
		snprintf(bid, sizeof(bid), "%040x", k + 1);
		CHECK_INT(store_range(d, bid, 0x1000, 0x1100), 0);   /* about 20 KiB each */
	}
	CHECK(dir_bytes(&tmp) <= 200 * 1024);
	CHECK_INT(tmp, 0);
	{
		struct mp_symcache_file *f = mp_symcache_load(d, bid, MP_SYMCACHE_KIND_DWARF);

		CHECK(f != NULL);     /* the last one written */
		mp_symcache_unload(f);
	}
	mp_symcache_dir_free(d);
	unsetenv("MEMPROF_CACHE_SIZE");
}

static void *volatile sink;

static __attribute__((noinline)) void *cached_fn(void)
{
	return __builtin_return_address(0);
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

/* Through the symbolizer: answers for this program are stored when the
 * symbolizer ends, and a stripped copy of the program (same build ID)
 * gets them back from the cache. */
static void test_symbolizer(void)
{
	char exe[4096], copy[4200], line[8400], maps[1 << 16];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	unsigned long long start = 0, end = 0, off = 0;
	uint64_t addr = (uint64_t)(uintptr_t)&cached_fn;
	struct mp_symbolizer *s;
	struct mp_sym_result r;
	struct stat st;
	FILE *f;

	CHECK(n > 0);
	exe[n > 0 ? n : 0] = 0;
	f = fopen("/proc/self/maps", "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%llx-%llx %*4s %llx", &start, &end, &off) == 3 && addr >= start && addr < end)
			break;
	if (f)
		fclose(f);
	snprintf(copy, sizeof(copy), "%s/copy", dir);
	{
		const char *const cp[] = { "cp", exe, copy, NULL };

		CHECK_INT(run(cp), 0);
	}
	CHECK_INT(stat(copy, &st), 0);
	snprintf(maps, sizeof(maps), "%llx-%llx r-xp %08llx %02x:%02x %llu %s\n", start, end, off,
		 major(st.st_dev), minor(st.st_dev), (unsigned long long)st.st_ino, copy);
	CHECK_INT(mp_symbolizer_new(maps, strlen(maps), 0, &s), 0);
	CHECK_INT(mp_symbolize(s, addr, &r), 0);
	CHECK_INT(r.source, MP_SYM_DWARF);
	CHECK(r.nframes == 1 && strcmp(r.frames[0].function, "cached_fn") == 0);
	mp_symbolizer_free(s);          /* stores */

	/* Strip the copy in place: no symbols, no DWARF, same build ID. */
	{
		const char *const strip[] = { "strip", "--strip-all", copy, NULL };

		CHECK_INT(run(strip), 0);
	}
	CHECK_INT(stat(copy, &st), 0);
	snprintf(maps, sizeof(maps), "%llx-%llx r-xp %08llx %02x:%02x %llu %s\n", start, end, off,
		 major(st.st_dev), minor(st.st_dev), (unsigned long long)st.st_ino, copy);
	CHECK_INT(mp_symbolizer_new(maps, strlen(maps), 0, &s), 0);
	{
		/* Answered by the cache: the file is not even loaded. */
		struct mp_sym_stats st0, st1;

		mp_symbolize_stats(&st0);
		CHECK_INT(mp_symbolizer_prepare(s, &addr, 1), 0);
		CHECK_INT(mp_symbolize(s, addr, &r), 0);
		mp_symbolize_stats(&st1);
		CHECK_U64(st1.loads, st0.loads);
	}
	CHECK_INT(r.source, MP_SYM_DWARF);
	CHECK(r.nframes == 1 && strcmp(r.frames[0].function, "cached_fn") == 0 && r.frames[0].line > 0);
	mp_symbolizer_free(s);
	/* Without the cache the stripped copy has nothing. */
	CHECK_INT(mp_symbolizer_new(maps, strlen(maps), MP_SYM_F_NO_CACHE, &s), 0);
	CHECK_INT(mp_symbolize(s, addr, &r), 0);
	CHECK_INT(r.source, MP_SYM_NONE);
	mp_symbolizer_free(s);
	unlink(copy);
	sink = cached_fn();
}

int main(void)
{
	unsetenv("DEBUGINFOD_URLS");
	if (!mkdtemp(dir))
		return 1;
	setenv("MEMPROF_CACHE_DIR", dir, 1);
	test_store_load();
	test_concurrent();
	test_bound();
	test_symbolizer();
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			CHECK(!"cleanup");
	}
	return tap_done();
}

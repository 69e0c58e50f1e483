/* SPDX-License-Identifier: MIT */
/*
 * Symbolizer benchmark and cross-check (scripts/bench.sh --set symbolize,
 * scripts/symcheck.py).  Not a test: it measures and reports.
 *
 *   sym-bench speed ELF [N]
 *       N unique addresses spread over the executable segment of ELF (as
 *       if mapped by a process): addresses per second with an empty disk
 *       cache ("cold": open, index, symbolize) and from the cache the
 *       first pass wrote, the CLI's peak RSS and the sizes of the tables
 *       the file holds.  MEMPROF_CACHE_DIR must name a scratch directory.
 *
 *   sym-bench rss SNAPSHOT
 *       The memory symbolization takes: the resident set before making a
 *       symbolizer for the snapshot (snapshot read, peak reset through
 *       /proc/self/clear_refs) and its peak after symbolizing every address
 *       of its stacks as memprof convert does (mp_symbolizer_prepare, then
 *       lookups), no disk cache; where the resident set is then; and the
 *       symbol and line tables the symbolizer loaded (mp_symbolize_stats:
 *       symbol tables with their strings, and the DWARF sections answers
 *       are read from, uncompressed), with the ratio of the two.
 *       SYM_BENCH_KEEP=1 keeps the files loaded (MP_SYM_F_KEEP), to see
 *       what they hold.
 *
 *   sym-bench lines FILE...
 *       Every unit's line table of each ELF file with DWARF, read by
 *       symbolize/lines.c and by libdw: the same files and directories, and
 *       for every row address of libdw's table (and the bytes either side)
 *       the same answer as dwarf_getsrc_die.  Exit status 3 on a difference;
 *       tables lines.c leaves to libdw are counted.
 *
 *   sym-bench check SNAPSHOT...
 *       Every distinct return address - 1 of every stack of each raw
 *       snapshot, symbolized by the symbolizer and by the reference one
 *       (symref.c: dwfl_module_addrinfo and libdw, as memprof did before
 *       its own index); the differences go to stderr, and every address
 *       with its file, file address and frames to stdout, one line each:
 *         path<TAB>0xfileaddr<TAB>function|file|line<TAB>...
 *       for comparison with addr2line -f -i.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "common/snapshot-read.h"
#include "symbolize/lines.h"
#include "symbolize/module-int.h"
#include "symbolize/symbolize.h"
#include "symref.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long peak_rss_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long pages = 0, res = 0;

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &res) != 2)
			res = 0;
		fclose(f);
	}
	return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* ---- speed ------------------------------------------------------------------------ */

static int speed(const char *path, size_t n)
{
	int fd = open(path, O_RDONLY);
	Elf *elf;
	GElf_Ehdr eh;
	size_t phnum, shstrndx;
	uint64_t lo = 0, hi = 0, off = 0, base, tables = 0;
	char maps[8192];
	struct stat st;
	uint64_t *addrs;
	struct mp_symbolizer *s;
	struct mp_sym_result r;
	double t0, t1;
	long rss0;

	elf_version(EV_CURRENT);
	if (fd < 0 || fstat(fd, &st) < 0 || !(elf = elf_begin(fd, ELF_C_READ_MMAP, NULL)) ||
	    !gelf_getehdr(elf, &eh) || elf_getphdrnum(elf, &phnum) != 0) {
		fprintf(stderr, "sym-bench: cannot read '%s'\n", path);
		return 1;
	}
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD && (ph.p_flags & PF_X)) {
			lo = ph.p_vaddr & ~0xfffull;
			hi = (ph.p_vaddr + ph.p_memsz + 0xfff) & ~0xfffull;
			off = ph.p_offset & ~0xfffull;
			break;
		}
	}
	/* The sizes of the symbol and line tables the file holds. */
	if (elf_getshdrstrndx(elf, &shstrndx) == 0) {
		Elf_Scn *scn = NULL;

		while ((scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;
			const char *name;

			if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS)
				continue;
			name = elf_strptr(elf, shstrndx, sh.sh_name);
			if (name && (!strcmp(name, ".symtab") || !strcmp(name, ".strtab") ||
				     !strcmp(name, ".dynsym") || !strcmp(name, ".dynstr") ||
				     !strcmp(name, ".debug_line") || !strcmp(name, ".gnu_debugdata")))
				tables += sh.sh_size;
		}
	}
	base = eh.e_type == ET_DYN ? 0x555555554000ull : 0;
	elf_end(elf);
	close(fd);
	if (hi <= lo) {
		fprintf(stderr, "sym-bench: no executable segment in '%s'\n", path);
		return 1;
	}
	snprintf(maps, sizeof(maps), "%" PRIx64 "-%" PRIx64 " r-xp %08" PRIx64 " %02x:%02x %llu %s\n",
		 base + lo, base + hi, off, major(st.st_dev), minor(st.st_dev),
		 (unsigned long long)st.st_ino, path);
	if (n > (hi - lo) / 2)
		n = (hi - lo) / 2;
	addrs = malloc(n * sizeof(*addrs));
	/* Evenly spread, a few bytes apart: distinct addresses in every
	 * function of the segment, as a big profile has. */
	for (size_t i = 0; i < n; i++)
		addrs[i] = base + lo + (hi - lo) / n * i + (i * 7) % 5;
	rss0 = rss_kib();

	for (int pass = 0; pass < 2; pass++) {
		t0 = now();
		if (mp_symbolizer_new(maps, strlen(maps), 0, &s) < 0)
			return 1;
		mp_symbolizer_prepare(s, addrs, n);
		size_t named = 0;
		for (size_t i = 0; i < n; i++)
			if (mp_symbolize(s, addrs[i], &r) == 0 && r.nframes)
				named++;
		t1 = now();
		printf("%s %s: %zu addresses (%zu named) in %.3f s: %.0f addresses/s\n",
		       path, pass == 0 ? "cold" : "from cache", n, named, t1 - t0, n / (t1 - t0));
		if (pass == 0)
			printf("%s: peak RSS %ld KiB, %ld KiB above the start; symbol and line tables "
			       "in the file %" PRIu64 " KiB\n", path, peak_rss_kib(), peak_rss_kib() - rss0,
			       tables / 1024);
		mp_symbolizer_free(s);   /* the first pass writes the cache */
	}
	free(addrs);
	return 0;
}

/* ---- rss -------------------------------------------------------------------------- */

static long status_kib(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;

	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, key, strlen(key)) == 0)
			v = strtol(line + strlen(key), NULL, 10);
	if (f)
		fclose(f);
	return v;
}

/* Where the resident set is now: anonymous memory (malloc's heap and
 * mappings) and each file's mapped pages, from /proc/self/smaps. */
static void print_resident(const char *path)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[4608], name[4096] = "";
	struct { char name[256]; long kib; } top[64];
	size_t ntop = 0;
	long anon = 0;

	while (f && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		long kib;
		int off = 0;

		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &lo, &hi, &off) == 2 && off > 0) {
			snprintf(name, sizeof(name), "%s", line + off);
			name[strcspn(name, "\n")] = 0;
			continue;
		}
		if (sscanf(line, "Rss: %ld kB", &kib) != 1 || !kib)
			continue;
		if (name[0] != '/') {
			anon += kib;
			continue;
		}
		size_t i;

		for (i = 0; i < ntop && strcmp(top[i].name, name) != 0; i++)
			;
		if (i == ntop) {
			if (ntop == 64)
				continue;
			snprintf(top[ntop].name, sizeof(top[ntop].name), "%s", name);
			top[ntop++].kib = 0;
		}
		top[i].kib += kib;
	}
	if (f)
		fclose(f);
	printf("%s: resident now: anonymous %ld KiB", path, anon);
	for (size_t i = 0; i < ntop; i++)
		if (top[i].kib >= 256)
			printf(", %s %ld KiB", top[i].name, top[i].kib);
	putchar('\n');
}

static int rss(const char *path)
{
	struct mp_snap *snap;
	char *err = NULL;
	struct mp_symbolizer *s;
	uint64_t *addrs;
	size_t n = 0;
	long before, peak;
	FILE *f;

	if (mp_snap_read_file(path, &snap, &err) < 0) {
		fprintf(stderr, "sym-bench: cannot read '%s': %s\n", path, err ? err : "?");
		return 1;
	}
	addrs = malloc(((size_t)snap->nstacks * MP_SNAP_MAX_DEPTH + 1) * sizeof(*addrs));
	for (uint32_t i = 1; i <= snap->nstacks; i++) {
		const struct mp_snap_stack *st = mp_snap_stack(snap, i);

		for (uint32_t j = 0; st && j < st->depth; j++)
			if (st->pcs[j])
				addrs[n++] = st->pcs[j] - 1;
	}
	qsort(addrs, n, sizeof(*addrs), cmp_u64);
	{
		size_t u = 0;

		for (size_t i = 0; i < n; i++)
			if (u == 0 || addrs[i] != addrs[u - 1])
				addrs[u++] = addrs[i];
		n = u;
		addrs = realloc(addrs, (n ? n : 1) * sizeof(*addrs));
	}
	f = fopen("/proc/self/clear_refs", "w");
	if (!f || fputs("5", f) < 0 || fclose(f) != 0) {
		fprintf(stderr, "sym-bench: cannot reset the peak resident set\n");
		return 1;
	}
	before = status_kib("VmRSS:");
	/* SYM_BENCH_KEEP=1: keep the files loaded, to see what they hold. */
	if (mp_symbolizer_new(snap->maps, snap->maps_len,
			      MP_SYM_F_NO_CACHE | (getenv("SYM_BENCH_KEEP") ? MP_SYM_F_KEEP : 0), &s) < 0)
		return 1;
	long opened = status_kib("VmHWM:");
	mp_symbolizer_prepare(s, addrs, n);
	for (size_t i = 0; i < n; i++) {
		struct mp_sym_result r;

		mp_symbolize(s, addrs[i], &r);
	}
	peak = status_kib("VmHWM:");
	print_resident(path);
	printf("%s: %ld KiB to open the files\n", path, opened - before);
	{
		struct mallinfo2 mi = mallinfo2();

		printf("%s: malloc in use %zu KiB (mmapped chunks %zu KiB)\n", path,
		       (mi.uordblks + mi.hblkhd) / 1024, mi.hblkhd / 1024);
	}
	printf("%s: resident %ld KiB before, peak %ld KiB while symbolizing: %ld KiB for it\n",
	       path, before, peak, peak - before);
	{
		struct mp_sym_stats st;

		mp_symbolize_stats(&st);
		printf("%s: tables loaded: %" PRIu64 " files (%" PRIu64 " loads), symbol tables %"
		       PRIu64 " KiB, DWARF %" PRIu64 " KiB: %" PRIu64 " KiB; added peak / tables = %.2f\n",
		       path, st.files, st.loads, st.symtab_bytes / 1024, st.dwarf_bytes / 1024,
		       (st.symtab_bytes + st.dwarf_bytes) / 1024,
		       st.symtab_bytes + st.dwarf_bytes
			       ? (double)(peak - before) * 1024 / (double)(st.symtab_bytes + st.dwarf_bytes)
			       : 0.0);
		/* For scripts/bench.py. */
		printf("rss-summary: addresses=%zu added_kib=%ld peak_kib=%ld symtab_kib=%" PRIu64
		       " dwarf_kib=%" PRIu64 " files=%" PRIu64 " loads=%" PRIu64 "\n", n, peak - before,
		       peak, st.symtab_bytes / 1024, st.dwarf_bytes / 1024, st.files, st.loads);
	}
	mp_symbolizer_free(s);
	free(addrs);
	mp_snap_free(snap);
	return 0;
}

/* ---- lines ------------------------------------------------------------------------ */

static bool same_name(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Our answer for a against libdw's; false on a difference (printed). */
static bool same_line(const char *path, Dwarf_Die *cu, const struct mp_lines *l, uint64_t a)
{
	Dwarf_Line *dl = dwarf_getsrc_die(cu, a);
	const struct mp_line_row *r = mp_lines_find(l, a);
	int dline = 0;
	const char *dname = NULL, *name = NULL;

	if (dl && dwarf_lineno(dl, &dline) == 0)
		dname = dwarf_linesrc(dl, NULL, NULL);
	else
		dl = NULL;
	if (r)
		name = r->file < l->nfiles ? l->files[r->file] : NULL;
	if ((!dl) == (!r) && (!r || (dline == r->line && same_name(dname, name))))
		return true;
	fprintf(stderr, "%s: unit %s, 0x%" PRIx64 ": libdw %s:%d, ours %s:%d\n", path,
		dwarf_diename(cu) ? dwarf_diename(cu) : "?", a, dl ? (dname ? dname : "(null)") : "-",
		dline, r ? (name ? name : "(null)") : "-", r ? r->line : 0);
	return false;
}

static int lines(int argc, char **argv)
{
	size_t units = 0, ours = 0, left = 0, addrs = 0, differ = 0;

	elf_version(EV_CURRENT);
	for (int k = 0; k < argc; k++) {
		int fd = open(argv[k], O_RDONLY);
		Dwarf *dw = fd >= 0 ? dwarf_begin(fd, DWARF_C_READ) : NULL;
		Dwarf_Off off = 0, next;
		size_t hsize;

		if (!dw) {
			fprintf(stderr, "sym-bench: no DWARF in '%s'\n", argv[k]);
			return 1;
		}
		while (dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
			Dwarf_Die cu;
			Dwarf_Lines *dlines;
			Dwarf_Files *dfiles;
			const char *const *ddirs;
			size_t dn = 0, dnf = 0, dnd = 0;
			struct mp_lines_input in;
			struct mp_lines *l = NULL;
			bool libdw_ok, ok = true;

			if (!dwarf_offdie(dw, off + hsize, &cu))
				break;
			off = next;
			units++;
			libdw_ok = dwarf_getsrclines(&cu, &dlines, &dn) == 0 &&
				   dwarf_getsrcfiles(&cu, &dfiles, &dnf) == 0 &&
				   dwarf_getsrcdirs(dfiles, &ddirs, &dnd) == 0;
			if (!mp_dwarf_lines_input(&cu, &in) || mp_lines_read(&in, true, &l) < 0) {
				left++;
				continue;
			}
			ours++;
			if (!libdw_ok) {
				fprintf(stderr, "%s: unit %s: read here, libdw rejects it\n", argv[k],
					dwarf_diename(&cu) ? dwarf_diename(&cu) : "?");
				differ++;
				mp_lines_free(l);
				continue;
			}
			ok = l->nfiles == dnf && l->ndirs == dnd;
			for (size_t i = 0; ok && i < dnf; i++)
				ok = same_name(l->files[i], dwarf_filesrc(dfiles, i, NULL, NULL));
			for (size_t i = 0; ok && i < dnd; i++)
				ok = same_name(l->dirs[i], ddirs[i]);
			if (!ok) {
				fprintf(stderr, "%s: unit %s: files or directories differ\n", argv[k],
					dwarf_diename(&cu) ? dwarf_diename(&cu) : "?");
				differ++;
			}
			for (size_t i = 0; i < dn; i++) {
				Dwarf_Addr a;

				if (dwarf_lineaddr(dwarf_onesrcline(dlines, i), &a) != 0)
					continue;
				addrs++;
				differ += !same_line(argv[k], &cu, l, a);
				differ += a > 0 && !same_line(argv[k], &cu, l, a - 1);
				differ += !same_line(argv[k], &cu, l, a + 1);
			}
			mp_lines_free(l);
		}
		dwarf_end(dw);
		close(fd);
	}
	fprintf(stderr, "sym-bench lines: %zu units, %zu read here (%zu left to libdw), %zu row "
		"addresses, %zu differences\n", units, ours, left, addrs, differ);
	return differ ? 3 : 0;
}

/* ---- check ------------------------------------------------------------------------ */

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int check(int argc, char **argv)
{
	size_t total = 0, differ = 0, improved = 0;

	for (int k = 0; k < argc; k++) {
		struct mp_snap *snap;
		char *err = NULL;
		struct mp_symbolizer *s;
		struct ref_symbolizer *ref;
		uint64_t *addrs = NULL;
		size_t n = 0, u = 0;

		if (mp_snap_read_file(argv[k], &snap, &err) < 0) {
			fprintf(stderr, "sym-bench: cannot read '%s': %s\n", argv[k], err ? err : "?");
			free(err);
			return 1;
		}
		addrs = malloc(((size_t)snap->nstacks * MP_SNAP_MAX_DEPTH + 1) * sizeof(*addrs));
		for (uint32_t i = 1; i <= snap->nstacks; i++) {
			const struct mp_snap_stack *st = mp_snap_stack(snap, i);

			for (uint32_t j = 0; st && j < st->depth; j++)
				if (st->pcs[j])
					addrs[n++] = st->pcs[j] - 1;
		}
		qsort(addrs, n, sizeof(*addrs), cmp_u64);
		for (size_t i = 0; i < n; i++)
			if (u == 0 || addrs[i] != addrs[u - 1])
				addrs[u++] = addrs[i];
		if (mp_symbolizer_new(snap->maps, snap->maps_len, MP_SYM_F_NO_CACHE, &s) < 0 ||
		    ref_symbolizer_new(snap->maps, snap->maps_len, 0, &ref) < 0)
			return 1;
		mp_symbolizer_prepare(s, addrs, u);
		for (size_t i = 0; i < u; i++) {
			struct mp_sym_result a, b;
			bool same;

			if (mp_symbolize(s, addrs[i], &a) < 0 || ref_symbolize(ref, addrs[i], &b) < 0)
				return 1;
			total++;
			same = a.nframes == b.nframes && a.source == b.source &&
			       (a.mapping == NULL) == (b.mapping == NULL);
			for (size_t j = 0; same && j < a.nframes; j++)
				same = same_str(a.frames[j].function, b.frames[j].function) &&
				       same_str(a.frames[j].system_name, b.frames[j].system_name) &&
				       same_str(a.frames[j].file, b.frames[j].file) &&
				       a.frames[j].line == b.frames[j].line &&
				       a.frames[j].start_line == b.frames[j].start_line;
			/* The one change on purpose: a function DWARF does not
			 * describe gets the line table's file and line. */
			if (!same && a.nframes == 1 && b.nframes == 1 && a.source == MP_SYM_SYMTAB &&
			    b.source == MP_SYM_SYMTAB && !b.frames[0].file && a.frames[0].file &&
			    same_str(a.frames[0].function, b.frames[0].function) &&
			    same_str(a.frames[0].system_name, b.frames[0].system_name)) {
				improved++;
				same = true;
			}
			if (!same) {
				differ++;
				fprintf(stderr, "differ: %s 0x%" PRIx64 ": ", a.mapping ? a.mapping->path : "?",
					addrs[i]);
				for (size_t j = 0; j < a.nframes; j++)
					fprintf(stderr, "%s%s %s:%" PRId64, j ? " / " : "", a.frames[j].function,
						a.frames[j].file ? a.frames[j].file : "", a.frames[j].line);
				fprintf(stderr, "  reference: ");
				for (size_t j = 0; j < b.nframes; j++)
					fprintf(stderr, "%s%s %s:%" PRId64, j ? " / " : "", b.frames[j].function,
						b.frames[j].file ? b.frames[j].file : "", b.frames[j].line);
				fputc('\n', stderr);
			}
			if (!a.mapping || !a.mapping->has_elf)
				continue;
			/* The file address addr2line wants: the offset in the file
			 * mapped here, as a virtual address of the segment. */
			printf("%s\t0x%" PRIx64 "\t%d", a.mapping->path, addrs[i], (int)a.source);
			printf("\t0x%" PRIx64 "\t0x%" PRIx64, a.mapping->start, a.mapping->offset);
			for (size_t j = 0; j < a.nframes; j++)
				printf("\t%s|%s|%" PRId64, a.frames[j].function,
				       a.frames[j].file ? a.frames[j].file : "", a.frames[j].line);
			putchar('\n');
		}
		mp_symbolizer_free(s);
		ref_symbolizer_free(ref);
		free(addrs);
		mp_snap_free(snap);
	}
	fprintf(stderr, "sym-bench check: %zu addresses, %zu differ from the reference, "
		"%zu gain the line table's file and line\n", total, differ, improved);
	return differ ? 3 : 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "speed") == 0)
		return speed(argv[2], argc > 3 ? strtoull(argv[3], NULL, 10) : 200000);
	if (argc == 3 && strcmp(argv[1], "rss") == 0)
		return rss(argv[2]);
	if (argc >= 3 && strcmp(argv[1], "check") == 0)
		return check(argc - 2, argv + 2);
	if (argc >= 3 && strcmp(argv[1], "lines") == 0)
		return lines(argc - 2, argv + 2);
	fprintf(stderr, "usage: sym-bench speed ELF [N] | rss SNAPSHOT | check SNAPSHOT... | lines FILE...\n");
	return 2;
}

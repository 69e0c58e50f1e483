/* SPDX-License-Identifier: MIT */
/*
 * `memprof timeline [-o FILE] [-n N] [--title T] SNAPSHOT... | RUNDIR`: heap in
 * use, RSS and live resources over a series of snapshots as a self-contained
 * SVG or HTML chart (src/report/timeline.c).  Inputs are heap profiles (the
 * numbered ones `memprof run --interval` writes, or any pprof heap profiles)
 * or raw snapshots; a directory stands for the heap profiles in it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/profiles.h"
#include "common/errmsg.h"
#include "common/file-write.h"
#include "common/grow.h"
#include "common/snapshot-read.h"
#include "common/snapshot.h"
#include "convert/convert.h"
#include "pprof/pprof.h"
#include "report/timeline.h"

struct timeline_settings {
	const char *output;   /* -o, --output FILE: .svg for SVG, else HTML */
	uint64_t top;         /* -n, --stacks N: growing stacks named */
	const char *title;    /* --title TEXT */
};

static void usage(FILE *f)
{
	fputs("Usage: memprof timeline [OPTIONS] SNAPSHOT...\n"
	      "       memprof timeline [OPTIONS] RUNDIR\n"
	      "Chart heap in use, RSS and live fds, threads and timers over a series of\n"
	      "snapshots (heap profiles such as app.s0001.heap.pb.gz, or raw .snap files),\n"
	      "with the stacks whose in-use bytes grew most named.  A directory stands for\n"
	      "the heap profiles in it (the longest series when there are several).\n"
	      "\n"
	      "Options:\n"
	      "  -o, --output FILE  write the chart to FILE: SVG when it ends in .svg,\n"
	      "                     else HTML (default: timeline.html)\n"
	      "  -n, --stacks N     name the N stacks that grew most (default: 5)\n"
	      "      --title TEXT   the chart's title (default: the first file's name)\n"
	      "  -h, --help         show this help and exit\n"
	      "\n"
	      "See memprof-timeline(1).\n", f);
}

/* ---- inputs --------------------------------------------------------------------- */

struct input {
	char *path;
	struct mp_profile *heap, *res[4];   /* fds, threads, timers, peak (NULL when absent) */
};

/* The heap profile of raw snapshot `buf`, encoded; on failure the reason in
 * *ret_err. */
static int snapshot_heap(const uint8_t *buf, size_t len, uint8_t **ret_pb, size_t *ret_len,
			 char **ret_err)
{
	struct mp_converter *cv = NULL;
	struct mp_snap *snap = NULL;
	char *why = NULL;
	int r = mp_snap_parse(buf, len, &snap, &why);

	if (r < 0) {
		mp_set_err(ret_err, "malformed snapshot: %s", why ? why : strerror(-r));
		free(why);
		return r;
	}
	r = mp_converter_new(snap, 0, NULL, &cv);
	if (r < 0)
		mp_set_err(ret_err, "cannot convert snapshot: %s", strerror(-r));
	else
		r = mp_converter_encode(cv, MP_PROFILE_HEAP, ret_pb, ret_len, ret_err);
	mp_converter_free(cv);
	mp_snap_free(snap);
	return r;
}

/* A heap profile from a pprof file or a raw snapshot.  Prints the problem. */
static int load_heap(const char *path, struct mp_profile **ret)
{
	uint8_t *buf = NULL, *pb = NULL;
	size_t len = 0, pblen = 0;
	char *err = NULL;
	int r = mp_cli_read_whole(path, MP_PPROF_MAX_DECOMPRESSED, &buf, &len);

	if (r < 0) {
		fprintf(stderr, "memprof: cannot read '%s': %s\n", path, strerror(-r));
		return r;
	}
	if (len >= 8 && memcmp(buf, MP_SNAP_MAGIC, 8) == 0) {
		r = snapshot_heap(buf, len, &pb, &pblen, &err);
		if (r < 0) {
			fprintf(stderr, "memprof: cannot read snapshot '%s': %s\n", path,
				err ? err : strerror(-r));
			goto out;
		}
		r = mp_pprof_parse(pb, pblen, ret, &err);
	} else {
		r = mp_pprof_parse(buf, len, ret, &err);
	}
	if (r < 0)
		fprintf(stderr, "memprof: %s profile '%s': %s\n",
			r == -EBADMSG ? "malformed" : "cannot read", path, err ? err : strerror(-r));
out:
	free(err);
	free(pb);
	free(buf);
	return r;
}

/* The fds/threads/timers/peak profiles beside a heap profile, when they exist. */
static int load_siblings(struct input *in)
{
	static const enum mp_profile_kind kinds[4] = { MP_PROFILE_FDS, MP_PROFILE_THREADS,
						       MP_PROFILE_TIMERS, MP_PROFILE_PEAK };

	for (size_t k = 0; k < 4; k++) {
		char *p = mp_snapname_sibling(in->path, kinds[k]), *err = NULL;
		int r;

		if (!p || access(p, F_OK) != 0) {
			free(p);
			continue;
		}
		r = mp_pprof_read_file(p, &in->res[k], &err);
		if (r < 0) {
			fprintf(stderr, "memprof: cannot read profile '%s': %s\n", p,
				err ? err : strerror(-r));
			free(err);
			free(p);
			return r;
		}
		free(p);
	}
	return 0;
}

struct dir_entry {
	char *path, *series;
	uint32_t seq;
	bool plain;          /* "x.pb.gz", not "x.heap.pb.gz" */
};

static int cmp_dir_entry(const void *a, const void *b)
{
	const struct dir_entry *x = a, *y = b;
	int c = strcmp(x->series, y->series);

	if (c)
		return c;
	/* the final profile (seq 0) after the numbered ones */
	uint64_t xs = x->seq ? x->seq : UINT64_MAX, ys = y->seq ? y->seq : UINT64_MAX;
	return (xs > ys) - (xs < ys);
}

/* The heap profiles of the longest series in `dir`, appended to *paths. */
static int scan_dir(const char *dir, char ***paths, size_t *npaths)
{
	struct dir_entry *e = NULL;
	size_t n = 0, cap = 0, best = 0, best_len = 0, ignored, nplain = 0;
	struct dirent *de;
	int r = 0;
	DIR *d = opendir(dir);

	if (!d) {
		r = -errno;
		fprintf(stderr, "memprof: cannot read directory '%s': %s\n", dir, strerror(errno));
		return r;
	}
	while ((de = readdir(d))) {
		enum mp_profile_kind kind;
		char *series;
		uint32_t seq;

		if (mp_snapname_parse(de->d_name, &series, &seq, &kind) < 0)
			goto oom;
		/* Heap profiles: "x.heap.pb.gz", or "x.pb.gz" as `memprof run
		 * -o x.pb.gz` names them (below: only when there are none of
		 * the first). */
		bool plain = kind == MP_PROFILE_NONE && strcmp(series, de->d_name) != 0;
		if (kind != MP_PROFILE_HEAP && !plain) {
			free(series);
			continue;
		}
		if (plain)
			nplain++;
		if (MP_GROW(e, n + 1, cap) < 0) {
			free(series);
			goto oom;
		}
		e[n].series = series;
		e[n].seq = seq;
		e[n].plain = plain;
		if (asprintf(&e[n].path, "%s/%s", dir, de->d_name) < 0) {
			free(series);
			goto oom;
		}
		n++;
	}
	if (nplain && nplain < n) {
		/* Some ".heap.pb.gz": the plain ".pb.gz" are other profiles. */
		size_t k = 0;
		for (size_t i = 0; i < n; i++) {
			if (e[i].plain) {
				free(e[i].path);
				free(e[i].series);
			} else {
				e[k++] = e[i];
			}
		}
		n = k;
	}
	if (n)   /* qsort with a NULL array is undefined even for 0 elements */
		qsort(e, n, sizeof(*e), cmp_dir_entry);
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i; j < n && strcmp(e[j].series, e[i].series) == 0; j++)
			;
		if (j - i > best_len) {
			best = i;
			best_len = j - i;
		}
	}
	if (best_len == 0) {
		fprintf(stderr, "memprof: no heap profiles in '%s'\n", dir);
		r = -ENOENT;
		goto out;
	}
	ignored = n - best_len;
	if (ignored)
		fprintf(stderr, "memprof: charting series '%s' (%zu profiles), ignoring %zu other "
			"heap profiles in '%s'\n", e[best].series, best_len, ignored, dir);
	char **np = realloc(*paths, (*npaths + best_len) * sizeof(*np));
	if (!np)
		goto oom;
	*paths = np;
	for (size_t i = best; i < best + best_len; i++) {
		np[(*npaths)++] = e[i].path;
		e[i].path = NULL;
	}
	goto out;
oom:
	fputs("memprof: out of memory\n", stderr);
	r = -ENOMEM;
out:
	for (size_t i = 0; i < n; i++) {
		free(e[i].path);
		free(e[i].series);
	}
	free(e);
	closedir(d);
	return r;
}

static int cmp_input_time(const void *a, const void *b)
{
	const struct input *x = a, *y = b;

	if (x->heap->msg->time_nanos != y->heap->msg->time_nanos)
		return x->heap->msg->time_nanos < y->heap->msg->time_nanos ? -1 : 1;
	return 0;
}

/* ---- output -------------------------------------------------------------------- */

static bool ends_with(const char *s, const char *sfx)
{
	size_t a = strlen(s), b = strlen(sfx);

	return a >= b && strcasecmp(s + a - b, sfx) == 0;
}

int mp_cmd_timeline(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "stacks", required_argument, NULL, 'n' },
		{ "title",  required_argument, NULL, 'T' },
		{ "help",   no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct timeline_settings s = { .output = "timeline.html", .top = 5, .title = NULL };
	struct mp_timeline t;
	struct input *in = NULL;
	char **paths = NULL, *buf = NULL, *err = NULL;
	size_t npaths = 0, nin = 0, len = 0;
	int c, r, status = 1;
	FILE *mem;

	mp_timeline_init(&t);
	optind = 0;
	opterr = 1;
	while ((c = mp_getopt(argc, argv, "o:n:h", longopts)) != -1) {
		switch (c) {
		case 'o':
			if (!mp_opt_nonempty(optarg, "output file name"))
				return 2;
			s.output = optarg;
			break;
		case 'n':
			if (mp_parse_u64(optarg, &s.top) < 0 || s.top > 100) {
				fprintf(stderr, "memprof: bad --stacks '%s': not a number from 0 to "
					"100\n", optarg);
				return 2;
			}
			break;
		case 'T':
			s.title = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return 2;
		}
	}
	if (optind >= argc) {
		fputs("memprof: missing snapshots, see 'memprof timeline --help'\n", stderr);
		return 2;
	}

	for (int i = optind; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			if (scan_dir(argv[i], &paths, &npaths) < 0)
				goto out;
			continue;
		}
		char **np = realloc(paths, (npaths + 1) * sizeof(*np));
		if (!np || !(np[npaths] = strdup(argv[i]))) {
			if (np)
				paths = np;
			fputs("memprof: out of memory\n", stderr);
			goto out;
		}
		paths = np;
		npaths++;
	}

	if (mp_cli_output_not_input(s.output, (const char *const *)paths, npaths) < 0)
		goto out;
	in = calloc(npaths, sizeof(*in));
	if (!in) {
		fputs("memprof: out of memory\n", stderr);
		goto out;
	}
	for (size_t i = 0; i < npaths; i++) {
		in[nin].path = paths[i];
		if (load_heap(paths[i], &in[nin].heap) < 0) {
			nin++;
			goto out;
		}
		nin++;
		if (load_siblings(&in[nin - 1]) < 0)
			goto out;
	}
	qsort(in, nin, sizeof(*in), cmp_input_time);
	for (size_t i = 0; i < nin; i++) {
		char *b = strdup(in[i].path), *label = b ? basename(b) : in[i].path;

		r = mp_timeline_add(&t, label, in[i].heap, in[i].res[0], in[i].res[1], in[i].res[2],
				    &err);
		if (r == 0 && in[i].res[3])
			mp_timeline_add_peak(&t, in[i].res[3]);   /* (no inuse_space: no mark) */
		free(b);
		if (r < 0) {
			if (r == -ENOMEM)
				fputs("memprof: out of memory\n", stderr);
			else
				fprintf(stderr, "memprof: cannot chart '%s': %s\n", in[i].path,
					err ? err : strerror(-r));
			goto out;
		}
	}
	if (mp_timeline_finish(&t, (size_t)s.top) < 0) {
		fputs("memprof: out of memory\n", stderr);
		goto out;
	}

	mem = open_memstream(&buf, &len);
	if (!mem) {
		fputs("memprof: out of memory\n", stderr);
		goto out;
	}
	{
		/* default title: the series of the first input ("app" for
		 * app.s0001.heap.pb.gz) */
		char *b = strdup(paths[0]), *series = NULL;
		char title[512];
		enum mp_profile_kind kind;
		uint32_t seq;

		if (b && mp_snapname_parse(basename(b), &series, &seq, &kind) < 0)
			series = NULL;
		if (s.title)
			snprintf(title, sizeof(title), "%s", s.title);
		else
			snprintf(title, sizeof(title), "memprof timeline: %s",
				 series ? series : b ? basename(b) : paths[0]);
		r = ends_with(s.output, ".svg") ? mp_timeline_write_svg(&t, title, mem)
						: mp_timeline_write_html(&t, title, mem);
		free(series);
		free(b);
	}
	if (fclose(mem) != 0 || r < 0) {
		fputs("memprof: out of memory\n", stderr);
		goto out;
	}
	r = mp_file_write_whole(s.output, buf, len);
	if (r < 0) {
		fprintf(stderr, "memprof: cannot write timeline '%s': %s\n", s.output, strerror(-r));
		goto out;
	}
	status = 0;
out:
	for (size_t i = 0; i < nin; i++) {
		mp_profile_free(in[i].heap);
		for (size_t k = 0; k < 4; k++)
			mp_profile_free(in[i].res[k]);
	}
	for (size_t i = 0; i < npaths; i++)
		free(paths[i]);
	free(paths);
	free(in);
	free(buf);
	free(err);
	mp_timeline_done(&t);
	return status;
}

/* SPDX-License-Identifier: MIT */
/*
 * `memprof top [--sample-index TYPE] [-n N] PROFILE...`: the table
 * `go tool pprof -top` prints for any pprof profile (ours or Go's); for
 * several (the processes of a tree, runs), for their merge, as pprof does
 * with the files it is given (report/diff.h mp_merge_build).
 * The work is in src/report/top.c; this file parses options and reports
 * errors in one line.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/profiles.h"
#include "pprof/pprof.h"
#include "report/stats.h"
#include "report/top.h"
#include "common/snapshot.h"

struct top_settings {
	const char *sample_index;  /* --sample-index TYPE (name or number) */
	int node_count;            /* -n, --nodecount N (0: all) */
	int64_t short_ns;          /* --lifetimes[=DURATION]: short-lived below it; 0: off */
};

static void usage(FILE *f)
{
	fputs("Usage: memprof top [OPTIONS] PROFILE...\n"
	      "Print the functions of a pprof profile (gzip'd or not, from memprof or from\n"
	      "Go's runtime/pprof) as a table, the way 'go tool pprof -top' does: flat and\n"
	      "cumulative values, their share of the total and the running sum.  Several\n"
	      "profiles (the processes of one run, say) are merged first, as pprof does.\n"
	      "\n"
	      "Options:\n"
	      "  -i, --sample-index TYPE  the sample type to show, by name (inuse_space,\n"
	      "                           alloc_objects, ...) or by number from 0\n"
	      "                           (default: the profile's default, usually the last)\n"
	      "  -n, --nodecount N        show at most N functions (default: all above\n"
	      "                           0.5% of the total, as pprof)\n"
	      "      --lifetimes[=DURATION]  two more columns: the share of each function's\n"
	      "                           flat and cum values from blocks freed within\n"
	      "                           DURATION (default 1ms; a decade from 10us to 10s),\n"
	      "                           by the heap profile's lifetime labels; the\n"
	      "                           default sample type is then alloc_space\n"
	      "  -h, --help               show this help and exit\n"
	      "\n"
	      "See memprof-top(1).\n", f);
}

/*
 * A sampled heap profile with few samples looks broken ("Total samples = 0",
 * an empty table): say how many sampled allocations the estimates rest on
 * and how to get exact figures.  On stderr: standard output stays what
 * `go tool pprof -top` prints.
 */
static void few_samples_note(const struct mp_profile *p)
{
	uint64_t n;
	int64_t rate;
	char rb[32];

	if (mp_heap_sampled_allocations(p, &n, &rate) < 0 || n >= MP_FEW_SAMPLES)
		return;
	mp_rate_text(rate, rb, sizeof(rb));
	if (n == 0)
		fprintf(stderr, "memprof: note: no allocation was sampled (one sample every %s "
			"allocated, on average): the program allocated too little for this rate; "
			"'memprof run --rate 1' records every allocation\n", rb);
	else
		fprintf(stderr, "memprof: note: these figures are estimates from only %" PRIu64
			" sampled allocation%s (one sample every %s allocated, on average); "
			"'memprof run --rate 1' records every allocation\n", n, n == 1 ? "" : "s", rb);
}

int mp_cmd_top(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "sample-index", required_argument, NULL, 'i' },
		{ "nodecount",    required_argument, NULL, 'n' },
		{ "lifetimes",    optional_argument, NULL, 'L' },
		{ "help",         no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct top_settings s = {
		.sample_index = NULL,
		.node_count = 0,
	};
	struct mp_top_options o = MP_TOP_OPTIONS_DEFAULT;
	struct mp_top *t = NULL, *shrt = NULL;
	struct mp_cli_merged in;
	const struct mp_profile *p;
	char *err = NULL;
	const char *path;
	int c, r;

	optind = 0;
	opterr = 1;
	while ((c = mp_getopt(argc, argv, "i:n:h", longopts)) != -1) {
		switch (c) {
		case 'i':
			if (!mp_opt_nonempty(optarg, "--sample-index"))
				return 2;
			s.sample_index = optarg;
			break;
		case 'n':
			if (mp_parse_count(optarg, &s.node_count) < 0) {
				fprintf(stderr, "memprof: bad --nodecount '%s': not a number from 0 to %d\n",
					optarg, INT_MAX);
				return 2;
			}
			break;
		case 'L': {
			uint64_t ns = 1000000;
			bool ok = !optarg || mp_parse_duration(optarg, &ns) == 0;

			/* The classes' bounds: 10us * 10^k. */
			for (uint64_t b = 10000; ok; b *= 10) {
				if (b == ns)
					break;
				if (b >= 10000000000ull)
					ok = false;
			}
			if (!ok) {
				fprintf(stderr, "memprof: bad --lifetimes '%s': one of 10us, 100us, 1ms, "
					"10ms, 100ms, 1s, 10s\n", optarg);
				return 2;
			}
			s.short_ns = (int64_t)ns;
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		default:
			return 2;       /* getopt printed the problem */
		}
	}
	if (optind >= argc) {
		fputs("memprof: missing profile, see 'memprof top --help'\n", stderr);
		return 2;
	}
	path = argc - optind == 1 ? argv[optind] : "the merged profiles";
	if (mp_cli_read_merged((const char *const *)&argv[optind], (size_t)(argc - optind), &in) < 0) {
		mp_cli_merged_done(&in);
		return 1;
	}
	p = in.p;
	o.sample_index = s.sample_index;
	if (!o.sample_index && s.short_ns && mp_profile_type_index(p, "alloc_space") >= 0)
		o.sample_index = "alloc_space";   /* in-use values are never short-lived */
	o.node_count = s.node_count;
	r = mp_top_compute(p, &o, &t, &err);
	if (r == 0 && s.short_ns) {
		struct mp_top_options so = o;

		so.node_count = 0;
		so.node_fraction = so.edge_fraction = 0;
		so.keep = mp_top_short_lived;
		so.keep_arg = &s.short_ns;
		r = mp_top_compute(p, &so, &shrt, &err);
		if (r == 0 && !mp_top_has_label(p, MP_LIFE_LABEL))
			fputs("memprof: note: the profile has no lifetime labels (a heap profile of "
			      "memprof run has them): no block counts as short-lived\n", stderr);
	}
	if (r < 0) {
		fprintf(stderr, "memprof: cannot report on '%s': %s\n", path,
			err ? err : strerror(-r));
		free(err);
		r = r == -EINVAL && s.sample_index ? 2 : 1;
		goto out;
	}
	r = shrt ? mp_top_print_lifetimes(t, shrt, stdout) : mp_top_print(t, stdout);
	if (fflush(stdout) == 0 && r >= 0)
		few_samples_note(p);
	if (fflush(stdout) != 0 || r < 0) {
		fprintf(stderr, "memprof: cannot write the report: %s\n", strerror(errno ? errno : EIO));
		r = 1;
	} else {
		r = 0;
	}
out:
	mp_top_free(t);
	mp_top_free(shrt);
	mp_cli_merged_done(&in);
	return r;
}

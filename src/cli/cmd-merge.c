/* SPDX-License-Identifier: MIT */
/*
 * memprof merge -o OUT PROFILE...
 *
 * Several compatible pprof profiles (the heap profiles of a program's
 * processes, or of several runs) into one, as pprof's merge combines them:
 * what `go tool pprof` shows when given all the files at once.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/profiles.h"
#include "pprof/pprof.h"
#include "report/diff.h"

static void usage(FILE *f)
{
	fputs("Usage: memprof merge -o OUT PROFILE...\n"
	      "Merge compatible pprof profiles into one, as go tool pprof merges the files it\n"
	      "is given.\n"
	      "\n"
	      "Options:\n"
	      "  -o, --output FILE  the merged profile (required)\n"
	      "  -h, --help         show this help and exit\n"
	      "See memprof-merge(1).\n", f);
}

int mp_cmd_merge(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *output = NULL;
	char *err = NULL;
	int c, r, status = 1;

	optind = 0;
	opterr = 1;
	while ((c = mp_getopt(argc, argv, "o:h", longopts)) != -1) {
		switch (c) {
		case 'o':
			if (!mp_opt_nonempty(optarg, "output file name"))
				return 2;
			output = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return 2;
		}
	}
	if (!output) {
		fputs("memprof: missing -o OUT, see 'memprof merge --help'\n", stderr);
		return 2;
	}
	if (optind >= argc) {
		fputs("memprof: no profile to merge, see 'memprof merge --help'\n", stderr);
		return 2;
	}
	size_t n = (size_t)(argc - optind);
	struct mp_profile **p = calloc(n, sizeof(*p));
	struct mp_pprof_builder *b = NULL;
	if (!p) {
		fputs("memprof: out of memory\n", stderr);
		return 1;
	}
	if (mp_cli_read_profiles((const char *const *)&argv[optind], n, p) < 0)
		goto out;
	r = mp_merge_build((const struct mp_profile *const *)p, n, &b, &err);
	if (r < 0) {
		fprintf(stderr, "memprof: cannot merge: %s\n", err ? err : strerror(-r));
		goto out;
	}
	r = mp_pprof_write_file(b, output);
	if (r < 0) {
		fprintf(stderr, "memprof: cannot write profile '%s': %s\n", output, strerror(-r));
		goto out;
	}
	status = 0;
out:
	for (size_t i = 0; i < n; i++)
		mp_profile_free(p[i]);
	free(p);
	mp_pprof_builder_free(b);
	free(err);
	return status;
}

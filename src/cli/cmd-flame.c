/* SPDX-License-Identifier: MIT */
/*
 * memprof flame [-i TYPE] [--title T] -o OUT.svg PROFILE...
 *
 * A self-contained interactive SVG flame graph of a pprof profile (see
 * report/flame.h); difference profiles from `memprof diff -o` are drawn
 * in two colours; several profiles are merged first, as pprof does.
 * Written to a temporary name and renamed.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/profiles.h"
#include "pprof/pprof.h"
#include "report/flame.h"

static void usage(FILE *f)
{
	fputs("Usage: memprof flame [OPTIONS] -o OUT.svg PROFILE...\n"
	      "Draw PROFILE as an interactive SVG flame graph (click to zoom, Search), which\n"
	      "any browser opens without network access.  Several profiles (the processes\n"
	      "of one run, say) are merged first, as pprof does.\n"
	      "\n"
	      "Options:\n"
	      "  -o, --output FILE       the SVG file (required)\n"
	      "  -i, --sample-index TYPE sample type to draw (default: the profile's default)\n"
	      "      --title TEXT        title (default: the (first) profile's file name)\n"
	      "  -h, --help              show this help and exit\n"
	      "See memprof-flame(1).\n", f);
}

int mp_cmd_flame(int argc, char **argv)
{
	enum { OPT_TITLE = 0x100 };
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "sample-index", required_argument, NULL, 'i' },
		{ "title", required_argument, NULL, OPT_TITLE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *output = NULL, *sample_index = NULL, *title = NULL;
	char *err = NULL, *tmp = NULL;
	int c, r, status = 1;

	optind = 0;
	opterr = 1;
	while ((c = mp_getopt(argc, argv, "o:i:h", longopts)) != -1) {
		switch (c) {
		case 'o':
		case 'i':
			if (!mp_opt_nonempty(optarg, c == 'o' ? "output file name" : "--sample-index"))
				return 2;
			*(c == 'o' ? &output : &sample_index) = optarg;
			break;
		case OPT_TITLE:
			title = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return 2;
		}
	}
	if (!output) {
		fputs("memprof: missing -o OUT.svg, see 'memprof flame --help'\n", stderr);
		return 2;
	}
	if (argc - optind < 1) {
		fputs("memprof: missing profile, see 'memprof flame --help'\n", stderr);
		return 2;
	}
	const char *const *paths = (const char *const *)&argv[optind];
	size_t n = (size_t)(argc - optind);
	const char *path = n == 1 ? paths[0] : "the merged profiles";
	struct mp_cli_merged in = { 0 };
	char *own_title = NULL;
	if (mp_cli_output_not_input(output, paths, n) < 0)
		goto out;
	if (mp_cli_read_merged(paths, n, &in) < 0)
		goto out;
	if (!title) {
		const char *slash = strrchr(paths[0], '/');
		title = slash ? slash + 1 : paths[0];
		if (n > 1 && asprintf(&own_title, "%s and %zu more", title, n - 1) >= 0)
			title = own_title;
	}
	if (asprintf(&tmp, "%s.tmp.%d", output, (int)getpid()) < 0) {
		tmp = NULL;
		fputs("memprof: out of memory\n", stderr);
		goto out;
	}
	FILE *f = fopen(tmp, "wxe");
	if (!f) {
		fprintf(stderr, "memprof: cannot write '%s': %s\n", output, strerror(errno));
		goto out;
	}
	r = mp_flame_write(in.p, sample_index, title, f, &err);
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, output) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		if (err) {
			fprintf(stderr, "memprof: cannot draw '%s': %s\n", path, err);
			status = r == -EINVAL && sample_index ? 2 : 1;
		} else {
			fprintf(stderr, "memprof: cannot write '%s': %s\n", output, strerror(-r));
		}
		goto out;
	}
	status = 0;
out:
	mp_cli_merged_done(&in);
	free(own_title);
	free(tmp);
	free(err);
	return status;
}

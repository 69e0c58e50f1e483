/* SPDX-License-Identifier: MIT */
/*
 * memprof stats PROFILE...
 *
 * The process statistics a memprof heap profile carries (the allocator's,
 * named like Go's runtime.MemStats, the resident set size, mallocs and
 * frees per size class): kept out of the profile's comments, which pprof
 * prints above every report, and shown here.  The work is in
 * src/report/stats.c.
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
#include "report/stats.h"

static void usage(FILE *f)
{
	fputs("Usage: memprof stats PROFILE...\n"
	      "Print the statistics of the process a memprof profile was taken from: the\n"
	      "allocator's (HeapAlloc, HeapInuse, ... as in Go's runtime.MemStats), the\n"
	      "resident set size, and mallocs and frees per size class.\n"
	      "\n"
	      "Options:\n"
	      "  -h, --help  show this help and exit\n"
	      "\n"
	      "See memprof-stats(1).\n", f);
}

int mp_cmd_stats(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, status = 0;

	optind = 0;
	opterr = 1;
	while ((c = mp_getopt(argc, argv, "h", longopts)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return 0;
		default:
			return 2;
		}
	}
	if (optind >= argc) {
		fputs("memprof: missing profile, see 'memprof stats --help'\n", stderr);
		return 2;
	}
	for (int i = optind; i < argc; i++) {
		struct mp_profile *p = NULL;
		int r;

		if (mp_cli_read_profile(argv[i], &p) < 0) {
			status = 1;
			continue;
		}
		if (argc - optind > 1)
			printf("%s==> %s <==\n", i > optind ? "\n" : "", argv[i]);
		r = mp_stats_print(p, stdout);
		if (r == 0) {
			fprintf(stderr, "memprof: no statistics in profile '%s' (memprof run writes "
				"them in heap profiles; diff and merge do not carry them)\n", argv[i]);
			status = 1;
		} else if (r < 0 || fflush(stdout) != 0) {
			fprintf(stderr, "memprof: cannot write the report: %s\n", strerror(EIO));
			status = 1;
		}
		mp_profile_free(p);
	}
	return status;
}

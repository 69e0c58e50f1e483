/* SPDX-License-Identifier: MIT */
/*
 * `memprof convert [-o OUT] SNAPSHOT`: turn a raw snapshot that the shim
 * wrote (memprof.<pid>.snap, e.g. after `LD_PRELOAD=libmemprof.so ./app`
 * without the CLI) into a gzip'd pprof heap profile.  The work is in
 * src/convert/convert.c; this file parses options and reports errors in
 * one line.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/outnames.h"
#include "cli/profiles.h"
#include "common/errmsg.h"
#include "common/snapshot-read.h"
#include "convert/convert.h"

struct convert_settings {
	const char *output;        /* -o, --output FILE (default: memprof.<pid>.heap.pb.gz) */
};

static void usage(FILE *f)
{
	fputs("Usage: memprof convert [OPTIONS] SNAPSHOT\n"
	      "Turn a raw snapshot written by the memprof shim (memprof.<pid>.snap, left by\n"
	      "'LD_PRELOAD=libmemprof.so PROGRAM' or kept by 'memprof run' when it could not\n"
	      "convert it) into a gzip'd pprof heap profile, symbolized from the ELF and DWARF\n"
	      "files the process had mapped.\n"
	      "\n"
	      "Options:\n"
	      "  -o, --output FILE  write the profile to FILE\n"
	      "                     (default: memprof.<pid>.heap.pb.gz in the current\n"
	      "                     directory, with the pid of the profiled process)\n"
	      "  -h, --help         show this help and exit\n", f);
}

int mp_cmd_convert(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "help",   no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct convert_settings s = {
		.output = NULL,
	};
	struct mp_snap *snap = NULL;
	struct mp_converter *cv = NULL;
	char *err = NULL, *out = NULL;
	const char *path;
	int c, r;

	optind = 0;
	opterr = 1;
	while ((c = mp_getopt(argc, argv, "o:h", longopts)) != -1) {
		switch (c) {
		case 'o':
			if (!mp_opt_nonempty(optarg, "--output"))
				return 2;
			s.output = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return 2;       /* getopt printed the problem */
		}
	}
	if (optind >= argc) {
		fputs("memprof: missing snapshot, see 'memprof convert --help'\n", stderr);
		return 2;
	}
	if (argc - optind > 1) {
		fprintf(stderr, "memprof: unexpected argument '%s', see 'memprof convert --help'\n",
			argv[optind + 1]);
		return 2;
	}
	path = argv[optind];
	if (s.output && (mp_cli_output_not_input(s.output, &path, 1) < 0 ||
			 mp_outname_check_dir(s.output, "heap profile", true) < 0))
		return 1;

	r = mp_snap_read_file(path, &snap, &err);
	if (r < 0) {
		if (r == -EBADMSG)
			fprintf(stderr, "memprof: malformed snapshot '%s': %s\n", path,
				err ? err : strerror(-r));
		else
			fprintf(stderr, "memprof: cannot read snapshot '%s': %s\n", path,
				r == -EINVAL ? "not a regular file" : strerror(-r));
		free(err);
		return 1;
	}
	if (s.output) {
		out = strdup(s.output);
	} else if (asprintf(&out, "memprof.%" PRIu64 ".heap.pb.gz", snap->header.pid) < 0) {
		out = NULL;
	}
	if (!out) {
		fputs("memprof: out of memory\n", stderr);
		mp_snap_free(snap);
		return 1;
	}
	r = mp_converter_new(snap, 0, NULL, &cv);
	if (r < 0)
		mp_set_err(&err, "cannot write heap profile '%s': %s", out, strerror(-r));
	else
		r = mp_converter_write(cv, MP_PROFILE_HEAP, out, &err);
	/* The peak profile beside it, as memprof run writes it. */
	char *peak = r == 0 && snap->has_peak ? mp_outname_kind(out, "peak") : NULL;
	if (peak && mp_converter_write(cv, MP_PROFILE_PEAK, peak, &err) < 0) {
		fprintf(stderr, "memprof: %s\n", err ? err : "cannot write the peak profile");
		free(err);
		err = NULL;
		free(peak);
		peak = NULL;
	}
	mp_converter_free(cv);
	if (r < 0) {
		fprintf(stderr, "memprof: %s\n",
			err ? err : "cannot write heap profile: out of memory");
		r = 1;
	} else if (peak) {
		fprintf(stderr, "memprof: wrote heap profile '%s', with '%s'\n", out, peak);
		r = 0;
	} else {
		fprintf(stderr, "memprof: wrote heap profile '%s'\n", out);
		r = 0;
	}
	free(peak);
	free(err);
	free(out);
	mp_snap_free(snap);
	return r;
}

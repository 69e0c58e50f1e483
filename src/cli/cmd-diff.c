/* SPDX-License-Identifier: MIT */
/*
 * memprof diff [-o OUT] [-i TYPE] [-n N] [--fail-on-growth SIZE]
 *              [--fail-on-stack-growth SIZE] BASE AFTER
 *
 * What grew (and shrank) from BASE to AFTER, as `go tool pprof -top
 * -diff_base BASE AFTER` prints it; -o writes the difference profile
 * (negative values for BASE, label pprof::base), which go tool pprof
 * opens.  The growth gates exit 3 when in-use space (or the chosen sample
 * type) grew by more than SIZE, in total or in one stack.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/profiles.h"
#include "pprof/pprof.h"
#include "report/diff.h"
#include "report/stats.h"
#include "report/top.h"

#define EXIT_GREW 3

static void usage(FILE *f)
{
	fputs("Usage: memprof diff [OPTIONS] BASE AFTER\n"
	      "Show what grew and shrank from profile BASE to profile AFTER, like\n"
	      "'go tool pprof -top -diff_base BASE AFTER'.\n"
	      "\n"
	      "Options:\n"
	      "  -o, --output FILE      also write the difference as a pprof profile\n"
	      "  -i, --sample-index TYPE  sample type to report (default: the profile's\n"
	      "                         default, inuse_space for heap profiles)\n"
	      "  -n, --nodecount N      show at most N rows (default: all)\n"
	      "      --fail-on-growth SIZE\n"
	      "                         exit 3 when the reported sample type (in-use space\n"
	      "                         by default) grew by more than SIZE in total\n"
	      "      --fail-on-stack-growth SIZE\n"
	      "                         exit 3 when one stack grew by more than SIZE\n"
	      "  -h, --help             show this help and exit\n"
	      "See memprof-diff(1).\n", f);
}

/*
 * A failed gate on sampled heap profiles: their values are estimates, and
 * two runs of one program differ by the sampling error (a block of S bytes
 * in use goes unsampled with probability exp(-S/rate): a 2 MiB table of the
 * compiler, 2%, at the default 512 KiB).  Say so; the verdict stands.
 */
static void sampled_note(const struct mp_profile *base, const struct mp_profile *after)
{
	const struct mp_profile *p = after->msg->period >= base->msg->period ? after : base;
	int64_t rate = p->msg->period;
	const char *unit = p->msg->period_type ? mp_profile_str(p, p->msg->period_type->type) : NULL;
	char rb[32];

	if (rate <= 1 || !unit || strcmp(unit, "space") != 0)
		return;
	mp_rate_text(rate, rb, sizeof(rb));
	fprintf(stderr, "memprof: note: the profiles are sampled (one sample every %s allocated, "
		"on average): their values are estimates, and two runs of the same program differ "
		"by chance; profile both runs with 'memprof run --rate 1' for an exact gate\n", rb);
}

int mp_cmd_diff(int argc, char **argv)
{
	enum { OPT_GROWTH = 0x100, OPT_STACK_GROWTH };
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "sample-index", required_argument, NULL, 'i' },
		{ "nodecount", required_argument, NULL, 'n' },
		{ "fail-on-growth", required_argument, NULL, OPT_GROWTH },
		{ "fail-on-stack-growth", required_argument, NULL, OPT_STACK_GROWTH },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *output = NULL, *sample_index = NULL;
	uint64_t growth = 0, stack_growth = 0;
	int node_count = 0;
	bool gate = false, stack_gate = false;
	char *err = NULL;
	int c, r, status = 1;

	optind = 0;
	opterr = 1;
	while ((c = mp_getopt(argc, argv, "o:i:n:h", longopts)) != -1) {
		switch (c) {
		case 'o':
			if (!mp_opt_nonempty(optarg, "output file name"))
				return 2;
			output = optarg;
			break;
		case 'i':
			if (!mp_opt_nonempty(optarg, "--sample-index"))
				return 2;
			sample_index = optarg;
			break;
		case 'n':
			if (mp_parse_count(optarg, &node_count) < 0) {
				fprintf(stderr, "memprof: bad --nodecount '%s': not a number from 0 to %d\n",
					optarg, INT_MAX);
				return 2;
			}
			break;
		case OPT_GROWTH:
		case OPT_STACK_GROWTH:
			if (mp_parse_size(optarg, c == OPT_GROWTH ? &growth : &stack_growth) < 0 ||
			    (c == OPT_GROWTH ? growth : stack_growth) > INT64_MAX) {
				fprintf(stderr, "memprof: bad --%s '%s': not a size like 1MiB\n",
					c == OPT_GROWTH ? "fail-on-growth" : "fail-on-stack-growth", optarg);
				return 2;
			}
			if (c == OPT_GROWTH)
				gate = true;
			else
				stack_gate = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return 2;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr, "memprof: %s, see 'memprof diff --help'\n",
			argc - optind < 2 ? "need two profiles, BASE and AFTER" : "more than two profiles");
		return 2;
	}
	const char *base_path = argv[optind], *after_path = argv[optind + 1];
	struct mp_profile *base = NULL, *after = NULL, *diff = NULL;
	struct mp_pprof_builder *b = NULL;
	struct mp_top *t = NULL;

	/* The two reads (inflate, unpack, validate) run side by side. */
	const char *paths[2] = { base_path, after_path };
	struct mp_profile *read[2];
	if (mp_cli_read_profiles(paths, 2, read) < 0)
		goto out;
	base = read[0];
	after = read[1];
	r = mp_diff_build(base, after, &b, &err);
	if (r < 0) {
		fprintf(stderr, "memprof: cannot compare '%s' with '%s': %s\n", base_path, after_path,
			err ? err : strerror(-r));
		goto out;
	}
	diff = mp_pprof_builder_view(b);     /* read in memory, never encoded */
	struct mp_top_options o = MP_TOP_OPTIONS_DEFAULT;
	o.sample_index = sample_index;
	o.node_count = node_count;
	r = mp_top_compute(diff, &o, &t, &err);
	if (r < 0) {
		fprintf(stderr, "memprof: cannot report on the difference: %s\n",
			err ? err : strerror(-r));
		status = r == -EINVAL && sample_index ? 2 : 1;
		goto out;
	}
	if (output) {
		r = mp_pprof_write_file(b, output);
		if (r < 0) {
			fprintf(stderr, "memprof: cannot write profile '%s': %s\n", output, strerror(-r));
			goto out;
		}
	}
	if (mp_top_print(t, stdout) < 0 || fflush(stdout) != 0) {
		fprintf(stderr, "memprof: cannot write the report: %s\n", strerror(errno ? errno : EIO));
		goto out;
	}
	status = 0;
	if (gate || stack_gate) {
		int64_t total, max_stack;
		char *key = NULL;
		if (mp_diff_growth(base, after, t->sample_index, &total, &max_stack, &key) < 0) {
			fputs("memprof: out of memory\n", stderr);
			status = 1;
			goto out;
		}
		const char *type = mp_profile_str(after, after->msg->sample_type[t->sample_index]->type);
		if (gate && total > (int64_t)growth) {
			fprintf(stderr, "memprof: %s grew by %" PRId64 ", more than %" PRIu64 "\n", type,
				total, growth);
			status = EXIT_GREW;
		}
		if (stack_gate && max_stack > (int64_t)stack_growth) {
			fprintf(stderr, "memprof: %s of one stack grew by %" PRId64 ", more than %" PRIu64
				"\n", type, max_stack, stack_growth);
			status = EXIT_GREW;
		}
		if (status == EXIT_GREW && key)
			fprintf(stderr, "memprof: the stack that grew most (+%" PRId64 "), leaf first: %s\n",
				max_stack, key);
		free(key);
		if (status == EXIT_GREW)
			sampled_note(base, after);
	}
out:
	mp_top_free(t);
	mp_profile_free(diff);
	mp_pprof_builder_free(b);
	mp_profile_free(base);
	mp_profile_free(after);
	free(err);
	return status;
}

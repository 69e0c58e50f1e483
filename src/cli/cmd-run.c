/* SPDX-License-Identifier: MIT */
/*
 * memprof run: start a program with the shim preloaded, wait for it and for
 * every descendant it leaves behind in its session (not for daemons:
 * supervise.h), then turn the snapshots they wrote into pprof heap profiles.
 *
 * The program gets our stdin, stdout, stderr and terminal untouched; only
 * memprof's own messages go to stderr, one line each, prefixed "memprof: ".
 * Snapshots go to a private temporary directory (MEMPROF_OPTIONS snapdir=),
 * one per process that ran the shim, and are converted here, outside the
 * target, once no process can still be writing one.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/collect.h"
#include "cli/commands.h"
#include "cli/crash.h"
#include "cli/early-sym.h"
#include "cli/final-snap.h"
#include "cli/launch.h"
#include "cli/leakcheck.h"
#include "cli/live.h"
#include "cli/nofile.h"
#include "cli/options.h"
#include "cli/outnames.h"
#include "cli/snapshots.h"
#include "cli/supervise.h"
#include "common/file-write.h"
#include "common/shim-options.h"
#include "convert/leaks-ci.h"
#include "convert/leaks.h"
#include "symbolize/symbolize.h"

#define MAX_LEAK_REPORTS 8
/* Files kept between the processes of a tree (mp_symbolizer_keep_files):
 * a build's compilers, assembler, linker, shell and their libraries. */
#define KEEP_FILES 64

struct run_settings {
	const char *output;   /* -o, --output: the target's profile; NULL: memprof.<pid>.heap.pb.gz */
	/* What the shim is told (MEMPROF_OPTIONS), at the shim's defaults
	 * (mp_options_default) but for:
	 *   rate         --rate: average bytes between samples; 1: all; 0: off
	 *   depth        --depth: frames kept per stack, 1..MP_MAX_DEPTH
	 *   snapdir      our private directory
	 *   interval_ns  --interval: numbered snapshot period; 0: none
	 *   snapshot_signal  --snapshot-signal: on-demand snapshots; 0: none
	 *   allocator    --allocator: memprof (own allocator) or system
	 *   leak         --leak-check */
	struct mp_options shim;
	bool quiet;           /* -q, --quiet: do not report the profiles written */
	bool stats;           /* --stats: print the allocator statistics of each profile */
	bool rate_set;        /* --rate was given (else --leak-check records everything) */
	int leak_check;       /* --leak-check[=summary|full]: 0 off, 1 summary, 2 full */
	const char *leak_reports[MAX_LEAK_REPORTS]; /* --leak-report FILE (repeatable): the
			       * leak report as JSON, SARIF or JUnit XML by extension */
	enum mp_leak_format leak_formats[MAX_LEAK_REPORTS];
	size_t n_leak_reports;
	int error_exitcode;   /* --error-exitcode N: status when a failing leak is found; -1 none */
	unsigned fail_on;     /* --fail-on LIST: MP_FAIL_* classes that fail */
	const char *suppressions; /* --suppressions FILE */
	bool gen_suppressions; /* --gen-suppressions: print ready suppression lines */
	const char *http;     /* --http ADDR: serve /debug/pprof/ there (cli/live.h) */
};

/* (The shim's settings are set from its table: mp_options_default.) */
static const struct run_settings default_settings = {
	.output = NULL,
	.quiet = false,
	.stats = false,
	.rate_set = false,
	.leak_check = 0,
	.n_leak_reports = 0,
	.error_exitcode = -1,
	.fail_on = MP_FAIL_DEFAULT,
	.suppressions = NULL,
	.gen_suppressions = false,
};

static void usage(FILE *f)
{
	fputs("Usage: memprof run [OPTIONS] [--] PROGRAM [ARGS...]\n"
	      "Run PROGRAM with the memprof shim preloaded and write its sampled heap profile\n"
	      "(gzip'd pprof, like a Go heap profile).\n"
	      "\n"
	      "Options:\n"
	      "  -o, --output FILE  write the profile to FILE\n"
	      "                     (default: memprof.<pid>.heap.pb.gz in the working directory)\n"
	      "      --rate SIZE    sample an allocation every SIZE bytes on average; suffixes\n"
	      "                     K, M, G (1024-based); 1 records every allocation, 0 turns\n"
	      "                     sampling off (default: 512K)\n"
	      "      --depth N      keep at most N frames per stack, 1..256 (default: 64)\n"
	      "      --interval DURATION\n"
	      "                     also write numbered profiles every DURATION while the\n"
	      "                     program runs (seconds, or with a unit: 10, 500ms, 1m;\n"
	      "                     default: none)\n"
	      "      --snapshot-signal SIG\n"
	      "                     signal that asks for a numbered profile, as does\n"
	      "                     'memprof snapshot PID' (default: USR2; none: off)\n"
	      "      --allocator NAME\n"
	      "                     memprof: PROGRAM's blocks come from memprof's own\n"
	      "                     size-class allocator (the default); system: from glibc's\n"
	      "                     malloc\n"
	      "      --stats        print the allocator statistics (HeapAlloc, HeapInuse, ...)\n"
	      "                     of each profile written, in one line\n"
	      "      --leak-check[=summary|full]\n"
	      "                     scan the heap at exit and report lost and possibly lost\n"
	      "                     blocks with their allocation stacks (every allocation is\n"
	      "                     recorded unless --rate is given)\n"
	      "      --leak-report FILE  also write the leak report to FILE, as JSON (.json),\n"
	      "                     SARIF 2.1.0 (.sarif) or JUnit XML (.xml); may be repeated\n"
	      "      --error-exitcode N  exit N when a failing leak is found\n"
	      "      --fail-on LIST     classes that fail: definite, indirect, possible,\n"
	      "                     reachable, fds, threads, timers (default: all but\n"
	      "                     reachable)\n"
	      "      --suppressions FILE  leaks to ignore (leak:PATTERN lines, as LSan)\n"
	      "      --gen-suppressions   print a suppression line for each leak found\n"
	      "      --http ADDR    serve Go's /debug/pprof/ endpoints at ADDR, [HOST:]PORT,\n"
	      "                     while PROGRAM runs, each profile from a fresh snapshot\n"
	      "                     (HOST defaults to 127.0.0.1; PORT 0: any free port)\n"
	      "  -q, --quiet        do not report the profiles written\n"
	      "  -h, --help         show this help and exit\n"
	      "\n"
	      "Forked processes that run the shim get their own profile, named with their pid;\n"
	      "those left running in a session of their own (daemons) are not waited for.\n"
	      "PROGRAM's standard streams pass through; memprof exits with PROGRAM's status,\n"
	      "or, once its profiles are written, dies of the signal that killed PROGRAM.\n"
	      "MEMPROF_SHIM=PATH overrides the shim library.\n"
	      "See memprof-run(1).\n", f);
}

/* ---- the command --------------------------------------------------------------- */

/* Parse options into *s.  Returns -1 to go on, or an exit status.
 * Called with argv[0] set to "memprof": getopt's own one-line messages
 * start with it. */
static int parse_options(int argc, char **argv, struct run_settings *s)
{
	enum { OPT_RATE = 0x100, OPT_DEPTH, OPT_INTERVAL, OPT_SNAPSHOT_SIGNAL, OPT_ALLOCATOR,
	       OPT_STATS, OPT_LEAK_CHECK, OPT_LEAK_REPORT, OPT_ERROR_EXITCODE, OPT_FAIL_ON,
	       OPT_SUPPRESSIONS, OPT_GEN_SUPPRESSIONS, OPT_HTTP };
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "rate",   required_argument, NULL, OPT_RATE },
		{ "depth",  required_argument, NULL, OPT_DEPTH },
		{ "interval", required_argument, NULL, OPT_INTERVAL },
		{ "snapshot-signal", required_argument, NULL, OPT_SNAPSHOT_SIGNAL },
		{ "allocator", required_argument, NULL, OPT_ALLOCATOR },
		{ "stats",  no_argument,       NULL, OPT_STATS },
		{ "leak-check", optional_argument, NULL, OPT_LEAK_CHECK },
		{ "leak-report", required_argument, NULL, OPT_LEAK_REPORT },
		{ "error-exitcode", required_argument, NULL, OPT_ERROR_EXITCODE },
		{ "fail-on", required_argument, NULL, OPT_FAIL_ON },
		{ "suppressions", required_argument, NULL, OPT_SUPPRESSIONS },
		{ "gen-suppressions", no_argument, NULL, OPT_GEN_SUPPRESSIONS },
		{ "http", required_argument, NULL, OPT_HTTP },
		{ "quiet",  no_argument,       NULL, 'q' },
		{ "help",   no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c, r;

	optind = 0;
	opterr = 1;
	/* "+": stop at the first non-option, PROGRAM's own options follow it. */
	while ((c = mp_getopt(argc, argv, "+o:qh", longopts)) != -1) {
		switch (c) {
		case 'o':
			if (!mp_opt_nonempty(optarg, "output file name"))
				return 2;
			s->output = optarg;
			break;
		case OPT_RATE:
			s->rate_set = true;
			r = mp_parse_size(optarg, &s->shim.rate);
			if (r < 0) {
				fprintf(stderr, "memprof: bad --rate '%s': %s\n", optarg,
					r == -EOVERFLOW ? "too large" : "not a size like 512K");
				return 2;
			}
			break;
		case OPT_DEPTH:
			r = mp_parse_u64(optarg, &v);
			if (r < 0 || v < 1 || v > MP_MAX_DEPTH) {
				fprintf(stderr, "memprof: bad --depth '%s': not a number from 1 to %d\n",
					optarg, MP_MAX_DEPTH);
				return 2;
			}
			s->shim.depth = (uint32_t)v;
			break;
		case OPT_INTERVAL:
			r = mp_parse_duration(optarg, &s->shim.interval_ns);
			if (r < 0) {
				fprintf(stderr, "memprof: bad --interval '%s': %s\n", optarg,
					r == -EOVERFLOW ? "too long" : "not a duration like 10 or 500ms");
				return 2;
			}
			if (s->shim.interval_ns && s->shim.interval_ns < 1000000) {
				fprintf(stderr, "memprof: bad --interval '%s': shorter than 1ms\n",
					optarg);
				return 2;
			}
			break;
		case OPT_SNAPSHOT_SIGNAL: {
			int sig;

			if (mp_snapshots_parse_signal(optarg, &sig) < 0) {
				fprintf(stderr, "memprof: bad --snapshot-signal '%s': not a signal "
					"name or number the shim can take, or 'none'\n", optarg);
				return 2;
			}
			s->shim.snapshot_signal = (uint32_t)sig;
			break;
		}
		case OPT_ALLOCATOR:
			if (strcmp(optarg, "memprof") != 0 && strcmp(optarg, "system") != 0) {
				fprintf(stderr, "memprof: bad --allocator '%s': not 'memprof' or "
					"'system'\n", optarg);
				return 2;
			}
			s->shim.allocator = strcmp(optarg, "system") == 0 ? MP_ALLOCATOR_SYSTEM
									 : MP_ALLOCATOR_MEMPROF;
			break;
		case OPT_STATS:
			s->stats = true;
			break;
		case OPT_LEAK_CHECK:
			if (!optarg || strcmp(optarg, "full") == 0)
				s->leak_check = 2;
			else if (strcmp(optarg, "summary") == 0)
				s->leak_check = 1;
			else {
				fprintf(stderr, "memprof: bad --leak-check '%s': not 'summary' or "
					"'full'\n", optarg);
				return 2;
			}
			break;
		case OPT_LEAK_REPORT:
			if (!*optarg) {
				fputs("memprof: empty --leak-report file name\n", stderr);
				return 2;
			}
			if (s->n_leak_reports == MAX_LEAK_REPORTS) {
				fprintf(stderr, "memprof: more than %d --leak-report files\n",
					MAX_LEAK_REPORTS);
				return 2;
			}
			if (mp_leaks_format_of(optarg, &s->leak_formats[s->n_leak_reports]) < 0) {
				fprintf(stderr, "memprof: bad --leak-report '%s': not a .json, .sarif "
					"or .xml file name\n", optarg);
				return 2;
			}
			s->leak_reports[s->n_leak_reports++] = optarg;
			break;
		case OPT_ERROR_EXITCODE:
			r = mp_parse_u64(optarg, &v);
			if (r < 0 || v < 1 || v > 255) {
				fprintf(stderr, "memprof: bad --error-exitcode '%s': not a number from "
					"1 to 255\n", optarg);
				return 2;
			}
			s->error_exitcode = (int)v;
			break;
		case OPT_FAIL_ON:
			if (mp_leaks_parse_fail_on(optarg, &s->fail_on) < 0) {
				fprintf(stderr, "memprof: bad --fail-on '%s': not a list of definite, "
					"indirect, possible, reachable, fds, threads, timers\n", optarg);
				return 2;
			}
			break;
		case OPT_SUPPRESSIONS:
			s->suppressions = optarg;
			break;
		case OPT_GEN_SUPPRESSIONS:
			s->gen_suppressions = true;
			break;
		case OPT_HTTP:
			if (!mp_opt_nonempty(optarg, "--http address"))
				return 2;
			s->http = optarg;
			s->shim.live = 1;   /* the shim answers live requests */
			break;
		case 'q':
			s->quiet = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return 2;   /* getopt printed the problem */
		}
	}
	if (optind >= argc) {
		fputs("memprof: missing program to run, see 'memprof run --help'\n", stderr);
		return 2;
	}
	if (!s->leak_check && (s->n_leak_reports || s->error_exitcode >= 0 || s->suppressions ||
			       s->gen_suppressions)) {
		fputs("memprof: --leak-report, --error-exitcode, --suppressions and "
		      "--gen-suppressions need --leak-check\n", stderr);
		return 2;
	}
	if (s->leak_check && s->shim.allocator != MP_ALLOCATOR_MEMPROF) {
		fputs("memprof: --leak-check needs --allocator memprof\n", stderr);
		return 2;
	}
	if (s->leak_check && s->rate_set && s->shim.rate == 0) {
		fputs("memprof: --leak-check needs a --rate above 0 (it reports allocation "
		      "stacks)\n", stderr);
		return 2;
	}
	/* Leak mode records the stack of every allocation unless told otherwise. */
	if (s->leak_check && !s->rate_set)
		s->shim.rate = 1;
	s->shim.leak = s->leak_check != 0;
	return -1;
}

/* The program runs: symbolize what it records meanwhile (cli/early-sym.h);
 * its profile is the one named -o; --http serves its profiles. */
struct run_ctx {
	struct mp_collect col;
	struct mp_live *live;
};

/*
 * Whether the target's conversion may begin on the thread that reads its
 * final snapshot (final-snap.h), while this one and the early symbolizer's
 * still open files of their own.  Not under a descriptor limit of a few
 * dozen (`ulimit -n` lowers the hard limit too: memprof cannot raise its
 * own): a file one of them could not open for want of a free descriptor
 * left a module's addresses unnamed (python3 under a limit of 7: 994
 * functions in its profile against 950).  The conversion then follows the
 * program's exit, one step at a time, as it did before.
 */
static bool fds_to_spare(void)
{
	struct rlimit r;

	return getrlimit(RLIMIT_NOFILE, &r) == 0 &&
	       (r.rlim_cur == RLIM_INFINITY || r.rlim_cur >= 256);
}

static void started(void *ctx, pid_t pid)
{
	struct run_ctx *rc = ctx;

	rc->col.target = pid;
	if (rc->live)
		mp_live_set_target(rc->live, pid);
	struct mp_final_snap_hooks fh;

	mp_early_sym_start(pid);
	mp_collect_final_snap_hooks(&rc->col, &fh);
	mp_final_snap_watch(rc->col.snapdir, pid, fds_to_spare() ? &fh : NULL);
}

static void final_written(void *ctx, pid_t pid)
{
	(void)ctx;
	mp_final_snap_written(pid);
}

static void tick(void *ctx)
{
	mp_collect_tick(&((struct run_ctx *)ctx)->col);
}

int mp_cmd_run(int argc, char **argv)
{
	struct run_settings s = default_settings;
	struct mp_leakcheck leaks = { 0 };
	struct run_ctx rc = { .col = { .target = -1 } };
	struct mp_collect *col = &rc.col;
	struct mp_supervise_hooks hooks = { .ctx = &rc, .started = started };
	struct mp_child child = { .pid = -1 };
	struct mp_crash *crash = NULL;
	char *shim = NULL, *path = NULL, *snapdir = NULL, *preload = NULL, **env = NULL;
	char **prog_argv;
	bool is_elf = true, target_found = false, unprofiled = false;
	int status, failures;

	mp_options_default(&s.shim);
	status = parse_options(argc, argv, &s);
	if (status >= 0)
		return status;
	prog_argv = argv + optind;
	leaks = (struct mp_leakcheck){ .full = s.leak_check == 2,
				       .gen_suppressions = s.gen_suppressions,
				       .fail_on = s.fail_on };

	if (s.suppressions && mp_leakcheck_load_suppressions(&leaks, s.suppressions) < 0)
		return 2;
	if (mp_launch_check_user_options() < 0) {
		mp_leakcheck_done(&leaks);
		return 2;
	}
	status = 1;
	if (mp_outname_check_dir(s.output, "heap profile", true) < 0 || mp_launch_find_shim(&shim) < 0)
		goto out;
	for (size_t i = 0; i < s.n_leak_reports; i++)
		if (mp_outname_check_dir(s.leak_reports[i], "leak report", false) < 0)
			goto out;
	status = mp_launch_prepare_program(prog_argv[0], &path, &is_elf, &unprofiled);
	if (status)
		goto out;
	status = 1;
	snapdir = mp_launch_tmpdir();
	if (!snapdir) {
		fprintf(stderr, "memprof: cannot create a temporary directory: %s\n",
			strerror(errno));
		goto out;
	}
	mp_snapshots_announce(snapdir);   /* `memprof snapshot` names our profiles */
	/* Five files per process, often hundreds of processes: each output
	 * directory is fsync'd once, at the end (common/file-write.h). */
	mp_file_defer_dir_sync();
	/* And the same dozen libraries and programs in most of them: a file
	 * one process's conversion loaded serves the next (module.h), and its
	 * disk cache entry is stored once, at the end. */
	mp_symbolizer_keep_files(KEEP_FILES);

	if (mp_launch_preload_link(shim, snapdir, &preload) < 0)
		goto cleanup;

	if (strlen(snapdir) >= sizeof(s.shim.snapdir)) {
		fprintf(stderr, "memprof: cannot use '%s': %s\n", snapdir, strerror(ENAMETOOLONG));
		goto cleanup;
	}
	strcpy(s.shim.snapdir, snapdir);
	/* The tables shared with us: a profile after any death (cli/crash.h). */
	crash = mp_crash_listen(snapdir);
	mp_crash_on_written(crash, final_written, NULL);
	s.shim.shm = crash != NULL;
	env = mp_launch_env(preload ? preload : shim, &s.shim, path);
	if (!env) {
		fputs("memprof: out of memory\n", stderr);
		goto cleanup;
	}

	col->snapdir = snapdir;
	col->output = s.output;
	col->quiet = s.quiet;
	col->stats = s.stats;
	col->leaks = s.leak_check ? &leaks : NULL;
	if (s.shim.interval_ns || s.shim.snapshot_signal) {
		hooks.tick = tick;
		hooks.tick_ms = MP_COLLECT_POLL_MS;
	}
	if (s.http) {
		if (mp_live_open(s.http, snapdir, &rc.live) < 0)
			goto cleanup;
		hooks.poll_ctx = rc.live;
		hooks.poll_fds = mp_live_poll_fds;
		hooks.polled = mp_live_polled;
	}
	status = mp_supervise(path, prog_argv, is_elf, env, &hooks, &child);
	mp_early_sym_stop();
	mp_live_close(rc.live);
	rc.live = NULL;
	if (status)
		goto cleanup;
	/* What the program wrote committed beside the conversion (the
	 * snapshot directory has its last snapshot; the output's has what
	 * else it wrote there): the profiles' fsyncs then wait for less. */
	char *heap_out = mp_outname_heap(s.output, child.pid, true);
	if (heap_out)
		mp_file_presync(heap_out, snapdir);
	free(heap_out);
	status = mp_supervise_status(&child, prog_argv[0]);

	if (preload)
		unlink(preload);
	/* Snapshots of the processes that died without writing theirs (not of
	 * those still running, not waited for). */
	bool execd = false;
	mp_crash_salvage(crash, child.pid, child.status, child.running, child.n_running, &execd);
	crash = NULL;
	col->unwaited = child.detached;
	col->n_unwaited = child.n_detached;
	col->snapshot_hint = s.shim.snapshot_signal != 0;
	/* Numbered snapshots not converted yet, then the final ones. */
	mp_collect_numbered(col);
	mp_snapshots_done(snapdir);
	failures = mp_collect_final(col, &target_found);
	if (!target_found && !unprofiled) {   /* else said before it ran */
		unsigned long long fsize = mp_cli_fsize_hard();

		if (execd)
			fprintf(stderr, "memprof: no heap profile for '%s': it ran another program "
				"by exec, which memprof cannot follow (statically linked, or setuid: "
				"LD_PRELOAD does not reach it)", prog_argv[0]);
		else
			fprintf(stderr, "memprof: no heap profile for '%s': it left no snapshot",
				prog_argv[0]);
		if (fsize)
			fprintf(stderr, " (the file size limit, ulimit -f, of %llu bytes binds "
				"memprof's files too)", fsize);
		fputs("\n", stderr);
	}
	/* A conversion failure only changes a successful status: the program's
	 * own failure is the more important news. */
	if (failures && status == 0)
		status = 1;
	if (s.leak_check) {
		for (size_t i = 0; i < s.n_leak_reports; i++)
			if (mp_leakcheck_write(&leaks, s.leak_reports[i], s.leak_formats[i]) < 0 &&
			    status == 0)
				status = 1;
		status = mp_leakcheck_status(&leaks, status, s.error_exitcode);
	}
	/* Death by the program's signal passed on (main.c), unless
	 * --error-exitcode chose the status. */
	if (WIFSIGNALED(child.status) && status == 128 + WTERMSIG(child.status) &&
	    !(s.leak_check && leaks.failing && s.error_exitcode >= 0))
		mp_cli_exit_signal = WTERMSIG(child.status);
	goto out;

cleanup:
	mp_live_close(rc.live);
	mp_crash_salvage(crash, -1, 0, NULL, 0, NULL);
	crash = NULL;
	if (preload)
		unlink(preload);
	if (snapdir) {
		mp_snapshots_done(snapdir);
		rmdir(snapdir);
	}
out:
	/* The target's conversion, begun on another thread, over; then the
	 * files loaded while the program ran freed: their answers go to the
	 * symbolization cache. */
	mp_final_snap_done();
	mp_early_sym_free();
	mp_symbolizer_keep_files(0);
	mp_supervise_done(&child);
	mp_file_sync_dirs();
	mp_leakcheck_done(&leaks);
	mp_launch_env_free(env);
	free(preload);
	free(snapdir);
	free(path);
	free(shim);
	return status;
}

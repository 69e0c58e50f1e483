/* SPDX-License-Identifier: MIT */
/*
 * `memprof attach -p PID [--duration D] [--rate R] [-o FILE]`: profile a
 * process that is already running, started without memprof, through eBPF
 * (src/bpf/), and write the same profiles `memprof run` writes: the heap
 * profile (allocations since attach), descriptors and threads, plus the
 * mappings it made (mmap, mremap, brk growth).
 *
 * Flow: check the process (exists, may be traced, dynamically linked with
 * glibc), read its modules, choose a probe site on each allocator entry
 * point, load and attach the BPF program, read events until the duration
 * ends, Ctrl-C or the process exits, detach (the process runs on
 * unchanged), then symbolize and write.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bpf/collect.h"
#include "bpf/elfmod.h"
#include "bpf/runwind.h"
#include "bpf/sites.h"
#include "cli/attach-sym.h"
#include "cli/procstate.h"
#include "cli/commands.h"
#include "cli/outnames.h"
#include "cli/options.h"
#include "common/mono.h"
#include "common/snapshot-read.h"
#include "convert/convert.h"
#if MP_HAVE_BPF
#include "bpf/loader.h"
#endif

struct attach_settings {
	int pid;                   /* -p, --pid */
	uint64_t duration_ns;      /* --duration (0: until Ctrl-C or exit) */
	uint64_t rate;             /* --rate */
	int depth;                 /* --depth */
	const char *output;        /* -o, --output (NULL: memprof.<pid>.heap.pb.gz) */
	bool resources;            /* not --no-resources */
	bool verbose;              /* -v, --verbose */
	bool quiet;                /* -q, --quiet */
	bool empty_probes;         /* --bench-empty-probes (undocumented: scripts/bench.sh) */
	bool prog_stats;           /* --bench-prog-stats (undocumented: scripts/bench.sh) */
};

static void usage(FILE *f)
{
	fputs("Usage: memprof attach -p PID [OPTIONS]\n"
	      "Profile a running process through eBPF, without restarting it: sample its\n"
	      "allocations (malloc family) and see the descriptors, threads and mappings it\n"
	      "creates, until the duration ends, Ctrl-C, or the process exits; then detach\n"
	      "(the process runs on unchanged) and write the same profiles as 'memprof run'.\n"
	      "Needs root (or CAP_BPF, CAP_PERFMON and CAP_SYS_PTRACE) and Linux 6.12 or\n"
	      "later with BTF.\n"
	      "\n"
	      "Options:\n"
	      "  -p, --pid PID        the process to profile (all its threads)\n"
	      "  -d, --duration D     detach after D: seconds, or with a unit (2, 0.5, 30s,\n"
	      "                       5m; default: at Ctrl-C or when the process exits)\n"
	      "  -r, --rate SIZE      mean bytes between samples, suffixes K, M, G (default\n"
	      "                       512K; 1: every allocation; 0: none, resources only)\n"
	      "      --depth N        at most N frames per stack (1..256, default 64)\n"
	      "  -o, --output FILE    the heap profile (default: memprof.<pid>.heap.pb.gz);\n"
	      "                       FILE's .fds, .threads and .mmap profiles beside it\n"
	      "      --no-resources   do not watch descriptors, threads and mappings\n"
	      "  -v, --verbose        say where each probe went, libbpf's messages, counts\n"
	      "  -q, --quiet          print nothing but errors\n"
	      "  -h, --help           show this help and exit\n"
	      "\n"
	      "See memprof-attach(1).\n", f);
}

#if MP_HAVE_BPF

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}


static bool is_glibc(const char *path)
{
	const char *b = strrchr(path, '/');

	b = b ? b + 1 : path;
	return strncmp(b, "libc.so.6", 9) == 0 || strncmp(b, "libc-2.", 7) == 0;
}

/* Find and probe the allocator in every module that defines one.  0 done,
 * 1 for "an allocator, but not glibc's", 2 for "no allocator at all"
 * (nothing probed), < 0 failed (message printed). */
static int probe_modules(struct mp_bpf *b, struct mp_runwind *uw, int pid, bool verbose,
			 bool quiet)
{
	const char *done[256];
	size_t ndone = 0;
	bool glibc = false, any = false;

	for (size_t i = 0; i < mp_runwind_nmodules(uw); i++) {
		const struct mp_rmodule *m = mp_runwind_module(uw, i);
		struct mp_probe p[MP_MAX_PROBES];
		char path[PATH_MAX + 64];
		const char *opened;
		int r;
		bool seen = false;
		char *err = NULL;
		size_t n;

		for (size_t k = 0; k < ndone; k++)
			seen = seen || strcmp(done[k], m->path) == 0;
		if (seen || !m->elf || ndone == 256)
			continue;
		done[ndone++] = m->path;
		n = mp_probes_find(m->elf, p);
		if (n == 0)
			continue;
		if (is_glibc(m->path))
			glibc = true;
		any = true;
		for (size_t k = 0; k < n; k++) {
			if (verbose)
				fprintf(stderr, "memprof: probe %s%s%s in '%s' at +%u (%s%s%s)\n",
					p[k].name, p[k].also ? "/" : "", p[k].also ? p[k].also : "",
					m->path, p[k].site.off, p[k].site.insn,
					p[k].site.emulated ? ", emulated" : ", single-stepped",
					p[k].site.after_null_test ? ", after the NULL test" : "");
			else if (!p[k].site.emulated && !quiet)
				fprintf(stderr, "memprof: warning: '%s' in '%s' begins with an instruction "
					"the kernel single-steps ('%s'): its calls will be slower\n",
					p[k].name, m->path, p[k].site.insn);
		}
		/* The file as the process sees it (map_files, or under its
		 * root), the very inode the kernel puts the probes in. */
		opened = mp_runwind_opened(uw, m);
		snprintf(path, sizeof(path), "%s", opened ? opened : m->path);
		r = mp_bpf_attach_probes(b, path, m->path, p, n, &err);
		if (r == -ENOENT) {
			/* That mapping is gone (a starting process's loader maps
			 * a library whole, then its segments): its name under the
			 * process's root. */
			free(err);
			err = NULL;
			snprintf(path, sizeof(path), "/proc/%d/root%s", pid, m->path);
			r = mp_bpf_attach_probes(b, path, m->path, p, n, &err);
		}
		if (r < 0) {
			fprintf(stderr, "memprof: %s\n", err ? err : "cannot attach");
			free(err);
			return -1;
		}
	}
	return !any ? 2 : glibc ? 0 : 1;
}

struct loop {
	struct mp_collect *c;
	uint64_t events;
};

static void on_event(void *arg, const struct mp_bpf_ev *ev, const uint8_t *stack)
{
	struct loop *l = arg;

	l->events++;
	mp_collect_event(l->c, ev, stack);
}

static bool process_gone(int pid)
{
	char path[64], buf[256], *p;
	FILE *f;
	size_t n;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return true;
	/* A zombie (exited, not yet reaped) is gone too. */
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return true;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && (p[2] == 'Z' || p[2] == 'X');
}

/* Children are not profiled: say which there were, so that the user can
 * attach to one that lives on. */
static void report_children(struct mp_collect *c, int pid, bool quiet)
{
	size_t n;
	const int *kids = mp_collect_children(c, &n);

	if (!n || quiet)
		return;
	fprintf(stderr, "memprof: process %d forked %zu %s during attach, not profiled "
		"(attach to each with -p):", pid, n, n == 1 ? "child" : "children");
	for (size_t i = 0; i < n && i < 20; i++)
		fprintf(stderr, " %d", kids[i]);
	fputs(n > 20 ? " ...\n" : "\n", stderr);
}

static int write_profiles(struct mp_collect *c, const struct mp_bpf_counters *k, bool exited,
			  struct mp_attach_sym *as, const char *heap_out, bool resources, bool quiet)
{
	struct mp_symbolizer *sym;
	struct mp_snap *heap = NULL, *maps = NULL;
	struct mp_converter *cv = NULL, *mcv = NULL;
	char *note = NULL, *err = NULL;
	int r, status = 0;

	r = mp_collect_finish(c, k, exited, &heap, &maps);
	if (r < 0) {
		fprintf(stderr, "memprof: cannot build the profile: %s\n", strerror(-r));
		return 1;
	}
	note = mp_collect_note(c, mp_attach_sym_other_root(as));
	sym = mp_attach_sym_finish(as, heap->maps, heap->maps_len);
	r = mp_converter_new(heap, 0, sym, &cv);
	if (r == 0 && note)
		r = mp_converter_add_comment(cv, note);
	if (r == 0)
		r = mp_converter_write(cv, MP_PROFILE_HEAP, heap_out, &err);
	if (r < 0) {
		fprintf(stderr, "memprof: %s\n", err ? err : strerror(-r));
		status = 1;
		goto out;
	}
	if (!quiet)
		fprintf(stderr, "memprof: wrote '%s'\n", heap_out);
	if (resources) {
		static const enum mp_profile_kind kinds[] = { MP_PROFILE_FDS, MP_PROFILE_THREADS };

		for (size_t i = 0; i < 2; i++) {
			char *out = mp_outname_kind(heap_out, mp_profile_kinds[kinds[i]].name);

			free(err);
			err = NULL;
			if (!out || mp_converter_write(cv, kinds[i], out, &err) < 0) {
				fprintf(stderr, "memprof: %s\n", err ? err : "out of memory");
				status = 1;
			}
			free(out);
		}
		{
			char *out = mp_outname_kind(heap_out, "mmap");

			free(err);
			err = NULL;
			r = mp_converter_new(maps, 0, sym, &mcv);
			if (r == 0 && maps->nheap)
				mp_converter_set_inuse_bytes(mcv, mp_collect_map_inuse(c));
			if (r == 0)
				r = mp_converter_add_comment(mcv, "attached: mappings made since attach "
								  "(mmap, mremap, brk growth), in use what is "
								  "still mapped");
			if (r < 0 || !out || mp_converter_write(mcv, MP_PROFILE_HEAP, out, &err) < 0) {
				fprintf(stderr, "memprof: %s\n", err ? err : "cannot write the mmap profile");
				status = 1;
			}
			free(out);
		}
	}
out:
	free(err);
	free(note);
	mp_converter_free(cv);
	mp_converter_free(mcv);
	mp_snap_free(heap);
	mp_snap_free(maps);
	return status;
}

static int attach_run(const struct attach_settings *s, const char *heap_out)
{
	struct mp_bpf_opts o = {
		.pid = s->pid, .rate = s->rate, .syscalls = s->resources, .verbose = s->verbose,
		.empty_probes = s->empty_probes,
	};
	struct mp_collect *c = NULL;
	struct mp_attach_sym *as = NULL;
	struct mp_elfmod *exe = NULL;
	struct mp_bpf *b = NULL;
	struct mp_bpf_counters k = { 0 };
	struct loop l = { 0 };
	struct sigaction sa = { .sa_handler = on_signal }, old_int, old_term;
	char path[64], *err = NULL;
	bool exited = false;
	uint64_t deadline;
	int r, status = 0;

	snprintf(path, sizeof(path), "/proc/%d/exe", s->pid);
	r = mp_elfmod_open(path, &exe);
	if (r == -EACCES || r == -EPERM) {
		fprintf(stderr, "memprof: not permitted to trace process %d: attach needs root, "
			"or CAP_BPF, CAP_PERFMON and CAP_SYS_PTRACE\n", s->pid);
		return 1;
	}
	if (r == -ENOENT || r == -ESRCH) {
		fprintf(stderr, "memprof: process %d exited during attach\n", s->pid);
		return 1;
	}
	if (r == 0 && !mp_elfmod_has_interp(exe)) {
		mp_elfmod_free(exe);
		fprintf(stderr, "memprof: process %d runs a statically linked program: attach needs "
			"a program linked with glibc dynamically\n", s->pid);
		return 1;
	}
	mp_elfmod_free(exe);
	r = mp_collect_new(s->pid, s->rate, (uint32_t)s->depth, &c);
	if (r < 0) {
		if (r == -ENOENT || r == -ESRCH)
			fprintf(stderr, "memprof: process %d exited during attach\n", s->pid);
		else
			fprintf(stderr, "memprof: cannot read process %d: %s\n", s->pid, strerror(-r));
		return 1;
	}
	r = mp_bpf_open(&o, &b, &err);
	if (r < 0) {
		fprintf(stderr, "memprof: %s\n", err ? err : strerror(-r));
		free(err);
		mp_collect_free(c);
		return 1;
	}
	if (s->prog_stats && mp_bpf_enable_stats(b) < 0)
		fprintf(stderr, "memprof: cannot time the BPF programs: %s, ignoring\n",
			strerror(errno));
	r = probe_modules(b, mp_collect_unwinder(c), s->pid, s->verbose, s->quiet);
	/* A process that has just started may not have its libraries mapped
	 * yet (the dynamic loader is at work): look again, for a second. */
	for (int i = 0; i < 100 && r == 2 && !process_gone(s->pid); i++) {
		struct timespec ts = { 0, 10 * 1000000L };

		nanosleep(&ts, NULL);
		if (mp_runwind_reload(mp_collect_unwinder(c)) < 0)
			break;
		r = probe_modules(b, mp_collect_unwinder(c), s->pid, s->verbose, s->quiet);
	}
	if (r != 0) {
		if (r > 0)
			fprintf(stderr, "memprof: process %d does not use glibc's malloc: attach "
				"supports programs linked with glibc\n", s->pid);
		mp_bpf_free(b);
		mp_collect_free(c);
		return 1;
	}
	if (s->resources && mp_bpf_attach_syscalls(b, &err) < 0) {
		fprintf(stderr, "memprof: %s\n", err ? err : "cannot attach");
		free(err);
		mp_bpf_free(b);
		mp_collect_free(c);
		return 1;
	}
	mp_bpf_enable(b, true, true);
	as = mp_attach_sym_start(s->pid);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	if (!s->quiet)
		fprintf(stderr, "memprof: attached to process %d%s\n", s->pid,
			s->duration_ns ? "" : "; Ctrl-C to detach");
	l.c = c;
	deadline = s->duration_ns ? mp_mono_ns() + s->duration_ns : UINT64_MAX;
	while (!stop_signal && mp_mono_ns() < deadline) {
		r = mp_bpf_poll(b, 100, on_event, &l);
		if (r < 0 && r != -EINTR) {
			fprintf(stderr, "memprof: cannot read events: %s\n", strerror(-r));
			status = 1;
			break;
		}
		if (process_gone(s->pid)) {
			exited = true;
			break;
		}
	}
	/* What is alive now, while the probes still see every change; then
	 * stop the allocator probes at once, and the system calls 20 ms later
	 * (a thread listed may be one whose clone has not returned yet in its
	 * parent), and read what the ring buffer still holds. */
	if (!exited)
		mp_collect_stop(c);
	mp_bpf_enable(b, false, false);
	(void)mp_bpf_poll(b, 20, on_event, &l);
	mp_bpf_enable(b, false, true);
	while (mp_bpf_poll(b, 0, on_event, &l) > 0)
		;
	if (s->prog_stats)
		mp_bpf_print_prog_stats(b, stderr);
	mp_bpf_detach(b);
	while (mp_bpf_poll(b, 0, on_event, &l) > 0)
		;
	mp_bpf_counters(b, &k);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (!exited && process_gone(s->pid))
		exited = true;
	if (exited)
		fprintf(stderr, "memprof: process %d exited during attach; writing what was "
			"collected until then\n", s->pid);
	if (s->verbose) {
		struct mp_runwind_stats ws;

		mp_runwind_stats(mp_collect_unwinder(c), &ws);
		fprintf(stderr, "memprof: %" PRIu64 " events, %llu allocator calls, %llu sampled, "
			"%llu lost; %" PRIu64 " stacks unwound, %" PRIu64 " again by elfutils\n",
			l.events, (unsigned long long)k.calls, (unsigned long long)k.sampled,
			(unsigned long long)k.lost, ws.walks, ws.dw_walks);
	}
	report_children(c, s->pid, s->quiet);
	if (k.lost && !s->quiet)
		fprintf(stderr, "memprof: warning: %llu events were lost (the ring buffer was full); "
			"the profile misses them\n", (unsigned long long)k.lost);
	if (write_profiles(c, &k, exited, as, heap_out, s->resources, s->quiet) != 0)
		status = 1;
	mp_bpf_free(b);
	mp_attach_sym_free(as);
	mp_collect_free(c);
	return status ? status : exited ? 1 : 0;
}
#endif

int mp_cmd_attach(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pid",          required_argument, NULL, 'p' },
		{ "duration",     required_argument, NULL, 'd' },
		{ "rate",         required_argument, NULL, 'r' },
		{ "depth",        required_argument, NULL, 'D' },
		{ "output",       required_argument, NULL, 'o' },
		{ "no-resources", no_argument,       NULL, 'R' },
		{ "verbose",      no_argument,       NULL, 'v' },
		{ "quiet",        no_argument,       NULL, 'q' },
		{ "help",         no_argument,       NULL, 'h' },
		{ "bench-empty-probes", no_argument, NULL, 'E' },
		{ "bench-prog-stats", no_argument,  NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	struct attach_settings s = {
		.pid = 0,
		.duration_ns = 0,
		.rate = 512 * 1024,
		.depth = 64,
		.output = NULL,
		.resources = true,
	};
	char *heap_out = NULL;
	uint64_t v;
	int c, r;

	optind = 0;
	opterr = 1;
	while ((c = mp_getopt(argc, argv, "p:d:r:o:vqh", longopts)) != -1) {
		switch (c) {
		case 'p':
			if (mp_parse_u64(optarg, &v) < 0 || v == 0 || v > INT_MAX) {
				fprintf(stderr, "memprof: bad --pid '%s': not a process id\n", optarg);
				return 2;
			}
			s.pid = (int)v;
			break;
		case 'd':
			if (mp_parse_duration(optarg, &s.duration_ns) < 0) {
				fprintf(stderr, "memprof: bad --duration '%s': not a duration "
					"(e.g. 2, 500ms, 30s, 5m)\n", optarg);
				return 2;
			}
			break;
		case 'r':
			if (mp_parse_size(optarg, &s.rate) < 0) {
				fprintf(stderr, "memprof: bad --rate '%s': not a size (e.g. 512K, 1)\n",
					optarg);
				return 2;
			}
			break;
		case 'D':
			if (mp_parse_count(optarg, &s.depth) < 0 || s.depth < 1 || s.depth > 256) {
				fprintf(stderr, "memprof: bad --depth '%s': not a number from 1 to 256\n",
					optarg);
				return 2;
			}
			break;
		case 'o':
			if (!mp_opt_nonempty(optarg, "--output"))
				return 2;
			s.output = optarg;
			break;
		case 'R':
			s.resources = false;
			break;
		case 'v':
			s.verbose = true;
			break;
		case 'E':
			s.empty_probes = true;
			break;
		case 'S':
			s.prog_stats = true;
			break;
		case 'q':
			s.quiet = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "memprof: unexpected argument '%s', see 'memprof attach --help'\n",
			argv[optind]);
		return 2;
	}
	if (!s.pid) {
		fputs("memprof: missing --pid, see 'memprof attach --help'\n", stderr);
		return 2;
	}
	if (s.pid == getpid()) {
		fputs("memprof: cannot attach to memprof itself\n", stderr);
		return 1;
	}
	if (kill(s.pid, 0) < 0 && errno == ESRCH) {
		fprintf(stderr, "memprof: no process with pid %d\n", s.pid);
		return 1;
	}
	enum mp_proc_kind kind = mp_proc_kind(s.pid);
	if (kind == MP_PROC_KTHREAD || kind == MP_PROC_ZOMBIE) {
		fprintf(stderr, "memprof: cannot attach to process %d: %s\n", s.pid,
			mp_proc_kind_reason(kind));
		return 1;
	}
	if (!MP_HAVE_BPF) {
		fputs("memprof: attach is not available: memprof was built without BPF support\n",
		      stderr);
		return 1;
	}
	if (geteuid() != 0 && kill(s.pid, 0) < 0 && errno == EPERM) {
		fprintf(stderr, "memprof: not permitted to trace process %d: attach needs root, "
			"or CAP_BPF, CAP_PERFMON and CAP_SYS_PTRACE\n", s.pid);
		return 1;
	}
	heap_out = mp_outname_heap(s.output, s.pid, true);
	if (!heap_out) {
		fputs("memprof: out of memory\n", stderr);
		return 1;
	}
	r = 1;
#if MP_HAVE_BPF
	r = attach_run(&s, heap_out);
#endif
	free(heap_out);
	return r;
}

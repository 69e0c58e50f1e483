/* SPDX-License-Identifier: MIT */
/*
 * Snapshot collection for `memprof run` (collect.h): the snapshot directory
 * turned into profiles, numbered ones while the program runs, final ones
 * once every process is gone.  CLI only.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/collect.h"
#include "cli/procstate.h"
#include "cli/early-sym.h"
#include "cli/final-snap.h"
#include "cli/heapstats.h"
#include "cli/leakcheck.h"
#include "cli/outnames.h"
#include "cli/snapshots.h"
#include "common/errmsg.h"
#include "common/grow.h"
#include "common/snapshot-read.h"
#include "convert/convert.h"

/* "memprof.<pid>.snap" -> pid; 0 for any other name (temporary files). */
static pid_t snapshot_pid(const char *name)
{
	uint64_t pid;
	uint32_t seq;

	return mp_snapfile_parse(name, &pid, &seq) == MP_SNAPFILE_FINAL ? (pid_t)pid : 0;
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

/*
 * The peak, descriptor, thread and timer profiles beside heap profile `out`,
 * when the snapshot has their sections (the shim always writes them), and
 * their names: as many as could be named (NULL-terminated, malloc'd).
 */
static size_t resource_kinds(const struct mp_snap *sn, const char *out,
			     enum mp_profile_kind kinds[4], char *outs[5])
{
	static const enum mp_profile_kind all[] = { MP_PROFILE_PEAK, MP_PROFILE_FDS,
						    MP_PROFILE_THREADS, MP_PROFILE_TIMERS };
	size_t n = 0;

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (all[i] == MP_PROFILE_PEAK ? !sn->has_peak : !sn->has_res)
			continue;
		outs[n] = mp_outname_kind(out, mp_profile_kinds[all[i]].name);
		if (!outs[n])
			break;
		kinds[n++] = all[i];
	}
	outs[n] = NULL;
	return n;
}

/*
 * A snapshot's profiles: the heap profile (kinds[0], outs[0]) and those
 * beside it, made at once (a compiler's --rate 1 heap and peak profiles
 * took 100 ms one after the other): the ahead's thread and the one that
 * begins the conversion each build one, then the next one left.  Their
 * files are written but for the rename: the heap profile's renamed first,
 * the others only after it, and not at all when it fails.
 */
struct conversion {
	struct mp_converter *cv;
	struct mp_converter_ahead *ahead;   /* NULL: each made when written */
	enum mp_profile_kind kinds[5];
	char *outs[6];              /* malloc'd, NULL-terminated */
	size_t nkinds;
};

/*
 * A snapshot whose profiles are made on this thread alone: a thread of
 * their own (created, its stack mapped, joined) costs more than they do.
 * A process tree's short processes mostly have such snapshots: a shell
 * loop of 100 /bin/true under memprof run, CPU of the whole tree 0.349 ->
 * 0.340 s (median ratio 0.975 of 12 shuffled runs; native 0.056).  The
 * target's own snapshot, when big, keeps the thread (final-snap.h).
 */
#define SMALL_RECORDS 4096

static bool small_snapshot(const struct mp_snap *sn)
{
	return sn->nheap + sn->nres + sn->nstacks < SMALL_RECORDS;
}

/* Begin: the converter, then every profile made (under mp_early_sym_lock).
 * 0 or -ENOMEM (and what the converter returns); v is ended either way. */
static int begin(struct conversion *v, const struct mp_snap *sn, const char *out)
{
	int r = mp_converter_new(sn, 0, mp_early_sym_finish(), &v->cv);

	if (r < 0)
		return r;
	v->kinds[0] = MP_PROFILE_HEAP;
	v->outs[0] = strdup(out);
	if (!v->outs[0])
		return -ENOMEM;
	v->nkinds = 1 + resource_kinds(sn, out, v->kinds + 1, v->outs + 1);
	if (mp_converter_ahead_start(v->cv, v->kinds, (const char *const *)v->outs, v->nkinds,
				     !small_snapshot(sn), &v->ahead) < 0)
		v->ahead = NULL;   /* (no memory) each is made when written */
	else
		mp_converter_ahead_help(v->ahead);
	return 0;
}

/* Free what v holds (under mp_early_sym_lock: the converter's symbolizer
 * shares files). */
static void end(struct conversion *v)
{
	mp_converter_ahead_free(v->ahead);
	v->ahead = NULL;
	for (size_t i = 0; v->outs[i]; i++)
		free(v->outs[i]);
	memset(v->outs, 0, sizeof(v->outs));
	mp_converter_free(v->cv);
	v->cv = NULL;
}

/* Profile i of v, made ahead (or now), written: 0 or < 0 with the message
 * in *ret_err. */
static int write_kind(struct conversion *v, size_t i, char **ret_err)
{
	return v->ahead ? mp_converter_ahead_write(v->ahead, i, ret_err)
			: mp_converter_write(v->cv, v->kinds[i], v->outs[i], ret_err);
}

/* The profiles beside the heap profile written, and named in `written`
 * (", 'X.peak.pb.gz'", ...) for the report.  Returns how many could not
 * be written: each is said in one line, and the raw snapshot `snap` is
 * then kept, as when the heap profile fails. */
static size_t convert_resources(struct conversion *v, FILE *written, const char *snap)
{
	size_t failed = 0;

	for (size_t i = 1; i < v->nkinds; i++) {
		char *err = NULL;

		if (write_kind(v, i, &err) < 0) {
			fprintf(stderr, "memprof: %s (raw snapshot kept as '%s')\n",
				err ? err : "cannot write a resource profile", snap);
			failed++;
		} else {
			fprintf(written, "%s'%s'", ftell(written) ? ", " : ", with ", v->outs[i]);
		}
		free(err);
	}
	return failed;
}

/* final-snap.h's hooks: the target's conversion begun on the thread that
 * read its final snapshot while the kernel tears the process down (a
 * compile's: 20-30 ms in which memprof had nothing to do). */
static void *prepare(void *ctx, const struct mp_snap *sn)
{
	const struct mp_collect *c = ctx;
	struct conversion *v = calloc(1, sizeof(*v));
	char *out = mp_outname_heap(c->output, c->target, true);
	int r = -ENOMEM;

	mp_early_sym_lock();
	if (v && out)
		r = begin(v, sn, out);
	if (r < 0 && v) {
		end(v);
		free(v);
		v = NULL;
	}
	mp_early_sym_unlock();
	free(out);
	return v;
}

static void drop(void *ctx, void *prepared)
{
	(void)ctx;
	mp_early_sym_lock();
	end(prepared);
	mp_early_sym_unlock();
	free(prepared);
}

void mp_collect_final_snap_hooks(struct mp_collect *c, struct mp_final_snap_hooks *ret)
{
	*ret = (struct mp_final_snap_hooks){ .ctx = c, .prepare = prepare, .drop = drop };
}

/* --stats: one line per converted snapshot. */
static void print_stats(const struct mp_snap *sn)
{
	char line[512];

	if (mp_heapstats_line(sn, line, sizeof(line)) > 0) {
		if (sn->header.seq)
			fprintf(stderr, "memprof: pid %" PRIu64 " snapshot %" PRIu32 ": %s\n",
				sn->header.pid, sn->header.seq, line);
		else
			fprintf(stderr, "memprof: pid %" PRIu64 " at exit: %s\n", sn->header.pid,
				line);
	}
}

/* brief: no line naming the files written, no note on the samples (a
 * process of a big tree, summed up by mp_collect_final); errors all the
 * same. */
static int collect_one(const struct mp_collect *c, const char *snap, const char *out, bool brief)
{
	struct conversion v = { 0 }, *pre = NULL;
	struct mp_snap *sn = NULL;
	char *err = NULL, *why = NULL;
	bool res_failed = false;
	int r = 0;

	/* The target's, perhaps read and converted while the kernel tore it
	 * down (taken before the lock: its thread holds it). */
	sn = mp_final_snap_take(snap, (void **)&pre);
	mp_early_sym_lock();
	if (pre && strcmp(pre->outs[0], out) == 0) {
		v = *pre;
	} else if (pre) {
		end(pre);
	}
	free(pre);
	if (!sn)
		r = mp_snap_read_file(snap, &sn, &why);
	if (r == -EBADMSG)
		mp_set_err(&err, "malformed snapshot '%s': %s", snap, why ? why : strerror(-r));
	else if (r < 0)
		mp_set_err(&err, "cannot read snapshot '%s': %s", snap, strerror(-r));
	free(why);
	if (r == 0 && !v.cv) {
		r = begin(&v, sn, out);
		if (r < 0)
			mp_set_err(&err, "cannot convert snapshot '%s': %s", snap, strerror(-r));
	}
	if (r == 0)
		r = write_kind(&v, 0, &err);
	if ((r == -ENOSPC || r == -EDQUOT) && v.ahead) {
		/* The others' temporaries may hold the room it needed: the
		 * heap profile comes first, as when they are written after it. */
		mp_converter_ahead_free(v.ahead);
		v.ahead = NULL;
		free(err);
		err = NULL;
		r = mp_converter_write(v.cv, MP_PROFILE_HEAP, out, &err);
	}
	if (r < 0) {
		if (err)
			fprintf(stderr, "memprof: %s (raw snapshot kept as '%s')\n", err, snap);
		else
			fprintf(stderr, "memprof: cannot write heap profile '%s': %s "
				"(raw snapshot kept as '%s')\n", out, strerror(-r), snap);
	} else {
		/* One line names every file written for the process. */
		char *also = NULL;
		size_t also_len = 0;
		FILE *w = open_memstream(&also, &also_len);

		if (w) {
			res_failed = convert_resources(&v, w, snap) > 0;
			fclose(w);
		}
		if (!c->quiet && !brief) {
			fprintf(stderr, "memprof: wrote heap profile '%s'%s\n", out, also ? also : "");
			mp_run_few_samples_note(sn, out);
		}
		free(also);
	}
	mp_converter_ahead_free(v.ahead);
	v.ahead = NULL;
	free(err);
	if (r >= 0 && c->stats)
		print_stats(sn);
	if (sn && c->leaks)
		mp_leakcheck_add(c->leaks, sn, v.cv ? mp_converter_symbolizer(v.cv) : NULL);
	end(&v);
	mp_early_sym_unlock();
	mp_snap_free(sn);
	/* A profile not written is a failure: the status says so, and the
	 * raw snapshot stays. */
	return r >= 0 && res_failed ? -EIO : r;
}

int mp_collect_one(const struct mp_collect *c, const char *snap, const char *out)
{
	return collect_one(c, snap, out, false);
}

/* Numbered snapshots (cli/snapshots.h): named like the process's final profile. */
static char *numbered_final_name(void *ctx, pid_t pid)
{
	const struct mp_collect *c = ctx;

	return mp_outname_heap(c->output, pid, pid == c->target);
}

static int numbered_convert(void *ctx, const char *snap, const char *out)
{
	return mp_collect_one(ctx, snap, out);
}

void mp_collect_numbered(struct mp_collect *c)
{
	const struct mp_snapshots_ops ops = {
		.ctx = c,
		.final_name = numbered_final_name,
		.convert = numbered_convert,
	};

	c->failures += mp_snapshots_collect(c->snapdir, &ops, &c->kept);
}

void mp_collect_tick(void *ctx)
{
	struct mp_collect *c = ctx;
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if ((now.tv_sec - c->last.tv_sec) * 1000 + (now.tv_nsec - c->last.tv_nsec) / 1000000 <
	    MP_COLLECT_POLL_MS)
		return;
	c->last = now;
	mp_collect_numbered(c);
}

void mp_collect_remove_dir(const char *snapdir, bool writers)
{
	char *tomb = NULL;
	const char *dir = snapdir;
	int err = 0;

	if (writers && asprintf(&tomb, "%s.XXXXXX", snapdir) >= 0) {
		/* rename(2) replaces the empty directory mkdtemp made, atomically. */
		if (!mkdtemp(tomb)) {
			/* emptied in place then: a writer may win a pass or two */
		} else if (rename(snapdir, tomb) == 0) {
			dir = tomb;
		} else {
			rmdir(tomb);
		}
	}
	for (int pass = 0; pass < 8; pass++) {
		DIR *d = opendir(dir);
		struct dirent *de;

		if (!d) {
			err = errno;
			break;
		}
		while ((de = readdir(d)))
			if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
				unlinkat(dirfd(d), de->d_name, 0);
		closedir(d);
		err = rmdir(dir) == 0 ? 0 : errno;
		if (err != ENOTEMPTY || !writers)
			break;
	}
	if (err)
		fprintf(stderr, "memprof: cannot remove '%s': %s, ignoring\n", dir, strerror(err));
	free(tomb);
}

/* The processes not waited for: what memprof did not do, so said even
 * with -q. */
static void report_unwaited(const struct mp_collect *c)
{
	size_t n = c->n_unwaited;
	bool hint = false;

	if (!n)
		return;
	qsort(c->unwaited, n, sizeof(*c->unwaited), cmp_pid);
	/* `memprof snapshot PID` works on those that run the shim (and
	 * re-creates the directory for it, cmd-snapshot.c). */
	for (size_t i = 0; i < n && c->snapshot_hint && !hint; i++)
		hint = mp_snapshots_shim_loaded(c->unwaited[i]) > 0;
	if (n > MP_COLLECT_TREE_LINES) {
		fprintf(stderr, "memprof: %zu processes left the program's session and still run "
			"(pids %d to %d): not waited for, no profile of them at their exit%s\n", n,
			(int)c->unwaited[0], (int)c->unwaited[n - 1],
			hint ? " ('memprof snapshot PID' takes one while it runs)" : "");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		pid_t pid = c->unwaited[i];
		char name[64];

		mp_proc_comm(pid, name, sizeof(name));
		hint = c->snapshot_hint && mp_snapshots_shim_loaded(pid) > 0;
		fprintf(stderr, "memprof: '%s' (pid %d) left the program's session and still runs: "
			"not waited for, no profile of it at its exit", name, (int)pid);
		if (hint)
			fprintf(stderr, " ('memprof snapshot %d' takes one while it runs)", (int)pid);
		fputc('\n', stderr);
	}
}

int mp_collect_final(struct mp_collect *c, bool *ret_target_found)
{
	const char *snapdir = c->snapdir;
	pid_t target = c->target;
	pid_t *pids = NULL;
	size_t npids = 0, cap = 0;
	bool writers = c->n_unwaited > 0;
	int failures = c->failures, kept = c->kept ? 1 : 0;
	struct dirent *de;
	DIR *d;

	*ret_target_found = false;
	d = opendir(snapdir);
	if (!d) {
		fprintf(stderr, "memprof: cannot read '%s': %s\n", snapdir, strerror(errno));
		return failures + 1;
	}
	while ((de = readdir(d))) {
		pid_t pid = snapshot_pid(de->d_name);

		if (pid <= 0)
			continue;
		if (MP_GROW(pids, npids + 1, cap) < 0) {
			fputs("memprof: out of memory\n", stderr);
			failures++;
			break;
		}
		pids[npids++] = pid;
	}
	if (npids)   /* qsort's array must not be NULL, even for 0 elements */
		qsort(pids, npids, sizeof(*pids), cmp_pid);
	/* Not waited for, but ended meanwhile with its snapshot written: its
	 * profile is written below like any other (its tree may still run). */
	for (size_t i = 0; i < c->n_unwaited;) {
		if (npids && bsearch(&c->unwaited[i], pids, npids, sizeof(*pids), cmp_pid))
			c->unwaited[i] = c->unwaited[--c->n_unwaited];
		else
			i++;
	}
	/* A big tree (a program started through wrappers: pyenv's python3 is a
	 * bash script that runs 40 processes) gets one line for the program
	 * and one for all the others, not a line and a note each. */
	size_t others = 0, brief_done = 0;
	pid_t brief_first = 0, brief_last = 0;
	for (size_t i = 0; i < npids; i++)
		others += pids[i] != target;
	bool brief = others > MP_COLLECT_TREE_LINES;

	/* The target first, then the others by pid. */
	for (size_t pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < npids; i++) {
			bool is_target = pids[i] == target;
			char *snap = NULL, *out;
			int r;

			if (is_target != (pass == 0))
				continue;
			if (is_target)
				*ret_target_found = true;
			out = mp_outname_heap(c->output, pids[i], is_target);
			if (!out || !(snap = mp_snapshots_path(snapdir, MP_SNAPFILE_FINAL, pids[i], 0,
							       NULL))) {
				fputs("memprof: out of memory\n", stderr);
				free(out);
				failures++;
				kept++;
				continue;
			}
			r = collect_one(c, snap, out, brief && !is_target);
			if (r < 0) {
				failures++;
				kept++;
			} else {
				unlink(snap);
				if (brief && !is_target) {
					if (!brief_done++)
						brief_first = pids[i];
					brief_last = pids[i];
				}
			}
			free(out);
			free(snap);
		}
	}
	free(pids);
	if (brief_done && !c->quiet) {
		char *first = mp_outname_heap(c->output, brief_first, false);
		fprintf(stderr, "memprof: wrote heap profiles of %zu more process%s of the tree, "
			"named like '%s' (pids %d to %d), each with its peak, descriptor, thread "
			"and timer profiles\n", brief_done, brief_done == 1 ? "" : "es",
			first ? first : "?", (int)brief_first, (int)brief_last);
		free(first);
	}

	/* What is left: partial files of processes that died while writing. */
	closedir(d);
	if (!kept)
		mp_collect_remove_dir(snapdir, writers);
	report_unwaited(c);
	return failures;
}

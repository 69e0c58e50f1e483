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
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
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

/* Those profiles, made ahead in `a` (or now, when it is NULL), written
 * and named in `written` (", 'X.peak.pb.gz'", ...) for the report.
 * Returns how many could not be written: each is said in one line, and
 * the raw snapshot `snap` is then kept, as when the heap profile fails. */
static size_t convert_resources(struct mp_converter *cv, struct mp_converter_ahead *a,
				const enum mp_profile_kind *kinds, char *const *outs, size_t n,
				FILE *written, const char *snap, FILE *errf)
{
	size_t failed = 0;

	for (size_t i = 0; i < n; i++) {
		char *err = NULL;

		if ((a ? mp_converter_ahead_write(a, i, &err)
		       : mp_converter_write(cv, kinds[i], outs[i], &err)) < 0) {
			fprintf(errf, "memprof: %s (raw snapshot kept as '%s')\n",
				err ? err : "cannot write a resource profile", snap);
			failed++;
		} else {
			fprintf(written, "%s'%s'", ftell(written) ? ", " : ", with ", outs[i]);
		}
		free(err);
	}
	return failed;
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

/*
 * Where a conversion's lines go: stderr, or (a process converted while the
 * program runs, below) buffers that mp_collect_final prints in their place
 * once it knows the tree's size, so that nothing of memprof's is mixed
 * into the program's output.
 */
struct col_out {
	FILE *info;                 /* the line naming the files, the note */
	FILE *err;                  /* failures */
	bool early;                 /* while the program runs (not the target) */
};

/* brief: no line naming the files written, no note on the samples (a
 * process of a big tree, summed up by mp_collect_final); errors all the
 * same. */
static int collect_one_to(const struct mp_collect *c, const char *snap, const char *out, bool brief,
			  const struct col_out *o)
{
	struct mp_converter *cv = NULL;
	struct mp_converter_ahead *ahead = NULL;
	enum mp_profile_kind kinds[4];
	char *outs[5] = { NULL };
	size_t nkinds = 0;
	struct mp_snap *sn = NULL;
	char *err = NULL, *why = NULL;
	bool res_failed = false;
	int r = 0;

	/* The target's, perhaps read while the kernel tore it down.  (Not
	 * asked while the program runs: the asking ends the reading ahead.) */
	if (!o->early)
		sn = mp_final_snap_take(snap);
	if (!sn)
		r = mp_snap_read_file(snap, &sn, &why);
	if (r == -EBADMSG)
		mp_set_err(&err, "malformed snapshot '%s': %s", snap, why ? why : strerror(-r));
	else if (r < 0)
		mp_set_err(&err, "cannot read snapshot '%s': %s", snap, strerror(-r));
	free(why);
	if (r == 0) {
		/* (The symbols gathered while the program ran are the target's,
		 * and taking them ends their gathering: not while it runs.) */
		r = mp_converter_new(sn, 0, o->early ? NULL : mp_early_sym_finish(), &cv);
		if (r < 0)
			mp_set_err(&err, "cannot convert snapshot '%s': %s", snap, strerror(-r));
	}
	/* The other profiles are made on a second core while this one
	 * writes the heap profile (a compiler's --rate 1 heap and peak
	 * profiles took 100 ms one after the other); they appear only after
	 * it, and not at all when it fails. */
	if (r == 0) {
		nkinds = resource_kinds(sn, out, kinds, outs);
		if (mp_converter_ahead_start(cv, kinds, (const char *const *)outs, nkinds, &ahead) < 0)
			ahead = NULL;   /* (no memory) each is made when written */
	}
	if (r == 0)
		r = mp_converter_write(cv, MP_PROFILE_HEAP, out, &err);
	if ((r == -ENOSPC || r == -EDQUOT) && ahead) {
		/* The others' temporaries may hold the room it needed: the
		 * heap profile comes first, as when they are written after it. */
		mp_converter_ahead_free(ahead);
		ahead = NULL;
		free(err);
		err = NULL;
		r = mp_converter_write(cv, MP_PROFILE_HEAP, out, &err);
	}
	if (r < 0) {
		if (err)
			fprintf(o->err, "memprof: %s (raw snapshot kept as '%s')\n", err, snap);
		else
			fprintf(o->err, "memprof: cannot write heap profile '%s': %s "
				"(raw snapshot kept as '%s')\n", out, strerror(-r), snap);
	} else {
		/* One line names every file written for the process. */
		char *also = NULL;
		size_t also_len = 0;
		FILE *w = open_memstream(&also, &also_len);

		if (w) {
			res_failed = convert_resources(cv, ahead, kinds, outs, nkinds, w, snap,
						       o->err) > 0;
			fclose(w);
		}
		if (!c->quiet && !brief) {
			fprintf(o->info, "memprof: wrote heap profile '%s'%s\n", out, also ? also : "");
			mp_run_few_samples_note(sn, out, o->info);
		}
		free(also);
	}
	mp_converter_ahead_free(ahead);
	for (size_t i = 0; outs[i]; i++)
		free(outs[i]);
	free(err);
	if (r >= 0 && c->stats)
		print_stats(sn);
	if (sn && c->leaks)
		mp_leakcheck_add(c->leaks, sn, cv ? mp_converter_symbolizer(cv) : NULL);
	mp_converter_free(cv);
	mp_snap_free(sn);
	/* A profile not written is a failure: the status says so, and the
	 * raw snapshot stays. */
	return r >= 0 && res_failed ? -EIO : r;
}

static int collect_one(const struct mp_collect *c, const char *snap, const char *out, bool brief)
{
	const struct col_out o = { .info = stderr, .err = stderr };

	return collect_one_to(c, snap, out, brief, &o);
}

/* Process pid's final snapshot made into its profiles (named for the
 * program when is_target) and removed once they are: collect_one_to's
 * result.  *ret_named is false when not even the names could be made (no
 * memory): nothing was tried. */
static int convert_final(const struct mp_collect *c, pid_t pid, bool is_target, bool brief,
			 const struct col_out *o, bool *ret_named)
{
	char *out = mp_outname_heap(c->output, pid, is_target);
	char *snap = mp_snapshots_path(c->snapdir, MP_SNAPFILE_FINAL, pid, 0, NULL);
	int r = -ENOMEM;

	*ret_named = out && snap;
	if (*ret_named) {
		r = collect_one_to(c, snap, out, brief, o);
		if (r >= 0)
			unlink(snap);
	}
	free(out);
	free(snap);
	return r;
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

/* ---- the other processes' final snapshots, while the program runs ---- */

struct early_done {
	pid_t pid;
	int r;                      /* collect_one_to's */
	char *info, *err;           /* its lines, printed by mp_collect_final */
	size_t info_len, err_len;
};

struct mp_collect_early {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool stop;                  /* (under lock) end after the one in hand */
	pid_t *queue;               /* (under lock) written, not converted yet */
	size_t head, nq, capq;
	struct early_done *done;    /* the thread's, until it is joined */
	size_t ndone, capd;
};

static void early_convert(const struct mp_collect *c, struct mp_collect_early *e, pid_t pid)
{
	struct early_done d = { .pid = pid };
	FILE *info = open_memstream(&d.info, &d.info_len);
	FILE *err = open_memstream(&d.err, &d.err_len);
	bool named = false;

	/* Anything missing: left to mp_collect_final, as before. */
	if (info && err && MP_GROW(e->done, e->ndone + 1, e->capd) == 0) {
		const struct col_out o = { .info = info, .err = err, .early = true };

		d.r = convert_final(c, pid, false, false, &o, &named);
	}
	if (info)
		fclose(info);
	if (err)
		fclose(err);
	if (named) {
		e->done[e->ndone++] = d;
	} else {
		free(d.info);
		free(d.err);
	}
}

static void *early_main(void *arg)
{
	struct mp_collect *c = arg;
	struct mp_collect_early *e = c->early;

	/* Behind the program's processes: it takes the time they leave. */
	(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
	pthread_mutex_lock(&e->lock);
	for (;;) {
		while (e->head == e->nq && !e->stop)
			pthread_cond_wait(&e->cond, &e->lock);
		if (e->head == e->nq)
			break;   /* asked to stop, and nothing is left */
		pid_t pid = e->queue[e->head++];
		pthread_mutex_unlock(&e->lock);
		early_convert(c, e, pid);
		pthread_mutex_lock(&e->lock);
	}
	pthread_mutex_unlock(&e->lock);
	return NULL;
}

void mp_collect_early_start(struct mp_collect *c)
{
	struct mp_collect_early *e;
	sigset_t all, old;

	if (c->early || c->stats || c->leaks || !(e = calloc(1, sizeof(*e))))
		return;
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->cond, NULL);
	/* (Atomic: the crash receiver's thread reads it.) */
	__atomic_store_n(&c->early, e, __ATOMIC_RELEASE);
	/* The thread takes no signal: supervise.c waits for them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (pthread_create(&e->thread, NULL, early_main, c) != 0) {
		__atomic_store_n(&c->early, NULL, __ATOMIC_RELEASE);
		pthread_cond_destroy(&e->cond);
		pthread_mutex_destroy(&e->lock);
		free(e);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void mp_collect_early_written(struct mp_collect *c, pid_t pid)
{
	struct mp_collect_early *e = __atomic_load_n(&c->early, __ATOMIC_ACQUIRE);
	pid_t target = __atomic_load_n(&c->target, __ATOMIC_ACQUIRE);

	/* The program's own is converted at the end (-o, its symbols gathered
	 * while it ran); so is anything said before memprof knew the program. */
	if (!e || target <= 0 || pid == target)
		return;
	pthread_mutex_lock(&e->lock);
	if (!e->stop && MP_GROW(e->queue, e->nq + 1, e->capq) == 0) {
		e->queue[e->nq++] = pid;
		pthread_cond_signal(&e->cond);
	}
	pthread_mutex_unlock(&e->lock);
}

/* End the thread once it has converted the snapshot in hand: its results
 * are the caller's.  What it has not started on is left in the directory
 * for mp_collect_final's own pass, at the CLI's priority (at nice 10 on a
 * busy machine, the thread draining a long queue took longer than that
 * pass: 200 short processes, 5.2 to 8.7 s after the program against 1.9
 * to 3.6 s). */
static struct mp_collect_early *early_finish(struct mp_collect *c)
{
	struct mp_collect_early *e = c->early;

	if (!e)
		return NULL;
	pthread_mutex_lock(&e->lock);
	e->stop = true;
	e->head = e->nq;
	pthread_cond_signal(&e->cond);
	pthread_mutex_unlock(&e->lock);
	pthread_join(e->thread, NULL);
	return e;
}

static void early_free(struct mp_collect *c)
{
	struct mp_collect_early *e = c->early;

	if (!e)
		return;
	__atomic_store_n(&c->early, NULL, __ATOMIC_RELEASE);
	for (size_t i = 0; i < e->ndone; i++) {
		free(e->done[i].info);
		free(e->done[i].err);
	}
	free(e->done);
	free(e->queue);
	pthread_cond_destroy(&e->cond);
	pthread_mutex_destroy(&e->lock);
	free(e);
}

void mp_collect_early_stop(struct mp_collect *c)
{
	early_finish(c);
	early_free(c);
}

static int cmp_done(const void *a, const void *b)
{
	return cmp_pid(&((const struct early_done *)a)->pid, &((const struct early_done *)b)->pid);
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

/* Process `pid` converted while the program ran, or NULL. */
static const struct early_done *early_find(const struct mp_collect_early *e, pid_t pid)
{
	struct early_done key = { .pid = pid };

	if (!e || !e->ndone)
		return NULL;
	return bsearch(&key, e->done, e->ndone, sizeof(key), cmp_done);
}

int mp_collect_final(struct mp_collect *c, bool *ret_target_found)
{
	const char *snapdir = c->snapdir;
	pid_t target = c->target;
	pid_t *pids = NULL;
	size_t npids = 0, cap = 0;
	bool writers = c->n_unwaited > 0;
	int failures = c->failures, kept = c->kept ? 1 : 0;
	struct mp_collect_early *e = early_finish(c);
	struct dirent *de;
	DIR *d;

	*ret_target_found = false;
	if (e && e->ndone)
		qsort(e->done, e->ndone, sizeof(*e->done), cmp_done);
	d = opendir(snapdir);
	if (!d) {
		fprintf(stderr, "memprof: cannot read '%s': %s\n", snapdir, strerror(errno));
		early_free(c);
		return failures + 1;
	}
	while ((de = readdir(d))) {
		pid_t pid = snapshot_pid(de->d_name);
		const struct early_done *ed;

		if (pid <= 0)
			continue;
		/* Converted while the program ran and failed: kept, and said
		 * below in its place (a snapshot there again after a success is
		 * a later process with the same pid). */
		if ((ed = early_find(e, pid)) && ed->r < 0)
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
	 * profile is written below like any other (its tree may still run),
	 * or was while the program ran. */
	for (size_t i = 0; i < c->n_unwaited;) {
		if ((npids && bsearch(&c->unwaited[i], pids, npids, sizeof(*pids), cmp_pid)) ||
		    early_find(e, c->unwaited[i]))
			c->unwaited[i] = c->unwaited[--c->n_unwaited];
		else
			i++;
	}
	/* A big tree (a program started through wrappers: pyenv's python3 is a
	 * bash script that runs 40 processes) gets one line for the program
	 * and one for all the others, not a line and a note each. */
	size_t others = e ? e->ndone : 0, brief_done = 0;
	pid_t brief_first = 0, brief_last = 0;
	for (size_t i = 0; i < npids; i++)
		others += pids[i] != target;
	bool brief = others > MP_COLLECT_TREE_LINES;

	/* The target first, then the others by pid: those converted now and
	 * those converted while the program ran, their lines in their place. */
	size_t k = 0;
	for (size_t pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < npids || (pass == 1 && e && k < e->ndone); ) {
			const struct early_done *ed = NULL;
			pid_t pid;

			if (pass == 1 && e && k < e->ndone && (i == npids || e->done[k].pid < pids[i])) {
				ed = &e->done[k++];
				pid = ed->pid;
			} else {
				pid = pids[i++];
			}
			bool is_target = pid == target;
			int r;

			if (is_target != (pass == 0))
				continue;
			if (ed) {
				fwrite(ed->err, 1, ed->err_len, stderr);
				if (!brief)
					fwrite(ed->info, 1, ed->info_len, stderr);
				r = ed->r;
			} else {
				const struct col_out o = { .info = stderr, .err = stderr };
				bool named;

				if (is_target)
					*ret_target_found = true;
				r = convert_final(c, pid, is_target, brief && !is_target, &o, &named);
				if (!named)
					fputs("memprof: out of memory\n", stderr);
			}
			if (r < 0) {
				failures++;
				kept++;
			} else if (brief && !is_target) {
				if (!brief_done++)
					brief_first = pid;
				brief_last = pid;
			}
		}
	}
	free(pids);
	early_free(c);
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

/* SPDX-License-Identifier: MIT */
/*
 * Symbolization while the target runs (see early-sym.h).
 *
 * The CLI is idle while the program runs; this thread uses that time.
 * Every POLL_MS it reads, from each process of the tree under the run (the
 * program and its descendants, found through each thread's children file),
 * the stacks recorded since the last look (cli/addrfeed.h) and symbolizes
 * their addresses in one batch (mp_symbolizer_prepare), in this thread
 * alone and at low priority: the program needs the CPUs more.  The
 * answers stay in the modules, which the symbolizers of the conversions at
 * exit share (symbolize/module.c keeps one per file and place); the files
 * stay loaded between batches (MP_SYM_F_KEEP) and are freed, answers
 * kept, when the program ends.  A
 * process's symbolizer is made from its /proc/PID/maps when it first
 * records, and again (sharing the files loaded) when addresses show up
 * outside it, as after a dlopen, or after an exec.  Where no feed can be
 * read (no process_vm_readv, a shim without the feed) it falls back to
 * what memprof did before: load the symbols and DWARF of every file the
 * program mapped, so that conversions at least find them loaded.  A batch is bounded (MAX_BATCH addresses) so
 * that stopping at the target's exit waits for little.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cli/addrfeed.h"
#include "cli/early-sym.h"
#include "cli/profiles.h"
#include "common/grow.h"
#include "pprof/keymap.h"
#include "symbolize/symbolize.h"

#define POLL_MS 50
#define MAX_BATCH 65536
#define WARM_AFTER_MS 500          /* no feed by then: load every file */

#define MAX_PROCS 256
#define SCAN_MS 200                /* how often to look for new children */

/* One process of the tree under the run. */
struct proc {
	pid_t pid;
	bool gone;
	struct mp_addrfeed *feed;
	struct mp_symbolizer *sym;      /* for its maps now */
	struct mp_u64map seen;          /* addresses `sym` was asked for */
	struct timespec remade;
};

static struct {
	pthread_t thread;
	bool started;
	pid_t pid;
	int stop;                       /* atomic: the target is gone */
	struct proc procs[MAX_PROCS];
	size_t nprocs;
	/* Every symbolizer made, kept to the end: their files (with the
	 * answers found) must stay loaded until the conversions borrow them. */
	struct mp_symbolizer **syms;
	size_t nsyms, cap_syms;
} early;

/* The stop and the naps: a stop wakes a nap at once (the program's exit
 * used to wait for the nap's end, 38 ms of the 260 ms memprof took after
 * gcc's cc1 exited), with no descriptor spent on it. */
static pthread_mutex_t nap_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t nap_cond;
static pthread_once_t nap_once = PTHREAD_ONCE_INIT;

static void nap_init(void)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&nap_cond, &a);
	pthread_condattr_destroy(&a);
}

static bool stopping(void)
{
	return __atomic_load_n(&early.stop, __ATOMIC_ACQUIRE);
}

static void nap(long ms)
{
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_nsec += ms * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&nap_lock);
	while (!stopping() && pthread_cond_timedwait(&nap_cond, &nap_lock, &until) == 0)
		;
	pthread_mutex_unlock(&nap_lock);
}

/* Held while the files of the early symbolizer serve a conversion. */
static pthread_mutex_t use_lock = PTHREAD_MUTEX_INITIALIZER;

void mp_early_sym_lock(void)
{
	pthread_mutex_lock(&use_lock);
}

void mp_early_sym_unlock(void)
{
	pthread_mutex_unlock(&use_lock);
}

void mp_early_sym_stop(void)
{
	/* (mp_early_sym_finish may end the thread on another thread meanwhile:
	 * nap_cond, once made, stays) */
	if (!__atomic_load_n(&early.started, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&nap_lock);
	__atomic_store_n(&early.stop, 1, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&nap_cond);
	pthread_mutex_unlock(&nap_lock);
}

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* A symbolizer for the process's maps now, sharing what is loaded. */
static void remake(struct proc *p)
{
	char path[64];
	uint8_t *buf = NULL;
	size_t len = 0;
	struct mp_symbolizer *s = NULL;

	clock_gettime(CLOCK_MONOTONIC, &p->remade);
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)p->pid);
	if (mp_cli_read_whole(path, (size_t)16 << 20, &buf, &len) < 0)
		return;
	if (MP_GROW(early.syms, early.nsyms + 1, early.cap_syms) < 0) {
		free(buf);
		return;
	}
	if (mp_symbolizer_new_from((const char *)buf, len, MP_SYM_F_SERIAL | MP_SYM_F_KEEP, p->sym,
				   &s) == 0) {
		early.syms[early.nsyms++] = s;
		p->sym = s;
		mp_u64map_done(&p->seen);
	}
	free(buf);
}

static bool mapped(const struct mp_symbolizer *s, uint64_t addr)
{
	size_t lo = 0, hi = mp_symbolizer_nmappings(s);

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct mp_sym_mapping *m = mp_symbolizer_mapping(s, mid);

		if (addr < m->start)
			hi = mid;
		else if (addr >= m->limit)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

static void add_proc(pid_t pid)
{
	for (size_t i = 0; i < early.nprocs; i++)
		if (early.procs[i].pid == pid)
			return;
	if (early.nprocs < MAX_PROCS)
		early.procs[early.nprocs++] = (struct proc){ .pid = pid };
}

/*
 * The children of every process seen (a compiler driver's cc1 and as, a
 * wrapper script's interpreter), from each thread's children file, read as
 * /proc/TID/task/TID/children: the same file as /proc/PID/task/TID/children
 * (a thread's id names it at the top of /proc too), but its dentries hang
 * under /proc/TID, not under the process's /proc/PID.  That matters when
 * the program ends: its last thread (the shim's helper, say) signals the
 * exit before it drops its own /proc dentries, and reaping the program
 * drops those under /proc/PID, so with that thread's entries under
 * /proc/PID the reaper spins in the kernel (shrink_dcache_parent) until
 * the other CPU is done: 3 to 4 ms of CPU per reap measured on a loaded
 * 2-CPU machine, 2.6 ms a run of xmllint (0.23 s of CPU natively).
 * Through /proc/TID the two sets of dentries are apart and the reap costs
 * what it costs without memprof (0.03 ms).
 */
static void scan_children(void)
{
	for (size_t i = 0; i < early.nprocs; i++) {
		char path[96];
		DIR *d;
		struct dirent *de;

		if (early.procs[i].gone)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task", (int)early.procs[i].pid);
		d = opendir(path);
		if (!d) {
			early.procs[i].gone = true;
			continue;
		}
		while ((de = readdir(d))) {
			char file[96], *end;
			FILE *f;
			int child;
			long tid = strtol(de->d_name, &end, 10);

			if (tid <= 0 || *end)
				continue;
			snprintf(file, sizeof(file), "/proc/%ld/task/%ld/children", tid, tid);
			f = fopen(file, "re");
			if (!f)
				continue;
			while (fscanf(f, "%d", &child) == 1)
				add_proc(child);
			fclose(f);
		}
		closedir(d);
	}
}

/*
 * Keep in addrs[0..n) the addresses p->sym was not asked for yet, in their
 * order; returns how many.  The feed gives every frame of every new stack:
 * a compile's 250,000 frames hold 7,000 addresses, and the symbolizer
 * would look each frame up (in its answers, then in the on-disk cache)
 * twice.  An address outside p->sym's mappings is kept out of the set: a
 * symbolizer made after a dlopen may know it.  Without memory for the
 * set, the rest go as they are (the symbolizer copes with repeats).
 */
static size_t new_addresses(struct proc *p, uint64_t *addrs, size_t n)
{
	size_t k = 0, slot;

	for (size_t i = 0; i < n; i++) {
		if (mp_u64map_find(&p->seen, addrs[i]) >= 0)
			continue;
		if (mapped(p->sym, addrs[i]) && mp_u64map_add(&p->seen, addrs[i], &slot) < 0) {
			while (i < n)
				addrs[k++] = addrs[i++];
			return k;
		}
		addrs[k++] = addrs[i];
	}
	return k;
}

/* Read and symbolize what process p recorded since the last look.
 * Returns whether a full batch came (more may be waiting). */
static bool serve(struct proc *p, uint64_t *addrs)
{
	ssize_t n = 0;
	bool unknown = false;

	if (!p->feed && mp_addrfeed_open(p->pid, NULL, &p->feed) < 0)
		p->feed = NULL;
	if (!p->feed)
		return false;
	n = mp_addrfeed_poll(p->feed, addrs, MAX_BATCH);
	if (n < 0) {                    /* exited or exec'd: open again next time */
		mp_addrfeed_free(p->feed);
		p->feed = NULL;
		p->sym = NULL;          /* a new image: new maps (the old one is kept) */
		mp_u64map_done(&p->seen);
		return false;
	}
	if (n == 0)
		return false;
	if (!p->sym)
		remake(p);
	for (ssize_t i = 0; i < n && !unknown && p->sym; i++)
		unknown = !mapped(p->sym, addrs[i]);
	if (unknown && elapsed_ms(&p->remade) >= 200)
		remake(p);              /* a dlopen since */
	if (p->sym)
		(void)mp_symbolizer_prepare(p->sym, addrs, new_addresses(p, addrs, (size_t)n));
	return n == MAX_BATCH;
}

static void *early_main(void *arg)
{
	uint64_t *addrs = malloc(MAX_BATCH * sizeof(*addrs));
	struct timespec t0, scanned;
	bool warmed = false, any_feed = false;

	(void)arg;
	if (!addrs)
		return NULL;
	/* Beside the program, not in its way: one thread, at low priority
	 * (nice applies per thread on Linux). */
	setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	scanned = t0;
	add_proc(early.pid);
	/* Let the dynamic loader map the program's libraries first. */
	for (int i = 0; i < 5 && !stopping(); i++)
		nap(10);
	while (!stopping()) {
		bool more = false;

		if (elapsed_ms(&scanned) >= SCAN_MS) {
			scan_children();
			clock_gettime(CLOCK_MONOTONIC, &scanned);
		}
		for (size_t i = 0; i < early.nprocs && !stopping(); i++) {
			if (early.procs[i].gone && !early.procs[i].feed)
				continue;
			more |= serve(&early.procs[i], addrs);
			any_feed |= early.procs[i].feed != NULL;
		}
		if (!any_feed && !warmed && elapsed_ms(&t0) >= WARM_AFTER_MS) {
			/* No feed to read: load the main program's files at least. */
			remake(&early.procs[0]);
			if (early.procs[0].sym)
				mp_symbolizer_warm(early.procs[0].sym);
			warmed = true;
		}
		if (!more)
			nap(POLL_MS);
	}
	for (size_t i = 0; i < early.nprocs; i++) {
		mp_addrfeed_free(early.procs[i].feed);
		mp_u64map_done(&early.procs[i].seen);
	}
	free(addrs);
	return NULL;
}

void mp_early_sym_start(pid_t pid)
{
	if (early.started)
		return;
	early.pid = pid;
	pthread_once(&nap_once, nap_init);
	__atomic_store_n(&early.started, pthread_create(&early.thread, NULL, early_main, NULL) == 0,
			 __ATOMIC_RELEASE);
}

struct mp_symbolizer *mp_early_sym_finish(void)
{
	if (early.started) {
		mp_early_sym_stop();
		pthread_join(early.thread, NULL);
		__atomic_store_n(&early.started, false, __ATOMIC_RELEASE);
		/* The answers stay; what was loaded to find them goes (the
		 * conversions load again only the files with addresses left). */
		for (size_t i = 0; i < early.nsyms; i++)
			mp_symbolizer_release(early.syms[i]);
	}
	return early.nprocs ? early.procs[0].sym : NULL;
}

void mp_early_sym_free(void)
{
	mp_early_sym_finish();
	for (size_t i = 0; i < early.nsyms; i++)
		mp_symbolizer_free(early.syms[i]);
	free(early.syms);
	early.syms = NULL;
	early.nsyms = early.cap_syms = 0;
	early.nprocs = 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * Bootstrap, slow paths, fork and exit.
 *
 * Initialization happens on the first allocation that reaches the slow path,
 * which may come before our constructor (other libraries' constructors, the
 * dynamic loader) and from any thread.  The first thread to get there does
 * it; allocations made meanwhile (including those of dlsym, pthread_atfork
 * and libunwind) are served without sampling thanks to the per-thread recursion
 * guard (mp_busy, base/guard.h), so nothing recurses.
 *
 * Must never: call malloc for itself, use stdio, block on a lock the target
 * may hold, or change the target's exit status.
 */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/snapshot.h"
#include "base/lock.h"
#include "leakscan/leakscan.h"
#include "resources/resources.h"
#include "sample/capture.h"
#include "sample/live.h"
#include "sample/peak.h"
#include "base/privfd.h"
#include "sample/sampler.h"
#include "sample/stacks.h"
#include "sample/tag.h"
#include "sample/unwind.h"
#include "base/shm.h"
#include "shim/crash.h"
#include "shim/shim.h"
#include "shim/signals.h"
#include "shim/trigger.h"

/*
 * The own allocator's free of a sampled block (alloc.h) goes to
 * mp_peak_on_free (sample/peak.h): its bucket, the peak and its lifetime.
 * When every block is sampled (--rate 1, the rate is fixed for the
 * process) the clock is read by sampled_free_clock before the block's tag
 * is looked up, where rdtsc (12 to 20 ns on an AMD virtual machine)
 * overlaps that lookup, instead of after it (`now` 0: not read): a loop of
 * malloc(32) and free, 20 million pairs at --rate 1, 1.47 -> 1.40 s
 * (medians of 5 interleaved runs; 73 -> 70 ns a pair).
 */
static uint64_t sampled_free_tsc(void)
{
	return mp_tag_tsc_now();
}

static uint64_t sampled_free_clock(void)
{
	return mp_tag_now();
}

/* The same once the clock is known to be the TSC (mp_tag_tsc). */
static uint64_t (*free_clock(void))(void)
{
	return mp_tag_tsc ? sampled_free_tsc : sampled_free_clock;
}

struct mp_shim_state mp_shim;
MP_TLS struct mp_tls mp_tls;

/* The ELF header of this very object, defined by the linker. */
extern const ElfW(Ehdr) __ehdr_start __attribute__((visibility("hidden")));

/* Address range of our executable segment: frames there are ours. */
static void own_text_range(uintptr_t *ret_lo, uintptr_t *ret_hi)
{
	uintptr_t base = (uintptr_t)&__ehdr_start;
	const ElfW(Phdr) *ph = (const ElfW(Phdr) *)(base + __ehdr_start.e_phoff);
	uintptr_t lo = UINTPTR_MAX, hi = 0;
	for (int i = 0; i < __ehdr_start.e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD || !(ph[i].p_flags & PF_X))
			continue;
		/* A shared object's first PT_LOAD has p_vaddr 0 and starts at
		 * its ELF header, so base is the load bias. */
		uintptr_t s = base + ph[i].p_vaddr, e = s + ph[i].p_memsz;
		if (s < lo)
			lo = s;
		if (e > hi)
			hi = e;
	}
	*ret_lo = lo;
	*ret_hi = hi;
}

/* Our writable segments (tables, thread-cache heads, options) are never
 * roots of the leak scan. */
static void exclude_own_data(void)
{
	uintptr_t base = (uintptr_t)&__ehdr_start;
	const ElfW(Phdr) *ph = (const ElfW(Phdr) *)(base + __ehdr_start.e_phoff);
	for (int i = 0; i < __ehdr_start.e_phnum; i++)
		if (ph[i].p_type == PT_LOAD && (ph[i].p_flags & PF_W))
			mp_leakscan_exclude_self(base + ph[i].p_vaddr,
						 base + ph[i].p_vaddr + ph[i].p_memsz);
}

/* These locks are counted (base/lock.h): a handler that comes to the
 * forking thread between prepare and parent or child runs in no-wait
 * mode; the child's re-initializations count them released. */
static void atfork_prepare(void)
{
	mp_busy++;
	mp_prof_lock();
	mp_live_lock_all();
	mp_fastunwind_lock();
	mp_shm_before_fork();   /* the child's tables: these, as of now */
}

static void atfork_parent(void)
{
	mp_shm_after_fork_parent();
	mp_fastunwind_unlock();
	mp_live_unlock_all();
	mp_prof_unlock();
	mp_busy--;
}

static void atfork_child(void)
{
	/* Only the forking thread exists here; locks it did not hold in prepare
	 * cannot be held, and those it held are re-initialized. */
	mp_fastunwind_after_fork_child();
	mp_privfd_after_fork_child();
	mp_live_after_fork_child();
	mp_prof_after_fork_child();
	mp_unload_after_fork_child();
	/* Tables of its own, shared with the CLI as the parent's were. */
	mp_shm_after_fork_child();
	mp_crash_after_fork_child();
	mp_shim.pid = getpid();
	mp_shim.forked = 1;
	mp_shim.final_written = 0;
	mp_busy--;
}

/* What the resource trackers ask of the shim (resources/resources.h): the
 * creation stack, walked from here (the trackers' frames and ours are
 * dropped as the shim's own), and whether a thread is our helper. */
static uint32_t res_creation_stack(void)
{
	if (!mp_shim.enabled || mp_lock_nowait)
		return 0;   /* no-wait mode: no stack (mp_sample_slow) */
	uint64_t pcs[MP_MAX_DEPTH];
	struct mp_stack_cache *c;
	uint32_t depth = mp_shim.opt.depth;
	uint32_t n = mp_capture(pcs, depth, &c);
	int64_t id = mp_capture_stack_id(c, pcs, n, depth);
	return id > 0 ? (uint32_t)id : 0;
}

static const struct mp_res_hooks res_hooks = {
	.creation_stack = res_creation_stack,
	.own_thread = mp_trigger_is_own_thread,
};

void mp_shim_init(void)
{
	int expect = MP_INIT_NONE;
	if (!__atomic_compare_exchange_n(&mp_shim.init, &expect, MP_INIT_BUSY, 0,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return;   /* done, or another thread is at it: don't wait */

	struct mp_options *o = &mp_shim.opt;
	mp_shim_options_read(o);
	if (!o->snapdir[0] && !getcwd(o->snapdir, sizeof(o->snapdir)))
		strcpy(o->snapdir, ".");
	if (o->verbose)
		mp_shim_options_print(o);

	mp_shim.pid = getpid();
	mp_shim.start_ns = mp_now_ns();
	if (mp_shim_alloc_mode() == MP_MODE_OWN)
		pthread_atfork(mp_alloc_atfork_prepare, mp_alloc_atfork_parent,
			       mp_alloc_atfork_child);
	mp_res_set_hooks(&res_hooks);
	/* Before any table is made: they are made shared (shm=1). */
	if (mp_crash_init() < 0)
		mp_warn("cannot share the tables with memprof, no profile if the process is killed",
			NULL, NULL, NULL);
	if (mp_timers_init() < 0)
		mp_warn("cannot map the timer table, timers not tracked", NULL, NULL, NULL);
	if (mp_threads_init() < 0)
		mp_warn("cannot map the thread table, threads not tracked", NULL, NULL, NULL);
	if (mp_fds_init() < 0)
		mp_warn("cannot map the file descriptor table, descriptors not tracked", NULL, NULL,
			NULL);

	/* rate=0 only means no allocation is ever sampled (the sampler's gap
	 * is then UINT64_MAX): the tables, the unwinder for the resources'
	 * creation stacks and the snapshots all work as at any other rate, so
	 * a profile with no samples is written. */
	int ok = 1;
	if (mp_prof_init() < 0) {
		mp_warn("cannot map profile tables, profiling disabled", NULL, NULL, NULL);
		ok = 0;
	}
	mp_peak_set_rate(o->rate);
	/* Hints only where every allocation looks its stack up. */
	int hints = ok && o->rate == 1 && mp_prof_hints_init() == 0;
	/* After mp_prof_init, which chose the clock (sample/tag.h); before
	 * the first sample, so before the first free of a sampled block. */
	mp_alloc_on_sampled_free(mp_peak_on_free, o->rate == 1 ? free_clock() : NULL);
	if (ok) {
		uintptr_t lo, hi;
		own_text_range(&lo, &hi);
		exclude_own_data();
		mp_unwind_init(lo, hi, o->unwind);
		pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
	}
	mp_shim.enabled = ok;
	mp_shim.hints = hints;
	__atomic_store_n(&mp_shim.init, MP_INIT_DONE, __ATOMIC_RELEASE);
}

static inline __attribute__((always_inline)) void record(void *p, size_t size)
{
	uint64_t pcs[MP_MAX_DEPTH];
	struct mp_stack_cache *c;
	struct mp_fp_probe pr = { NULL, 0, 0 };
	struct mp_alloc_mark m = { NULL, NULL };   /* (set when own) */
	bool own = mp_heap_owns(p);
	uint32_t depth = mp_shim.opt.depth;
	uint32_t nstacks = mp_prof_nstacks();
	/* Two chains of cache misses, software-pipelined so that they
	 * overlap: the block's mark (page map entry, span, tag word:
	 * alloc.h) and the stack's bucket (index slot, heap record).  The
	 * page map entry comes during the walk, the span with the stack's
	 * index slot, the tag word with the heap record.  (perf cpu-clock at
	 * 4 kHz, cc1 at --rate 1: the stack index probe stalled 2,166 samples
	 * and mp_alloc_set_sample 610 with the chains one after the other,
	 * 800-1,000 and about 250 here, the prefetches about 400; the shim's
	 * samples per cc1 sample, median of 8 runs, 0.493 -> 0.470.) */
	if (own)
		mp_alloc_mark_prefetch(p);
	uint32_t n = mp_capture(pcs, depth, &c);
	mp_capture_prefetch(c, n, depth, size, &pr);
	if (own)
		mp_alloc_mark_find(p, &m);
	/* The clock's read (rdtsc: about 12 ns on an AMD VM) after the span's
	 * load, whose miss it then partly overlaps; read first, before the
	 * walk, it had nothing to overlap (perf cpu-clock at 4 kHz, cc1 at
	 * --rate 1: 237 samples stalled on it, 109 here).  The block's birth
	 * is then a walk later (well under the 1.024 us tick). */
	uint64_t now = mp_tag_now();
	int64_t b = mp_capture_bucket(c, pcs, n, depth, size, &pr);
	if (MP_UNLIKELY(mp_prof_nstacks() != nstacks) && mp_shm_dir) {
		/* code loaded since: the shared maps must name it */
		if (n == MP_CAPTURE_MEMO)
			n = mp_capture_memo_pcs(c, pcs, depth);
		mp_crash_new_stack(pcs, n);
	}
	if (b < 0)
		return;
	if (mp_shim.hints)
		mp_prof_foretell(&mp_tls.hint, c ? c->last : NULL, (uint32_t)b);
	mp_peak_grew(size, now);
	uint64_t tag = mp_tag_make((uint32_t)b, now);
	if (own) {
		if (mp_alloc_mark_set(&m, p, tag) < 0)
			mp_prof_record_free((uint32_t)b);
		return;
	}
	if (mp_live_insert(p, tag) < 0) {
		/* Untrackable: count it freed now rather than leaked for ever. */
		mp_prof_record_free((uint32_t)b);
	}
}

MP_NOINLINE MP_COLD void *mp_sample_slow(void *p, size_t size)
{
	struct mp_tls *t = &mp_tls;
	if (mp_busy || !p)
		return p;
	mp_busy = 1;
	if (MP_UNLIKELY(__atomic_load_n(&mp_shim.init, __ATOMIC_ACQUIRE) != MP_INIT_DONE)) {
		mp_shim_init();
		if (__atomic_load_n(&mp_shim.init, __ATOMIC_ACQUIRE) != MP_INIT_DONE)
			goto out;   /* another thread is initializing: skip this one */
	}
	if (!mp_shim.enabled) {
		t->left = UINT64_MAX;
		goto out;
	}
	uint64_t rate = mp_shim.opt.rate;
	if (!t->ready) {
		/* This thread's TLS address tells it from the others (no
		 * gettid: a system call per thread for nothing). */
		t->rng = mp_sampler_seed(mp_now_ns() ^ ((uint64_t)(uintptr_t)t << 16) ^ (uintptr_t)t);
		t->ready = 1;
		t->left = mp_sampler_next(&t->rng, rate);
		if (t->left > size) {
			t->left -= size;
			goto out;
		}
	}
	/* A handler that must not wait for a lock (base/lock.h) records no
	 * sample: the stack table's lock may be held by a thread that waits
	 * for one its own thread holds (t-sigstorm).  The block is the
	 * program's all the same; the profile misses it, and its free. */
	if (MP_LIKELY(!mp_lock_nowait))
		record(p, size);
	/* At --rate 1 the countdown is always 0 (sampler.h) and the
	 * generator is never drawn from: no call for it. */
	t->left = rate == 1 ? 0 : mp_sampler_next(&t->rng, rate);
out:
	mp_busy = 0;
	return p;
}

/*
 * A free that may be of a sampled block.  Re-entered from a signal handler
 * that interrupted the shim, it must not take a stripe lock the interrupted
 * code may hold: it records nothing then (the entry stays behind; the worst
 * outcome is one block counted in use that is not), and never deadlocks.
 * In no-wait mode (base/lock.h) it only tries the stripe's lock (live.h).
 */
MP_NOINLINE MP_COLD void mp_free_slow(void *p)
{
	uint64_t tag;
	if (mp_busy)
		return;
	mp_busy = 1;
	if (mp_live_remove(p, &tag))
		mp_peak_freed_now(tag);
	mp_busy = 0;
}

/* libc's exit(): the leak scan's roots on the exiting thread's stack
 * start at its caller's frame (exit_handler).  Set when leak=1. */
static uintptr_t exit_lo, exit_hi;

static void find_exit(void)
{
	void *e = dlsym(RTLD_NEXT, "exit");
	const ElfW(Sym) *sym = NULL;
	Dl_info info;

	if (e && dladdr1(e, &info, (void **)&sym, RTLD_DL_SYMENT) && sym && sym->st_size &&
	    info.dli_saddr == e) {
		exit_lo = (uintptr_t)e;
		exit_hi = exit_lo + sym->st_size;
	}
}

void mp_shim_exit_snapshot(uintptr_t lo, uintptr_t hi, uintptr_t cfa)
{
	if (__atomic_load_n(&mp_shim.init, __ATOMIC_ACQUIRE) != MP_INIT_DONE || !mp_shim.enabled)
		return;
	/* A vfork child shares our memory and must not write: it never ran the
	 * atfork handlers, so its pid differs from the one we know. */
	if (getpid() != mp_shim.pid || mp_shim.final_written)
		return;
	mp_busy++;
	mp_trigger_drain();   /* requests made while it lived are answered */
	/* memprof run stopped waiting for this process (it left the
	 * program's session) and is gone: nothing to scan or write for. */
	if (mp_shim_collector_gone()) {
		mp_busy--;
		return;
	}
	if (mp_shim.opt.leak) {
		/* The stack from the program's frame up is a root, and the
		 * registers it had; the frames below it are not (see
		 * exit_handler). */
		uintptr_t sp = cfa, regs[MP_UNWIND_NSAVED];
		unsigned nregs = MP_UNWIND_NSAVED;
		if (mp_unwind_caller(lo, hi, cfa, &sp, regs) < 0 &&
		    (lo == hi || mp_unwind_caller(0, 0, cfa, &sp, regs) < 0)) {
			sp = cfa;
			nregs = 0;
		}
		int r = mp_shim_alloc_mode() == MP_MODE_OWN
				? mp_leakscan_run(sp, regs, nregs, mp_trigger_tid())
				: -ENOTSUP;
		if (r == -ENOTSUP && mp_shim_alloc_mode() == MP_MODE_FOREIGN)
			mp_warn("leak check skipped: the program allocates with a malloc of its own", NULL,
				NULL, NULL);
		else if (r == -ENOTSUP)
			mp_warn("leak check needs allocator=memprof, skipped", NULL, NULL, NULL);
		else if (r < 0)
			mp_warn("leak check incomplete: out of memory for its work list", NULL, NULL,
				NULL);
	}
	if (MP_DEBUG_CHECKS >= 2 && mp_shim_alloc_mode() == MP_MODE_OWN) {
		/* -Ddebug_checks=full: walk the allocator's invariants at exit. */
		int bad = mp_alloc_check();
		char num[24];
		if (bad)
			mp_warn("allocator invariant broken (alloc/ line ", mp_utoa((uint64_t)-bad, num),
				")", NULL);
		else if (mp_shim.opt.verbose)
			mp_log("allocator invariants hold at exit", NULL, NULL, NULL);
	}
	if (mp_unwind_mode == MP_UNWIND_CHECK) {
		/* unwind=2 (tests): how memprof's walker fared against libunwind. */
		char a[24], b[24];
		mp_warn("unwind check: ", mp_utoa(mp_unwind_differed, a), " of ",
			mp_utoa(mp_unwind_checked, b));
		/* The stacks it left to the fallback: libgcc's against libunwind's. */
		if (mp_unwind_fallback_checked)
			mp_warn("unwind check (fallback): ", mp_utoa(mp_unwind_fallback_differed, a),
				" of ", mp_utoa(mp_unwind_fallback_checked, b));
	}
	int r = mp_snapshot_write(0, MP_SNAP_F_FINAL | (mp_shim.forked ? MP_SNAP_F_FORKED : 0));
	if (r == 0)
		mp_shim.final_written = 1;
	mp_busy--;
}

/*
 * When the final snapshot is taken.  It must come after every free the
 * program makes on its way out: its atexit handlers, and the destructors of
 * every library, however it was loaded.  Our own destructor is too early:
 * ld.so's _dl_fini runs the destructors in dependency order, and a
 * preloaded library is finalized before the libraries it does not depend on
 * (gnutls's destructor, which frees libtasn1's trees, runs after ours).
 *
 * glibc's exit() (stdlib/exit.c, __run_exit_handlers) calls the handlers
 * registered with __cxa_atexit in reverse order of registration, and
 * _dl_fini is itself one of them: __libc_start_main registers it, after
 * ld.so has run the constructors of the preloaded and linked libraries,
 * ours included.  A handler registered from our constructor therefore runs
 * after _dl_fini, so after every destructor (those of dlopened libraries
 * still loaded too, and the C++ static destructors each library's fini
 * runs through __cxa_finalize).  It is registered with a NULL DSO handle:
 * atexit() would pass ours, and our own fini would run it early.  The
 * handlers that could still come after it are those registered with a NULL
 * handle by a constructor that ran before ours; none frees in practice.
 * exit() from any thread runs the handlers in that thread; a program that
 * exits from a constructor, before main, never runs _dl_fini, and our
 * handler is still called.
 *
 * quick_exit() runs no destructors, only its own list: a handler there,
 * registered first, runs after the program's at_quick_exit handlers.
 * _exit and _Exit run nothing: interposed below.  The destructor writes
 * only when the handler could not be registered.
 */
extern int __cxa_atexit(void (*fn)(void *), void *arg, void *dso);
extern int __cxa_at_quick_exit(void (*fn)(void *), void *dso);

static int exit_handler_registered;

/*
 * The leak scan's roots on this thread's stack start at the stack pointer
 * of exit's caller (main's, when main returned), with the callee-saved
 * registers it had (those of a function that called exit() may hold its
 * pointers): that is the program's stack, as Valgrind, which reads only
 * the words written since each frame was pushed, sees it.  The frames of
 * exit and __run_exit_handlers below it, and ours, leave words unwritten
 * that still hold the dead frames of the program's earlier calls at that
 * depth (main's locals, after it returned): a block whose address lingered
 * there was "still reachable" where Valgrind finds it definitely lost (4
 * of 16 blocks of a C program that leaks from main, 5 of 20 in C++).
 * Without exit's frame (quick_exit) they start at the caller of this
 * handler.
 */
static void exit_handler(void *arg)
{
	(void)arg;
	mp_shim_exit_snapshot(exit_lo, exit_hi, (uintptr_t)__builtin_dwarf_cfa());
}

__attribute__((destructor)) static void mp_shim_fini(void)
{
	if (!exit_handler_registered)
		mp_shim_exit_snapshot(0, 0, (uintptr_t)__builtin_dwarf_cfa());
}

/*
 * Symbol lookup searches the executable before the preloaded shim: an
 * executable that defines malloc itself (an allocator linked in statically,
 * such as rustc's jemalloc) keeps every malloc call of the program and its
 * libraries, and the profile would be silently empty.  The snapshot's
 * statistics say so (ForeignMalloc), and memprof run says it in a note.
 * Worse, the entry points the program does not define still came to us,
 * and C++'s delete (ours) freed through the program's free: a block of our
 * new, or a pointer glibc would have handled, went to the wrong allocator,
 * and the program died where it ran natively.  So everything of ours then
 * does what it would do without us (mp_shim_go_foreign).
 */
static void check_malloc_owner(void)
{
	void *m = dlsym(RTLD_DEFAULT, "malloc");
	const ElfW(Sym) *sym = NULL;
	Dl_info info;

	/* dlsym also answers with a non-PIE executable's canonical PLT entry
	 * for malloc (an undefined symbol with a value, there because the
	 * program takes malloc's address: Debian's python3), which leads to
	 * ours; calls never bind to it (glibc's lookup skips undefined symbols
	 * for them).  A real definition is a symbol whose address is m itself,
	 * defined in another object: dladdr finds no such symbol for a PLT
	 * stub. */
	mp_shim.foreign_malloc = m && dladdr1(m, &info, (void **)&sym, RTLD_DL_SYMENT) &&
				 info.dli_fbase != &__ehdr_start && sym &&
				 sym->st_shndx != SHN_UNDEF && info.dli_saddr == m;
	if (mp_shim.foreign_malloc && mp_shim_go_foreign() < 0)
		mp_warn("the program has its own malloc and glibc's cannot be found: "
			"blocks may be freed by the wrong allocator", NULL, NULL, NULL);
}

/* Make sure initialization has happened before main even in a program that
 * never allocates. */
__attribute__((constructor)) static void mp_shim_ctor(void)
{
	mp_busy++;
	mp_shim_init();
	mp_exec_init();   /* here, not in mp_shim_init: that may run inside ld.so */
	check_malloc_owner();
	if (mp_shim.opt.leak)
		find_exit();
	exit_handler_registered = __cxa_atexit(exit_handler, NULL, NULL) == 0;
	__cxa_at_quick_exit(exit_handler, NULL);
	if (mp_shim.enabled && mp_unwind_mode != MP_UNWIND_FAST &&
	    mp_unwind_load_libunwind() < 0)
		mp_warn("cannot load libunwind, unwind=", mp_shim.opt.unwind == 1 ? "1" : "2",
			" walks with libgcc's unwinder instead", NULL);
	mp_busy--;
	mp_signals_init();    /* handlers installed before us: bracketed from now on */
	mp_crash_start();     /* the maps as loaded; the state at a fatal signal */
	mp_trigger_start();   /* numbered snapshots: interval=, snapshot_signal= */
}

/* _exit and _Exit skip destructors: write the snapshot first. */
MP_EXPORT void _exit(int status)
{
	mp_shim_exit_snapshot(0, 0, (uintptr_t)__builtin_dwarf_cfa());
	for (;;)
		syscall(SYS_exit_group, status);
}

MP_EXPORT void _Exit(int status)
{
	mp_shim_exit_snapshot(0, 0, (uintptr_t)__builtin_dwarf_cfa());
	for (;;)
		syscall(SYS_exit_group, status);
}

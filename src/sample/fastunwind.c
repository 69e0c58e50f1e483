/* SPDX-License-Identifier: MIT */
/*
 * A fast x86-64 stack walker for the common case (see unwind.h).
 *
 * Every frame is unwound with the rule its return address's row of the
 * .eh_frame call frame information gives: CFA = RSP or RBP + offset, the
 * return address at CFA - 8, RBP restored from CFA + offset or unchanged.
 * Those rules are computed once per return address (libgcc's
 * _Unwind_Find_FDE finds the FDE; cfi.c runs the CIE and FDE programs up
 * to the call) and kept in a table mapped here, read without a lock.
 * Anything else (no FDE, a CFA or register rule given by an expression,
 * a signal frame, a stack that does not grow) makes the whole walk fail and
 * the caller falls back to libunwind, which handles them.
 *
 * Each thread also keeps the shadow of its last walk (below): a walk goes
 * frame by frame only until it meets a frame of it that still holds.
 *
 * In the target: no allocation, no lock on the hit path; computing a new
 * rule takes a mutex and may call into libgcc (which uses dl_iterate_phdr);
 * a thread's first walk takes a shadow (one a finished thread left, or a
 * new one, mapped CHUNK at a time).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <ucontext.h>

#include "sample/cfi.h"
#include "base/compiler.h"
#include "base/lock.h"
#include "base/vm.h"
#include "sample/stacks.h"   /* struct mp_stack_cache: kept, never read */
#include "sample/unwind.h"

/* libgcc_s (unwind-dw2-fde.h): the FDE covering pc, and the function's start. */
struct dwarf_eh_bases {
	void *tbase;
	void *dbase;
	void *func;
};
extern const void *_Unwind_Find_FDE(void *pc, struct dwarf_eh_bases *bases);

struct slot {
	uint64_t pc;                            /* return address; 0: empty */
	uint64_t rule;
};

/*
 * Rules by return address: open addressing, read without a lock.  A table
 * grows by doubling into a new one, published whole; the old one stays
 * mapped (a reader may still be in it), so the tables ever made cost at
 * most twice the last.  Small on purpose: a program's hot return addresses
 * are a few thousand, and a table that fits the cache is most of the speed.
 */
struct table {
	size_t bits, used;
	struct slot slots[];
};

/* A rule of no kind (cfi.h's kinds are 1..3): computed for code that has
 * been unmapped since, to be computed again. */
#define RULE_STALE 0

#define MIN_BITS 12
#define MAX_BITS 22
#define MAX_PROBE 32

static struct table *table;                 /* the current one, atomic */
static pthread_key_t wc_key;                /* a thread's walk cache (below) */
static bool wc_key_ok;
/* Counted (base/lock.h): a handler nested into their holder must not wait. */
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t spare_lock = PTHREAD_MUTEX_INITIALIZER;   /* walk caches (below) */

/* Changes when code is unmapped (mp_fastunwind_forget): a walk remembered
 * before may have used rules of code no longer there, and the same return
 * addresses may now belong to other code.  A thread's shadow of an older
 * epoch is emptied before its next use. */
static uint32_t code_epoch;

static struct table *table_new(size_t bits)
{
	struct table *t = mp_vm_reserve(sizeof(*t) + ((size_t)1 << bits) * sizeof(struct slot));
	if (t)
		t->bits = bits;
	return t;
}

static void wc_exit(void *arg);

int mp_fastunwind_init(void)
{
	if (!wc_key_ok)
		wc_key_ok = pthread_key_create(&wc_key, wc_exit) == 0;
	if (!table)
		__atomic_store_n(&table, table_new(MIN_BITS), __ATOMIC_RELEASE);
	return table ? 0 : -ENOMEM;
}

void mp_fastunwind_lock(void)
{
	mp_lock_wait(&table_lock);
	mp_lock_wait(&spare_lock);
}

void mp_fastunwind_unlock(void)
{
	mp_unlock(&spare_lock);
	mp_unlock(&table_lock);
}

void mp_fastunwind_after_fork_child(void)
{
	pthread_mutex_init(&table_lock, NULL);
	pthread_mutex_init(&spare_lock, NULL);
	mp_lock_held -= 2;   /* held since mp_fastunwind_lock */
}

/* Return addresses spread evenly (Fibonacci hashing).  Keeping the call
 * sites of one page in nearby slots, as this did, made runs of taken slots
 * in big dense code: gcc's cc1 had 7,353 rules in 65,536 slots (the table
 * grows when MAX_PROBE slots from a home are taken), 1 MiB of them, now in
 * 16,384 (256 KiB); and a walk's frames are in different functions anyway. */
static size_t slot_of(uint64_t pc, size_t bits)
{
	return (size_t)((pc * 0x9e3779b97f4a7c15ull) >> (64 - bits));
}

/* Under table_lock.  False when MAX_PROBE slots from its home are taken. */
static bool table_put(struct table *t, uint64_t pc, uint64_t rule)
{
	size_t mask = ((size_t)1 << t->bits) - 1, s = slot_of(pc, t->bits);
	for (size_t i = 0; i < MAX_PROBE; i++) {
		struct slot *e = &t->slots[(s + i) & mask];
		uint64_t k = __atomic_load_n(&e->pc, __ATOMIC_RELAXED);
		if (k == pc) {
			if (__atomic_load_n(&e->rule, __ATOMIC_RELAXED) == RULE_STALE)
				__atomic_store_n(&e->rule, rule, __ATOMIC_RELEASE);
			return true;
		}
		if (k == 0) {
			e->rule = rule;
			__atomic_store_n(&e->pc, pc, __ATOMIC_RELEASE);
			t->used++;
			return true;
		}
	}
	return false;
}

/* Under table_lock: a table twice as big with everything, published. */
static void table_grow(struct table *t)
{
	struct table *n = t->bits < MAX_BITS ? table_new(t->bits + 1) : NULL;
	if (!n)
		return;
	for (size_t i = 0; i < ((size_t)1 << t->bits); i++) {
		const struct slot *e = &t->slots[i];
		if (e->pc)
			(void)table_put(n, e->pc, e->rule);
	}
	__atomic_store_n(&table, n, __ATOMIC_RELEASE);
}

/* In a rule_for key: pc is the interrupted instruction of a signal frame's
 * caller, not a return address (user addresses never have this bit). */
#define PC_EXACT ((uint64_t)1 << 63)

static bool in_ranges(uint64_t pc, const uint64_t *ranges, size_t n)
{
	for (size_t r = 0; r < n; r++)
		if ((pc & ~PC_EXACT) - 1 - ranges[2 * r] < ranges[2 * r + 1] - ranges[2 * r])
			return true;
	return false;
}

void mp_fastunwind_forget(const uint64_t *ranges, size_t n)
{
	mp_lock_wait(&table_lock);
	struct table *t = table;
	/* Readers probe without the lock, so no entry is removed: its rule is
	 * marked stale in place, and the next lookup computes it again for
	 * whatever code is there then (table_put overwrites a stale rule). */
	for (size_t i = 0; t && i < ((size_t)1 << t->bits); i++) {
		struct slot *e = &t->slots[i];
		uint64_t pc = __atomic_load_n(&e->pc, __ATOMIC_RELAXED);
		if (pc && in_ranges(pc, ranges, n))
			__atomic_store_n(&e->rule, RULE_STALE, __ATOMIC_RELEASE);
	}
	__atomic_add_fetch(&code_epoch, 1, __ATOMIC_ACQ_REL);
	mp_unlock(&table_lock);
}

/*
 * The rule of a signal frame: the "return address" is the signal
 * trampoline the kernel returns through (glibc's __restore_rt:
 * mov $15, %rax; syscall), the kernel's ucontext lies at the stack pointer,
 * and the interrupted state is in it.  Its CFI is a DWARF expression, which
 * cfi.c leaves alone; recognized here by its code, so that the allocations
 * of signal handlers are walked as fast as any (the fallback walks them
 * frame by frame through dl_iterate_phdr: slower by two orders).  Bits 2-15
 * of a rule cfi.c makes are always 0: no rule is MP_CFI_BAD - 1.
 */
#define RULE_SIGNAL (MP_CFI_BAD - 1)

static bool is_sigreturn(uint64_t pc)
{
	static const unsigned char code[] = { 0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05 };
	return memcmp((const void *)(uintptr_t)pc, code, sizeof(code)) == 0;
}

/* The rule for a frame whose return address (or, for the first frame, the
 * pc after its call) is `pc`, or with PC_EXACT whose pc is that of the
 * instruction a signal interrupted: its own row then, not the one before. */
static uint64_t compute_rule(uint64_t key)
{
	struct dwarf_eh_bases bases = { 0 };
	uint64_t pc = key & ~PC_EXACT;
	if (key & PC_EXACT) {
		const uint8_t *fde = _Unwind_Find_FDE((void *)(uintptr_t)pc, &bases);
		return mp_cfi_rule(0, UINTPTR_MAX, fde, (uint64_t)(uintptr_t)bases.func, pc + 1);
	}
	const uint8_t *fde = _Unwind_Find_FDE((void *)(uintptr_t)(pc - 1), &bases);
	uint64_t rule = mp_cfi_rule(0, UINTPTR_MAX, fde, (uint64_t)(uintptr_t)bases.func, pc);
	/* (An FDE covers pc - 1, so the code at pc is mapped: glibc puts a
	 * nop before __restore_rt for this very lookup.) */
	if (rule == MP_CFI_BAD && fde && is_sigreturn(pc))
		rule = RULE_SIGNAL;
	return rule;
}

static inline __attribute__((always_inline)) uint64_t rule_for(uint64_t pc)
{
	struct table *t = __atomic_load_n(&table, __ATOMIC_ACQUIRE);
	size_t mask = ((size_t)1 << t->bits) - 1, s = slot_of(pc, t->bits);
	for (size_t i = 0; i < MAX_PROBE; i++) {
		const struct slot *e = &t->slots[(s + i) & mask];
		uint64_t k = __atomic_load_n(&e->pc, __ATOMIC_ACQUIRE);
		if (k == pc) {
			uint64_t r = __atomic_load_n(&e->rule, __ATOMIC_ACQUIRE);
			if (MP_LIKELY(r != RULE_STALE))
				return r;
			break;
		}
		if (k == 0)
			break;
	}
	uint64_t rule = compute_rule(pc);
	mp_lock_wait(&table_lock);
	t = table;
	if (!table_put(t, pc, rule) || t->used * 2 > ((size_t)1 << t->bits)) {
		table_grow(t);
		(void)table_put(table, pc, rule);
	}
	mp_unlock(&table_lock);
	return rule;
}

/* ---- the per-thread shadow of the last walk ----
 *
 * A walk is a chain of dependent loads (a return address, its rule, the
 * next return address).  But a thread's consecutive stacks share their
 * outer frames: at --rate 1, gcc's cc1 walks about 21 frames per
 * allocation, of which about 4 (the shim's own two among them) differ from
 * the walk before.  So each thread keeps its last complete walk, outermost
 * frame first (the shadow), and a walk goes frame by frame only until it
 * reaches a frame of the shadow: same state (pc, stack pointer, and RBP
 * where the walk from there depends on it) and every word the shadow's
 * walk read beyond it (each return address, each restored RBP it went on
 * to use) still holding the same value.  The walk from a state is a
 * function of the rules (fixed per pc) and of the words it reads, so the
 * shadow's frames from there out are exactly what walking would give; and
 * re-reading words at known addresses does not chain one load on another.
 * The new inner frames then replace the shadow's inner ones in place: the
 * outer ones, stored first, are neither copied nor moved.
 *
 * This replaced a memo of the thread's last 32 walks, each stored whole
 * (innermost first), with a search of all 32 for a walk starting from the
 * same state, a least-recently-used victim, and the outer frames copied
 * into every new entry: about 1,500 instructions per walk at --rate 1 on
 * cc1 (callgrind), most of them in that bookkeeping.
 *
 * The shadow also carries, for the walk's caller, the stack table's cache
 * of the whole stack (struct mp_stack_cache: its id, the bucket of its last
 * block size), which the walker clears when the shadow changes and
 * otherwise leaves alone: an allocation from the very stack of the last
 * one needs neither hashing nor a table probe, and the walker knows
 * nothing of the tables.
 */
/* A frame as a walk finds it. */
struct nframe {
	uint64_t pc, sp, bp;
	uint64_t slot;                /* where the rule read the next RBP (0: none) | F_* */
};

/* A frame of the shadow: the same, the fingerprint (stacks.h) of the
 * frames from the outermost to this one, and where the walk read its RBP
 * when the walk from it depends on that (else 0): the slot of the frame
 * inside it. */
struct wframe {
	uint64_t pc, sp, bp;
	uint64_t slot;
	struct mp_fp fp;
	uint64_t bp_at;
};

/* In slot's low bits: a slot is the CFA, which the walk checks is 8-aligned,
 * plus a multiple of 8 (cfi.c refuses other offsets). */
#define F_DEP 1u                      /* the walk from here depends on the incoming RBP */
#define F_RBP 2u                      /* this frame's CFA is RBP-based */
#define F_MASK 7u

#define SHADOW_FRAMES 256             /* longer stacks are not kept */
#define NEAR_BITS 11                  /* a thread's rules at hand: 2,048 (32 KiB) */
#define WALK_FRAMES 64                /* new frames a walk keeps (more: not kept) */

struct wcache {
	uint32_t epoch;               /* code_epoch the shadow was made in */
	uint32_t n;                   /* frames in the shadow */
	uint32_t max;                 /* the `max` of the walk the cache is for */
	bool zero_end;                /* the walk ended on a zero return address at end_sp - 8 */
	uint64_t end_sp;
	struct wcache *next;          /* on the spare list */
	struct mp_stack_cache cache;  /* the caller's (above), for the whole shadow */
	struct slot near[1u << NEAR_BITS];   /* rules by return address (rule_near) */
	struct wframe s[SHADOW_FRAMES];   /* outermost first */
};

#define WC_DEAD ((struct wcache *)1)  /* the thread's key destructor ran: no cache */

static MP_TLS struct wcache *wc_self;

/* Caches come CHUNK at a time, one mapping for all of them: the leak scan
 * skips memprof's own mappings, and has room for a few hundred. */
#define CHUNK 16
static struct wcache *wc_spare, *wc_chunk;   /* under spare_lock */
static unsigned wc_chunk_left;

/* The thread's key destructor: its cache goes to the next thread.  The
 * thread lets go of it first, so that a signal handler that allocates in
 * between does not use a cache another thread may already have. */
static void wc_exit(void *arg)
{
	struct wcache *c = arg;
	__atomic_store_n(&wc_self, WC_DEAD, __ATOMIC_RELAXED);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	mp_lock_wait(&spare_lock);
	c->next = wc_spare;
	wc_spare = c;
	mp_unlock(&spare_lock);
}

static void wc_clear(struct wcache *c)
{
	c->n = 0;
	memset(c->near, 0, sizeof(c->near));
	c->epoch = __atomic_load_n(&code_epoch, __ATOMIC_ACQUIRE);
}

/*
 * A cache for a thread: a fresh one is all zeros already, and one a
 * finished thread left keeps its rules, which are the process's, not the
 * thread's, unless code was unmapped since.  Only the shadow, the walk of
 * another thread's stack, goes.  So a new thread neither touches nor
 * clears the whole rule copy (32 KiB): its pages are committed as its own
 * walks use them.
 */
static void wc_adopt(struct wcache *c, bool fresh)
{
	uint32_t e = __atomic_load_n(&code_epoch, __ATOMIC_ACQUIRE);
	if (!fresh && c->epoch != e) {
		wc_clear(c);
		return;
	}
	c->n = 0;
	c->epoch = e;
}

/* The walk's callers hold the shim's recursion guard: no signal handler
 * walks while this holds spare_lock. */
static MP_NOINLINE MP_COLD struct wcache *wc_setup(void)
{
	struct wcache *c;
	bool fresh = false;
	if (!wc_key_ok)
		return NULL;
	mp_lock_wait(&spare_lock);
	c = wc_spare;
	if (c) {
		wc_spare = c->next;
	} else {
		fresh = true;
		if (!wc_chunk_left) {
			wc_chunk = mp_vm_reserve(CHUNK * sizeof(*wc_chunk));
			wc_chunk_left = wc_chunk ? CHUNK : 0;
		}
		if (wc_chunk_left)
			c = &wc_chunk[CHUNK - wc_chunk_left--];
	}
	mp_unlock(&spare_lock);
	if (!c)
		return NULL;
	wc_adopt(c, fresh);
	if (pthread_setspecific(wc_key, c) != 0) {
		wc_exit(c);
		return NULL;
	}
	wc_self = c;
	return c;
}

static MP_NOINLINE MP_COLD void wc_renew(struct wcache *c)
{
	wc_clear(c);
}

static inline struct wcache *wc_get(void)
{
	struct wcache *c = wc_self;
	if (MP_LIKELY(c != NULL && c != WC_DEAD)) {
		if (MP_UNLIKELY(c->epoch != __atomic_load_n(&code_epoch, __ATOMIC_ACQUIRE)))
			wc_renew(c);
		return c;
	}
	return c ? NULL : wc_setup();
}

/*
 * The rule for return address pc, from the thread's own direct-mapped
 * copy of the rules it used last when it is there (else from the shared
 * table, and kept).  512 entries held 79% of the lookups of cc1's own
 * frames at --rate 1 (17.7 million: 2.8 new frames a walk), 2,048 hold
 * 91%, in 32 KiB beside the shadow instead of lines of a 256 KiB table
 * that the profile's tables, tens of MiB at --rate 1, push out of the
 * core's cache.  512 against none: 30 fewer instructions a walk
 * (callgrind).  2,048 against 512: the shim's perf samples per cc1 sample
 * (cc1 at --rate 1, medians of 5 to 11 interleaved runs, four series on
 * a busy machine) were lower in each series, 0.433 against 0.475, 0.420
 * against 0.457, 0.419 against 0.422, 0.416 against 0.423.  That figure
 * favours whatever slows the program's own code, so the sizes were
 * measured again on the whole process's cost (bench.sh --set cost, which
 * does not move with the machine's load; cc1 at --rate 1, cost in
 * millions): 512 entries 8,911, 1,024 8,895, 2,048 8,896, 4,096 8,874.
 * Within 0.4% of each other on that model, which counts a miss of the
 * core's cache at 40 instructions.  A lookup that misses the copy reads
 * the shared table, a dependent load in the walk's chain: rule_far had
 * 1.7% of cc1's perf samples at --rate 1, four times its share of the
 * model.  Misses of the copy, cc1 on a small file: 2,048 entries 408,000,
 * 4,096 231,000, 8,192 129,000, 16,384 70,000.  But every lookup of a
 * copy bigger than the core's 32 KiB cache waits on its next level: at
 * 8,192 entries rule_far's perf samples fell by two thirds and the walk's
 * own rose as much (cc1 on the big file, six interleaved runs: the shim's
 * samples per cc1 sample 0.425 against 0.419 at 2,048; a second level of
 * 8,192 behind the 2,048, 0.432).  2,048 stays.  Emptied with the shadow
 * when code is unmapped (wc_clear); a new thread's is not (wc_adopt).
 */
/* The shared table's rule for `key` (rule_for, inlined only here), kept
 * in e when e is not NULL.  Also the walk's rare lookups: without a
 * thread's copy, and of a frame a signal interrupted (PC_EXACT). */
static MP_NOINLINE uint64_t rule_far(struct slot *e, uint64_t key)
{
	uint64_t r = rule_for(key);
	if (e) {
		e->pc = key;
		e->rule = r;
	}
	return r;
}

static inline __attribute__((always_inline)) uint64_t rule_near(struct wcache *c, uint64_t pc)
{
	if (MP_UNLIKELY(!c))
		return rule_far(NULL, pc);
	struct slot *e = &c->near[slot_of(pc, NEAR_BITS)];
	if (MP_LIKELY(e->pc == pc))
		return e->rule;
	return rule_far(e, pc);
}

static inline bool state_is(const struct wframe *f, uint64_t pc, uint64_t sp, uint64_t bp)
{
	return f->sp == sp && f->pc == pc && (!(f->slot & F_DEP) || f->bp == bp);
}

#define HOLDS UINT32_MAX

/*
 * Whether every word the shadow's walk read beyond its frame m, and went on
 * to use, still holds the value it read then: HOLDS when all do, else the
 * number of shadow frames (from the outermost) that may still be spliced
 * onto later (< m + 1).  (An RBP restored from a frame's slot that no outer
 * frame's CFA depends on can change freely: RBP is an ordinary register in
 * most code.)  Inner frames first, stopping at the first difference: a
 * stack that parts from the shadow does so near its top.  So it reads no
 * word a walk from this frame would not read, were it not cut short by its
 * `max`: each address follows from the frame before it, which has just
 * been found the same.
 *
 * A difference at frame i - 1 (its return address or incoming RBP) voids
 * only frames i..m: a walk that meets the shadow again further out (the
 * two stacks' common caller) can still splice there.  In a big program one
 * function is often called at the same depth from different callers: its
 * frame matches, the one beyond it does not.
 */
__attribute__((no_sanitize("address"))) static uint32_t shadow_holds(const struct wcache *c,
								     uint32_t m)
{
	/* Each frame's own words: its return address, read at its sp - 8, and
	 * its RBP where bp_at says (most frames have none: the test is cheaper
	 * than a compare of a word that always holds).  A pointer steps
	 * through them, two frames a turn (cachegrind, cc1 on a small file at
	 * --rate 1, 23.7 million frames checked: 70 million instructions fewer
	 * than with an index, one frame a turn). */
	const struct wframe *s = c->s, *o = s + m;
#pragma GCC unroll 2
	while (o != s) {
		o--;
		if (MP_UNLIKELY(*(const uint64_t *)(uintptr_t)(o->sp - 8) != o->pc) ||
		    (o->bp_at && MP_UNLIKELY(*(const uint64_t *)(uintptr_t)o->bp_at != o->bp)))
			return (uint32_t)(o - s) + 1;
	}
	return !c->zero_end || *(const uint64_t *)(uintptr_t)(c->end_sp - 8) == 0 ? HOLDS : 0;
}

/* The caller's cache (above), for the shadow as it now is: cleared, its
 * stack's fingerprint and depth set (the shadow's frames are the stack as
 * mp_capture stores it: the shim's own were never kept). */
static void cache_clear(struct wcache *c)
{
	memset(&c->cache, 0, sizeof(c->cache));
	if (c->n) {
		c->cache.fp = c->s[c->n - 1].fp;
		c->cache.depth = c->n;
	}
}

/*
 * Keep a complete walk, made with `max`: its new frames w[0..k), innermost
 * first, on top of the shadow's frames 0..m - 1 (m = 0: the walk is w
 * alone, and ended as `zero_end` and `end_sp` say).  F_DEP is worked out
 * from the outermost frame in.  Returns the cache (cleared), or NULL when
 * the walk is too long to keep (the shadow is left as it was: every use
 * checks it again).
 */
static struct mp_stack_cache *shadow_keep(struct wcache *c, uint32_t max, const struct nframe *w,
					  uint32_t k, uint32_t m, bool zero_end, uint64_t end_sp)
{
	if (k > WALK_FRAMES || m + k > SHADOW_FRAMES || m + k == 0)
		return NULL;
	bool dep = m > 0 && (c->s[m - 1].slot & F_DEP);
	struct mp_fp fp = m > 0 ? c->s[m - 1].fp : mp_fp_start();
	struct wframe *s = &c->s[m];
	if (m > 0 && k > 0) {
		/* The frame spliced onto was reached from a new inner frame. */
		uint64_t at = w[k - 1].slot & ~(uint64_t)F_MASK;
		c->s[m - 1].bp_at = dep ? at : 0;
	}
	/* Outermost new frame first; w[-1] is the walk's sentinel (slot 0):
	 * the innermost frame reads no RBP slot of a frame inside it. */
	uint64_t d = dep ? F_DEP : 0;
	for (const struct nframe *f = w + k; f != w;) {
		f--;
		uint64_t slot = f->slot;
		/* Dependent when its CFA is RBP-based, or when it leaves RBP as
		 * it found it (no slot) to a frame outside that depends on it. */
		d = ((slot & F_RBP) >> 1) | (slot <= F_MASK ? d : 0);
		uint64_t in = f[-1].slot & ~(uint64_t)F_MASK;
		fp = mp_fp_step(fp, f->pc);
		s->pc = f->pc;
		s->sp = f->sp;
		s->bp = f->bp;
		s->slot = slot | d;
		s->fp = fp;
		s->bp_at = d ? in : 0;
		s++;
	}
	if (m == 0) {
		c->zero_end = zero_end;
		c->end_sp = end_sp;
	}
	c->n = m + k;
	c->max = max;
	cache_clear(c);
	return &c->cache;
}

/* One frame out by its rule (kind RSP or RBP): the caller's pc, stack
 * pointer and RBP, and in *ret_slot the address RBP was restored from (0:
 * unchanged).  False when the CFA is not one a stack growing down can have
 * (the walk fails: libunwind takes the stack). */
__attribute__((always_inline, no_sanitize("address"))) static inline bool
frame_out(uint64_t rule, uint64_t *pc, uint64_t *sp, uint64_t *bp, uint64_t *ret_slot)
{
	uint64_t cfa = (mp_cfi_kind(rule) == MP_CFI_RSP ? *sp : *bp) + (uint64_t)mp_cfi_cfa_off(rule);
	if (cfa <= *sp || cfa - *sp > ((uint64_t)1 << 24) || (cfa & 7))
		return false;
	int64_t rbp_off = mp_cfi_rbp_off(rule);
	uint64_t slot = rbp_off ? cfa + (uint64_t)rbp_off : 0;
	if (slot)
		*bp = *(const uint64_t *)(uintptr_t)slot;
	*pc = *(const uint64_t *)(uintptr_t)(cfa - 8);
	*sp = cfa;
	*ret_slot = slot;
	return true;
}

/* A walk that is not kept: the pcs of its first frames, which only w has. */
static MP_NOINLINE void out_pcs(uint64_t *pcs, const struct nframe *w, uint32_t n)
{
	for (uint32_t i = 0; i < n && i < WALK_FRAMES; i++)
		pcs[i] = w[i].pc;
}

/* Called by mp_fastunwind_capture (the assembly entry below) with the
 * state of its caller: the pc it returns to, its stack pointer after the
 * return, and RBP. */
__attribute__((used, no_sanitize("address"))) uint32_t
mp_fastunwind_walk(uint64_t *pcs, uint32_t max, uint64_t pc, uint64_t sp, uint64_t bp,
		   struct mp_stack_cache **ret_cache);

/* It reads the stack where the rules say, other frames included. */
__attribute__((no_sanitize("address"))) uint32_t
mp_fastunwind_walk(uint64_t *pcs, uint32_t max, uint64_t pc, uint64_t sp, uint64_t bp,
		   struct mp_stack_cache **ret_cache)
{
	/* This walk's new frames, innermost first, at w[0...]; w[-1] a
	 * sentinel for shadow_keep. */
	struct nframe wbuf[WALK_FRAMES + 1], *w = wbuf + 1;
	struct wcache *c;
	uint32_t n = 0;
	/* Pointers into the shadow (c->s, s0 here; NULL without one), not
	 * indexes: the scan below is then a compare and a step a frame, where
	 * indexes cost a multiply by the frame's size each time. */
	const struct wframe *s0 = NULL;
	const struct wframe *limp = NULL; /* shadow frames below limp may be spliced onto */
	const struct wframe *sj = NULL;   /* shadow frames from sj on lie below sp */
	bool ended = false, zero_end = false;
	/* A walk through a signal frame is not kept: its next state comes
	 * from the ucontext, which shadow_holds() does not re-read. */
	bool crossed = false;

	*ret_cache = NULL;
	if (!table)
		return UINT32_MAX;
	wbuf[0].slot = 0;
	c = wc_get();
	/* The shim's own frames, on top of every walk, are walked through and
	 * not kept (mp_capture drops them anyway): the walk, the shadow and
	 * the stack's fingerprint start at the program's frame that called
	 * the allocator. */
	while (pc - mp_unwind_skip_lo < mp_unwind_skip_hi - mp_unwind_skip_lo) {
		uint64_t rule = rule_near(c, pc), slot;
		if (MP_UNLIKELY(rule >= RULE_SIGNAL || mp_cfi_kind(rule) == MP_CFI_END) ||
		    !frame_out(rule, &pc, &sp, &bp, &slot))
			return UINT32_MAX;
	}
	if (c && c->n) {
		s0 = c->s;
		/* The very stack of the last walk (a loop's allocations). */
		const struct wframe *top = &c->s[c->n - 1];
		if (state_is(top, pc, sp, bp)) {
			uint32_t r = shadow_holds(c, c->n - 1);
			if (r == HOLDS) {
				if (c->max != max) {
					c->max = max;
					cache_clear(c);
				}
				*ret_cache = &c->cache;
				return MP_WALK_MEMO;
			}
			limp = s0 + r;
		} else {
			limp = s0 + c->n;
		}
		sj = s0 + c->n;
	}
	while (n < max) {
		if (pc == 0) {
			ended = zero_end = true;
			break;
		}
		if (limp != s0) {
			/* Frames are met in increasing sp order; the shadow's
			 * lie in decreasing sp order from its outermost. */
			while (sj != s0 && sj[-1].sp < sp)
				sj--;
			if (sj != s0 && sj <= limp && state_is(sj - 1, pc, sp, bp)) {
				uint32_t r = shadow_holds(c, (uint32_t)(sj - s0) - 1);
				if (r == HOLDS)
					goto splice;
				limp = s0 + r;
			}
		}
		uint64_t rule = rule_near(c, pc);
	have_rule:
		/* One compare for both rare rules (RULE_SIGNAL is MP_CFI_BAD - 1). */
		if (MP_UNLIKELY(rule >= RULE_SIGNAL)) {
			if (rule != RULE_SIGNAL)
				goto fail;
			const ucontext_t *uc = (const ucontext_t *)(uintptr_t)sp;
			uint64_t nsp = (uint64_t)uc->uc_mcontext.gregs[REG_RSP];
			if (n < WALK_FRAMES)
				w[n] = (struct nframe){ pc, sp, bp, 0 };
			else
				pcs[n] = pc;
			n++;
			/* The interrupted frame: its pc is the instruction itself,
			 * as libgcc and libunwind report it, and its rule the row
			 * at that pc.  (Its stack may be another one: an
			 * alternate signal stack.) */
			if (!nsp || (nsp & 7))
				goto fail;
			pc = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
			bp = (uint64_t)uc->uc_mcontext.gregs[REG_RBP];
			sp = nsp;
			crossed = true;
			limp = s0;
			if (n >= max)
				break;
			if (pc == 0) {
				ended = zero_end = true;
				break;
			}
			rule = rule_far(NULL, pc | PC_EXACT);
			goto have_rule;
		}
		/* The frame, once its slot is known, in w while it has room (its
		 * pc copied out to pcs only if the walk is not kept: out_pcs),
		 * else in pcs. */
		if (mp_cfi_kind(rule) == MP_CFI_END) {
			if (n < WALK_FRAMES)
				w[n] = (struct nframe){ pc, sp, bp, 0 };
			else
				pcs[n] = pc;
			n++;
			ended = true;
			break;
		}
		uint64_t slot, opc = pc, osp = sp, obp = bp;
		if (!frame_out(rule, &pc, &sp, &bp, &slot))
			goto fail;
		if (n < WALK_FRAMES)
			w[n] = (struct nframe){ opc, osp, obp,
						(mp_cfi_kind(rule) == MP_CFI_RBP ? F_RBP : 0) | slot };
		else
			pcs[n] = opc;
		n++;
	}
	/* A walk cut short by max is not kept: its end is unknown. */
	if (c && ended && !crossed) {
		*ret_cache = shadow_keep(c, max, w, n, 0, zero_end, sp);
		if (*ret_cache)
			return MP_WALK_MEMO;
	}
	out_pcs(pcs, w, n);
	return n;

splice: {
	/* Shadow frames j - 1 down to 0 are the rest of the stack: kept
	 * there, and copied out only by who needs them. */
	uint32_t j = (uint32_t)(sj - s0);
	*ret_cache = shadow_keep(c, max, w, n, j, false, 0);
	if (*ret_cache)
		return MP_WALK_MEMO;
	out_pcs(pcs, w, n);
	for (uint32_t i = j; i > 0 && n < max; i--)
		pcs[n++] = c->s[i - 1].pc;
	return n;
}

fail:
	return UINT32_MAX;
}

uint32_t mp_fastunwind_memo_pcs(const struct mp_stack_cache *cache, uint64_t *pcs, uint32_t max)
{
	const struct wcache *c =
		(const struct wcache *)((const char *)cache - offsetof(struct wcache, cache));
	uint32_t n = 0;
	for (; n < c->n && n < max; n++)
		pcs[n] = c->s[c->n - 1 - n].pc;
	return n;
}

/* uint32_t mp_fastunwind_capture(uint64_t *pcs, uint32_t max,
 *                                struct mp_stack_cache **ret_cache):
 * the walk from its caller's frame, first pc the return address into the
 * caller. */
__asm__(".text\n"
	".globl mp_fastunwind_capture\n"
	".hidden mp_fastunwind_capture\n"
	".type mp_fastunwind_capture, @function\n"
	"mp_fastunwind_capture:\n"
	"\t.cfi_startproc\n"
	"\tmovq %rdx, %r9\n"              /* ret_cache, last */
	"\tmovq (%rsp), %rdx\n"          /* pc: our return address */
	"\tleaq 8(%rsp), %rcx\n"          /* sp: the caller's, after the return */
	"\tmovq %rbp, %r8\n"
	"\tjmp mp_fastunwind_walk\n"
	"\t.cfi_endproc\n"
	".size mp_fastunwind_capture, .-mp_fastunwind_capture\n");

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * memprof attach: the part that runs in the kernel.  (Dual-licensed like
 * libbpf so the kernel accepts its GPL-only helpers; memprof's own code is
 * MIT.)
 *
 * Allocator probes are uprobe sessions (one link per module, attach.c):
 * the entry program decides whether the call is sampled and returns 0 to
 * have the return program run for that call only, 1 to skip it, so an
 * unsampled call pays for one probe hit and a few instructions here.
 * What those instructions are is measured (bench.sh --set attach prints
 * the kernel's run time of each program): an unsampled malloc looks up
 * its thread's state (task storage) and counts down; a free of a pointer
 * not tracked loads one word of a counting filter.  No shared cache line
 * is written (the call counter is per CPU) and no lock is taken.
 *
 * Sampling is Go's, per thread as in `memprof run`: a countdown of bytes
 * to the next sample, refilled from a table of gaps user space computed
 * (the quantiles of the exponential distribution with mean `rate`, picked
 * at random: no floating point here).
 *
 * A sampled call copies the user stack from the stack pointer to the end of
 * its mapping (at most MP_BPF_STACK_MAX bytes) into an MP_EV_ALLOC event;
 * user space unwinds it with the program's CFI.  Its return writes
 * MP_EV_DONE with the pointer, which from then on is tracked (`live`), so
 * that its free writes MP_EV_FREE.  Frees of untracked pointers (unsampled,
 * or allocated before attach) write nothing.
 *
 * glibc implements realloc with malloc and free (realloc(NULL, n) jumps
 * to malloc), and memalign and its relatives with malloc's insides: an
 * inner call must not count twice.  An "outer" probe remembers, in its
 * thread's state, where its return address lies and what it is; a later
 * probe hit at or below that slot while the call runs is inside it and
 * is skipped (see nested()).
 *
 * System calls that create or destroy descriptors, threads and mappings
 * are seen at sys_exit (raw tracepoint), for the target process only.
 */
#include <linux/bpf.h>
#include <linux/types.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "attach.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* The kernel's types, as far as we read them (CO-RE relocates the fields). */
struct pt_regs {
	unsigned long r15, r14, r13, r12, bp, bx, ax, dx, si, di, r10, r8, orig_ax, ip, sp;
} __attribute__((preserve_access_index));

struct vm_area_struct {
	unsigned long vm_start, vm_end;
} __attribute__((preserve_access_index));

struct task_struct;

extern bool bpf_session_is_return(void) __ksym;
extern __u64 *bpf_session_cookie(void) __ksym;

/* Set by user space before load. */
const volatile __u32 target_tgid = 0;
const volatile __u32 sample_all = 0;      /* rate 1: every call */
const volatile __u32 sample_none = 0;     /* rate 0: no allocation is sampled */
const volatile __u32 want_syscalls = 1;
const volatile __u32 empty_probes = 0;    /* benchmark: every probe returns at once */

struct mp_bpf_counters counters = {};

/*
 * Set by user space once every probe is attached, cleared before the
 * first is detached: links are made and closed one after another (a close
 * can take tens of milliseconds), and without this window common to all,
 * the functions probed first would be seen longer than the others.
 */
volatile __u32 enabled = 0;
/* The same for the system calls and thread ends, which stop a little
 * later: what user space lists as alive when it stops is then matched
 * with the calls that made it, even one still returning in its parent. */
volatile __u32 sys_enabled = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MP_BPF_NGAPS);
	__type(key, __u32);
	__type(value, __u64);
} gaps SEC(".maps");

/* Probe hits, per CPU: the one counter every call updates, without an
 * atomic instruction or a shared cache line (user space sums them). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} calls SEC(".maps");

/*
 * Per thread (task storage, created on a thread's first allocation): the
 * countdown of bytes to its next sample, as `memprof run` keeps one per
 * thread, and the outer allocator call it is in, if any (see the top).
 */
struct thread_state {
	__s64 left;                   /* bytes before the next sample; 0: no gap drawn yet */
	__u64 stack_end;              /* where its stack's mapping ends, when last seen */
	__u64 slot;                   /* where the outer call's return address lies; 0: none */
	__u64 ra;                     /* and what it was */
	__u64 sampled;                /* the outer call is sampled: its return clears slot */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct thread_state);
} threads SEC(".maps");

/* Sampled blocks still allocated: pointer -> 1.  Size set by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1 << 19);
	__type(key, __u64);
	__type(value, __u8);
} live SEC(".maps");

/*
 * A counting filter in front of `live`: hint[h(p)] is how many tracked
 * pointers hash to h(p).  A free of a pointer whose count is 0 (nearly
 * every free: the sampled blocks alive are a few hundred or thousand)
 * ends with one array load, which the verifier inlines, instead of a hash
 * lookup.  Increments follow the insertion into `live`, decrements the
 * deletion from it, so a count is never below the pointers it stands for.
 * Small enough to stay in cache (64 KiB): with 2^20 counters a free in
 * Python's workload cost 152 ns, a cache miss each; with 2^14, 45 ns
 * (1,000 tracked pointers make 6% of frees look further, in the hash).
 */
#define HINT_BITS 14

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1 << HINT_BITS);
	__type(key, __u32);
	__type(value, __u32);
} hint SEC(".maps");

static __always_inline __u32 hint_of(__u64 ptr)
{
	return (__u32)((ptr * 0x9e3779b97f4a7c15ull) >> (64 - HINT_BITS));
}

struct scratch {
	__u64 busy;
	struct mp_bpf_ev ev;
	__u8 stack[MP_BPF_STACK_MAX];
};

/* One per CPU (a per-CPU array's values are limited to 32 KiB): user
 * space sizes it to the number of possible CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

/* a * b, or false when it overflows (no 128-bit multiply in BPF). */
static __always_inline bool mul_ok(__u64 a, __u64 b, __u64 *ret)
{
	__u64 ah = a >> 32, bh = b >> 32, al = a & 0xffffffffu, bl = b & 0xffffffffu;
	__u64 cross, low, sum;

	if (ah && bh)
		return false;
	cross = ah * bl + bh * al;        /* one term is 0 */
	if (cross >> 32)
		return false;
	low = al * bl;
	sum = low + (cross << 32);
	if (sum < low)
		return false;
	*ret = sum;
	return true;
}

static __always_inline void count(__u64 *c)
{
	__sync_fetch_and_add(c, 1);
}

static __always_inline void count_call(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&calls, &zero);

	if (n)
		*n += 1;          /* a preempted probe on this CPU may lose one: a statistic */
}

static long vma_end_cb(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	*(__u64 *)data = vma->vm_end;
	return 0;
}

/* Write an event with the user stack from regs' sp up (to the end of its
 * mapping, at most MP_BPF_STACK_MAX bytes).  A scratch buffer already in use
 * on this CPU (a preempted probe) or an unreadable stack gives an event
 * without stack bytes.  stack_end: the thread's remembered end of its
 * stack mapping (NULL: none). */
static __always_inline void emit_with_stack(__u32 type, __u32 fn, __u64 a, const __u64 *args,
					    const struct mp_bpf_regs *r, __u64 *stack_end)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct scratch *s = bpf_map_lookup_elem(&scratch, &cpu);
	struct mp_bpf_ev small = {};
	__u64 end = 0, len, sp = r->sp;

	if (!s)
		return;
	if (__sync_lock_test_and_set(&s->busy, 1)) {
		count(&counters.stack_busy);
		small.type = type;
		small.tid = (__u32)bpf_get_current_pid_tgid();
		small.fn = fn;
		small.a = a;
		small.regs = *r;
		small.time_ns = bpf_ktime_get_ns();
		if (args) {
			small.args[0] = args[0];
			small.args[1] = args[1];
			small.args[2] = args[2];
			small.args[3] = args[3];
		}
		if (bpf_ringbuf_output(&events, &small, sizeof(small), 0))
			count(&counters.lost);
		return;
	}
	s->ev.type = type;
	s->ev.tid = (__u32)bpf_get_current_pid_tgid();
	s->ev.fn = fn;
	s->ev.a = a;
	s->ev.regs = *r;
	s->ev.time_ns = bpf_ktime_get_ns();
	s->ev.args[0] = args ? args[0] : 0;
	s->ev.args[1] = args ? args[1] : 0;
	s->ev.args[2] = args ? args[2] : 0;
	s->ev.args[3] = args ? args[3] : 0;
	/*
	 * Where the stack's mapping ends.  bpf_find_vma only tries the mmap
	 * lock, so it fails while another thread maps or unmaps (Python's
	 * arenas, every large malloc): then the end this thread's stack had
	 * last time (stacks do not move), else as much as may be read.
	 */
	if (bpf_find_vma(bpf_get_current_task_btf(), sp, vma_end_cb, &end, 0) == 0 && end > sp) {
		if (stack_end)
			*stack_end = end;
	} else if (stack_end && *stack_end > sp) {
		end = *stack_end;
	} else {
		end = sp + MP_BPF_STACK_MAX;
	}
	len = end - sp;
	if (len > MP_BPF_STACK_MAX)
		len = MP_BPF_STACK_MAX;
	/* A page that cannot be read without a fault (or an end guessed too
	 * far) ends the copy: then page by page, as far as it reads. */
	if (bpf_probe_read_user(s->stack, len, (const void *)sp) != 0) {
		__u64 got = ((sp | 4095) + 1) - sp, chunk;

		if (got > len)
			got = len;
		if (bpf_probe_read_user(s->stack, got, (const void *)sp) != 0)
			got = 0;
		for (int i = 0; got && i < MP_BPF_STACK_MAX / 4096; i++) {
			if (got >= len || got > MP_BPF_STACK_MAX - 4096)
				break;
			chunk = len - got;
			if (chunk > 4096)
				chunk = 4096;
			if (bpf_probe_read_user(s->stack + got, chunk, (const void *)(sp + got)) != 0)
				break;
			got += chunk;
		}
		len = got;
	}
	s->ev.stack_len = (__u32)len;
	if (bpf_ringbuf_output(&events, &s->ev, sizeof(s->ev) + len, 0))
		count(&counters.lost);
	__sync_lock_test_and_set(&s->busy, 0);
}

static __always_inline void emit_small(__u32 type, __u64 a)
{
	struct mp_bpf_ev *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		count(&counters.lost);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->type = type;
	e->tid = (__u32)bpf_get_current_pid_tgid();
	e->a = a;
	e->time_ns = bpf_ktime_get_ns();
	bpf_ringbuf_submit(e, 0);
}

/* The calling thread's state, created on its first call. */
static __always_inline struct thread_state *thread_state(void)
{
	return bpf_task_storage_get(&threads, bpf_get_current_task_btf(), 0,
				    BPF_LOCAL_STORAGE_GET_F_CREATE);
}

/* A gap from the table (its mean is the rate). */
static __always_inline __s64 new_gap(void)
{
	__u32 k = bpf_get_prandom_u32() & (MP_BPF_NGAPS - 1);
	__u64 *g = bpf_map_lookup_elem(&gaps, &k);

	return g && *g ? (__s64)*g : 1;
}

/*
 * Whether this call of `size` bytes is due for a sample: Go's countdown.
 * The call is sampled when the bytes left before the next sample do not
 * exceed its size (probability 1 - e^(-size/rate), the gaps being
 * exponential), and the next gap is drawn.  A thread's first call draws
 * its first gap and then counts like any other: the exponential
 * distribution is memoryless, so starting anywhere is unbiased.
 */
static __always_inline bool due(struct thread_state *t, __u64 size)
{
	if (sample_all)
		return true;
	if (sample_none)
		return false;
	if (t->left > (__s64)size) {
		t->left -= (__s64)size;
		return false;
	}
	if (t->left <= 0) {             /* no gap yet */
		t->left = new_gap();
		if (t->left > (__s64)size) {
			t->left -= (__s64)size;
			return false;
		}
	}
	t->left = new_gap();
	return true;
}

/* The return address of the probed call: at sp + ra_off. */
static __always_inline __u64 read_ra(__u64 sp, __u64 cookie, __u64 *slot)
{
	__u64 ra = 0;

	*slot = sp + MP_COOKIE_RA_OFF(cookie);
	bpf_probe_read_user(&ra, sizeof(ra), (const void *)*slot);
	return ra;
}

/*
 * Inside an outer allocator call of this thread (see the top)?  Any probe
 * hit while the thread is in an outer call is that call's own doing, so
 * the only question is whether the remembered call is still running:
 * - a sampled one has a return probe, which forgets it: running until then
 *   when the hit is at or below its frame;
 * - an unsampled one is running while its return address still lies in
 *   its slot, at or above the hit (at: glibc's realloc(NULL, n) jumps to
 *   malloc, whose probe then sees realloc's frame; an outer function hit
 *   at its slot is a new call from the same place).
 * A remembered call found over is forgotten, so that a thread pays one
 * read of its stack per outer call, not per call.
 */
static __always_inline bool nested(struct thread_state *t, __u64 sp, __u64 cookie)
{
	__u64 at = sp + MP_COOKIE_RA_OFF(cookie), now = 0;
	bool outer = MP_COOKIE_OUTER(cookie);

	if (!t->slot)
		return false;
	if (at < t->slot || (at == t->slot && !outer)) {
		if (t->sampled ||
		    (bpf_probe_read_user(&now, sizeof(now), (const void *)t->slot) == 0 &&
		     now == t->ra)) {
			count(&counters.nested);
			return true;
		}
	}
	t->slot = 0;
	return false;
}

/* Remember an outer call (not nested) until it is over. */
static __always_inline void enter_outer(struct thread_state *t, __u64 sp, __u64 cookie,
					bool sampled)
{
	__u64 slot;

	t->ra = read_ra(sp, cookie, &slot);
	t->slot = slot;
	t->sampled = sampled;
}

/* The session cookie of a sampled or tracking call: what the return needs. */
#define SC_SAMPLED (1ull << 63)
#define SC_TRACKED (1ull << 62)
#define SC_PTR_MASK ((1ull << 62) - 1)

static __always_inline int start_sample(struct pt_regs *ctx, __u32 fn, __u64 size, __u64 keep)
{
	__u64 *sc = bpf_session_cookie();

	struct mp_bpf_regs r = {
		.ip = ctx->ip, .sp = ctx->sp, .bp = ctx->bp, .bx = ctx->bx,
		.r12 = ctx->r12, .r13 = ctx->r13, .r14 = ctx->r14, .r15 = ctx->r15,
	};

	struct thread_state *t = bpf_task_storage_get(&threads, bpf_get_current_task_btf(), 0, 0);

	count(&counters.sampled);
	emit_with_stack(MP_EV_ALLOC, fn, size, 0, &r, t ? &t->stack_end : 0);
	if (sc)
		*sc = SC_SAMPLED | keep;
	return 0;                         /* run the return program */
}

/* A tracked pointer was freed: forget it and tell user space. */
static __always_inline void untrack(__u64 ptr)
{
	__u32 h = hint_of(ptr);
	__u32 *n = bpf_map_lookup_elem(&hint, &h);

	if (!n || !*n)
		return;                   /* not tracked: nearly every free ends here */
	if (bpf_map_delete_elem(&live, &ptr) == 0) {
		__sync_fetch_and_sub(n, 1);
		emit_small(MP_EV_FREE, ptr);
	}
}

static __always_inline void done(__u64 ptr)
{
	struct mp_bpf_ev *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	__u8 one = 1;

	/* Reserved before the pointer is tracked: its MP_EV_FREE, from any
	 * thread, comes after this in the ring buffer. */
	if (ptr) {
		__u32 h = hint_of(ptr);
		__u32 *n = bpf_map_lookup_elem(&hint, &h);

		long r = n ? bpf_map_update_elem(&live, &ptr, &one, BPF_NOEXIST) : -1;

		/* -EEXIST: tracked already (its free was not seen: another
		 * allocator's); user space moves it to this call's bucket. */
		if (r == 0)
			__sync_fetch_and_add(n, 1);
		else if (r != -17)
			count(&counters.live_full);
	}
	if (!e) {
		count(&counters.lost);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->type = MP_EV_DONE;
	e->tid = (__u32)bpf_get_current_pid_tgid();
	e->a = ptr;
	e->time_ns = bpf_ktime_get_ns();
	bpf_ringbuf_submit(e, 0);
}

/* `outer`: a function glibc implements with other probed ones (memalign,
 * valloc), known per program, so that malloc's probe reads no cookie (the
 * return address is at sp at every site: sites.h). */
static __always_inline int alloc_entry(struct pt_regs *ctx, __u32 fn, __u64 size, bool outer)
{
	__u64 cookie = MP_COOKIE(fn, outer, 0);
	struct thread_state *t;
	bool d;

	if (!enabled)
		return 1;
	count_call();
	t = thread_state();
	if (!t || nested(t, ctx->sp, cookie))
		return 1;
	d = due(t, size);
	if (MP_COOKIE_OUTER(cookie))
		enter_outer(t, ctx->sp, cookie, d);
	return d ? start_sample(ctx, fn, size, 0) : 1;
}

/* The end of a sampled call: an outer one is over. */
static __always_inline void leave(void)
{
	struct thread_state *t = bpf_task_storage_get(&threads, bpf_get_current_task_btf(), 0, 0);

	if (t)
		t->slot = 0;
}

static __always_inline int alloc_return(struct pt_regs *ctx)
{
	__u64 *sc = bpf_session_cookie();

	if (sc && (*sc & SC_SAMPLED)) {
		leave();
		done(ctx->ax);
	}
	return 0;
}

SEC("uprobe")
int mp_malloc(struct pt_regs *ctx)
{
	if (empty_probes)
		return 1;
	if (bpf_session_is_return())
		return alloc_return(ctx);
	return alloc_entry(ctx, MP_FN_MALLOC, ctx->di, false);
}

SEC("uprobe")
int mp_calloc(struct pt_regs *ctx)
{
	__u64 n, size;

	if (empty_probes)
		return 1;
	if (bpf_session_is_return())
		return alloc_return(ctx);
	if (!mul_ok(ctx->di, ctx->si, &size)) {
		count_call();
		return 1;                 /* calloc fails */
	}
	n = size;
	return alloc_entry(ctx, MP_FN_CALLOC, n, false);
}

SEC("uprobe")
int mp_memalign(struct pt_regs *ctx)
{
	if (empty_probes)
		return 1;
	if (bpf_session_is_return())
		return alloc_return(ctx);
	return alloc_entry(ctx, MP_FN_MEMALIGN, ctx->si, true);
}

SEC("uprobe")
int mp_valloc(struct pt_regs *ctx)
{
	if (empty_probes)
		return 1;
	if (bpf_session_is_return())
		return alloc_return(ctx);
	/* pvalloc allocates whole pages, and `memprof run` counts them. */
	if (MP_COOKIE_FN(bpf_get_attach_cookie(ctx)) == MP_FN_PVALLOC) {
		__u64 n = ctx->di;

		if (n > ~0ull - 4095) {
			count_call();
			return 1;             /* pvalloc fails */
		}
		return alloc_entry(ctx, MP_FN_PVALLOC, n ? (n + 4095) & ~4095ull : 4096, true);
	}
	return alloc_entry(ctx, MP_FN_VALLOC, ctx->di, true);
}

SEC("uprobe")
int mp_posix_memalign(struct pt_regs *ctx)
{
	struct thread_state *t;
	__u64 *sc;

	if (empty_probes)
		return 1;
	if (bpf_session_is_return()) {
		__u64 p = 0;

		sc = bpf_session_cookie();
		if (!sc || !(*sc & SC_SAMPLED))
			return 0;
		leave();
		if (ctx->ax == 0)
			bpf_probe_read_user(&p, sizeof(p), (const void *)(*sc & SC_PTR_MASK));
		done(p);
		return 0;
	}
	__u64 cookie = bpf_get_attach_cookie(ctx), memptr = ctx->di, size = ctx->dx;
	bool d;

	barrier_var(memptr);
	barrier_var(size);
	if (!enabled)
		return 1;
	count_call();
	t = thread_state();
	if (!t || nested(t, ctx->sp, cookie))
		return 1;
	d = due(t, size);
	enter_outer(t, ctx->sp, cookie, d);
	return d ? start_sample(ctx, MP_FN_POSIX_MEMALIGN, size, memptr & SC_PTR_MASK) : 1;
}

/* realloc(p, n) and reallocarray(p, n, m): p == NULL allocates, n == 0
 * frees p (glibc), otherwise p is freed if the call succeeds.  An outer
 * call: glibc's realloc calls malloc and free. */
static __always_inline int realloc_common(struct pt_regs *ctx, __u32 fn, __u64 ptr, __u64 size)
{
	__u64 cookie = bpf_get_attach_cookie(ctx), *sc;
	struct thread_state *t;
	bool tracked = false;
	__u32 h;
	__u32 *hn;

	if (!enabled)
		return 1;
	count_call();
	t = thread_state();
	if (!t || nested(t, ctx->sp, cookie))
		return 1;
	if (ptr && size == 0) {
		enter_outer(t, ctx->sp, cookie, false);
		untrack(ptr);
		return 1;
	}
	if (ptr) {
		h = hint_of(ptr);
		hn = bpf_map_lookup_elem(&hint, &h);
		tracked = hn && *hn && bpf_map_lookup_elem(&live, &ptr);
	}
	if (due(t, size)) {
		enter_outer(t, ctx->sp, cookie, true);
		return start_sample(ctx, fn, size, (tracked ? SC_TRACKED : 0) | (ptr & SC_PTR_MASK));
	}
	if (!tracked) {
		enter_outer(t, ctx->sp, cookie, false);
		return 1;
	}
	/* Not sampled but tracked: a return probe all the same, for the free. */
	enter_outer(t, ctx->sp, cookie, true);
	sc = bpf_session_cookie();
	if (!sc)
		return 1;
	*sc = SC_TRACKED | (ptr & SC_PTR_MASK);
	return 0;
}

static __always_inline int realloc_return(struct pt_regs *ctx)
{
	__u64 *sc = bpf_session_cookie();

	if (!sc)
		return 0;
	leave();
	/* Failure (NULL) leaves the old block as it was. */
	if ((*sc & SC_TRACKED) && ctx->ax)
		untrack(*sc & SC_PTR_MASK);
	if (*sc & SC_SAMPLED)
		done(ctx->ax);
	return 0;
}

SEC("uprobe")
int mp_realloc(struct pt_regs *ctx)
{
	if (empty_probes)
		return 1;
	if (bpf_session_is_return())
		return realloc_return(ctx);
	return realloc_common(ctx, MP_FN_REALLOC, ctx->di, ctx->si);
}

SEC("uprobe")
int mp_reallocarray(struct pt_regs *ctx)
{
	__u64 size;

	if (empty_probes)
		return 1;
	if (bpf_session_is_return())
		return realloc_return(ctx);
	if (!mul_ok(ctx->si, ctx->dx, &size)) {
		count_call();
		return 1;
	}
	return realloc_common(ctx, MP_FN_REALLOCARRAY, ctx->di, size);
}

/* free needs no test for being nested: forgetting a pointer twice is
 * forgetting it once (realloc(p, 0) forgets p before its inner free, and p
 * cannot be handed out again in between: it is not free yet). */
SEC("uprobe")
int mp_free(struct pt_regs *ctx)
{
	__u64 ptr = ctx->di;

	if (empty_probes || !enabled)
		return 1;
	count_call();
	if (ptr)
		untrack(ptr);
	return 1;                         /* no return probe, ever */
}

/* ---- system calls ---------------------------------------------------------- */

/* x86-64 numbers of the calls that create or end descriptors, threads and
 * mappings (arch/x86/entry/syscalls/syscall_64.tbl). */
enum {
	NR_open = 2, NR_close = 3, NR_mmap = 9, NR_munmap = 11, NR_brk = 12, NR_pipe = 22,
	NR_mremap = 25, NR_dup = 32, NR_dup2 = 33, NR_socket = 41, NR_accept = 43,
	NR_socketpair = 53, NR_clone = 56, NR_fork = 57, NR_vfork = 58, NR_fcntl = 72,
	NR_creat = 85, NR_epoll_create = 213, NR_openat = 257, NR_signalfd = 282,
	NR_timerfd_create = 283, NR_eventfd = 284, NR_accept4 = 288, NR_signalfd4 = 289,
	NR_eventfd2 = 290, NR_epoll_create1 = 291, NR_dup3 = 292, NR_pipe2 = 293,
	NR_inotify_init = 253, NR_inotify_init1 = 294, NR_memfd_create = 319,
	NR_pidfd_open = 434, NR_clone3 = 435, NR_close_range = 436, NR_openat2 = 437,
};

struct raw_tp_args {
	unsigned long long args[2];
};

SEC("raw_tracepoint/sys_exit")
int sys_exit(struct raw_tp_args *ctx)
{
	struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
	long ret = (long)ctx->args[1];
	__u64 args[4] = {};
	bool stack = true;
	__u32 nr;

	if (!want_syscalls || !sys_enabled || (bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	nr = (__u32)BPF_CORE_READ(regs, orig_ax);
	switch (nr) {
	case NR_close:
	case NR_munmap:
	case NR_close_range:
		stack = false;
		/* fall through */
	case NR_open: case NR_openat: case NR_openat2: case NR_creat: case NR_dup:
	case NR_dup2: case NR_dup3: case NR_socket: case NR_accept: case NR_accept4:
	case NR_epoll_create: case NR_epoll_create1: case NR_signalfd: case NR_signalfd4:
	case NR_timerfd_create: case NR_eventfd: case NR_eventfd2: case NR_inotify_init:
	case NR_inotify_init1: case NR_memfd_create: case NR_pidfd_open: case NR_fcntl:
	case NR_mmap: case NR_brk: case NR_mremap: case NR_clone: case NR_clone3:
	case NR_fork: case NR_vfork:
		break;
	case NR_pipe: case NR_pipe2: case NR_socketpair: {
		int fds[2] = { -1, -1 };
		const void *p = (const void *)(nr == NR_socketpair ? BPF_CORE_READ(regs, r10)
								   : BPF_CORE_READ(regs, di));
		bpf_probe_read_user(fds, sizeof(fds), p);
		args[2] = (__u64)(__s64)fds[0];
		args[3] = (__u64)(__s64)fds[1];
		break;
	}
	default:
		return 0;
	}
	if (ret < 0 && nr != NR_brk)
		return 0;
	args[0] = BPF_CORE_READ(regs, di);
	args[1] = BPF_CORE_READ(regs, si);
	if (nr != NR_pipe && nr != NR_pipe2 && nr != NR_socketpair) {
		args[2] = BPF_CORE_READ(regs, dx);
		args[3] = BPF_CORE_READ(regs, r10);
	}
	if (nr == NR_clone || nr == NR_clone3 || nr == NR_fork || nr == NR_vfork) {
		if (ret == 0)
			return 0;             /* the child's side */
		if (nr == NR_clone3) {
			__u64 flags = 0;      /* struct clone_args starts with flags */
			bpf_probe_read_user(&flags, sizeof(flags), (const void *)args[0]);
			args[0] = flags;
		}
	}
	if (stack) {
		struct mp_bpf_regs r = {
			.ip = BPF_CORE_READ(regs, ip), .sp = BPF_CORE_READ(regs, sp),
			.bp = BPF_CORE_READ(regs, bp), .bx = BPF_CORE_READ(regs, bx),
			.r12 = BPF_CORE_READ(regs, r12), .r13 = BPF_CORE_READ(regs, r13),
			.r14 = BPF_CORE_READ(regs, r14), .r15 = BPF_CORE_READ(regs, r15),
		};

		struct thread_state *t = thread_state();

		emit_with_stack(MP_EV_SYSCALL, nr, (__u64)ret, args, &r, t ? &t->stack_end : 0);
	} else {
		struct mp_bpf_ev e = {};

		e.type = MP_EV_SYSCALL;
		e.tid = (__u32)bpf_get_current_pid_tgid();
		e.fn = nr;
		e.a = (__u64)ret;
		e.args[0] = args[0];
		e.args[1] = args[1];
		e.args[2] = args[2];
		e.time_ns = bpf_ktime_get_ns();
		if (bpf_ringbuf_output(&events, &e, sizeof(e), 0))
			count(&counters.lost);
	}
	return 0;
}

/* A thread of the process ended (each thread's exit passes here, the
 * last one's too). */
SEC("raw_tracepoint/sched_process_exit")
int thread_exit(struct raw_tp_args *ctx)
{
	struct mp_bpf_ev e = {};

	if (!want_syscalls || !sys_enabled || (bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	e.type = MP_EV_EXIT;
	e.tid = (__u32)bpf_get_current_pid_tgid();
	bpf_get_current_comm(e.args, 16);
	e.time_ns = bpf_ktime_get_ns();
	if (bpf_ringbuf_output(&events, &e, sizeof(e), 0))
		count(&counters.lost);
	return 0;
}

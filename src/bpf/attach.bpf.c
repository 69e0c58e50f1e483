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
 *
 * Sampling is Go's: a countdown of bytes to the next sample, per CPU (the
 * byte stream split over counters is still sampled at 1/rate per byte,
 * the exponential gap being memoryless), refilled from a table of gaps
 * user space computed (the quantiles of the exponential distribution with
 * mean `rate`, picked at random: no floating point here).
 *
 * A sampled call copies the user stack from the stack pointer to the end of
 * its mapping (at most MP_BPF_STACK_MAX bytes) into an MP_EV_ALLOC event;
 * user space unwinds it with the program's CFI.  Its return writes
 * MP_EV_DONE with the pointer, which from then on is tracked (`live`), so
 * that its free writes MP_EV_FREE.  Frees of untracked pointers (unsampled,
 * or allocated before attach) cost one hash lookup and write nothing.
 *
 * glibc implements realloc with malloc and free, and memalign and its
 * relatives with malloc: an inner call must not count twice.  An "outer"
 * probe remembers, per thread, where its return address lies and what it
 * is; a later probe hit deeper on that stack while that slot still holds
 * that address is inside the outer call and is skipped.  No return probe is
 * needed to forget it: once the outer call returns, a later call either is
 * not deeper than the slot or has overwritten it.
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
	unsigned long bp, ax, dx, si, di, r10, r8, orig_ax, ip, sp;
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

struct countdown {
	__s64 left;
	__u32 init;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct countdown);
} countdown SEC(".maps");

/* Sampled blocks still allocated: pointer -> 1.  Size set by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1 << 19);
	__type(key, __u64);
	__type(value, __u8);
} live SEC(".maps");

struct outer {
	__u64 slot;                   /* where the outer call's return address lies */
	__u64 ra;                     /* and what it was */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct outer);
} outers SEC(".maps");

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

static long vma_end_cb(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	*(__u64 *)data = vma->vm_end;
	return 0;
}

/* Write an event with the user stack from regs' sp up (to the end of its
 * mapping, at most MP_BPF_STACK_MAX bytes).  A scratch buffer already in use
 * on this CPU (a preempted probe) or an unreadable stack gives an event
 * without stack bytes. */
static __always_inline void emit_with_stack(__u32 type, __u32 fn, __u64 a, const __u64 *args,
					    __u64 ip, __u64 sp, __u64 bp)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct scratch *s = bpf_map_lookup_elem(&scratch, &cpu);
	struct mp_bpf_ev small = {};
	__u64 end = 0, len;

	if (!s)
		return;
	if (__sync_lock_test_and_set(&s->busy, 1)) {
		count(&counters.stack_busy);
		small.type = type;
		small.tid = (__u32)bpf_get_current_pid_tgid();
		small.fn = fn;
		small.a = a;
		small.ip = ip;
		small.sp = sp;
		small.bp = bp;
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
	s->ev.ip = ip;
	s->ev.sp = sp;
	s->ev.bp = bp;
	s->ev.time_ns = bpf_ktime_get_ns();
	s->ev.args[0] = args ? args[0] : 0;
	s->ev.args[1] = args ? args[1] : 0;
	s->ev.args[2] = args ? args[2] : 0;
	s->ev.args[3] = args ? args[3] : 0;
	bpf_find_vma(bpf_get_current_task_btf(), sp, vma_end_cb, &end, 0);
	if (end <= sp)
		end = (sp | 4095) + 1;          /* no mapping found: the page sp is in */
	len = end - sp;
	if (len > MP_BPF_STACK_MAX)
		len = MP_BPF_STACK_MAX;
	if (bpf_probe_read_user(s->stack, len, (const void *)sp) != 0) {
		/* Part of it not present: the page sp is in at least. */
		len = ((sp | 4095) + 1) - sp;
		if (len > MP_BPF_STACK_MAX)
			len = MP_BPF_STACK_MAX;
		if (bpf_probe_read_user(s->stack, len, (const void *)sp) != 0)
			len = 0;
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

/* Whether this call is due for a sample: Go's countdown of bytes. */
static __always_inline bool due(__u64 size)
{
	__u32 zero = 0;
	struct countdown *c;

	if (sample_all)
		return true;
	if (sample_none)
		return false;
	c = bpf_map_lookup_elem(&countdown, &zero);
	if (!c)
		return false;
	if (!c->init || c->left <= (__s64)size) {
		__u32 k = bpf_get_prandom_u32() & (MP_BPF_NGAPS - 1);
		__u64 *g = bpf_map_lookup_elem(&gaps, &k);
		bool was = c->init;

		c->left = g ? (__s64)*g : 1;
		c->init = 1;
		/* The first gap is only a start: a call is not sampled for
		 * being the first one seen on this CPU. */
		if (was)
			return true;
		if (c->left > (__s64)size) {
			c->left -= (__s64)size;
			return false;
		}
		return true;
	}
	c->left -= (__s64)size;
	return false;
}

/* The return address of the probed call: at sp + ra_off. */
static __always_inline __u64 read_ra(__u64 sp, __u64 cookie, __u64 *slot)
{
	__u64 ra = 0;

	*slot = sp + MP_COOKIE_RA_OFF(cookie);
	bpf_probe_read_user(&ra, sizeof(ra), (const void *)*slot);
	return ra;
}

/* Inside an outer allocator call of this thread (see the top)?  An outer
 * call that is not itself nested is remembered. */
static __always_inline bool nested(__u64 sp, __u64 cookie)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct outer *o = bpf_map_lookup_elem(&outers, &tid);
	__u64 slot, ra = read_ra(sp, cookie, &slot);

	if (o && sp < o->slot) {
		__u64 now = 0;

		if (bpf_probe_read_user(&now, sizeof(now), (const void *)o->slot) == 0 &&
		    now == o->ra) {
			count(&counters.nested);
			return true;
		}
	}
	if (MP_COOKIE_OUTER(cookie)) {
		struct outer n = { .slot = slot, .ra = ra };

		bpf_map_update_elem(&outers, &tid, &n, BPF_ANY);
	}
	return false;
}

/* The session cookie of a sampled or tracking call: what the return needs. */
#define SC_SAMPLED (1ull << 63)
#define SC_TRACKED (1ull << 62)
#define SC_PTR_MASK ((1ull << 62) - 1)

static __always_inline int start_sample(struct pt_regs *ctx, __u32 fn, __u64 size, __u64 keep)
{
	__u64 *sc = bpf_session_cookie();

	count(&counters.sampled);
	emit_with_stack(MP_EV_ALLOC, fn, size, 0, ctx->ip, ctx->sp, ctx->bp);
	if (sc)
		*sc = SC_SAMPLED | keep;
	return 0;                         /* run the return program */
}

/* A tracked pointer was freed: forget it and tell user space. */
static __always_inline void untrack(__u64 ptr)
{
	if (bpf_map_delete_elem(&live, &ptr) == 0)
		emit_small(MP_EV_FREE, ptr);
}

static __always_inline void done(__u64 ptr)
{
	struct mp_bpf_ev *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	__u8 one = 1;

	/* Reserved before the pointer is tracked: its MP_EV_FREE, from any
	 * thread, comes after this in the ring buffer. */
	if (ptr && bpf_map_update_elem(&live, &ptr, &one, BPF_ANY) != 0)
		count(&counters.live_full);
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

static __always_inline int alloc_entry(struct pt_regs *ctx, __u32 fn, __u64 size)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);

	count(&counters.calls);
	if (nested(ctx->sp, cookie))
		return 1;
	if (!due(size))
		return 1;
	return start_sample(ctx, fn, size, 0);
}

static __always_inline int alloc_return(struct pt_regs *ctx)
{
	__u64 *sc = bpf_session_cookie();

	if (sc && (*sc & SC_SAMPLED))
		done(ctx->ax);
	return 0;
}

SEC("uprobe")
int mp_malloc(struct pt_regs *ctx)
{
	if (empty_probes)
		return 1;
	if (bpf_session_is_return())
		return alloc_return(ctx);
	return alloc_entry(ctx, MP_FN_MALLOC, ctx->di);
}

SEC("uprobe")
int mp_calloc(struct pt_regs *ctx)
{
	__u64 n, size;

	if (empty_probes)
		return 1;
	if (bpf_session_is_return())
		return alloc_return(ctx);
	if (!mul_ok(ctx->di, ctx->si, &size))
		return 1;                 /* calloc fails */
	n = size;
	return alloc_entry(ctx, MP_FN_CALLOC, n);
}

SEC("uprobe")
int mp_memalign(struct pt_regs *ctx)
{
	if (empty_probes)
		return 1;
	if (bpf_session_is_return())
		return alloc_return(ctx);
	return alloc_entry(ctx, MP_FN_MEMALIGN, ctx->si);
}

SEC("uprobe")
int mp_valloc(struct pt_regs *ctx)
{
	if (empty_probes)
		return 1;
	if (bpf_session_is_return())
		return alloc_return(ctx);
	return alloc_entry(ctx, MP_FN_VALLOC, ctx->di);
}

SEC("uprobe")
int mp_posix_memalign(struct pt_regs *ctx)
{
	__u64 *sc;

	if (empty_probes)
		return 1;
	if (bpf_session_is_return()) {
		__u64 p = 0;

		sc = bpf_session_cookie();
		if (!sc || !(*sc & SC_SAMPLED))
			return 0;
		if (ctx->ax == 0)
			bpf_probe_read_user(&p, sizeof(p), (const void *)(*sc & SC_PTR_MASK));
		done(p);
		return 0;
	}
	__u64 cookie = bpf_get_attach_cookie(ctx), memptr = ctx->di, size = ctx->dx;

	barrier_var(memptr);
	barrier_var(size);
	count(&counters.calls);
	if (nested(ctx->sp, cookie) || !due(size))
		return 1;
	return start_sample(ctx, MP_FN_POSIX_MEMALIGN, size, memptr & SC_PTR_MASK);
}

/* realloc(p, n) and reallocarray(p, n, m): p == NULL allocates, n == 0
 * frees p (glibc), otherwise p is freed if the call succeeds. */
static __always_inline int realloc_common(struct pt_regs *ctx, __u32 fn, __u64 ptr, __u64 size)
{
	__u64 cookie = bpf_get_attach_cookie(ctx), *sc;
	bool tracked;

	count(&counters.calls);
	if (nested(ctx->sp, cookie))
		return 1;
	if (ptr && size == 0) {
		untrack(ptr);
		return 1;
	}
	tracked = ptr && bpf_map_lookup_elem(&live, &ptr);
	if (due(size))
		return start_sample(ctx, fn, size, (tracked ? SC_TRACKED : 0) | (ptr & SC_PTR_MASK));
	if (!tracked)
		return 1;
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
	if (!mul_ok(ctx->si, ctx->dx, &size))
		return 1;
	return realloc_common(ctx, MP_FN_REALLOCARRAY, ctx->di, size);
}

SEC("uprobe")
int mp_free(struct pt_regs *ctx)
{
	__u64 ptr = ctx->di;

	if (empty_probes)
		return 1;
	if (bpf_session_is_return())
		return 0;
	count(&counters.calls);
	if (!ptr || nested(ctx->sp, bpf_get_attach_cookie(ctx)))
		return 1;
	untrack(ptr);
	return 1;
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

	if (!want_syscalls || (bpf_get_current_pid_tgid() >> 32) != target_tgid)
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
	if (stack)
		emit_with_stack(MP_EV_SYSCALL, nr, (__u64)ret, args, BPF_CORE_READ(regs, ip),
				BPF_CORE_READ(regs, sp), BPF_CORE_READ(regs, bp));
	else {
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

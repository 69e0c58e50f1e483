/* SPDX-License-Identifier: MIT */
/*
 * The contract between the BPF program (attach.bpf.c, in the kernel) and
 * memprof attach (attach.c, in user space): the events the program writes
 * to its ring buffer and the cookie each allocator probe carries.  Shared
 * by both sides, so only fixed-width types and no libc.
 *
 * Every event starts with struct mp_bpf_ev.  Events of one thread appear in
 * the ring buffer in the order they happened (a ring buffer keeps the order
 * of reservation), so a sampled call's MP_EV_ALLOC is followed, for its
 * thread, by its MP_EV_DONE, and a pointer's MP_EV_FREE comes after the
 * MP_EV_DONE that made it tracked.
 */
#ifndef MP_BPF_ATTACH_H
#define MP_BPF_ATTACH_H

/* Most stack bytes one event copies, from the stack pointer up (a power of
 * two: the program bounds the copy with it). */
#define MP_BPF_STACK_MAX 65536

/* Entries of the table of exponential sampling gaps (a power of two). */
#define MP_BPF_NGAPS 16384

enum mp_bpf_ev_type {
	MP_EV_ALLOC = 1,      /* a sampled allocation call began: size, regs, stack */
	MP_EV_DONE = 2,       /* ...and returned ptr (0: it failed) */
	MP_EV_FREE = 3,       /* a tracked pointer was freed (or realloc'd away) */
	MP_EV_SYSCALL = 4,    /* a system call of interest returned (nr, ret, args) */
	MP_EV_EXIT = 5,       /* a thread ended (args[0..1]: its name, 16 bytes) */
};

/* The allocator entry points, as the probes' cookies name them. */
enum mp_bpf_fn {
	MP_FN_MALLOC = 0,       /* (size) */
	MP_FN_CALLOC,           /* (n, size) */
	MP_FN_REALLOC,          /* (ptr, size) */
	MP_FN_REALLOCARRAY,     /* (ptr, n, size): not probed in glibc (it calls realloc) */
	MP_FN_MEMALIGN,         /* (align, size): memalign, aligned_alloc */
	MP_FN_POSIX_MEMALIGN,   /* (void **, align, size) -> int */
	MP_FN_VALLOC,           /* (size): valloc */
	MP_FN_FREE,             /* (ptr): free, cfree */
	MP_FN_PVALLOC,          /* (size): pvalloc, which allocates whole pages */
	MP_FN_COUNT
};

/*
 * A probe's cookie: the function in bits 0-7, bit 8 set for an "outer"
 * function (one glibc implements by calling another probed one: realloc
 * calls malloc and free, memalign may call malloc), and in bits 16-31 the
 * offset from the stack pointer at the probe site to the return address
 * (0 at the entry; more when the site is after pushes).
 */
#define MP_COOKIE(fn, outer, ra_off) \
	((unsigned long long)(fn) | ((unsigned long long)(outer) << 8) | \
	 ((unsigned long long)(ra_off) << 16))
#define MP_COOKIE_FN(c) ((unsigned)((c) & 0xff))
#define MP_COOKIE_OUTER(c) ((unsigned)(((c) >> 8) & 1))
#define MP_COOKIE_RA_OFF(c) ((unsigned)(((c) >> 16) & 0xffff))

/* User registers where a stack was taken: what unwinding it needs (the
 * instruction and stack pointers, and the callee-saved registers, which
 * call frame information may name a frame's address by). */
struct mp_bpf_regs {
	unsigned long long ip, sp, bp, bx, r12, r13, r14, r15;
};

struct mp_bpf_ev {
	unsigned int type;          /* enum mp_bpf_ev_type */
	unsigned int tid;
	unsigned int fn;            /* MP_EV_ALLOC: enum mp_bpf_fn; MP_EV_SYSCALL: number */
	unsigned int stack_len;     /* stack bytes following this header */
	unsigned long long a;       /* ALLOC: size; DONE/FREE: ptr; SYSCALL: return value */
	unsigned long long args[4]; /* SYSCALL: its first arguments (or what they point to) */
	struct mp_bpf_regs regs;    /* where the stack was taken */
	unsigned long long time_ns; /* bpf_ktime_get_ns */
	/* then stack_len bytes: the user stack from sp up */
};

/* Counters the program keeps in its .bss (read at detach). */
struct mp_bpf_counters {
	unsigned long long calls;        /* allocator probe hits */
	unsigned long long sampled;      /* of those, sampled */
	unsigned long long lost;         /* events the ring buffer had no room for */
	unsigned long long live_full;    /* sampled blocks not tracked: table full */
	unsigned long long stack_busy;   /* sampled with no stack (scratch in use) */
	unsigned long long nested;       /* calls inside another probed call, skipped */
};

#endif

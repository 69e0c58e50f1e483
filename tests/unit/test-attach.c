/* SPDX-License-Identifier: MIT */
/*
 * memprof attach's user-space parts without BPF: probe sites from
 * instruction bytes (including glibc's own malloc and free), module and
 * FDE lookup in this process's libc, and the remote unwinder walking a copy
 * of this very stack (built -O2 -fomit-frame-pointer) to main, compared
 * with the return addresses the compiler reports; the collector's pointer
 * accounting from synthetic events.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpf/collect.h"
#include "bpf/elfmod.h"
#include "bpf/runwind.h"
#include "bpf/sites.h"
#include "common/snapshot-read.h"
#include "tap.h"

static void test_sites(void)
{
	static const struct {
		const char *what;
		uint8_t code[48];
		size_t len;
		unsigned nargs;
		bool ret;
		bool free;
		uint32_t off, ra_off;
		int emulated, after_null;
	} cases[] = {
		{ "push r12 first", { 0x41, 0x54, 0x55 }, 3, 1, false, false, 0, 0, 1, 0 },
		{ "push rbp first", { 0x55, 0x48 }, 2, 1, false, false, 0, 0, 1, 0 },
		{ "endbr64; push rbp", { 0xf3, 0x0f, 0x1e, 0xfa, 0x55 }, 5, 1, false, false, 4, 0, 1, 0 },
		{ "cmpb $0,rip+x; push r12", { 0x80, 0x3d, 1, 2, 3, 4, 0, 0x41, 0x54 }, 9, 1, false, false,
		  7, 0, 1, 0 },
		/* push; push; sub $0x18,%rsp; cmp; je: the je, ra 0x28 above sp */
		{ "pushes, sub rsp, then je", { 0x55, 0x53, 0x48, 0x83, 0xec, 0x18, 0x48, 0x85, 0xf6,
						0x74, 0x05 }, 11, 1, false, false, 9, 0x28, 1, 0 },
		/* mov %rdi,%rbx does not touch rdi; mov %rsi,%rdi does */
		{ "rdi copied, then je", { 0x41, 0x54, 0x48, 0x89, 0xfb, 0x74, 0x01 }, 7, 1, false, false,
		  5, 8, 1, 0 },
		{ "rdi overwritten: the push before", { 0x41, 0x54, 0x48, 0x89, 0xf7, 0x74, 0x01 }, 7, 1,
		  false, false, 0, 0, 1, 0 },
		{ "rsi overwritten, one argument read: the je",
		  { 0x41, 0x54, 0x48, 0x89, 0xfe, 0x74, 0x01 }, 7, 1, false, false, 5, 8, 1, 0 },
		{ "rsi overwritten, two arguments read: the push",
		  { 0x41, 0x54, 0x48, 0x89, 0xfe, 0x74, 0x01 }, 7, 2, false, false, 0, 0, 1, 0 },
		/* a store ends the walk: the push before it */
		{ "store ends the line", { 0x55, 0x48, 0x89, 0x07, 0x74, 0x01 }, 6, 1, false, false, 0, 0, 1, 0 },
		/* mov %rsp,%rbp moves no stack pointer; and $-16,%rsp does: stop */
		{ "and rsp ends the line", { 0x55, 0x48, 0x83, 0xe4, 0xf0, 0x74, 0x01 }, 7, 1, false, false,
		  0, 0, 1, 0 },
		/* test rdi,rdi; je to a ret; push rbp; lea -0x10(%rdi),%rsi; test $2,%al; jne */
		{ "free: past the NULL test to the jne",
		  { 0x48, 0x85, 0xff, 0x74, 0x0b, 0x55, 0x48, 0x8d, 0x77, 0xf0, 0xa8, 0x02, 0x75, 0x01,
		    0x90, 0x5d, 0xc3, 0xc3 }, 18, 1, false, true, 12, 8, 1, 1 },
		{ "free: past the NULL test to the push",
		  { 0x48, 0x85, 0xff, 0x74, 0x04, 0x55, 0x48, 0x8b, 0x07, 0xc3 }, 10, 1, false, true, 5, 0, 1, 1 },
		{ "not free: the je of the test",
		  { 0x48, 0x85, 0xff, 0x74, 0x04, 0x55, 0x48, 0x8b, 0x07, 0xc3 }, 10, 1, false, false, 3, 0, 1, 0 },
		{ "free, je not to a ret: the je",
		  { 0x48, 0x85, 0xff, 0x74, 0x04, 0x55, 0x48, 0x8b, 0x07, 0x90 }, 10, 1, false, true, 3, 0, 1, 0 },
		{ "free, jne instead of je: the jne",
		  { 0x48, 0x85, 0xff, 0x75, 0x04, 0x55, 0x48, 0x8b, 0x07, 0xc3 }, 10, 1, false, true, 3, 0, 1, 0 },
		{ "free, test of rsi: the je",
		  { 0x48, 0x85, 0xf6, 0x74, 0x04, 0x55, 0x48, 0x8b, 0x07, 0xc3 }, 10, 1, false, true, 3, 0, 1, 0 },
		{ "free, je target out of the bytes: the je",
		  { 0x48, 0x85, 0xff, 0x74, 0x70, 0x55 }, 6, 1, false, true, 3, 0, 1, 0 },
		{ "free, rdi written before the test: entry",
		  { 0x48, 0x89, 0xf7, 0x48, 0x85, 0xff, 0x74, 0x01, 0xc3 }, 9, 1, false, true, 0, 0, 0, 0 },
		{ "mov rax,rsi first, then push: the push (rdi intact)", { 0x48, 0x89, 0xf0, 0x55 }, 4,
		  1, true, false, 3, 0, 1, 0 },
		{ "mov rdi,rsi first: entry, single-stepped", { 0x48, 0x89, 0xf7, 0x55 }, 4, 1, false, false,
		  0, 0, 0, 0 },
		{ "unknown first: entry", { 0x0f, 0x0b, 0x55 }, 3, 1, false, false, 0, 0, 0, 0 },
		{ "cut short", { 0x0f }, 1, 1, false, false, 0, 0, 0, 0 },
		{ "empty", { 0 }, 0, 1, false, false, 0, 0, 0, 0 },
		/* nops are emulated only by recent kernels: walked over, never a site */
		{ "nop, then push: the push", { 0x90, 0x55 }, 2, 1, true, false, 1, 0, 1, 0 },
		{ "nop5, then je: the je", { 0x0f, 0x1f, 0x44, 0x00, 0x00, 0x74, 0x01 }, 7, 1, true,
		  false, 5, 0, 1, 0 },
		{ "66 nop6, then jmp: the jmp", { 0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00, 0xeb, 0x00 }, 8, 1,
		  true, false, 6, 0, 1, 0 },
		{ "nop only: entry", { 0x90 }, 1, 1, true, false, 0, 0, 0, 0 },
		/* with a return probe, [sp] must be the return address: no push before */
		{ "return probe: the first push, not the je after it",
		  { 0x55, 0x53, 0x48, 0x83, 0xec, 0x18, 0x48, 0x85, 0xf6, 0x74, 0x05 }, 11, 1, true,
		  false, 0, 0, 1, 0 },
		{ "return probe: the je before any push",
		  { 0x80, 0x3d, 1, 2, 3, 4, 0, 0x74, 0x07, 0x55 }, 10, 2, true, false, 7, 0, 1, 0 },
		{ "return probe: the push after cmp and a copy of rdi",
		  { 0x80, 0x3d, 1, 2, 3, 4, 0, 0x48, 0x89, 0xfb, 0x53, 0x74, 0x01 }, 13, 1, true, false,
		  10, 0, 1, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mp_site s;

		mp_site_choose(cases[i].code, cases[i].len, cases[i].nargs, cases[i].ret,
			       cases[i].free, UINT32_MAX, &s);
		printf("# %s: +%u %s ra +%u\n", cases[i].what, s.off, s.insn, s.ra_off);
		CHECK_INT(s.off, cases[i].off);
		CHECK_INT(s.ra_off, cases[i].ra_off);
		CHECK_INT(s.emulated, cases[i].emulated);
		CHECK_INT(s.after_null_test, cases[i].after_null);
	}
	/* max_off: no site after it. */
	{
		static const uint8_t c[] = { 0x55, 0x53, 0x74, 0x01 };
		struct mp_site s;

		mp_site_choose(c, sizeof(c), 1, false, false, 1, &s);
		CHECK_INT(s.off, 0);
		mp_site_choose(c, sizeof(c), 1, false, false, 2, &s);
		CHECK_INT(s.off, 2);
	}
	/* A branch landing between the entry and the site. */
	{
		/* push; push; je +1; ret; jmp -5 (to 2); jmp rel32 +0 (to 12), then
		 * a function after it (at 12): jmp rel8 -12 (to 2), jmp rel32 -14 (to 1) */
		static const uint8_t seg[] = { 0x55, 0x53, 0x74, 0x01, 0xc3, 0xeb, 0xfb, 0xe9, 0, 0, 0, 0,
					       0xeb, 0xf4, 0xe9, 0xee, 0xff, 0xff, 0xff };

		CHECK_INT(mp_site_branched_into(seg, 12, 0x1000, 0x1000, 12, 2), 2);
		CHECK_INT(mp_site_branched_into(seg, sizeof(seg), 0x1000, 0x1000, 12, 2), 1);
		/* before the site: known instructions, not searched */
		CHECK_INT(mp_site_branched_into(seg, 7, 0x1000, 0x1000, 12, 1), 0);
		CHECK_INT(mp_site_branched_into(seg, sizeof(seg), 0x1000, 0x1000, 12, 0), 0);
		/* rel32 from another function counts, its rel8 does not */
		CHECK_INT(mp_site_branched_into(seg + 12, 7, 0x100c, 0x1000, 12, 2), 1);
		CHECK_INT(mp_site_branched_into(seg + 12, 2, 0x100c, 0x1000, 12, 2), 0);
	}
}

/*
 * Debian 12's glibc 2.36: the first bytes of malloc, free, realloc and
 * calloc as objdump shows them, and the sites they must get.
 */
static void test_sites_glibc236(void)
{
	static const uint8_t malloc_[] = {
		0x41, 0x54, 0x55, 0x53, 0x48, 0x89, 0xfb, 0x48, 0x83, 0xec, 0x10, 0x80, 0x3d, 0x46,
		0x1b, 0x14, 0x00, 0x00, 0x0f, 0x84, 0xf8, 0x01, 0x00, 0x00, 0x48, 0x85, 0xdb, 0x0f,
		0x88, 0xfd, 0x01, 0x00, 0x00,
	};
	/* free: through +0x25, then zeros to the ret at +0xc8 */
	static uint8_t free_[0xc9] = {
		0x48, 0x85, 0xff, 0x0f, 0x84, 0xbf, 0x00, 0x00, 0x00, 0x55, 0x48, 0x8d, 0x77, 0xf0,
		0x53, 0x48, 0x83, 0xec, 0x18, 0x48, 0x8b, 0x1d, 0xd6, 0x9e, 0x13, 0x00, 0x48, 0x8b,
		0x47, 0xf8, 0x64, 0x8b, 0x2b, 0xa8, 0x02, 0x75, 0x5b,
	};
	static const uint8_t realloc_[] = {
		0x41, 0x57, 0x41, 0x56, 0x41, 0x55, 0x41, 0x54, 0x55, 0x48, 0x89, 0xf5, 0x53, 0x48,
		0x89, 0xfb, 0x48, 0x83, 0xec, 0x28, 0x80, 0x3d, 0x3d, 0x13, 0x14, 0x00, 0x00, 0x0f,
		0x84, 0x57, 0x01, 0x00, 0x00,
	};
	static const uint8_t calloc_[] = {
		0x41, 0x55, 0x48, 0x89, 0xf8, 0x41, 0x54, 0x55, 0x53, 0x48, 0x83, 0xec, 0x18, 0x48,
		0xf7, 0xe6, 0x48, 0x89, 0xc3, 0x0f, 0x90, 0xc0, 0x48, 0x85, 0xdb, 0x0f, 0x88, 0xd9,
		0x02, 0x00, 0x00,
	};
	struct mp_site s;

	free_[0xc8] = 0xc3;
	/* malloc's return probe needs the return address at sp: its first push */
	mp_site_choose(malloc_, sizeof(malloc_), 1, true, false, UINT32_MAX, &s);
	printf("# glibc 2.36 malloc: +%u %s ra +%u\n", s.off, s.insn, s.ra_off);
	CHECK_INT(s.off, 0);
	CHECK_INT(s.ra_off, 0);
	CHECK(strcmp(s.insn, "push %r12") == 0);
	/* without one, the je after the pushes */
	mp_site_choose(malloc_, sizeof(malloc_), 1, false, false, UINT32_MAX, &s);
	CHECK_INT(s.off, 0x12);
	CHECK_INT(s.ra_off, 0x28);
	CHECK(strcmp(s.insn, "je") == 0);
	mp_site_choose(free_, sizeof(free_), 1, false, true, UINT32_MAX, &s);
	printf("# glibc 2.36 free: +%u %s ra +%u%s\n", s.off, s.insn, s.ra_off,
	       s.after_null_test ? " after the NULL test" : "");
	CHECK_INT(s.off, 0x23);
	CHECK_INT(s.ra_off, 0x28);
	CHECK(s.after_null_test);
	CHECK(strcmp(s.insn, "jne") == 0);
	/* Only the push after the NULL test when a site may not come later. */
	mp_site_choose(free_, sizeof(free_), 1, false, true, 0x22, &s);
	CHECK_INT(s.off, 9);
	CHECK_INT(s.ra_off, 0);
	CHECK(s.after_null_test);
	CHECK(strcmp(s.insn, "push %rbp") == 0);
	mp_site_choose(realloc_, sizeof(realloc_), 2, true, false, UINT32_MAX, &s);
	printf("# glibc 2.36 realloc: +%u %s ra +%u\n", s.off, s.insn, s.ra_off);
	CHECK_INT(s.off, 0);
	mp_site_choose(realloc_, sizeof(realloc_), 2, false, false, UINT32_MAX, &s);
	CHECK_INT(s.off, 0x1b);
	CHECK_INT(s.ra_off, 0x58);
	mp_site_choose(calloc_, sizeof(calloc_), 2, true, false, UINT32_MAX, &s);
	printf("# glibc 2.36 calloc: +%u %s ra +%u\n", s.off, s.insn, s.ra_off);
	CHECK_INT(s.off, 0);
	CHECK(strcmp(s.insn, "push %r13") == 0);
	/* mul writes rax and rdx, seto al: rdi and rsi intact to the js */
	mp_site_choose(calloc_, sizeof(calloc_), 2, false, false, UINT32_MAX, &s);
	CHECK_INT(s.off, 0x19);
	CHECK_INT(s.ra_off, 0x38);
	CHECK(strcmp(s.insn, "js") == 0);
}

static char libc_path[4096];

static void find_libc(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[4608];

	while (f && fgets(line, sizeof(line), f)) {
		char *p = strchr(line, '/');

		if (p && strstr(p, "/libc.so")) {
			p[strcspn(p, "\n")] = '\0';
			snprintf(libc_path, sizeof(libc_path), "%s", p);
			break;
		}
	}
	if (f)
		fclose(f);
}

static void test_libc_probes(void)
{
	struct mp_elfmod *m = NULL;
	struct mp_probe p[MP_MAX_PROBES];
	size_t n;
	int have_malloc = 0, have_free = 0;

	find_libc();
	CHECK(libc_path[0]);
	CHECK_INT(mp_elfmod_open(libc_path, &m), 0);
	if (!m)
		return;
	n = mp_probes_find(m, p);
	CHECK(n >= 5);
	for (size_t i = 0; i < n; i++) {
		printf("# %s at +%u (%s)%s\n", p[i].name, p[i].site.off, p[i].site.insn,
		       p[i].site.emulated ? "" : " single-stepped");
		if (strcmp(p[i].name, "malloc") == 0) {
			have_malloc = 1;
			CHECK(p[i].site.emulated);
			CHECK_INT(p[i].fn, MP_FN_MALLOC);
		}
		if (strcmp(p[i].name, "free") == 0) {
			const uint8_t *c;
			size_t len = 3;

			have_free = 1;
			CHECK(p[i].site.emulated);
			/* glibc's free begins with its NULL test: probed past it */
			c = mp_elfmod_bytes(m, p[i].vaddr, &len);
			if (c && len == 3 && c[0] == 0x48 && c[1] == 0x85 && c[2] == 0xff)
				CHECK(p[i].site.after_null_test && p[i].site.off > 5);
		}
		/* Those with a return probe: the return address at sp. */
		if (p[i].fn != MP_FN_FREE)
			CHECK_INT(p[i].site.ra_off, 0);
		CHECK(strcmp(p[i].name, "reallocarray") != 0);
	}
	CHECK(have_malloc && have_free);
	/* The FDE of malloc covers it. */
	{
		uint64_t va = 0, size = 0, func = 0;
		const uint8_t *fde;
		uintptr_t lo, hi;

		CHECK(mp_elfmod_dynsym(m, "malloc", &va, &size));
		CHECK(mp_elfmod_fde(m, va + 1, &fde, &func, &lo, &hi));
		CHECK(func <= va);
		CHECK(!mp_elfmod_dynsym(m, "no_such_function_here", &va, &size));
	}
	mp_elfmod_free(m);
	CHECK_INT(mp_elfmod_open("/proc/self/exe", &m), 0);
	CHECK(m && mp_elfmod_has_interp(m));       /* this test is linked dynamically */
	mp_elfmod_free(m);
	CHECK(mp_elfmod_open("/nonexistent/file", &m) < 0);
	CHECK(mp_elfmod_open("/proc/self/status", &m) < 0);
}

/* ---- walking a copy of our own stack ---- */

static uint64_t want[8];
static uint64_t got[64];
static uint32_t ngot;

/* Copy our own stack, redzones and all (the sanitizer must not look). */
__attribute__((no_sanitize("address"), noinline)) static void copy_stack(uint8_t *dst,
									   uint64_t src, size_t n)
{
	volatile const uint8_t *s = (volatile const uint8_t *)(uintptr_t)src;

	for (size_t i = 0; i < n; i++)
		dst[i] = s[i];
}

__attribute__((noinline, noclone)) static uint32_t leaf(struct mp_runwind *u)
{
	struct mp_bpf_regs r;
	uint64_t sp, bp, ip, end;
	static uint8_t copy[65536];
	FILE *f;
	char line[512];

	/* Registers as they are here, and a copy of the stack from sp up. */
	asm volatile("lea 0(%%rip), %0\n\tmov %%rsp, %1\n\tmov %%rbp, %2" : "=r"(ip), "=r"(sp), "=r"(bp));
	r = (struct mp_bpf_regs){ .ip = ip, .sp = sp, .bp = bp };
	end = 0;
	f = fopen("/proc/self/maps", "re");
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long long s, e;

		if (sscanf(line, "%llx-%llx", &s, &e) == 2 && sp >= s && sp < e)
			end = e;
	}
	if (f)
		fclose(f);
	if (end - sp > sizeof(copy))
		end = sp + sizeof(copy);
	copy_stack(copy, sp, end - sp);
	want[0] = (uint64_t)__builtin_return_address(0);
	ngot = mp_runwind_walk(u, &r, copy, end - sp, got, 64);
	asm volatile("" ::: "memory");
	return ngot;
}

__attribute__((noinline, noclone)) static uint32_t middle(struct mp_runwind *u, int depth)
{
	volatile char pad[100];
	uint32_t r;

	pad[0] = (char)depth;
	r = depth ? middle(u, depth - 1) : leaf(u);
	want[1 + depth] = (uint64_t)__builtin_return_address(0);
	asm volatile("" ::: "memory");
	return r + pad[0] * 0;
}

static void test_walk_self(void)
{
	struct mp_runwind *u = NULL;

	CHECK_INT(mp_runwind_new(getpid(), &u), 0);
	if (!u)
		return;
	CHECK(mp_runwind_nmodules(u) > 2);
	middle(u, 3);
	/* leaf's caller, then middle x4's callers (the last in this function). */
	CHECK(ngot >= 6);
	CHECK_U64(got[0], want[0]);
	for (int d = 0; d < 4; d++)
		CHECK_U64(got[1 + d], want[1 + d]);
	/* ... down to main and __libc_start_main: every frame in a module. */
	for (uint32_t i = 0; i < ngot; i++)
		CHECK(mp_runwind_find(u, got[i]) != NULL);
	mp_runwind_free(u);
	CHECK(mp_runwind_new(999999999, &u) < 0);
}

static void test_collect(void)
{
	struct mp_collect *c = NULL;
	struct mp_snap *h = NULL, *m = NULL;
	struct mp_bpf_ev ev;

	CHECK_INT(mp_collect_new(getpid(), 1, 64, &c), 0);
	if (!c)
		return;
	/* Two sampled allocations of 10 and 20 bytes on one thread (no stack
	 * copied), one freed, a free of an unknown pointer, a failed call. */
	memset(&ev, 0, sizeof(ev));
	ev.type = MP_EV_ALLOC; ev.tid = 7; ev.a = 10;
	mp_collect_event(c, &ev, NULL);
	ev.type = MP_EV_DONE; ev.a = 0x1000;
	mp_collect_event(c, &ev, NULL);
	ev.type = MP_EV_ALLOC; ev.a = 20;
	mp_collect_event(c, &ev, NULL);
	ev.type = MP_EV_DONE; ev.a = 0x2000;
	mp_collect_event(c, &ev, NULL);
	ev.type = MP_EV_FREE; ev.a = 0x1000;
	mp_collect_event(c, &ev, NULL);
	ev.type = MP_EV_FREE; ev.a = 0x9999;
	mp_collect_event(c, &ev, NULL);
	ev.type = MP_EV_ALLOC; ev.a = 30;
	mp_collect_event(c, &ev, NULL);
	ev.type = MP_EV_DONE; ev.a = 0;
	mp_collect_event(c, &ev, NULL);
	/* Threads: 5151 made by clone (thread flag) and ended; 4242 ended,
	 * never seen made; 6161 ends before its clone returns. */
	memset(&ev, 0, sizeof(ev));
	ev.type = MP_EV_SYSCALL; ev.tid = 7; ev.fn = 56; ev.a = 5151; ev.args[0] = 0x10000;
	mp_collect_event(c, &ev, NULL);
	memset(&ev, 0, sizeof(ev));
	ev.type = MP_EV_EXIT; ev.tid = 5151;
	memcpy(ev.args, "worker", 7);
	mp_collect_event(c, &ev, NULL);
	ev.tid = 4242;
	mp_collect_event(c, &ev, NULL);
	ev.tid = 6161;
	mp_collect_event(c, &ev, NULL);
	memset(&ev, 0, sizeof(ev));
	ev.type = MP_EV_SYSCALL; ev.tid = 7; ev.fn = 435; ev.a = 6161; ev.args[0] = 0x10000;
	mp_collect_event(c, &ev, NULL);
	mp_collect_stop(c);
	CHECK_INT(mp_collect_finish(c, NULL, 0, &h, &m), 0);
	if (h) {
		uint64_t alloc = 0, freed = 0, bytes = 0;

		for (size_t i = 0; i < h->nheap; i++) {
			alloc += h->heap[i].alloc_objects;
			freed += h->heap[i].free_objects;
			bytes += h->heap[i].alloc_objects * h->heap[i].size;
			CHECK(h->heap[i].stack_id >= 1 && h->heap[i].stack_id <= h->nstacks);
		}
		CHECK_U64(alloc, 2);
		CHECK_U64(freed, 1);
		CHECK_U64(bytes, 30);
		CHECK(h->has_res && h->nres >= 5);     /* our descriptors and this thread... */
		CHECK_U64(h->header.pid, (uint64_t)getpid());
		{
			int ended = 0, before_fd = 0, running = 0;

			for (size_t i = 0; i < h->nres; i++) {
				const struct mp_snap_res_rec *r = &h->res[i];

				if (r->res_class == MP_RES_FD && r->id == 0)
					before_fd += (r->flags & MP_RES_F_BEFORE_ATTACH) != 0;
				if (r->res_class == MP_RES_THREAD && r->kind == MP_THREAD_RUNNING)
					running += r->id == getpid() && (r->flags & MP_RES_F_BEFORE_ATTACH);
				if (r->res_class != MP_RES_THREAD || r->kind != MP_THREAD_EXITED)
					continue;
				ended++;
				/* ...and the three ended threads, stacks where made */
				CHECK_INT(r->stack_id != 0, r->id == 5151 || r->id == 6161);
				CHECK_INT((r->flags & MP_RES_F_BEFORE_ATTACH) != 0, 0);
				if (r->id == 5151)
					CHECK_STR(r->detail, "worker");
			}
			CHECK_INT(ended, 3);
			CHECK_INT(before_fd, 1);       /* stdin: open at attach */
			CHECK_INT(running, 1);         /* this thread: running at attach */
		}
	}
	mp_snap_free(h);
	mp_snap_free(m);
	mp_collect_free(c);
}

/* The mapping profile's accounting: a region partly unmapped (its end,
 * then its middle: two pieces), one mapped over by MAP_FIXED, brk growth
 * and shrinking. */
static void sys(struct mp_collect *c, uint32_t nr, uint64_t ret, uint64_t a0, uint64_t a1,
		uint64_t a2)
{
	struct mp_bpf_ev ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = MP_EV_SYSCALL;
	ev.tid = 7;
	ev.fn = nr;
	ev.a = ret;
	ev.args[0] = a0;
	ev.args[1] = a1;
	ev.args[2] = a2;
	mp_collect_event(c, &ev, NULL);
}

static void test_maps(void)
{
	const uint64_t A = 0x200000000000ull, B = 0x300000000000ull, MiB = 1 << 20;
	struct mp_collect *c = NULL;
	struct mp_snap *h = NULL, *m = NULL;

	CHECK_INT(mp_collect_new(getpid(), 1, 64, &c), 0);
	if (!c)
		return;
	sys(c, 9, A, 0, MiB, 0);                    /* mmap 1 MiB at A */
	sys(c, 11, 0, A + MiB - 65536, 65536, 0);   /* its last 64 KiB */
	sys(c, 11, 0, A + 40960, 4096, 0);          /* a page in its middle */
	sys(c, 9, B, 0, 5000, 0);                   /* 5000 bytes: 2 pages at B */
	sys(c, 9, B + 4096, B + 4096, 4096, 0);     /* MAP_FIXED over B's second page */
	CHECK_INT(mp_collect_finish(c, NULL, 0, &h, &m), 0);
	if (m) {
		const uint64_t *inuse = mp_collect_map_inuse(c);
		uint64_t objs = 0, freed = 0, bytes = 0, alloc_bytes = 0;

		for (size_t i = 0; i < m->nheap; i++) {
			objs += m->heap[i].alloc_objects;
			freed += m->heap[i].free_objects;
			alloc_bytes += m->heap[i].alloc_objects * m->heap[i].size;
			bytes += inuse[i];
		}
		CHECK_U64(objs, 3);
		CHECK_U64(freed, 0);                /* all three partly mapped */
		CHECK_U64(alloc_bytes, MiB + 8192 + 4096);
		CHECK_U64(bytes, MiB - 65536 - 4096 + 8192);
	}
	mp_snap_free(h);
	mp_snap_free(m);
	h = m = NULL;
	sys(c, 11, 0, A, MiB, 0);                   /* both pieces of A */
	sys(c, 11, 0, B, 4096, 0);                  /* B's first page: B is gone */
	CHECK_INT(mp_collect_finish(c, NULL, 0, &h, &m), 0);
	if (m) {
		const uint64_t *inuse = mp_collect_map_inuse(c);
		uint64_t freed = 0, bytes = 0;

		for (size_t i = 0; i < m->nheap; i++) {
			freed += m->heap[i].free_objects;
			bytes += inuse[i];
		}
		CHECK_U64(freed, 2);
		CHECK_U64(bytes, 4096);             /* the MAP_FIXED page */
	}
	mp_snap_free(h);
	mp_snap_free(m);
	mp_collect_free(c);
}

int main(void)
{
	test_sites();
	test_sites_glibc236();
	test_libc_probes();
	test_walk_self();
	test_collect();
	test_maps();
	return tap_done();
}

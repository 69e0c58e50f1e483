/* SPDX-License-Identifier: MIT */
/*
 * uprobe-floor: what one uprobe hit costs on this kernel, whatever the BPF
 * program does, per attach mechanism and per probed instruction (bench.sh
 * --set attach prints it).  Root only; x86-64.
 *
 * The probed functions are in this program (tiny assembly functions that
 * begin with the instruction under test); the BPF program is two
 * instructions (r0 = K; exit), loaded with bpf(2).  Each configuration is
 * timed as the CPU time (user + sys, getrusage) of a loop of calls, minus
 * the same loop without a probe, divided by the calls: the median of
 * alternating repetitions.
 *
 * Mechanisms: a perf-event uprobe with the program attached
 * (PERF_EVENT_IOC_SET_BPF, what libbpf 1.1's bpf_program__attach_uprobe
 * makes), a uprobe_multi link (Linux 6.6), and a uprobe_multi session
 * link (Linux 6.12) whose entry program returns 1 (no return probe: what
 * memprof attach does for an unsampled call) or 0 (a return probe for
 * every call).
 *
 * Usage: uprobe-floor [CALLS [REPS]]
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The probed functions: each begins with the instruction named. */
__asm__(".text\n"
	".globl f_push\n f_push:\n push %rbp\n pop %rbp\n ret\n"
	".globl f_jcc8\n f_jcc8:\n test %rdi,%rdi\n .byte 0x74, 0x00\n ret\n" /* je +0 */
	".globl f_jcc32\n f_jcc32:\n test %rdi,%rdi\n .byte 0x0f,0x84,0,0,0,0\n ret\n"
	".globl f_jmp8\n f_jmp8:\n .byte 0xeb, 0x00\n ret\n"          /* jmp +0 */
	".globl f_nop1\n f_nop1:\n nop\n ret\n"
	".globl f_nop5\n f_nop5:\n .byte 0x0f,0x1f,0x44,0x00,0x00\n ret\n"
	".globl f_sstep\n f_sstep:\n mov %rdi,%rax\n ret\n"          /* single-stepped */
);

void f_push(long), f_jcc8(long), f_jcc32(long), f_jmp8(long), f_nop1(long), f_nop5(long),
	f_sstep(long);

static const struct {
	const char *name;
	void (*fn)(long);
	int site;            /* bytes from the entry to the probed instruction */
	int slow;            /* calls / slow are timed (a single-step is ~40x slower) */
} insns[] = {
	{ "push %rbp", f_push, 0, 1 },
	{ "je rel8", f_jcc8, 3, 1 },
	{ "je rel32", f_jcc32, 3, 1 },
	{ "jmp rel8", f_jmp8, 0, 1 },
	{ "nop", f_nop1, 0, 1 },
	{ "nop5", f_nop5, 0, 1 },
	{ "mov (single-step)", f_sstep, 0, 32 },
};

/* Not in Debian 12's headers (Linux 6.1). */
#define ATTACH_UPROBE_MULTI 48
#define ATTACH_UPROBE_SESSION 57

enum mech { M_PERF, M_MULTI, M_SESSION_IGNORE, M_SESSION_RETURN, M_COUNT };

static const char *const mech_names[M_COUNT] = {
	"perf-event uprobe", "uprobe_multi", "session, entry returns 1", "session, entry returns 0",
};

static long sys_bpf(int cmd, void *attr, size_t size)
{
	return syscall(__NR_bpf, cmd, attr, size);
}

static int prog_load(uint32_t attach_type, int ret)
{
	struct bpf_insn insn[2] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = ret },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_KPROBE;
	a.insns = (uint64_t)(uintptr_t)insn;
	a.insn_cnt = 2;
	a.license = (uint64_t)(uintptr_t)"GPL";
	a.expected_attach_type = attach_type;
	return (int)sys_bpf(BPF_PROG_LOAD, &a, sizeof(a));
}

struct link_create_uprobe_multi {
	uint32_t prog_fd, target_fd, attach_type, flags;
	uint64_t path, offsets, ref_ctr_offsets, cookies;
	uint32_t cnt, um_flags, pid, pad;
};

static char exe[4096];

/* File offset of code address p in this program. */
static int file_off(const void *p, uint64_t *ret)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[4096];
	uint64_t a = (uint64_t)(uintptr_t)p;
	int r = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		uint64_t lo, hi, off;

		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %*s %" SCNx64, &lo, &hi, &off) == 3 &&
		    a >= lo && a < hi) {
			*ret = a - lo + off;
			r = 0;
			break;
		}
	}
	fclose(f);
	return r;
}

static int uprobe_pmu_type(void)
{
	FILE *f = fopen("/sys/bus/event_source/devices/uprobe/type", "r");
	int t = -1;

	if (f) {
		if (fscanf(f, "%d", &t) != 1)
			t = -1;
		fclose(f);
	}
	return t;
}

/* Attach; returns the fd to close to detach, or -errno. */
static int attach(enum mech m, uint64_t off)
{
	int prog, fd;

	if (m == M_PERF) {
		struct perf_event_attr pa;
		int type = uprobe_pmu_type();

		if (type < 0)
			return -ENOENT;
		prog = prog_load(0, 0);
		if (prog < 0)
			return -errno;
		memset(&pa, 0, sizeof(pa));
		pa.size = sizeof(pa);
		pa.type = (uint32_t)type;
		pa.config1 = (uint64_t)(uintptr_t)exe;
		pa.config2 = off;
		fd = (int)syscall(__NR_perf_event_open, &pa, getpid(), -1, -1, PERF_FLAG_FD_CLOEXEC);
		if (fd < 0 || ioctl(fd, PERF_EVENT_IOC_SET_BPF, prog) < 0 ||
		    ioctl(fd, PERF_EVENT_IOC_ENABLE, 0) < 0) {
			int e = errno;

			if (fd >= 0)
				close(fd);
			close(prog);
			return -e;
		}
		close(prog);
		return fd;
	} else {
		struct link_create_uprobe_multi a;
		uint32_t type = m == M_MULTI ? ATTACH_UPROBE_MULTI : ATTACH_UPROBE_SESSION;

		prog = prog_load(type, m == M_SESSION_RETURN ? 0 : 1);
		if (prog < 0)
			return -errno;
		memset(&a, 0, sizeof(a));
		a.prog_fd = (uint32_t)prog;
		a.attach_type = type;
		a.path = (uint64_t)(uintptr_t)exe;
		a.offsets = (uint64_t)(uintptr_t)&off;
		a.cnt = 1;
		a.pid = (uint32_t)getpid();
		fd = (int)sys_bpf(BPF_LINK_CREATE, &a, sizeof(a));
		if (fd < 0) {
			int e = errno;

			close(prog);
			return -e;
		}
		close(prog);
		return fd;
	}
}

static double cpu_now(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

static double loop(void (*fn)(long), long calls)
{
	double t0 = cpu_now();

	for (long i = 0; i < calls; i++)
		fn(i);
	return cpu_now() - t0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	long calls = argc > 1 ? atol(argv[1]) : 1000000;
	int reps = argc > 2 ? atoi(argv[2]) : 5;
	size_t ni = sizeof(insns) / sizeof(insns[0]);
	double *t;
	ssize_t n;

	if (calls <= 0 || reps <= 0 || reps > 1000) {
		fprintf(stderr, "usage: uprobe-floor [CALLS [REPS]]\n");
		return 2;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0) {
		fprintf(stderr, "uprobe-floor: cannot read /proc/self/exe\n");
		return 1;
	}
	exe[n] = 0;
	t = calloc((size_t)reps * (M_COUNT + 1), sizeof(*t));
	if (!t)
		return 1;
	printf("uprobe-floor: CPU per probe hit, ns (median of %d alternating runs of %ld calls, "
	       "%ld single-stepped; the same loop unprobed subtracted)\n", reps, calls,
	       calls / 32 > 0 ? calls / 32 : 1);
	printf("%-20s", "instruction");
	for (int m = 0; m < M_COUNT; m++)
		printf(" %26s", mech_names[m]);
	printf("\n");
	for (size_t i = 0; i < ni; i++) {
		uint64_t off;
		const char *err[M_COUNT] = { 0 };
		long nc = calls / insns[i].slow > 0 ? calls / insns[i].slow : 1;

		if (file_off((const char *)(uintptr_t)insns[i].fn + insns[i].site, &off) < 0) {
			fprintf(stderr, "uprobe-floor: cannot find %s in /proc/self/maps\n",
				insns[i].name);
			return 1;
		}
		loop(insns[i].fn, nc / 10);                       /* warm up */
		for (int r = 0; r < reps; r++) {
			t[r] = loop(insns[i].fn, nc);
			for (int m = 0; m < M_COUNT; m++) {
				int fd = attach((enum mech)m, off);

				if (fd < 0) {
					err[m] = strerror(-fd);
					t[(size_t)(m + 1) * (size_t)reps + (size_t)r] = 0;
					continue;
				}
				/* The first hits may rewrite the site (nop5 on 6.18). */
				loop(insns[i].fn, 100);
				t[(size_t)(m + 1) * (size_t)reps + (size_t)r] = loop(insns[i].fn, nc);
				close(fd);
			}
		}
		for (int m = 0; m <= M_COUNT; m++)
			qsort(t + (size_t)m * (size_t)reps, (size_t)reps, sizeof(*t), cmp_double);
		printf("%-20s", insns[i].name);
		for (int m = 0; m < M_COUNT; m++) {
			double base = t[reps / 2], v = t[(size_t)(m + 1) * (size_t)reps + (size_t)reps / 2];

			if (err[m])
				printf(" %26s", err[m]);
			else
				printf(" %26.0f", (v - base) / (double)nc * 1e9);
		}
		printf("\n");
		fflush(stdout);
	}
	free(t);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/* memprof attach's BPF program: load, attach, read (see loader.h). */
#include <errno.h>
#include <linux/bpf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/attach.h"          /* before the skeleton: its .bss has our types */
#include "attach.skel.h"
#include "bpf/loader.h"
#include "common/errmsg.h"
#include "sample/sampler.h"

/* Not in Debian 12's uapi headers (Linux 6.1): the kernel's values. */
#define MP_BPF_TRACE_UPROBE_SESSION 57

#define MAX_LINKS 256

struct mp_bpf {
	struct mp_attach_bpf *skel;
	struct ring_buffer *rb;
	int links[MAX_LINKS];          /* uprobe_multi link fds */
	size_t nlinks;
	struct bpf_link *sys_link;
	struct bpf_link *exit_link;
	int stats_fd;                  /* BPF_ENABLE_STATS, or -1 */
	mp_bpf_event_fn fn;
	void *arg;
	int pid;
};

static bool verbose;

static int print_fn(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (!verbose || level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static struct bpf_program *prog_for(struct mp_attach_bpf *s, enum mp_bpf_fn fn)
{
	switch (fn) {
	case MP_FN_MALLOC: return s->progs.mp_malloc;
	case MP_FN_CALLOC: return s->progs.mp_calloc;
	case MP_FN_REALLOC: return s->progs.mp_realloc;
	case MP_FN_REALLOCARRAY: return s->progs.mp_reallocarray;
	case MP_FN_MEMALIGN: return s->progs.mp_memalign;
	case MP_FN_POSIX_MEMALIGN: return s->progs.mp_posix_memalign;
	case MP_FN_VALLOC: return s->progs.mp_valloc;
	case MP_FN_PVALLOC: return s->progs.mp_valloc;
	case MP_FN_FREE: return s->progs.mp_free;
	default: return NULL;
	}
}

/* The exponential distribution's quantiles at (i + 1/2) / N, i = 0..N-1,
 * scaled to mean `rate`: picked uniformly at random they give gaps whose
 * mean is rate (to 1e-4: the tail beyond the last quantile is cut) and
 * whose distribution is the exponential one at that resolution. */
static void fill_gaps(struct mp_attach_bpf *s, uint64_t rate)
{
	int fd = bpf_map__fd(s->maps.gaps);
	double sum = 0;

	for (uint32_t i = 0; i < MP_BPF_NGAPS; i++)
		sum += -mp_sampler_ln((i + 0.5) / MP_BPF_NGAPS);
	for (uint32_t i = 0; i < MP_BPF_NGAPS; i++) {
		/* Normalized so the table's mean is exactly the rate. */
		double v = -mp_sampler_ln((i + 0.5) / MP_BPF_NGAPS) * (double)rate * MP_BPF_NGAPS / sum;
		/* 1 + floor(v), as the shim's sampler draws (sample/sampler.c):
		 * geometric on 1, 2, ..., so a call of s bytes is sampled with
		 * 1 - exp(-s/rate), the weight the converter applies. */
		uint64_t gap = 1 + (uint64_t)v;

		bpf_map_update_elem(fd, &i, &gap, BPF_ANY);
	}
}

int mp_bpf_open(const struct mp_bpf_opts *o, struct mp_bpf **ret, char **ret_err)
{
	struct mp_bpf *b;
	int r;

	verbose = o->verbose;
	libbpf_set_print(print_fn);
	if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
		mp_set_err(ret_err, "the kernel has no BTF (/sys/kernel/btf/vmlinux), which attach needs");
		return -ENOENT;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->pid = o->pid;
	b->stats_fd = -1;
	b->skel = mp_attach_bpf__open();
	if (!b->skel) {
		r = -errno;
		mp_set_err(ret_err, "cannot open the BPF program: %s", strerror(errno));
		goto fail;
	}
	b->skel->rodata->target_tgid = (uint32_t)o->pid;
	b->skel->rodata->sample_all = o->rate == 1;
	b->skel->rodata->sample_none = o->rate == 0;
	b->skel->rodata->want_syscalls = o->syscalls;
	b->skel->rodata->empty_probes = o->empty_probes;
	r = libbpf_num_possible_cpus();
	bpf_map__set_max_entries(b->skel->maps.scratch, r > 0 ? (uint32_t)r : 1024);
	if (o->live_max)
		bpf_map__set_max_entries(b->skel->maps.live, o->live_max);
	for (int fn = 0; fn < MP_FN_COUNT; fn++)
		bpf_program__set_expected_attach_type(prog_for(b->skel, fn),
						      (enum bpf_attach_type)MP_BPF_TRACE_UPROBE_SESSION);
	r = mp_attach_bpf__load(b->skel);
	if (r < 0) {
		r = r == -1 ? -errno : r;
		if (r == -EPERM)
			mp_set_err(ret_err, "not permitted to load BPF programs: attach needs root, "
					    "or CAP_BPF and CAP_PERFMON");
		else if (r == -EACCES)
			mp_set_err(ret_err, "the kernel's verifier refused the BPF program (-v shows "
					    "why)");
		else if (r == -ENOSYS)
			mp_set_err(ret_err, "the kernel has no BPF support");
		else if (r == -EINVAL)
			mp_set_err(ret_err, "the kernel refused the BPF program (uprobe sessions need "
					    "Linux 6.12 or later): %s", strerror(-r));
		else
			mp_set_err(ret_err, "cannot load the BPF program: %s", strerror(-r));
		goto fail;
	}
	if (o->rate > 1)
		fill_gaps(b->skel, o->rate);
	for (size_t i = 0; i < MAX_LINKS; i++)
		b->links[i] = -1;
	*ret = b;
	return 0;
fail:
	mp_bpf_free(b);
	return r;
}

/* The attr of BPF_LINK_CREATE for a uprobe_multi link (Linux 6.6+; the
 * layout of include/uapi/linux/bpf.h, which Debian 12's headers predate). */
struct link_create_uprobe_multi {
	uint32_t prog_fd;
	uint32_t target_fd;
	uint32_t attach_type;
	uint32_t flags;
	uint64_t path;
	uint64_t offsets;
	uint64_t ref_ctr_offsets;
	uint64_t cookies;
	uint32_t cnt;
	uint32_t um_flags;
	uint32_t pid;
	uint32_t pad;
};

int mp_bpf_attach_probes(struct mp_bpf *b, const char *path, const char *name,
			 const struct mp_probe *p, size_t n, char **ret_err)
{
	for (int fn = 0; fn < MP_FN_COUNT; fn++) {
		uint64_t offs[MP_MAX_PROBES], cookies[MP_MAX_PROBES];
		struct link_create_uprobe_multi attr;
		uint32_t cnt = 0;
		int fd;

		for (size_t i = 0; i < n; i++) {
			if ((int)p[i].fn != fn)
				continue;
			offs[cnt] = p[i].file_off;
			/* The return address lies ra_off above sp at the site. */
			cookies[cnt++] = MP_COOKIE(fn, p[i].outer, p[i].site.ra_off);
		}
		if (!cnt)
			continue;
		if (b->nlinks == MAX_LINKS) {
			mp_set_err(ret_err, "too many modules to probe");
			return -E2BIG;
		}
		memset(&attr, 0, sizeof(attr));
		attr.prog_fd = (uint32_t)bpf_program__fd(prog_for(b->skel, fn));
		attr.attach_type = MP_BPF_TRACE_UPROBE_SESSION;
		attr.path = (uint64_t)(uintptr_t)path;
		attr.offsets = (uint64_t)(uintptr_t)offs;
		attr.cookies = (uint64_t)(uintptr_t)cookies;
		attr.cnt = cnt;
		attr.pid = (uint32_t)b->pid;
		fd = (int)syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof(attr));
		if (fd < 0) {
			int e = errno;

			/* The process gone: its /proc entries with it. */
			if (kill(b->pid, 0) < 0 && errno == ESRCH)
				e = ESRCH;
			if (e == EPERM || e == EACCES)
				mp_set_err(ret_err, "not permitted to probe '%s': attach needs root, "
						    "or CAP_BPF and CAP_PERFMON", name);
			else if (e == ESRCH)
				mp_set_err(ret_err, "process %d exited during attach", b->pid);
			else if (e == EINVAL || e == EOPNOTSUPP)
				mp_set_err(ret_err, "the kernel cannot make uprobe sessions (Linux 6.12 "
						    "or later needed): %s", strerror(e));
			else
				mp_set_err(ret_err, "cannot probe '%s': %s", name, strerror(e));
			return -e;
		}
		b->links[b->nlinks++] = fd;
	}
	return 0;
}

int mp_bpf_attach_syscalls(struct mp_bpf *b, char **ret_err)
{
	b->sys_link = bpf_program__attach(b->skel->progs.sys_exit);
	if (!b->sys_link) {
		int e = errno;

		mp_set_err(ret_err, "cannot attach to the sys_exit tracepoint: %s", strerror(e));
		return -e;
	}
	b->exit_link = bpf_program__attach(b->skel->progs.thread_exit);
	if (!b->exit_link) {
		int e = errno;

		mp_set_err(ret_err, "cannot attach to the sched_process_exit tracepoint: %s",
			   strerror(e));
		return -e;
	}
	return 0;
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct mp_bpf *b = ctx;
	const struct mp_bpf_ev *ev = data;

	if (size < sizeof(*ev) || ev->stack_len > size - sizeof(*ev))
		return 0;
	b->fn(b->arg, ev, (const uint8_t *)data + sizeof(*ev));
	return 0;
}

int mp_bpf_poll(struct mp_bpf *b, int timeout_ms, mp_bpf_event_fn fn, void *arg)
{
	int r;

	b->fn = fn;
	b->arg = arg;
	if (!b->rb) {
		b->rb = ring_buffer__new(bpf_map__fd(b->skel->maps.events), on_event, b, NULL);
		if (!b->rb)
			return -errno;
	}
	r = ring_buffer__poll(b->rb, timeout_ms);
	return r;
}

void mp_bpf_enable(struct mp_bpf *b, bool on, bool syscalls)
{
	__atomic_store_n(&b->skel->bss->enabled, on ? 1u : 0u, __ATOMIC_SEQ_CST);
	if (syscalls)
		__atomic_store_n(&b->skel->bss->sys_enabled, on ? 1u : 0u, __ATOMIC_SEQ_CST);
}

void mp_bpf_detach(struct mp_bpf *b)
{
	mp_bpf_enable(b, false, true);
	for (size_t i = 0; i < b->nlinks; i++)
		if (b->links[i] >= 0)
			close(b->links[i]);
	b->nlinks = 0;
	bpf_link__destroy(b->sys_link);
	b->sys_link = NULL;
	bpf_link__destroy(b->exit_link);
	b->exit_link = NULL;
}

void mp_bpf_counters(const struct mp_bpf *b, struct mp_bpf_counters *ret)
{
	int ncpu = libbpf_num_possible_cpus();
	uint32_t zero = 0;

	*ret = b->skel->bss->counters;
	/* Probe hits are counted per CPU: a per-CPU array's lookup gives
	 * every possible CPU's value. */
	ret->calls = 0;
	if (ncpu > 0) {
		uint64_t *v = calloc((size_t)ncpu, sizeof(*v));

		if (v && bpf_map_lookup_elem(bpf_map__fd(b->skel->maps.calls), &zero, v) == 0)
			for (int i = 0; i < ncpu; i++)
				ret->calls += v[i];
		free(v);
	}
}

int mp_bpf_enable_stats(struct mp_bpf *b)
{
	if (b->stats_fd < 0)
		b->stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	return b->stats_fd < 0 ? -errno : 0;
}

void mp_bpf_print_prog_stats(const struct mp_bpf *b, FILE *f)
{
	struct bpf_program *p;

	bpf_object__for_each_program(p, b->skel->obj) {
		struct bpf_prog_info info;
		uint32_t len = sizeof(info);

		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &len) < 0 || !info.run_cnt)
			continue;
		fprintf(f, "memprof: program %s: %llu runs, %.1f ns per run, %u instructions\n",
			bpf_program__name(p), (unsigned long long)info.run_cnt,
			(double)info.run_time_ns / (double)info.run_cnt, info.xlated_prog_len / 8);
	}
}

void mp_bpf_free(struct mp_bpf *b)
{
	if (!b)
		return;
	if (b->stats_fd >= 0)
		close(b->stats_fd);
	if (b->skel)
		mp_bpf_detach(b);
	ring_buffer__free(b->rb);
	mp_attach_bpf__destroy(b->skel);
	free(b);
}

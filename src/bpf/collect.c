/* SPDX-License-Identifier: MIT */
/* What memprof attach collects (see collect.h). */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bpf/collect.h"
#include "bpf/runwind.h"
#include "common/grow.h"
#include "common/human.h"
#include "common/snapshot-read.h"
#include "pprof/keymap.h"

/* ---- pointer -> bucket, with deletion (linear probing, backward shift) ---- */

struct ptrmap {
	uint64_t *keys;               /* 0: empty */
	uint32_t *vals;
	size_t mask, n;
};

static size_t ptr_slot(uint64_t k, size_t mask)
{
	return (size_t)(mp_mix64(k) & mask);
}

static bool ptrmap_put(struct ptrmap *m, uint64_t k, uint32_t v);

static bool ptrmap_grow(struct ptrmap *m)
{
	struct ptrmap n = { 0 };
	size_t cap = m->keys ? (m->mask + 1) * 2 : 1024;

	n.keys = calloc(cap, sizeof(*n.keys));
	n.vals = calloc(cap, sizeof(*n.vals));
	if (!n.keys || !n.vals) {
		free(n.keys);
		free(n.vals);
		return false;
	}
	n.mask = cap - 1;
	for (size_t i = 0; m->keys && i <= m->mask; i++)
		if (m->keys[i])
			ptrmap_put(&n, m->keys[i], m->vals[i]);
	free(m->keys);
	free(m->vals);
	*m = n;
	return true;
}

static bool ptrmap_put(struct ptrmap *m, uint64_t k, uint32_t v)
{
	size_t i;

	if ((!m->keys || (m->n + 1) * 2 > m->mask + 1) && !ptrmap_grow(m))
		return false;
	for (i = ptr_slot(k, m->mask); m->keys[i] && m->keys[i] != k; i = (i + 1) & m->mask)
		;
	if (!m->keys[i])
		m->n++;
	m->keys[i] = k;
	m->vals[i] = v;
	return true;
}

/* Remove k; its value in *ret.  False when absent. */
static bool ptrmap_take(struct ptrmap *m, uint64_t k, uint32_t *ret)
{
	size_t i, j;

	if (!m->keys || !k)
		return false;
	for (i = ptr_slot(k, m->mask); m->keys[i] != k; i = (i + 1) & m->mask)
		if (!m->keys[i])
			return false;
	*ret = m->vals[i];
	m->keys[i] = 0;
	m->n--;
	/* Shift back the entries of the run that follows. */
	for (j = (i + 1) & m->mask; m->keys[j]; j = (j + 1) & m->mask) {
		size_t home = ptr_slot(m->keys[j], m->mask);

		if (((j - home) & m->mask) >= ((j - i) & m->mask)) {
			m->keys[i] = m->keys[j];
			m->vals[i] = m->vals[j];
			m->keys[j] = 0;
			i = j;
		}
	}
	return true;
}

/* ---- the collection ---------------------------------------------------------- */

struct pending {                   /* a sampled call not returned yet */
	uint32_t tid;
	uint32_t stack_id;
	uint64_t size;
};

struct fdent {
	int64_t fd;
	uint32_t stack_id;             /* the call that made it (0: not seen) */
	uint32_t kind;                 /* enum mp_snap_fd_kind, from the call */
	bool live;
	bool before;                   /* open at attach, not closed since */
};

/* A thread seen: running at attach, or created or ended during it.  A
 * tid used again after its thread ended gets an entry of its own. */
struct thr {
	int64_t tid;
	uint32_t stack_id;             /* the clone that made it (0: not seen) */
	bool before;                   /* running at attach */
	bool ended;                    /* its end was seen */
	uint64_t end_ns;               /* when (CLOCK_MONOTONIC, as bpf_ktime_get_ns) */
	char comm[16];                 /* its name when it ended */
};

/* A mapped range made during attach.  Unmapping the middle of one splits
 * it: both parts keep the id of the call that made it, which counts as an
 * object in use while any part of it is mapped. */
struct region {
	uint64_t start, end;
	uint64_t id;                   /* the mapping call: 1, 2, ... */
	uint32_t bucket;               /* in mheap */
};

struct mp_collect {
	int pid;
	uint64_t rate;
	uint32_t max_depth;
	struct mp_runwind *uw;
	uint64_t start_ns;
	uint64_t rss_start;
	/* stacks */
	struct mp_keymap stack_ids;    /* pcs bytes -> id */
	uint64_t *pcs;                 /* all stacks' frames */
	size_t npcs, cap_pcs;
	struct { size_t off; uint32_t depth; } *stacks;
	size_t nstacks, cap_stacks;
	/* heap */
	struct mp_keymap bucket_ids;   /* (stack, size) -> index */
	struct mp_snap_heap_rec *heap;
	size_t nheap, cap_heap;
	struct ptrmap ptrs;
	struct pending *pend;
	size_t npend, cap_pend;
	uint64_t stackless, unwound_frames;
	/* resources */
	struct fdent *fds;
	size_t nfds, cap_fds;
	struct thr *thr;
	size_t nthr, cap_thr;
	uint64_t forks, ended_threads;
	int *children;                 /* pids of the processes it forked */
	size_t nchildren, cap_children;
	/* mappings */
	struct mp_keymap map_bucket_ids;
	struct mp_snap_heap_rec *mheap;
	size_t nmheap, cap_mheap;
	uint64_t *minuse;              /* per mheap bucket: bytes still mapped */
	size_t cap_minuse;
	struct region *regions;
	size_t nregions, cap_regions;
	uint64_t nmaps;                /* mapping calls seen: the last region id */
	uint64_t brk;                  /* current program break (0: unknown) */
	/* what was last read from /proc */
	char *exe;
	uint64_t ppid;
	struct mp_snap_res_rec *last_res;
	size_t nlast_res;
	uint64_t rss_end;
	uint64_t stop_ns;              /* when mp_collect_stop listed (0: it did not) */
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* VmRSS of the process in bytes, 0 when unknown. */
static uint64_t read_rss(int pid)
{
	char path[64], line[256];
	uint64_t kb = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %" SCNu64, &kb) == 1)
			break;
	fclose(f);
	return kb * 1024;
}

static uint64_t read_ppid(int pid)
{
	char path[64], buf[512], *p;
	unsigned long long ppid = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (p && sscanf(p + 1, " %*c %llu", &ppid) == 1)
		return ppid;
	return 0;
}

/* The stack id of pcs[0..depth), interned (>= 1); 0 on allocation failure. */
static uint32_t intern_stack(struct mp_collect *c, const uint64_t *pcs, uint32_t depth)
{
	uint32_t id = (uint32_t)c->nstacks + 1, got;
	int r = mp_keymap_intern(&c->stack_ids, pcs, depth * sizeof(*pcs), id, &got);

	if (r < 0)
		return 0;
	if (r == 0)
		return got;
	if (MP_GROW(c->pcs, c->npcs + depth, c->cap_pcs) < 0 ||
	    MP_GROW(c->stacks, c->nstacks + 1, c->cap_stacks) < 0)
		return 0;     /* the keymap keeps an id never filled: see finish */
	if (depth)
		memcpy(c->pcs + c->npcs, pcs, depth * sizeof(*pcs));
	c->stacks[c->nstacks].off = c->npcs;
	c->stacks[c->nstacks].depth = depth;
	c->npcs += depth;
	c->nstacks++;
	return id;
}

static bool in_libc(const struct mp_rmodule *m)
{
	const char *b = m ? strrchr(m->path, '/') : NULL;

	return b && (strncmp(b + 1, "libc.so", 7) == 0 || strncmp(b + 1, "libc-", 5) == 0);
}

/* The stack of an event: unwound from its copy; for a system call, the
 * C library's frames on top (the wrapper, fopen's insides) are left out,
 * as `memprof run`'s stacks start at the caller of the function it
 * interposes. */
static uint32_t event_stack(struct mp_collect *c, const struct mp_bpf_ev *ev, const uint8_t *stack,
			    bool skip_libc)
{
	uint64_t pcs[MP_SNAP_MAX_DEPTH + 32];

	uint32_t n, first = 0, cap = c->max_depth + 32;

	if (!ev->stack_len) {
		pcs[0] = 0;
		c->stackless++;
		return intern_stack(c, pcs, 0);
	}
	n = mp_runwind_walk(c->uw, &ev->regs, stack, ev->stack_len, pcs, cap);
	if (skip_libc) {
		if (in_libc(mp_runwind_find(c->uw, ev->regs.ip)))
			while (first < n && in_libc(mp_runwind_find(c->uw, pcs[first] - 1)))
				first++;
	} else {
		/* An allocation: operator new's frames, which run never sees. */
		while (first < n && mp_runwind_in_wrapper(c->uw, pcs[first] - 1))
			first++;
	}
	n -= first;
	if (n > c->max_depth)
		n = c->max_depth;
	c->unwound_frames += n;
	return intern_stack(c, pcs + first, n);
}

static int64_t bucket_of(struct mp_keymap *ids, struct mp_snap_heap_rec **arr, size_t *n,
			 size_t *cap, uint32_t stack_id, uint64_t size)
{
	struct { uint32_t stack; uint32_t pad; uint64_t size; } key = { stack_id, 0, size };
	uint32_t got;
	int r = mp_keymap_intern(ids, &key, sizeof(key), (uint32_t)*n, &got);

	if (r < 0)
		return -1;
	if (r == 0)
		return got;
	if (MP_GROW(*arr, *n + 1, *cap) < 0)
		return -1;
	(*arr)[*n] = (struct mp_snap_heap_rec){ .stack_id = stack_id, .size = size };
	return (int64_t)(*n)++;
}

/* ---- heap events ---- */

static void on_alloc(struct mp_collect *c, const struct mp_bpf_ev *ev, const uint8_t *stack)
{
	uint32_t id = event_stack(c, ev, stack, false);

	if (!id || MP_GROW(c->pend, c->npend + 1, c->cap_pend) < 0)
		return;
	c->pend[c->npend++] = (struct pending){ .tid = ev->tid, .stack_id = id, .size = ev->a };
}

static void on_done(struct mp_collect *c, const struct mp_bpf_ev *ev)
{
	struct pending p;
	size_t i;
	int64_t b;

	/* The thread's latest pending call (a signal handler's nested call
	 * returns before the one it interrupted). */
	for (i = c->npend; i > 0; i--)
		if (c->pend[i - 1].tid == ev->tid)
			break;
	if (i == 0)
		return;
	p = c->pend[i - 1];
	memmove(&c->pend[i - 1], &c->pend[i], (c->npend - i) * sizeof(*c->pend));
	c->npend--;
	if (!ev->a)
		return;                   /* the call failed: nothing allocated */
	b = bucket_of(&c->bucket_ids, &c->heap, &c->nheap, &c->cap_heap, p.stack_id, p.size);
	if (b < 0)
		return;
	/* size * alloc_objects must fit in int64_t (the reader's invariant). */
	if (p.size && c->heap[b].alloc_objects + 1 > (uint64_t)INT64_MAX / p.size)
		return;
	c->heap[b].alloc_objects++;
	/* A pointer already tracked was freed without our seeing it (a free
	 * through another allocator): credit its old bucket. */
	{
		uint32_t old;

		if (ptrmap_take(&c->ptrs, ev->a, &old))
			c->heap[old].free_objects++;
	}
	if (!ptrmap_put(&c->ptrs, ev->a, (uint32_t)b))
		c->heap[b].free_objects++;        /* cannot track: count it freed */
}

static void on_free(struct mp_collect *c, const struct mp_bpf_ev *ev)
{
	uint32_t b;

	if (ptrmap_take(&c->ptrs, ev->a, &b) && c->heap[b].free_objects < c->heap[b].alloc_objects)
		c->heap[b].free_objects++;
}

/* ---- descriptors and threads ---- */

static struct fdent *fd_slot(struct mp_collect *c, int64_t fd)
{
	for (size_t i = 0; i < c->nfds; i++)
		if (c->fds[i].fd == fd)
			return &c->fds[i];
	if (MP_GROW(c->fds, c->nfds + 1, c->cap_fds) < 0)
		return NULL;
	c->fds[c->nfds] = (struct fdent){ .fd = fd };
	return &c->fds[c->nfds++];
}

static void fd_open(struct mp_collect *c, int64_t fd, uint32_t stack_id, uint32_t kind)
{
	struct fdent *e = fd < 0 ? NULL : fd_slot(c, fd);

	if (e) {
		e->stack_id = stack_id;
		e->kind = kind;
		e->live = true;
		e->before = false;
	}
}

static void fd_close(struct mp_collect *c, int64_t lo, int64_t hi)
{
	for (size_t i = 0; i < c->nfds; i++)
		if (c->fds[i].fd >= lo && c->fds[i].fd <= hi)
			c->fds[i].live = c->fds[i].before = false;
}

/* The running thread `tid` as last seen, or NULL. */
static struct thr *thread_of(struct mp_collect *c, int64_t tid)
{
	for (size_t i = c->nthr; i > 0; i--)
		if (c->thr[i - 1].tid == tid)
			return c->thr[i - 1].ended ? NULL : &c->thr[i - 1];
	return NULL;
}

static void on_thread_exit(struct mp_collect *c, const struct mp_bpf_ev *ev)
{
	struct thr *t = thread_of(c, ev->tid);

	if (!t) {                      /* created unseen (before the probes were in place) */
		if (MP_GROW(c->thr, c->nthr + 1, c->cap_thr) < 0)
			return;
		t = &c->thr[c->nthr++];
		*t = (struct thr){ .tid = ev->tid };
	}
	t->ended = true;
	t->end_ns = ev->time_ns;
	memcpy(t->comm, ev->args, sizeof(t->comm));
	t->comm[sizeof(t->comm) - 1] = '\0';
	c->ended_threads++;
}

/* ---- mappings ---- */

/* Range i is gone: the last range of its mapping ends that object. */
static void drop_range(struct mp_collect *c, size_t i)
{
	struct region r = c->regions[i];

	c->regions[i] = c->regions[--c->nregions];
	for (size_t k = 0; k < c->nregions; k++)
		if (c->regions[k].id == r.id)
			return;
	c->mheap[r.bucket].free_objects++;
}

static void unmap(struct mp_collect *c, uint64_t start, uint64_t end)
{
	for (size_t i = 0; i < c->nregions;) {
		struct region *r = &c->regions[i];
		uint64_t lo = r->start > start ? r->start : start, hi = r->end < end ? r->end : end;

		if (lo >= hi) {
			i++;
			continue;
		}
		c->minuse[r->bucket] -= hi - lo;
		if (lo == r->start && hi == r->end) {
			drop_range(c, i);
			continue;
		}
		if (lo > r->start && hi < r->end) {
			/* The middle: two ranges of the one mapping. */
			struct region tail = *r;

			tail.start = hi;
			r->end = lo;
			if (MP_GROW(c->regions, c->nregions + 1, c->cap_regions) == 0)
				c->regions[c->nregions++] = tail;
			else
				c->minuse[tail.bucket] -= tail.end - tail.start;   /* forgotten */
		} else if (lo == r->start) {
			r->start = hi;
		} else {
			r->end = lo;
		}
		i++;
	}
}

static void map_region(struct mp_collect *c, uint64_t start, uint64_t len, uint32_t stack_id)
{
	int64_t b;

	if (!len)
		return;
	unmap(c, start, start + len);     /* MAP_FIXED over an older region */
	b = bucket_of(&c->map_bucket_ids, &c->mheap, &c->nmheap, &c->cap_mheap, stack_id, len);
	if (b < 0 || MP_GROW(c->regions, c->nregions + 1, c->cap_regions) < 0 ||
	    MP_GROW(c->minuse, c->nmheap, c->cap_minuse) < 0)
		return;
	if (c->mheap[b].alloc_objects + 1 > (uint64_t)INT64_MAX / len)
		return;
	if ((size_t)b == c->nmheap - 1 && c->mheap[b].alloc_objects == 0)
		c->minuse[b] = 0;                 /* a new bucket */
	c->mheap[b].alloc_objects++;
	c->minuse[b] += len;
	c->regions[c->nregions++] = (struct region){ start, start + len, ++c->nmaps, (uint32_t)b };
}

/* x86-64 system call numbers (as in attach.bpf.c). */
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

#define CLONE_THREAD_FLAG 0x00010000u

static uint32_t fd_kind_of(uint32_t nr)
{
	switch (nr) {
	case NR_open: case NR_openat: case NR_openat2: case NR_creat: return MP_FD_FILE;
	case NR_socket: case NR_accept: case NR_accept4: case NR_socketpair: return MP_FD_SOCKET;
	case NR_pipe: case NR_pipe2: return MP_FD_PIPE;
	case NR_epoll_create: case NR_epoll_create1: return MP_FD_EPOLL;
	case NR_signalfd: case NR_signalfd4: return MP_FD_SIGNALFD;
	case NR_timerfd_create: return MP_FD_TIMERFD;
	case NR_eventfd: case NR_eventfd2: return MP_FD_EVENTFD;
	case NR_inotify_init: case NR_inotify_init1: return MP_FD_INOTIFY;
	case NR_memfd_create: return MP_FD_MEMFD;
	default: return MP_FD_OTHER;
	}
}

static void on_syscall(struct mp_collect *c, const struct mp_bpf_ev *ev, const uint8_t *stack)
{
	int64_t ret = (int64_t)ev->a;
	uint32_t nr = ev->fn, id = 0;

	switch (nr) {
	case NR_close:
		fd_close(c, (int64_t)(int32_t)ev->args[0], (int64_t)(int32_t)ev->args[0]);
		return;
	case NR_close_range:
		fd_close(c, (int64_t)(uint32_t)ev->args[0], (int64_t)(uint32_t)ev->args[1]);
		return;
	case NR_munmap:
		unmap(c, ev->args[0], ev->args[0] + ev->args[1]);
		return;
	case NR_fcntl:
		if (ev->args[1] != 0 && ev->args[1] != 1030)     /* F_DUPFD, F_DUPFD_CLOEXEC */
			return;
		break;
	case NR_brk:
		if (c->brk && (uint64_t)ret == c->brk)
			return;               /* a query, or a refused change */
		break;
	default:
		break;
	}
	id = event_stack(c, ev, stack, true);
	if (!id)
		return;
	switch (nr) {
	case NR_pipe: case NR_pipe2: case NR_socketpair:
		fd_open(c, (int64_t)ev->args[2], id, fd_kind_of(nr));
		fd_open(c, (int64_t)ev->args[3], id, fd_kind_of(nr));
		break;
	case NR_mmap:
		map_region(c, (uint64_t)ret, (ev->args[1] + 4095) & ~4095ull, id);
		break;
	case NR_mremap:
		unmap(c, ev->args[0], ev->args[0] + ev->args[1]);
		map_region(c, (uint64_t)ret, (ev->args[2] + 4095) & ~4095ull, id);
		break;
	case NR_brk:
		if (c->brk && (uint64_t)ret > c->brk)
			map_region(c, c->brk, (uint64_t)ret - c->brk, id);
		else if (c->brk && (uint64_t)ret < c->brk)
			unmap(c, (uint64_t)ret, c->brk);
		c->brk = (uint64_t)ret;
		break;
	case NR_clone: case NR_clone3: case NR_fork: case NR_vfork:
		if ((nr == NR_clone || nr == NR_clone3) && (ev->args[0] & CLONE_THREAD_FLAG)) {
			struct thr *t = NULL;

			/* Its end may come first: a thread can run and end
			 * before the clone returns in its parent. */
			for (size_t i = c->nthr; i > 0; i--)
				if (c->thr[i - 1].tid == ret) {
					t = &c->thr[i - 1];
					break;
				}
			if (t && t->ended && !t->before && !t->stack_id)
				t->stack_id = id;
			else if (MP_GROW(c->thr, c->nthr + 1, c->cap_thr) == 0)
				c->thr[c->nthr++] = (struct thr){ .tid = ret, .stack_id = id };
		} else {
			c->forks++;
			if (MP_GROW(c->children, c->nchildren + 1, c->cap_children) == 0)
				c->children[c->nchildren++] = (int)ret;
		}
		break;
	default:
		fd_open(c, ret, id, fd_kind_of(nr));
		break;
	}
}

void mp_collect_event(struct mp_collect *c, const struct mp_bpf_ev *ev, const uint8_t *stack)
{
	switch (ev->type) {
	case MP_EV_ALLOC: on_alloc(c, ev, stack); break;
	case MP_EV_DONE: on_done(c, ev); break;
	case MP_EV_FREE: on_free(c, ev); break;
	case MP_EV_SYSCALL: on_syscall(c, ev, stack); break;
	case MP_EV_EXIT: on_thread_exit(c, ev); break;
	default: break;
	}
}

/* ---- /proc ---- */

static void seed(struct mp_collect *c)
{
	char path[64];
	struct dirent *d;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", c->pid);
	dir = opendir(path);
	while (dir && (d = readdir(dir))) {
		char *end;
		long fd = strtol(d->d_name, &end, 10);

		struct fdent *e;

		if (d->d_name[0] != '.' && *end == '\0' && (e = fd_slot(c, fd)))
			*e = (struct fdent){ .fd = fd, .live = true, .before = true };
	}
	if (dir)
		closedir(dir);
	snprintf(path, sizeof(path), "/proc/%d/task", c->pid);
	dir = opendir(path);
	while (dir && (d = readdir(dir))) {
		char *end;
		long tid = strtol(d->d_name, &end, 10);

		if (d->d_name[0] != '.' && *end == '\0' && MP_GROW(c->thr, c->nthr + 1, c->cap_thr) == 0)
			c->thr[c->nthr++] = (struct thr){ .tid = tid, .before = true };
	}
	if (dir)
		closedir(dir);
	/* The program break: the end of [heap]. */
	{
		size_t len;
		const char *maps = mp_runwind_maps(c->uw, &len), *h = strstr(maps, " [heap]\n");

		if (h) {
			const char *line = h;
			unsigned long long s, e;

			while (line > maps && line[-1] != '\n')
				line--;
			if (sscanf(line, "%llx-%llx", &s, &e) == 2)
				c->brk = e;
		}
	}
}

int mp_collect_new(int pid, uint64_t rate, uint32_t max_depth, struct mp_collect **ret)
{
	struct mp_collect *c = calloc(1, sizeof(*c));
	char path[64], buf[4096];
	ssize_t n;
	int r;

	if (!c)
		return -ENOMEM;
	c->pid = pid;
	c->rate = rate;
	c->max_depth = max_depth > MP_SNAP_MAX_DEPTH ? MP_SNAP_MAX_DEPTH : max_depth;
	mp_keymap_init(&c->stack_ids);
	mp_keymap_init(&c->bucket_ids);
	mp_keymap_init(&c->map_bucket_ids);
	r = mp_runwind_new(pid, &c->uw);
	if (r < 0) {
		mp_collect_free(c);
		return r;
	}
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	if (n > 10 && strcmp(buf + n - 10, " (deleted)") == 0)
		buf[n - 10] = '\0';
	c->exe = strdup(buf);
	c->ppid = read_ppid(pid);
	c->rss_start = read_rss(pid);
	c->start_ns = realtime_ns();
	if (!c->exe) {
		mp_collect_free(c);
		return -ENOMEM;
	}
	seed(c);
	*ret = c;
	return 0;
}

void mp_collect_free(struct mp_collect *c)
{
	if (!c)
		return;
	mp_runwind_free(c->uw);
	mp_keymap_done(&c->stack_ids);
	mp_keymap_done(&c->bucket_ids);
	mp_keymap_done(&c->map_bucket_ids);
	free(c->pcs);
	free(c->stacks);
	free(c->heap);
	free(c->ptrs.keys);
	free(c->ptrs.vals);
	free(c->pend);
	free(c->fds);
	free(c->thr);
	free(c->children);
	free(c->mheap);
	free(c->minuse);
	free(c->regions);
	free(c->exe);
	free(c->last_res);
	free(c);
}

struct mp_runwind *mp_collect_unwinder(struct mp_collect *c)
{
	return c->uw;
}

/* Kind and detail of a descriptor from its /proc link. */
static void describe_fd(int pid, int64_t fd, struct mp_snap_res_rec *r)
{
	char path[64], link[sizeof(r->detail)];
	ssize_t n;
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/fd/%" PRId64, pid, fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return;
	link[n] = '\0';
	snprintf(r->detail, sizeof(r->detail), "%s", link);
	if (strncmp(link, "socket:", 7) == 0)
		r->kind = MP_FD_SOCKET;
	else if (strncmp(link, "pipe:", 5) == 0)
		r->kind = MP_FD_PIPE;
	else if (strcmp(link, "anon_inode:[eventfd]") == 0)
		r->kind = MP_FD_EVENTFD;
	else if (strcmp(link, "anon_inode:[eventpoll]") == 0)
		r->kind = MP_FD_EPOLL;
	else if (strcmp(link, "anon_inode:[timerfd]") == 0)
		r->kind = MP_FD_TIMERFD;
	else if (strcmp(link, "anon_inode:[signalfd]") == 0)
		r->kind = MP_FD_SIGNALFD;
	else if (strcmp(link, "anon_inode:inotify") == 0)
		r->kind = MP_FD_INOTIFY;
	else if (strncmp(link, "/memfd:", 7) == 0)
		r->kind = MP_FD_MEMFD;
	else if (link[0] == '/')
		r->kind = stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? MP_FD_DIR : MP_FD_FILE;
}

/* The descriptors and threads alive now, from /proc: kind, id and detail
 * only (the stacks are matched at the end, when every event has been
 * read).  0 or -ENOMEM. */
static int list_live(struct mp_collect *c, struct mp_snap_res_rec **ret, size_t *ret_n)
{
	struct mp_snap_res_rec *res = NULL;
	size_t n = 0, cap = 0;
	char path[64];
	struct dirent *d;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", c->pid);
	dir = opendir(path);
	while (dir && (d = readdir(dir))) {
		char *end;
		long fd = strtol(d->d_name, &end, 10);
		struct mp_snap_res_rec *r;

		if (d->d_name[0] == '.' || *end != '\0')
			continue;
		if (MP_GROW(res, n + 1, cap) < 0) {
			closedir(dir);
			free(res);
			return -ENOMEM;
		}
		r = &res[n++];
		memset(r, 0, sizeof(*r));
		r->res_class = MP_RES_FD;
		r->id = fd;
		r->kind = MP_FD_OTHER;
		describe_fd(c->pid, fd, r);
	}
	if (dir)
		closedir(dir);
	snprintf(path, sizeof(path), "/proc/%d/task", c->pid);
	dir = opendir(path);
	while (dir && (d = readdir(dir))) {
		char *end, comm[64] = "";
		long tid = strtol(d->d_name, &end, 10);
		struct mp_snap_res_rec *r;
		FILE *f;

		if (d->d_name[0] == '.' || *end != '\0')
			continue;
		if (MP_GROW(res, n + 1, cap) < 0) {
			closedir(dir);
			free(res);
			return -ENOMEM;
		}
		r = &res[n++];
		memset(r, 0, sizeof(*r));
		r->res_class = MP_RES_THREAD;
		r->kind = MP_THREAD_RUNNING;
		r->id = tid;
		snprintf(path, sizeof(path), "/proc/%d/task/%ld/comm", c->pid, tid);
		f = fopen(path, "re");
		if (f) {
			if (fgets(comm, sizeof(comm), f))
				comm[strcspn(comm, "\n")] = '\0';
			fclose(f);
		}
		snprintf(r->detail, sizeof(r->detail), "%s", comm);
	}
	if (dir)
		closedir(dir);
	*ret = res;
	*ret_n = n;
	return 0;
}

void mp_collect_stop(struct mp_collect *c)
{
	struct mp_snap_res_rec *res = NULL;
	size_t nres = 0;

	c->rss_end = read_rss(c->pid);
	c->stop_ns = mono_ns();
	if (list_live(c, &res, &nres) == 0 && nres) {
		free(c->last_res);
		c->last_res = res;
		c->nlast_res = nres;
	} else {
		free(res);
	}
}

/*
 * The resource records: what was alive at the stop, each with the stack
 * that made it when that was seen ("[before attach]" for what was there
 * at attach, "[unrecorded]" for what appeared unseen), then the threads
 * that ended during the attach.  0 or -ENOMEM.
 */
static int resolve_resources(struct mp_collect *c, struct mp_snap_res_rec **ret, size_t *ret_n)
{
	struct mp_snap_res_rec *res = NULL;
	size_t n = 0, cap = 0;

	if (MP_GROW(res, c->nlast_res + 1, cap) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < c->nlast_res; i++) {
		struct mp_snap_res_rec *r = &res[n++];

		*r = c->last_res[i];
		if (r->res_class == MP_RES_FD) {
			struct fdent *e = NULL;

			/* Its last open, even when closed since the listing. */
			for (size_t k = 0; k < c->nfds; k++)
				if (c->fds[k].fd == r->id)
					e = &c->fds[k];
			if (e && e->before)
				r->flags |= MP_RES_F_BEFORE_ATTACH;
			else if (e && e->stack_id) {
				r->stack_id = e->stack_id;
				if (r->kind == MP_FD_OTHER)
					r->kind = e->kind;
			}
		} else {
			struct thr *t = NULL;

			/* Its latest entry, even if it ended since the listing
			 * (then it counts as running: the state at detach). */
			for (size_t k = c->nthr; k > 0 && !t; k--)
				if (c->thr[k - 1].tid == r->id)
					t = &c->thr[k - 1];
			if (t && t->ended && t->end_ns <= c->stop_ns)
				t = NULL;         /* an earlier thread of that tid */
			if (t && t->before)
				r->flags |= MP_RES_F_BEFORE_ATTACH;
			else if (t)
				r->stack_id = t->stack_id;
		}
	}
	for (size_t i = 0; i < c->nthr; i++) {
		const struct thr *t = &c->thr[i];
		struct mp_snap_res_rec *r;

		if (!t->ended || (c->stop_ns && t->end_ns > c->stop_ns))
			continue;             /* running at the listing */
		if (MP_GROW(res, n + 1, cap) < 0) {
			free(res);
			return -ENOMEM;
		}
		r = &res[n++];
		memset(r, 0, sizeof(*r));
		r->res_class = MP_RES_THREAD;
		r->kind = MP_THREAD_EXITED;
		r->id = t->tid;
		r->stack_id = t->before ? 0 : t->stack_id;
		r->flags = t->before ? MP_RES_F_BEFORE_ATTACH : 0;
		snprintf(r->detail, sizeof(r->detail), "%s", t->comm);
	}
	*ret = res;
	*ret_n = n;
	return 0;
}

static int make_snap(struct mp_collect *c, const struct mp_snap_heap_rec *heap, size_t nheap,
		     uint64_t rate, struct mp_snap **ret)
{
	struct mp_snap *s = calloc(1, sizeof(*s));
	size_t maps_len;
	const char *maps = mp_runwind_maps(c->uw, &maps_len);

	if (!s)
		return -ENOMEM;
	memcpy(s->header.magic, MP_SNAP_MAGIC, 8);
	s->header.version = MP_SNAP_VERSION;
	s->header.endian = MP_SNAP_ENDIAN_TAG;
	s->header.header_size = sizeof(s->header);
	s->header.pid = (uint64_t)c->pid;
	s->header.ppid = c->ppid;
	s->header.rate = rate;
	s->header.start_ns = c->start_ns;
	s->header.end_ns = realtime_ns();
	s->header.max_depth = c->max_depth;
	s->maps = malloc(maps_len + 1);
	s->exe = strdup(c->exe);
	s->stacks = calloc(c->nstacks + 1, sizeof(*s->stacks));
	s->pcs = malloc((c->npcs + 1) * sizeof(*s->pcs));
	s->heap = malloc((nheap + 1) * sizeof(*s->heap));
	if (!s->maps || !s->exe || !s->stacks || !s->pcs || !s->heap) {
		mp_snap_free(s);
		return -ENOMEM;
	}
	memcpy(s->maps, maps, maps_len);
	s->maps[maps_len] = '\0';
	s->maps_len = maps_len;
	s->exe_len = strlen(s->exe);
	if (c->npcs)
		memcpy(s->pcs, c->pcs, c->npcs * sizeof(*s->pcs));
	for (size_t i = 0; i < c->nstacks; i++) {
		s->stacks[i].depth = c->stacks[i].depth;
		s->stacks[i].pcs = s->pcs + c->stacks[i].off;
	}
	s->nstacks = (uint32_t)c->nstacks;
	if (nheap)
		memcpy(s->heap, heap, nheap * sizeof(*heap));
	s->nheap = nheap;
	*ret = s;
	return 0;
}

static int add_stat(struct mp_snap *s, const char *name, uint64_t v)
{
	void *n = realloc(s->stats, (s->nstats + 1) * sizeof(*s->stats));

	if (!n)
		return -ENOMEM;
	s->stats = n;
	memset(&s->stats[s->nstats], 0, sizeof(s->stats[0]));
	snprintf(s->stats[s->nstats].name, sizeof(s->stats[0].name), "%s", name);
	s->stats[s->nstats++].value = v;
	s->has_stats = true;
	return 0;
}

int mp_collect_finish(struct mp_collect *c, const struct mp_bpf_counters *k, int exited,
		      struct mp_snap **ret_heap, struct mp_snap **ret_maps)
{
	struct mp_snap *h = NULL, *m = NULL;
	struct mp_runwind_stats ws;
	int r;

	(void)exited;
	r = make_snap(c, c->heap, c->nheap, c->rate, &h);
	if (r == 0)
		r = make_snap(c, c->mheap, c->nmheap, 1, &m);
	if (r < 0)
		goto fail;
	if (k && (k->lost || k->live_full))
		h->header.flags |= MP_SNAP_F_TRUNCATED;
	r = resolve_resources(c, &h->res, &h->nres);
	if (r < 0)
		goto fail;
	h->has_res = h->nres > 0;
	mp_runwind_stats(c->uw, &ws);
	r = add_stat(h, "AttachRSSBefore", c->rss_start);
	r = r ? r : add_stat(h, "AttachRSSAfter", c->rss_end);
	r = r ? r : add_stat(h, "AttachCalls", k ? k->calls : 0);
	r = r ? r : add_stat(h, "AttachSampled", k ? k->sampled : 0);
	r = r ? r : add_stat(h, "AttachNested", k ? k->nested : 0);
	r = r ? r : add_stat(h, "AttachLostEvents", k ? k->lost : 0);
	r = r ? r : add_stat(h, "AttachUntracked", k ? k->live_full : 0);
	r = r ? r : add_stat(h, "AttachStackless", c->stackless);
	r = r ? r : add_stat(h, "AttachFramesCFI", ws.cfi_frames);
	r = r ? r : add_stat(h, "AttachFramesFP", ws.fp_frames);
	r = r ? r : add_stat(h, "AttachWalksElfutils", ws.dw_walks);
	r = r ? r : add_stat(h, "AttachFramesElfutils", ws.dw_frames);
	r = r ? r : add_stat(h, "AttachForks", c->forks);
	r = r ? r : add_stat(h, "AttachThreadsEnded", c->ended_threads);
	if (r < 0)
		goto fail;
	*ret_heap = h;
	*ret_maps = m;
	return 0;
fail:
	mp_snap_free(h);
	mp_snap_free(m);
	return r;
}

const int *mp_collect_children(const struct mp_collect *c, size_t *ret_n)
{
	*ret_n = c->nchildren;
	return c->children;
}

const uint64_t *mp_collect_map_inuse(const struct mp_collect *c)
{
	return c->minuse;
}

char *mp_collect_note(const struct mp_collect *c, bool other_root)
{
	char before[32], after[32], *s = NULL;

	mp_human_bytes_fixed(c->rss_start, before, sizeof(before));   /* "2.5 MiB" */
	mp_human_bytes_fixed(c->rss_end, after, sizeof(after));
	if (asprintf(&s, "attached: allocations since attach, earlier blocks unknown "
		     "(RSS %s at attach, %s at detach)%s", before, after,
		     other_root ? ", files named as in the process's own root" : "") < 0)
		return NULL;
	return s;
}

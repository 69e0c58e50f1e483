/* SPDX-License-Identifier: MIT */
/* Windows of address space mapped on demand (see vmarea.h). */
#include <errno.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <time.h>

#include "base/ownmem.h"
#include "base/shm.h"
#include "base/vmarea.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define TIB ((uintptr_t)1 << 40)
#define RANGE_LO (17 * TIB)      /* above ASan's high shadow (unit tests), which ends at 16 TiB + 2 GiB */
#define RANGE_HI (40 * TIB)
#define RANGE_SIZE (2 * TIB)          /* windows of one process, all told */
#define WINDOW_ALIGN ((uintptr_t)2 << 20)
#define MAP_UNIT ((size_t)4 << 10)

static uintptr_t range_base;          /* 0 until the first window */
static uintptr_t range_used;          /* bytes handed out, atomic */

static uintptr_t pick_base(void)
{
	uint64_t r = 0;
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		r = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)&ts;
	}
	uintptr_t slots = (RANGE_HI - RANGE_LO - RANGE_SIZE) / WINDOW_ALIGN;
	return RANGE_LO + (uintptr_t)(r % slots) * WINDOW_ALIGN;
}

int mp_vm_area_init(struct mp_vm_area *a, size_t size)
{
	uintptr_t base = __atomic_load_n(&range_base, __ATOMIC_ACQUIRE);
	if (!base) {
		uintptr_t want = pick_base(), expect = 0;
		if (__atomic_compare_exchange_n(&range_base, &expect, want, 0, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			base = want;
		else
			base = expect;
	}
	size = (size + WINDOW_ALIGN - 1) & ~(WINDOW_ALIGN - 1);
	uintptr_t off = __atomic_fetch_add(&range_used, size, __ATOMIC_ACQ_REL);
	if (size > RANGE_SIZE || off > RANGE_SIZE - size)
		return -ENOMEM;
	a->base = base + off;
	a->size = size;
	a->mapped = 0;
	a->shared = 0;
	mp_ownmem_add((const void *)a->base, size);
	return 0;
}

static size_t round_unit(size_t n)
{
	return (n + MAP_UNIT - 1) & ~(MAP_UNIT - 1);
}

int mp_vm_area_grow(struct mp_vm_area *a, size_t need, size_t slack)
{
	if (need <= a->mapped)
		return 0;
	if (!a->base || need > a->size)
		return -ENOMEM;
	int saved = errno, r = 0;
	size_t exact = round_unit(need);
	size_t want = slack > a->size - exact ? a->size : round_unit(exact + slack);
	for (;;) {
		uintptr_t at = a->base + a->mapped;
		size_t len = want - a->mapped;
		void *p;
		if (a->shared > 0) {
			/* A memfd's window (base/shm.h): the one mapping grows in
			 * place over the file's next pages, or fails (ENOMEM)
			 * when the limit or a mapping in the way refuses. */
			p = mremap((void *)a->base, a->mapped, want, 0);
			if (p == (void *)a->base) {
				__atomic_store_n(&a->mapped, want, __ATOMIC_RELEASE);
				r = 0;
				break;
			}
			r = -errno;
			if (want == exact)
				break;
			want = exact;
			continue;
		}
		p = mmap((void *)at, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
		if (p == (void *)at) {
			__atomic_store_n(&a->mapped, want, __ATOMIC_RELEASE);
			r = 0;
			break;
		}
		if (p != MAP_FAILED) {
			/* A kernel before 4.17 took the flag for a hint. */
			munmap(p, len);
			errno = EEXIST;
		}
		r = -errno;
		if (want == exact)
			break;
		want = exact;       /* the slack was refused: only what is needed */
	}
	errno = saved;
	return r;
}

void mp_vm_area_trim(struct mp_vm_area *a, size_t keep)
{
	keep = round_unit(keep);
	if (keep >= a->mapped)
		return;
	int saved = errno;
	if (a->shared > 0 && keep == 0)
		keep = MAP_UNIT;   /* a shared window keeps its first page: mremap grows it */
	if (keep >= a->mapped) {
		errno = saved;
		return;
	}
	munmap((void *)(a->base + keep), a->mapped - keep);
	__atomic_store_n(&a->mapped, keep, __ATOMIC_RELEASE);
	errno = saved;
}

int mp_vm_limited(void)
{
	struct rlimit as, data;
	int saved = errno;
	int r = (getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY) ||
		(getrlimit(RLIMIT_DATA, &data) == 0 && data.rlim_cur != RLIM_INFINITY);
	errno = saved;
	return r;
}

#define TABLE_STEP ((size_t)64 << 10)

int mp_vm_table_init(struct mp_vm_table *t, size_t elem, size_t max)
{
	t->elem = 0;
	t->lock = 0;
	if (mp_vm_area_init(&t->area, elem * max) < 0)
		return -ENOMEM;
	__atomic_store_n(&t->elem, elem, __ATOMIC_RELEASE);
	return 0;
}

int mp_vm_table_cover(struct mp_vm_table *t, size_t i)
{
	if (mp_vm_table_has(t, i))
		return 0;
	if (!t->elem)
		return -ENOMEM;
	while (__atomic_exchange_n(&t->lock, 1, __ATOMIC_ACQUIRE))
		sched_yield();
	int r = mp_vm_area_grow(&t->area, (i + 1) * t->elem, TABLE_STEP);
	__atomic_store_n(&t->lock, 0, __ATOMIC_RELEASE);
	return r < 0 ? -ENOMEM : 0;
}

int mp_vm_table_share(struct mp_vm_table *t, uint32_t section)
{
	if (!t->elem)
		return -ENOMEM;
	while (__atomic_exchange_n(&t->lock, 1, __ATOMIC_ACQUIRE))
		sched_yield();
	int r = mp_vm_area_share(&t->area, section, t->elem);
	__atomic_store_n(&t->lock, 0, __ATOMIC_RELEASE);
	return r;
}

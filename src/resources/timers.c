/* SPDX-License-Identifier: MIT */
/*
 * POSIX timer tracking: timer_create (with the creating stack and clock),
 * timer_settime (armed or not, interval), timer_delete.  timerfd timers are
 * descriptors (fds.c).  In the target: slots in memory mapped here, claimed
 * with an atomic exchange, no lock, no allocation.
 */
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "base/compiler.h"
#include "base/guard.h"
#include "base/log.h"
#include "base/vmarea.h"
#include "common/snapshot.h"
#include "resources/internal.h"

#define MAX_TIMERS 4096

struct slot {
	int used;
	timer_t id;
	clockid_t clock;
	int armed;
	uint64_t interval_ns;
	uint32_t stack_id;
};

/* Mapped as far as the highest slot claimed (base/vmarea.h). */
static struct mp_vm_table slot_tab, out_tab;
static struct slot *slots;
static struct mp_snap_res_rec *out;
static int top_slot = -1;

int mp_timers_init(void)
{
	if (mp_vm_table_init(&slot_tab, sizeof(*slots), MAX_TIMERS) < 0 ||
	    mp_vm_table_init(&out_tab, sizeof(*out), MAX_TIMERS) < 0)
		return -ENOMEM;
	mp_vm_table_share(&out_tab, MP_SNAP_RESOURCES);
	out = mp_vm_table_at(&out_tab, 0);
	__atomic_store_n(&slots, (struct slot *)mp_vm_table_at(&slot_tab, 0), __ATOMIC_RELEASE);
	return 0;
}

static struct slot *find(timer_t id)
{
	int top = __atomic_load_n(&top_slot, __ATOMIC_RELAXED);
	for (int i = 0; slots && i <= top; i++)
		if (__atomic_load_n(&slots[i].used, __ATOMIC_ACQUIRE) && slots[i].id == id)
			return &slots[i];
	return NULL;
}

MP_EXPORT int timer_create(clockid_t clock, struct sigevent *sev, timer_t *ret)
{
	static int (*real)(clockid_t, struct sigevent *, timer_t *);
	if (!real)
		real = (int (*)(clockid_t, struct sigevent *, timer_t *))dlsym(RTLD_NEXT, "timer_create");
	int r = real(clock, sev, ret);
	if (r != 0 || !slots || mp_busy)
		return r;
	int saved = errno;
	for (int i = 0; i < MAX_TIMERS; i++) {
		int expect = 0;
		if (mp_vm_table_cover(&slot_tab, (size_t)i) < 0)
			break;
		if (!__atomic_compare_exchange_n(&slots[i].used, &expect, 2, 0, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE))
			continue;
		struct slot *s = &slots[i];
		s->id = *ret;
		s->clock = clock;
		s->armed = 0;
		s->interval_ns = 0;
		mp_busy = 1;
		s->stack_id = mp_res_creation_stack();
		mp_busy = 0;
		mp_res_raise_top(&top_slot, i);
		__atomic_store_n(&s->used, 1, __ATOMIC_RELEASE);
		break;
	}
	errno = saved;
	return r;
}

MP_EXPORT int timer_settime(timer_t id, int flags, const struct itimerspec *nv, struct itimerspec *ov)
{
	static int (*real)(timer_t, int, const struct itimerspec *, struct itimerspec *);
	if (!real)
		real = (int (*)(timer_t, int, const struct itimerspec *, struct itimerspec *))dlsym(
			RTLD_NEXT, "timer_settime");
	int r = real(id, flags, nv, ov);
	struct slot *s = r == 0 && nv ? find(id) : NULL;
	if (s) {
		s->armed = nv->it_value.tv_sec || nv->it_value.tv_nsec;
		s->interval_ns = (uint64_t)nv->it_interval.tv_sec * 1000000000u +
				 (uint64_t)nv->it_interval.tv_nsec;
	}
	return r;
}

MP_EXPORT int timer_delete(timer_t id)
{
	static int (*real)(timer_t);
	if (!real)
		real = (int (*)(timer_t))dlsym(RTLD_NEXT, "timer_delete");
	struct slot *s = find(id);
	int r = real(id);
	if (r == 0 && s)
		__atomic_store_n(&s->used, 0, __ATOMIC_RELEASE);
	return r;
}

static const char *clock_name(clockid_t c)
{
	switch (c) {
	case CLOCK_REALTIME: return "realtime";
	case CLOCK_MONOTONIC: return "monotonic";
	case CLOCK_PROCESS_CPUTIME_ID: return "process-cputime";
	case CLOCK_THREAD_CPUTIME_ID: return "thread-cputime";
	case CLOCK_BOOTTIME: return "boottime";
	default: return "other";
	}
}

size_t mp_timers_records(const void **ret_buf)
{
	size_t n = 0;
	*ret_buf = out;
	int top = __atomic_load_n(&top_slot, __ATOMIC_RELAXED);
	if (top >= 0 && mp_res_out_cover(&out_tab, (size_t)top) < 0)
		return 0;
	for (int i = 0; slots && i <= top; i++) {
		if (__atomic_load_n(&slots[i].used, __ATOMIC_ACQUIRE) != 1)
			continue;
		mp_res_out_begin(&out_tab, n);
		struct mp_snap_res_rec *r = &out[n++];
		memset(r, 0, sizeof(*r));
		r->res_class = MP_RES_TIMER;
		r->kind = slots[i].armed ? MP_TIMER_ARMED : MP_TIMER_DISARMED;
		r->id = (int64_t)(intptr_t)slots[i].id;
		r->stack_id = slots[i].stack_id;
		char num[24];
		const char *parts[] = { clock_name(slots[i].clock),
					slots[i].interval_ns ? " interval " : "",
					slots[i].interval_ns ? mp_utoa(slots[i].interval_ns, num) : "",
					slots[i].interval_ns ? "ns" : "" };
		size_t k = 0;
		for (size_t p = 0; p < 4; p++)
			for (const char *c = parts[p]; *c && k < sizeof(r->detail) - 1; c++)
				r->detail[k++] = *c;
		r->detail[k] = 0;
		mp_res_out_end(&out_tab);
	}
	mp_res_out_publish(&out_tab, n);
	return n;
}

/* SPDX-License-Identifier: MIT */
/*
 * Thread tracking: every thread made with pthread_create, with the stack
 * that created it and its start routine, until it is joined (or, detached,
 * until it ends).  Interposed: pthread_create (the new thread starts in a
 * trampoline that knows its slot), pthread_exit, pthread_join,
 * pthread_tryjoin_np, pthread_timedjoin_np, pthread_detach,
 * pthread_setname_np.  At a snapshot: threads still running, and joinable
 * threads that ended but were never joined.  memprof's own helper thread
 * is never tracked.
 *
 * In the target: slots in memory mapped here, claimed with an atomic
 * exchange, no lock; no allocation from the target's heap.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/compiler.h"
#include "base/guard.h"
#include "base/vmarea.h"
#include "common/snapshot.h"
#include "resources/internal.h"

#define MAX_THREADS 8192

enum { FREE = 0, CLAIMED, RUNNING, ENDED };

struct slot {
	int state;                 /* FREE, CLAIMED, RUNNING, ENDED */
	int detached;
	pthread_t handle;
	pid_t tid;
	uint32_t stack_id;
	void *(*start)(void *);
	void *arg;
	char name[16];
};

/* Mapped as far as the highest slot claimed (base/vmarea.h). */
static struct mp_vm_table slot_tab, out_tab;
static struct slot *slots;
static int top_slot = -1;             /* highest slot ever claimed */
static struct mp_snap_res_rec *out;

int mp_threads_init(void)
{
	if (mp_vm_table_init(&slot_tab, sizeof(*slots), MAX_THREADS) < 0 ||
	    mp_vm_table_init(&out_tab, sizeof(*out), MAX_THREADS) < 0)
		return -ENOMEM;
	mp_vm_table_share(&out_tab, MP_SNAP_RESOURCES);
	out = mp_vm_table_at(&out_tab, 0);
	__atomic_store_n(&slots, (struct slot *)mp_vm_table_at(&slot_tab, 0), __ATOMIC_RELEASE);
	return 0;
}

static struct slot *find(pthread_t h)
{
	int top = __atomic_load_n(&top_slot, __ATOMIC_RELAXED);
	for (int i = 0; slots && i <= top; i++) {
		int st = __atomic_load_n(&slots[i].state, __ATOMIC_ACQUIRE);
		if ((st == RUNNING || st == ENDED || st == CLAIMED) && pthread_equal(slots[i].handle, h))
			return &slots[i];
	}
	return NULL;
}

static void release(struct slot *s)
{
	__atomic_store_n(&s->state, FREE, __ATOMIC_RELEASE);
}

static MP_TLS struct slot *self_slot;

/* The thread ended (returned or called pthread_exit). */
static void ended(void)
{
	struct slot *s = self_slot;
	if (!s)
		return;
	self_slot = NULL;
	if (__atomic_load_n(&s->detached, __ATOMIC_ACQUIRE))
		release(s);
	else
		__atomic_store_n(&s->state, ENDED, __ATOMIC_RELEASE);
}

/*
 * This thread's kernel id without a system call (gettid costs ~170 ns in a
 * VM, more than all the rest of the tracking): the CPU-time clock glibc
 * gives for a thread encodes the id it keeps in the thread's descriptor, by
 * the kernel's ABI for such clocks (MAKE_THREAD_CPUCLOCK: ~tid << 3 | flags).
 */
static pid_t self_tid(void)
{
	clockid_t c;
	if (pthread_getcpuclockid(pthread_self(), &c) == 0 && (c & 7) == 6) {
		pid_t tid = (pid_t)~(c >> 3);
		if (tid > 0)
			return tid;
	}
	return (pid_t)syscall(SYS_gettid);
}

static void *trampoline(void *p)
{
	struct slot *s = p;
	self_slot = s;
	s->tid = self_tid();
	void *(*start)(void *) = s->start;
	void *arg = s->arg;
	void *r = start(arg);
	ended();
	return r;
}

typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

MP_EXPORT int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*start)(void *),
			     void *arg)
{
	static create_fn real;
	if (!real)
		real = (create_fn)dlsym(RTLD_NEXT, "pthread_create");
	struct slot *s = NULL;
	if (slots && !mp_res_own_thread() && !mp_busy) {
		for (int i = 0; i < MAX_THREADS && !s; i++) {
			int expect = FREE;
			if (mp_vm_table_cover(&slot_tab, (size_t)i) < 0)
				break;
			if (__atomic_compare_exchange_n(&slots[i].state, &expect, CLAIMED, 0,
							__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
				s = &slots[i];
				mp_res_raise_top(&top_slot, i);
			}
		}
	}
	if (!s)
		return real(t, attr, start, arg);
	int saved = errno;
	s->start = start;
	s->arg = arg;
	s->tid = 0;
	s->name[0] = 0;
	int detached = 0;
	if (attr && pthread_attr_getdetachstate(attr, &detached) == 0)
		detached = detached == PTHREAD_CREATE_DETACHED;
	s->detached = detached;
	mp_busy = 1;
	s->stack_id = mp_res_creation_stack();
	mp_busy = 0;
	errno = saved;
	pthread_t h;
	int r = real(&h, attr, trampoline, s);
	if (r != 0) {
		release(s);
		return r;
	}
	s->handle = h;
	*t = h;
	/* RUNNING unless it already ended (a detached one may be gone). */
	int expect = CLAIMED;
	__atomic_compare_exchange_n(&s->state, &expect, RUNNING, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
	return 0;
}

MP_EXPORT void pthread_exit(void *r)
{
	static void (*real)(void *);
	if (!real)
		real = (void (*)(void *))dlsym(RTLD_NEXT, "pthread_exit");
	ended();
	real(r);
	__builtin_unreachable();   /* libc's pthread_exit does not return */
}

static void joined(pthread_t t, int r)
{
	if (r != 0)
		return;
	struct slot *s = find(t);
	if (s)
		release(s);
}

MP_EXPORT int pthread_join(pthread_t t, void **ret)
{
	static int (*real)(pthread_t, void **);
	if (!real)
		real = (int (*)(pthread_t, void **))dlsym(RTLD_NEXT, "pthread_join");
	int r = real(t, ret);
	joined(t, r);
	return r;
}

MP_EXPORT int pthread_tryjoin_np(pthread_t t, void **ret)
{
	static int (*real)(pthread_t, void **);
	if (!real)
		real = (int (*)(pthread_t, void **))dlsym(RTLD_NEXT, "pthread_tryjoin_np");
	int r = real(t, ret);
	joined(t, r);
	return r;
}

MP_EXPORT int pthread_timedjoin_np(pthread_t t, void **ret, const struct timespec *ts)
{
	static int (*real)(pthread_t, void **, const struct timespec *);
	if (!real)
		real = (int (*)(pthread_t, void **, const struct timespec *))dlsym(RTLD_NEXT,
										  "pthread_timedjoin_np");
	int r = real(t, ret, ts);
	joined(t, r);
	return r;
}

MP_EXPORT int pthread_detach(pthread_t t)
{
	static int (*real)(pthread_t);
	if (!real)
		real = (int (*)(pthread_t))dlsym(RTLD_NEXT, "pthread_detach");
	struct slot *s = find(t);
	int r = real(t);
	if (r == 0 && s) {
		__atomic_store_n(&s->detached, 1, __ATOMIC_RELEASE);
		if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) == ENDED)
			release(s);
	}
	return r;
}

MP_EXPORT int pthread_setname_np(pthread_t t, const char *name)
{
	static int (*real)(pthread_t, const char *);
	if (!real)
		real = (int (*)(pthread_t, const char *))dlsym(RTLD_NEXT, "pthread_setname_np");
	int r = real(t, name);
	struct slot *s = r == 0 ? find(t) : NULL;
	if (s) {
		size_t n = strnlen(name, sizeof(s->name) - 1);
		memcpy(s->name, name, n);
		s->name[n] = 0;
	}
	return r;
}

size_t mp_threads_records(const void **ret_buf)
{
	size_t n = 0;
	*ret_buf = out;
	int top = __atomic_load_n(&top_slot, __ATOMIC_RELAXED);
	if (top >= 0 && mp_res_out_cover(&out_tab, (size_t)top) < 0)
		return 0;
	for (int i = 0; slots && i <= top; i++) {
		int st = __atomic_load_n(&slots[i].state, __ATOMIC_ACQUIRE);
		if (st != RUNNING && st != ENDED)
			continue;
		if (st == ENDED && slots[i].detached)
			continue;
		mp_res_out_begin(&out_tab, n);
		struct mp_snap_res_rec *r = &out[n++];
		memset(r, 0, sizeof(*r));
		r->res_class = MP_RES_THREAD;
		r->kind = st == RUNNING ? MP_THREAD_RUNNING : MP_THREAD_UNJOINED;
		r->id = slots[i].tid;
		r->stack_id = slots[i].stack_id;
		r->flags = slots[i].detached ? MP_RES_F_DETACHED : 0;
		Dl_info di;
		const char *fn = !mp_res_death && dladdr((void *)slots[i].start, &di) && di.dli_sname
					 ? di.dli_sname : "";
		size_t k = 0;
		/* "name routine": the routine (a linker name, no space) is what
		 * follows the last space, even when the thread has no name */
		for (const char *c = slots[i].name; *c && k < sizeof(r->detail) - 2; c++)
			r->detail[k++] = *c;
		if (*fn)
			r->detail[k++] = ' ';
		for (const char *c = fn; *c && k < sizeof(r->detail) - 1; c++)
			r->detail[k++] = *c;
		r->detail[k] = 0;
		mp_res_out_end(&out_tab);
	}
	mp_res_out_publish(&out_tab, n);
	return n;
}

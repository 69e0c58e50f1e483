/* SPDX-License-Identifier: MIT */
/*
 * The resource trackers as a library (src/resources/), outside any shim:
 * this program links them, so its own calls to open, pipe, dup2, fcntl,
 * close_range, socket, fopen, opendir, eventfd, memfd_create, timer_*
 * and pthread_* go through the trackers' wrappers (which reach libc with
 * dlsym(RTLD_NEXT)), and the hooks are this test's.  Checked: each
 * resource's record (class, kind, id, flags, detail, the hook's creation
 * stack), its removal when closed, deleted or joined, errno untouched,
 * nothing recorded under the recursion guard or for memprof's own
 * threads, and the hook called with the guard raised.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/guard.h"
#include "common/snapshot.h"
#include "resources/resources.h"
#include "tap.h"

/* ---- the hooks --------------------------------------------------------------- */

static uint32_t next_stack = 7;       /* what the creation-stack hook returns */
static int hook_calls, hook_unguarded;
static int own;                       /* what the own-thread hook says */

static uint32_t creation_stack(void)
{
	hook_calls++;
	if (!mp_busy)
		hook_unguarded++;
	return next_stack;
}

static int own_thread(void)
{
	return own;
}

/* ---- reading the tables ----------------------------------------------------- */

typedef size_t (*records_fn)(const void **);

/* The record of resource `id` in a tracker's records, copied to *ret. */
static bool find(records_fn fn, int64_t id, struct mp_snap_res_rec *ret)
{
	const void *buf;
	size_t n = fn(&buf);
	const struct mp_snap_res_rec *r = buf;

	for (size_t i = 0; i < n; i++)
		if (r[i].id == id) {
			*ret = r[i];
			return true;
		}
	return false;
}

static size_t count(records_fn fn)
{
	const void *buf;
	return fn(&buf);
}

/* ---- descriptors ------------------------------------------------------------ */

static void test_fds(void)
{
	struct mp_snap_res_rec r;
	int p[2];

	CHECK_INT(mp_fds_init(), 0);
	/* Standard error is open (the TAP output's runner gave it): inherited,
	 * no stack. */
	CHECK(find(mp_fds_records, 2, &r));
	CHECK_INT(r.res_class, MP_RES_FD);
	CHECK_INT(r.flags & MP_RES_F_INHERITED, MP_RES_F_INHERITED);
	CHECK_INT(r.stack_id, 0);

	/* A file: its path, close-on-exec, the hook's stack; errno kept. */
	hook_calls = 0;
	errno = 1234;
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	CHECK_INT(errno, 1234);
	CHECK(fd >= 0);
	CHECK_INT(hook_calls, 1);
	CHECK(find(mp_fds_records, fd, &r));
	CHECK_INT(r.res_class, MP_RES_FD);
	CHECK_INT(r.kind, MP_FD_FILE);
	CHECK_INT(r.flags, MP_RES_F_CLOEXEC);
	CHECK_INT(r.stack_id, 7);
	CHECK_STR(r.detail, "/dev/null");
	CHECK_INT(close(fd), 0);
	CHECK(!find(mp_fds_records, fd, &r));

	/* A failed open records nothing and keeps its errno. */
	size_t before = count(mp_fds_records);
	CHECK_INT(open("/nonexistent/memprof-test", O_RDONLY), -1);
	CHECK_INT(errno, ENOENT);
	CHECK_INT(count(mp_fds_records), before);

	/* A pipe; a dup of its read end at a number of our choice keeps the
	 * kind; F_SETFD and close_range update and drop it. */
	next_stack = 8;
	CHECK_INT(pipe(p), 0);
	CHECK(find(mp_fds_records, p[0], &r));
	CHECK_INT(r.kind, MP_FD_PIPE);
	CHECK_INT(r.stack_id, 8);
	CHECK(find(mp_fds_records, p[1], &r));
	CHECK_INT(r.kind, MP_FD_PIPE);
	next_stack = 9;
	CHECK_INT(dup2(p[0], 100), 100);
	CHECK(find(mp_fds_records, 100, &r));
	CHECK_INT(r.kind, MP_FD_PIPE);
	CHECK_INT(r.flags, 0);
	CHECK_INT(r.stack_id, 9);
	CHECK_INT(fcntl(100, F_SETFD, FD_CLOEXEC), 0);
	CHECK(find(mp_fds_records, 100, &r));
	CHECK_INT(r.flags, MP_RES_F_CLOEXEC);
	int d = fcntl(p[1], F_DUPFD_CLOEXEC, 50);
	CHECK(d >= 50);
	CHECK(find(mp_fds_records, d, &r));
	CHECK_INT(r.kind, MP_FD_PIPE);
	CHECK_INT(r.flags, MP_RES_F_CLOEXEC);
	CHECK_INT(close_range(100, 100, 0), 0);
	CHECK(!find(mp_fds_records, 100, &r));
	close(d);
	close(p[0]);
	close(p[1]);
	CHECK(!find(mp_fds_records, p[0], &r));
	CHECK(!find(mp_fds_records, d, &r));

	/* A socket: family and type, then its state as the kernel says. */
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(s >= 0);
	CHECK(find(mp_fds_records, s, &r));
	CHECK_INT(r.kind, MP_FD_SOCKET);
	CHECK_INT(r.flags, MP_RES_F_CLOEXEC);
	CHECK_STR(r.detail, "inet stream unbound");
	close(s);

	/* stdio and dirent open through libc's own calls. */
	FILE *f = fopen("/dev/null", "re");
	CHECK(f != NULL);
	CHECK(f && find(mp_fds_records, fileno(f), &r));
	CHECK_INT(r.kind, MP_FD_FILE);
	CHECK_INT(r.flags, MP_RES_F_CLOEXEC);
	int ffd = f ? fileno(f) : -1;
	if (f)
		fclose(f);
	CHECK(!find(mp_fds_records, ffd, &r));
	DIR *dir = opendir("/");
	CHECK(dir != NULL);
	CHECK(dir && find(mp_fds_records, dirfd(dir), &r));
	CHECK_INT(r.kind, MP_FD_DIR);
	CHECK_STR(r.detail, "/");
	int dfd = dir ? dirfd(dir) : -1;
	if (dir)
		closedir(dir);
	CHECK(!find(mp_fds_records, dfd, &r));

	int e = eventfd(0, EFD_CLOEXEC);
	CHECK(find(mp_fds_records, e, &r));
	CHECK_INT(r.kind, MP_FD_EVENTFD);
	close(e);
	int m = memfd_create("memprof-test", 0);
	CHECK(find(mp_fds_records, m, &r));
	CHECK_INT(r.kind, MP_FD_MEMFD);
	CHECK_STR(r.detail, "/memfd:memprof-test (deleted)");
	close(m);

	/* Under the recursion guard (memprof's own descriptors): nothing. */
	hook_calls = 0;
	mp_busy = 1;
	fd = open("/dev/null", O_RDONLY);
	mp_busy = 0;
	CHECK(fd >= 0);
	CHECK(!find(mp_fds_records, fd, &r));
	CHECK_INT(hook_calls, 0);
	close(fd);
}

/* ---- timers ----------------------------------------------------------------- */

static void test_timers(void)
{
	struct mp_snap_res_rec r;
	timer_t t;
	struct sigevent sev = { .sigev_notify = SIGEV_NONE };

	CHECK_INT(mp_timers_init(), 0);
	next_stack = 11;
	CHECK_INT(timer_create(CLOCK_MONOTONIC, &sev, &t), 0);
	CHECK(find(mp_timers_records, (int64_t)(intptr_t)t, &r));
	CHECK_INT(r.res_class, MP_RES_TIMER);
	CHECK_INT(r.kind, MP_TIMER_DISARMED);
	CHECK_INT(r.stack_id, 11);
	CHECK_STR(r.detail, "monotonic");
	struct itimerspec its = { .it_value = { 100, 0 }, .it_interval = { 1, 500 } };
	CHECK_INT(timer_settime(t, 0, &its, NULL), 0);
	CHECK(find(mp_timers_records, (int64_t)(intptr_t)t, &r));
	CHECK_INT(r.kind, MP_TIMER_ARMED);
	CHECK_STR(r.detail, "monotonic interval 1000000500ns");
	CHECK_INT(timer_delete(t), 0);
	CHECK(!find(mp_timers_records, (int64_t)(intptr_t)t, &r));
	CHECK_INT(count(mp_timers_records), 0);

	mp_busy = 1;
	CHECK_INT(timer_create(CLOCK_REALTIME, &sev, &t), 0);
	mp_busy = 0;
	CHECK_INT(count(mp_timers_records), 0);
	timer_delete(t);
}

/* ---- threads ---------------------------------------------------------------- */

static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int started, released;

static void *worker(void *arg)
{
	pthread_mutex_lock(&gate);
	started++;
	pthread_cond_broadcast(&gate_cv);
	while (!released)
		pthread_cond_wait(&gate_cv, &gate);
	pthread_mutex_unlock(&gate);
	return arg;
}

static void wait_started(int n)
{
	pthread_mutex_lock(&gate);
	while (started < n)
		pthread_cond_wait(&gate_cv, &gate);
	pthread_mutex_unlock(&gate);
}

static void release_all(void)
{
	pthread_mutex_lock(&gate);
	released = 1;
	pthread_cond_broadcast(&gate_cv);
	pthread_mutex_unlock(&gate);
}

/* The only record of the threads table (the test makes one at a time). */
static bool only_thread(struct mp_snap_res_rec *ret)
{
	const void *buf;
	size_t n = mp_threads_records(&buf);

	if (n == 1)
		*ret = *(const struct mp_snap_res_rec *)buf;
	return n == 1;
}

static void test_threads(void)
{
	struct mp_snap_res_rec r;
	pthread_t t;
	void *ret;

	CHECK_INT(mp_threads_init(), 0);
	next_stack = 21;
	hook_calls = 0;
	CHECK_INT(pthread_create(&t, NULL, worker, (void *)7), 0);
	CHECK_INT(hook_calls, 1);
	wait_started(1);
	CHECK_INT(pthread_setname_np(t, "tworker"), 0);
	CHECK(only_thread(&r));
	CHECK_INT(r.res_class, MP_RES_THREAD);
	CHECK_INT(r.kind, MP_THREAD_RUNNING);
	CHECK(r.id > 0 && r.id != getpid());
	CHECK_INT(r.stack_id, 21);
	CHECK_INT(r.flags, 0);
	/* "name routine": the routine is named when dladdr can (this test's
	 * worker is not in the dynamic symbol table). */
	CHECK(strncmp(r.detail, "tworker", 7) == 0);

	/* Ended and not joined: listed as such until joined.  (The state
	 * changes once the routine has returned: waited for, not timed.) */
	release_all();
	for (int i = 0; i < 100000 && only_thread(&r) && r.kind == MP_THREAD_RUNNING; i++)
		sched_yield();
	CHECK(only_thread(&r));
	CHECK_INT(r.kind, MP_THREAD_UNJOINED);
	CHECK_INT(pthread_join(t, &ret), 0);
	CHECK(ret == (void *)7);
	CHECK_INT(count(mp_threads_records), 0);

	/* Detached: gone once it ends. */
	released = 0;
	CHECK_INT(pthread_create(&t, NULL, worker, NULL), 0);
	wait_started(2);
	CHECK_INT(pthread_detach(t), 0);
	CHECK(only_thread(&r));
	CHECK_INT(r.flags, MP_RES_F_DETACHED);
	release_all();
	for (int i = 0; i < 100000 && count(mp_threads_records); i++)
		sched_yield();
	CHECK_INT(count(mp_threads_records), 0);

	/* memprof's own threads, and threads made under the guard: not
	 * tracked, the hook not asked. */
	hook_calls = 0;
	own = 1;
	released = 0;
	CHECK_INT(pthread_create(&t, NULL, worker, NULL), 0);
	own = 0;
	wait_started(3);
	CHECK_INT(count(mp_threads_records), 0);
	release_all();
	pthread_join(t, NULL);
	released = 0;
	mp_busy = 1;
	CHECK_INT(pthread_create(&t, NULL, worker, NULL), 0);
	mp_busy = 0;
	wait_started(4);
	CHECK_INT(count(mp_threads_records), 0);
	release_all();
	pthread_join(t, NULL);
	CHECK_INT(hook_calls, 0);
}

int main(void)
{
	static const struct mp_res_hooks hooks = {
		.creation_stack = creation_stack,
		.own_thread = own_thread,
	};

	mp_res_set_hooks(&hooks);
	test_fds();
	test_timers();
	test_threads();
	/* Every creation stack was asked for under the guard. */
	CHECK_INT(hook_unguarded, 0);
	return tap_done();
}

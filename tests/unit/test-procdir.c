/* SPDX-License-Identifier: MIT */
/*
 * The numbered entries of a /proc directory (base/procdir.h), as the
 * private descriptor table's fallback close, the leak scan's thread list
 * and the inherited descriptors' census read them: which names count and
 * the numbers they make, the descriptors of this process, the threads of
 * this process, and what a missing directory gives.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/procdir.h"
#include "tap.h"

enum { MAXN = 4096 };

/* Every number the iterator gives for path, in seen[] (counts); how many. */
static int list(const char *path, unsigned char *seen, int *ret_dirfd)
{
	struct mp_procdir d;
	int n, count = 0;

	memset(seen, 0, MAXN);
	if (mp_procdir_open(&d, path) < 0)
		return -1;
	if (ret_dirfd)
		*ret_dirfd = d.fd;
	while ((n = mp_procdir_next(&d)) >= 0) {
		count++;
		if (n < MAXN)
			seen[n]++;
	}
	CHECK_INT(mp_procdir_next(&d), -1);   /* stays at the end */
	mp_procdir_close(&d);
	CHECK_INT(d.fd, -1);
	mp_procdir_close(&d);                  /* again: harmless */
	CHECK_INT(mp_procdir_next(&d), -1);
	return count;
}

/* Names: a leading digit counts, its leading digits make the number. */
static void test_names(void)
{
	static const struct {
		const char *name;
		long want;                     /* -1: passed over */
	} names[] = {
		{ "7", 7 }, { "0", 0 }, { "0042", 42 }, { "12abc", 12 }, { "abc", -1 },
		{ "x12", -1 }, { "-3", -1 }, { ".hidden", -1 }, { "2147483647", INT_MAX },
		{ "2147483648", -1 }, { "99999999999999999999999", -1 },
	};
	char dir[] = "/tmp/mp-procdir-XXXXXX", path[128];
	static unsigned char seen[MAXN];
	struct mp_procdir d;
	int n, got = 0, got_max = 0, want = 0;

	CHECK(mkdtemp(dir) != NULL);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i].name);
		int fd = open(path, O_CREAT | O_WRONLY | O_EXCL, 0600);
		CHECK(fd >= 0);
		close(fd);
		want += names[i].want >= 0;
	}
	memset(seen, 0, sizeof(seen));
	CHECK_INT(mp_procdir_open(&d, dir), 0);
	while ((n = mp_procdir_next(&d)) >= 0) {
		got++;
		if (n == INT_MAX)
			got_max++;
		else if (n < MAXN)
			seen[n]++;
	}
	mp_procdir_close(&d);
	CHECK_INT(got, want);
	CHECK_INT(seen[7], 1);
	CHECK_INT(seen[0], 1);
	CHECK_INT(seen[42], 1);
	CHECK_INT(seen[12], 1);
	CHECK_INT(got_max, 1);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i].name);
		unlink(path);
	}
	rmdir(dir);
}

/* Descriptors: exactly those open, the listing's own among them. */
static void test_fds(void)
{
	static unsigned char seen[MAXN];
	int p[2], dup_fd, dirfd = -1, count, want = 0;

	CHECK_INT(pipe(p), 0);
	dup_fd = fcntl(p[0], F_DUPFD, 1000);
	CHECK_INT(dup_fd >= 1000, 1);
	count = list("/proc/self/fd", seen, &dirfd);
	CHECK(dirfd >= 0);
	for (int fd = 0; fd < MAXN; fd++) {
		int open_now = fd == dirfd || fcntl(fd, F_GETFD) >= 0;

		want += open_now;
		if (seen[fd] != open_now) {
			CHECK_INT(seen[fd], open_now);
			printf("#   descriptor %d\n", fd);
		}
	}
	CHECK_INT(count, want);
	CHECK_INT(seen[p[0]], 1);
	CHECK_INT(seen[p[1]], 1);
	CHECK_INT(seen[dup_fd], 1);
	close(dup_fd);
	close(p[0]);
	close(p[1]);
	CHECK(list("/proc/self/fd", seen, NULL) > 0);
	CHECK_INT(seen[dup_fd], 0);
}

static pthread_barrier_t barrier;
static pid_t tids[4];

static void *thread_main(void *arg)
{
	tids[(long)arg] = (pid_t)syscall(SYS_gettid);
	pthread_barrier_wait(&barrier);     /* ids known */
	pthread_barrier_wait(&barrier);     /* listed */
	return NULL;
}

/* Threads: /proc/PID/task lists this one and the three it made. */
static void test_threads(void)
{
	pthread_t t[3];
	char path[64];
	struct mp_procdir d;
	int n, count = 0, found = 0;

	pthread_barrier_init(&barrier, NULL, 4);
	tids[0] = (pid_t)syscall(SYS_gettid);
	for (long i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, thread_main, (void *)(i + 1));
	pthread_barrier_wait(&barrier);
	snprintf(path, sizeof(path), "/proc/%d/task", (int)getpid());
	CHECK_INT(mp_procdir_open(&d, path), 0);
	while ((n = mp_procdir_next(&d)) >= 0) {
		count++;
		for (int i = 0; i < 4; i++)
			found += n == tids[i];
	}
	mp_procdir_close(&d);
	CHECK_INT(count, 4);
	CHECK_INT(found, 4);
	pthread_barrier_wait(&barrier);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&barrier);
}

/* A directory that is not there: -1 and errno, nothing listed. */
static void test_missing(void)
{
	struct mp_procdir d;

	errno = 0;
	CHECK_INT(mp_procdir_open(&d, "/proc/self/no-such-dir"), -1);
	CHECK_INT(errno, ENOENT);
	CHECK_INT(d.fd, -1);
	CHECK_INT(mp_procdir_next(&d), -1);
	mp_procdir_close(&d);
	CHECK_INT(mp_procdir_open(&d, "/proc/self/status"), -1);   /* not a directory */
	CHECK_INT(errno, ENOTDIR);
}

int main(void)
{
	test_names();
	test_fds();
	test_threads();
	test_missing();
	return tap_done();
}

/* SPDX-License-Identifier: MIT */
/*
 * Resource-call benchmark: loops of open/close, socket/close and
 * pthread_create/join in which every call is timed on its own; prints the
 * median time of each call, "name ns" per line.  Run natively and with the
 * shim preloaded (scripts/bench.py --set resources) to get the overhead of
 * the tracking per call.  Medians of single calls, unlike the mean time of
 * a loop, are not moved by the rare call that waits for the scheduler or
 * the hypervisor (a thread's creation and join here vary by microseconds
 * from run to run, ten times the overhead measured).
 *
 * usage: res-bench [ITERATIONS [open|socket|thread]]
 *   (the thread loop runs ITERATIONS / 20 times; without a loop name, all
 *   three run)
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return x < y ? -1 : x > y;
}

static long long median(long long *v, long n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_ll);
	return v[n / 2];
}

static void *nothing(void *arg)
{
	return arg;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 200000;
	const char *only = argc > 2 ? argv[2] : NULL;
	long long *a, *b;

	if (n < 20)
		n = 20;
	a = malloc((size_t)n * sizeof(*a));
	b = malloc((size_t)n * sizeof(*b));
	if (!a || !b)
		return 1;
	if (!only || strcmp(only, "open") == 0) {
		for (long i = 0; i < n; i++) {
			long long t0 = now();
			int fd = open("/dev/null", O_RDONLY);
			long long t1 = now();
			close(fd);
			b[i] = now() - t1;
			a[i] = t1 - t0;
		}
		printf("open %lld\nclose %lld\n", median(a, n), median(b, n));
	}
	if (!only || strcmp(only, "socket") == 0) {
		for (long i = 0; i < n; i++) {
			long long t0 = now();
			int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
			long long t1 = now();
			close(fd);
			b[i] = now() - t1;
			a[i] = t1 - t0;
		}
		printf("socket %lld\nclose(socket) %lld\n", median(a, n), median(b, n));
	}
	if (!only || strcmp(only, "thread") == 0) {
		long nt = n / 20;
		for (long i = 0; i < nt; i++) {
			pthread_t t;
			long long t0 = now();
			pthread_create(&t, NULL, nothing, NULL);
			long long t1 = now();
			pthread_join(t, NULL);
			b[i] = now() - t1;
			a[i] = t1 - t0;
		}
		printf("pthread_create %lld\npthread_join %lld\n", median(a, nt), median(b, nt));
	}
	free(a);
	free(b);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * Resource-call benchmark: open/close, socket/close and pthread_create/join
 * loops, each timed; prints "name ns-per-iteration" lines.  Run natively and
 * with the shim preloaded (scripts/bench.py --set resources) to get the
 * per-call overhead of the tracking.
 *
 * usage: res-bench [ITERATIONS]
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void *nothing(void *arg)
{
	return arg;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 200000;
	double t0 = now();
	for (long i = 0; i < n; i++)
		close(open("/dev/null", O_RDONLY));
	double t1 = now();
	for (long i = 0; i < n; i++)
		close(socket(AF_UNIX, SOCK_DGRAM, 0));
	double t2 = now();
	long nt = n / 20;
	for (long i = 0; i < nt; i++) {
		pthread_t t;
		pthread_create(&t, NULL, nothing, NULL);
		pthread_join(t, NULL);
	}
	double t3 = now();
	printf("open/close %.0f\nsocket/close %.0f\npthread_create/join %.0f\n", (t1 - t0) / n,
	       (t2 - t1) / n, (t3 - t2) / nt);
	return 0;
}

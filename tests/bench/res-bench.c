/* SPDX-License-Identifier: MIT */
/*
 * Resource-call benchmark: open/close, socket/close and pthread_create/join
 * loops, each timed; prints "name ns-per-iteration" lines.  Run natively and
 * with the shim preloaded (scripts/bench.py --set resources) to get the
 * per-call overhead of the tracking.
 *
 * usage: res-bench [ITERATIONS [open|socket|thread]]
 *   (pthread_create/join runs ITERATIONS / 20 times; without a loop name,
 *   all three run)
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	const char *only = argc > 2 ? argv[2] : NULL;

	if (!only || strcmp(only, "open") == 0) {
		double t0 = now();
		for (long i = 0; i < n; i++)
			close(open("/dev/null", O_RDONLY));
		printf("open/close %.1f\n", (now() - t0) / n);
	}
	if (!only || strcmp(only, "socket") == 0) {
		double t0 = now();
		for (long i = 0; i < n; i++)
			close(socket(AF_UNIX, SOCK_DGRAM, 0));
		printf("socket/close %.1f\n", (now() - t0) / n);
	}
	if (!only || strcmp(only, "thread") == 0) {
		long nt = n / 20 > 0 ? n / 20 : 1;
		double t0 = now();
		for (long i = 0; i < nt; i++) {
			pthread_t t;
			pthread_create(&t, NULL, nothing, NULL);
			pthread_join(t, NULL);
		}
		printf("pthread_create/join %.1f\n", (now() - t0) / nt);
	}
	return 0;
}

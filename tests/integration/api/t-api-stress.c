/* SPDX-License-Identifier: MIT */
/*
 * memprof_leak_check while other threads allocate and free as fast as they
 * can (every size class, large blocks, cross-thread frees through a shared
 * slot): each check must come back (no deadlock with a thread stopped in
 * the allocator), the program must go on, and since nothing is lost, each
 * must say 0.  Prints "checks N nonzero M errors E".
 */
#include <memprof.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 4
#define CHECKS 40

static int stop;
static void *volatile shared[THREADS];

static void *worker(void *arg)
{
	unsigned id = (unsigned)(size_t)arg, seed = id * 7919u + 1;
	void *mine[64] = { 0 };

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		seed = seed * 1103515245u + 12345u;
		unsigned k = (seed >> 8) % 64;
		size_t n = (seed >> 16) % 4 == 0 ? 40000 + (seed >> 20) % 100000 : (seed >> 16) % 2048 + 1;
		free(mine[k]);
		mine[k] = malloc(n);
		if (mine[k])
			memset(mine[k], (int)id, n < 64 ? n : 64);
		/* A block freed by another thread. */
		void *p = __atomic_exchange_n(&shared[(id + 1) % THREADS], malloc(32), __ATOMIC_ACQ_REL);
		free(p);
	}
	for (int i = 0; i < 64; i++)
		free(mine[i]);
	return NULL;
}

int main(void)
{
	pthread_t t[THREADS];
	int nonzero = 0, errors = 0;

	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, worker, (void *)(size_t)i);
	for (int i = 0; i < CHECKS; i++) {
		long r = memprof_leak_check();
		if (r < 0)
			errors++;
		else if (r > 0)
			nonzero++;
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < THREADS; i++)
		free(shared[i]);
	printf("checks %d nonzero %d errors %d\n", CHECKS, nonzero, errors);
	return 0;
}

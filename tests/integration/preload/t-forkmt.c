/* SPDX-License-Identifier: MIT */
/*
 * Fork in a threaded program: four threads allocate, verify and free
 * blocks (some freed by another thread) while the main thread forks
 * children that allocate, verify and free in their turn; every child must
 * exit 0.  Prints a checksum that does not depend on the allocator.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NT 4
#define ROUNDS 20000

static void *volatile handoff[NT];
static volatile int stop;

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(seed + i);
}

static int check(const unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (unsigned char)(seed + i))
			return 0;
	return 1;
}

static uint64_t work(unsigned id, int rounds)
{
	uint64_t s = 0x9e3779b97f4a7c15ull * (id + 1), sum = 0;
	for (int r = 0; r < rounds; r++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		size_t n = 1 + s % (s % 32 == 0 ? 100000 : 2000);
		unsigned char *p = malloc(n);
		if (!p)
			abort();
		fill(p, n, (unsigned)n);
		if (!check(p, n, (unsigned)n))
			abort();
		sum += n;
		/* Every 4th block goes to the next thread, which frees it. */
		if (r % 4 == 0) {
			void *old = __atomic_exchange_n(&handoff[(id + 1) % NT], p, __ATOMIC_ACQ_REL);
			free(old);
		} else {
			p = realloc(p, n * 2);
			if (!p || !check(p, n, (unsigned)n))
				abort();
			free(p);
		}
	}
	return sum;
}

static void *thread_main(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg;
	uint64_t sum = 0;
	while (!stop)
		sum += work(id, 1000);
	return (void *)(uintptr_t)(sum != 0);
}

int main(void)
{
	pthread_t t[NT];
	for (unsigned i = 0; i < NT; i++)
		pthread_create(&t[i], NULL, thread_main, (void *)(uintptr_t)i);
	int bad = 0;
	uint64_t total = 0;
	for (int k = 0; k < 20; k++) {
		pid_t pid = fork();
		if (pid == 0)
			_exit(work(100 + (unsigned)k, ROUNDS / 10) ? 0 : 1);
		int st;
		if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			bad++;
		total += work(50, 200);
	}
	stop = 1;
	for (unsigned i = 0; i < NT; i++) {
		void *r;
		pthread_join(t[i], &r);
		bad += r == NULL;
	}
	for (unsigned i = 0; i < NT; i++)
		free(handoff[i]);
	printf("children failed: %d, checksum %llu\n", bad, (unsigned long long)total);
	return bad != 0;
}

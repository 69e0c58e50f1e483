/* SPDX-License-Identifier: MIT */
/*
 * 2-thread stress with cross-thread frees: producer() allocates ROUNDS*BATCH
 * blocks of 40 bytes that consumer() frees on another thread; each thread
 * also allocates and frees locally; four more threads run the very same
 * stack (their counts go to one bucket, from both at once), after the main
 * thread counted alone first (the tables then take its counts without a
 * lock until it creates a thread: sample/stacks.c).  At --rate 1 every
 * count is exact.
 */
#include <pthread.h>
#include <stdlib.h>

#define ROUNDS 2000
#define BATCH 64
#define NOINLINE __attribute__((noinline))

static void *slots[BATCH];
static int full;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;

/* EXPECT producer 128000 5120000 0 0 */
NOINLINE void *producer(void *arg)
{
	for (int r = 0; r < ROUNDS; r++) {
		pthread_mutex_lock(&lock);
		while (full)
			pthread_cond_wait(&cond, &lock);
		for (int i = 0; i < BATCH; i++)
			slots[i] = malloc(40);
		full = 1;
		pthread_cond_broadcast(&cond);
		pthread_mutex_unlock(&lock);
	}
	return arg;
}

/* EXPECT local_work 20000 640000 0 0 */
NOINLINE void local_work(void)
{
	/* A local pointer: two threads run this at once, and a shared one would
	 * let them free each other's blocks. */
	for (int i = 0; i < 10000; i++) {
		void *p = malloc(32);
		__asm__ volatile("" : : "r"(p) : "memory");
		free(p);
	}
}

NOINLINE void *consumer(void *arg)
{
	local_work();
	for (int r = 0; r < ROUNDS; r++) {
		pthread_mutex_lock(&lock);
		while (!full)
			pthread_cond_wait(&cond, &lock);
		for (int i = 0; i < BATCH; i++)
			free(slots[i]);
		full = 0;
		pthread_cond_broadcast(&cond);
		pthread_mutex_unlock(&lock);
	}
	return arg;
}

/* EXPECT twin_work 200000 4800000 0 0 */
NOINLINE void twin_work(void)
{
	for (int i = 0; i < 50000; i++) {
		void *p = malloc(24);
		__asm__ volatile("" : : "r"(p) : "memory");
		free(p);
	}
}

static pthread_barrier_t twins_ready;

NOINLINE void *twin(void *arg)
{
	pthread_barrier_wait(&twins_ready);   /* all at once */
	twin_work();
	return arg;
}

/* EXPECT alone_first 1000 48000 0 0 */
NOINLINE void alone_first(void)
{
	for (int i = 0; i < 1000; i++) {
		void *p = malloc(48);
		__asm__ volatile("" : : "r"(p) : "memory");
		free(p);
	}
}

int main(void)
{
	pthread_t a, b, t[4];
	alone_first();
	pthread_barrier_init(&twins_ready, NULL, 4);
	pthread_create(&a, NULL, producer, NULL);
	pthread_create(&b, NULL, consumer, NULL);
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, twin, NULL);
	local_work();
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * A 2-thread allocation benchmark: each thread keeps a window of live blocks
 * of mixed sizes (8 B .. 4 KiB, some 64 KiB), replacing one per step, and
 * every 8th block it allocates is handed to the other thread to free
 * (cross-thread frees).  Deterministic per seed; prints a checksum so runs
 * can be compared.
 *
 * usage: alloc-bench [STEPS_PER_THREAD]
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WINDOW 4096
#define XFER 1024

struct xfer {
	pthread_mutex_t lock;
	void *slot[XFER];
	unsigned head, tail;
};

static struct xfer queues[2] = {
	{ .lock = PTHREAD_MUTEX_INITIALIZER },
	{ .lock = PTHREAD_MUTEX_INITIALIZER },
};
static long steps = 4000000;

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static size_t pick_size(uint64_t *s)
{
	uint64_t r = rnd(s);
	if (r % 256 == 0)
		return 65536;
	return 8 + (r >> 8) % (r % 4 == 0 ? 4096 : 256);
}

/* Hand p to queue q; if full, free it ourselves. */
static void give(struct xfer *q, void *p)
{
	pthread_mutex_lock(&q->lock);
	if (q->head - q->tail < XFER) {
		q->slot[q->head++ % XFER] = p;
		p = NULL;
	}
	pthread_mutex_unlock(&q->lock);
	free(p);
}

static void drain(struct xfer *q)
{
	void *batch[XFER];
	unsigned n = 0;
	pthread_mutex_lock(&q->lock);
	while (q->tail != q->head)
		batch[n++] = q->slot[q->tail++ % XFER];
	pthread_mutex_unlock(&q->lock);
	for (unsigned i = 0; i < n; i++)
		free(batch[i]);
}

static void *worker(void *arg)
{
	long id = (long)arg;
	uint64_t s = 0x9e3779b97f4a7c15ull * (uint64_t)(id + 1);
	void **win = calloc(WINDOW, sizeof(void *));
	uint64_t sum = 0;
	for (long i = 0; i < steps; i++) {
		unsigned k = (unsigned)(rnd(&s) % WINDOW);
		size_t n = pick_size(&s);
		void *p = malloc(n);
		memset(p, (int)i, n < 64 ? n : 64);
		sum += ((unsigned char *)p)[0];
		if (win[k]) {
			if (i % 8 == 0)
				give(&queues[1 - id], win[k]);
			else
				free(win[k]);
		}
		win[k] = p;
		if (i % 256 == 0)
			drain(&queues[id]);
	}
	for (unsigned k = 0; k < WINDOW; k++)
		free(win[k]);
	free(win);
	return (void *)(uintptr_t)sum;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		steps = atol(argv[1]);
	pthread_t t[2];
	for (long i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	uint64_t sum = 0;
	for (int i = 0; i < 2; i++) {
		void *r;
		pthread_join(t[i], &r);
		sum += (uintptr_t)r;
	}
	drain(&queues[0]);
	drain(&queues[1]);
	printf("checksum %llu\n", (unsigned long long)sum);
	return 0;
}

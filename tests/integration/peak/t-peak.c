/* SPDX-License-Identifier: MIT */
/*
 * The peak profile's target (issue 16): a steady 4 MiB kept to exit, then
 * 100,000 blocks allocated and freed at once (churn), then a 32 MiB spike
 * freed in the middle of the run.  The peak is the steady blocks and the
 * spike, nothing of the churn; at exit the spike is gone.  Writes nothing
 * (no stdio buffer in the heap) and exits 0.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STEADY_N 64
#define STEADY_SIZE (64 << 10)           /* 64 x 64 KiB = 4 MiB */
#define CHURN_N 100000
#define CHURN_SIZE 24                    /* 2.4 MB, below the spike */
#define SPIKE_N 8
#define SPIKE_SIZE (4 << 20)             /* 8 x 4 MiB = 32 MiB */

static void *steady[STEADY_N];
static void *churned[CHURN_N];
static void *spike[SPIKE_N];

__attribute__((noinline)) void steady_alloc(void)
{
	for (int i = 0; i < STEADY_N; i++) {
		steady[i] = malloc(STEADY_SIZE);
		memset(steady[i], 1, STEADY_SIZE);
	}
}

__attribute__((noinline)) void churn_alloc(void)
{
	for (int i = 0; i < CHURN_N; i++)
		churned[i] = malloc(CHURN_SIZE);
}

__attribute__((noinline)) void churn_free(void)
{
	for (int i = 0; i < CHURN_N; i++)
		free(churned[i]);
}

__attribute__((noinline)) void spike_alloc(void)
{
	for (int i = 0; i < SPIKE_N; i++) {
		spike[i] = malloc(SPIKE_SIZE);
		memset(spike[i], 2, SPIKE_SIZE);
	}
}

__attribute__((noinline)) void spike_free(void)
{
	for (int i = 0; i < SPIKE_N; i++)
		free(spike[i]);
}

int main(int argc, char **argv)
{
	steady_alloc();
	churn_alloc();
	churn_free();
	spike_alloc();
	spike_free();
	if (argc > 1) {
		char c;
		if (write(1, "ready\n", 6) != 6)
			return 2;
		while (read(0, &c, 1) == 1 && c != '\n')
			;
	}
	/* The steady blocks are used (and kept) to the end. */
	unsigned sum = 0;
	for (int i = 0; i < STEADY_N; i++)
		sum += ((unsigned char *)steady[i])[i];
	(void)argv;
	return sum == STEADY_N ? 0 : 1;
}

/* SPDX-License-Identifier: MIT */
/*
 * Target for memprof attach (check-attach.py), built -O2
 * -fomit-frame-pointer: once started it prints "ready" on stderr, then works
 * in rounds until its standard input ends (or says "stop"), and prints a
 * result that does not depend on how many rounds it ran.  Each round:
 * three() allocates 3 bytes for every byte one() allocates; make_file(),
 * make_pipe(), make_thread() and make_map() replace the previous round's
 * descriptor, pipe, thread and mapping, made before the old ones go, so at
 * any moment one or two of each are alive; of each mapping (1 MiB), 68 KiB
 * are unmapped at once.
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

static unsigned sum;

NOINLINE void *three(void)
{
	char *p = malloc(3000);
	memset(p, 3, 3000);
	return p;
}

NOINLINE void *one(void)
{
	char *p = malloc(1000);
	memset(p, 1, 1000);
	return p;
}

/* Each maker does something after its call, so that the call is not a
 * tail call and the maker keeps a frame of its own. */
#define KEEP_FRAME() asm volatile("" ::: "memory")

NOINLINE int make_file(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	KEEP_FRAME();
	return fd;
}

NOINLINE int make_pipe(int fds[2])
{
	int r = pipe(fds);
	KEEP_FRAME();
	return r;
}

/* A round's thread runs until the next round writes to its gate; rounds
 * take turns with the two gates, so that the thread of the round before
 * (the one the write must end) is the only one reading. */
static int gate[2][2];

static void *idle(void *arg)
{
	char c;
	return read(gate[(intptr_t)arg][0], &c, 1) == 1 ? arg : NULL;
}

NOINLINE int make_thread(pthread_t *t, int g)
{
	int r = pthread_create(t, NULL, idle, (void *)(intptr_t)g);
	KEEP_FRAME();
	return r;
}

NOINLINE void *make_map(void)
{
	void *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	KEEP_FRAME();
	return p;
}

/* The new descriptor, pipe, thread and mapping are made before the old
 * ones go: at any moment one of each made by a round is alive. */
NOINLINE void round_once(int *fd, int pfd[2], pthread_t *t, void **map)
{
	static int g;
	int old_fd = *fd, old_pfd[2] = { pfd[0], pfd[1] }, old_g = g;
	pthread_t old_t = *t;
	void *old_map = *map;

	for (int i = 0; i < 200; i++) {
		char *a = three(), *b = one();
		sum += (unsigned)a[i] + (unsigned)b[i];   /* 4 per iteration */
		free(a);
		free(b);
	}
	*fd = make_file();
	if (make_pipe(pfd) < 0)
		pfd[0] = pfd[1] = -1;
	g ^= 1;
	if (make_thread(t, g) != 0)
		*t = 0;
	*map = make_map();
	/* Part of it goes at once: its last 64 KiB, and a page in the
	 * middle (two pieces of one mapping left). */
	if (*map != MAP_FAILED) {
		munmap((char *)*map + (1 << 20) - 65536, 65536);
		munmap((char *)*map + 10 * 4096, 4096);
	}
	if (old_fd >= 0)
		close(old_fd);
	if (old_pfd[0] >= 0) {
		close(old_pfd[0]);
		close(old_pfd[1]);
	}
	if (old_t) {
		if (write(gate[old_g][1], "x", 1) != 1)
			abort();
		pthread_join(old_t, NULL);
	}
	if (old_map && old_map != MAP_FAILED)
		munmap(old_map, 1 << 20);
	asm volatile("" ::: "memory");
}

int main(void)
{
	int fd = -1, pfd[2] = { -1, -1 };
	pthread_t t = 0;
	void *map = NULL;
	char buf[64];

	if (pipe(gate[0]) < 0 || pipe(gate[1]) < 0)
		return 2;
	fputs("ready\n", stderr);
	for (unsigned rounds = 1;; rounds++) {
		struct pollfd p = { .fd = 0, .events = POLLIN };

		round_once(&fd, pfd, &t, &map);
		if (sum != rounds * 800u) {
			puts("wrong");
			return 3;
		}
		if (poll(&p, 1, 10) > 0) {
			ssize_t n = read(0, buf, sizeof(buf));
			if (n <= 0 || strncmp(buf, "stop", 4) == 0)
				break;
		}
	}
	if (t) {
		/* Both gates: the last thread reads one of them. */
		if (write(gate[0][1], "x", 1) != 1 || write(gate[1][1], "x", 1) != 1)
			abort();
		pthread_join(t, NULL);
	}
	puts("result: 800 per round, all rounds agree");
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * Target for memprof attach (check-attach.py), built -O2
 * -fomit-frame-pointer: once started it prints "ready" on stderr, then works
 * in rounds until its standard input ends (or says "stop"), and prints a
 * result that does not depend on how many rounds it ran.  Each round:
 * three() allocates 3 bytes for every byte one() allocates; make_file(),
 * make_pipe(), make_thread() and make_map() replace the previous round's
 * descriptor, pipe, thread and mapping, so at any moment one of each made
 * by the latest round is live; of the mapping (1 MiB), 68 KiB are unmapped
 * at once.
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
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

static int gate[2];          /* a round's thread runs until the next round writes here */

static void *idle(void *arg)
{
	char c;
	return read(gate[0], &c, 1) == 1 ? arg : NULL;
}

NOINLINE int make_thread(pthread_t *t)
{
	int r = pthread_create(t, NULL, idle, NULL);
	KEEP_FRAME();
	return r;
}

NOINLINE void *make_map(void)
{
	void *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	KEEP_FRAME();
	return p;
}

NOINLINE void round_once(int *fd, int pfd[2], pthread_t *t, void **map)
{
	for (int i = 0; i < 200; i++) {
		char *a = three(), *b = one();
		sum += (unsigned)a[i] + (unsigned)b[i];   /* 4 per iteration */
		free(a);
		free(b);
	}
	if (*fd >= 0)
		close(*fd);
	*fd = make_file();
	if (pfd[0] >= 0) {
		close(pfd[0]);
		close(pfd[1]);
	}
	if (make_pipe(pfd) < 0)
		pfd[0] = pfd[1] = -1;
	if (*t) {
		if (write(gate[1], "x", 1) != 1)
			abort();
		pthread_join(*t, NULL);
	}
	if (make_thread(t) != 0)
		*t = 0;
	if (*map)
		munmap(*map, 1 << 20);
	*map = make_map();
	/* Part of it goes at once: its last 64 KiB, and a page in the
	 * middle (two pieces of one mapping left). */
	if (*map != MAP_FAILED) {
		munmap((char *)*map + (1 << 20) - 65536, 65536);
		munmap((char *)*map + 10 * 4096, 4096);
	}
	asm volatile("" ::: "memory");
}

int main(void)
{
	int fd = -1, pfd[2] = { -1, -1 };
	pthread_t t = 0;
	void *map = NULL;
	char buf[64];

	if (pipe(gate) < 0)
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
		if (write(gate[1], "x", 1) != 1)
			abort();
		pthread_join(t, NULL);
	}
	puts("result: 800 per round, all rounds agree");
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * Thread target.  leaky: a thread blocked for good (make_blocked), a
 * joinable thread that ends and is never joined (make_unjoined), a detached
 * thread that ends (make_detached: not reported) and a joined one
 * (make_joined: not reported).  clean: the same, the blocked one released
 * and everything joined.  The blocked thread's kernel id goes to stderr.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int gate[2];
static pthread_t blocked, unjoined;
static long blocked_tid;

static void *wait_gate(void *arg)
{
	char c;
	(void)arg;
	__atomic_store_n(&blocked_tid, syscall(SYS_gettid), __ATOMIC_RELEASE);
	if (read(gate[0], &c, 1) < 0)
		return NULL;
	return NULL;
}

static void *quick(void *arg)
{
	return arg;
}

__attribute__((noinline)) static void make_blocked(void)
{
	pthread_create(&blocked, NULL, wait_gate, NULL);
	pthread_setname_np(blocked, "gatekeeper");
}

__attribute__((noinline)) static void make_unjoined(void)
{
	pthread_create(&unjoined, NULL, quick, NULL);
}

__attribute__((noinline)) static void make_detached(void)
{
	pthread_attr_t a;
	pthread_t t;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_create(&t, &a, quick, NULL);
	pthread_attr_destroy(&a);
}

__attribute__((noinline)) static void make_joined(void)
{
	pthread_t t;
	pthread_create(&t, NULL, quick, NULL);
	pthread_join(t, NULL);
}

int main(int argc, char **argv)
{
	int clean = argc > 1 && strcmp(argv[1], "clean") == 0;
	if (pipe(gate) != 0)
		return 2;
	make_blocked();
	while (!__atomic_load_n(&blocked_tid, __ATOMIC_ACQUIRE))
		usleep(1000);
	fprintf(stderr, "gatekeeper tid %ld\n", blocked_tid);   /* the kernel's id */
	make_unjoined();
	make_detached();
	make_joined();
	usleep(100000);   /* the quick ones end */
	if (clean) {
		if (write(gate[1], "x", 1) != 1)
			return 2;
		pthread_join(blocked, NULL);
		pthread_join(unjoined, NULL);
	}
	if (clean) {
		close(gate[0]);
		close(gate[1]);
	}               /* leaky: open, or the blocked reader would see EOF and end */
	puts("done");
	return 0;
}

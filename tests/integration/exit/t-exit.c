/* SPDX-License-Identifier: MIT */
/*
 * Ways out of a process, with a linked library and a dlopened one that
 * free their blocks in their destructors (t-exitlib.c):
 *   return   main returns
 *   thread   a second thread calls exit() while main waits for it
 *   _exit    _exit(7): no destructor runs, keep_for_exit's blocks stay
 *   quick    quick_exit(5): an at_quick_exit handler frees quick_alloc's
 *            blocks, no destructor runs
 * usage: t-exit MODE PLUGIN.so
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int lib_nblocks(void);

void *kept[5];   /* global: the stores must stay */
static void *quick[3];

__attribute__((noinline)) static void keep_for_exit(void)
{
	for (int i = 0; i < 5; i++)
		kept[i] = malloc(200);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void quick_alloc(void)
{
	for (int i = 0; i < 3; i++)
		quick[i] = malloc(300);
	__asm__ volatile("" ::: "memory");
}

static void quick_free(void)
{
	for (int i = 0; i < 3; i++)
		free(quick[i]);
}

static void *exit_from_thread(void *arg)
{
	(void)arg;
	exit(0);
}

int main(int argc, char **argv)
{
	if (argc != 3 || lib_nblocks() != 10 || !dlopen(argv[2], RTLD_NOW)) {
		fprintf(stderr, "usage: t-exit return|thread|_exit|quick PLUGIN.so\n");
		return 2;
	}
	if (strcmp(argv[1], "thread") == 0) {
		pthread_t t;
		pthread_create(&t, NULL, exit_from_thread, NULL);
		pthread_join(t, NULL);
	} else if (strcmp(argv[1], "_exit") == 0) {
		keep_for_exit();
		_exit(7);
	} else if (strcmp(argv[1], "quick") == 0) {
		quick_alloc();
		at_quick_exit(quick_free);
		quick_exit(5);
	}
	return 0;
}

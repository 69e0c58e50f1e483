/* SPDX-License-Identifier: MIT */
/*
 * A program whose executable defines the malloc family itself, as one
 * linked with an allocator does (rustc with jemalloc): the executable comes
 * before the preloaded shim in symbol lookup, so its calls never reach
 * memprof.  Its allocator is its own (an arena with a header per block),
 * and its free aborts on a block it did not make: a block of memprof's, or
 * one of glibc's, handed to it shows.  It defines neither reallocarray nor
 * pvalloc; glibc's reallocarray calls its realloc (glibc's manual: replacing
 * malloc), and under memprof it must still.  Prints "ok", exits 0.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "t-ownmalloc.h"

int main(void)
{
	for (int i = 0; i < 100; i++) {
		char *volatile p = malloc(1000);

		memset(p, 1, 1000);
		free(p);
	}
	/* glibc's functions that call malloc or realloc: the program's. */
	char *s = strdup("hello");
	int *a = reallocarray(NULL, 10, sizeof(int));
	a = reallocarray(a, 1000, sizeof(int));
	a[999] = 1;
	char *line = NULL;
	size_t cap = 0;
	FILE *f = fmemopen("a line\n", 7, "r");
	if (!s || !a || !f || getline(&line, &cap, f) != 7)
		return 1;
	fclose(f);
	free(line);
	free(a);
	free(s);
	puts("ok");
	return 0;
}

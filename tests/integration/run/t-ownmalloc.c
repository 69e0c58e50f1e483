/* SPDX-License-Identifier: MIT */
/*
 * A program whose executable defines the malloc family itself, as one
 * linked with an allocator does (rustc with jemalloc): the executable comes
 * before the preloaded shim in symbol lookup, so its calls never reach
 * memprof.  These forward to glibc's allocator.  Prints "ok", exits 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

void *malloc(size_t n) { return __libc_malloc(n); }
void free(void *p) { __libc_free(p); }
void *calloc(size_t n, size_t s) { return __libc_calloc(n, s); }
void *realloc(void *p, size_t n) { return __libc_realloc(p, n); }
void *memalign(size_t a, size_t n) { return __libc_memalign(a, n); }
void *aligned_alloc(size_t a, size_t n) { return __libc_memalign(a, n); }

int posix_memalign(void **ret, size_t a, size_t n)
{
	void *p = __libc_memalign(a, n);

	if (!p)
		return 12;
	*ret = p;
	return 0;
}

int main(void)
{
	for (int i = 0; i < 100; i++) {
		char *volatile p = malloc(1000);

		memset(p, 1, 1000);
		free(p);
	}
	puts("ok");
	return 0;
}

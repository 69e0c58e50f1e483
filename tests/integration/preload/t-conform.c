/* SPDX-License-Identifier: MIT */
/*
 * glibc's malloc contract, as a program sees it: prints one line per check
 * ("name: result"), so the same output is expected from glibc's allocator
 * and from memprof's (check-conform.py).  Values that depend on the
 * allocator (addresses, usable sizes) are printed only as conditions.
 */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Volatile: the compiler must not see (and reject) the impossible sizes. */
static volatile size_t size_max = SIZE_MAX, half = SIZE_MAX / 2,
		       ptrdiff_over = (size_t)PTRDIFF_MAX + 1;

extern void *__libc_malloc(size_t);

static int aligned(const void *p, size_t a)
{
	return p && (uintptr_t)p % a == 0;
}

static void line(const char *what, long v)
{
	printf("%s: %ld\n", what, v);
}

int main(void)
{
	char name[96];
	/* Alignment of plain allocations, small to huge. */
	int bad = 0;
	for (size_t n = 1; n < ((size_t)64 << 20); n = n * 3 + 1) {
		void *p = malloc(n), *c = calloc(1, n);
		bad += !aligned(p, 16) + !aligned(c, 16) + (malloc_usable_size(p) < n);
		memset(p, 1, n);
		free(p);
		free(c);
	}
	line("malloc/calloc 16-byte aligned, usable >= n", bad);

	/* Every power-of-two alignment. */
	for (size_t a = sizeof(void *); a <= ((size_t)1 << 21); a *= 2) {
		void *p = NULL, *q, *m;
		int r = posix_memalign(&p, a, 100);
		q = aligned_alloc(a, 3 * a);
		m = memalign(a, a + 1);
		snprintf(name, sizeof(name), "align %zu: posix_memalign/aligned_alloc/memalign", a);
		line(name, r == 0 && aligned(p, a) && aligned(q, a) && aligned(m, a));
		free(p);
		free(q);
		free(m);
	}
	void *p = (void *)1;
	line("posix_memalign(3) EINVAL", posix_memalign(&p, 3, 10) == EINVAL && p == (void *)1);
	line("posix_memalign(4) EINVAL", posix_memalign(&p, 4, 10) == EINVAL);
	errno = 0;
	p = memalign(48, 10);
	line("memalign(48) rounds up to 64", aligned(p, 64));
	free(p);
	long page = sysconf(_SC_PAGESIZE);
	p = valloc(10);
	line("valloc page aligned", aligned(p, (size_t)page));
	free(p);
	p = pvalloc(10);
	line("pvalloc page aligned, usable >= page", aligned(p, (size_t)page) &&
	     malloc_usable_size(p) >= (size_t)page);
	free(p);

	/* Zero sizes. */
	void *z1 = malloc(0), *z2 = malloc(0);
	line("malloc(0) unique non-NULL", z1 && z2 && z1 != z2);
	free(z1);
	errno = 0;
	line("realloc(p, 0) frees and returns NULL", realloc(z2, 0) == NULL);
	p = calloc(0, 5);
	line("calloc(0, n) non-NULL", p != NULL);
	free(p);
	free(NULL);
	line("free(NULL)", 1);

	/* Overflow and huge sizes. */
	errno = 0;
	line("calloc overflow ENOMEM", calloc(half, 3) == NULL && errno == ENOMEM);
	errno = 0;
	line("malloc(SIZE_MAX) ENOMEM", malloc(size_max) == NULL && errno == ENOMEM);
	errno = 0;
	line("malloc(PTRDIFF_MAX + 1) ENOMEM", malloc(ptrdiff_over) == NULL &&
	     errno == ENOMEM);
	errno = 0;
	p = malloc(10);
	line("reallocarray overflow ENOMEM, block kept",
	     reallocarray(p, half, 3) == NULL && errno == ENOMEM);
	free(p);
	errno = 0;
	line("pvalloc(SIZE_MAX) ENOMEM", pvalloc(size_max) == NULL && errno == ENOMEM);

	/* realloc keeps contents through shrink and growth across sizes. */
	unsigned char *r = malloc(16);
	for (int i = 0; i < 16; i++)
		r[i] = (unsigned char)i;
	bad = 0;
	size_t n = 16;
	for (size_t m2 = 24; m2 < ((size_t)64 << 20); m2 = m2 * 2 + 8) {
		r = realloc(r, m2);
		for (int i = 0; i < 16; i++)
			bad += r[i] != (unsigned char)i;
		memset(r + n, 0x5a, m2 - n);
		n = m2;
	}
	r = realloc(r, 20);
	for (int i = 0; i < 16; i++)
		bad += r[i] != (unsigned char)i;
	free(r);
	line("realloc keeps contents, 16 B to 64 MiB and back", bad);

	/* calloc zeroes memory that was just used and freed. */
	bad = 0;
	for (size_t k = 8; k < ((size_t)4 << 20); k *= 4) {
		unsigned char *d = malloc(k);
		memset(d, 0xee, k);
		free(d);
		unsigned char *c = calloc(1, k);
		for (size_t i = 0; i < k; i++)
			bad += c[i] != 0;
		free(c);
	}
	line("calloc zeroes reused memory", bad);

	/* A block from glibc's allocator itself (as one allocated before the
	 * shim took over would be): usable size, realloc and free work on it
	 * without crash or corruption, whichever allocator is in force. */
	char *g = __libc_malloc(40);
	strcpy(g, "from glibc");
	line("foreign block: usable size", malloc_usable_size(g) >= 40);
	g = realloc(g, 100000);
	line("foreign block: realloc keeps contents", g && strcmp(g, "from glibc") == 0);
	free(g);
	line("foreign block: free", 1);

	/* errno untouched by successful calls. */
	errno = 1234;
	p = malloc(100);
	p = realloc(p, 5000);
	void *q = calloc(3, 7);
	free(p);
	free(q);
	line("errno unchanged on success", errno == 1234);
	return 0;
}

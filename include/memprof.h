/* SPDX-License-Identifier: MIT */
/*
 * memprof's in-program API (memprof(3)).
 *
 * Header only: a program built with it has no link dependency on memprof.
 * Each call looks the function up in the shim (libmemprof.so, preloaded by
 * `memprof run`) with dlsym(RTLD_DEFAULT, ...); without the shim, the calls
 * do nothing and return -1 with errno ENOSYS (memprof_running: 0).  (On
 * glibc before 2.34, dlsym needs -ldl.)
 *
 *   memprof_running()        1 when the program runs under memprof, else 0
 *   memprof_snapshot(name)   write a numbered snapshot now (a profile of its
 *                            own, named NAME in its comment); 0 or -1
 *   memprof_leak_check()     definitely lost bytes right now; the program
 *                            goes on; -1 on error
 *   memprof_ignore(p)        the block holding p is an intentional leak:
 *                            never reported, nor what it points to; 0 or -1
 *
 * C and C++; thread-safe; not for signal handlers.
 */
#ifndef MEMPROF_H
#define MEMPROF_H

#include <dlfcn.h>
#include <errno.h>
#include <string.h>

#define MEMPROF_API_VERSION 1

#ifdef __cplusplus
extern "C" {
#endif

/* The shim's function `name`, or NULL.  (void *)0 is RTLD_DEFAULT, which
 * <dlfcn.h> defines only with _GNU_SOURCE. */
static inline void *memprof__lookup(const char *name)
{
	return dlsym((void *)0, name);
}

/* A negative errno from the shim -> -1 and errno. */
static inline long memprof__ret(long r)
{
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

static inline int memprof_running(void)
{
	int (*fn)(void);
	void *p = memprof__lookup("memprof_api_v1_running");

	if (!p)
		return 0;
	memcpy(&fn, &p, sizeof(fn));
	return fn();
}

static inline int memprof_snapshot(const char *name)
{
	int (*fn)(const char *);
	void *p = memprof__lookup("memprof_api_v1_snapshot");

	if (!p) {
		errno = ENOSYS;
		return -1;
	}
	memcpy(&fn, &p, sizeof(fn));
	return (int)memprof__ret(fn(name));
}

static inline long memprof_leak_check(void)
{
	long (*fn)(void);
	void *p = memprof__lookup("memprof_api_v1_leak_check");

	if (!p) {
		errno = ENOSYS;
		return -1;
	}
	memcpy(&fn, &p, sizeof(fn));
	return memprof__ret(fn());
}

static inline int memprof_ignore(const void *ptr)
{
	int (*fn)(const void *);
	void *p = memprof__lookup("memprof_api_v1_ignore");

	if (!p) {
		errno = ENOSYS;
		return -1;
	}
	memcpy(&fn, &p, sizeof(fn));
	return (int)memprof__ret(fn(ptr));
}

#ifdef __cplusplus
}
#endif

#endif

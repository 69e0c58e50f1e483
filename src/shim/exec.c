/* SPDX-License-Identifier: MIT */
/*
 * The exec family, interposed to tell the CLI an image was replaced, not
 * killed (base/shm.h, mp_shm_mark_exec): execve, execv, execvp, execvpe,
 * fexecve, execl, execlp, execle.  glibc's own callers of exec (execvp
 * calling __execve, posix_spawn, system, popen) never come through these
 * names, so each of them is interposed; those that run in a new process
 * (posix_spawn, system, popen: a vfork-style child) need nothing, as the
 * child's image has no tables of its own.
 *
 * Without this, a process whose last exec started a program the shim is
 * not loaded in (static, setuid, `env -i`) left its tables behind as if it
 * had died, and memprof wrote a profile of the image before the exec
 * "ended without writing its profile".
 *
 * Must never: change errno or a return value, allocate, take a lock (a
 * vfork child may call these).
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <unistd.h>

#include "base/compiler.h"
#include "base/shm.h"
#include "shim/shim.h"

/* libc's definitions, found once from the shim's start (mp_exec_init):
 * the usual caller of exec is a vfork child, where dlsym (locks, maybe an
 * allocation on the parent's heap) must not run.  A call before the start
 * (another library's constructor) finds its own. */
static int (*real_execve)(const char *, char *const[], char *const[]);
static int (*real_execv)(const char *, char *const[]);
static int (*real_execvp)(const char *, char *const[]);
static int (*real_execvpe)(const char *, char *const[], char *const[]);
static int (*real_fexecve)(int, char *const[], char *const[]);

#define RESOLVE(name) \
	(real_##name = (__typeof__(real_##name))dlsym(RTLD_NEXT, #name))
#define REAL(name, type) \
	if (!__atomic_load_n(&real_##name, __ATOMIC_ACQUIRE)) \
		RESOLVE(name)

void mp_exec_init(void)
{
	RESOLVE(execve);
	RESOLVE(execv);
	RESOLVE(execvp);
	RESOLVE(execvpe);
	RESOLVE(fexecve);
}

/* The call failed (it returned): the image goes on. */
static int failed(int r)
{
	int saved = errno;
	mp_shm_mark_exec(0);
	errno = saved;
	return r;
}

MP_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	REAL(execve, int (*)(const char *, char *const[], char *const[]));
	mp_shm_mark_exec(1);
	return failed(real_execve(path, argv, envp));
}

MP_EXPORT int execv(const char *path, char *const argv[])
{
	REAL(execv, int (*)(const char *, char *const[]));
	mp_shm_mark_exec(1);
	return failed(real_execv(path, argv));
}

MP_EXPORT int execvp(const char *file, char *const argv[])
{
	REAL(execvp, int (*)(const char *, char *const[]));
	mp_shm_mark_exec(1);
	return failed(real_execvp(file, argv));
}

MP_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	REAL(execvpe, int (*)(const char *, char *const[], char *const[]));
	mp_shm_mark_exec(1);
	return failed(real_execvpe(file, argv, envp));
}

MP_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	REAL(fexecve, int (*)(int, char *const[], char *const[]));
	mp_shm_mark_exec(1);
	return failed(real_fexecve(fd, argv, envp));
}

/* The list forms: the arguments gathered on the stack, as glibc does.
 * glibc declares the first argument nonnull, yet a NULL there is an empty
 * list: hide it from the compiler before testing it. */
static inline const char *opaque(const char *p)
{
	__asm__("" : "+r"(p));
	return p;
}

static size_t count_args(const char *arg0, va_list ap)
{
	size_t n = 1;
	while (arg0 && va_arg(ap, const char *))
		n++;
	return arg0 ? n : 0;
}

#define GATHER(argv, arg0, n, ap)                                        \
	do {                                                                 \
		(argv)[0] = (char *)(arg0);                                  \
		for (size_t i_ = 1; i_ <= (n); i_++)                         \
			(argv)[i_] = i_ < (n) ? va_arg(ap, char *) : NULL;   \
	} while (0)

MP_EXPORT int execl(const char *path, const char *arg0, ...)
{
	const char *arg = opaque(arg0);
	va_list ap;
	va_start(ap, arg0);
	size_t n = count_args(arg, ap);
	va_end(ap);
	char *argv[n + 1];
	va_start(ap, arg0);
	GATHER(argv, arg, n, ap);
	va_end(ap);
	return execv(path, argv);
}

MP_EXPORT int execlp(const char *file, const char *arg0, ...)
{
	const char *arg = opaque(arg0);
	va_list ap;
	va_start(ap, arg0);
	size_t n = count_args(arg, ap);
	va_end(ap);
	char *argv[n + 1];
	va_start(ap, arg0);
	GATHER(argv, arg, n, ap);
	va_end(ap);
	return execvp(file, argv);
}

MP_EXPORT int execle(const char *path, const char *arg0, ...)
{
	const char *arg = opaque(arg0);
	va_list ap;
	va_start(ap, arg0);
	size_t n = count_args(arg, ap);
	va_end(ap);
	char *argv[n + 1];
	va_start(ap, arg0);
	GATHER(argv, arg, n, ap);
	if (arg)
		(void)va_arg(ap, char *);   /* the list's NULL, then the environment */
	char *const *envp = va_arg(ap, char *const *);
	va_end(ap);
	return execve(path, argv, envp);
}

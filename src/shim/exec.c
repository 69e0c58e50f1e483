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
 * not loaded in (static, setuid) left its tables behind as if it had died,
 * and memprof wrote a profile of the image before the exec "ended without
 * writing its profile".
 *
 * An environment that has lost LD_PRELOAD or MEMPROF_OPTIONS on the way
 * (`env -i`, `env -u LD_PRELOAD`, clearenv(), a script's `exec env -i
 * PATH=... ./app`) gets the shim's own back, as the shim found them at its
 * start: the tree is followed as valgrind's --trace-children follows it,
 * instead of the program disappearing from the run.  A variable that is
 * there, whatever its value, is the program's and left alone.  The exec
 * forms that take no environment pass `environ`, checked the same way;
 * posix_spawn and posix_spawnp are interposed for theirs.  The new array
 * lives on the caller's stack (a vfork child's too): not for an
 * environment of more than ENV_MAX entries, which goes as it is.
 *
 * Must never: change errno or a return value, allocate, take a lock (a
 * vfork child may call these).
 */
#include <dlfcn.h>
#include <errno.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/compiler.h"
#include "base/shm.h"
#include "shim/shim.h"

/* libc's definitions, found once from the shim's start (mp_exec_init):
 * the usual caller of exec is a vfork child, where dlsym (locks, maybe an
 * allocation on the parent's heap) must not run.  A call before the start
 * (another library's constructor) finds its own. */
static int (*real_execve)(const char *, char *const[], char *const[]);
static int (*real_execvpe)(const char *, char *const[], char *const[]);
static int (*real_fexecve)(int, char *const[], char *const[]);

#define RESOLVE(name) \
	(real_##name = (__typeof__(real_##name))dlsym(RTLD_NEXT, #name))
#define REAL(name) \
	if (!__atomic_load_n(&real_##name, __ATOMIC_ACQUIRE)) \
		RESOLVE(name)

static int (*real_posix_spawn)(pid_t *, const char *, const posix_spawn_file_actions_t *,
				const posix_spawnattr_t *, char *const[], char *const[]);
static int (*real_posix_spawnp)(pid_t *, const char *, const posix_spawn_file_actions_t *,
				 const posix_spawnattr_t *, char *const[], char *const[]);

/* "NAME=value" of the two variables as the shim started with them; empty
 * when it had none (loaded some other way: nothing to put back). */
#define ENV_MAX 4096
#define VAR_MAX 4096
static char env_preload[VAR_MAX], env_options[VAR_MAX];

static void keep_var(char *dst, const char *name)
{
	const char *v = getenv(name);
	size_t n = strlen(name), l = v ? strlen(v) : 0;
	if (!v || !*v || n + 1 + l + 1 > VAR_MAX)
		return;
	memcpy(dst, name, n);
	dst[n] = '=';
	memcpy(dst + n + 1, v, l + 1);
}

void mp_exec_init(void)
{
	RESOLVE(execve);
	RESOLVE(execvpe);
	RESOLVE(fexecve);
	RESOLVE(posix_spawn);
	RESOLVE(posix_spawnp);
	keep_var(env_preload, "LD_PRELOAD");
	if (env_preload[0])
		keep_var(env_options, "MEMPROF_OPTIONS");
}

/* Whether envp has a non-empty NAME (var is "NAME=value"). */
static bool has_var(char *const envp[], const char *var)
{
	size_t k = (size_t)(strchr(var, '=') - var) + 1;
	for (size_t i = 0; envp && envp[i]; i++)
		if (strncmp(envp[i], var, k) == 0 && envp[i][k])
			return true;
	return false;
}

/* Which of the shim's variables envp lacks: LOST_PRELOAD, LOST_OPTIONS
 * (none when the shim has none to put back, or envp is too long for the
 * stack); *ret_n: envp's entries. */
enum { LOST_PRELOAD = 1, LOST_OPTIONS = 2 };

static unsigned missing(char *const envp[], size_t *ret_n)
{
	size_t n = 0;
	while (envp && envp[n])
		n++;
	*ret_n = n;
	if (!env_preload[0] || n > ENV_MAX)
		return 0;
	return (has_var(envp, env_preload) ? 0 : LOST_PRELOAD) |
	       (!env_options[0] || has_var(envp, env_options) ? 0 : LOST_OPTIONS);
}

/* envp (n entries) with the `lost` variables appended, into out. */
static char *const *with_vars(char *const envp[], size_t n, unsigned lost, char **out)
{
	size_t k = 0;
	for (; k < n; k++)
		out[k] = envp[k];
	if (lost & LOST_PRELOAD)
		out[k++] = env_preload;
	if (lost & LOST_OPTIONS)
		out[k++] = env_options;
	out[k] = NULL;
	return out;
}

/* The call failed (it returned): the image goes on. */
static int failed(int r)
{
	int saved = errno;
	mp_shm_mark_exec(0);
	errno = saved;
	return r;
}

/* The environment to exec with: envp, or envp and what it lost, in a VLA
 * of the caller's (n + 3 entries; 1 when nothing is lost). */
#define ENV_FOR(envp, name)                                                  \
	size_t name##_n;                                                     \
	unsigned name##_lost = missing((envp), &name##_n);                   \
	char *name##_buf[name##_lost ? name##_n + 3 : 1];                    \
	char *const *name = name##_lost ? with_vars((envp), name##_n, name##_lost, name##_buf) \
					: (envp)

MP_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	REAL(execve);
	ENV_FOR(envp, env);
	mp_shm_mark_exec(1);
	return failed(real_execve(path, argv, env));
}

MP_EXPORT int execv(const char *path, char *const argv[])
{
	REAL(execve);
	ENV_FOR(environ, env);
	mp_shm_mark_exec(1);
	return failed(real_execve(path, argv, env));
}

MP_EXPORT int execvp(const char *file, char *const argv[])
{
	REAL(execvpe);
	ENV_FOR(environ, env);
	mp_shm_mark_exec(1);
	return failed(real_execvpe(file, argv, env));
}

MP_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	REAL(execvpe);
	ENV_FOR(envp, env);
	mp_shm_mark_exec(1);
	return failed(real_execvpe(file, argv, env));
}

MP_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	REAL(fexecve);
	ENV_FOR(envp, env);
	mp_shm_mark_exec(1);
	return failed(real_fexecve(fd, argv, env));
}

/* A new process: no exec of ours to mark; only the environment. */
MP_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
			  const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	REAL(posix_spawn);
	ENV_FOR(envp, env);
	return real_posix_spawn(pid, path, fa, attr, argv, env);
}

MP_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
			   const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	REAL(posix_spawnp);
	ENV_FOR(envp, env);
	return real_posix_spawnp(pid, file, fa, attr, argv, env);
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

/* SPDX-License-Identifier: MIT */
/*
 * What `memprof run` starts the program with (launch.h): the shim's path,
 * the program found and vetted, its environment, the snapshot directory.
 * CLI only.
 */
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/launch.h"
#include "cli/options.h"
#include "cli/target.h"

/* ---- the shim -------------------------------------------------------------- */

/* The existing regular file `path`, made absolute; NULL with errno set if
 * there is none. */
static char *existing_file(const char *path)
{
	struct stat st;
	char *abs = realpath(path, NULL);

	if (!abs)
		return NULL;
	if (stat(abs, &st) == 0 && S_ISREG(st.st_mode))
		return abs;
	if (S_ISDIR(st.st_mode))
		errno = EISDIR;
	else if (errno == 0)
		errno = EINVAL;
	free(abs);
	return NULL;
}

/* The build tree keeps the CLI in src/cli/ and the shim in src/shim/; an
 * install keeps it at MP_SHIM_RELPATH_INSTALLED from bin/.  Relative lookups
 * keep working after the whole prefix is moved. */
int mp_launch_find_shim(char **ret_path)
{
	const char *env = getenv("MEMPROF_SHIM");
	char exe[PATH_MAX], *dir, *a = NULL, *b = NULL, *found = NULL;
	ssize_t n;

	if (env && *env) {
		errno = 0;
		found = existing_file(env);
		if (!found) {
			fprintf(stderr, "memprof: cannot use shim '%s' from MEMPROF_SHIM: %s\n", env,
				strerror(errno));
			return -1;
		}
		*ret_path = found;
		return 0;
	}

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0) {
		fprintf(stderr, "memprof: cannot find the shim: cannot read '/proc/self/exe': %s\n",
			strerror(errno));
		return -1;
	}
	exe[n] = '\0';
	dir = dirname(exe);
	if (asprintf(&a, "%s/../shim/%s", dir, MP_SHIM_NAME) < 0 ||
	    asprintf(&b, "%s/%s", dir, MP_SHIM_RELPATH_INSTALLED) < 0) {
		fputs("memprof: out of memory\n", stderr);
		free(a);
		return -1;
	}
	found = existing_file(a);
	if (!found)
		found = existing_file(b);
	if (!found)
		fprintf(stderr, "memprof: cannot find the shim '" MP_SHIM_NAME "' at '%s' or '%s', "
			"set MEMPROF_SHIM\n", a, b);
	free(a);
	free(b);
	if (!found)
		return -1;
	*ret_path = found;
	return 0;
}

int mp_launch_preload_link(const char *shim, const char *snapdir, char **ret_link)
{
	char *link = NULL;
	int r = -1;

	*ret_link = NULL;
	if (!strpbrk(shim, " :"))
		return 0;
	if (!strpbrk(snapdir, " :")) {
		if (asprintf(&link, "%s/" MP_SHIM_NAME, snapdir) < 0)
			link = NULL;
		r = link ? symlink(shim, link) : -1;
	} else {
		/* A TMPDIR with a space too: a link of a name of our own in
		 * /tmp (sticky: nobody else can replace it), tried until one
		 * is free. */
		for (unsigned i = 0; i < 100 && r < 0; i++) {
			free(link);
			if (asprintf(&link, "/tmp/memprof-shim.%ld.%u.so", (long)getpid(), i) < 0) {
				link = NULL;
				break;
			}
			r = symlink(shim, link);
			if (r < 0 && errno != EEXIST)
				break;
		}
	}
	if (r < 0) {
		fprintf(stderr, "memprof: cannot link to shim '%s': %s\n", shim, strerror(errno));
		free(link);
		return -1;
	}
	*ret_link = link;
	return 0;
}

/* ---- the program ----------------------------------------------------------- */

int mp_launch_prepare_program(const char *name, char **ret_path, bool *ret_is_elf,
			       bool *ret_unprofiled)
{
	struct mp_target_info info;
	char *path = NULL;
	int r;

	r = mp_target_resolve(name, &path);
	if (r == -ENOENT && !strchr(name, '/')) {
		fprintf(stderr, "memprof: '%s': command not found\n", name);
		return 127;
	}
	if (r < 0) {
		fprintf(stderr, "memprof: cannot run '%s': %s\n", name, strerror(-r));
		return r == -ENOENT ? 127 : r == -ENOMEM ? 1 : 126;
	}

	r = mp_target_inspect(path, &info);
	if (r < 0) {
		fprintf(stderr, "memprof: cannot inspect '%s': %s\n", path, strerror(-r));
		free(path);
		return 1;
	}
	r = 0;
	*ret_unprofiled = false;
	/* A program the shim cannot get into still runs, as it would without
	 * memprof (same output, same status): a script or build that calls
	 * memprof run on whatever it is given keeps working, and the programs
	 * it starts are profiled when they can be. */
	switch (info.verdict) {
	case MP_TARGET_OK:
		break;
	case MP_TARGET_STATIC:
		fprintf(stderr, "memprof: not profiling '%s': '%s' is statically linked, "
			"LD_PRELOAD has no effect on it; it runs without a profile\n",
			name, info.culprit);
		*ret_unprofiled = true;
		break;
	case MP_TARGET_SETID:
		fprintf(stderr, "memprof: not profiling '%s': '%s' is setuid, setgid or has file "
			"capabilities that give this user privileges, and the dynamic loader "
			"ignores LD_PRELOAD for it; it runs without a profile\n",
			name, info.culprit);
		*ret_unprofiled = true;
		break;
	case MP_TARGET_FOREIGN:
		fprintf(stderr, "memprof: cannot profile '%s': '%s' is not a native %d-bit "
			"program, the shim cannot be loaded into it\n",
			name, info.culprit, (int)sizeof(void *) * 8);
		r = 1;
		break;
	case MP_TARGET_MALFORMED:
		fprintf(stderr, "memprof: cannot run '%s': '%s' has malformed ELF headers\n",
			name, info.culprit);
		r = 126;
		break;
	case MP_TARGET_BAD_INTERP:
		fprintf(stderr, "memprof: cannot run '%s': bad interpreter '%s': %s\n",
			name, info.culprit, strerror(info.error));
		r = 126;
		break;
	}
	*ret_is_elf = info.is_elf;
	mp_target_info_done(&info);
	if (r) {
		free(path);
		return r;
	}
	*ret_path = path;
	return 0;
}

/* ---- the environment ------------------------------------------------------- */

char **mp_launch_env(const char *shim, const struct mp_options *o, const char *program)
{
	extern char **environ;
	const char *preload = getenv("LD_PRELOAD"), *opts = getenv(MP_OPTIONS_ENV);
	char **env, *ld = NULL, *mo = NULL, *ours = NULL, *under = NULL;
	long len = mp_options_format(NULL, 0, o, MP_LAUNCH_OPTIONS);
	size_t n = 0, k = 0;
	bool has_under = false;

	for (char **e = environ; *e; e++) {
		n++;
		has_under |= strncmp(*e, "_=", 2) == 0;
	}
	env = calloc(n + 4, sizeof(*env));
	if (!env)
		return NULL;
	if (asprintf(&ld, "LD_PRELOAD=%s%s%s", shim, preload && *preload ? ":" : "",
		     preload ? preload : "") < 0)
		ld = NULL;
	ours = len >= 0 ? malloc((size_t)len + 1) : NULL;
	if (ours)
		mp_options_format(ours, (size_t)len + 1, o, MP_LAUNCH_OPTIONS);
	if (ours && asprintf(&mo, MP_OPTIONS_ENV "=%s%s%s", opts && *opts ? opts : "",
			     opts && *opts ? "," : "", ours) < 0)
		mo = NULL;
	free(ours);
	/* A shell sets "_" to the path of the program it runs: the program
	 * would otherwise see ours, the path of memprof. */
	if (has_under && program && asprintf(&under, "_=%s", program) < 0)
		under = NULL;
	if (!ld || !mo || (has_under && program && !under)) {
		free(ld);
		free(mo);
		free(under);
		free(env);
		return NULL;
	}
	for (char **e = environ; *e; e++)
		if (strncmp(*e, "LD_PRELOAD=", 11) != 0 &&
		    strncmp(*e, MP_OPTIONS_ENV "=", sizeof(MP_OPTIONS_ENV)) != 0 &&
		    !(under && strncmp(*e, "_=", 2) == 0))
			env[k++] = *e;
	env[k++] = ld;
	env[k++] = mo;
	if (under)
		env[k++] = under;
	env[k] = NULL;
	return env;
}

int mp_launch_check_user_options(void)
{
	const char *opts = getenv(MP_OPTIONS_ENV);
	char *fixed = NULL;

	if (!opts || mp_check_shim_options(opts, &fixed) == 0)
		return 0;
	fprintf(stderr, "memprof: bad MEMPROF_OPTIONS '%s': options are separated by ',', "
		"not ':' (MEMPROF_OPTIONS=%s)\n", opts, fixed ? fixed : "...");
	free(fixed);
	return -1;
}

/* What mp_launch_env() allocated: its last entries, LD_PRELOAD,
 * MEMPROF_OPTIONS and maybe "_" (the environment's own were left out). */
void mp_launch_env_free(char **env)
{
	size_t n = 0;

	if (!env)
		return;
	while (env[n])
		n++;
	size_t ours = n >= 3 && strncmp(env[n - 1], "_=", 2) == 0 &&
		      strncmp(env[n - 2], MP_OPTIONS_ENV "=", sizeof(MP_OPTIONS_ENV)) == 0 ? 3 : 2;
	for (size_t i = n - ours; i < n; i++)
		free(env[i]);
	free(env);
}

char *mp_launch_tmpdir(void)
{
	const char *bases[] = { getenv("TMPDIR"), "/tmp" };
	int err = EINVAL;

	for (size_t i = 0; i < 2; i++) {
		const char *base = bases[i];
		char *tmpl = NULL, *abs;

		if (!base || base[0] != '/' || strchr(base, ','))
			continue;
		if (asprintf(&tmpl, "%s/memprof.XXXXXX", base) < 0)
			return NULL;
		if (!mkdtemp(tmpl)) {
			err = errno;
			free(tmpl);
			continue;
		}
		abs = realpath(tmpl, NULL);
		if (abs && !strchr(abs, ',')) {
			free(tmpl);
			return abs;
		}
		err = abs ? EINVAL : errno;
		rmdir(tmpl);
		free(abs);
		free(tmpl);
	}
	errno = err;
	return NULL;
}

/* SPDX-License-Identifier: MIT */
/*
 * Output file names of `memprof run` and `memprof attach` (outnames.h).
 * CLI only.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/outnames.h"

char *mp_outname_heap(const char *output, pid_t pid, bool is_target)
{
	static const char *const suffixes[] = { ".heap.pb.gz", ".pb.gz" };
	char *s = NULL;

	if (!output) {
		if (asprintf(&s, "memprof.%d.heap.pb.gz", (int)pid) < 0)
			return NULL;
		return s;
	}
	if (is_target)
		return strdup(output);
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		size_t len = strlen(output), slen = strlen(suffixes[i]);

		if (len > slen && strcmp(output + len - slen, suffixes[i]) == 0) {
			if (asprintf(&s, "%.*s.%d%s", (int)(len - slen), output, (int)pid,
				     suffixes[i]) < 0)
				return NULL;
			return s;
		}
	}
	if (asprintf(&s, "%s.%d", output, (int)pid) < 0)
		return NULL;
	return s;
}

char *mp_outname_kind(const char *heap_out, const char *what)
{
	static const char *const ends[] = { ".heap.pb.gz", ".pb.gz" };
	size_t n = strlen(heap_out);
	char *r = NULL;
	for (size_t i = 0; i < 2; i++) {
		size_t e = strlen(ends[i]);
		if (n > e && strcmp(heap_out + n - e, ends[i]) == 0) {
			if (asprintf(&r, "%.*s.%s.pb.gz", (int)(n - e), heap_out, what) < 0)
				r = NULL;
			return r;
		}
	}
	if (asprintf(&r, "%s.%s.pb.gz", heap_out, what) < 0)
		r = NULL;
	return r;
}

/* Whether a file can be made in dir: access(2) lets root through where no
 * file can be made (/proc, /sys).  A hidden temporary, removed at once.
 * 0, or -1 with errno. */
static int probe(const char *dir)
{
	char *tmp;
	int fd, e;

	if (asprintf(&tmp, "%s/.memprof.probe.XXXXXX", dir) < 0) {
		errno = ENOMEM;
		return -1;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	e = errno;
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	free(tmp);
	errno = e;
	return fd < 0 ? -1 : 0;
}

int mp_outname_check_dir(const char *output, const char *what, bool names_others)
{
	char *copy = strdup(output ? output : "./x");
	bool exists;
	const char *dir;
	struct stat st;
	int r = 0;

	if (!copy) {
		fputs("memprof: out of memory\n", stderr);
		return -1;
	}
	dir = dirname(copy);
	exists = output && stat(output, &st) == 0;
	if (output && *output && output[strlen(output) - 1] == '/') {
		/* dirname("./dir/") is ".": the name is a directory's. */
		fprintf(stderr, "memprof: cannot write %s '%s': %s (name a file)\n", what, output,
			strerror(EISDIR));
		r = -1;
	} else if (exists && S_ISDIR(st.st_mode)) {
		fprintf(stderr, "memprof: cannot write %s '%s': %s\n", what, output, strerror(EISDIR));
		r = -1;
	} else if (exists && names_others && !S_ISREG(st.st_mode)) {
		/* /dev/null.peak.pb.gz would be made in /dev. */
		fprintf(stderr, "memprof: cannot write %s '%s': not a regular file (the other "
			"profiles are named after it): name a file\n", what, output);
		r = -1;
	} else if (access(dir, W_OK | X_OK) < 0 || probe(dir) < 0) {
		fprintf(stderr, "memprof: cannot write %s '%s': %s\n", what,
			output ? output : "memprof.<pid>.heap.pb.gz", strerror(errno));
		r = -1;
	}
	free(copy);
	return r;
}

/* SPDX-License-Identifier: MIT */
/* One reader and one error message for every command that takes profiles,
 * and a whole-file reader. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/profiles.h"
#include "common/cpus.h"
#include "report/diff.h"
#include "common/grow.h"
#include "common/open-input.h"

static void report(const char *path, int r, const char *err)
{
	fprintf(stderr, "memprof: cannot read profile '%s': %s\n", path, err ? err : strerror(-r));
}

int mp_cli_read_profile(const char *path, struct mp_profile **ret)
{
	char *err = NULL;
	int r = mp_pprof_read_file(path, ret, &err);
	if (r < 0)
		report(path, r, err);
	free(err);
	return r;
}

struct job {
	const char *const *paths;
	size_t n;
	atomic_size_t next;
	struct mp_profile **out;
	int *r;
	char **err;
};

static void *worker(void *arg)
{
	struct job *j = arg;

	for (size_t i; (i = atomic_fetch_add(&j->next, 1)) < j->n;)
		j->r[i] = mp_pprof_read_file(j->paths[i], &j->out[i], &j->err[i]);
	return NULL;
}

int mp_cli_read_profiles(const char *const *paths, size_t n, struct mp_profile **ret)
{
	struct job j = { .paths = paths, .n = n, .out = ret };
	pthread_t th[3];
	size_t nth = 0, want;
	long cpus = mp_cpus_online();
	int status = 0;

	memset(ret, 0, n * sizeof(*ret));
	j.r = calloc(n + 1, sizeof(*j.r));
	j.err = calloc(n + 1, sizeof(*j.err));
	if (!j.r || !j.err) {
		free(j.r);
		free(j.err);
		fputs("memprof: out of memory\n", stderr);
		return -ENOMEM;
	}
	atomic_init(&j.next, 0);
	/* Inflating and unpacking is most of the work: one thread per core
	 * (this one included), at most four. */
	want = cpus > 1 ? (size_t)cpus - 1 : 0;
	if (want > 3)
		want = 3;
	if (want > n - 1 && n > 0)
		want = n - 1;
	while (nth < want && pthread_create(&th[nth], NULL, worker, &j) == 0)
		nth++;
	worker(&j);
	for (size_t i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	/* The first failure in command-line order is the one reported. */
	for (size_t i = 0; i < n; i++) {
		if (j.r[i] < 0 && status == 0) {
			report(paths[i], j.r[i], j.err[i]);
			status = j.r[i];
		}
		free(j.err[i]);
	}
	if (status < 0)
		for (size_t i = 0; i < n; i++) {
			mp_profile_free(ret[i]);
			ret[i] = NULL;
		}
	free(j.r);
	free(j.err);
	return status;
}

int mp_cli_read_whole(const char *path, size_t max, uint8_t **ret_buf, size_t *ret_len)
{
	int fd = mp_open_input(path);
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;

	if (fd < 0)
		return fd;
	FILE *f = fdopen(fd, "rb");
	if (!f) {
		int e = errno;
		close(fd);
		return -e;
	}
	for (;;) {
		if (len == cap) {
			size_t nc = cap ? cap * 2 : 65536;   /* the sizes -EFBIG is about */

			if (nc > max || MP_GROW(buf, nc, cap) < 0) {
				free(buf);
				fclose(f);
				return nc > max ? -EFBIG : -ENOMEM;
			}
		}
		size_t n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		int e = errno ? errno : EIO;
		free(buf);
		fclose(f);
		return -e;
	}
	fclose(f);
	*ret_buf = buf;
	*ret_len = len;
	return 0;
}

int mp_cli_output_not_input(const char *output, const char *const *inputs, size_t n)
{
	struct stat so, si;

	if (stat(output, &so) < 0 || !S_ISREG(so.st_mode))
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (stat(inputs[i], &si) == 0 && si.st_dev == so.st_dev && si.st_ino == so.st_ino) {
			fprintf(stderr, "memprof: output '%s' is the input '%s': name another output "
				"file\n", output, inputs[i]);
			return -EEXIST;
		}
	}
	return 0;
}

int mp_cli_read_merged(const char *const *paths, size_t n, struct mp_cli_merged *ret)
{
	char *err = NULL;
	int r;

	memset(ret, 0, sizeof(*ret));
	if (n == 1)
		return mp_cli_read_profile(paths[0], &ret->p);
	ret->in = calloc(n, sizeof(*ret->in));
	if (!ret->in) {
		fputs("memprof: out of memory\n", stderr);
		return -ENOMEM;
	}
	ret->nin = n;
	r = mp_cli_read_profiles(paths, n, ret->in);
	if (r < 0)
		return r;
	r = mp_merge_build((const struct mp_profile *const *)ret->in, n, &ret->b, &err);
	if (r < 0) {
		fprintf(stderr, "memprof: cannot merge: %s\n", err ? err : strerror(-r));
		free(err);
		return r;
	}
	ret->p = mp_pprof_builder_view(ret->b);     /* read in memory, never encoded */
	return 0;
}

void mp_cli_merged_done(struct mp_cli_merged *m)
{
	mp_profile_free(m->p);
	mp_pprof_builder_free(m->b);
	for (size_t i = 0; i < m->nin; i++)
		mp_profile_free(m->in[i]);
	free(m->in);
	memset(m, 0, sizeof(*m));
}

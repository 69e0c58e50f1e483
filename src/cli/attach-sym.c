/* SPDX-License-Identifier: MIT */
/* Names for memprof attach's profiles (see attach-sym.h). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "cli/attach-sym.h"
#include "cli/profiles.h"
#include "symbolize/symbolize.h"

struct mp_attach_sym {
	int pid;
	char root[64];                /* "/proc/PID/root" */
	bool other_root;
	pthread_t thread;
	bool started;
	struct mp_symbolizer *warm;   /* the thread's, warmed (or NULL) */
	struct mp_symbolizer *final;
};

static void *warm_main(void *arg)
{
	struct mp_attach_sym *a = arg;
	char path[64];
	uint8_t *buf = NULL;
	size_t len = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", a->pid);
	if (mp_cli_read_whole(path, (size_t)16 << 20, &buf, &len) < 0)
		return NULL;
	if (mp_symbolizer_new_proc((const char *)buf, len, 0, a->pid, NULL, &a->warm) == 0)
		mp_symbolizer_warm(a->warm);
	free(buf);
	return NULL;
}

/* Whether ours and theirs are not the same file (both readable). */
static bool other_view(const char *ours, const char *theirs)
{
	struct stat a, b;

	return stat(ours, &a) == 0 && stat(theirs, &b) == 0 &&
	       (a.st_dev != b.st_dev || a.st_ino != b.st_ino);
}

struct mp_attach_sym *mp_attach_sym_start(int pid)
{
	struct mp_attach_sym *a = calloc(1, sizeof(*a));
	char ns[64];

	if (!a)
		return NULL;
	a->pid = pid;
	snprintf(a->root, sizeof(a->root), "/proc/%d/root", pid);
	a->other_root = other_view("/", a->root);
	snprintf(ns, sizeof(ns), "/proc/%d/ns/mnt", pid);
	a->other_root = a->other_root || other_view("/proc/self/ns/mnt", ns);
	a->started = pthread_create(&a->thread, NULL, warm_main, a) == 0;
	if (!a->started) {
		free(a);
		return NULL;
	}
	return a;
}

struct mp_symbolizer *mp_attach_sym_finish(struct mp_attach_sym *a, const char *maps,
					   size_t len)
{
	struct stat st;

	if (!a)
		return NULL;
	if (a->started) {
		pthread_join(a->thread, NULL);
		a->started = false;
	}
	if (a->final)
		return a->final;
	/* Gone with the process: what the thread did not open is looked for
	 * in memprof's own view. */
	if (mp_symbolizer_new_proc(maps, len, 0, stat(a->root, &st) == 0 ? a->pid : 0, a->warm,
				   &a->final) < 0)
		return a->warm;
	return a->final;
}

bool mp_attach_sym_other_root(const struct mp_attach_sym *a)
{
	return a && a->other_root;
}

void mp_attach_sym_free(struct mp_attach_sym *a)
{
	if (!a)
		return;
	if (a->started)
		pthread_join(a->thread, NULL);
	mp_symbolizer_free(a->final);
	mp_symbolizer_free(a->warm);
	free(a);
}

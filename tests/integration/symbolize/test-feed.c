/* SPDX-License-Identifier: MIT */
/*
 * The address feed of early symbolization (src/cli/addrfeed.c) on a live
 * target (t-feed, the shim preloaded at rate 1): after the target's first
 * phase the feed yields the addresses of its stacks (symbolized: feed_leaf,
 * feed_one, main), a second poll yields nothing new, after the second
 * phase only the new stacks (feed_two, not feed_one again), and once the
 * target has exited the feed reports it gone.  A process without the shim
 * (this one) has no feed.
 *
 * usage: test-feed T-FEED   (MEMPROF_SHIM names the shim)
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/addrfeed.h"
#include "symbolize/symbolize.h"
#include "tap.h"

extern char **environ;

#define MAX 100000

static char *read_maps(pid_t pid, size_t *ret_len)
{
	char path[64], *buf = malloc(1 << 20);
	size_t len = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	fd = open(path, O_RDONLY);
	while (fd >= 0 && (n = read(fd, buf + len, (1 << 20) - len - 1)) > 0)
		len += (size_t)n;
	if (fd >= 0)
		close(fd);
	buf[len] = 0;
	*ret_len = len;
	return buf;
}

/* Bit 0: feed_one seen, 1: feed_two, 2: feed_leaf, 3: main. */
static unsigned names(pid_t pid, const uint64_t *a, size_t n)
{
	size_t len;
	char *maps = read_maps(pid, &len);
	struct mp_symbolizer *s = NULL;
	unsigned seen = 0;

	if (mp_symbolizer_new(maps, len, MP_SYM_F_NO_CACHE, &s) < 0) {
		free(maps);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		struct mp_sym_result r;

		if (mp_symbolize(s, a[i], &r) < 0)
			continue;
		for (size_t k = 0; k < r.nframes; k++) {
			const char *f = r.frames[k].function;

			seen |= (strcmp(f, "feed_one") == 0) << 0 | (strcmp(f, "feed_two") == 0) << 1 |
				(strcmp(f, "feed_leaf") == 0) << 2 | (strcmp(f, "main") == 0) << 3;
		}
	}
	mp_symbolizer_free(s);
	free(maps);
	return seen;
}

static int read_line(int fd, const char *want)
{
	char buf[16];
	size_t n = 0;

	while (n < sizeof(buf) - 1 && read(fd, buf + n, 1) == 1 && buf[n] != '\n')
		n++;
	buf[n] = 0;
	return strcmp(buf, want) == 0 ? 0 : -1;
}

/* Poll until addresses come (the shim writes them as the program runs:
 * they are there by the time it said so; a few tries for safety). */
static ssize_t poll_some(struct mp_addrfeed *f, uint64_t *a)
{
	ssize_t n = 0;

	for (int i = 0; i < 50 && n == 0; i++)
		n = mp_addrfeed_poll(f, a, MAX);
	return n;
}

int main(int argc, char **argv)
{
	const char *shim = getenv("MEMPROF_SHIM");
	char dir[] = "/tmp/test-feed-XXXXXX", *env[8], opt[200], pre[4200];
	int in[2], out[2], n_env = 0, status;
	posix_spawn_file_actions_t fa;
	struct mp_addrfeed *f = NULL;
	uint64_t *a = malloc(MAX * sizeof(*a));
	ssize_t n;
	pid_t pid;

	if (argc != 2 || !shim || !mkdtemp(dir) || pipe(in) < 0 || pipe(out) < 0) {
		fprintf(stderr, "usage: MEMPROF_SHIM=... test-feed T-FEED\n");
		return 2;
	}
	/* No shim here: no feed. */
	CHECK_INT(mp_addrfeed_open(getpid(), NULL, &f), -ENOENT);

	snprintf(pre, sizeof(pre), "LD_PRELOAD=%s", shim);
	snprintf(opt, sizeof(opt), "MEMPROF_OPTIONS=rate=1,snapdir=%s", dir);
	env[n_env++] = pre;
	env[n_env++] = opt;
	env[n_env++] = "PATH=/usr/bin:/bin";
	env[n_env] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_addclose(&fa, in[1]);
	posix_spawn_file_actions_addclose(&fa, out[0]);
	if (posix_spawn(&pid, argv[1], &fa, NULL, (char *const[]){ argv[1], NULL }, env) != 0) {
		CHECK(!"spawn t-feed");
		return tap_done();
	}
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(out[1]);
	CHECK_INT(read_line(out[0], "one"), 0);

	CHECK_INT(mp_addrfeed_open(pid, NULL, &f), 0);
	if (f) {
		n = poll_some(f, a);
		CHECK(n > 0);
		CHECK_INT(names(pid, a, n > 0 ? (size_t)n : 0), 1 | 4 | 8);
		CHECK_INT(mp_addrfeed_poll(f, a, MAX), 0);      /* nothing new */

		CHECK_INT(write(in[1], "x", 1), 1);
		CHECK_INT(read_line(out[0], "two"), 0);
		n = poll_some(f, a);
		CHECK(n > 0);
		/* Only the new stacks: feed_two's, not feed_one's again. */
		CHECK_INT(names(pid, a, n > 0 ? (size_t)n : 0), 2 | 4 | 8);
	}
	close(in[1]);
	CHECK_INT(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	if (f)
		CHECK(mp_addrfeed_poll(f, a, MAX) < 0);         /* gone */
	mp_addrfeed_free(f);
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			CHECK(!"cleanup");
	}
	free(a);
	return tap_done();
}

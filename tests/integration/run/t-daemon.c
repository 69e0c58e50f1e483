/* SPDX-License-Identifier: MIT */
/*
 * A program that starts a server the way servers start, with daemon(3): the
 * parent returns at once (exit status 0, from daemon itself); the daemon, in
 * a session of its own, sends its standard streams to LOG (so that anything
 * the shim would say there is seen, and it holds no stream of memprof's),
 * allocates, writes its pid to PIDFILE, and waits for SIGUSR1 (SIGUSR2 is
 * the shim's snapshot signal), then frees and exits 0.
 *
 * usage: t-daemon PIDFILE LOG
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NBLOCKS 16

static void *blocks[NBLOCKS];

__attribute__((noinline)) static void serve_alloc(void)
{
	for (int i = 0; i < NBLOCKS; i++) {
		blocks[i] = malloc(64 << 10);
		if (blocks[i])
			memset(blocks[i], i, 64 << 10);
	}
	__asm__ volatile("" ::: "memory");   /* no tail call: this frame stays */
}

static int write_pid(const char *path)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return -1;
	fprintf(f, "%d\n", (int)getpid());
	if (fclose(f) != 0)
		return -1;
	return rename(tmp, path);   /* whole, for a reader that polls */
}

int main(int argc, char **argv)
{
	sigset_t usr1;
	int fd, sig;

	if (argc != 3)
		return 2;
	printf("starting\n");
	fflush(stdout);
	/* Blocked across daemon(), so none slips in before the wait. */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	if (daemon(1, 1) < 0)
		return 3;
	fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
	if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
		return 4;
	close(fd);
	fd = open("/dev/null", O_RDONLY);
	if (fd < 0 || dup2(fd, 0) < 0)
		return 5;
	close(fd);
	serve_alloc();
	if (write_pid(argv[1]) < 0)
		return 6;
	if (sigwait(&usr1, &sig) != 0)
		return 7;
	for (int i = 0; i < NBLOCKS; i++)
		free(blocks[i]);
	return 0;
}

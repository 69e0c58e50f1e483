/* SPDX-License-Identifier: MIT */
/*
 * File descriptor target.  Modes:
 *   leaky    one descriptor of each kind left open, each made by its own
 *            function (see the table in check-fds.py); some made and closed
 *   clean    the same, all closed
 *   closeall closes every descriptor, 0..1023 (memprof's too), then exits 3
 *   exec     opens one CLOEXEC and one plain descriptor, then execs itself
 *            in mode "child", which prints what it inherited
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

static int keep[64], nkeep;
static void *volatile keep_ptr[8];

#define MAKER(name, expr) \
	__attribute__((noinline)) static void name(void) { keep[nkeep++] = (expr); }

MAKER(make_file, open("/etc/hostname", O_RDONLY))
MAKER(make_file_cloexec, open("/etc/hostname", O_RDONLY | O_CLOEXEC))
MAKER(make_socket, socket(AF_INET, SOCK_STREAM, 0))
MAKER(make_eventfd, eventfd(0, 0))
MAKER(make_epoll, epoll_create1(0))
MAKER(make_timerfd, timerfd_create(CLOCK_MONOTONIC, 0))
MAKER(make_memfd, memfd_create("memprof-test", 0))
MAKER(make_inotify, inotify_init1(0))

__attribute__((noinline)) static void make_fopen(void)
{
	FILE *f = fopen("/etc/passwd", "r");
	keep_ptr[0] = f;
	keep[nkeep++] = fileno(f);
}

__attribute__((noinline)) static void make_dir(void)
{
	DIR *d = opendir("/");
	keep_ptr[1] = d;
	keep[nkeep++] = dirfd(d);
}

__attribute__((noinline)) static void make_pipe(void)
{
	int p[2];
	if (pipe(p) == 0) {
		keep[nkeep++] = p[0];
		keep[nkeep++] = p[1];
	}
}

__attribute__((noinline)) static void make_socketpair(void)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0) {
		keep[nkeep++] = sv[0];
		keep[nkeep++] = sv[1];
	}
}

__attribute__((noinline)) static void make_signalfd(void)
{
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	keep[nkeep++] = signalfd(-1, &m, 0);
}

__attribute__((noinline)) static void make_dup(void)
{
	keep[nkeep++] = dup(keep[0]);
}

/* Made and closed again: never counted. */
__attribute__((noinline)) static void churn(void)
{
	for (int i = 0; i < 10; i++)
		close(open("/etc/hostname", O_RDONLY));
	int a = open("/etc/hostname", O_RDONLY), b = open("/etc/passwd", O_RDONLY);
	dup2(a, b);     /* b (passwd) closed by dup2, now a copy of a */
	close(a);
	close(b);
	int lo = open("/etc/hostname", O_RDONLY), hi = dup(lo);
	close_range((unsigned)(lo < hi ? lo : hi), (unsigned)(lo < hi ? hi : lo), 0);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "leaky";
	if (strcmp(mode, "closeall") == 0) {
		for (int fd = 0; fd < 1024; fd++)
			close(fd);
		return 3;
	}
	if (strcmp(mode, "exec") == 0) {
		int a = open("/etc/hostname", O_RDONLY | O_CLOEXEC), b = open("/etc/hostname", O_RDONLY);
		char num[16];
		snprintf(num, sizeof(num), "%d,%d", a, b);
		execl("/proc/self/exe", argv[0], "child", num, (char *)NULL);
		return 1;
	}
	if (strcmp(mode, "fork") == 0) {
		/* The child keeps the parent's two and makes one of its own. */
		make_file();
		make_file_cloexec();
		pid_t pid = fork();
		if (pid == 0) {
			make_socket();
			_exit(0);
		}
		int st;
		return waitpid(pid, &st, 0) == pid && WIFEXITED(st) ? WEXITSTATUS(st) : 1;
	}
	if (strcmp(mode, "child") == 0) {
		int a, b;
		if (argc < 3 || sscanf(argv[2], "%d,%d", &a, &b) != 2)
			return 1;
		printf("cloexec %s, plain %s\n", fcntl(a, F_GETFD) < 0 ? "closed" : "open",
		       fcntl(b, F_GETFD) < 0 ? "closed" : "open");
		return 0;
	}
	churn();
	make_file();
	make_file_cloexec();
	make_fopen();
	make_dir();
	make_socket();
	make_socketpair();
	make_pipe();
	make_eventfd();
	make_epoll();
	make_timerfd();
	make_memfd();
	make_inotify();
	make_signalfd();
	make_dup();
	if (strcmp(mode, "clean") == 0) {
		fclose(keep_ptr[0]);
		closedir(keep_ptr[1]);
		for (int i = 0; i < nkeep; i++)
			if (i != 2 && i != 3)
				close(keep[i]);
	}
	printf("%d descriptors made\n", nkeep);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * A process tree under a seccomp filter, as man-db runs its filters (col,
 * tbl, groff): the child installs a filter that makes memfd_create, and
 * openat for writing, fail with ENOSYS, then forks and execs this program
 * again (the leaf), under the inherited filter.  The child's profile
 * tables were shared before its filter: memprof writes its profile from
 * them, silently.  The leaf can neither share tables nor write a
 * snapshot: no profile, one line that says why.
 * Output: "child", "leaf", "child 3" in that order; exit status 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int install_filter(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_memfd_create, 5, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_openat, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, O_WRONLY | O_RDWR | O_CREAT, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

__attribute__((noinline)) static char *work(size_t n)
{
	char *p = malloc(n);
	memset(p, 'x', n);
	return p;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "leaf") == 0) {
		free(work(1000));
		printf("leaf\n");
		return 0;
	}
	pid_t child = fork();
	if (child == 0) {
		if (install_filter() < 0) {
			perror("seccomp");
			_exit(1);
		}
		free(work(2000));
		printf("child\n");
		fflush(stdout);
		pid_t leaf = fork();
		if (leaf == 0) {
			execl("/proc/self/exe", argv[0], "leaf", (char *)NULL);
			_exit(127);
		}
		int st;
		waitpid(leaf, &st, 0);
		_exit(WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 3 : 4);
	}
	int st;
	waitpid(child, &st, 0);
	printf("child %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * Target for the checks that the program's descriptors and limits stay its
 * own under memprof (check-env.py).  Each mode prints what the program saw,
 * to be compared with a native run, and leaks known blocks in env_leak
 * (10 x 1000 B) so the checker can tell a profile was written.
 *   t-env fds            the first descriptor open() gives, every open one,
 *                        and the limits RLIMIT_NOFILE and RLIMIT_AS
 *   t-env emfile N       RLIMIT_NOFILE N, then open() until it fails
 *   t-env closeall       close every descriptor above 2 (close_range)
 *   t-env fsize          RLIMIT_FSIZE of 1 byte (the snapshot cannot be written)
 *   t-env alloc SIZE     malloc(SIZE) until NULL: the bytes obtained
 *   t-env cap AS SIZE    setrlimit(RLIMIT_AS, AS), malloc(SIZE) until NULL,
 *                        free all, again: both totals and errno
 *   t-env churn MIB      MIB MiB in 1 MiB blocks, freed, then one mmap of MIB MiB
 *   t-env seccomp        a seccomp filter refuses clone(CLONE_VFORK): the shim's
 *                        private-descriptor child cannot be made
 *   t-env oldkernel N    close_range fails with ENOSYS, as before Linux 5.9 (the
 *                        private-descriptor child closes what /proc lists), then
 *                        RLIMIT_NOFILE N, open() until it fails, every open one
 *   t-env userns         unshare(CLONE_NEWUSER), which the kernel allows only a
 *                        process of one thread, then allocate and print
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

void *keep[10];

__attribute__((noinline)) void env_leak(void)
{
	for (int i = 0; i < 10; i++)
		keep[i] = malloc(1000);
	__asm__ volatile("" ::: "memory");
}

/* Blocks of `size` until malloc fails, chained through their first word.
 * Returns the chain; *ret_total the bytes, *ret_errno malloc's errno. */
static void *fill(size_t size, size_t *ret_total, int *ret_errno)
{
	void *head = NULL, *p;
	size_t total = 0;
	errno = 0;
	while (total < ((size_t)64 << 30) && (p = malloc(size)) != NULL) {
		*(void **)p = head;
		head = p;
		total += size;
	}
	*ret_errno = errno;
	*ret_total = total;
	return head;
}

static void drain(void *head)
{
	while (head) {
		void *next = *(void **)head;
		free(head);
		head = next;
	}
}

/* Install a seccomp filter of n instructions; false when refused. */
static bool filter(struct sock_filter *f, unsigned short n)
{
	struct sock_fprog prog = { n, f };
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
	       prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
}

/* RLIMIT_NOFILE to limit, then open() until it fails: prints how many
 * opened and why it stopped.  false when the limit is refused. */
static bool fill_fds(const char *limit)
{
	struct rlimit rl;
	int n = 0;
	rl.rlim_cur = rl.rlim_max = strtoul(limit, NULL, 0);
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		return false;
	while (open("/dev/null", O_RDONLY) >= 0)
		n++;
	printf("opened %d (%s)\n", n, strerror(errno));
	return true;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	struct rlimit rl;
	size_t total;
	int err;

	if (strcmp(mode, "fds") == 0) {
		int fd = open("/dev/null", O_RDONLY);
		printf("first %d\nopen", fd);
		for (int i = 0; i < 1024; i++)
			if (fcntl(i, F_GETFD) >= 0)
				printf(" %d", i);
		getrlimit(RLIMIT_NOFILE, &rl);
		printf("\nnofile %llu %llu", (unsigned long long)rl.rlim_cur,
		       (unsigned long long)rl.rlim_max);
		getrlimit(RLIMIT_AS, &rl);
		printf("\nas %llu %llu\n", (unsigned long long)rl.rlim_cur,
		       (unsigned long long)rl.rlim_max);
		close(fd);
	} else if (strcmp(mode, "emfile") == 0 && argc > 2) {
		if (!fill_fds(argv[2]))
			return 2;
	} else if (strcmp(mode, "closeall") == 0) {
		if (close_range(3, ~0u, 0) < 0)
			return 2;
		printf("closed\n");
	} else if (strcmp(mode, "fsize") == 0) {
		getrlimit(RLIMIT_FSIZE, &rl);
		rl.rlim_cur = 1;
		if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
			return 2;
		printf("limited\n");
	} else if (strcmp(mode, "alloc") == 0 && argc > 2) {
		void *chain = fill(strtoul(argv[2], NULL, 0), &total, &err);
		printf("total %zu %s\n", total, err ? strerrorname_np(err) : "none");
		drain(chain);
	} else if (strcmp(mode, "cap") == 0 && argc > 3) {
		size_t size = strtoul(argv[3], NULL, 0), again;
		rl.rlim_cur = rl.rlim_max = strtoul(argv[2], NULL, 0);
		if (setrlimit(RLIMIT_AS, &rl) < 0)
			return 2;
		void *chain = fill(size, &total, &err);
		printf("first %zu %s\n", total, err ? strerrorname_np(err) : "none");
		drain(chain);
		chain = fill(size, &again, &err);
		printf("second %zu %s\n", again, err ? strerrorname_np(err) : "none");
		drain(chain);
	} else if (strcmp(mode, "churn") == 0 && argc > 2) {
		size_t mib = strtoul(argv[2], NULL, 0);
		void **blocks = calloc(mib, sizeof(*blocks));
		size_t got = 0;
		while (blocks && got < mib && (blocks[got] = malloc((size_t)1 << 20)) != NULL)
			memset(blocks[got++], 1, 4096);
		for (size_t i = 0; i < got; i++)
			free(blocks[i]);
		free(blocks);
		void *m = mmap(NULL, mib << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);
		printf("malloc %zu MiB, then mmap %s\n", got, m == MAP_FAILED ? "failed" : "ok");
	} else if (strcmp(mode, "seccomp") == 0) {
		struct sock_filter f[] = {
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 0, 3),
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
			BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_VFORK, 0, 1),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		};
		if (!filter(f, sizeof(f) / sizeof(f[0])))
			return 2;
		printf("filtered\n");
	} else if (strcmp(mode, "oldkernel") == 0 && argc > 2) {
		struct sock_filter f[] = {
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_close_range, 0, 1),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		};
		if (!filter(f, sizeof(f) / sizeof(f[0])) || !fill_fds(argv[2]))
			return 2;
		printf("open");
		for (int i = 0; i < 1024; i++)
			if (fcntl(i, F_GETFD) >= 0)
				printf(" %d", i);
		printf("\n");
	} else if (strcmp(mode, "userns") == 0) {
		int r = unshare(CLONE_NEWUSER);
		printf("unshare(CLONE_NEWUSER): %s\n", r == 0 ? "ok" : strerror(errno));
	} else {
		fprintf(stderr, "usage: t-env fds|emfile N|closeall|fsize|alloc SIZE|cap AS SIZE|churn MIB|seccomp|oldkernel N|userns\n");
		return 2;
	}
	env_leak();
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * fork and exec: the parent allocates, forks a child that exits with exit()
 * and one that exits with _exit(), and a child that execs this program again
 * in "exec" mode.  Each process must get its own profile, named with its pid.
 * Prints "child1 PID", "child2 PID", "child3 PID" on stdout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

void *volatile keep[32];

NOINLINE void parent_work(void) { for (int i = 0; i < 3; i++) keep[i] = malloc(111); }
NOINLINE void child_work(void) { for (int i = 0; i < 5; i++) keep[4 + i] = malloc(222); }
NOINLINE void child2_work(void) { for (int i = 0; i < 7; i++) keep[10 + i] = malloc(333); }
NOINLINE void exec_work(void) { for (int i = 0; i < 4; i++) keep[20 + i] = malloc(55); }
NOINLINE void after_fork(void) { for (int i = 0; i < 2; i++) keep[26 + i] = malloc(444); }

static pid_t spawn(int which, const char *self)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	if (which == 1) {
		child_work();
		exit(0);
	}
	if (which == 2) {
		child2_work();
		_exit(0);
	}
	execl(self, self, "exec", (char *)NULL);
	_exit(127);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "exec") == 0) {
		exec_work();
		return 0;
	}
	parent_work();
	for (int which = 1; which <= 3; which++) {
		int status;
		pid_t pid = spawn(which, "/proc/self/exe");
		waitpid(pid, &status, 0);
		printf("child%d %d %d\n", which, (int)pid, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}
	after_fork();
	return 0;
}

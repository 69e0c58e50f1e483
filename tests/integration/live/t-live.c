/* SPDX-License-Identifier: MIT */
/*
 * Target of the live endpoint's test: holds HOLD_N blocks of HOLD_SIZE bytes
 * from live_hold(), forks a child that holds CHILD_N blocks from
 * child_hold(), prints "ready <child pid>", then waits for stdin to close
 * (the child for its parent to end).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define HOLD_N 40
#define HOLD_SIZE 1000
#define CHILD_N 7

static void *volatile held[HOLD_N + CHILD_N];

__attribute__((noinline)) static void live_hold(void)
{
	for (int i = 0; i < HOLD_N; i++) {
		held[i] = malloc(HOLD_SIZE);
		memset(held[i], 1, HOLD_SIZE);
	}
}

__attribute__((noinline)) static void child_hold(void)
{
	for (int i = 0; i < CHILD_N; i++) {
		held[i] = malloc(HOLD_SIZE);
		memset(held[i], 2, HOLD_SIZE);
	}
}

int main(void)
{
	int fds[2];
	char c;

	live_hold();
	if (pipe(fds) < 0)
		return 1;
	pid_t child = fork();
	if (child < 0)
		return 1;
	if (child == 0) {
		close(fds[1]);
		child_hold();
		while (read(fds[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(fds[0]);
	printf("ready %d\n", (int)child);
	fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
	close(fds[1]);
	waitpid(child, NULL, 0);
	return 0;
}

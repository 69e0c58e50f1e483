/* SPDX-License-Identifier: MIT */
/* What kind of process a pid names (see procstate.h).  CLI only. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/procstate.h"
#include "common/grow.h"

#define PF_KTHREAD_FLAG 0x00200000UL   /* include/linux/sched.h */

/* The state letter, parent and flags of /proc/PID/stat: 1, 0 when they
 * cannot be read, -1 when there is no such process. */
static int stat_of(pid_t pid, char *ret_state, long *ret_ppid, unsigned long *ret_flags)
{
	char path[64], buf[1024];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ESRCH ? -1 : 0;
	do
		n = read(fd, buf, sizeof(buf) - 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n <= 0)
		return n < 0 && errno == ESRCH ? -1 : 0;
	buf[n] = '\0';
	/* "pid (comm) S ppid pgrp session tty_nr tpgid flags ...": comm may
	 * hold spaces and parentheses, so fields count from the last ')'. */
	char *p = strrchr(buf, ')');
	return p && sscanf(p + 1, " %c %ld %*d %*d %*d %*d %lu", ret_state, ret_ppid, ret_flags) == 3;
}

bool mp_proc_cannot_write(pid_t pid, const char *dir, unsigned *ret_uid)
{
	char path[64], line[256];
	unsigned r, e, sv, fs;
	bool found = false;
	struct stat st;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (stat(dir, &st) < 0 || !(f = fopen(path, "re")))
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "Uid: %u %u %u %u", &r, &e, &sv, &fs) == 4;
	fclose(f);
	/* Only a directory no one but its owner may write into (memprof
	 * run's, mode 0700): others leave the answer to the attempt. */
	if (!found || fs == 0 || fs == st.st_uid || (st.st_mode & (S_IWGRP | S_IWOTH)))
		return false;
	*ret_uid = fs;
	return true;
}

char mp_proc_state(pid_t pid)
{
	char state;
	long ppid;
	unsigned long flags;

	return stat_of(pid, &state, &ppid, &flags) > 0 ? state : 0;
}

pid_t mp_proc_parent(pid_t pid)
{
	char state;
	long ppid;
	unsigned long flags;

	if (stat_of(pid, &state, &ppid, &flags) <= 0 || ppid <= 0 || ppid > INT32_MAX)
		return 0;
	return (pid_t)ppid;
}

enum mp_proc_kind mp_proc_kind(pid_t pid)
{
	char state;
	long ppid;
	unsigned long flags;
	int r = stat_of(pid, &state, &ppid, &flags);

	if (r <= 0)
		return r < 0 ? MP_PROC_GONE : MP_PROC_USER;
	if (state == 'Z' || state == 'X')
		return MP_PROC_ZOMBIE;
	if (flags & PF_KTHREAD_FLAG)
		return MP_PROC_KTHREAD;
	return MP_PROC_USER;
}

const char *mp_proc_kind_reason(enum mp_proc_kind k)
{
	switch (k) {
	case MP_PROC_KTHREAD:
		return "it is a kernel thread (no user-space program to profile)";
	case MP_PROC_ZOMBIE:
		return "it has exited (a zombie its parent has not reaped)";
	case MP_PROC_GONE:
		return "no such process";
	case MP_PROC_USER:
		break;
	}
	return NULL;
}

int mp_proc_children(pid_t pid, pid_t **v, size_t *n, size_t *cap)
{
	char path[96];
	struct dirent *de;
	int r = -1;
	DIR *d;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/task");
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		FILE *f;
		int kid;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		if (pid)
			snprintf(path, sizeof(path), "/proc/%d/task/%.20s/children", (int)pid,
				 de->d_name);
		else
			snprintf(path, sizeof(path), "/proc/self/task/%.20s/children", de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;   /* a thread that just ended */
		r = 0;
		while (r == 0 && fscanf(f, "%d", &kid) == 1) {
			if (MP_GROW(*v, *n + 1, *cap) < 0)
				r = -1;
			else
				(*v)[(*n)++] = (pid_t)kid;
		}
		fclose(f);
		if (r < 0)
			break;
	}
	closedir(d);
	return r;
}

void mp_proc_comm(pid_t pid, char *buf, size_t cap)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	f = fopen(path, "re");
	if (!f || !fgets(buf, (int)cap, f))
		snprintf(buf, cap, "?");
	else
		buf[strcspn(buf, "\n")] = '\0';
	if (f)
		fclose(f);
}

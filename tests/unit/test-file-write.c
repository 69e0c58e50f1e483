/* SPDX-License-Identifier: MIT */
/*
 * A file written whole through a temporary name (common/file-write.h), as
 * profiles and timelines are written: the bytes, the mode the umask gives,
 * a file replaced, and failures that leave what stood there and no
 * temporary behind; devices and FIFOs written into, never replaced; a
 * symbolic link followed; the stream writer of flame graphs and leak
 * reports.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/file-write.h"
#include "tap.h"

static char dir[] = "/tmp/mp-file-write-XXXXXX";

/* Entries in dir besides . and .. */
static int entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	if (d)
		closedir(d);
	return n;
}

static char *slurp(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f)
		return NULL;
	do {
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			buf = realloc(buf, cap);
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n);
	fclose(f);
	*ret_len = len;
	return buf;
}

/* Files written by several threads at once (memprof run writes the heap
 * profile while a second thread writes the others): each with the mode
 * of the umask, which stays. */
static char shm_dir[] = "/dev/shm/mp-file-write-XXXXXX";

static void *write_many(void *arg)
{
	char path[160];

	for (int i = 0; i < 2000; i++) {
		snprintf(path, sizeof(path), "%s/t%ld.%d", shm_dir, (long)(intptr_t)arg, i);
		if (mp_file_write_whole(path, "x", 1) < 0)
			return "cannot write";
		struct stat st;
		if (stat(path, &st) < 0 || (st.st_mode & 0777) != 0640)
			return "wrong mode";
		unlink(path);
	}
	return NULL;
}

static void test_threads_umask(void)
{
	pthread_t th[4];
	mode_t old = umask(027);
	void *res;

	/* (tmpfs, where fsync costs nothing, when there is one) */
	if (!mkdtemp(shm_dir))
		strcpy(shm_dir, dir);
	for (long i = 0; i < 4; i++)
		CHECK_INT(pthread_create(&th[i], NULL, write_many, (void *)(intptr_t)i), 0);
	for (int i = 0; i < 4; i++) {
		CHECK_INT(pthread_join(th[i], &res), 0);
		CHECK_STR(res ? (char *)res : "", "");
	}
	CHECK_INT(umask(old), 027);
	if (strcmp(shm_dir, dir) != 0)
		rmdir(shm_dir);
}

int main(void)
{
	char path[128], sub[128];
	size_t big_len = 3 << 20, len = 0;
	char *big = malloc(big_len), *got;
	struct stat st;
	mode_t old;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/out.pb.gz", dir);
	for (size_t i = 0; i < big_len; i++)
		big[i] = (char)(i * 31 + (i >> 10));

	old = umask(022);
	CHECK_INT(mp_file_write_whole(path, big, big_len), 0);
	got = slurp(path, &len);
	CHECK(got && len == big_len && memcmp(got, big, big_len) == 0);
	free(got);
	CHECK_INT(stat(path, &st), 0);
	CHECK_INT(st.st_mode & 0777, 0644);
	CHECK_INT(entries(), 1);                       /* no temporary left */

	umask(077);                                    /* replaced, with the new mode */
	CHECK_INT(mp_file_write_whole(path, "abc", 3), 0);
	got = slurp(path, &len);
	CHECK(got && len == 3 && memcmp(got, "abc", 3) == 0);
	free(got);
	CHECK_INT(stat(path, &st), 0);
	CHECK_INT(st.st_mode & 0777, 0600);
	CHECK_INT(mp_file_write_whole(path, "", 0), 0);   /* empty is a file too */
	CHECK_INT(stat(path, &st), 0);
	CHECK_INT(st.st_size, 0);
	umask(old);

	/* A directory that is not there: -ENOENT, nothing made. */
	snprintf(sub, sizeof(sub), "%s/no/such", dir);
	CHECK_INT(mp_file_write_whole(sub, "x", 1), -ENOENT);
	CHECK_INT(entries(), 1);
	/* A directory in the way (rename fails): it stays, no temporary left. */
	snprintf(sub, sizeof(sub), "%s/d", dir);
	CHECK_INT(mkdir(sub, 0700), 0);
	CHECK_INT(mp_file_write_whole(sub, "x", 1), -EISDIR);
	CHECK_INT(stat(sub, &st), 0);
	CHECK(S_ISDIR(st.st_mode));
	CHECK_INT(entries(), 2);

	rmdir(sub);

	/* A device is written into, never replaced: /dev/null stays. */
	CHECK_INT(mp_file_write_whole("/dev/null", big, big_len), 0);
	CHECK_INT(stat("/dev/null", &st), 0);
	CHECK(S_ISCHR(st.st_mode));
	CHECK_INT(mp_file_write_whole("/dev/full", "x", 1), -ENOSPC);
	CHECK_INT(stat("/dev/full", &st), 0);
	CHECK(S_ISCHR(st.st_mode));
	char *t = NULL;
	CHECK_INT(mp_file_target("/dev/null", &t), MP_FILE_DIRECT);
	free(t);
	CHECK_INT(mp_file_target(dir, &t), -EISDIR);
	CHECK(t == NULL);

	/* A FIFO: written into, with a reader at the other end. */
	snprintf(sub, sizeof(sub), "%s/fifo", dir);
	CHECK_INT(mkfifo(sub, 0600), 0);
	pid_t pid = fork();
	if (pid == 0) {
		char buf[4096];
		size_t n = 0;
		ssize_t k;
		int fd = open(sub, O_RDONLY);
		while (fd >= 0 && (k = read(fd, buf, sizeof(buf))) > 0)
			n += (size_t)k;
		_exit(n == big_len ? 0 : 1);
	}
	CHECK_INT(mp_file_write_whole(sub, big, big_len), 0);
	int ws = -1;
	CHECK_INT(waitpid(pid, &ws, 0), pid);
	CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);     /* every byte read */
	CHECK_INT(stat(sub, &st), 0);
	CHECK(S_ISFIFO(st.st_mode));
	unlink(sub);

	/* A symbolic link to a file: the file is replaced, the link stays. */
	snprintf(sub, sizeof(sub), "%s/link", dir);
	CHECK_INT(symlink(path, sub), 0);
	CHECK_INT(mp_file_write_whole(sub, "linked", 6), 0);
	CHECK_INT(lstat(sub, &st), 0);
	CHECK(S_ISLNK(st.st_mode));
	got = slurp(path, &len);
	CHECK(got && len == 6 && memcmp(got, "linked", 6) == 0);
	free(got);
	CHECK_INT(entries(), 2);                       /* out.pb.gz and the link */

	/* A stream (flame graphs, leak reports): replaced whole on success,
	 * nothing left on failure, into a device as it is. */
	struct mp_file_stream w;
	CHECK_INT(mp_file_stream_open(path, &w), 0);
	fputs("streamed", w.f);
	CHECK_INT(mp_file_stream_end(&w, 0), 0);
	got = slurp(path, &len);
	CHECK(got && len == 8 && memcmp(got, "streamed", 8) == 0);
	free(got);
	CHECK_INT(mp_file_stream_open(path, &w), 0);
	fputs("half", w.f);
	CHECK_INT(mp_file_stream_end(&w, -EINVAL), -EINVAL);
	got = slurp(path, &len);
	CHECK(got && len == 8 && memcmp(got, "streamed", 8) == 0);   /* what stood there */
	free(got);
	CHECK_INT(entries(), 2);
	CHECK_INT(mp_file_stream_open("/dev/null", &w), 0);
	CHECK(w.tmp == NULL);
	fputs("gone", w.f);
	CHECK_INT(mp_file_stream_end(&w, 0), 0);
	CHECK_INT(stat("/dev/null", &st), 0);
	CHECK(S_ISCHR(st.st_mode));
	CHECK_INT(mp_file_stream_open(dir, &w), -EISDIR);

	unlink(sub);
	unlink(path);
	test_threads_umask();
	rmdir(dir);
	free(big);
	return tap_done();
}

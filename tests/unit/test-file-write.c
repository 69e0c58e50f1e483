/* SPDX-License-Identifier: MIT */
/*
 * A file written whole through a temporary name (common/file-write.h), as
 * profiles and timelines are written: the bytes, the mode the umask gives,
 * a file replaced, and failures that leave what stood there and no
 * temporary behind.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
	unlink(path);
	rmdir(dir);
	free(big);
	return tap_done();
}

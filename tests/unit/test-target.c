/* SPDX-License-Identifier: MIT */
/*
 * Finding and vetting the program of `memprof run` (src/cli/target.c):
 * crafted ELF headers (good, static, foreign, malformed, every truncation),
 * mode bits, "#!" chains, and PATH lookup.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/target.h"
#include "tap.h"

#define PH_OFF sizeof(ElfW(Ehdr))

/* A minimal native ELF executable: header, then nph program headers; the
 * last one is PT_INTERP when `dynamic`. */
static size_t make_elf(unsigned char *buf, size_t cap, unsigned nph, int dynamic)
{
	ElfW(Ehdr) *eh = (ElfW(Ehdr) *)buf;
	ElfW(Phdr) *ph = (ElfW(Phdr) *)(buf + PH_OFF);
	size_t len = PH_OFF + nph * sizeof(ElfW(Phdr));

	if (len > cap)
		abort();
	memset(buf, 0, len);
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_DYN;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_phoff = PH_OFF;
	eh->e_ehsize = sizeof(ElfW(Ehdr));
	eh->e_phentsize = sizeof(ElfW(Phdr));
	eh->e_phnum = (uint16_t)nph;
	for (unsigned i = 0; i < nph; i++)
		ph[i].p_type = PT_LOAD;
	if (dynamic && nph)
		ph[nph - 1].p_type = PT_INTERP;
	return len;
}

static unsigned char elf[PH_OFF + 64 * sizeof(ElfW(Phdr))];

static void test_probe(void)
{
	size_t len = make_elf(elf, sizeof(elf), 3, 1);
	ElfW(Ehdr) *eh = (ElfW(Ehdr) *)elf;

	puts("# mp_elf_probe_mem");
	CHECK_INT(mp_elf_probe_mem(elf, len), MP_ELF_DYNAMIC);
	CHECK_INT(mp_elf_probe_mem("hello, world", 12), MP_ELF_NOT_ELF);
	CHECK_INT(mp_elf_probe_mem("", 0), MP_ELF_NOT_ELF);
	CHECK_INT(mp_elf_probe_mem("#!/bin/sh\n", 10), MP_ELF_NOT_ELF);

	/* Every truncation: below the ident no ELF is recognized; after it,
	 * anything short of the whole table is malformed. */
	for (size_t n = 0; n < len; n++) {
		enum mp_elf_kind k = mp_elf_probe_mem(elf, n);

		if (n < EI_NIDENT) {
			if (k != MP_ELF_NOT_ELF)
				CHECK_INT(k, MP_ELF_NOT_ELF);
		} else if (k != MP_ELF_MALFORMED) {
			printf("# truncated to %zu bytes\n", n);
			CHECK_INT(k, MP_ELF_MALFORMED);
		}
	}
	CHECK_INT(mp_elf_probe_mem(elf, len - 1), MP_ELF_MALFORMED);
	CHECK_INT(mp_elf_probe_mem(elf, EI_NIDENT), MP_ELF_MALFORMED);

	len = make_elf(elf, sizeof(elf), 3, 0);
	CHECK_INT(mp_elf_probe_mem(elf, len), MP_ELF_STATIC);
	eh->e_type = ET_EXEC;
	CHECK_INT(mp_elf_probe_mem(elf, len), MP_ELF_STATIC);

	/* Other class, byte order or machine. */
	len = make_elf(elf, sizeof(elf), 3, 1);
	eh->e_ident[EI_CLASS] = ELFCLASS32;
	CHECK_INT(mp_elf_probe_mem(elf, len), MP_ELF_FOREIGN);
	len = make_elf(elf, sizeof(elf), 3, 1);
	eh->e_ident[EI_DATA] = ELFDATA2MSB;
	CHECK_INT(mp_elf_probe_mem(elf, len), MP_ELF_FOREIGN);
	len = make_elf(elf, sizeof(elf), 3, 1);
	eh->e_machine = EM_AARCH64;
	CHECK_INT(mp_elf_probe_mem(elf, len), MP_ELF_FOREIGN);

	/* Headers the kernel refuses. */
	len = make_elf(elf, sizeof(elf), 3, 1);
	eh->e_type = ET_REL;
	CHECK_INT(mp_elf_probe_mem(elf, len), MP_ELF_MALFORMED);
	len = make_elf(elf, sizeof(elf), 3, 1);
	eh->e_phentsize = 32;
	CHECK_INT(mp_elf_probe_mem(elf, len), MP_ELF_MALFORMED);
	len = make_elf(elf, sizeof(elf), 3, 1);
	eh->e_phnum = 0;
	CHECK_INT(mp_elf_probe_mem(elf, len), MP_ELF_MALFORMED);
	len = make_elf(elf, sizeof(elf), 3, 1);
	eh->e_phnum = 4;                      /* one more than the file holds */
	CHECK_INT(mp_elf_probe_mem(elf, len), MP_ELF_MALFORMED);
	len = make_elf(elf, sizeof(elf), 3, 1);
	eh->e_phoff = len;                    /* the table starts at the end */
	CHECK_INT(mp_elf_probe_mem(elf, len), MP_ELF_MALFORMED);
	len = make_elf(elf, sizeof(elf), 3, 1);
	eh->e_phoff = UINT64_MAX - 8;         /* offset + size wraps around */
	CHECK_INT(mp_elf_probe_mem(elf, len), MP_ELF_MALFORMED);
	len = make_elf(elf, sizeof(elf), 3, 1);
	eh->e_phnum = 0xffff;                 /* table > 64 KiB */
	CHECK_INT(mp_elf_probe_mem(elf, len), MP_ELF_MALFORMED);

	/* The largest table inside the file, PT_INTERP last. */
	len = make_elf(elf, sizeof(elf), 64, 1);
	CHECK_INT(mp_elf_probe_mem(elf, len), MP_ELF_DYNAMIC);
	len = make_elf(elf, sizeof(elf), 64, 0);
	CHECK_INT(mp_elf_probe_mem(elf, len), MP_ELF_STATIC);
}

static char dir[] = "/tmp/test-target.XXXXXX";

static char *path_in(const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		abort();
	return p;
}

static void write_file(const char *name, const void *data, size_t len, mode_t mode)
{
	char *p = path_in(name);
	int fd;

	unlink(p);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len || close(fd) < 0 || chmod(p, mode) < 0)
		abort();
	free(p);
}

static void write_script(const char *name, const char *interp_name, const char *extra)
{
	char text[512];
	int n = snprintf(text, sizeof(text), "#!%s%s%s\n", interp_name[0] == '/' ? "" : dir,
			 interp_name[0] == '/' ? "" : "/", interp_name);

	if (extra)
		n = snprintf(text, sizeof(text), "#!%s\n", extra);
	write_file(name, text, (size_t)n, 0755);
}

/* Inspect dir/name; return the verdict, checking the culprit's name. */
static int verdict(const char *name, const char *culprit_name, int *ret_is_elf, int *ret_error)
{
	struct mp_target_info info;
	char *p = path_in(name), *want = culprit_name ? path_in(culprit_name) : NULL;
	int r = mp_target_inspect(p, &info), v;

	CHECK_INT(r, 0);
	if (r < 0)
		return -1;
	if (want)
		CHECK_STR(info.culprit, want);
	else
		CHECK(info.culprit == NULL);
	v = info.verdict;
	if (ret_is_elf)
		*ret_is_elf = info.is_elf;
	if (ret_error)
		*ret_error = info.error;
	mp_target_info_done(&info);
	free(p);
	free(want);
	return v;
}

static void test_inspect(void)
{
	size_t dyn_len, st_len;
	unsigned char st[sizeof(elf)];
	int is_elf = -1, error = -1;
	struct mp_target_info info;

	puts("# mp_target_inspect");
	dyn_len = make_elf(elf, sizeof(elf), 3, 1);
	st_len = make_elf(st, sizeof(st), 3, 0);
	write_file("dyn", elf, dyn_len, 0755);
	write_file("static", st, st_len, 0755);

	CHECK_INT(verdict("dyn", NULL, &is_elf, NULL), MP_TARGET_OK);
	CHECK_INT(is_elf, 1);
	CHECK_INT(verdict("static", "static", &is_elf, NULL), MP_TARGET_STATIC);
	CHECK_INT(is_elf, 1);

	/* Secure-execution mode: setuid to another user, or setgid (with
	 * group execute) to a group we are not in.  Our own setuid or setgid
	 * program changes nothing: ld.so reads LD_PRELOAD (root and su). */
	write_file("suid", elf, dyn_len, 04755);
	write_file("sgid", elf, dyn_len, 02755);
	CHECK_INT(verdict("suid", NULL, NULL, NULL), MP_TARGET_OK);
	CHECK_INT(verdict("sgid", NULL, NULL, NULL), MP_TARGET_OK);
	if (geteuid() == 0) {
		char *u = path_in("suid"), *g = path_in("sgid");

		/* chown clears the mode bits: set them again. */
		CHECK_INT(chown(u, 65534, 65534) == 0 && chmod(u, 04755) == 0, 1);
		CHECK_INT(chown(g, 65534, 65534) == 0 && chmod(g, 02755) == 0, 1);
		CHECK_INT(verdict("suid", "suid", NULL, NULL), MP_TARGET_SETID);
		CHECK_INT(verdict("sgid", "sgid", NULL, NULL), MP_TARGET_SETID);
		free(u);
		free(g);
	}
	write_file("sgid-nox", elf, dyn_len, 02745);   /* mandatory locking, not setgid */
	CHECK_INT(verdict("sgid-nox", NULL, NULL, NULL), MP_TARGET_OK);

	/* Not ELF and no "#!": exec decides (execvp falls back to /bin/sh). */
	write_file("text", "echo hi\n", 8, 0755);
	CHECK_INT(verdict("text", NULL, &is_elf, NULL), MP_TARGET_OK);
	CHECK_INT(is_elf, 0);

	/* Scripts: the interpreter is what counts.  A setuid script is not
	 * setuid to Linux. */
	write_script("on-dyn", "dyn", NULL);
	CHECK_INT(verdict("on-dyn", NULL, &is_elf, NULL), MP_TARGET_OK);
	CHECK_INT(is_elf, 0);
	write_script("on-static", "static", NULL);
	CHECK_INT(verdict("on-static", "static", &is_elf, NULL), MP_TARGET_STATIC);
	CHECK_INT(is_elf, 0);
	write_script("on-suid", "suid", NULL);
	CHECK_INT(verdict("on-suid", geteuid() == 0 ? "suid" : NULL, NULL, NULL),
		  geteuid() == 0 ? MP_TARGET_SETID : MP_TARGET_OK);
	write_script("suid-script", "dyn", NULL);
	{
		char *p = path_in("suid-script");

		CHECK_INT(chmod(p, 04755), 0);
		free(p);
	}
	CHECK_INT(verdict("suid-script", NULL, NULL, NULL), MP_TARGET_OK);
	write_script("missing", "no-such-file", NULL);
	CHECK_INT(verdict("missing", "no-such-file", NULL, &error), MP_TARGET_BAD_INTERP);
	CHECK_INT(error, ENOENT);
	write_script("empty", "", " \t");
	CHECK_INT(verdict("empty", "empty", NULL, &error), MP_TARGET_BAD_INTERP);
	CHECK_INT(error, ENOEXEC);
	{
		/* Blanks before the interpreter and arguments after it. */
		char text[256];
		int n = snprintf(text, sizeof(text), "#! \t%s/static -x\n", dir);

		write_file("spaced", text, (size_t)n, 0755);
		CHECK_INT(verdict("spaced", "static", NULL, NULL), MP_TARGET_STATIC);
	}
	{
		/* A "#!" line cut off by the kernel's 256-byte buffer. */
		char text[300];

		memset(text, 'a', sizeof(text));
		text[0] = '#';
		text[1] = '!';
		text[2] = '/';
		write_file("long", text, sizeof(text), 0755);
		CHECK_INT(verdict("long", "long", NULL, &error), MP_TARGET_BAD_INTERP);
		CHECK_INT(error, ENAMETOOLONG);
	}

	/* Chains: 5 scripts deep run, 6 do not (fs/exec.c). */
	write_script("c1", "dyn", NULL);
	write_script("c2", "c1", NULL);
	write_script("c3", "c2", NULL);
	write_script("c4", "c3", NULL);
	write_script("c5", "c4", NULL);
	write_script("c6", "c5", NULL);
	CHECK_INT(verdict("c5", NULL, NULL, NULL), MP_TARGET_OK);
	CHECK_INT(verdict("c6", "c1", NULL, &error), MP_TARGET_BAD_INTERP);
	CHECK_INT(error, ELOOP);
	write_script("loop", "loop", NULL);
	CHECK_INT(verdict("loop", "loop", NULL, &error), MP_TARGET_BAD_INTERP);
	CHECK_INT(error, ELOOP);

	/* Ourselves: a real, dynamically linked program. */
	CHECK_INT(mp_target_inspect("/proc/self/exe", &info), 0);
	CHECK_INT(info.verdict, MP_TARGET_OK);
	CHECK_INT(info.is_elf, 1);
	mp_target_info_done(&info);
	mp_target_info_done(NULL);
}

static void check_resolve(const char *path_env, const char *name, int want_r, const char *want)
{
	char *got = (char *)"untouched", *want_path = want ? path_in(want) : NULL;
	int r;

	printf("# resolve '%s' in PATH='%s'\n", name, path_env ? path_env : "(unset)");
	if (path_env)
		setenv("PATH", path_env, 1);
	else
		unsetenv("PATH");
	r = mp_target_resolve(name, &got);
	CHECK_INT(r, want_r);
	if (want_r == 0) {
		CHECK_STR(got, want_path ? want_path : name);
		free(got);
	} else {
		CHECK_STR(got, "untouched");
	}
	free(want_path);
}

static void test_resolve(void)
{
	char *a = path_in("a"), *b = path_in("b"), *ab, *empty_first, *sub;
	char *saved = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
	char cwd[4096];

	if (mkdir(a, 0755) < 0 || mkdir(b, 0755) < 0 || asprintf(&ab, "%s:%s", a, b) < 0 ||
	    asprintf(&empty_first, ":%s", a) < 0 || !getcwd(cwd, sizeof(cwd)))
		abort();
	write_file("a/only-a", "x", 1, 0755);
	write_file("b/only-b", "x", 1, 0755);
	write_file("a/both", "x", 1, 0755);
	write_file("b/both", "x", 1, 0755);
	write_file("a/noexec-a", "x", 1, 0644);
	write_file("b/noexec-a", "x", 1, 0755);
	write_file("a/noexec", "x", 1, 0644);
	sub = path_in("a/isdir");
	if (mkdir(sub, 0755) < 0)
		abort();
	free(sub);

	puts("# mp_target_resolve");
	check_resolve(ab, "only-a", 0, "a/only-a");
	check_resolve(ab, "only-b", 0, "b/only-b");
	check_resolve(ab, "both", 0, "a/both");
	check_resolve(ab, "noexec-a", 0, "b/noexec-a");
	check_resolve(ab, "noexec", -EACCES, NULL);
	check_resolve(ab, "isdir", -EACCES, NULL);
	check_resolve(ab, "nothing", -ENOENT, NULL);
	check_resolve(ab, "", -ENOENT, NULL);
	/* An empty PATH entry is the working directory. */
	if (chdir(b) < 0)
		abort();
	check_resolve(empty_first, "only-b", 0, NULL);
	check_resolve(a, "only-b", -ENOENT, NULL);
	if (chdir(cwd) < 0)
		abort();
	/* A name with a slash is not searched for. */
	{
		char *p = path_in("a/only-a"), *got = NULL;

		setenv("PATH", b, 1);
		CHECK_INT(mp_target_resolve(p, &got), 0);
		CHECK_STR(got, p);
		free(got);
		free(p);
	}
	check_resolve(ab, "a/only-a", -ENOENT, NULL);   /* relative to the cwd, not PATH */
	{
		char *d = path_in("a/isdir"), *f = path_in("a/noexec"), *m = path_in("a/missing");
		char *got = (char *)"untouched";

		CHECK_INT(mp_target_resolve(d, &got), -EISDIR);
		CHECK_INT(mp_target_resolve(f, &got), -EACCES);
		CHECK_INT(mp_target_resolve(m, &got), -ENOENT);
		CHECK_STR(got, "untouched");
		free(d);
		free(f);
		free(m);
	}

	if (saved)
		setenv("PATH", saved, 1);
	free(saved);
	free(a);
	free(b);
	free(ab);
	free(empty_first);
}

int main(void)
{
	char *cmd;
	int r;

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_probe();
	test_inspect();
	test_resolve();
	if (asprintf(&cmd, "rm -rf '%s'", dir) < 0)
		return 1;
	r = system(cmd);
	free(cmd);
	if (r != 0)
		printf("# could not remove %s\n", dir);
	return tap_done();
}

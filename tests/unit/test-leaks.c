/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the leak report's pure parts (convert/leaks.c): --fail-on
 * parsing, LeakSanitizer-style pattern matching, suppression files, which
 * leaks fail a run, and the JSON and text forms of a hand-built report.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/snapshot.h"
#include "convert/leaks.h"
#include "tap.h"

static void test_fail_on(void)
{
	unsigned v = 99;
	CHECK_INT(mp_leaks_parse_fail_on("definite", &v), 0);
	CHECK_INT(v, MP_FAIL_DEFINITE);
	CHECK_INT(mp_leaks_parse_fail_on("indirect,fds,timers", &v), 0);
	CHECK_INT(v, MP_FAIL_INDIRECT | MP_FAIL_FDS | MP_FAIL_TIMERS);
	v = 7;
	CHECK_INT(mp_leaks_parse_fail_on("", &v), -EINVAL);
	CHECK_INT(mp_leaks_parse_fail_on("definite,", &v), -EINVAL);
	CHECK_INT(mp_leaks_parse_fail_on("def", &v), -EINVAL);
	CHECK_INT(mp_leaks_parse_fail_on("definite,,fds", &v), -EINVAL);
	CHECK_INT(v, 7);   /* untouched on error */
}

static void test_match(void)
{
	static const struct {
		const char *pattern, *text;
		bool want;
	} cases[] = {
		{ "lose", "lose_one", true },          /* substring */
		{ "one", "lose_one", true },
		{ "^lose", "lose_one", true },
		{ "^one", "lose_one", false },
		{ "one$", "lose_one", true },
		{ "lose$", "lose_one", false },
		{ "^lose_one$", "lose_one", true },
		{ "^lose_on$", "lose_one", false },
		{ "l*e", "lose_one", true },
		{ "^l*e$", "lose_one", true },
		{ "^l*x$", "lose_one", false },
		{ "*", "", true },
		{ "std::vector<*>::push_back", "std::vector<int>::push_back(int const&)", true },
		{ "libfoo.so", "libfoo.so.1", true },
		{ "^libfoo.so$", "libfoo.so.1", false },
		{ "a*b*c", "xxaxxbxxcxx", true },
		{ "a*b*c$", "xxaxxbxxcxx", false },
	};
	int bad = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (mp_supp_match(cases[i].pattern, cases[i].text) != cases[i].want) {
			tap_ok(0, __FILE__, __LINE__, cases[i].pattern);
			bad++;
		}
	CHECK_INT(bad, 0);
	CHECK(!mp_supp_match("x", NULL));
}

/*
 * Reference matcher for the same language: dynamic programming over
 * (pattern position, text position), O(|p| |t|) time whatever the input.
 */
static bool ref_match(const char *pattern, const char *text)
{
	size_t pn = strlen(pattern), tn = strlen(text);
	bool start = pn > 0 && pattern[0] == '^';
	bool end = pn > start && pattern[pn - 1] == '$';
	const char *p = pattern + start;
	size_t n = pn - start - end;
	/* row[j]: p[0..i) matches some text span ending at j */
	bool *row = calloc(tn + 1, sizeof(*row)), *next = calloc(tn + 1, sizeof(*next));
	bool r = false;

	for (size_t j = 0; j <= tn; j++)
		row[j] = start ? j == 0 : true;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j <= tn; j++) {
			if (p[i] == '*')
				next[j] = row[j] || (j > 0 && next[j - 1]);
			else
				next[j] = j > 0 && row[j - 1] && text[j - 1] == p[i];
		}
		bool *t = row;
		row = next;
		next = t;
	}
	for (size_t j = 0; j <= tn; j++)
		r = r || (row[j] && (!end || j == tn));
	free(row);
	free(next);
	return r;
}

/* Issue 12: 25 '*' against a 50-character name took more than 20 s
 * (backtracking); every pattern must match in time linear in the name. */
static void test_match_linear(void)
{
	char pat[128], name[128];
	size_t k = 0;

	for (int i = 0; i < 25; i++) {
		pat[k++] = 'a';
		pat[k++] = '*';
	}
	pat[k++] = 'b';
	pat[k] = 0;
	memset(name, 'a', 50);
	name[50] = 0;
	CHECK(!mp_supp_match(pat, name));
	CHECK(!mp_supp_match(pat + 1, name));
	name[49] = 'b';
	CHECK(mp_supp_match(pat, name));

	/* Random short patterns and names over a small alphabet against the
	 * reference (fixed seed: the same cases every run). */
	static const char alpha[] = "ab*^$";
	unsigned seed = 12345;
	int bad = 0;
	for (int iter = 0; iter < 20000; iter++) {
		size_t pl = (seed = seed * 1103515245u + 12345u) >> 16 & 7;
		size_t tl = (seed = seed * 1103515245u + 12345u) >> 16 & 7;
		for (size_t i = 0; i < pl; i++)
			pat[i] = alpha[((seed = seed * 1103515245u + 12345u) >> 16) % 5];
		pat[pl] = 0;
		for (size_t i = 0; i < tl; i++)
			name[i] = alpha[((seed = seed * 1103515245u + 12345u) >> 16) % 2];
		name[tl] = 0;
		if (mp_supp_match(pat, name) != ref_match(pat, name) && bad++ < 5)
			printf("# '%s' against '%s': %d, reference %d\n", pat, name,
				 mp_supp_match(pat, name), ref_match(pat, name));
	}
	CHECK_INT(bad, 0);
}

static struct mp_leak_frame fr_lose[] = {
	{ .function = "lose_one", .file = "src/t.c", .line = 12, .object = "prog" },
	{ .function = "main", .file = "src/t.c", .line = 30, .object = "prog" },
};
static struct mp_leak_frame fr_lib[] = {
	{ .function = "xmlStrdup", .file = NULL, .line = 0, .object = "libxml2.so.2" },
	{ .function = "main", .file = "src/t.c", .line = 31, .object = "prog" },
};

static struct mp_leak_report *report(void)
{
	static struct mp_leak leaks[3];
	static struct mp_leak_report r;
	memset(leaks, 0, sizeof(leaks));
	leaks[0] = (struct mp_leak){ MP_LEAKKIND_HEAP, MP_LEAK_DEFINITE, 100, 1, fr_lose, 2, NULL, NULL, 0 };
	leaks[1] = (struct mp_leak){ MP_LEAKKIND_HEAP, MP_LEAK_INDIRECT, 480, 10, fr_lib, 2, NULL, NULL, 0 };
	leaks[2] = (struct mp_leak){ MP_LEAKKIND_HEAP, MP_LEAK_REACHABLE, 64, 2, fr_lib, 2, NULL, NULL, 0 };
	r = (struct mp_leak_report){ .pid = 7, .program = "t", .leaks = leaks, .nleaks = 3 };
	return &r;
}

static void test_suppressions(void)
{
	struct mp_supp *s = NULL;
	char *err = NULL;
	const char *text = "# comment\n\n  leak:lose_one  \nfd:*socket*\n";
	CHECK_INT(mp_supp_parse(text, strlen(text), &s, &err), 0);
	struct mp_leak_report *r = report();
	CHECK(mp_leaks_failing(r, MP_FAIL_DEFAULT));
	mp_supp_apply(s, r);
	CHECK_STR(r->leaks[0].suppressed_by, "leak:lose_one");
	CHECK(r->leaks[1].suppressed_by == NULL);
	CHECK(mp_leaks_failing(r, MP_FAIL_DEFAULT));          /* the indirect one */
	CHECK(!mp_leaks_failing(r, MP_FAIL_DEFINITE));
	CHECK(mp_leaks_failing(r, MP_FAIL_REACHABLE));
	mp_supp_free(s);

	/* An object-name pattern takes the library's blocks. */
	text = "leak:^libxml2.so*\n";
	CHECK_INT(mp_supp_parse(text, strlen(text), &s, &err), 0);
	r = report();
	mp_supp_apply(s, r);
	CHECK(r->leaks[0].suppressed_by == NULL);
	CHECK(r->leaks[1].suppressed_by != NULL && r->leaks[2].suppressed_by != NULL);
	mp_supp_free(s);

	s = (struct mp_supp *)1;
	text = "leak:ok\nleek:typo\n";
	CHECK_INT(mp_supp_parse(text, strlen(text), &s, &err), -EINVAL);
	CHECK(s == (struct mp_supp *)1);
	CHECK(err && strstr(err, "line 2") != NULL);
	free(err);
	err = NULL;
	CHECK_INT(mp_supp_parse("leak:\n", 6, &s, &err), -EINVAL);   /* empty pattern */
	free(err);
}

/* Generated suppressions single out their leak: never an allocator, libc
 * or C++ runtime frame (issue 13: `leak:^__GI___strdup$` hid every strdup
 * leak), the program's frames from the first one, at most three, never past
 * main; and a stack pattern matches consecutive frames only. */
static void test_generated(void)
{
	struct mp_leak_frame via_strdup[] = {
		{ .function = "__GI___strdup", .file = "./string/strdup.c", .line = 42,
		  .object = "libc.so.6" },
		{ .function = "config_dup(char const*)", .file = "src/c.cc", .line = 3, .object = "prog" },
		{ .function = "load", .file = "src/c.cc", .line = 9, .object = "prog" },
		{ .function = "setup", .file = "src/c.cc", .line = 19, .object = "prog" },
		{ .function = "main", .file = "src/c.cc", .line = 29, .object = "prog" },
	};
	struct mp_leak_frame via_vector[] = {
		{ .function = "std::__new_allocator<int>::allocate(unsigned long, void const*)",
		  .file = "/usr/include/c++/12/bits/new_allocator.h", .line = 137, .object = "prog" },
		{ .function = "void std::vector<int>::_M_realloc_insert<int>(int&&)",
		  .file = "/usr/include/c++/12/bits/vector.tcc", .line = 440, .object = "prog" },
		{ .function = "grow", .file = "src/g.cc", .line = 5, .object = "prog" },
		{ .function = "main", .file = "src/g.cc", .line = 12, .object = "prog" },
		{ .function = "__libc_start_call_main", .file = NULL, .line = 0, .object = "libc.so.6" },
	};
	struct mp_leak_frame in_main[] = {
		{ .function = "malloc", .file = NULL, .line = 0, .object = "libmemprof.so" },
		{ .function = "main", .file = "m.c", .line = 4, .object = "prog" },
		{ .function = "__libc_start_call_main", .file = NULL, .line = 0, .object = "libc.so.6" },
		{ .function = "0x7f00deadbeef", .file = NULL, .line = 0, .object = NULL },
	};
	struct mp_leak_frame stripped[] = {
		{ .function = "libfoo.so+0x1126", .file = NULL, .line = 0, .object = "libfoo.so" },
		{ .function = "0x7f00deadbeef", .file = NULL, .line = 0, .object = NULL },
		{ .function = "foo_init", .file = NULL, .line = 0, .object = "libfoo.so" },
	};
	struct mp_leak leaks[] = {
		{ MP_LEAKKIND_HEAP, MP_LEAK_DEFINITE, 12, 1, via_strdup, 5, NULL, NULL, 0 },
		{ MP_LEAKKIND_HEAP, MP_LEAK_DEFINITE, 40, 1, via_vector, 5, NULL, NULL, 0 },
		{ MP_LEAKKIND_FD, 0, 0, 1, in_main, 4, NULL, NULL, 0 },
		{ MP_LEAKKIND_HEAP, MP_LEAK_INDIRECT, 8, 1, stripped, 3, NULL, NULL, 0 },
	};
	static const char *const want[] = {
		"leak:^config_dup(char const*)$;^load$;^setup$",
		"leak:^grow$;^main$",
		"fd:^main$",
		"leak:^libfoo.so+0x1126$;*;^foo_init$",
	};
	for (size_t i = 0; i < 4; i++) {
		char *g = mp_leak_suppression(&leaks[i]);
		CHECK_STR(g, want[i]);
		free(g);
	}

	/* Each line suppresses its own leak and no other. */
	struct mp_leak_frame other[] = {
		{ .function = "__GI___strdup", .file = "./string/strdup.c", .line = 42,
		  .object = "libc.so.6" },
		{ .function = "other_dup(char const*)", .file = "src/c.cc", .line = 5, .object = "prog" },
		{ .function = "load", .file = "src/c.cc", .line = 10, .object = "prog" },
		{ .function = "setup", .file = "src/c.cc", .line = 19, .object = "prog" },
	};
	struct mp_leak_frame skipping[] = {   /* config_dup, then setup: not consecutive */
		via_strdup[0], via_strdup[1], via_strdup[3], via_strdup[4],
	};
	struct mp_leak all[] = {
		leaks[0], leaks[1],
		{ MP_LEAKKIND_HEAP, MP_LEAK_DEFINITE, 6, 1, other, 4, NULL, NULL, 0 },
		{ MP_LEAKKIND_HEAP, MP_LEAK_DEFINITE, 6, 1, skipping, 4, NULL, NULL, 0 },
	};
	struct mp_leak_report rep = { .pid = 1, .leaks = all, .nleaks = 4 };
	const char *text = "leak:^config_dup(char const*)$;^load$;^setup$\nleak:^grow$;^main$\n";
	struct mp_supp *s = NULL;
	char *err = NULL;
	CHECK_INT(mp_supp_parse(text, strlen(text), &s, &err), 0);
	mp_supp_apply(s, &rep);
	CHECK(all[0].suppressed_by && all[1].suppressed_by);
	CHECK(all[2].suppressed_by == NULL);   /* strdup from another caller */
	CHECK(all[3].suppressed_by == NULL);   /* the frames, but not consecutive */
	mp_supp_free(s);

	s = (struct mp_supp *)1;
	CHECK_INT(mp_supp_parse("leak:a;;b\n", 10, &s, &err), -EINVAL);
	CHECK(err && strstr(err, "line 1") != NULL);
	free(err);
	err = NULL;
	CHECK_INT(mp_supp_parse("leak:a;\n", 8, &s, &err), -EINVAL);
	free(err);
	CHECK(s == (struct mp_supp *)1);
}

/* Resource leaks say what each resource is (issue 13): the fd and its
 * path, socket addresses or pipe end; a thread's tid, name, state and start
 * routine; a timer's clock, state and interval; the summary names the
 * program. */
static void test_resources(void)
{
	struct mp_leak_frame at_main[] = {
		{ .function = "main", .file = "m.c", .line = 4, .object = "prog" },
	};
	struct mp_leak_res fds[] = {
		{ 3, MP_FD_FILE, "/etc/hostname" },
		{ 4, MP_FD_SOCKET, "inet stream 127.0.0.1:5000 <-> 127.0.0.1:41000" },
		{ 5, MP_FD_PIPE, "read end" },
		{ 6, MP_FD_EVENTFD, "" },
	};
	struct mp_leak_res thr[] = { { 4242, MP_THREAD_RUNNING, "worker worker_main" },
				     { 4243, MP_THREAD_UNJOINED, " run" } };
	struct mp_leak_res tim[] = { { 1, MP_TIMER_ARMED, "monotonic interval 250000000ns" } };
	struct mp_leak leaks[] = {
		{ MP_LEAKKIND_FD, 0, 0, 4, at_main, 1, NULL, fds, 4 },
		{ MP_LEAKKIND_THREAD, 0, 0, 2, at_main, 1, NULL, thr, 2 },
		{ MP_LEAKKIND_TIMER, 0, 0, 1, at_main, 1, NULL, tim, 1 },
	};
	struct mp_leak_report rep = { .pid = 9, .program = "server", .leaks = leaks, .nleaks = 3 };
	struct mp_leak_report *rp = &rep;
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	mp_leaks_print(f, &rep, true);
	fclose(f);
	CHECK(strstr(out, "memprof: 4 file descriptors still open: 3 (/etc/hostname), 4 (socket inet "
		      "stream 127.0.0.1:5000 <-> 127.0.0.1:41000), 5 (pipe, read end), 6 (eventfd)\n"
		      "memprof:     at main (m.c:4)\n") != NULL);
	CHECK(strstr(out, "memprof: 2 threads still alive or never joined: 4242 'worker' (running, "
		      "start routine worker_main), 4243 (ended, never joined, start routine run)\n")
	      != NULL);
	CHECK(strstr(out, "memprof: 1 timer never deleted: monotonic clock, armed, every 250ms\n") !=
	      NULL);
	CHECK(strstr(out, "memprof: leak summary for server (pid 9):\n") != NULL);
	free(out);

	f = open_memstream(&out, &len);
	CHECK_INT(mp_leaks_json(f, &rp, 1), 0);
	fclose(f);
	CHECK(strstr(out, "\"resources\":[{\"fd\":3,\"type\":\"file\",\"detail\":\"/etc/hostname\"},"
		      "{\"fd\":4,\"type\":\"socket\",\"detail\":\"inet stream 127.0.0.1:5000 <-> "
		      "127.0.0.1:41000\"},{\"fd\":5,\"type\":\"pipe\",\"detail\":\"read end\"},"
		      "{\"fd\":6,\"type\":\"eventfd\",\"detail\":\"\"}]") != NULL);
	CHECK(strstr(out, "\"resources\":[{\"tid\":4242,\"name\":\"worker\",\"state\":\"running\","
		      "\"start\":\"worker_main\"},{\"tid\":4243,\"name\":\"\",\"state\":"
		      "\"ended, not joined\",\"start\":\"run\"}]") != NULL);
	CHECK(strstr(out, "\"resources\":[{\"clock\":\"monotonic\",\"state\":\"armed\","
		      "\"interval_ns\":250000000}]") != NULL);
	CHECK(strstr(out, "\"program\":\"server\"") != NULL);
	free(out);
}

static void test_output(void)
{
	char *out = NULL;
	size_t len = 0;
	struct mp_leak_report *r = report();
	FILE *f = open_memstream(&out, &len);
	CHECK_INT(mp_leaks_json(f, &r, 1), 0);
	fclose(f);
	static const char head[] =
		"{\"leaks\":[{\"kind\":\"heap\",\"category\":\"definite\",\"bytes\":100,"
		"\"count\":1,\"pid\":7,\"program\":\"t\",\"stack\":[{\"function\":\"lose_one\","
		"\"file\":\"src/t.c\",\"line\":12,\"object\":\"prog\"},";
	CHECK(strncmp(out, head, sizeof(head) - 1) == 0);
	CHECK(strstr(out, "{\"function\":\"xmlStrdup\",\"file\":null,\"line\":0,"
		      "\"object\":\"libxml2.so.2\"}") != NULL);
	CHECK(strstr(out, "\"summary\":{\"heap_definite_bytes\":100,\"heap_indirect_bytes\":480,"
		      "\"heap_reachable_bytes\":64,\"fds\":0,\"threads\":0,\"timers\":0}}\n") != NULL);
	free(out);

	f = open_memstream(&out, &len);
	mp_leaks_print(f, r, true);
	mp_leaks_print_suppressions(f, r);
	fclose(f);
	CHECK(strstr(out, "memprof: 100 bytes in 1 block definitely lost\n"
		      "memprof:     at lose_one (src/t.c:12)\n"
		      "memprof:     by main (src/t.c:30)\n") != NULL);
	CHECK(strstr(out, "memprof:     at xmlStrdup (in libxml2.so.2)\n") != NULL);
	CHECK(strstr(out, "memprof:    definitely lost: 100 bytes in 1 blocks\n"
		      "memprof:    indirectly lost: 480 bytes in 10 blocks\n"
		      "memprof:    still reachable: 64 bytes in 2 blocks\n") != NULL);
	CHECK(strstr(out, "leak:^lose_one$;^main$\nleak:^xmlStrdup$;^main$\n") != NULL);
	CHECK(strstr(out, "64 bytes in 2 blocks still reachable") == NULL);   /* not listed */
	free(out);
}

int main(void)
{
	test_fail_on();
	test_match();
	test_match_linear();
	test_suppressions();
	test_generated();
	test_resources();
	test_output();
	return tap_done();
}

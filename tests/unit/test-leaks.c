/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the leak report's pure parts (convert/leaks.c): --fail-on
 * parsing, LeakSanitizer-style pattern matching, suppression files, which
 * leaks fail a run, and the JSON and text forms of a hand-built report;
 * the CI formats' parts (convert/escape.c, convert/leaks-ci.c): UTF-8,
 * JSON, XML and URI text, report file names, source paths relative to the
 * root, the frame a report points at, SARIF and JUnit of a hand-built
 * report.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/snapshot.h"
#include "convert/escape.h"
#include "convert/leaks-ci.h"
#include "convert/leaks.h"
#include "tap.h"

static void test_fail_on(void)
{
	unsigned v = 99;
	CHECK_INT(mp_leaks_parse_fail_on("definite", &v), 0);
	CHECK_INT(v, MP_FAIL_DEFINITE);
	CHECK_INT(mp_leaks_parse_fail_on("indirect,fds,timers", &v), 0);
	CHECK_INT(v, MP_FAIL_INDIRECT | MP_FAIL_FDS | MP_FAIL_TIMERS);
	CHECK_INT(mp_leaks_parse_fail_on("possible,reachable", &v), 0);
	CHECK_INT(v, MP_FAIL_POSSIBLE | MP_FAIL_REACHABLE);
	/* the default: all but reachable, as Valgrind's errors (definite, possible) */
	CHECK_INT(MP_FAIL_DEFAULT, MP_FAIL_DEFINITE | MP_FAIL_INDIRECT | MP_FAIL_POSSIBLE |
				   MP_FAIL_FDS | MP_FAIL_THREADS | MP_FAIL_TIMERS);
	v = 7;
	CHECK_INT(mp_leaks_parse_fail_on("", &v), -EINVAL);
	CHECK_INT(mp_leaks_parse_fail_on("definite,", &v), -EINVAL);
	CHECK_INT(mp_leaks_parse_fail_on("def", &v), -EINVAL);
	CHECK_INT(mp_leaks_parse_fail_on("possibly", &v), -EINVAL);
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
	leaks[0] = (struct mp_leak){ MP_PROFILE_HEAP, MP_LEAK_DEFINITE, 100, 1, fr_lose, 2, NULL, NULL, 0 };
	leaks[1] = (struct mp_leak){ MP_PROFILE_HEAP, MP_LEAK_INDIRECT, 480, 10, fr_lib, 2, NULL, NULL, 0 };
	leaks[2] = (struct mp_leak){ MP_PROFILE_HEAP, MP_LEAK_REACHABLE, 64, 2, fr_lib, 2, NULL, NULL, 0 };
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
		{ MP_PROFILE_HEAP, MP_LEAK_DEFINITE, 12, 1, via_strdup, 5, NULL, NULL, 0 },
		{ MP_PROFILE_HEAP, MP_LEAK_DEFINITE, 40, 1, via_vector, 5, NULL, NULL, 0 },
		{ MP_PROFILE_FDS, 0, 0, 1, in_main, 4, NULL, NULL, 0 },
		{ MP_PROFILE_HEAP, MP_LEAK_INDIRECT, 8, 1, stripped, 3, NULL, NULL, 0 },
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
		{ MP_PROFILE_HEAP, MP_LEAK_DEFINITE, 6, 1, other, 4, NULL, NULL, 0 },
		{ MP_PROFILE_HEAP, MP_LEAK_DEFINITE, 6, 1, skipping, 4, NULL, NULL, 0 },
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
		{ MP_PROFILE_FDS, 0, 0, 4, at_main, 1, NULL, fds, 4 },
		{ MP_PROFILE_THREADS, 0, 0, 2, at_main, 1, NULL, thr, 2 },
		{ MP_PROFILE_TIMERS, 0, 0, 1, at_main, 1, NULL, tim, 1 },
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
		      "\"heap_possible_bytes\":0,\"heap_reachable_bytes\":64,\"fds\":0,\"threads\":0,\"timers\":0}}\n") != NULL);
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
		      "memprof:      possibly lost: 0 bytes in 0 blocks\n"
		      "memprof:    still reachable: 64 bytes in 2 blocks\n") != NULL);
	CHECK(strstr(out, "leak:^lose_one$;^main$\nleak:^xmlStrdup$;^main$\n") != NULL);
	CHECK(strstr(out, "64 bytes in 2 blocks still reachable") == NULL);   /* not listed */
	free(out);
}


/* ---- CI formats ---- */

/* What f wrote into a memory stream, malloc'd. */
#define CAPTURE(out, call) do { \
	size_t len_ = 0; \
	FILE *f = open_memstream(&(out), &len_); \
	call; \
	fclose(f); \
} while (0)

static void test_utf8(void)
{
	static const struct {
		const char *in;
		size_t n, len;
		uint32_t cp;
	} cases[] = {
		{ "A", 1, 1, 'A' },
		{ "\xc3\xa9", 2, 2, 0xe9 },
		{ "\xe2\x82\xac", 3, 3, 0x20ac },
		{ "\xf0\x9f\x98\x80", 4, 4, 0x1f600 },
		{ "\xef\xbf\xbe", 3, 3, 0xfffe },          /* a noncharacter, but well-formed */
		{ "\x80", 1, 1, 0xfffd },                  /* continuation first */
		{ "\xc0\x80", 2, 1, 0xfffd },              /* overlong NUL */
		{ "\xc1\xbf", 2, 1, 0xfffd },              /* overlong */
		{ "\xe0\x9f\xbf", 3, 1, 0xfffd },          /* overlong 3-byte */
		{ "\xed\xa0\x80", 3, 1, 0xfffd },          /* surrogate D800 */
		{ "\xf0\x8f\xbf\xbf", 4, 1, 0xfffd },      /* overlong 4-byte */
		{ "\xf4\x90\x80\x80", 4, 1, 0xfffd },      /* above U+10FFFF */
		{ "\xf5\x80\x80\x80", 4, 1, 0xfffd },
		{ "\xe2\x82", 2, 1, 0xfffd },              /* cut short */
		{ "\xe2\x28\xa1", 3, 1, 0xfffd },          /* bad second byte */
		{ "\xf0\x9f\x98\x28", 4, 1, 0xfffd },      /* bad fourth byte */
		{ "\xff", 1, 1, 0xfffd },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t cp = 0;
		size_t len = mp_utf8_decode((const unsigned char *)cases[i].in, cases[i].n, &cp);
		CHECK_INT(len, cases[i].len);
		CHECK_INT(cp, cases[i].cp);
	}
}

static void test_escapes(void)
{
	char *out = NULL;

	CAPTURE(out, mp_put_json_str(f, "a\"b\\c\n\x01\x7f\xc3\xa9\xff\xed\xa0\x80z"));
	CHECK_STR(out, "\"a\\\"b\\\\c\\u000a\\u0001\x7f\xc3\xa9\\ufffd\\ufffd\\ufffd\\ufffdz\"");
	free(out);
	CAPTURE(out, mp_put_json_str(f, NULL));
	CHECK_STR(out, "\"\"");
	free(out);

	CAPTURE(out, mp_put_xml(f, "<a href=\"x\">&'\t\n\x01\xef\xbf\xbe\xff]]>", 0));
	CHECK_STR(out, "&lt;a href=\"x\"&gt;&amp;'\t\n\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd]]&gt;");
	free(out);
	CAPTURE(out, mp_put_xml(f, "\"q\" 'a'\t\r\n\xc3\xa9", 1));
	CHECK_STR(out, "&quot;q&quot; &apos;a&apos;&#9;&#13;&#10;\xc3\xa9");
	free(out);

	CAPTURE(out, mp_put_uri_path(f, "src/my dir/l\xc3\xa9k%#?.c~_-"));
	CHECK_STR(out, "src/my%20dir/l%C3%A9k%25%23%3F.c~_-");
	free(out);
}

static void test_format_of(void)
{
	static const struct {
		const char *name;
		int ret;
		enum mp_leak_format fmt;
	} cases[] = {
		{ "r.json", 0, MP_LEAKFMT_JSON }, { "out/R.JSON", 0, MP_LEAKFMT_JSON },
		{ "r.sarif", 0, MP_LEAKFMT_SARIF }, { "r.SARIF", 0, MP_LEAKFMT_SARIF },
		{ "r.sarif.json", 0, MP_LEAKFMT_SARIF }, { "junit.xml", 0, MP_LEAKFMT_JUNIT },
		{ "a.b/junit.Xml", 0, MP_LEAKFMT_JUNIT },
		{ "r.txt", -EINVAL, 0 }, { "report", -EINVAL, 0 }, { ".json", -EINVAL, 0 },
		{ "d.sarif/r", -EINVAL, 0 }, { "r.sarif.txt", -EINVAL, 0 }, { "", -EINVAL, 0 },
		{ "r.json.gz", -EINVAL, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum mp_leak_format fmt = (enum mp_leak_format)99;
		CHECK_INT(mp_leaks_format_of(cases[i].name, &fmt), cases[i].ret);
		CHECK_INT(fmt, cases[i].ret ? 99 : (int)cases[i].fmt);
	}
}

/* A scratch tree: ROOT/src/a.c, ROOT/link -> ROOT/src, OUT/b.c. */
static char root_dir[64], out_dir[64];

static void make_tree(void)
{
	char path[256];

	strcpy(root_dir, "/tmp/mp-test-leaks-XXXXXX");
	strcpy(out_dir, "/tmp/mp-test-leaks-XXXXXX");
	if (!mkdtemp(root_dir) || !mkdtemp(out_dir))
		abort();
	snprintf(path, sizeof(path), "%s/src", root_dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/src/a.c", root_dir);
	fclose(fopen(path, "w"));
	snprintf(path, sizeof(path), "%s/b.c", out_dir);
	fclose(fopen(path, "w"));
	snprintf(path, sizeof(path), "%s/link", out_dir);
	if (symlink(root_dir, path) < 0)
		abort();
}

static void remove_tree(void)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/src/a.c", root_dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/src", root_dir);
	rmdir(path);
	rmdir(root_dir);
	snprintf(path, sizeof(path), "%s/b.c", out_dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/link", out_dir);
	unlink(path);
	rmdir(out_dir);
}

static void check_place(struct mp_leak_places *pl, const char *file, const char *want, bool rel)
{
	const struct mp_leak_place *p = NULL;

	CHECK_INT(mp_leak_place(pl, file, &p), 0);
	if (!want) {
		CHECK(p && p->path == NULL);
		return;
	}
	CHECK_STR(p ? p->path : NULL, want);
	CHECK_INT(p ? p->rel : -1, rel);
}

static void test_places(void)
{
	struct mp_leak_ci ci = { .srcroot = root_dir, .fail_on = MP_FAIL_DEFAULT };
	struct mp_leak_places *pl;
	char in[256], want[256], alt[256];

	make_tree();
	snprintf(alt, sizeof(alt), "%s/link", out_dir);
	ci.srcroot_alt = alt;
	pl = mp_leak_places_new(&ci);
	CHECK(pl != NULL);
	snprintf(in, sizeof(in), "%s/src/a.c", root_dir);
	check_place(pl, in, "src/a.c", true);
	check_place(pl, in, "src/a.c", true);              /* from the cache */
	snprintf(in, sizeof(in), "%s//src/./x/../a.c", root_dir);
	check_place(pl, in, "src/a.c", true);              /* lexically cleaned */
	snprintf(in, sizeof(in), "%s/src/missing.c", root_dir);
	check_place(pl, in, "src/missing.c", true);        /* under the root: need not exist */
	snprintf(in, sizeof(in), "%s/link/src/a.c", out_dir);
	check_place(pl, in, "src/a.c", true);              /* the root's other name */
	snprintf(in, sizeof(in), "%s/b.c", out_dir);
	check_place(pl, in, in, false);                    /* outside: absolute */
	snprintf(in, sizeof(in), "%s/../b.c", root_dir);
	snprintf(want, sizeof(want), "/tmp/b.c");
	check_place(pl, in, want, false);                  /* ".." leaves the root */
	check_place(pl, "/usr/include/stdio.h", "/usr/include/stdio.h", false);
	check_place(pl, "src/a.c", "src/a.c", true);       /* relative, exists under the root */
	check_place(pl, "./src/../src/a.c", "src/a.c", true);
	check_place(pl, "csu/libc-start.c", NULL, false);  /* another build's relative path */
	check_place(pl, "../etc/passwd", NULL, false);
	check_place(pl, NULL, NULL, false);
	check_place(pl, "", NULL, false);
	snprintf(in, sizeof(in), "%s", root_dir);
	check_place(pl, in, root_dir, false);              /* the root itself is no file in it */
	mp_leak_places_free(pl);

	/* No root: absolute paths as they are, relative ones nowhere. */
	struct mp_leak_ci none = { .fail_on = MP_FAIL_DEFAULT };
	pl = mp_leak_places_new(&none);
	check_place(pl, "/a//b/./c.c", "/a/b/c.c", false);
	check_place(pl, "src/a.c", NULL, false);
	mp_leak_places_free(pl);

	/* Root "/": everything absolute is under it. */
	struct mp_leak_ci slash = { .srcroot = (char *)"/", .fail_on = MP_FAIL_DEFAULT };
	pl = mp_leak_places_new(&slash);
	check_place(pl, "/usr/include/stdio.h", "usr/include/stdio.h", true);
	mp_leak_places_free(pl);

	/* The site: past the wrappers, the first frame under the root, else
	 * the first with a file, else none. */
	pl = mp_leak_places_new(&ci);
	char under[256], outside[256];
	snprintf(under, sizeof(under), "%s/src/a.c", root_dir);
	snprintf(outside, sizeof(outside), "%s/b.c", out_dir);
	struct mp_leak_frame fr[] = {
		{ .function = "malloc", .file = NULL, .object = "libmemprof.so" },
		{ .function = "strdup", .file = NULL, .object = "libc.so.6" },
		{ .function = "lib_make", .file = outside, .line = 7, .object = "libx.so" },
		{ .function = "nofile", .file = NULL, .object = "prog" },
		{ .function = "parse", .file = under, .line = 12, .object = "prog" },
		{ .function = "main", .file = under, .line = 40, .object = "prog" },
	};
	struct mp_leak l = { .kind = MP_PROFILE_HEAP, .category = MP_LEAK_DEFINITE, .frames = fr,
			     .nframes = 6 };
	const struct mp_leak_place *p = NULL;
	size_t idx = 99;
	CHECK_INT(mp_leak_first_own(&l), 2);
	CHECK_INT(mp_leak_site(pl, &l, &idx, &p), 0);
	CHECK_INT(idx, 4);
	CHECK_STR(p->path, "src/a.c");
	l.nframes = 4;                                      /* nothing under the root */
	CHECK_INT(mp_leak_site(pl, &l, &idx, &p), 0);
	CHECK_INT(idx, 2);
	CHECK_STR(p->path, outside);
	l.nframes = 2;                                      /* wrappers only */
	CHECK_INT(mp_leak_first_own(&l), 2);
	idx = 99;
	CHECK_INT(mp_leak_site(pl, &l, &idx, &p), 1);
	CHECK_INT(idx, 99);
	mp_leak_places_free(pl);
	remove_tree();
}

static void test_sarif_junit(void)
{
	struct mp_leak_ci ci = { .srcroot = (char *)"/home/u/proj", .fail_on = MP_FAIL_DEFINITE,
				 .version = "9.9" };
	struct mp_leak_frame fr[] = {
		{ .function = "lose", .file = "/home/u/proj/src/t.c", .line = 12, .object = "prog" },
		{ .function = "main", .file = "/home/u/proj/src/t.c", .line = 30, .object = "prog" },
	};
	struct mp_leak_res fds[] = { { 3, MP_FD_FILE, "/tmp/\"x\" <y>\xff" } };
	struct mp_leak leaks[] = {
		{ MP_PROFILE_HEAP, MP_LEAK_DEFINITE, 100, 1, fr, 2, NULL, NULL, 0 },
		{ MP_PROFILE_HEAP, MP_LEAK_DEFINITE, 50, 2, fr + 1, 1, "leak:main", NULL, 0 },
		{ MP_PROFILE_HEAP, MP_LEAK_REACHABLE, 64, 2, fr, 2, NULL, NULL, 0 },
		{ MP_PROFILE_FDS, 0, 0, 1, fr + 1, 1, NULL, fds, 1 },
	};
	struct mp_leak_report rep = { .pid = 7, .program = "t<&>", .leaks = leaks, .nleaks = 4 };
	struct mp_leak_report *rp = &rep;
	char *out = NULL;

	CAPTURE(out, CHECK_INT(mp_leaks_sarif(f, &rp, 1, &ci), 0));
	CHECK(strncmp(out, "{\"$schema\":\"https://json.schemastore.org/sarif-2.1.0.json\","
		      "\"version\":\"2.1.0\",", 61) == 0);
	CHECK(strstr(out, "\"originalUriBaseIds\":{\"%SRCROOT%\":{\"uri\":\"file:///home/u/proj/\"") != NULL);
	CHECK(strstr(out, "{\"ruleId\":\"definite-leak\",\"ruleIndex\":0,\"level\":\"error\",\"kind\":"
		      "\"fail\",\"message\":{\"text\":\"100 bytes in 1 block definitely lost, "
		      "allocated in lose (src/t.c:12), in t<&> (pid 7).\"},\"locations\":[{"
		      "\"physicalLocation\":{\"artifactLocation\":{\"uri\":\"src/t.c\",\"uriBaseId\":"
		      "\"%SRCROOT%\"},\"region\":{\"startLine\":12}}") != NULL);
	CHECK(strstr(out, "\"threadFlows\":[{\"locations\":[{\"location\":{\"physicalLocation\":{"
		      "\"artifactLocation\":{\"uri\":\"src/t.c\",\"uriBaseId\":\"%SRCROOT%\"},"
		      "\"region\":{\"startLine\":30}},\"logicalLocations\":[{\"fullyQualifiedName\":"
		      "\"main\",\"kind\":\"function\"}],\"message\":{\"text\":\"main (src/t.c:30)\"}},"
		      "\"nestingLevel\":0},{\"location\"") != NULL);   /* outermost first */
	CHECK(strstr(out, "50 bytes") == NULL);             /* suppressed: left out */
	CHECK(strstr(out, "64 bytes") == NULL);             /* reachable, not in --fail-on */
	CHECK(strstr(out, "{\"ruleId\":\"fd-leak\",\"ruleIndex\":4,\"level\":\"warning\"") != NULL);
	CHECK(strstr(out, "\"detail\":\"/tmp/\\\"x\\\" <y>\\ufffd\"") != NULL);
	CHECK(strstr(out, "\"executionSuccessful\":true") != NULL);
	CHECK(strstr(out, "\"properties\":{\"processes\":[{\"program\":\"t<&>\",\"pid\":7,"
		      "\"definitelyLostBytes\":100,\"definitelyLostBlocks\":1,\"indirectlyLostBytes\":0,"
		      "\"indirectlyLostBlocks\":0,\"possiblyLostBytes\":0,\"possiblyLostBlocks\":0,"
		      "\"stillReachableBytes\":64,\"stillReachableBlocks\":2,"
		      "\"fds\":1,\"threads\":0,\"timers\":0,\"suppressedGroups\":1}]}") != NULL);
	free(out);

	ci.fail_on = MP_FAIL_DEFINITE | MP_FAIL_REACHABLE;
	ci.unchecked = 2;
	CAPTURE(out, CHECK_INT(mp_leaks_sarif(f, &rp, 1, &ci), 0));
	CHECK(strstr(out, "{\"ruleId\":\"reachable-leak\",\"ruleIndex\":3,\"level\":\"error\"") != NULL);
	CHECK(strstr(out, "\"executionSuccessful\":false,\"toolExecutionNotifications\":[{\"level\":"
		      "\"error\",\"message\":{\"text\":\"No leak check for 2 processes") != NULL);
	free(out);

	ci.fail_on = MP_FAIL_DEFINITE;
	ci.unchecked = 0;
	CAPTURE(out, CHECK_INT(mp_leaks_junit(f, &rp, 1, &ci), 0));
	CHECK(strstr(out, "<testsuites name=\"memprof leak check\" tests=\"7\" failures=\"1\" "
		      "errors=\"0\" skipped=\"2\">\n<testsuite name=\"t&lt;&amp;&gt;\" id=\"0\" "
		      "tests=\"7\" failures=\"1\" errors=\"0\" skipped=\"2\">\n") != NULL);
	CHECK(strstr(out, "<testcase classname=\"memprof.t&lt;&amp;&gt;.definite\" name=\"lose "
		      "(src/t.c:12)\" file=\"src/t.c\" line=\"12\">\n<failure type=\"definite\" "
		      "message=\"100 bytes in 1 block definitely lost in lose (src/t.c:12)\">100 bytes "
		      "in 1 block definitely lost in t&lt;&amp;&gt; (pid 7)\n"
		      "    at lose (/home/u/proj/src/t.c:12)\n"
		      "    by main (/home/u/proj/src/t.c:30)\n</failure>\n</testcase>\n") != NULL);
	CHECK(strstr(out, "<skipped message=\"suppressed by &apos;leak:main&apos;: 50 bytes in 2 "
		      "blocks definitely lost in main (src/t.c:30)\"/>") != NULL);
	CHECK(strstr(out, "<skipped message=\"not failing the run (--fail-on): 1 file descriptor "
		      "still open: 3 (/tmp/&quot;x&quot; &lt;y&gt;\xef\xbf\xbd)") != NULL);
	CHECK(strstr(out, "name=\"no indirectly lost blocks\"/>") != NULL);
	CHECK(strstr(out, "name=\"no possibly lost blocks\"/>") != NULL);
	CHECK(strstr(out, "name=\"no thread left running or unjoined\"/>") != NULL);
	CHECK(strstr(out, "still reachable") == NULL);      /* not in --fail-on: no test */
	CHECK(strstr(out, "<property name=\"pid\" value=\"7\"/>\n"
		      "<property name=\"definitely_lost_bytes\" value=\"100\"/>\n"
		      "<property name=\"definitely_lost_blocks\" value=\"1\"/>\n"
		      "<property name=\"indirectly_lost_bytes\" value=\"0\"/>\n"
		      "<property name=\"indirectly_lost_blocks\" value=\"0\"/>\n"
		      "<property name=\"possibly_lost_bytes\" value=\"0\"/>\n"
		      "<property name=\"possibly_lost_blocks\" value=\"0\"/>\n"
		      "<property name=\"still_reachable_bytes\" value=\"64\"/>\n"
		      "<property name=\"still_reachable_blocks\" value=\"2\"/>\n"
		      "<property name=\"fds\" value=\"1\"/>\n"
		      "<property name=\"threads\" value=\"0\"/>\n"
		      "<property name=\"timers\" value=\"0\"/>\n"
		      "<property name=\"suppressed_groups\" value=\"1\"/>\n") != NULL);
	free(out);

	/* One class, two groups at one place (stacks that differ further out):
	 * names and fingerprints made unique. */
	struct mp_leak two[] = {
		{ MP_PROFILE_HEAP, MP_LEAK_DEFINITE, 10, 1, fr, 2, NULL, NULL, 0 },
		{ MP_PROFILE_HEAP, MP_LEAK_DEFINITE, 10, 1, fr, 2, NULL, NULL, 0 },
	};
	struct mp_leak_report rep2 = { .pid = 8, .program = "p", .leaks = two, .nleaks = 2 };
	rp = &rep2;
	CAPTURE(out, CHECK_INT(mp_leaks_junit(f, &rp, 1, &ci), 0));
	CHECK(strstr(out, "name=\"lose (src/t.c:12)\"") != NULL);
	CHECK(strstr(out, "name=\"lose (src/t.c:12) #2\"") != NULL);
	free(out);
	CAPTURE(out, CHECK_INT(mp_leaks_sarif(f, &rp, 1, &ci), 0));
	CHECK(strstr(out, ":1\"}") != NULL && strstr(out, ":2\"}") != NULL);   /* fingerprints */
	free(out);
}

/* The sums every summary prints (text, JSON, SARIF, JUnit). */
static void test_totals(void)
{
	struct mp_leak heap_a[] = {
		{ MP_PROFILE_HEAP, MP_LEAK_DEFINITE, 100, 1, NULL, 0, NULL, NULL, 0 },
		{ MP_PROFILE_HEAP, MP_LEAK_DEFINITE, 40, 4, NULL, 0, NULL, NULL, 0 },
		{ MP_PROFILE_HEAP, MP_LEAK_INDIRECT, 30, 3, NULL, 0, NULL, NULL, 0 },
		{ MP_PROFILE_HEAP, MP_LEAK_REACHABLE, 64, 2, NULL, 0, NULL, NULL, 0 },
		{ MP_PROFILE_HEAP, MP_LEAK_DEFINITE, 50, 5, NULL, 0, "leak:x", NULL, 0 },
		{ MP_PROFILE_FDS, 0, 0, 2, NULL, 0, NULL, NULL, 0 },
		{ MP_PROFILE_FDS, 0, 0, 7, NULL, 0, "fd:y", NULL, 0 },
	};
	struct mp_leak heap_b[] = {
		{ MP_PROFILE_THREADS, 0, 0, 3, NULL, 0, NULL, NULL, 0 },
		{ MP_PROFILE_TIMERS, 0, 0, 1, NULL, 0, NULL, NULL, 0 },
		{ MP_PROFILE_PEAK, 0, 999, 9, NULL, 0, NULL, NULL, 0 },    /* not a leak kind */
		{ MP_PROFILE_HEAP, MP_LEAK_INDIRECT, 6, 1, NULL, 0, NULL, NULL, 0 },
	};
	struct mp_leak_report a = { .pid = 1, .program = "a", .leaks = heap_a, .nleaks = 7 };
	struct mp_leak_report b = { .pid = 2, .program = "b", .leaks = heap_b, .nleaks = 4 };
	struct mp_leak_totals t = { 0 };

	mp_leak_totals_add(&t, &a);
	CHECK_U64(t.bytes[MP_LEAK_DEFINITE], 140);
	CHECK_U64(t.blocks[MP_LEAK_DEFINITE], 5);
	CHECK_U64(t.bytes[MP_LEAK_INDIRECT], 30);
	CHECK_U64(t.bytes[MP_LEAK_REACHABLE], 64);
	CHECK_U64(t.blocks[MP_LEAK_REACHABLE], 2);
	CHECK_U64(t.fds, 2);
	CHECK_U64(t.suppressed_groups, 2);
	CHECK_U64(t.suppressed_bytes, 50);           /* heap only */
	CHECK_U64(t.suppressed_blocks, 5);
	mp_leak_totals_add(&t, &b);                  /* added up */
	CHECK_U64(t.bytes[MP_LEAK_INDIRECT], 36);
	CHECK_U64(t.blocks[MP_LEAK_INDIRECT], 4);
	CHECK_U64(t.threads, 3);
	CHECK_U64(t.timers, 1);
	CHECK_U64(t.fds, 2);
	CHECK_U64(t.bytes[0] + t.blocks[0], 0);
	CHECK_U64(t.suppressed_groups, 2);
}

/* The possibly lost class through every output: listed with its stack
 * like a lost block, counted in its own line of the summary, failing by
 * default, suppressible, in the JSON, SARIF and JUnit reports. */
static void test_possible(void)
{
	struct mp_leak_frame fr[] = {
		{ .function = "keep_inside", .file = "/home/u/proj/src/t.c", .line = 40,
		  .object = "prog" },
		{ .function = "main", .file = "/home/u/proj/src/t.c", .line = 50, .object = "prog" },
	};
	struct mp_leak leaks[] = {
		{ MP_PROFILE_HEAP, MP_LEAK_POSSIBLE, 96, 2, fr, 2, NULL, NULL, 0 },
		{ MP_PROFILE_HEAP, MP_LEAK_REACHABLE, 64, 1, fr + 1, 1, NULL, NULL, 0 },
	};
	struct mp_leak_report rep = { .pid = 9, .program = "p", .leaks = leaks, .nleaks = 2 };
	struct mp_leak_report *rp = &rep;
	struct mp_leak_ci ci = { .srcroot = (char *)"/home/u/proj", .fail_on = MP_FAIL_DEFAULT,
				 .version = "9.9" };
	struct mp_leak_totals t = { 0 };
	char *out = NULL;

	CHECK_STR(mp_leak_class(&leaks[0]), "possible");
	CHECK_INT(mp_leak_fail_bit(&leaks[0]), MP_FAIL_POSSIBLE);
	CHECK(mp_leaks_failing(&rep, MP_FAIL_DEFAULT));
	CHECK(!mp_leaks_failing(&rep, MP_FAIL_DEFINITE | MP_FAIL_INDIRECT));
	mp_leak_totals_add(&t, &rep);
	CHECK_U64(t.bytes[MP_LEAK_POSSIBLE], 96);
	CHECK_U64(t.blocks[MP_LEAK_POSSIBLE], 2);
	CHECK_U64(t.bytes[MP_LEAK_REACHABLE], 64);

	CAPTURE(out, mp_leaks_print(f, &rep, true));
	CHECK(strstr(out, "memprof: 96 bytes in 2 blocks possibly lost\n"
		      "memprof:     at keep_inside (/home/u/proj/src/t.c:40)\n") != NULL);
	CHECK(strstr(out, "memprof:    indirectly lost: 0 bytes in 0 blocks\n"
		      "memprof:      possibly lost: 96 bytes in 2 blocks\n"
		      "memprof:    still reachable: 64 bytes in 1 blocks\n") != NULL);
	free(out);
	CAPTURE(out, mp_leaks_print_suppressions(f, &rep));
	CHECK_STR(out, "leak:^keep_inside$;^main$\n");
	free(out);

	CAPTURE(out, CHECK_INT(mp_leaks_json(f, &rp, 1), 0));
	CHECK(strstr(out, "{\"kind\":\"heap\",\"category\":\"possible\",\"bytes\":96,"
		      "\"count\":2,") != NULL);
	CHECK(strstr(out, "\"heap_possible_bytes\":96,") != NULL);
	free(out);

	CAPTURE(out, CHECK_INT(mp_leaks_sarif(f, &rp, 1, &ci), 0));
	CHECK(strstr(out, "{\"id\":\"possible-leak\",\"name\":\"PossiblyLostMemory\"") != NULL);
	CHECK(strstr(out, "{\"ruleId\":\"possible-leak\",\"ruleIndex\":2,\"level\":\"error\","
		      "\"kind\":\"fail\",\"message\":{\"text\":\"96 bytes in 2 blocks possibly "
		      "lost, allocated in keep_inside (src/t.c:40), in p (pid 9).\"}") != NULL);
	CHECK(strstr(out, "\"possiblyLostBytes\":96,\"possiblyLostBlocks\":2,") != NULL);
	free(out);

	CAPTURE(out, CHECK_INT(mp_leaks_junit(f, &rp, 1, &ci), 0));
	CHECK(strstr(out, "<testcase classname=\"memprof.p.possible\" name=\"keep_inside "
		      "(src/t.c:40)\" file=\"src/t.c\" line=\"40\">\n<failure type=\"possible\" "
		      "message=\"96 bytes in 2 blocks possibly lost in keep_inside (src/t.c:40)\">")
	      != NULL);
	CHECK(strstr(out, "<property name=\"possibly_lost_bytes\" value=\"96\"/>\n"
		      "<property name=\"possibly_lost_blocks\" value=\"2\"/>\n") != NULL);
	CHECK(strstr(out, "no possibly lost blocks") == NULL);
	free(out);

	/* Not failing: a warning, a skipped test. */
	ci.fail_on = MP_FAIL_DEFINITE;
	CAPTURE(out, CHECK_INT(mp_leaks_sarif(f, &rp, 1, &ci), 0));
	CHECK(strstr(out, "{\"ruleId\":\"possible-leak\",\"ruleIndex\":2,\"level\":\"warning\"")
	      != NULL);
	free(out);

	/* Suppressions apply to it. */
	struct mp_supp *s = NULL;
	char *err = NULL;
	const char *text = "leak:keep_inside\n";
	CHECK_INT(mp_supp_parse(text, strlen(text), &s, &err), 0);
	mp_supp_apply(s, &rep);
	CHECK(leaks[0].suppressed_by != NULL);
	CHECK(!mp_leaks_failing(&rep, MP_FAIL_DEFAULT));
	memset(&t, 0, sizeof(t));
	mp_leak_totals_add(&t, &rep);
	CHECK_U64(t.bytes[MP_LEAK_POSSIBLE], 0);
	CHECK_U64(t.suppressed_bytes, 96);
	mp_supp_free(s);
}

int main(void)
{
	test_fail_on();
	test_totals();
	test_match();
	test_match_linear();
	test_suppressions();
	test_generated();
	test_resources();
	test_output();
	test_utf8();
	test_escapes();
	test_format_of();
	test_places();
	test_sarif_junit();
	test_possible();
	return tap_done();
}

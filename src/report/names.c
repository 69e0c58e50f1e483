/* SPDX-License-Identifier: MIT */
/*
 * Function and binary names as pprof shows them: the symbolizer's rule for
 * which name to display (and its C++ simplification), Go's filepath.Base for
 * "[binary]" nodes, and profile.simplifyFunc used to match drop_frames.
 * CLI only.
 */
#include "report/names.h"
#include "report/top.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/*
 * pprof symbolizer's removeMatching: drop nested start..end groups; a stray
 * `end` aborts, keeping what was removed so far; an unclosed group stays.
 * In place, in one pass (names are untrusted and may be long).
 */
static void remove_matching(char *name, char start, char end)
{
	size_t len = strlen(name), out = 0, first = 0;
	long nesting = 0;

	for (size_t i = 0; i < len; i++) {
		char ch = name[i];

		if (ch == start) {
			if (nesting++ == 0)
				first = i;
		} else if (ch == end) {
			if (nesting == 0) {
				memmove(name + out, name + i, len - i + 1);
				return;
			}
			nesting--;
		} else if (nesting == 0) {
			name[out++] = ch;
		}
	}
	if (nesting > 0) {
		memmove(name + out, name + first, len - first + 1);
		return;
	}
	name[out] = '\0';
}

/* pprof symbolizer's looksLikeDemangledCPlusPlus. */
static bool looks_like_cxx(const char *s)
{
	if (strstr(s, ".<") || strstr(s, "])."))
		return false;
	return strpbrk(s, "<>[]") != NULL || strstr(s, "::") != NULL;
}

char *mp_top_display_name(const char *name, const char *system_name)
{
	char *s;

	if (name[0] != '\0' && strcmp(name, system_name) != 0)
		return strdup(name);
	/*
	 * pprof would demangle system_name here; a name that is not mangled
	 * comes back unchanged and gets the heuristic below.  Mangled names
	 * stay mangled here: profiles memprof writes carry demangled names
	 * (src/symbolize/demangle.h), and reports of other profiles do not
	 * link the demanglers.
	 */
	s = strdup(system_name);
	if (s && looks_like_cxx(s)) {
		remove_matching(s, '(', ')');
		remove_matching(s, '<', '>');
	}
	return s;
}

/* Go's filepath.Base. */
const char *mp_report_base_name(const char *path, char *buf, size_t size)
{
	size_t len = strlen(path);
	const char *slash;

	if (len == 0)
		return ".";
	while (len > 0 && path[len - 1] == '/')
		len--;
	if (len == 0)
		return "/";
	slash = memrchr(path, '/', len);
	if (slash) {
		len -= (size_t)(slash + 1 - path);
		path = slash + 1;
	}
	if (len >= size)
		len = size - 1;
	memcpy(buf, path, len);
	buf[len] = '\0';
	return buf;
}

/* pprof profile.simplifyFunc: cut at the first '(' that does not start
 * "(anonymous namespace)" or belong to "operator()". */
char *mp_report_simplify_func(const char *f)
{
	static const char *const reserved[] = { "(anonymous namespace)", "operator()" };
	char *s;
	size_t i = 0;

	if (f[0] == '.')
		f++;
	s = strdup(f);
	if (!s)
		return NULL;
	while (s[i]) {
		bool skipped = false;

		for (size_t k = 0; k < 2; k++) {
			size_t n = strlen(reserved[k]);

			if (strncmp(s + i, reserved[k], n) == 0) {
				i += n;
				skipped = true;
				break;
			}
		}
		if (skipped)
			continue;
		if (s[i] == '(') {
			s[i] = '\0';
			break;
		}
		i++;
	}
	return s;
}

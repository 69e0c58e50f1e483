/* SPDX-License-Identifier: MIT */
/*
 * The leak report as JUnit XML (see leaks-ci.h), in the shape Ant's JUnit
 * task set and Jenkins, GitLab and the other CI test views read:
 * <testsuites> holding a <testsuite> per process with its counts (tests,
 * failures, errors, skipped) and <properties>, and a <testcase> per leak
 * group.  A test is named by where the leak happens, "lose_one
 * (src/t.c:12)", under the class "memprof.PROGRAM.CLASS", so the same
 * leak keeps its name from run to run (CI views track tests by name); the
 * bytes go in the failure's message.  Passing test cases, one per class
 * with nothing left, show that the check ran.  CLI only.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/grow.h"
#include "common/snapshot.h"
#include "convert/escape.h"
#include "convert/leaks-ci.h"

/* The classes in the order of a suite, with what a passing test says. */
static const struct {
	const char *cls;      /* mp_leak_class() */
	unsigned bit;
	const char *pass;
} classes[] = {
	{ "definite", MP_FAIL_DEFINITE, "no definitely lost blocks" },
	{ "indirect", MP_FAIL_INDIRECT, "no indirectly lost blocks" },
	{ "possible", MP_FAIL_POSSIBLE, "no possibly lost blocks" },
	{ "reachable", MP_FAIL_REACHABLE, "no still reachable blocks" },
	{ "fd", MP_FAIL_FDS, "no file descriptor left open" },
	{ "thread", MP_FAIL_THREADS, "no thread left running or unjoined" },
	{ "timer", MP_FAIL_TIMERS, "no timer left undeleted" },
};

#define N_CLASSES (sizeof(classes) / sizeof(classes[0]))

struct counts {
	size_t tests, failures, errors, skipped;
};

static void put_attr(FILE *f, const char *name, const char *value)
{
	fprintf(f, " %s=\"", name);
	mp_put_xml(f, value, 1);
	fputc('"', f);
}

/* Names given so far in a suite, to keep them unique per class. */
struct names {
	char **v;
	size_t n, cap;
};

static void names_done(struct names *nm)
{
	for (size_t i = 0; i < nm->n; i++)
		free(nm->v[i]);
	free(nm->v);
	nm->v = NULL;
	nm->n = 0;
	nm->cap = 0;
}

/* Take `name` (malloc'd) into the suite's names, made unique with " #2",
 * " #3"...; returns the name to use (owned by nm) or NULL on OOM. */
static const char *unique_name(struct names *nm, char *name)
{
	char *use = name;

	if (MP_GROW(nm->v, nm->n + 1, nm->cap) < 0) {
		free(name);
		return NULL;
	}
	for (unsigned k = 2;; k++) {
		bool taken = false;
		for (size_t i = 0; i < nm->n && !taken; i++)
			taken = strcmp(nm->v[i], use) == 0;
		if (!taken)
			break;
		if (use != name)
			free(use);
		if (asprintf(&use, "%s #%u", name, k) < 0) {
			free(name);
			return NULL;
		}
	}
	if (use != name)
		free(name);
	nm->v[nm->n++] = use;
	return use;
}

/* One test case of a group; counts it. */
static int put_case(FILE *f, struct mp_leak_places *pl, const struct mp_leak_report *r,
		    const struct mp_leak *l, const char *classname, struct names *nm,
		    unsigned fail_on, struct counts *c)
{
	const struct mp_leak_place *place = NULL;
	struct mp_leak_frame shown;
	const char *name;
	char *buf = NULL, *msg = NULL;
	size_t len = 0, si = 0;
	FILE *m;
	int s = mp_leak_site(pl, l, &si, &place);

	if (s < 0)
		return s;
	if (s == 0) {
		shown = l->frames[si];
		shown.file = (char *)place->path;
	} else if (l->nframes) {
		size_t own = mp_leak_first_own(l);
		shown = l->frames[own < l->nframes ? own : 0];
		shown.file = NULL;    /* not placed: no file */
		place = NULL;
	} else {
		shown = (struct mp_leak_frame){ .function = (char *)"(no stack)" };
		place = NULL;
	}
	/* the name: where */
	m = open_memstream(&buf, &len);
	if (!m)
		return -ENOMEM;
	mp_leak_frame_describe(m, &shown);
	if (fclose(m) != 0) {
		free(buf);
		return -ENOMEM;
	}
	name = unique_name(nm, buf);
	if (!name)
		return -ENOMEM;
	/* the message: what, and where */
	m = open_memstream(&msg, &len);
	if (!m)
		return -ENOMEM;
	mp_leak_describe(m, l);
	fputs(" in ", m);
	mp_leak_frame_describe(m, &shown);
	if (fclose(m) != 0) {
		free(msg);
		return -ENOMEM;
	}

	fputs("<testcase", f);
	put_attr(f, "classname", classname);
	put_attr(f, "name", name);
	if (place && place->path) {
		put_attr(f, "file", place->path);
		if (shown.line > 0)
			fprintf(f, " line=\"%" PRId64 "\"", shown.line);
	}
	fputs(">\n", f);
	c->tests++;
	if (l->suppressed_by || !(mp_leak_fail_bit(l) & fail_on)) {
		char *why = NULL;
		int w = l->suppressed_by
			? asprintf(&why, "suppressed by '%s': %s", l->suppressed_by, msg)
			: asprintf(&why, "not failing the run (--fail-on): %s", msg);
		if (w < 0) {
			free(msg);
			return -ENOMEM;
		}
		fputs("<skipped", f);
		put_attr(f, "message", why);
		fputs("/>\n", f);
		free(why);
		c->skipped++;
	} else {
		fputs("<failure", f);
		put_attr(f, "type", mp_leak_class(l));
		put_attr(f, "message", msg);
		fputc('>', f);
		/* the body: the text report's lines for the group */
		char *body = NULL;
		m = open_memstream(&body, &len);
		if (!m) {
			free(msg);
			return -ENOMEM;
		}
		mp_leak_describe(m, l);
		fprintf(m, " in %s (pid %" PRIu64 ")\n", r->program ? r->program : "?", r->pid);
		mp_leak_print_stack(m, l, "    ");
		if (fclose(m) != 0) {
			free(body);
			free(msg);
			return -ENOMEM;
		}
		mp_put_xml(f, body, 0);
		free(body);
		fputs("</failure>\n", f);
		c->failures++;
	}
	free(msg);
	fputs("</testcase>\n", f);
	return 0;
}

static void put_property(FILE *f, const char *name, uint64_t v)
{
	fprintf(f, "<property name=\"%s\" value=\"%" PRIu64 "\"/>\n", name, v);
}

/* The cases of one process into f; its counts in *c. */
static int put_suite_body(FILE *f, struct mp_leak_places *pl, const struct mp_leak_report *r,
			  unsigned fail_on, struct counts *c)
{
	struct mp_leak_totals t = { 0 };
	const char *prog = r->program ? r->program : "?";
	struct names nm = { 0 };
	int err = 0;

	mp_leak_totals_add(&t, r);
	fputs("<properties>\n<property", f);
	put_attr(f, "name", "program");
	put_attr(f, "value", prog);
	fputs("/>\n", f);
	put_property(f, "pid", r->pid);
	put_property(f, "definitely_lost_bytes", t.bytes[MP_LEAK_DEFINITE]);
	put_property(f, "definitely_lost_blocks", t.blocks[MP_LEAK_DEFINITE]);
	put_property(f, "indirectly_lost_bytes", t.bytes[MP_LEAK_INDIRECT]);
	put_property(f, "indirectly_lost_blocks", t.blocks[MP_LEAK_INDIRECT]);
	put_property(f, "possibly_lost_bytes", t.bytes[MP_LEAK_POSSIBLE]);
	put_property(f, "possibly_lost_blocks", t.blocks[MP_LEAK_POSSIBLE]);
	put_property(f, "still_reachable_bytes", t.bytes[MP_LEAK_REACHABLE]);
	put_property(f, "still_reachable_blocks", t.blocks[MP_LEAK_REACHABLE]);
	put_property(f, "fds", t.fds);
	put_property(f, "threads", t.threads);
	put_property(f, "timers", t.timers);
	put_property(f, "suppressed_groups", t.suppressed_groups);
	fputs("</properties>\n", f);

	for (size_t k = 0; k < N_CLASSES && !err; k++) {
		char *classname = NULL;
		bool found = false;
		/* still reachable blocks count only when they fail the run */
		if (classes[k].bit == MP_FAIL_REACHABLE && !(fail_on & MP_FAIL_REACHABLE))
			continue;
		if (asprintf(&classname, "memprof.%s.%s", prog, classes[k].cls) < 0) {
			err = -ENOMEM;
			break;
		}
		for (size_t i = 0; i < r->nleaks && !err; i++) {
			const struct mp_leak *l = &r->leaks[i];
			if (strcmp(mp_leak_class(l), classes[k].cls) != 0)
				continue;
			found |= !l->suppressed_by;
			err = put_case(f, pl, r, l, classname, &nm, fail_on, c);
		}
		if (!found && !err) {
			fputs("<testcase", f);
			put_attr(f, "classname", classname);
			put_attr(f, "name", classes[k].pass);
			fputs("/>\n", f);
			c->tests++;
		}
		free(classname);
		names_done(&nm);   /* unique per class */
	}
	return err;
}

int mp_leaks_junit(FILE *f, struct mp_leak_report *const *reports, size_t n,
		   const struct mp_leak_ci *ci)
{
	struct mp_leak_places *pl = mp_leak_places_new(ci);
	struct counts total = { 0 };
	char **bodies = calloc(n + 1, sizeof(*bodies));
	struct counts *counts = calloc(n + 1, sizeof(*counts));
	int err = 0;

	if (!pl || !bodies || !counts) {
		err = -ENOMEM;
		goto out;
	}
	/* Bodies first: the suite's counts come before its cases. */
	for (size_t k = 0; k < n && !err; k++) {
		size_t len = 0;
		FILE *m = open_memstream(&bodies[k], &len);
		if (!m) {
			err = -ENOMEM;
			break;
		}
		err = put_suite_body(m, pl, reports[k], ci->fail_on, &counts[k]);
		if (fclose(m) != 0 && !err)
			err = -ENOMEM;
		total.tests += counts[k].tests;
		total.failures += counts[k].failures;
		total.skipped += counts[k].skipped;
	}
	if (err)
		goto out;
	if (ci->unchecked) {
		total.tests++;
		total.errors++;
	}
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<testsuites name=\"memprof leak check\" tests=\"%zu\" failures=\"%zu\" "
		"errors=\"%zu\" skipped=\"%zu\">\n",
		total.tests, total.failures, total.errors, total.skipped);
	for (size_t k = 0; k < n; k++) {
		fputs("<testsuite", f);
		put_attr(f, "name", reports[k]->program ? reports[k]->program : "?");
		fprintf(f, " id=\"%zu\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\">\n",
			k, counts[k].tests, counts[k].failures, counts[k].skipped);
		fputs(bodies[k], f);
		fputs("</testsuite>\n", f);
	}
	if (ci->unchecked)
		fprintf(f, "<testsuite name=\"memprof\" id=\"%zu\" tests=\"1\" failures=\"0\" "
			"errors=\"1\" skipped=\"0\">\n<testcase classname=\"memprof.leak-check\" "
			"name=\"every process checked\">\n<error type=\"incomplete\" message=\"no leak "
			"check for %zu process%s: the shim could not run it\"/>\n</testcase>\n"
			"</testsuite>\n", n, ci->unchecked, ci->unchecked == 1 ? "" : "es");
	fputs("</testsuites>\n", f);
	if (ferror(f))
		err = -EIO;
out:
	for (size_t k = 0; bodies && k < n; k++)
		free(bodies[k]);
	free(bodies);
	free(counts);
	mp_leak_places_free(pl);
	return err;
}

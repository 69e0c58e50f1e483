/* SPDX-License-Identifier: MIT */
/*
 * The leak report as a SARIF 2.1.0 log (see leaks-ci.h).  What consumers
 * look at, and so what this writes:
 *   - GitHub code scanning wants every rule with fullDescription and help
 *     (the SARIF SDK's GH2012 check), a physical location whose URI is
 *     relative to the checkout (uriBaseId %SRCROOT%, CodeQL's name), at
 *     most one run per tool, and stable partialFingerprints to match a
 *     result across runs;
 *   - the OASIS schema wants startLine >= 1 and absolute URIs in
 *     originalUriBaseIds ending in '/' (section 3.14.14).
 * Each result's stack goes into a codeFlow/threadFlow, outermost call
 * first, as a thread flow is an execution path (section 3.37).  CLI only.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/snapshot.h"
#include "convert/escape.h"
#include "convert/leaks-ci.h"

struct rule {
	const char *cls;         /* mp_leak_class() */
	const char *id, *name;
	unsigned bit;            /* MP_FAIL_* */
	const char *what;        /* shortDescription */
	const char *full;        /* fullDescription */
	const char *help;        /* help */
	const char *verb;        /* "allocated", "created" */
};

#define SUPPRESS_HELP \
	" To accept it, add the line 'memprof run --gen-suppressions' prints for it to the " \
	"file given to --suppressions."

static const struct rule rules[] = {
	{ "definite", "definite-leak", "DefinitelyLostMemory", MP_FAIL_DEFINITE,
	  "Heap memory definitely lost.",
	  "A heap block allocated and never freed to which no pointer was left at exit: not from "
	  "the roots (globals, thread stacks and registers, thread-local storage), not from other "
	  "blocks (Valgrind's 'definitely lost').",
	  "Free the block once it is no longer needed, on every path, or keep a pointer to it if "
	  "it is meant to live until exit. The code flow is the stack that allocated it, from main "
	  "to the allocation." SUPPRESS_HELP, "allocated" },
	{ "indirect", "indirect-leak", "IndirectlyLostMemory", MP_FAIL_INDIRECT,
	  "Heap memory indirectly lost.",
	  "A heap block reached at exit only from lost blocks, like the nodes of a list whose head "
	  "was lost (Valgrind's 'indirectly lost').",
	  "Fix the definitely lost block that points to it; freeing the owner's structure frees "
	  "it too. The code flow is the stack that allocated it." SUPPRESS_HELP, "allocated" },
	{ "possible", "possible-leak", "PossiblyLostMemory", MP_FAIL_POSSIBLE,
	  "Heap memory possibly lost.",
	  "A heap block never freed that was reached at exit only through a pointer into its "
	  "middle, not to its start, somewhere on every chain from the roots (Valgrind's 'possibly "
	  "lost'): the pointer may be one the program moved along or keeps on purpose, or a "
	  "value that happens to point there.",
	  "Free the block once it is no longer needed, or keep a pointer to its start if it is "
	  "meant to live until exit. The code flow is the stack that allocated it." SUPPRESS_HELP,
	  "allocated" },
	{ "reachable", "reachable-leak", "StillReachableMemory", MP_FAIL_REACHABLE,
	  "Heap memory still reachable at exit.",
	  "A heap block never freed that a pointer still reached at exit (Valgrind's 'still "
	  "reachable'); reported only when the run fails on this class (--fail-on reachable).",
	  "Free it before exit if the program must end with an empty heap. The code flow is the "
	  "stack that allocated it." SUPPRESS_HELP, "allocated" },
	{ "fd", "fd-leak", "FileDescriptorLeak", MP_FAIL_FDS,
	  "File descriptor left open.",
	  "A file descriptor the program opened (a file, socket, pipe, eventfd, epoll, timerfd, "
	  "signalfd, inotify or memfd descriptor) and had not closed at exit; descriptors it "
	  "inherited and the standard streams 0, 1 and 2 are not counted.",
	  "Close it when done with it, on every path, errors included. The code flow is the stack "
	  "that created it." SUPPRESS_HELP, "created" },
	{ "thread", "thread-leak", "ThreadLeak", MP_FAIL_THREADS,
	  "Thread left running or never joined.",
	  "A thread the program created that was still running at exit, or that ended but was "
	  "never joined nor detached, so its resources were never reclaimed.",
	  "Stop and join the thread before exit, or detach it. The code flow is the stack that "
	  "created it." SUPPRESS_HELP, "created" },
	{ "timer", "timer-leak", "TimerLeak", MP_FAIL_TIMERS,
	  "POSIX timer never deleted.",
	  "A timer created with timer_create() and not deleted with timer_delete() by exit.",
	  "Delete the timer when it is no longer needed. The code flow is the stack that created "
	  "it." SUPPRESS_HELP, "created" },
};

#define N_RULES (sizeof(rules) / sizeof(rules[0]))

static const struct rule *rule_of(const struct mp_leak *l, size_t *ret_index)
{
	const char *cls = mp_leak_class(l);

	for (size_t i = 0; i < N_RULES; i++)
		if (strcmp(rules[i].cls, cls) == 0) {
			*ret_index = i;
			return &rules[i];
		}
	return NULL;
}

/* Whether a group becomes a result: unsuppressed, and still reachable
 * blocks only when they fail the run. */
static bool reported(const struct mp_leak *l, unsigned fail_on)
{
	if (l->suppressed_by)
		return false;
	return !(l->kind == MP_PROFILE_HEAP && l->category == MP_LEAK_REACHABLE) ||
	       (fail_on & MP_FAIL_REACHABLE);
}

static const char *level_of(const struct rule *r, unsigned fail_on)
{
	return r->bit & fail_on ? "error" : "warning";
}

/* A "text" message object from a memory stream's contents. */
static void put_message(FILE *f, const char *text)
{
	fputs("{\"text\":", f);
	mp_put_json_str(f, text);
	fputc('}', f);
}

/* "file:///abs/path" or {"uri":"rel/path","uriBaseId":"%SRCROOT%"}. */
static void put_artifact(FILE *f, const struct mp_leak_place *p)
{
	fputs("{\"uri\":\"", f);
	if (!p->rel)
		fputs("file://", f);
	mp_put_uri_path(f, p->path);
	fputc('"', f);
	if (p->rel)
		fputs(",\"uriBaseId\":\"%SRCROOT%\"", f);
	fputc('}', f);
}

/* A frame's location object: physical location when its file can be
 * placed, the function as a logical location, and the frame as the text
 * report shows it (with the path as placed). */
static int put_location(FILE *f, struct mp_leak_places *pl, const struct mp_leak_frame *fr)
{
	const struct mp_leak_place *p;
	struct mp_leak_frame shown = *fr;
	char *text = NULL;
	size_t len = 0;
	FILE *m;

	if (mp_leak_place(pl, fr->file, &p) < 0)
		return -ENOMEM;
	fputc('{', f);
	if (p->path) {
		fputs("\"physicalLocation\":{\"artifactLocation\":", f);
		put_artifact(f, p);
		if (fr->line > 0)
			fprintf(f, ",\"region\":{\"startLine\":%" PRId64 "}", fr->line);
		fputs("},", f);
		shown.file = (char *)p->path;
	}
	fputs("\"logicalLocations\":[{\"fullyQualifiedName\":", f);
	mp_put_json_str(f, fr->function);
	fputs(",\"kind\":\"function\"}],\"message\":", f);
	m = open_memstream(&text, &len);
	if (!m)
		return -ENOMEM;
	mp_leak_frame_describe(m, &shown);
	if (fclose(m) != 0) {
		free(text);
		return -ENOMEM;
	}
	put_message(f, text);
	free(text);
	fputc('}', f);
	return 0;
}

/* The result's message: "100 bytes in 1 block definitely lost, allocated in
 * lose_one (src/t.c:12), in t (pid 7)." */
static char *result_text(const struct mp_leak_report *r, const struct mp_leak *l,
			 const struct rule *rule, const struct mp_leak_frame *site,
			 const struct mp_leak_place *place)
{
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);

	if (!m)
		return NULL;
	mp_leak_describe(m, l);
	if (site) {
		struct mp_leak_frame shown = *site;
		if (place && place->path)
			shown.file = (char *)place->path;
		fprintf(m, ", %s in ", rule->verb);
		mp_leak_frame_describe(m, &shown);
	}
	fprintf(m, ", in %s (pid %" PRIu64 ").", r->program ? r->program : "?", r->pid);
	if (fclose(m) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* Fingerprints given so far in the document, with how often each came:
 * an open-addressing table, at most half full. */
struct prints {
	struct print { uint64_t h; size_t n; } *v;   /* n == 0: empty slot */
	size_t cap, used;
};

/* The number of this occurrence of h (1 the first time); 0 on OOM. */
static size_t prints_count(struct prints *pr, uint64_t h)
{
	if (2 * (pr->used + 1) > pr->cap) {
		size_t cap = pr->cap ? pr->cap * 2 : 64;
		struct print *v = calloc(cap, sizeof(*v));
		if (!v)
			return 0;
		for (size_t i = 0; i < pr->cap; i++)
			if (pr->v[i].n) {
				size_t j = pr->v[i].h & (cap - 1);
				while (v[j].n)
					j = (j + 1) & (cap - 1);
				v[j] = pr->v[i];
			}
		free(pr->v);
		pr->v = v;
		pr->cap = cap;
	}
	size_t j = h & (pr->cap - 1);
	while (pr->v[j].n && pr->v[j].h != h)
		j = (j + 1) & (pr->cap - 1);
	if (!pr->v[j].n) {
		pr->v[j].h = h;
		pr->used++;
	}
	return ++pr->v[j].n;
}

/*
 * partialFingerprints: the group's class and its generated suppression
 * (the first frames of the program's own code, by name): the same while
 * lines move, different for another stack.  Groups that differ only
 * further out (two threads created on two lines of main) share it, so an
 * occurrence number follows, as in GitHub's own primaryLocationLineHash
 * ("<hash>:<n>"): results must not merge into one alert.
 */
static int put_fingerprint(FILE *f, const struct mp_leak *l, struct prints *pr)
{
	char *supp = mp_leak_suppression(l);
	uint64_t h = 0xcbf29ce484222325ull;

	if (!supp)
		return -ENOMEM;
	for (const char *s = mp_leak_class(l); *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	h = (h ^ '/') * 0x100000001b3ull;
	for (const char *s = supp; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	free(supp);
	size_t seen = prints_count(pr, h);
	if (!seen)
		return -ENOMEM;
	fprintf(f, ",\"partialFingerprints\":{\"memprofStack/v1\":\"%016" PRIx64 ":%zu\"}", h,
		seen);
	return 0;
}

static int put_result(FILE *f, struct mp_leak_places *pl, const struct mp_leak_report *r,
		      const struct mp_leak *l, const struct mp_leak_ci *ci, struct prints *pr,
		      bool first)
{
	size_t ri, si = 0;
	const struct rule *rule = rule_of(l, &ri);
	const struct mp_leak_place *place = NULL;
	const struct mp_leak_frame *site = NULL;
	char *text;
	int s;

	if (!rule)
		return 0;
	s = mp_leak_site(pl, l, &si, &place);
	if (s < 0)
		return s;
	if (s == 0) {
		site = &l->frames[si];
	} else {
		/* no source: name the program's own frame all the same */
		size_t own = mp_leak_first_own(l);
		place = NULL;
		if (l->nframes)
			site = &l->frames[own < l->nframes ? own : 0];
	}
	text = result_text(r, l, rule, site, place);
	if (!text)
		return -ENOMEM;
	fprintf(f, "%s\n{\"ruleId\":\"%s\",\"ruleIndex\":%zu,\"level\":\"%s\",\"kind\":\"fail\","
		"\"message\":", first ? "" : ",", rule->id, ri, level_of(rule, ci->fail_on));
	put_message(f, text);
	free(text);
	if (site) {
		fputs(",\"locations\":[", f);
		if (put_location(f, pl, site) < 0)
			return -ENOMEM;
		fputc(']', f);
	}
	if (l->nframes) {
		fputs(",\"codeFlows\":[{\"message\":{\"text\":\"The stack that ", f);
		fputs(rule->verb, f);
		fputs(" it, outermost call first.\"},\"threadFlows\":[{\"locations\":[", f);
		for (size_t k = 0; k < l->nframes; k++) {
			size_t i = l->nframes - 1 - k;
			fputs(k ? ",{\"location\":" : "{\"location\":", f);
			if (put_location(f, pl, &l->frames[i]) < 0)
				return -ENOMEM;
			fprintf(f, ",\"nestingLevel\":%zu}", k);
		}
		fputs("]}]}]", f);
	}
	if (put_fingerprint(f, l, pr) < 0)
		return -ENOMEM;
	fprintf(f, ",\"properties\":{\"program\":");
	mp_put_json_str(f, r->program ? r->program : "?");
	fprintf(f, ",\"pid\":%" PRIu64, r->pid);
	if (l->kind == MP_PROFILE_HEAP) {
		fprintf(f, ",\"bytes\":%" PRIu64 ",\"blocks\":%" PRIu64, l->bytes, l->count);
	} else {
		fprintf(f, ",\"count\":%" PRIu64 ",\"resources\":[", l->count);
		for (size_t j = 0; j < l->nres; j++) {
			fputs(j ? "," : "", f);
			mp_leak_res_json(f, l->kind, &l->res[j]);
		}
		fputc(']', f);
	}
	fputs("}}", f);
	return 0;
}

static void put_rules(FILE *f, unsigned fail_on)
{
	fputs("\"rules\":[", f);
	for (size_t i = 0; i < N_RULES; i++) {
		const struct rule *r = &rules[i];
		fprintf(f, "%s\n{\"id\":\"%s\",\"name\":\"%s\",\"shortDescription\":", i ? "," : "",
			r->id, r->name);
		put_message(f, r->what);
		fputs(",\"fullDescription\":", f);
		put_message(f, r->full);
		fputs(",\"help\":", f);
		put_message(f, r->help);
		fprintf(f, ",\"defaultConfiguration\":{\"level\":\"%s\"},\"properties\":{\"tags\":"
			"[\"%s\",\"leak\"]}}", level_of(r, fail_on),
			r->bit & (MP_FAIL_DEFINITE | MP_FAIL_INDIRECT | MP_FAIL_POSSIBLE |
				  MP_FAIL_REACHABLE) ? "memory" : "resource");
	}
	fputc(']', f);
}

/* Per process: the leak summary (bytes and blocks per class, what was
 * suppressed, resources left). */
static void put_processes(FILE *f, struct mp_leak_report *const *reports, size_t n)
{
	fputs("\"properties\":{\"processes\":[", f);
	for (size_t k = 0; k < n; k++) {
		const struct mp_leak_report *r = reports[k];
		struct mp_leak_totals t = { 0 };

		mp_leak_totals_add(&t, r);
		fprintf(f, "%s{\"program\":", k ? "," : "");
		mp_put_json_str(f, r->program ? r->program : "?");
		fprintf(f, ",\"pid\":%" PRIu64 ",\"definitelyLostBytes\":%" PRIu64
			",\"definitelyLostBlocks\":%" PRIu64 ",\"indirectlyLostBytes\":%" PRIu64
			",\"indirectlyLostBlocks\":%" PRIu64 ",\"possiblyLostBytes\":%" PRIu64
			",\"possiblyLostBlocks\":%" PRIu64 ",\"stillReachableBytes\":%" PRIu64
			",\"stillReachableBlocks\":%" PRIu64 ",\"fds\":%" PRIu64 ",\"threads\":%" PRIu64
			",\"timers\":%" PRIu64 ",\"suppressedGroups\":%" PRIu64 "}",
			r->pid, t.bytes[MP_LEAK_DEFINITE], t.blocks[MP_LEAK_DEFINITE],
			t.bytes[MP_LEAK_INDIRECT], t.blocks[MP_LEAK_INDIRECT], t.bytes[MP_LEAK_POSSIBLE],
			t.blocks[MP_LEAK_POSSIBLE], t.bytes[MP_LEAK_REACHABLE],
			t.blocks[MP_LEAK_REACHABLE], t.fds, t.threads, t.timers, t.suppressed_groups);
	}
	fputs("]}", f);
}

int mp_leaks_sarif(FILE *f, struct mp_leak_report *const *reports, size_t n,
		   const struct mp_leak_ci *ci)
{
	struct mp_leak_places *pl = mp_leak_places_new(ci);
	struct prints pr = { 0 };
	bool first = true;
	int err = 0;

	if (!pl)
		return -ENOMEM;
	fputs("{\"$schema\":\"https://json.schemastore.org/sarif-2.1.0.json\",\"version\":\"2.1.0\","
	      "\"runs\":[{\"tool\":{\"driver\":{\"name\":\"memprof\",\"fullName\":\"memprof leak "
	      "check\",\"version\":", f);
	mp_put_json_str(f, ci->version ? ci->version : "unknown");
	fputc(',', f);
	put_rules(f, ci->fail_on);
	fputs("}},\n", f);
	if (ci->srcroot) {
		/* section 3.14.14: an absolute URI ending in '/' */
		fputs("\"originalUriBaseIds\":{\"%SRCROOT%\":{\"uri\":\"file://", f);
		mp_put_uri_path(f, ci->srcroot);
		fputs(strcmp(ci->srcroot, "/") ? "/\"," : "\",", f);
		fputs("\"description\":{\"text\":\"The working directory of memprof run: source "
		      "paths under it are relative to it.\"}}},\n", f);
	}
	fprintf(f, "\"invocations\":[{\"executionSuccessful\":%s",
		ci->unchecked ? "false" : "true");
	if (ci->unchecked)
		fprintf(f, ",\"toolExecutionNotifications\":[{\"level\":\"error\",\"message\":{\"text"
			"\":\"No leak check for %zu process%s: the shim could not run it.\"}}]",
			ci->unchecked, ci->unchecked == 1 ? "" : "es");
	fputs("}],\n\"results\":[", f);
	for (size_t k = 0; k < n && !err; k++)
		for (size_t i = 0; i < reports[k]->nleaks && !err; i++) {
			const struct mp_leak *l = &reports[k]->leaks[i];
			if (!reported(l, ci->fail_on))
				continue;
			err = put_result(f, pl, reports[k], l, ci, &pr, first);
			first = false;
		}
	fputs("],\n", f);
	put_processes(f, reports, n);
	fputs("}]}\n", f);
	mp_leak_places_free(pl);
	free(pr.v);
	if (err)
		return err;
	return ferror(f) ? -EIO : 0;
}

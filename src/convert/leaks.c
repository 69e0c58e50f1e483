/* SPDX-License-Identifier: MIT */
/* The leak report (see leaks.h).  CLI only. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/grow.h"
#include "common/snapshot-read.h"
#include "common/snapshot.h"
#include "convert/escape.h"
#include "convert/leaks.h"
#include "pprof/pprof.h"
#include "symbolize/symbolize.h"

int mp_leaks_parse_fail_on(const char *s, unsigned *ret)
{
	static const struct {
		const char *name;
		unsigned bit;
	} names[] = {
		{ "definite", MP_FAIL_DEFINITE }, { "indirect", MP_FAIL_INDIRECT },
		{ "possible", MP_FAIL_POSSIBLE }, { "reachable", MP_FAIL_REACHABLE },
		{ "fds", MP_FAIL_FDS },
		{ "threads", MP_FAIL_THREADS }, { "timers", MP_FAIL_TIMERS },
	};
	unsigned v = 0;
	if (!*s)
		return -EINVAL;
	while (*s) {
		size_t n = strcspn(s, ",");
		size_t i;
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strlen(names[i].name) == n && strncmp(names[i].name, s, n) == 0)
				break;
		if (i == sizeof(names) / sizeof(names[0]))
			return -EINVAL;
		v |= names[i].bit;
		s += n;
		if (*s == ',' && *++s == 0)
			return -EINVAL;
	}
	*ret = v;
	return 0;
}

static void free_leak(struct mp_leak *l)
{
	for (size_t i = 0; i < l->nframes; i++) {
		free(l->frames[i].function);
		free(l->frames[i].file);
		free(l->frames[i].object);
	}
	free(l->frames);
	for (size_t i = 0; i < l->nres; i++)
		free(l->res[i].detail);
	free(l->res);
}

void mp_leaks_free(struct mp_leak_report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nleaks; i++)
		free_leak(&r->leaks[i]);
	free(r->leaks);
	free(r->program);
	free(r);
}

/* One more resource of leak group l. */
static int add_res(struct mp_leak *l, const struct mp_snap_res_rec *rr)
{
	struct mp_leak_res *n = realloc(l->res, (l->nres + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	l->res = n;
	n[l->nres] = (struct mp_leak_res){ .id = rr->id, .kind = rr->kind,
					   .detail = strndup(rr->detail, sizeof(rr->detail)) };
	if (!n[l->nres].detail)
		return -ENOMEM;
	l->nres++;
	return 0;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int symbolize_stack(struct mp_symbolizer *sym, const struct mp_snap_stack *st,
			   struct mp_leak *l)
{
	size_t cap = st->depth * 2 + 1;
	l->frames = calloc(cap, sizeof(*l->frames));
	if (!l->frames)
		return -ENOMEM;
	for (uint32_t i = 0; i < st->depth; i++) {
		struct mp_sym_result res;
		uint64_t pc = st->pcs[i];
		if (!sym || mp_symbolize(sym, pc ? pc - 1 : pc, &res) < 0)
			memset(&res, 0, sizeof(res));
		const char *obj = NULL;
		if (res.mapping && res.mapping->path && *res.mapping->path) {
			obj = strrchr(res.mapping->path, '/');
			obj = obj ? obj + 1 : res.mapping->path;
		}
		size_t nf = res.nframes ? res.nframes : 1;
		for (size_t k = 0; k < nf; k++) {
			if (l->nframes == cap) {
				size_t old = cap;
				if (MP_GROW(l->frames, l->nframes + 1, cap) < 0)
					return -ENOMEM;
				memset(l->frames + old, 0, (cap - old) * sizeof(*l->frames));
			}
			struct mp_leak_frame *f = &l->frames[l->nframes++];
			if (res.nframes) {
				f->function = strdup(res.frames[k].function);
				f->file = dup_or_null(res.frames[k].file);
				f->line = res.frames[k].line;
			} else if (res.mapping && res.mapping->path && res.mapping->path[0]) {
				/* object+offset: the same in every run (pprof.h) */
				char buf[MP_FRAME_NAME_MAX];
				mp_frame_offset_name(res.mapping->path, pc ? pc - 1 : pc,
						     res.mapping->start, res.mapping->offset, buf,
						     sizeof(buf));
				f->function = strdup(buf);
			} else {
				char buf[32];
				snprintf(buf, sizeof(buf), "0x%" PRIx64, pc);
				f->function = strdup(buf);
			}
			f->object = dup_or_null(obj);
			if (!f->function || (obj && !f->object))
				return -ENOMEM;
		}
	}
	return 0;
}

static int cmp_leak(const void *a, const void *b)
{
	const struct mp_leak *x = a, *y = b;
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	if (x->category != y->category)
		return x->category - y->category;
	return x->count > y->count ? -1 : x->count < y->count;
}

int mp_leaks_build(const struct mp_snap *snap, unsigned sym_flags, struct mp_leak_report **ret)
{
	return mp_leaks_build_with(snap, sym_flags, NULL, ret);
}

int mp_leaks_build_with(const struct mp_snap *snap, unsigned sym_flags,
			struct mp_symbolizer *shared, struct mp_leak_report **ret)
{
	struct mp_leak_report *r = calloc(1, sizeof(*r));
	struct mp_symbolizer *sym = NULL, *own = NULL;
	uint32_t *seen = NULL;   /* (stack, category) -> leak index + 1, MP_LEAK_CATEGORIES
				  * a stack */
	uint32_t *tseen = NULL;  /* threads: stack -> leak index + 1 */
	uint32_t *mseen = NULL;  /* timers: stack -> leak index + 1 */
	int err = -ENOMEM;

	if (!r)
		return -ENOMEM;
	r->pid = snap->header.pid;
	const char *prog = strrchr(snap->exe, '/');
	r->program = strdup(prog ? prog + 1 : *snap->exe ? snap->exe : "?");
	if (!r->program)
		goto fail;
	if (snap->nleaks || snap->nres) {
		r->leaks = calloc(snap->nleaks + snap->nres + 1, sizeof(*r->leaks));
		seen = calloc(((size_t)snap->nstacks + 1) * MP_LEAK_CATEGORIES, sizeof(*seen));
		tseen = calloc((size_t)snap->nstacks + 1, sizeof(*tseen));
		mseen = calloc((size_t)snap->nstacks + 1, sizeof(*mseen));
		if (!r->leaks || !seen || !tseen || !mseen)
			goto fail;
		if (shared)
			sym = shared;
		else if (mp_symbolizer_new(snap->maps, snap->maps_len, sym_flags, &own) == 0)
			sym = own;    /* else addresses only */
	}
	for (size_t i = 0; i < snap->nleaks; i++) {
		const struct mp_snap_leak_rec *rec = &snap->leaks[i];
		if (rec->stack_id == 0)
			continue;   /* not recorded: the shim's own bootstrap */
		uint32_t *slot = &seen[(size_t)rec->stack_id * MP_LEAK_CATEGORIES + rec->category];
		struct mp_leak *l;
		if (*slot) {
			l = &r->leaks[*slot - 1];
		} else {
			l = &r->leaks[r->nleaks++];
			*slot = (uint32_t)r->nleaks;
			l->kind = MP_PROFILE_HEAP;
			l->category = (int)rec->category;
			if (symbolize_stack(sym, mp_snap_stack(snap, rec->stack_id), l) < 0)
				goto fail;
		}
		l->bytes += rec->bytes;
		l->count += rec->count;
	}
	/* File descriptors still open at exit, not inherited: one group per
	 * creation stack (category 0).  The standard streams 0, 1 and 2 are
	 * never leaks, whoever opened them (Valgrind's --track-fds counts them
	 * apart too): a subshell's stdout is the pipe its parent made and
	 * dup2'd there, and the kernel closes them at exit. */
	for (size_t i = 0; i < snap->nres; i++) {
		const struct mp_snap_res_rec *rr = &snap->res[i];
		if (rr->flags & MP_RES_F_INHERITED)
			continue;
		if (rr->res_class == MP_RES_FD && rr->id >= 0 && rr->id <= 2)
			continue;
		/* groups by creation stack: descriptors in slot 0 of seen (heap
		 * classes use 1..4), threads and timers in arrays of their own */
		enum mp_profile_kind kind = mp_profile_kind_of_res_class(rr->res_class);
		if (kind == MP_PROFILE_NONE || kind == MP_PROFILE_HEAP)
			kind = MP_PROFILE_FDS;   /* (the reader allows no other class) */
		uint32_t *slot = kind == MP_PROFILE_FDS
				 ? &seen[(size_t)rr->stack_id * MP_LEAK_CATEGORIES + 0]
				 : kind == MP_PROFILE_THREADS ? &tseen[rr->stack_id]
							      : &mseen[rr->stack_id];
		struct mp_leak *l;
		if (rr->stack_id && *slot) {
			l = &r->leaks[*slot - 1];
		} else {
			l = &r->leaks[r->nleaks++];
			if (rr->stack_id)
				*slot = (uint32_t)r->nleaks;
			l->kind = kind;
			l->category = 0;
			if (rr->stack_id &&
			    symbolize_stack(sym, mp_snap_stack(snap, rr->stack_id), l) < 0)
				goto fail;
		}
		l->count++;
		if (add_res(l, rr) < 0)
			goto fail;
	}
	qsort(r->leaks, r->nleaks, sizeof(*r->leaks), cmp_leak);
	mp_symbolizer_free(own);
	free(seen);
	free(tseen);
	free(mseen);
	*ret = r;
	return 0;
fail:
	mp_symbolizer_free(own);
	free(seen);
	free(tseen);
	free(mseen);
	mp_leaks_free(r);
	return err;
}

/* ---- suppressions ---- */

struct supp_rule {
	enum mp_profile_kind kind;
	char *pattern;             /* the frame patterns, NUL-separated */
	size_t nframes;            /* how many (1 for LeakSanitizer's form) */
	char *line;                /* as written, for reports */
};

struct mp_supp {
	struct supp_rule *rules;
	size_t n, cap;
};

void mp_supp_free(struct mp_supp *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->rules[i].pattern);
		free(s->rules[i].line);
	}
	free(s->rules);
	free(s);
}

int mp_supp_parse(const char *text, size_t len, struct mp_supp **ret, char **ret_err)
{
	static const struct {
		const char *prefix;
		enum mp_profile_kind kind;
	} kinds[] = {
		{ "leak:", MP_PROFILE_HEAP }, { "fd:", MP_PROFILE_FDS },
		{ "thread:", MP_PROFILE_THREADS }, { "timer:", MP_PROFILE_TIMERS },
	};
	struct mp_supp *s = calloc(1, sizeof(*s));
	size_t lineno = 0;
	if (!s)
		return -ENOMEM;
	for (size_t off = 0; off < len;) {
		const char *line = text + off;
		const char *nl = memchr(line, '\n', len - off);
		size_t n = nl ? (size_t)(nl - line) : len - off;
		off += n + (nl ? 1 : 0);
		lineno++;
		while (n && (line[0] == ' ' || line[0] == '\t')) {
			line++;
			n--;
		}
		while (n && (line[n - 1] == ' ' || line[n - 1] == '\t' || line[n - 1] == '\r'))
			n--;
		if (n == 0 || line[0] == '#')
			continue;
		if (memchr(line, 0, n)) {
			if (ret_err && asprintf(ret_err, "line %zu contains a NUL byte", lineno) < 0)
				*ret_err = NULL;
			mp_supp_free(s);
			return -EINVAL;
		}
		size_t k;
		for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
			size_t pl = strlen(kinds[k].prefix);
			if (n > pl && strncmp(line, kinds[k].prefix, pl) == 0)
				break;
		}
		if (k == sizeof(kinds) / sizeof(kinds[0])) {
			if (ret_err && asprintf(ret_err, "line %zu: not 'leak:', 'fd:', 'thread:' or "
						"'timer:' followed by a pattern", lineno) < 0)
				*ret_err = NULL;
			mp_supp_free(s);
			return -EINVAL;
		}
		size_t pl = strlen(kinds[k].prefix);
		const char *pat = line + pl;
		size_t patlen = n - pl;
		/* Frames of a stack pattern are separated by ';': none empty. */
		if (pat[0] == ';' || pat[patlen - 1] == ';' || memmem(pat, patlen, ";;", 2)) {
			if (ret_err && asprintf(ret_err, "line %zu: an empty frame pattern between "
						"';'", lineno) < 0)
				*ret_err = NULL;
			mp_supp_free(s);
			return -EINVAL;
		}
		if (MP_GROW(s->rules, s->n + 1, s->cap) < 0) {
			mp_supp_free(s);
			return -ENOMEM;
		}
		struct supp_rule *nr = s->rules;
		nr[s->n].kind = kinds[k].kind;
		nr[s->n].pattern = strndup(pat, patlen);
		nr[s->n].line = strndup(line, n);
		nr[s->n].nframes = 1;
		if (!nr[s->n].pattern || !nr[s->n].line) {
			free(nr[s->n].pattern);
			free(nr[s->n].line);
			mp_supp_free(s);
			return -ENOMEM;
		}
		for (char *c = nr[s->n].pattern; (c = strchr(c, ';')); nr[s->n].nframes++)
			*c++ = 0;
		s->n++;
	}
	*ret = s;
	return 0;
}

/*
 * LeakSanitizer's template match, without backtracking.  The pattern is
 * split into its anchors and a core: '^' first anchors the start, '$' last
 * anchors the end; otherwise the core may start and end anywhere, as if it
 * began and ended with '*'.  The core is matched by the two-pointer glob
 * match: on a mismatch, go back to just after the last '*' seen and let it
 * take one more character of the text.  Only the last '*' matters (a match
 * found with an earlier one can be made with the later one too), so each
 * text position is retried at most once per '*' segment: O(|pattern| x
 * |text|) time, linear in the name for a given pattern, and no recursion
 * (issue 12: 25 '*' against a 50-character name took over 20 s).
 */
bool mp_supp_match(const char *pattern, const char *text)
{
	if (!text)
		return false;
	size_t pn = strlen(pattern), tn = strlen(text);
	bool start = pn > 0 && pattern[0] == '^';
	bool end = pn > (size_t)start && pattern[pn - 1] == '$';
	const char *p = pattern + start;
	size_t n = pn - start - end;
	/* star: index after the last '*' (SIZE_MAX: none yet); mark: the text
	 * position that '*' is to take next.  Unanchored start: a virtual '*'
	 * before the core. */
	size_t i = 0, j = 0, star = start ? SIZE_MAX : 0, mark = 0;

	for (;;) {
		if (i == n) {
			if (j == tn || !end)
				return true;   /* unanchored end: the rest is a virtual '*' */
		} else if (p[i] == '*') {
			star = ++i;
			mark = j;
			continue;
		} else if (j < tn && p[i] == text[j]) {
			i++;
			j++;
			continue;
		}
		/* mismatch (or text left over at an anchored end) */
		if (star == SIZE_MAX || mark >= tn)
			return false;
		i = star;
		j = ++mark;
	}
}

static bool frame_matches(const char *pat, const struct mp_leak_frame *fr)
{
	return mp_supp_match(pat, fr->function) || mp_supp_match(pat, fr->file) ||
	       mp_supp_match(pat, fr->object);
}

/* Whether the rule's frame patterns match consecutive frames of the stack,
 * the first one at some frame. */
static bool rule_matches(const struct supp_rule *rule, const struct mp_leak *l)
{
	for (size_t f = 0; f + rule->nframes <= l->nframes; f++) {
		const char *pat = rule->pattern;
		size_t m = 0;

		while (m < rule->nframes && frame_matches(pat, &l->frames[f + m])) {
			pat += strlen(pat) + 1;
			m++;
		}
		if (m == rule->nframes)
			return true;
	}
	return false;
}

void mp_supp_apply(const struct mp_supp *s, struct mp_leak_report *r)
{
	if (!s)
		return;
	for (size_t i = 0; i < r->nleaks; i++) {
		struct mp_leak *l = &r->leaks[i];
		for (size_t k = 0; k < s->n && !l->suppressed_by; k++)
			if (s->rules[k].kind == l->kind && rule_matches(&s->rules[k], l))
				l->suppressed_by = s->rules[k].line;
	}
}

/* ---- verdict and output ---- */

/* The heap classes, indexed by enum mp_snap_leak_category. */
static const struct heap_class {
	const char *name;          /* mp_leak_class() */
	const char *words;         /* the text report's */
	unsigned bit;              /* MP_FAIL_* */
} heap_classes[MP_LEAK_CATEGORIES] = {
	[MP_LEAK_DEFINITE] = { "definite", "definitely lost", MP_FAIL_DEFINITE },
	[MP_LEAK_INDIRECT] = { "indirect", "indirectly lost", MP_FAIL_INDIRECT },
	[MP_LEAK_POSSIBLE] = { "possible", "possibly lost", MP_FAIL_POSSIBLE },
	[MP_LEAK_REACHABLE] = { "reachable", "still reachable", MP_FAIL_REACHABLE },
};

/* A heap group's class (one the reader does not know: reachable, which
 * fails nothing by default). */
static const struct heap_class *heap_class(const struct mp_leak *l)
{
	if (l->category >= MP_LEAK_DEFINITE && l->category <= MP_LEAK_CATEGORY_MAX)
		return &heap_classes[l->category];
	return &heap_classes[MP_LEAK_REACHABLE];
}

unsigned mp_leak_fail_bit(const struct mp_leak *l)
{
	switch (l->kind) {
	case MP_PROFILE_HEAP:
		return heap_class(l)->bit;
	case MP_PROFILE_FDS: return MP_FAIL_FDS;
	case MP_PROFILE_THREADS: return MP_FAIL_THREADS;
	case MP_PROFILE_TIMERS: return MP_FAIL_TIMERS;
	case MP_PROFILE_PEAK:   /* never a leak */
	case MP_PROFILE_NONE: break;
	}
	return 0;
}

bool mp_leaks_failing(const struct mp_leak_report *r, unsigned fail_on)
{
	for (size_t i = 0; i < r->nleaks; i++)
		if (!r->leaks[i].suppressed_by && (mp_leak_fail_bit(&r->leaks[i]) & fail_on))
			return true;
	return false;
}

const char *mp_leak_class(const struct mp_leak *l)
{
	switch (l->kind) {
	case MP_PROFILE_HEAP:
		return heap_class(l)->name;
	case MP_PROFILE_FDS:
	case MP_PROFILE_THREADS:
	case MP_PROFILE_TIMERS: return mp_profile_kinds[l->kind].item;
	case MP_PROFILE_PEAK:   /* never a leak */
	case MP_PROFILE_NONE: break;
	}
	return "?";
}

static const char *category_words(const struct mp_leak *l)
{
	switch (l->kind) {
	case MP_PROFILE_HEAP:
		return heap_class(l)->words;
	case MP_PROFILE_FDS: return "file descriptors still open";
	case MP_PROFILE_THREADS: return "threads still alive or never joined";
	case MP_PROFILE_TIMERS: return "timers never deleted";
	case MP_PROFILE_PEAK:   /* never a leak */
	case MP_PROFILE_NONE: break;
	}
	return "?";
}

static const char *category_one(const struct mp_leak *l)
{
	switch (l->kind) {
	case MP_PROFILE_FDS: return "file descriptor still open";
	case MP_PROFILE_THREADS: return "thread still alive or never joined";
	case MP_PROFILE_TIMERS: return "timer never deleted";
	default: return category_words(l);
	}
}

/* ---- what a leaked resource is ---- */

static const char *const fd_types[MP_FD_KINDS] = {
	"other", "file", "directory", "socket", "pipe", "eventfd", "epoll", "timerfd",
	"signalfd", "inotify", "memfd",
};

static const char *fd_type(const struct mp_leak_res *x)
{
	return x->kind < MP_FD_KINDS ? fd_types[x->kind] : "other";
}

/* A thread's "name routine" (common/snapshot.h): the routine follows the
 * last space.  Pointers into `detail`, lengths in *ret_*len. */
static void split_thread(const char *detail, int *ret_name_len, const char **ret_routine)
{
	const char *sp = strrchr(detail, ' ');

	*ret_name_len = sp ? (int)(sp - detail) : (int)strlen(detail);
	*ret_routine = sp ? sp + 1 : "";
}

/* A timer's "clock" or "clock interval <N>ns": the clock's length and the
 * interval (0: none). */
static void split_timer(const char *detail, int *ret_clock_len, uint64_t *ret_interval_ns)
{
	const char *iv = strstr(detail, " interval ");

	*ret_clock_len = iv ? (int)(iv - detail) : (int)strlen(detail);
	*ret_interval_ns = iv ? strtoull(iv + 10, NULL, 10) : 0;
}

/* "1s", "250ms", "1.5s", "2m", "100us". */
static void put_duration(FILE *f, uint64_t ns)
{
	static const struct { uint64_t ns; const char *unit; } units[] = {
		{ 3600000000000ull, "h" }, { 60000000000ull, "m" }, { 1000000000, "s" },
		{ 1000000, "ms" }, { 1000, "us" }, { 1, "ns" },
	};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (ns >= units[i].ns || units[i].ns == 1) {
			if (ns % units[i].ns == 0)
				fprintf(f, "%" PRIu64 "%s", ns / units[i].ns, units[i].unit);
			else
				fprintf(f, "%.3g%s", (double)ns / (double)units[i].ns, units[i].unit);
			return;
		}
}

/* One resource for the text report: "3 (/etc/hostname)", "7 (socket inet
 * stream 127.0.0.1:80 <-> 127.0.0.1:5000)", "4242 'worker' (running,
 * start routine worker_main)", "monotonic clock, armed, every 1s". */
static void put_res(FILE *f, enum mp_profile_kind kind, const struct mp_leak_res *x)
{
	if (kind == MP_PROFILE_THREADS) {
		int nl;
		const char *routine;
		split_thread(x->detail, &nl, &routine);
		fprintf(f, "%" PRId64, x->id);
		if (nl)
			fprintf(f, " '%.*s'", nl, x->detail);
		fprintf(f, " (%s", x->kind == MP_THREAD_RUNNING ? "running" : "ended, never joined");
		if (*routine)
			fprintf(f, ", start routine %s", routine);
		fputc(')', f);
	} else if (kind == MP_PROFILE_TIMERS) {
		int cl;
		uint64_t iv;
		split_timer(x->detail, &cl, &iv);
		fprintf(f, "%.*s clock, %s", cl, x->detail,
			x->kind == MP_TIMER_ARMED ? "armed" : "disarmed");
		if (iv) {
			fputs(", every ", f);
			put_duration(f, iv);
		}
	} else {
		const char *type = fd_type(x);
		fprintf(f, "%" PRId64 " (", x->id);
		if (x->kind == MP_FD_FILE || x->kind == MP_FD_DIR || x->kind == MP_FD_OTHER ||
		    x->kind == MP_FD_MEMFD)
			fputs(*x->detail ? x->detail : type, f);      /* the path */
		else if (x->kind == MP_FD_PIPE)
			fprintf(f, "pipe%s%s", *x->detail ? ", " : "", x->detail);
		else
			fprintf(f, "%s%s%s", type, *x->detail ? " " : "", x->detail);
		fputc(')', f);
	}
}

/* The resources of a group after its header: ": 3 (/etc/hostname), 4 (...)",
 * at most RES_SHOWN, then how many more. */
#define RES_SHOWN 8

static void put_res_list(FILE *f, const struct mp_leak *l)
{
	for (size_t i = 0; i < l->nres && i < RES_SHOWN; i++) {
		fputs(i ? ", " : ": ", f);
		put_res(f, l->kind, &l->res[i]);
	}
	if (l->nres > RES_SHOWN)
		fprintf(f, " and %zu more", l->nres - RES_SHOWN);
}

void mp_leak_frame_describe(FILE *f, const struct mp_leak_frame *fr)
{
	size_t ol = fr->object ? strlen(fr->object) : 0;

	fputs(fr->function, f);
	if (fr->file)
		fprintf(f, " (%s:%" PRId64 ")", fr->file, fr->line);
	else if (fr->object && !(strncmp(fr->function, fr->object, ol) == 0 &&
				 strncmp(fr->function + ol, "+0x", 3) == 0))
		fprintf(f, " (in %s)", fr->object);   /* not again after "obj+0x..." */
}

void mp_leak_print_stack(FILE *f, const struct mp_leak *l, const char *prefix)
{
	for (size_t i = 0; i < l->nframes; i++) {
		fprintf(f, "%s%s ", prefix, i ? "by" : "at");
		mp_leak_frame_describe(f, &l->frames[i]);
		fputc('\n', f);
	}
}

void mp_leak_describe(FILE *f, const struct mp_leak *l)
{
	if (l->kind == MP_PROFILE_HEAP) {
		fprintf(f, "%" PRIu64 " bytes in %" PRIu64 " block%s %s", l->bytes, l->count,
			l->count == 1 ? "" : "s", category_words(l));
	} else {
		fprintf(f, "%" PRIu64 " %s", l->count,
			l->count == 1 ? category_one(l) : category_words(l));
		put_res_list(f, l);
	}
}

void mp_leak_totals_add(struct mp_leak_totals *t, const struct mp_leak_report *r)
{
	for (size_t i = 0; i < r->nleaks; i++) {
		const struct mp_leak *l = &r->leaks[i];
		bool heap = l->kind == MP_PROFILE_HEAP;

		if (l->suppressed_by) {
			t->suppressed_groups++;
			if (heap) {
				t->suppressed_bytes += l->bytes;
				t->suppressed_blocks += l->count;
			}
			continue;
		}
		switch (l->kind) {
		case MP_PROFILE_HEAP:
			if (l->category >= MP_LEAK_DEFINITE && l->category <= MP_LEAK_CATEGORY_MAX) {
				t->bytes[l->category] += l->bytes;
				t->blocks[l->category] += l->count;
			}
			break;
		case MP_PROFILE_FDS: t->fds += l->count; break;
		case MP_PROFILE_THREADS: t->threads += l->count; break;
		case MP_PROFILE_TIMERS: t->timers += l->count; break;
		case MP_PROFILE_PEAK:
		case MP_PROFILE_NONE: break;
		}
	}
}

void mp_leaks_print(FILE *f, const struct mp_leak_report *r, bool full)
{
	struct mp_leak_totals t = { 0 };

	mp_leak_totals_add(&t, r);
	if (full)
		for (size_t i = 0; i < r->nleaks; i++) {
			const struct mp_leak *l = &r->leaks[i];
			if (l->suppressed_by ||
			    (l->kind == MP_PROFILE_HEAP && l->category == MP_LEAK_REACHABLE))
				continue;
			fputs("memprof: ", f);
			mp_leak_describe(f, l);
			fputc('\n', f);
			mp_leak_print_stack(f, l, "memprof:     ");
		}
	fprintf(f, "memprof: leak summary for %s (pid %" PRIu64 "):\n",
		r->program ? r->program : "?", r->pid);
	fprintf(f, "memprof:    definitely lost: %" PRIu64 " bytes in %" PRIu64 " blocks\n",
		t.bytes[MP_LEAK_DEFINITE], t.blocks[MP_LEAK_DEFINITE]);
	fprintf(f, "memprof:    indirectly lost: %" PRIu64 " bytes in %" PRIu64 " blocks\n",
		t.bytes[MP_LEAK_INDIRECT], t.blocks[MP_LEAK_INDIRECT]);
	fprintf(f, "memprof:      possibly lost: %" PRIu64 " bytes in %" PRIu64 " blocks\n",
		t.bytes[MP_LEAK_POSSIBLE], t.blocks[MP_LEAK_POSSIBLE]);
	fprintf(f, "memprof:    still reachable: %" PRIu64 " bytes in %" PRIu64 " blocks\n",
		t.bytes[MP_LEAK_REACHABLE], t.blocks[MP_LEAK_REACHABLE]);
	if (t.suppressed_blocks)
		fprintf(f, "memprof:         suppressed: %" PRIu64 " bytes in %" PRIu64 " blocks\n",
			t.suppressed_bytes, t.suppressed_blocks);
	if (t.fds)
		fprintf(f, "memprof:   file descriptors: %" PRIu64 " still open\n", t.fds);
	if (t.threads)
		fprintf(f, "memprof:            threads: %" PRIu64 " still alive or not joined\n",
			t.threads);
	if (t.timers)
		fprintf(f, "memprof:             timers: %" PRIu64 " never deleted\n", t.timers);
}

/*
 * Frames a generated suppression must not anchor on: the allocator, libc,
 * the C++ runtime and code inlined from their headers (pprof.h,
 * mp_frame_is_runtime).  Naming one of them (`leak:^strdup$`,
 * `leak:^std::__new_allocator<char>::allocate(...)$`) would silence every
 * future leak through it, anywhere in the program.
 */
static bool wrapper_frame(const struct mp_leak_frame *fr)
{
	return mp_frame_is_runtime(fr->function, fr->file, fr->object);
}

size_t mp_leak_first_own(const struct mp_leak *l)
{
	size_t first = 0;

	while (first < l->nframes && wrapper_frame(&l->frames[first]))
		first++;
	return first;
}

/* Frames of the process's start-up, outside every program's own code. */
static bool startup_frame(const char *fn)
{
	return strncmp(fn, "__libc_start_", 13) == 0 || strcmp(fn, "_start") == 0;
}

/* One frame's pattern: the name anchored; ';' (the frame separator) and a
 * run-time address, different in every run, become '*'. */
static void put_frame_pattern(FILE *f, const char *fn)
{
	if (strncmp(fn, "0x", 2) == 0) {
		fputc('*', f);
		return;
	}
	fputc('^', f);
	for (const char *c = fn; *c; c++)
		fputc(*c == ';' || *c == '\n' ? '*' : *c, f);
	fputc('$', f);
}

/*
 * The suppression for one leak, single frames joined by ';' (consecutive
 * frames, innermost first): the first frame that is not a wrapper (the
 * program's own code, or a library's that is not the allocator's) and its
 * callers, up to SUPP_FRAMES frames and never past main.  A leak whose
 * every frame is a wrapper gets its innermost frames as they are.
 * malloc'd, NULL on OOM.
 */
#define SUPP_FRAMES 3

char *mp_leak_suppression(const struct mp_leak *l)
{
	/* "leak:" as LSan's; "fd:", "thread:", "timer:" for resources. */
	const char *prefix = l->kind == MP_PROFILE_HEAP ? "leak" : mp_profile_kinds[l->kind].item;
	size_t first = 0, len = 0;
	char *buf = NULL;
	FILE *f;

	first = mp_leak_first_own(l);
	if (first == l->nframes)
		first = 0;
	f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	fprintf(f, "%s:", prefix);
	for (size_t i = first, n = 0; i < l->nframes && n < SUPP_FRAMES; i++, n++) {
		const char *fn = l->frames[i].function;
		if (n && startup_frame(fn))
			break;
		if (n)
			fputc(';', f);
		put_frame_pattern(f, fn);
		if (strcmp(fn, "main") == 0)
			break;
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

void mp_leaks_print_suppressions(FILE *f, const struct mp_leak_report *r)
{
	char **done = calloc(r->nleaks + 1, sizeof(*done));
	size_t ndone = 0;

	for (size_t i = 0; i < r->nleaks; i++) {
		const struct mp_leak *l = &r->leaks[i];
		if (l->suppressed_by || !l->nframes ||
		    (l->kind == MP_PROFILE_HEAP && l->category == MP_LEAK_REACHABLE))
			continue;
		char *line = mp_leak_suppression(l);
		if (!line)
			continue;
		bool seen = false;
		for (size_t k = 0; k < ndone && !seen; k++)
			seen = strcmp(done[k], line) == 0;
		if (seen || !done) {
			free(line);
			continue;
		}
		fprintf(f, "%s\n", line);
		done[ndone++] = line;
	}
	for (size_t k = 0; k < ndone; k++)
		free(done[k]);
	free(done);
}

/* One resource of a leak as JSON: {"fd":3,"type":"file","detail":"/etc/hostname"},
 * {"tid":42,"name":"worker","state":"running","start":"worker_main"},
 * {"clock":"monotonic","state":"armed","interval_ns":1000000000}. */
void mp_leak_res_json(FILE *f, enum mp_profile_kind kind, const struct mp_leak_res *x)
{
	if (kind == MP_PROFILE_THREADS) {
		int nl;
		const char *routine;
		char *name;
		split_thread(x->detail, &nl, &routine);
		name = strndup(x->detail, (size_t)nl);
		fprintf(f, "{\"tid\":%" PRId64 ",\"name\":", x->id);
		mp_put_json_str(f, name ? name : "");
		fprintf(f, ",\"state\":\"%s\",\"start\":",
			x->kind == MP_THREAD_RUNNING ? "running" : "ended, not joined");
		mp_put_json_str(f, routine);
		fputc('}', f);
		free(name);
	} else if (kind == MP_PROFILE_TIMERS) {
		int cl;
		uint64_t iv;
		char *clock;
		split_timer(x->detail, &cl, &iv);
		clock = strndup(x->detail, (size_t)cl);
		fputs("{\"clock\":", f);
		mp_put_json_str(f, clock ? clock : "");
		fprintf(f, ",\"state\":\"%s\",\"interval_ns\":%" PRIu64 "}",
			x->kind == MP_TIMER_ARMED ? "armed" : "disarmed", iv);
		free(clock);
	} else {
		fprintf(f, "{\"fd\":%" PRId64 ",\"type\":\"%s\",\"detail\":", x->id, fd_type(x));
		mp_put_json_str(f, x->detail);
		fputc('}', f);
	}
}

int mp_leaks_json(FILE *f, struct mp_leak_report *const *reports, size_t n)
{
	struct mp_leak_totals t = { 0 };
	bool first = true;

	fputs("{\"leaks\":[", f);
	for (size_t k = 0; k < n; k++) {
		const struct mp_leak_report *r = reports[k];
		mp_leak_totals_add(&t, r);
		for (size_t i = 0; i < r->nleaks; i++) {
			const struct mp_leak *l = &r->leaks[i];
			if (l->suppressed_by)
				continue;
			const char *cat = l->kind != MP_PROFILE_HEAP ? (l->kind == MP_PROFILE_FDS
									   ? "open" : "alive")
								     : mp_leak_class(l);
			fprintf(f, "%s{\"kind\":\"%s\",\"category\":\"%s\",\"bytes\":%" PRIu64
				",\"count\":%" PRIu64 ",\"pid\":%" PRIu64 ",\"program\":",
				first ? "" : ",", mp_profile_kinds[l->kind].item, cat, l->bytes, l->count,
				r->pid);
			mp_put_json_str(f, r->program ? r->program : "?");
			fputs(",\"stack\":[", f);
			first = false;
			for (size_t j = 0; j < l->nframes; j++) {
				const struct mp_leak_frame *fr = &l->frames[j];
				fputs(j ? ",{\"function\":" : "{\"function\":", f);
				mp_put_json_str(f, fr->function);
				fputs(",\"file\":", f);
				if (fr->file)
					mp_put_json_str(f, fr->file);
				else
					fputs("null", f);
				fprintf(f, ",\"line\":%" PRId64 ",\"object\":", fr->line);
				if (fr->object)
					mp_put_json_str(f, fr->object);
				else
					fputs("null", f);
				fputc('}', f);
			}
			fputc(']', f);
			if (l->kind != MP_PROFILE_HEAP) {
				fputs(",\"resources\":[", f);
				for (size_t j = 0; j < l->nres; j++) {
					fputs(j ? "," : "", f);
					mp_leak_res_json(f, l->kind, &l->res[j]);
				}
				fputc(']', f);
			}
			fputc('}', f);
		}
	}
	fprintf(f, "],\"summary\":{\"heap_definite_bytes\":%" PRIu64 ",\"heap_indirect_bytes\":%" PRIu64
		",\"heap_possible_bytes\":%" PRIu64 ",\"heap_reachable_bytes\":%" PRIu64
		",\"fds\":%" PRIu64 ",\"threads\":%" PRIu64 ",\"timers\":%" PRIu64 "}}\n",
		t.bytes[MP_LEAK_DEFINITE], t.bytes[MP_LEAK_INDIRECT], t.bytes[MP_LEAK_POSSIBLE],
		t.bytes[MP_LEAK_REACHABLE], t.fds, t.threads, t.timers);
	return ferror(f) ? -EIO : 0;
}

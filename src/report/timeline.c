/* SPDX-License-Identifier: MIT */
/*
 * `memprof timeline` (see timeline.h): gather one point per snapshot, find
 * the stacks whose in-use bytes grew most from the first snapshot to the
 * one with the largest heap, and draw both as SVG.  The HTML form wraps the same SVG with a table
 * of the growing stacks' full frames; neither loads anything from elsewhere.
 * CLI only.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/grow.h"
#include "report/timeline.h"

/* ---- names ------------------------------------------------------------------ */

/* Length of the suffix `name` ends in, after at least one character: a
 * profile kind's (common/profile-kind.h; the kind in *ret_kind), or
 * ".pb.gz" (MP_PROFILE_NONE); 0 for none. */
static size_t suffix_len(const char *name, enum mp_profile_kind *ret_kind)
{
	static const char other[] = ".pb.gz";
	enum mp_profile_kind k = mp_profile_kind_of_name(name);
	size_t len = strlen(name);

	*ret_kind = k;
	if (k != MP_PROFILE_NONE)
		return strlen(mp_profile_kinds[k].suffix);
	if (len > sizeof(other) - 1 && strcmp(name + len - (sizeof(other) - 1), other) == 0)
		return sizeof(other) - 1;
	return 0;
}

char *mp_snapname_numbered(const char *final, uint32_t seq)
{
	enum mp_profile_kind k;
	size_t slen = suffix_len(final, &k), len = strlen(final);
	char *s = NULL;

	if (asprintf(&s, "%.*s.s%04" PRIu32 "%s", (int)(len - slen), final, seq,
		     final + len - slen) < 0)
		return NULL;
	return s;
}

int mp_snapname_parse(const char *name, char **ret_series, uint32_t *ret_seq,
		      enum mp_profile_kind *ret_kind)
{
	enum mp_profile_kind kind;
	size_t slen = suffix_len(name, &kind), len = strlen(name) - slen;
	uint32_t seq = 0;
	char *series;

	/* ".s" followed by 4 or more digits, at the end of what is left */
	size_t d = len;
	while (d > 0 && name[d - 1] >= '0' && name[d - 1] <= '9')
		d--;
	if (slen && len - d >= 4 && d >= 3 && name[d - 1] == 's' && name[d - 2] == '.') {
		uint64_t v = 0;

		for (size_t k = d; k < len && v <= UINT32_MAX; k++)
			v = v * 10 + (uint64_t)(name[k] - '0');
		if (v >= 1 && v <= UINT32_MAX) {
			seq = (uint32_t)v;
			len = d - 2;
		}
	}
	series = strndup(name, slen ? len : strlen(name));
	if (!series)
		return -ENOMEM;
	*ret_series = series;
	*ret_seq = seq;
	*ret_kind = kind;
	return 0;
}

char *mp_snapname_sibling(const char *heap, enum mp_profile_kind kind)
{
	enum mp_profile_kind k;
	size_t len = strlen(heap), hl = suffix_len(heap, &k);
	char *s = NULL;

	/* "x.heap.pb.gz" and, as `memprof run -o x.pb.gz` names it, "x.pb.gz". */
	if (kind == MP_PROFILE_NONE || (k != MP_PROFILE_HEAP && (k != MP_PROFILE_NONE || !hl)))
		return NULL;
	if (asprintf(&s, "%.*s%s", (int)(len - hl), heap, mp_profile_kinds[kind].suffix) < 0)
		return NULL;
	return s;
}

/* ---- gathering ------------------------------------------------------------------ */

/* Stack index: open addressing over stack keys (frame names joined by '\n'). */
struct stack_index {
	size_t cap, n;
	size_t *slots;      /* stack number + 1, 0 = empty */
	char **keys;        /* per stack */
	size_t keys_cap, stacks_cap;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

void mp_timeline_init(struct mp_timeline *t)
{
	memset(t, 0, sizeof(*t));
	t->heap_peak = t->heap_peak_ns = MP_TIMELINE_UNKNOWN;
}

int mp_timeline_add_peak(struct mp_timeline *t, const struct mp_profile *peak)
{
	int idx = mp_profile_type_index(peak, "inuse_space");
	int64_t total = 0;

	if (idx < 0)
		return -EINVAL;
	for (size_t i = 0; i < peak->msg->n_sample; i++) {
		int64_t v = peak->msg->sample[i]->value[idx];

		if (v > 0 && __builtin_add_overflow(total, v, &total))
			total = INT64_MAX;
	}
	if (t->heap_peak == MP_TIMELINE_UNKNOWN || total > t->heap_peak) {
		t->heap_peak = total;
		t->heap_peak_ns = peak->msg->time_nanos;
	}
	return 0;
}

static void index_free(struct stack_index *ix)
{
	if (!ix)
		return;
	for (size_t i = 0; i < ix->n; i++)
		free(ix->keys[i]);
	free(ix->keys);
	free(ix->slots);
	free(ix);
}

void mp_timeline_done(struct mp_timeline *t)
{
	for (size_t i = 0; i < t->npoints; i++)
		free(t->points[i].label);
	for (size_t i = 0; i < t->nstacks; i++) {
		free(t->stacks[i].name);
		free(t->stacks[i].full);
		free(t->stacks[i].inuse);
		free(t->stacks[i].where);
	}
	free(t->points);
	free(t->stacks);
	index_free(t->priv);
	memset(t, 0, sizeof(*t));
}

/* Stack number for `key` (taken over on insert, freed otherwise); -ENOMEM. */
static int64_t stack_lookup(struct mp_timeline *t, char *key)
{
	struct stack_index *ix = t->priv;
	uint64_t h = hash_str(key);

	if (!ix) {
		ix = calloc(1, sizeof(*ix));
		if (!ix)
			goto oom;
		t->priv = ix;
	}
	if ((ix->n + 1) * 2 > ix->cap) {
		size_t ncap = ix->cap ? ix->cap * 2 : 256;
		size_t *ns = calloc(ncap, sizeof(*ns));

		if (!ns)
			goto oom;
		for (size_t i = 0; i < ix->cap; i++) {
			if (!ix->slots[i])
				continue;
			size_t j = hash_str(ix->keys[ix->slots[i] - 1]) & (ncap - 1);
			while (ns[j])
				j = (j + 1) & (ncap - 1);
			ns[j] = ix->slots[i];
		}
		free(ix->slots);
		ix->slots = ns;
		ix->cap = ncap;
	}
	size_t j = h & (ix->cap - 1);
	for (; ix->slots[j]; j = (j + 1) & (ix->cap - 1)) {
		if (strcmp(ix->keys[ix->slots[j] - 1], key) == 0) {
			free(key);
			return (int64_t)ix->slots[j] - 1;
		}
	}
	/* a new stack: a slot in t->stacks with one zero per point so far */
	if (MP_GROW(ix->keys, ix->n + 1, ix->keys_cap) < 0 ||
	    MP_GROW(t->stacks, ix->n + 1, ix->stacks_cap) < 0)
		goto oom;
	struct mp_timeline_stack *s = &t->stacks[ix->n];
	memset(s, 0, sizeof(*s));
	s->inuse = calloc(t->npoints + 1, sizeof(*s->inuse));
	if (!s->inuse)
		goto oom;
	ix->keys[ix->n] = key;
	ix->slots[j] = ++ix->n;
	t->nstacks = ix->n;
	return (int64_t)ix->n - 1;
oom:
	free(key);
	return -ENOMEM;
}

/* The frames of a sample, leaf first, one per line (inlined frames too). */
static char *stack_key(const struct mp_profile *p, const Perftools__Profiles__Sample *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	for (size_t i = 0; i < s->n_location_id; i++) {
		const Perftools__Profiles__Location *loc = mp_profile_location(p, s->location_id[i]);

		if (!loc)
			continue;
		if (loc->n_line == 0) {
			char name[MP_FRAME_NAME_MAX];

			mp_profile_location_name(p, loc, name, sizeof(name));
			fprintf(f, "%s\n", name);
			continue;
		}
		for (size_t k = 0; k < loc->n_line; k++) {
			const Perftools__Profiles__Function *fn =
				mp_profile_function(p, loc->line[k]->function_id);
			const char *name = fn ? mp_profile_str(p, fn->name) : "";

			fprintf(f, "%s\n", *name ? name : "?");
		}
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	if (len && buf[len - 1] == '\n')
		buf[len - 1] = '\0';
	return buf;
}

/*
 * The name of a stack: its first frame that is the program's own (not the
 * allocator's, libc's or the C++ runtime's, pprof.h mp_frame_is_runtime),
 * with the file's base name and the line: "load_config (config.c:42)";
 * the leaf when every frame is the runtime's.  malloc'd, NULL on OOM.
 */
static char *stack_where(const struct mp_profile *p, const Perftools__Profiles__Sample *s)
{
	char *out = NULL, unnamed[MP_FRAME_NAME_MAX];

	for (int pass = 0; pass < 2 && !out; pass++) {
		for (size_t i = 0; i < s->n_location_id && !out; i++) {
			const Perftools__Profiles__Location *loc = mp_profile_location(p, s->location_id[i]);
			const Perftools__Profiles__Mapping *m;
			const char *obj;

			if (!loc)
				continue;
			m = mp_profile_mapping(p, loc->mapping_id);
			obj = m ? mp_profile_str(p, m->filename) : NULL;
			if (loc->n_line == 0) {
				mp_profile_location_name(p, loc, unnamed, sizeof(unnamed));
				if (pass == 1 || !mp_frame_is_runtime(unnamed, NULL, obj))
					out = strdup(unnamed);
				continue;
			}
			for (size_t k = 0; k < loc->n_line && !out; k++) {
				const Perftools__Profiles__Function *fn =
					mp_profile_function(p, loc->line[k]->function_id);
				const char *name = fn ? mp_profile_str(p, fn->name) : "";
				const char *file = fn && fn->filename ? mp_profile_str(p, fn->filename)
								      : NULL;
				const char *base;

				if (!*name)
					name = "?";
				if (pass == 0 && mp_frame_is_runtime(name, file, obj))
					continue;
				base = file && *file ? strrchr(file, '/') : NULL;
				base = base ? base + 1 : file;
				if (base && *base && loc->line[k]->line > 0) {
					if (asprintf(&out, "%s (%s:%" PRId64 ")", name, base,
						     loc->line[k]->line) < 0)
						return NULL;
				} else {
					out = strdup(name);
				}
				if (!out)
					return NULL;
			}
		}
	}
	return out ? out : strdup("?");
}

/* Statistic `name` of the profile (memprof_stat), or for a profile of an
 * earlier memprof a numeric "Name=value" comment, or MP_TIMELINE_UNKNOWN. */
static int64_t comment_value(const struct mp_profile *p, const char *name)
{
	size_t n = strlen(name);
	int64_t v;

	if (mp_profile_stat(p, name, &v) == 0 && v >= 0)
		return v;

	for (size_t i = 0; i < p->msg->n_comment; i++) {
		const char *c = mp_profile_str(p, p->msg->comment[i]);
		char *end;

		if (strncmp(c, name, n) != 0 || c[n] != '=' || c[n + 1] < '0' || c[n + 1] > '9')
			continue;
		errno = 0;
		unsigned long long v = strtoull(c + n + 1, &end, 10);
		if (*end == '\0' && errno == 0 && v <= INT64_MAX)
			return (int64_t)v;
	}
	return MP_TIMELINE_UNKNOWN;
}

/* Sum of the first sample type's values: the live count of a resource. */
static int64_t live_count(const struct mp_profile *p)
{
	int64_t sum = 0;

	if (!p)
		return MP_TIMELINE_UNKNOWN;
	for (size_t i = 0; i < p->msg->n_sample; i++)
		if (p->msg->sample[i]->n_value > 0)
			sum += p->msg->sample[i]->value[0];
	return sum;
}

int mp_timeline_add(struct mp_timeline *t, const char *label, const struct mp_profile *heap,
		    const struct mp_profile *fds, const struct mp_profile *threads, const struct mp_profile *timers,
		    char **ret_err)
{
	int idx = mp_profile_type_index(heap, "inuse_space");
	struct mp_timeline_point *pts, *pt;
	int64_t total = 0;

	if (idx < 0) {
		if (ret_err)
			*ret_err = strdup("it has no inuse_space sample type (not a heap profile)");
		return -EINVAL;
	}
	pts = realloc(t->points, (t->npoints + 1) * sizeof(*pts));
	if (!pts)
		return -ENOMEM;
	t->points = pts;
	/* every known stack gets a zero for the new point */
	for (size_t i = 0; i < t->nstacks; i++) {
		int64_t *v = realloc(t->stacks[i].inuse, (t->npoints + 1) * sizeof(*v));

		if (!v)
			return -ENOMEM;
		v[t->npoints] = 0;
		t->stacks[i].inuse = v;
	}
	for (size_t i = 0; i < heap->msg->n_sample; i++) {
		const Perftools__Profiles__Sample *s = heap->msg->sample[i];
		int64_t v = s->value[idx];
		char *key;
		int64_t k;

		total += v;
		if (v == 0)
			continue;
		key = stack_key(heap, s);
		if (!key)
			return -ENOMEM;
		k = stack_lookup(t, key);
		if (k < 0)
			return (int)k;
		t->stacks[k].inuse[t->npoints] += v;
		if (!t->stacks[k].where && !(t->stacks[k].where = stack_where(heap, s)))
			return -ENOMEM;
	}
	pt = &t->points[t->npoints];
	memset(pt, 0, sizeof(*pt));
	pt->label = strdup(label ? label : "");
	if (!pt->label)
		return -ENOMEM;
	pt->time_ns = heap->msg->time_nanos;
	pt->heap = comment_value(heap, "HeapAlloc");
	pt->heap_from_stat = pt->heap != MP_TIMELINE_UNKNOWN;
	if (!pt->heap_from_stat)
		pt->heap = total;
	pt->rss = comment_value(heap, "RSS");
	pt->fds = live_count(fds);
	pt->threads = live_count(threads);
	pt->timers = live_count(timers);
	t->npoints++;
	return 0;
}

static int cmp_growth(const void *a, const void *b)
{
	const struct mp_timeline_stack *x = a, *y = b;

	if (x->growth != y->growth)
		return x->growth > y->growth ? -1 : 1;
	return strcmp(x->full, y->full);
}

int mp_timeline_finish(struct mp_timeline *t, size_t top)
{
	struct stack_index *ix = t->priv;
	size_t keep = 0, peak = 0;

	/* The point with the largest heap (the first of equals). */
	for (size_t i = 1; i < t->npoints; i++)
		if (t->points[i].heap > t->points[peak].heap)
			peak = i;
	t->peak = peak;
	for (size_t i = 0; i < t->nstacks; i++) {
		struct mp_timeline_stack *s = &t->stacks[i];

		s->full = ix->keys[i];
		ix->keys[i] = NULL;
		s->growth = t->npoints ? s->inuse[peak] - s->inuse[0] : 0;
	}
	if (ix)
		ix->n = 0;
	if (t->nstacks)   /* qsort(NULL, 0, ...) is undefined */
		qsort(t->stacks, t->nstacks, sizeof(*t->stacks), cmp_growth);
	for (size_t i = 0; i < t->nstacks; i++) {
		struct mp_timeline_stack *s = &t->stacks[i];

		if (keep < top && s->growth > 0) {
			/* Two stacks through the same frame of the program: the
			 * second is told apart by its number among them. */
			size_t same = 0;

			for (size_t k = 0; k < keep; k++)
				same += strcmp(t->stacks[k].where, s->where) == 0;
			if (same) {
				if (asprintf(&s->name, "%s #%zu", s->where, same + 1) < 0)
					s->name = NULL;
			} else {
				s->name = strdup(s->where);
			}
			if (!s->name)
				return -ENOMEM;
			t->stacks[keep++] = *s;
			continue;
		}
		free(s->full);
		free(s->inuse);
		free(s->where);
	}
	t->nstacks = keep;
	index_free(ix);
	t->priv = NULL;
	return 0;
}

/* ---- drawing ------------------------------------------------------------------------ */

void mp_timeline_format_bytes(int64_t v, char *buf, size_t size)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double d = (double)(v < 0 ? -v : v);
	size_t u = 0;

	while (d >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		d /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, size, "%s%" PRId64 " B", v < 0 ? "-" : "", v < 0 ? -v : v);
	else
		snprintf(buf, size, "%s%.2f %s", v < 0 ? "-" : "", d, units[u]);
}

static void xml_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default:
			/* control characters are not allowed in XML 1.0 */
			if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t')
				fputc('?', f);
			else
				fputc(*s, f);
		}
	}
}

/* A round axis maximum and step: 1, 2 or 5 times a power of `base` units. */
static void nice_axis(double max, bool bytes, double *ret_top, double *ret_step)
{
	double unit = 1, step;

	if (max <= 0)
		max = 1;
	if (bytes)
		while (max / unit >= 1024)
			unit *= 1024;
	double m = max / unit, p = 1;
	while (p * 10 <= m / 4)
		p *= 10;
	while (p > m / 4 && p > 1e-9)
		p /= 10;
	step = p;
	if (m / step > 5)
		step = p * 2;
	if (m / step > 5)
		step = p * 5;
	if (m / step > 5)
		step = p * 10;
	*ret_step = step * unit;
	*ret_top = (double)((int64_t)(m / step) + 1) * step * unit;
	if (*ret_top - *ret_step >= max)
		*ret_top -= *ret_step;
}

static const char *const stack_colors[] = {
	"#d62728", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf", "#7f7f7f",
};

#define W 960.0
#define LEFT 90.0
#define RIGHT 30.0
#define PLOT_W (W - LEFT - RIGHT)
#define TOP1 50.0
#define H1 300.0
#define GAP 70.0
#define H2 140.0

struct panel {
	double top, height;
	double ymax, ystep;
	bool bytes;
};

static double px(const struct mp_timeline *t, size_t i)
{
	int64_t t0 = t->points[0].time_ns, t1 = t->points[t->npoints - 1].time_ns;

	if (t1 <= t0)
		return LEFT + (t->npoints > 1 ? PLOT_W * (double)i / (double)(t->npoints - 1) : PLOT_W / 2);
	return LEFT + PLOT_W * (double)(t->points[i].time_ns - t0) / (double)(t1 - t0);
}

static double py(const struct panel *p, double v)
{
	return p->top + p->height - p->height * (v / p->ymax);
}

static void draw_axes(const struct mp_timeline *t, const struct panel *p, const char *title,
		      FILE *f)
{
	char buf[64];

	fprintf(f, "<g class=\"axes\">\n<text x=\"%.1f\" y=\"%.1f\" class=\"ptitle\">", LEFT,
		p->top - 12);
	xml_text(f, title);
	fputs("</text>\n", f);
	for (double v = 0; v <= p->ymax + p->ystep / 2; v += p->ystep) {
		double y = py(p, v);

		if (p->bytes)
			mp_timeline_format_bytes((int64_t)v, buf, sizeof(buf));
		else
			snprintf(buf, sizeof(buf), "%.0f", v);
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>"
			"<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", LEFT, y,
			LEFT + PLOT_W, y, LEFT - 6, y + 4, buf);
	}
	/* x ticks: seconds since the first snapshot, at most ~10 */
	double span = t->npoints ? (double)(t->points[t->npoints - 1].time_ns -
					     t->points[0].time_ns) / 1e9 : 0;
	double top, step;
	nice_axis(span > 0 ? span : 1, false, &top, &step);
	for (double s = 0; span > 0 && s <= span + 1e-9; s += step) {
		double x = LEFT + PLOT_W * s / span;

		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>"
			"<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%gs</text>\n", x, p->top,
			x, p->top + p->height, x, p->top + p->height + 16, s);
	}
	fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" class=\"frame\"/>\n"
		"</g>\n", LEFT, p->top, PLOT_W, p->height);
}

/* One series as a polyline plus a circle per point with a tooltip. */
static void draw_series(const struct mp_timeline *t, const struct panel *p, const char *id,
			const char *name, const char *color, double width,
			int64_t (*get)(const struct mp_timeline *, size_t, const void *),
			const void *arg, FILE *f)
{
	char buf[64];
	bool any = false;

	for (size_t i = 0; i < t->npoints; i++)
		any |= get(t, i, arg) != MP_TIMELINE_UNKNOWN;
	if (!any)
		return;
	fprintf(f, "<g class=\"series\" id=\"%s\" data-name=\"", id);
	xml_text(f, name);
	fprintf(f, "\">\n<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%.1f\" points=\"",
		color, width);
	for (size_t i = 0; i < t->npoints; i++) {
		int64_t v = get(t, i, arg);

		if (v != MP_TIMELINE_UNKNOWN)
			fprintf(f, "%.1f,%.1f ", px(t, i), py(p, (double)v));
	}
	fputs("\"/>\n", f);
	for (size_t i = 0; i < t->npoints; i++) {
		int64_t v = get(t, i, arg);

		if (v == MP_TIMELINE_UNKNOWN)
			continue;
		if (p->bytes)
			mp_timeline_format_bytes(v, buf, sizeof(buf));
		else
			snprintf(buf, sizeof(buf), "%" PRId64, v);
		fprintf(f, "<circle class=\"pt\" cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\" "
			"data-value=\"%" PRId64 "\"><title>", px(t, i), py(p, (double)v), color, v);
		xml_text(f, name);
		fprintf(f, ": %s at %.3fs (", buf,
			(double)(t->points[i].time_ns - t->points[0].time_ns) / 1e9);
		xml_text(f, t->points[i].label);
		fputs(")</title></circle>\n", f);
	}
	fputs("</g>\n", f);
}

/* The peak (mp_timeline_add_peak): a marker at its time and height, which
 * may lie between two points (the snapshots saw it only after). */
static void draw_peak(const struct mp_timeline *t, const struct panel *p, FILE *f)
{
	int64_t t0 = t->points[0].time_ns, t1 = t->points[t->npoints - 1].time_ns;
	int64_t at = t->heap_peak_ns < t0 ? t0 : t->heap_peak_ns > t1 ? t1 : t->heap_peak_ns;
	double x = t1 > t0 ? LEFT + PLOT_W * (double)(at - t0) / (double)(t1 - t0) : px(t, 0);
	double y = py(p, (double)t->heap_peak);
	char buf[64];

	mp_timeline_format_bytes(t->heap_peak, buf, sizeof(buf));
	fprintf(f, "<g class=\"peak\" data-peak=\"%" PRId64 "\" data-time=\"%" PRId64 "\">"
		"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000000\" "
		"stroke-dasharray=\"4 3\"/><circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"#000000\">"
		"<title>peak of the sampled heap in use: %s at %.3fs</title></circle>"
		"<text x=\"%.1f\" y=\"%.1f\" fill=\"#000000\">peak %s</text></g>\n",
		t->heap_peak, t->heap_peak_ns, x, y, x, p->top + p->height, x, y, buf,
		(double)(t->heap_peak_ns - t0) / 1e9, x + 8, y - 6, buf);
}

static int64_t get_heap(const struct mp_timeline *t, size_t i, const void *a)
{
	(void)a;
	return t->points[i].heap;
}

static int64_t get_rss(const struct mp_timeline *t, size_t i, const void *a)
{
	(void)a;
	return t->points[i].rss;
}

static int64_t get_res(const struct mp_timeline *t, size_t i, const void *a)
{
	size_t off = *(const size_t *)a;

	return *(const int64_t *)((const char *)&t->points[i] + off);
}

static int64_t get_stack(const struct mp_timeline *t, size_t i, const void *a)
{
	const struct mp_timeline_stack *s = a;

	(void)t;
	return s->inuse[i];
}

static void legend_item(FILE *f, double x, double y, const char *color, const char *text)
{
	fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" fill=\"%s\"/>"
		"<text x=\"%.1f\" y=\"%.1f\" class=\"legend\">", x, y - 10, color, x + 18, y);
	xml_text(f, text);
	fputs("</text>\n", f);
}

int mp_timeline_write_svg(const struct mp_timeline *t, const char *title, FILE *f)
{
	static const struct {
		const char *id, *name, *color;
		size_t off;
	} res[] = {
		{ "fds", "open fds", "#2ca02c", offsetof(struct mp_timeline_point, fds) },
		{ "threads", "threads", "#1f77b4", offsetof(struct mp_timeline_point, threads) },
		{ "timers", "timers", "#ff7f0e", offsetof(struct mp_timeline_point, timers) },
	};
	struct panel p1 = { .top = TOP1, .height = H1, .bytes = true };
	struct panel p2 = { .top = TOP1 + H1 + GAP, .height = H2, .bytes = false };
	bool have_res = false;
	double max = 0, rmax = 0, height, ly;
	char buf[64], g[128];

	for (size_t i = 0; i < t->npoints; i++) {
		const struct mp_timeline_point *pt = &t->points[i];

		if ((double)pt->heap > max)
			max = (double)pt->heap;
		if (pt->rss != MP_TIMELINE_UNKNOWN && (double)pt->rss > max)
			max = (double)pt->rss;
		for (size_t k = 0; k < 3; k++) {
			int64_t v = *(const int64_t *)((const char *)pt + res[k].off);

			if (v == MP_TIMELINE_UNKNOWN)
				continue;
			have_res = true;
			if ((double)v > rmax)
				rmax = (double)v;
		}
	}
	for (size_t s = 0; s < t->nstacks; s++)
		for (size_t i = 0; i < t->npoints; i++)
			if ((double)t->stacks[s].inuse[i] > max)
				max = (double)t->stacks[s].inuse[i];
	if (t->heap_peak != MP_TIMELINE_UNKNOWN && (double)t->heap_peak > max)
		max = (double)t->heap_peak;
	nice_axis(max, true, &p1.ymax, &p1.ystep);
	nice_axis(rmax, false, &p2.ymax, &p2.ystep);
	if (p2.ystep < 1) {
		p2.ystep = 1;
		p2.ymax = rmax < 1 ? 1 : rmax;
	}
	ly = (have_res ? p2.top + p2.height : p1.top + p1.height) + 50;
	height = ly + 22.0 * (double)(3 + t->nstacks) + 20;

	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"memprof-timeline\" "
		"width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
		"data-points=\"%zu\" data-stacks=\"%zu\">\n", W, height, W, height, t->npoints,
		t->nstacks);
	fputs("<style>text{font:12px sans-serif;fill:#222}.title{font-size:16px;font-weight:bold}"
	      ".ptitle{font-weight:bold}.grid{stroke:#e4e4e4}.frame{fill:none;stroke:#888}"
	      ".legend{font-size:12px}.pt:hover{r:5}</style>\n", f);
	fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n"
		"<text x=\"%.1f\" y=\"24\" class=\"title\">", LEFT);
	xml_text(f, title);
	fputs("</text>\n", f);
	if (t->npoints == 0) {
		fputs("<text x=\"90\" y=\"80\">no snapshots</text>\n</svg>\n", f);
		return ferror(f) ? -EIO : 0;
	}

	draw_axes(t, &p1, t->points[0].heap_from_stat ? "heap in use (HeapAlloc), RSS and top "
		  "growing stacks (inuse_space)" : "heap in use (inuse_space), RSS and top "
		  "growing stacks", f);
	for (size_t s = 0; s < t->nstacks; s++) {
		char id[32];

		snprintf(id, sizeof(id), "stack%zu", s + 1);
		draw_series(t, &p1, id, t->stacks[s].name,
			    stack_colors[s % (sizeof(stack_colors) / sizeof(stack_colors[0]))], 1.5,
			    get_stack, &t->stacks[s], f);
	}
	draw_series(t, &p1, "rss", "RSS", "#555555", 2, get_rss, NULL, f);
	draw_series(t, &p1, "heap", "heap in use", "#1f4e9c", 2.5, get_heap, NULL, f);
	if (t->heap_peak != MP_TIMELINE_UNKNOWN)
		draw_peak(t, &p1, f);
	if (have_res) {
		draw_axes(t, &p2, "live resources", f);
		for (size_t k = 0; k < 3; k++)
			draw_series(t, &p2, res[k].id, res[k].name, res[k].color, 2, get_res,
				    &res[k].off, f);
	}

	/* legend: the series, then the growing stacks with their growth */
	const struct mp_timeline_point *last = &t->points[t->npoints - 1];
	mp_timeline_format_bytes(last->heap, buf, sizeof(buf));
	snprintf(g, sizeof(g), "heap in use (last: %s)", buf);
	legend_item(f, LEFT, ly, "#1f4e9c", g);
	if (last->rss != MP_TIMELINE_UNKNOWN) {
		mp_timeline_format_bytes(last->rss, buf, sizeof(buf));
		snprintf(g, sizeof(g), "RSS (last: %s)", buf);
		legend_item(f, LEFT + 300, ly, "#555555", g);
	}
	if (t->heap_peak != MP_TIMELINE_UNKNOWN) {
		mp_timeline_format_bytes(t->heap_peak, buf, sizeof(buf));
		snprintf(g, sizeof(g), "peak (sampled): %s at %.3fs", buf,
			 (double)(t->heap_peak_ns - t->points[0].time_ns) / 1e9);
		legend_item(f, LEFT + 560, ly, "#000000", g);
	}
	ly += 22;
	if (have_res) {
		for (size_t k = 0; k < 3; k++)
			legend_item(f, LEFT + 160.0 * (double)k, ly, res[k].color, res[k].name);
		ly += 22;
	}
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"ptitle\">", LEFT, ly);
	if (t->nstacks) {
		fputs("top growing stacks (in-use bytes, from the first snapshot to the largest "
		      "heap, ", f);
		xml_text(f, t->points[t->peak].label);
		fputs("):", f);
	} else {
		fputs("no stack grew from the first snapshot to the largest heap", f);
	}
	fputs("</text>\n", f);
	ly += 22;
	for (size_t s = 0; s < t->nstacks; s++) {
		char line[1024];

		mp_timeline_format_bytes(t->stacks[s].growth, buf, sizeof(buf));
		snprintf(line, sizeof(line), "+%s  %s", buf, t->stacks[s].name);
		fprintf(f, "<g class=\"stack-legend\" data-growth=\"%" PRId64 "\">",
			t->stacks[s].growth);
		legend_item(f, LEFT, ly,
			    stack_colors[s % (sizeof(stack_colors) / sizeof(stack_colors[0]))], line);
		fputs("</g>\n", f);
		ly += 22;
	}
	fputs("</svg>\n", f);
	return ferror(f) ? -EIO : 0;
}

int mp_timeline_write_html(const struct mp_timeline *t, const char *title, FILE *f)
{
	char buf[64];
	int r;

	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>", f);
	xml_text(f, title);
	fputs("</title>\n<style>body{font:14px sans-serif;margin:16px;color:#222}"
	      "table{border-collapse:collapse;margin-top:12px}td,th{border:1px solid #ccc;"
	      "padding:4px 8px;vertical-align:top;text-align:left}td.n{text-align:right}"
	      "pre{margin:0;font-size:12px}</style>\n</head>\n<body>\n", f);
	r = mp_timeline_write_svg(t, title, f);
	if (r < 0)
		return r;
	fputs("<table id=\"stacks\">\n<tr><th>#</th><th>growth</th><th>first</th>"
	      "<th>largest heap</th><th>last</th><th>where</th><th>stack (leaf first)</th></tr>\n", f);
	for (size_t s = 0; s < t->nstacks; s++) {
		const struct mp_timeline_stack *st = &t->stacks[s];

		fprintf(f, "<tr><td>%zu</td><td class=\"n\">", s + 1);
		mp_timeline_format_bytes(st->growth, buf, sizeof(buf));
		fprintf(f, "+%s</td><td class=\"n\">", buf);
		mp_timeline_format_bytes(st->inuse[0], buf, sizeof(buf));
		fprintf(f, "%s</td><td class=\"n\">", buf);
		mp_timeline_format_bytes(st->inuse[t->peak], buf, sizeof(buf));
		fprintf(f, "%s</td><td class=\"n\">", buf);
		mp_timeline_format_bytes(st->inuse[t->npoints - 1], buf, sizeof(buf));
		fprintf(f, "%s</td><td>", buf);
		xml_text(f, st->name);
		fputs("</td><td><pre>", f);
		xml_text(f, st->full);
		fputs("</pre></td></tr>\n", f);
	}
	fputs("</table>\n<table id=\"points\">\n<tr><th>snapshot</th><th>time</th>"
	      "<th>heap in use</th><th>RSS</th><th>fds</th><th>threads</th><th>timers</th></tr>\n",
	      f);
	for (size_t i = 0; i < t->npoints; i++) {
		const struct mp_timeline_point *pt = &t->points[i];
		const int64_t res[3] = { pt->fds, pt->threads, pt->timers };

		fputs("<tr><td>", f);
		xml_text(f, pt->label);
		fprintf(f, "</td><td class=\"n\">%.3fs</td><td class=\"n\">",
			(double)(pt->time_ns - t->points[0].time_ns) / 1e9);
		mp_timeline_format_bytes(pt->heap, buf, sizeof(buf));
		fprintf(f, "%s</td><td class=\"n\">", buf);
		if (pt->rss != MP_TIMELINE_UNKNOWN)
			mp_timeline_format_bytes(pt->rss, buf, sizeof(buf));
		else
			strcpy(buf, "-");
		fputs(buf, f);
		for (size_t k = 0; k < 3; k++) {
			if (res[k] == MP_TIMELINE_UNKNOWN)
				fputs("</td><td class=\"n\">-", f);
			else
				fprintf(f, "</td><td class=\"n\">%" PRId64, res[k]);
		}
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n</body>\n</html>\n", f);
	return ferror(f) ? -EIO : 0;
}

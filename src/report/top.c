/* SPDX-License-Identifier: MIT */
/*
 * The `top` report: pprof's text report at "functions" granularity (see
 * top.h for the pipeline).  Everything that decides which rows appear, in
 * which order and with which numbers follows pprof's Go code; the comments
 * name the pprof function each step stands for.
 *
 * Integer sums wrap like Go's int64 arithmetic (the input is untrusted and
 * signed overflow is undefined in C).
 */
#include "common/errmsg.h"
#include "common/grow.h"
#include "common/snapshot.h"
#include "report/top.h"
#include "report/measure.h"
#include "report/merge.h"
#include "report/names.h"
#include "pprof/keymap.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NONE UINT32_MAX

static int64_t add64(int64_t a, int64_t b)
{
	return (int64_t)((uint64_t)a + (uint64_t)b);
}

static int64_t mul64(int64_t a, int64_t b)
{
	return (int64_t)((uint64_t)a * (uint64_t)b);
}

/* Go's abs64: -INT64_MIN wraps to INT64_MIN. */
static int64_t abs64(int64_t v)
{
	return v < 0 ? (int64_t)(0 - (uint64_t)v) : v;
}

/* Go's int64(float64) on amd64: out-of-range values become INT64_MIN. */
static int64_t f2i(double d)
{
	if (!(d > -9223372036854775808.0 && d < 9223372036854775808.0))
		return INT64_MIN;
	return (int64_t)d;
}

/* ---- context ----------------------------------------------------------------- */

struct node {
	char *name;        /* NodeInfo.PrintableName() */
	char *info;        /* fmt.Sprint(NodeInfo), pprof's last tie-break */
};

struct edge {
	uint32_t src, dst;
	int64_t weight;
	uint32_t stamp;    /* last sample that added to it */
	bool inl;          /* every addition came from an inlined call */
};

struct ctx {
	const struct mp_profile *p;
	int sidx;
	const struct mp_top_options *o;

	char **fnames;                  /* per function: display name */
	struct mp_merged merged;
	const char **map_file;          /* per mapping: file name after merging */

	struct node *nodes;
	size_t nnodes, cap_nodes;
	struct mp_keymap nodemap;

	uint32_t *loc_off, *loc_n;      /* per location: its nodes in loc_nodes */
	uint32_t *loc_nodes;
	size_t nloc_nodes;

	size_t *s_off, *s_n;            /* kept samples: location indexes in s_locs */
	int64_t *s_w;
	size_t nsamples;
	uint32_t *s_locs;
	size_t ns_locs;

	/* the graph being built */
	int64_t *flat, *cum;
	uint32_t *stamp;
	struct mp_u64map edgemap;
	bool *inlinable;                /* per node: it is an inlined frame somewhere */
	struct edge *edges;
	size_t nedges, cap_edges;
	uint32_t *gnodes;               /* nodes of the graph, sorted */
	size_t ngnodes;
};

static int push_node(struct ctx *c, const char *key, size_t klen, const char *name,
		     const char *info, uint32_t *ret)
{
	uint32_t idx;
	int r;

	r = mp_keymap_intern(&c->nodemap, key, klen, (uint32_t)c->nnodes, &idx);
	if (r < 0)
		return r;
	if (r == 1) {
		if (MP_GROW(c->nodes, c->nnodes + 1, c->cap_nodes) < 0)
			return -ENOMEM;
		c->nodes[c->nnodes].name = strdup(name);
		c->nodes[c->nnodes].info = strdup(info);
		c->nnodes++;
		if (!c->nodes[c->nnodes - 1].name || !c->nodes[c->nnodes - 1].info)
			return -ENOMEM;
	}
	*ret = idx;
	return 0;
}

/*
 * graph.nodeInfo after Aggregate(functions): a named function is keyed by
 * its name alone; without a name, by binary and start line (printed
 * "[binary]" or "<unknown>").  A location without lines is the latter with
 * start line 0.
 */
static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

/* asprintf that returns the string, or NULL on failure. */
static char *fmt(const char *f, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, f);
	n = vasprintf(&s, f, ap);
	va_end(ap);
	return n < 0 ? NULL : s;
}

static int node_for(struct ctx *c, const char *fname, int64_t start_line, const char *objfile,
		    uint32_t *ret)
{
	char *key, *info, *name = NULL;
	char base[256];
	size_t klen;
	int r = -ENOMEM;

	if (fname[0] != '\0') {
		key = fmt("N%s", fname);
		info = fmt("{%s  0  0 0 }", fname);
		if (!key || !info)
			goto out;
		klen = strlen(key);
		r = push_node(c, key, klen, fname, info, ret);
	} else {
		/* "U<start line>\0<objfile>": the NUL keeps the two fields apart. */
		key = fmt("U%" PRId64 "/%s", start_line, objfile);
		info = fmt("{  0  %" PRId64 " 0 %s}", start_line, objfile);
		if (!key || !info)
			goto out;
		klen = strlen(key);
		*strchr(key, '/') = '\0';
		if (objfile[0] != '\0')
			name = fmt("[%s]", mp_report_base_name(objfile, base, sizeof(base)));
		else
			name = strdup("<unknown>");
		if (!name)
			goto out;
		r = push_node(c, key, klen, name, info, ret);
	}
out:
	free(key);
	free(info);
	free(name);
	return r;
}

/* ---- drop_frames (profile.Prune) ---------------------------------------------- */

static bool compile_frames_rx(const char *pat, regex_t *rx)
{
	char *full;
	bool ok;

	/*
	 * pprof compiles RE2 syntax; POSIX extended is the nearest C has.
	 * Interval expressions are refused: nested ones make glibc's compiler
	 * take exponential time and memory on crafted input.
	 */
	if (strlen(pat) > 4096 || strchr(pat, '{'))
		return false;
	if (asprintf(&full, "^(%s)$", pat) < 0)
		return false;
	ok = regcomp(rx, full, REG_EXTENDED | REG_NOSUB) == 0;
	free(full);
	return ok;
}

/*
 * Mark, per location, the first line kept (line_start) or the whole
 * location as pruned; then cut each sample's stack (s_off/s_n) the way
 * Prune does.  Returns 0 or -ENOMEM.
 */
static int prune(struct ctx *c, uint32_t *line_start, bool *pruned, bool *beneath)
{
	const struct mp_profile *p = c->p;
	const Perftools__Profiles__Profile *msg = p->msg;
	const char *drop = mp_profile_str(p, msg->drop_frames);
	const char *keep = mp_profile_str(p, msg->keep_frames);
	regex_t drx, krx;
	bool have_keep = false;
	int r = 0;

	if (drop[0] == '\0')
		return 0;
	if (!compile_frames_rx(drop, &drx))
		return 0;       /* pprof ignores a pattern it cannot compile */
	if (keep[0] != '\0') {
		if (!compile_frames_rx(keep, &krx)) {
			regfree(&drx);
			return 0;
		}
		have_keep = true;
	}
	for (size_t li = 0; li < msg->n_location; li++) {
		const Perftools__Profiles__Location *l = msg->location[li];
		long i;

		for (i = (long)l->n_line - 1; i >= 0; i--) {
			int64_t fi = mp_profile_function_index(p, l->line[i]->function_id);
			const char *name = c->fnames[fi];
			char *simple;
			bool match;

			if (name[0] == '\0')
				continue;
			simple = mp_report_simplify_func(name);
			if (!simple) {
				r = -ENOMEM;
				goto out;
			}
			match = regexec(&drx, simple, 0, NULL, 0) == 0 &&
				!(have_keep && regexec(&krx, simple, 0, NULL, 0) == 0);
			free(simple);
			if (match)
				break;
		}
		if (i >= 0) {
			beneath[li] = true;
			if ((size_t)i == l->n_line - 1)
				pruned[li] = true;
			else
				line_start[li] = (uint32_t)i + 1;
		}
	}
	/* Cut each sample below the first pruned frame that follows a user frame,
	 * scanning from the root. */
	for (size_t s = 0; s < c->nsamples; s++) {
		uint32_t *locs = &c->s_locs[c->s_off[s]];
		bool found_user = false;

		for (size_t k = c->s_n[s]; k-- > 0;) {
			uint32_t li = locs[k];

			if (!pruned[li] && !beneath[li]) {
				found_user = true;
				continue;
			}
			if (!found_user)
				continue;
			if (pruned[li]) {
				c->s_off[s] += k + 1;
				c->s_n[s] -= k + 1;
			} else {
				c->s_off[s] += k;
				c->s_n[s] -= k;
			}
			break;
		}
	}
out:
	regfree(&drx);
	if (have_keep)
		regfree(&krx);
	return r;
}

/* ---- setup ------------------------------------------------------------------- */

static int setup(struct ctx *c)
{
	const struct mp_profile *p = c->p;
	const Perftools__Profiles__Profile *msg = p->msg;
	uint32_t *line_start = NULL;
	bool *pruned = NULL, *beneath = NULL;
	size_t total_lines = 0, total_locs = 0;
	int r = -ENOMEM;

	mp_keymap_init(&c->nodemap);

	/* Display names (pprof's symbolizer demangle step). */
	c->fnames = calloc(msg->n_function + 1, sizeof(*c->fnames));
	if (!c->fnames)
		return -ENOMEM;
	for (size_t i = 0; i < msg->n_function; i++) {
		c->fnames[i] = mp_top_display_name(mp_profile_str(p, msg->function[i]->name),
						   mp_profile_str(p, msg->function[i]->system_name));
		if (!c->fnames[i])
			return -ENOMEM;
	}

	/* The samples pprof reports on: merged, none all zero (profile.Merge). */
	r = mp_merge(p, &c->merged);
	if (r < 0)
		return r;
	r = -ENOMEM;
	c->map_file = calloc(msg->n_mapping + 1, sizeof(*c->map_file));
	if (!c->map_file)
		return -ENOMEM;
	for (size_t i = 0; i < msg->n_mapping; i++)
		c->map_file[i] = mp_profile_str(p, msg->mapping[c->merged.map_canon[i]]->filename);
	for (size_t i = 0; i < c->merged.nsamples; i++)
		total_locs += msg->sample[c->merged.first[i]]->n_location_id;
	c->s_off = calloc(c->merged.nsamples + 1, sizeof(*c->s_off));
	c->s_n = calloc(c->merged.nsamples + 1, sizeof(*c->s_n));
	c->s_w = calloc(c->merged.nsamples + 1, sizeof(*c->s_w));
	c->s_locs = calloc(total_locs + 1, sizeof(*c->s_locs));
	if (!c->s_off || !c->s_n || !c->s_w || !c->s_locs)
		return -ENOMEM;
	for (size_t i = 0; i < c->merged.nsamples; i++) {
		const Perftools__Profiles__Sample *s = msg->sample[c->merged.first[i]];

		c->s_off[i] = c->ns_locs;
		c->s_n[i] = s->n_location_id;
		c->s_w[i] = c->merged.values[i * msg->n_sample_type + (size_t)c->sidx];
		if (c->o && c->o->keep && !c->o->keep(c->p, s, c->o->keep_arg))
			c->s_w[i] = 0;
		for (size_t j = 0; j < s->n_location_id; j++)
			c->s_locs[c->ns_locs++] = (uint32_t)mp_profile_location_index(p, s->location_id[j]);
	}
	c->nsamples = c->merged.nsamples;

	line_start = calloc(msg->n_location + 1, sizeof(*line_start));
	pruned = calloc(msg->n_location + 1, sizeof(*pruned));
	beneath = calloc(msg->n_location + 1, sizeof(*beneath));
	if (!line_start || !pruned || !beneath)
		goto out;
	r = prune(c, line_start, pruned, beneath);
	if (r < 0)
		goto out;

	/* Nodes of every location, innermost line first (graph.CreateNodes). */
	for (size_t i = 0; i < msg->n_location; i++)
		total_lines += msg->location[i]->n_line ? msg->location[i]->n_line : 1;
	r = -ENOMEM;
	c->loc_off = calloc(msg->n_location + 1, sizeof(*c->loc_off));
	c->loc_n = calloc(msg->n_location + 1, sizeof(*c->loc_n));
	c->loc_nodes = calloc(total_lines + 1, sizeof(*c->loc_nodes));
	if (!c->loc_off || !c->loc_n || !c->loc_nodes)
		goto out;
	for (size_t i = 0; i < msg->n_location; i++) {
		const Perftools__Profiles__Location *l = msg->location[i];
		const char *objfile = "";
		int64_t mi = mp_profile_mapping_index(p, l->mapping_id);

		if (mi >= 0)
			objfile = c->map_file[mi];
		c->loc_off[i] = (uint32_t)c->nloc_nodes;
		if (l->n_line == 0) {
			r = node_for(c, "", 0, objfile, &c->loc_nodes[c->nloc_nodes++]);
			if (r < 0)
				goto out;
		}
		for (size_t j = line_start[i]; j < l->n_line; j++) {
			int64_t fi = mp_profile_function_index(p, l->line[j]->function_id);

			r = node_for(c, c->fnames[fi], msg->function[fi]->start_line, objfile,
				     &c->loc_nodes[c->nloc_nodes++]);
			if (r < 0)
				goto out;
		}
		c->loc_n[i] = (uint32_t)(c->nloc_nodes - c->loc_off[i]);
	}
	r = -ENOMEM;
	c->flat = calloc(c->nnodes + 1, sizeof(*c->flat));
	c->cum = calloc(c->nnodes + 1, sizeof(*c->cum));
	c->stamp = calloc(c->nnodes + 1, sizeof(*c->stamp));
	c->gnodes = calloc(c->nnodes + 1, sizeof(*c->gnodes));
	if (!c->flat || !c->cum || !c->stamp || !c->gnodes)
		goto out;
	r = 0;
out:
	free(line_start);
	free(pruned);
	free(beneath);
	return r;
}

static void ctx_done(struct ctx *c)
{
	if (c->fnames)
		for (size_t i = 0; i < c->p->msg->n_function; i++)
			free(c->fnames[i]);
	free(c->fnames);
	free(c->map_file);
	mp_merged_done(&c->merged);
	for (size_t i = 0; i < c->nnodes; i++) {
		free(c->nodes[i].name);
		free(c->nodes[i].info);
	}
	free(c->nodes);
	mp_keymap_done(&c->nodemap);
	mp_u64map_done(&c->edgemap);
	free(c->inlinable);
	free(c->loc_off);
	free(c->loc_n);
	free(c->loc_nodes);
	free(c->s_off);
	free(c->s_n);
	free(c->s_w);
	free(c->s_locs);
	free(c->flat);
	free(c->cum);
	free(c->stamp);
	free(c->edges);
	free(c->gnodes);
}

/* ---- graph (graph.newGraph) ------------------------------------------------------ */

static int add_edge(struct ctx *c, uint32_t src, uint32_t dst, int64_t w, bool inl, uint32_t stamp)
{
	uint32_t idx;
	struct edge *e;
	int r;

	/* Edges of a big profile are millions: a map with the key in the slot. */
	r = mp_u64map_intern(&c->edgemap, ((uint64_t)src << 32) | dst, (uint32_t)c->nedges, &idx);
	if (r < 0)
		return r;
	if (r == 1) {
		if (MP_GROW(c->edges, c->nedges + 1, c->cap_edges) < 0)
			return -ENOMEM;
		c->edges[c->nedges++] = (struct edge){ .src = src, .dst = dst, .weight = w,
						       .stamp = stamp, .inl = inl };
		return 0;
	}
	e = &c->edges[idx];
	if (e->stamp == stamp)
		return 0;       /* this edge already counted for this sample */
	e->stamp = stamp;
	e->weight = add64(e->weight, w);
	if (!inl)
		e->inl = false;
	return 0;
}

/* Build the graph from all samples, with only the `kept` nodes (NULL: all). */
static int build_graph(struct ctx *c, const bool *kept)
{
	memset(c->flat, 0, c->nnodes * sizeof(*c->flat));
	memset(c->cum, 0, c->nnodes * sizeof(*c->cum));
	memset(c->stamp, 0, c->nnodes * sizeof(*c->stamp));
	mp_u64map_done(&c->edgemap);
	c->nedges = 0;
	if (!c->inlinable) {
		c->inlinable = calloc(c->nnodes + 1, sizeof(*c->inlinable));
		if (!c->inlinable)
			return -ENOMEM;
		for (size_t li = 0; li < c->p->msg->n_location; li++) {
			const uint32_t *ln = &c->loc_nodes[c->loc_off[li]];
			for (uint32_t ni = 0; ni + 1 < c->loc_n[li]; ni++)
				c->inlinable[ln[ni]] = true;
		}
	}

	for (size_t s = 0; s < c->nsamples; s++) {
		const uint32_t *locs = &c->s_locs[c->s_off[s]];
		uint32_t stamp = (uint32_t)s + 1, parent = NONE;
		int64_t w = c->s_w[s];
		bool residual = false;

		if (w == 0)
			continue;
		for (size_t i = c->s_n[s]; i-- > 0;) {
			uint32_t li = locs[i];
			const uint32_t *ln = &c->loc_nodes[c->loc_off[li]];
			uint32_t nln = c->loc_n[li];

			for (uint32_t ni = nln; ni-- > 0;) {
				uint32_t n = ln[ni];

				if (kept && !kept[n]) {
					residual = true;
					continue;
				}
				if (c->stamp[n] != stamp) {
					c->stamp[n] = stamp;
					c->cum[n] = add64(c->cum[n], w);
				}
				/* Edges only decide the (inline) labels, so only edges into
				 * nodes that are inlined somewhere are kept: the others
				 * would be millions in a big profile, for nothing. */
				if (parent != NONE && n != parent && c->inlinable[n]) {
					int r = add_edge(c, parent, n, w, ni != nln - 1, stamp);

					if (r < 0)
						return r;
				}
				parent = n;
				residual = false;
			}
		}
		if (parent != NONE && !residual)
			c->flat[parent] = add64(c->flat[parent], w);
	}
	/* graph.selectNodesForGraph: nodes with some value. */
	c->ngnodes = 0;
	for (uint32_t n = 0; n < c->nnodes; n++)
		if ((!kept || kept[n]) && (c->flat[n] != 0 || c->cum[n] != 0))
			c->gnodes[c->ngnodes++] = n;
	return 0;
}

/* graph.FlatNameOrder. */
static int cmp_nodes(const void *a, const void *b, void *arg)
{
	const struct ctx *c = arg;
	uint32_t l = *(const uint32_t *)a, r = *(const uint32_t *)b;
	int64_t lv = abs64(c->flat[l]), rv = abs64(c->flat[r]);
	int d;

	if (lv != rv)
		return lv > rv ? -1 : 1;
	d = strcmp(c->nodes[l].name, c->nodes[r].name);
	if (d)
		return d;
	lv = abs64(c->cum[l]);
	rv = abs64(c->cum[r]);
	if (lv != rv)
		return lv > rv ? -1 : 1;
	return strcmp(c->nodes[l].info, c->nodes[r].info);
}

static void sort_graph(struct ctx *c)
{
	qsort_r(c->gnodes, c->ngnodes, sizeof(*c->gnodes), cmp_nodes, c);
}

/* ---- the report ---------------------------------------------------------------- */

/* report.computeTotal on the merged samples: sum of |value|; only the diff
 * base (label pprof::base=true) when the profile has one. */
static int64_t compute_total(const struct ctx *c)
{
	const struct mp_profile *p = c->p;
	const Perftools__Profiles__Profile *msg = p->msg;
	int64_t total = 0, diff_total = 0;

	for (size_t i = 0; i < c->merged.nsamples; i++) {
		const Perftools__Profiles__Sample *s = msg->sample[c->merged.first[i]];
		int64_t v = abs64(c->merged.values[i * msg->n_sample_type + (size_t)c->sidx]);
		bool base = false;

		total = add64(total, v);
		for (size_t j = 0; j < s->n_label; j++)
			if (s->label[j]->str != 0 &&
			    strcmp(mp_profile_str(p, s->label[j]->key), "pprof::base") == 0 &&
			    strcmp(mp_profile_str(p, s->label[j]->str), "true") == 0)
				base = true;
		if (base)
			diff_total = add64(diff_total, v);
	}
	return diff_total > 0 ? diff_total : total;
}

void mp_top_format_value(const struct mp_top *t, int64_t v, char *buf, size_t size)
{
	mp_measure_scaled_label(buf, size, v, t->sample_unit, t->output_unit);
}

static int add_label(struct mp_top *t, char *s)
{
	char **n;

	if (!s)
		return -ENOMEM;
	n = realloc(t->labels, (t->nlabels + 1) * sizeof(*n));
	if (!n) {
		free(s);
		return -ENOMEM;
	}
	t->labels = n;
	t->labels[t->nlabels++] = s;
	return 0;
}

/* "Time: " and Go's time.Format("Jan 2, 2006 at 3:04pm (MST)") in the local zone. */
static char *format_time(int64_t nanos)
{
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t secs = (time_t)(nanos / 1000000000);
	struct tm tm;
	int hour;

	if (nanos % 1000000000 < 0)
		secs--;
	tzset();
	if (!localtime_r(&secs, &tm) || tm.tm_mon < 0 || tm.tm_mon > 11)
		return fmt("Time: %" PRId64 "ns", nanos);
	hour = tm.tm_hour % 12;
	if (hour == 0)
		hour = 12;
	return fmt("Time: %s %d, %04ld at %d:%02d%s (%s)", months[tm.tm_mon], tm.tm_mday,
		   (long)tm.tm_year + 1900, hour, tm.tm_min, tm.tm_hour >= 12 ? "pm" : "am",
		   tm.tm_zone ? tm.tm_zone : "");
}

/* report.ProfileLabels. */
static int profile_labels(struct mp_top *t, const struct mp_profile *p)
{
	const Perftools__Profiles__Profile *msg = p->msg;
	char buf[MP_MEASURE_BUFSZ], buf2[MP_MEASURE_BUFSZ], pct[MP_MEASURE_BUFSZ + 4];
	char base[4096];
	int r;

	if (msg->n_mapping > 0) {
		const char *file = mp_profile_str(p, msg->mapping[0]->filename);
		const char *bid = mp_profile_str(p, msg->mapping[0]->build_id);

		if (file[0] && (r = add_label(t, fmt("File: %s", mp_report_base_name(file, base, sizeof(base))))) < 0)
			return r;
		if (bid[0] && (r = add_label(t, fmt("Build ID: %s", bid))) < 0)
			return r;
	}
	/* Comments, once each (profile.Merge), unless they start with '#'. */
	for (size_t i = 0; i < msg->n_comment; i++) {
		const char *cm = mp_profile_str(p, msg->comment[i]);
		bool seen = false;

		for (size_t j = 0; j < i && !seen; j++)
			seen = strcmp(mp_profile_str(p, msg->comment[j]), cm) == 0;
		if (seen || cm[0] == '#')
			continue;
		if ((r = add_label(t, fmt("%s", cm))) < 0)
			return r;
	}
	r = add_label(t, fmt("Type: %s", mp_profile_str(p, msg->sample_type[t->sample_index]->type)));
	if (r < 0)
		return r;
	if (msg->time_nanos != 0 && (r = add_label(t, format_time(msg->time_nanos))) < 0)
		return r;
	if (msg->duration_nanos != 0) {
		const char *unit;
		double total_ns = mp_measure_scale(t->total, t->sample_unit, "nanoseconds", &unit);

		pct[0] = '\0';
		if (strcmp(unit, "ns") == 0 && total_ns != 0) {
			mp_measure_percentage(buf2, sizeof(buf2), f2i(total_ns), msg->duration_nanos);
			snprintf(pct, sizeof(pct), "(%s)", buf2);
		}
		mp_measure_scaled_label(buf, sizeof(buf), msg->duration_nanos, "nanoseconds", "auto");
		mp_top_format_value(t, t->total, buf2, sizeof(buf2));
		if ((r = add_label(t, fmt("Duration: %s, Total samples = %s %s", buf, buf2, pct))) < 0)
			return r;
	}
	return 0;
}

/* report.selectOutputUnit. */
static char *select_output_unit(const struct ctx *c, int64_t total, const char *sample_unit)
{
	int64_t min_value = 0, max_value = total;
	const char *min_unit, *max_unit, *unit;

	if (c->ngnodes == 0)
		return strdup("minimum");
	for (size_t i = 0; i < c->ngnodes; i++) {
		uint32_t n = c->gnodes[i];
		int64_t v = abs64(c->flat[n]);

		if (v == 0)
			v = abs64(c->cum[n]);
		if (v > 0 && (min_value == 0 || v < min_value))
			min_value = v;
	}
	if (min_value == 0)
		min_value = max_value;
	mp_measure_scale(min_value, sample_unit, "minimum", &min_unit);
	mp_measure_scale(max_value, sample_unit, "minimum", &max_unit);
	unit = min_unit;
	if (strcmp(min_unit, max_unit) != 0 && mul64(min_value, 100) < max_value)
		mp_measure_scale(mul64(100, min_value), sample_unit, "minimum", &unit);
	return strdup(unit[0] ? unit : sample_unit);
}

int mp_top_compute(const struct mp_profile *p, const struct mp_top_options *o, struct mp_top **ret,
		   char **ret_err)
{
	const Perftools__Profiles__Profile *msg = p->msg;
	struct ctx c = { .p = p, .o = o };
	struct mp_top *t = NULL;
	bool *kept = NULL, *in_graph = NULL, *has_inl = NULL, *has_noinl = NULL;
	int64_t total_value = 0, node_cutoff, edge_cutoff, flat_sum = 0;
	size_t dropped = 0, orig_count;
	char v1[MP_MEASURE_BUFSZ], v2[MP_MEASURE_BUFSZ], pct[MP_MEASURE_BUFSZ];
	int r;

	if (ret_err)
		*ret_err = NULL;
	r = mp_profile_sample_index(p, o->sample_index, ret_err);
	if (r < 0)
		return r;
	c.sidx = r;

	r = -ENOMEM;
	t = calloc(1, sizeof(*t));
	if (!t)
		goto out;
	t->sample_index = c.sidx;
	t->sample_unit = strdup(mp_profile_str(p, msg->sample_type[c.sidx]->unit));
	if (!t->sample_unit)
		goto out;
	r = setup(&c);
	if (r < 0)
		goto out;
	t->total = compute_total(&c);
	r = -ENOMEM;
	kept = calloc(c.nnodes + 1, sizeof(*kept));
	in_graph = calloc(c.nnodes + 1, sizeof(*in_graph));
	has_inl = calloc(c.nnodes + 1, sizeof(*has_inl));
	has_noinl = calloc(c.nnodes + 1, sizeof(*has_noinl));
	if (!kept || !in_graph || !has_inl || !has_noinl)
		goto out;

	/* report.newTrimmedGraph.  Cutoffs come from the full graph's flat sum. */
	r = build_graph(&c, NULL);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < c.ngnodes; i++)
		total_value = add64(total_value, c.flat[c.gnodes[i]]);
	node_cutoff = abs64(f2i((double)total_value * o->node_fraction));
	edge_cutoff = abs64(f2i((double)total_value * o->edge_fraction));
	if (node_cutoff > 0) {
		size_t nkept = 0;

		for (size_t i = 0; i < c.ngnodes; i++) {
			uint32_t n = c.gnodes[i];

			if (abs64(c.cum[n]) >= node_cutoff) {
				kept[n] = true;
				nkept++;
			}
		}
		if (nkept != c.ngnodes) {
			dropped = c.ngnodes - nkept;
			r = build_graph(&c, kept);
			if (r < 0)
				goto out;
		}
	}
	orig_count = c.ngnodes;
	sort_graph(&c);
	if (o->node_count > 0 && (size_t)o->node_count < c.ngnodes) {
		memset(kept, 0, c.nnodes * sizeof(*kept));
		for (size_t i = 0; i < (size_t)o->node_count; i++)
			kept[c.gnodes[i]] = true;
		r = build_graph(&c, kept);
		if (r < 0)
			goto out;
		sort_graph(&c);
	}

	/* Incoming edges that survive TrimLowFrequencyEdges decide (inline). */
	for (size_t i = 0; i < c.ngnodes; i++)
		in_graph[c.gnodes[i]] = true;
	for (size_t i = 0; i < c.nedges; i++) {
		const struct edge *e = &c.edges[i];

		if (!in_graph[e->dst] || abs64(e->weight) < edge_cutoff)
			continue;
		if (e->inl)
			has_inl[e->dst] = true;
		else
			has_noinl[e->dst] = true;
	}

	t->output_unit = select_output_unit(&c, t->total, t->sample_unit);
	if (!t->output_unit)
		goto out;

	/* Rows (report.TextItems). */
	t->rows = calloc(c.ngnodes + 1, sizeof(*t->rows));
	if (!t->rows)
		goto out;
	for (size_t i = 0; i < c.ngnodes; i++) {
		uint32_t n = c.gnodes[i];
		struct mp_top_row *row = &t->rows[t->nrows];

		row->name = strdup(c.nodes[n].name);
		if (!row->name)
			goto out;
		t->nrows++;
		row->flat = c.flat[n];
		row->cum = c.cum[n];
		row->inline_label = !has_inl[n] ? "" : has_noinl[n] ? "(partial-inline)" : "(inline)";
		flat_sum = add64(flat_sum, row->flat);
	}

	/* Header (report.reportLabels). */
	r = profile_labels(t, p);
	if (r < 0)
		goto out;
	mp_top_format_value(t, flat_sum, v1, sizeof(v1));
	mp_measure_percentage(pct, sizeof(pct), flat_sum, t->total);
	mp_top_format_value(t, t->total, v2, sizeof(v2));
	r = add_label(t, fmt("Showing nodes accounting for %s, %s of %s total", v1,
			     pct + strspn(pct, " "), v2));
	if (r < 0)
		goto out;
	if (t->total != 0) {
		if (dropped > 0) {
			mp_top_format_value(t, abs64(f2i((double)t->total * o->node_fraction)), v1, sizeof(v1));
			r = add_label(t, fmt("Dropped %zu node%s (cum <= %s)", dropped,
					     dropped > 1 ? "s" : "", v1));
			if (r < 0)
				goto out;
		}
		if (c.ngnodes > 0 && c.ngnodes < orig_count) {
			r = add_label(t, fmt("Showing top %zu nodes out of %zu", c.ngnodes, orig_count));
			if (r < 0)
				goto out;
		}
	}
	*ret = t;
	t = NULL;
	r = 0;
out:
	if (r == -ENOMEM)
		mp_set_err(ret_err, "out of memory");
	mp_top_free(t);
	free(kept);
	free(in_graph);
	free(has_inl);
	free(has_noinl);
	ctx_done(&c);
	return r;
}

void mp_top_free(struct mp_top *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nlabels; i++)
		free(t->labels[i]);
	free(t->labels);
	for (size_t i = 0; i < t->nrows; i++)
		free(t->rows[i].name);
	free(t->rows);
	free(t->sample_unit);
	free(t->output_unit);
	free(t);
}

int mp_top_print(const struct mp_top *t, FILE *f)
{
	char flat[MP_MEASURE_BUFSZ], cum[MP_MEASURE_BUFSZ];
	char pf[MP_MEASURE_BUFSZ], ps[MP_MEASURE_BUFSZ], pc[MP_MEASURE_BUFSZ];
	int64_t sum = 0;

	for (size_t i = 0; i < t->nlabels; i++)
		fprintf(f, "%s\n", t->labels[i]);
	fprintf(f, "%10s %5s%% %5s%% %10s %5s%%\n", "flat", "flat", "sum", "cum", "cum");
	for (size_t i = 0; i < t->nrows; i++) {
		const struct mp_top_row *row = &t->rows[i];

		sum = add64(sum, row->flat);
		mp_top_format_value(t, row->flat, flat, sizeof(flat));
		mp_top_format_value(t, row->cum, cum, sizeof(cum));
		mp_measure_percentage(pf, sizeof(pf), row->flat, t->total);
		mp_measure_percentage(ps, sizeof(ps), sum, t->total);
		mp_measure_percentage(pc, sizeof(pc), row->cum, t->total);
		fprintf(f, "%10s %s %s %10s %s  %s%s%s\n", flat, pf, ps, cum, pc, row->name,
			row->inline_label[0] ? " " : "", row->inline_label);
	}
	return ferror(f) ? -EIO : 0;
}

bool mp_top_has_label(const struct mp_profile *p, const char *key)
{
	for (size_t i = 0; i < p->msg->n_sample; i++)
		for (size_t k = 0; k < p->msg->sample[i]->n_label; k++)
			if (strcmp(mp_profile_str(p, p->msg->sample[i]->label[k]->key), key) == 0)
				return true;
	return false;
}

bool mp_top_short_lived(const struct mp_profile *p, const Perftools__Profiles__Sample *s,
			void *arg)
{
	int64_t limit = *(const int64_t *)arg;

	for (size_t i = 0; i < s->n_label; i++) {
		const Perftools__Profiles__Label *l = s->label[i];

		if (strcmp(mp_profile_str(p, l->key), MP_LIFE_LABEL) != 0)
			continue;
		const char *v = mp_profile_str(p, l->str);
		/* Class k lies below mp_snap_life_bound_ns(k); the last has no bound. */
		for (unsigned k = 0; k + 1 < MP_SNAP_LIFE_CLASSES; k++)
			if (strcmp(v, mp_snap_life_name(k)) == 0)
				return (int64_t)mp_snap_life_bound_ns(k) <= limit;
		return false;
	}
	return false;
}

/* The row of `shrt` named like `row`, or NULL. */
static const struct mp_top_row *row_named(const struct mp_top *shrt, const struct mp_top_row *row)
{
	for (size_t i = 0; i < shrt->nrows; i++)
		if (strcmp(shrt->rows[i].name, row->name) == 0 &&
		    strcmp(shrt->rows[i].inline_label, row->inline_label) == 0)
			return &shrt->rows[i];
	return NULL;
}

static void share(char *buf, size_t size, int64_t part, int64_t whole)
{
	if (whole == 0)
		snprintf(buf, size, "%6s", "-");
	else
		snprintf(buf, size, "%5.1f%%", 100.0 * (double)part / (double)whole);
}

int mp_top_print_lifetimes(const struct mp_top *t, const struct mp_top *shrt, FILE *f)
{
	char flat[MP_MEASURE_BUFSZ], cum[MP_MEASURE_BUFSZ];
	char pf[MP_MEASURE_BUFSZ], ps[MP_MEASURE_BUFSZ], pc[MP_MEASURE_BUFSZ];
	char sf[16], sc[16];
	int64_t sum = 0;

	for (size_t i = 0; i < t->nlabels; i++)
		fprintf(f, "%s\n", t->labels[i]);
	fprintf(f, "%10s %5s%% %5s%% %10s %5s%% %6s %6s\n", "flat", "flat", "sum", "cum", "cum",
		"short", "short");
	for (size_t i = 0; i < t->nrows; i++) {
		const struct mp_top_row *row = &t->rows[i], *s = row_named(shrt, row);

		sum = add64(sum, row->flat);
		mp_top_format_value(t, row->flat, flat, sizeof(flat));
		mp_top_format_value(t, row->cum, cum, sizeof(cum));
		mp_measure_percentage(pf, sizeof(pf), row->flat, t->total);
		mp_measure_percentage(ps, sizeof(ps), sum, t->total);
		mp_measure_percentage(pc, sizeof(pc), row->cum, t->total);
		share(sf, sizeof(sf), s ? s->flat : 0, row->flat);
		share(sc, sizeof(sc), s ? s->cum : 0, row->cum);
		fprintf(f, "%10s %s %s %10s %s %s %s  %s%s%s\n", flat, pf, ps, cum, pc, sf, sc,
			row->name, row->inline_label[0] ? " " : "", row->inline_label);
	}
	return ferror(f) ? -EIO : 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * Flame graph (see flame.h).  Samples become paths of frames from the root
 * (outermost caller) to the leaf, inlined frames expanded as pprof shows
 * them; paths are merged into a tree whose nodes carry the sum of absolute
 * values (width) and of signed values (colour of a difference).  Layout is
 * done here; the embedded script only rescales on zoom and searches.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/grow.h"
#include "pprof/keymap.h"
#include "report/flame.h"
#include "report/top.h"

#define WIDTH 1200.0
#define FRAME_H 16
#define TOP_PAD 36
#define MIN_W 0.1     /* narrower frames are not drawn */

struct fnode {
	uint32_t name;            /* index into names */
	uint32_t parent, first_child, next_sibling;
	int64_t abs_value, net;
};

struct tree {
	struct mp_u64map kids;    /* (parent << 32 | name) -> child */
	struct fnode *n;
	size_t nn, cap;
	char **names;
	size_t nnames, cap_names;
	int maxdepth;
};

#define NONE UINT32_MAX

static int64_t abs64(int64_t v)
{
	return v < 0 ? (v == INT64_MIN ? INT64_MAX : -v) : v;
}

/* Sums wrap like Go's int64 (and top's, report/top.c): the values are
 * untrusted and signed overflow is undefined in C. */
static int64_t add64(int64_t a, int64_t b)
{
	return (int64_t)((uint64_t)a + (uint64_t)b);
}

static uint32_t child(struct tree *t, uint32_t parent, uint32_t name)
{
	uint32_t c;
	int r = mp_u64map_intern(&t->kids, ((uint64_t)parent << 32) | name, (uint32_t)t->nn, &c);
	if (r < 0)
		return NONE;
	if (r == 0)
		return c;
	if (MP_GROW(t->n, t->nn + 1, t->cap) < 0)
		return NONE;
	c = (uint32_t)t->nn++;
	t->n[c] = (struct fnode){ .name = name, .parent = parent, .first_child = NONE,
				  .next_sibling = t->n[parent].first_child };
	t->n[parent].first_child = c;
	return c;
}

static void xml_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		default:
			if ((unsigned char)*s < 0x20)
				fputc(' ', f);
			else
				fputc(*s, f);
		}
	}
}

/* Warm colours by name (stable across runs), or red/blue by sign for a
 * difference. */
static void colour(char *buf, size_t n, const char *name, int64_t net, int64_t absv, bool diff)
{
	if (diff) {
		double share = absv ? (double)abs64(net) / (double)absv : 0;
		int v = 230 - (int)(share * 160);
		if (net > 0)
			snprintf(buf, n, "rgb(255,%d,%d)", v, v);
		else if (net < 0)
			snprintf(buf, n, "rgb(%d,%d,255)", v, v);
		else
			snprintf(buf, n, "rgb(220,220,220)");
		return;
	}
	uint32_t h = 2166136261u;
	for (const char *s = name; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	snprintf(buf, n, "rgb(%u,%u,%u)", 205 + h % 50, 80 + (h >> 8) % 130, 40 + (h >> 16) % 50);
}

static const char script[] =
	"<script type=\"text/ecmascript\"><![CDATA[\n"
	"'use strict';\n"
	"const W = %g, frames = Array.from(document.querySelectorAll('g.f'));\n"
	"function fit(g) {\n"
	"  const r = g.querySelector('rect'), t = g.querySelector('text');\n"
	"  const w = +r.getAttribute('width'), name = g.getAttribute('data-name');\n"
	"  const n = Math.floor((w - 6) / 7);\n"
	"  t.textContent = n >= name.length ? name : n > 2 ? name.slice(0, n - 2) + '..' : '';\n"
	"  t.setAttribute('x', +r.getAttribute('x') + 3);\n"
	"}\n"
	"function zoom(target) {\n"
	"  const x0 = +target.getAttribute('data-x'), w0 = +target.getAttribute('data-w');\n"
	"  const d0 = +target.getAttribute('data-depth');\n"
	"  for (const g of frames) {\n"
	"    const x = +g.getAttribute('data-x'), w = +g.getAttribute('data-w');\n"
	"    const d = +g.getAttribute('data-depth'), r = g.querySelector('rect');\n"
	"    let nx, nw;\n"
	"    if (d < d0 && x <= x0 + 1e-9 && x + w >= x0 + w0 - 1e-9) { nx = 0; nw = W; }\n"
	"    else if (d >= d0 && x >= x0 - 1e-9 && x + w <= x0 + w0 + 1e-9) {\n"
	"      nx = (x - x0) / w0 * W; nw = w / w0 * W; }\n"
	"    else { g.style.display = 'none'; continue; }\n"
	"    g.style.display = ''; r.setAttribute('x', nx); r.setAttribute('width', nw); fit(g);\n"
	"  }\n"
	"  document.getElementById('reset').style.opacity = d0 > 0 ? 1 : 0;\n"
	"}\n"
	"function reset() { zoom(frames[0]); }\n"
	"function search(term) {\n"
	"  let m = 0, total = +frames[0].getAttribute('data-v');\n"
	"  const seen = [];\n"
	"  for (const g of frames) {\n"
	"    const hit = !!term && g.getAttribute('data-name').includes(term);\n"
	"    g.querySelector('rect').setAttribute('fill', hit ? 'rgb(230,0,230)' :\n"
	"      g.getAttribute('data-fill'));\n"
	"    if (hit) {\n"
	"      const x = +g.getAttribute('data-x'), w = +g.getAttribute('data-w');\n"
	"      if (!seen.some(s => x >= s[0] - 1e-9 && x + w <= s[0] + s[1] + 1e-9)) {\n"
	"        seen.push([x, w]); m += +g.getAttribute('data-v'); }\n"
	"    }\n"
	"  }\n"
	"  document.getElementById('matched').textContent =\n"
	"    term ? 'Matched: ' + (total ? (100 * m / total).toFixed(1) : '0') + '%%' : '';\n"
	"  return seen.length;\n"
	"}\n"
	"for (const g of frames) {\n"
	"  g.addEventListener('click', () => zoom(g)); fit(g);\n"
	"}\n"
	"document.getElementById('reset').addEventListener('click', reset);\n"
	"document.getElementById('search').addEventListener('click', () => {\n"
	"  const t = prompt('Search (substring of the function name):', ''); if (t !== null) search(t);\n"
	"});\n"
	"]]></script>\n";

static int cmp_kids(const void *a, const void *b, void *arg)
{
	const struct tree *t = arg;
	return strcmp(t->names[t->n[*(const uint32_t *)a].name],
		      t->names[t->n[*(const uint32_t *)b].name]);
}

/* Name id of a frame: interned display name of a function, or for a
 * location without lines its object and file offset (the same in every run,
 * so a difference of two runs has no phantom pair).  -ENOMEM or the id. */
static int64_t frame_name(struct tree *t, struct mp_keymap *names, const struct mp_profile *p,
			  int64_t fi, const Perftools__Profiles__Location *l)
{
	char buf[MP_FRAME_NAME_MAX], *owned = NULL;
	const char *nm;
	uint32_t id;

	if (fi >= 0) {
		owned = mp_top_display_name(mp_profile_str(p, p->msg->function[fi]->name),
					    mp_profile_str(p, p->msg->function[fi]->system_name));
		if (!owned)
			return -ENOMEM;
		nm = owned;
	} else {
		mp_profile_location_name(p, l, buf, sizeof(buf));
		nm = buf;
	}
	int r = mp_keymap_intern(names, nm, strlen(nm), (uint32_t)t->nnames, &id);
	if (r == 1) {
		if (MP_GROW(t->names, t->nnames + 1, t->cap_names) == 0) {
			t->names[t->nnames] = owned ? owned : strdup(nm);
			owned = NULL;
			if (t->names[t->nnames])
				t->nnames++;
			else
				r = -ENOMEM;
		} else {
			r = -ENOMEM;
		}
	}
	free(owned);
	return r < 0 ? r : (int64_t)id;
}

/* A sample being walked down the tree, one frame per level. */
struct walker {
	uint32_t sample, node;
	uint32_t k;        /* locations of the sample not entered yet */
	uint32_t li, j;    /* current location and next of its frames */
};

int mp_flame_write(const struct mp_profile *p, const char *sample_index, const char *title, FILE *f,
		   char **ret_err)
{
	const Perftools__Profiles__Profile *msg = p->msg;
	int idx = mp_profile_sample_index(p, sample_index, ret_err);
	if (idx < 0)
		return idx;
	struct tree t = { 0 };
	struct mp_keymap names;
	uint32_t *fname_id = NULL, *loc_off = NULL, *loc_n = NULL, *loc_names = NULL;
	struct walker *act = NULL;
	size_t nact = 0, nframes = 0;
	int64_t base_key = -1;
	bool diff = false;
	int r = -ENOMEM;

	mp_keymap_init(&names);
	t.cap = 1024;
	t.n = calloc(t.cap, sizeof(*t.n));
	t.names = calloc(msg->n_function + 2, sizeof(*t.names));
	if (!t.n || !t.names)
		goto out;
	t.names[t.nnames++] = strdup("root");
	if (!t.names[0])
		goto out;
	t.nn = 1;
	t.n[0] = (struct fnode){ .name = 0, .parent = NONE, .first_child = NONE, .next_sibling = NONE };

	/* Every location's frames as name ids, outermost (the inlining caller)
	 * first, so that walking a sample is reading small arrays. */
	fname_id = calloc(msg->n_function + 1, sizeof(*fname_id));   /* name id + 1 */
	loc_off = calloc(msg->n_location + 1, sizeof(*loc_off));
	loc_n = calloc(msg->n_location + 1, sizeof(*loc_n));
	for (size_t i = 0; i < msg->n_location; i++)
		nframes += msg->location[i]->n_line ? msg->location[i]->n_line : 1;
	loc_names = calloc(nframes + 1, sizeof(*loc_names));
	if (!fname_id || !loc_off || !loc_n || !loc_names)
		goto out;
	nframes = 0;
	for (size_t i = 0; i < msg->n_location; i++) {
		const Perftools__Profiles__Location *l = msg->location[i];
		size_t nl = l->n_line ? l->n_line : 1;

		loc_off[i] = (uint32_t)nframes;
		loc_n[i] = (uint32_t)nl;
		for (size_t j = nl; j-- > 0;) {
			int64_t fi = l->n_line ? mp_profile_function_index(p, l->line[j]->function_id) : -1;
			int64_t id;

			if (fi >= 0 && fname_id[fi]) {
				id = fname_id[fi] - 1;
			} else {
				id = frame_name(&t, &names, p, fi, l);
				if (id < 0)
					goto out;
				if (fi >= 0)
					fname_id[fi] = (uint32_t)id + 1;
			}
			loc_names[nframes++] = (uint32_t)id;
		}
	}

	/* pprof's difference profiles mark the base's samples with this label. */
	for (size_t i = 1; i < msg->n_string_table; i++)
		if (strcmp(msg->string_table[i], "pprof::base") == 0) {
			base_key = (int64_t)i;
			break;
		}
	act = calloc(msg->n_sample + 1, sizeof(*act));
	if (!act)
		goto out;
	for (size_t s = 0; s < msg->n_sample; s++) {
		const Perftools__Profiles__Sample *sm = msg->sample[s];
		int64_t v = sm->value[idx];

		if (v == 0)
			continue;
		for (size_t k = 0; k < sm->n_label && base_key > 0; k++)
			if (sm->label[k]->key == base_key)
				diff = true;
		t.n[0].abs_value = add64(t.n[0].abs_value, abs64(v));
		t.n[0].net = add64(t.n[0].net, v);
		act[nact++] = (struct walker){ .sample = (uint32_t)s, .k = (uint32_t)sm->n_location_id,
					       .li = NONE };
	}
	double total = t.n[0].abs_value ? (double)t.n[0].abs_value : 1;

	/*
	 * The tree, one level at a time: every sample still walking takes its
	 * next frame; then only samples whose node is wide enough to be drawn
	 * go on, since nothing under a narrower node is drawn.  A profile of
	 * unrelated stacks has millions of frames but few drawn nodes.
	 */
	if (mp_u64map_reserve(&t.kids, nact * 2) < 0)
		goto out;
	if ((double)t.n[0].abs_value / total * WIDTH < MIN_W)
		nact = 0;
	for (int depth = 1; nact > 0; depth++) {
		size_t out = 0;

		for (size_t a = 0; a < nact; a++) {
			struct walker w = act[a];
			const Perftools__Profiles__Sample *sm = msg->sample[w.sample];

			while (w.li == NONE || w.j == loc_n[w.li]) {
				int64_t li;

				if (w.k == 0)
					break;
				li = mp_profile_location_index(p, sm->location_id[--w.k]);
				w.li = li < 0 ? NONE : (uint32_t)li;
				w.j = 0;
			}
			if (w.li == NONE || w.j == loc_n[w.li])
				continue;           /* no frames left */
			uint32_t c = child(&t, w.node, loc_names[loc_off[w.li] + w.j++]);
			if (c == NONE)
				goto out;
			int64_t v = sm->value[idx];
			t.n[c].abs_value = add64(t.n[c].abs_value, abs64(v));
			t.n[c].net = add64(t.n[c].net, v);
			w.node = c;
			act[out++] = w;
		}
		nact = 0;
		for (size_t a = 0; a < out; a++)
			if ((double)t.n[act[a].node].abs_value / total * WIDTH >= MIN_W)
				act[nact++] = act[a];
		if (nact > 0)
			t.maxdepth = depth;       /* the deepest level drawn */
	}

	/* Layout, depth first; children by name for a stable picture. */
	const char *type = mp_profile_str(p, msg->sample_type[idx]->type);
	const char *unit = mp_profile_str(p, msg->sample_type[idx]->unit);
	double height = TOP_PAD + (t.maxdepth + 1) * (FRAME_H + 2) + 24;
	fprintf(f, "<?xml version=\"1.0\" standalone=\"no\"?>\n"
		   "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%g\" height=\"%g\" "
		   "viewBox=\"0 0 %g %g\" class=\"memprof-flame\" data-diff=\"%d\">\n",
		WIDTH, height, WIDTH, height, diff ? 1 : 0);
	fputs("<style>text{font:12px monospace;fill:#000;pointer-events:none}"
	      "g.f:hover rect{stroke:#000;stroke-width:0.5}g.f{cursor:pointer}"
	      ".ui{cursor:pointer;font:12px sans-serif;fill:#06c}</style>\n", f);
	fputs("<rect width=\"100%\" height=\"100%\" fill=\"#fafafa\"/>\n<text x=\"6\" y=\"18\">", f);
	xml_text(f, title ? title : "");
	fprintf(f, " (%s, %s%s)</text>\n", type, unit, diff ? "; red grew, blue shrank" : "");
	fputs("<text id=\"reset\" class=\"ui\" x=\"900\" y=\"18\" style=\"opacity:0\">Reset zoom</text>\n"
	      "<text id=\"search\" class=\"ui\" x=\"1000\" y=\"18\">Search</text>\n"
	      "<text id=\"matched\" x=\"1060\" y=\"18\"></text>\n<g id=\"frames\">\n", f);
	/* explicit stack: (node, x, depth) */
	struct item {
		uint32_t n;
		double x;
		int depth;
	} *st = calloc(t.nn + 1, sizeof(*st));
	if (!st)
		goto out;
	size_t sp = 0;
	st[sp++] = (struct item){ 0, 0, 0 };
	while (sp) {
		struct item it = st[--sp];
		const struct fnode *nd = &t.n[it.n];
		double w = (double)nd->abs_value / total * WIDTH;
		if (w < MIN_W)
			continue;
		char fill[40];
		colour(fill, sizeof(fill), t.names[nd->name], nd->net, nd->abs_value, diff);
		double y = height - 24 - (it.depth + 1) * (FRAME_H + 2);
		fprintf(f, "<g class=\"f\" data-name=\"");
		xml_text(f, t.names[nd->name]);
		fprintf(f, "\" data-x=\"%.6f\" data-w=\"%.6f\" data-depth=\"%d\" data-v=\"%" PRId64
			   "\" data-net=\"%" PRId64 "\" data-fill=\"%s\"><title>",
			it.x, w, it.depth, nd->abs_value, nd->net, fill);
		xml_text(f, t.names[nd->name]);
		fprintf(f, " (%s%" PRId64 " %s, %.2f%%)</title><rect x=\"%.3f\" y=\"%g\" width=\"%.3f\" "
			   "height=\"%d\" fill=\"%s\" rx=\"2\"/><text x=\"%.3f\" y=\"%g\"></text></g>\n",
			diff && nd->net > 0 ? "+" : "", diff ? nd->net : nd->abs_value, unit,
			100.0 * (double)nd->abs_value / total, it.x, y, w, FRAME_H, fill, it.x + 3,
			y + FRAME_H - 4);
		/* children: sorted by name, pushed in reverse so the first is drawn first */
		size_t nc = 0;
		for (uint32_t c = nd->first_child; c != NONE; c = t.n[c].next_sibling)
			nc++;
		uint32_t *kids = calloc(nc + 1, sizeof(*kids));
		if (!kids) {
			free(st);
			goto out;
		}
		size_t k = 0;
		for (uint32_t c = nd->first_child; c != NONE; c = t.n[c].next_sibling)
			kids[k++] = c;
		qsort_r(kids, nc, sizeof(*kids), cmp_kids, &t);
		double cx = it.x;
		double *xs = calloc(nc + 1, sizeof(*xs));
		if (!xs) {
			free(kids);
			free(st);
			goto out;
		}
		for (size_t i = 0; i < nc; i++) {
			xs[i] = cx;
			cx += (double)t.n[kids[i]].abs_value / total * WIDTH;
		}
		for (size_t i = nc; i-- > 0;)
			st[sp++] = (struct item){ kids[i], xs[i], it.depth + 1 };
		free(xs);
		free(kids);
	}
	free(st);
	fputs("</g>\n", f);
	fprintf(f, script, WIDTH);
	fputs("</svg>\n", f);
	r = ferror(f) ? -EIO : 0;
out:
	for (size_t i = 0; i < t.nnames; i++)
		free(t.names[i]);
	free(t.names);
	free(t.n);
	free(act);
	free(fname_id);
	free(loc_off);
	free(loc_n);
	free(loc_names);
	mp_keymap_done(&names);
	mp_u64map_done(&t.kids);
	return r;
}

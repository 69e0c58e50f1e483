/* SPDX-License-Identifier: MIT */
/* One-line allocator statistics for `memprof run --stats` (see heapstats.h). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/heapstats.h"
#include "common/human.h"
#include "common/snapshot-read.h"
#include "report/stats.h"

static const struct {
	const char *name;
	int bytes;              /* shown as a size, else as a count */
} shown[] = {
	{ "HeapAlloc", 1 }, { "HeapInuse", 1 }, { "HeapIdle", 1 }, { "HeapReleased", 1 },
	{ "HeapSys", 1 }, { "Mallocs", 0 }, { "Frees", 0 }, { "RSS", 1 },
	{ "LeakScanBytes", 1 }, { "LeakScanNs", 0 },
};

size_t mp_heapstats_line(const struct mp_snap *snap, char *buf, size_t size)
{
	size_t n = 0, used = 0;
	if (size == 0)
		return 0;
	buf[0] = 0;
	for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++) {
		for (size_t k = 0; k < snap->nstats; k++) {
			if (strcmp(snap->stats[k].name, shown[i].name) != 0)
				continue;
			char val[32];
			if (shown[i].bytes)
				mp_human_bytes(snap->stats[k].value, val, sizeof(val));
			else
				snprintf(val, sizeof(val), "%" PRIu64, snap->stats[k].value);
			int w = snprintf(buf + used, size - used, "%s%s %s", n ? ", " : "",
					 shown[i].name, val);
			if (w < 0 || (size_t)w >= size - used)
				return n;
			used += (size_t)w;
			n++;
			break;
		}
	}
	return n;
}

void mp_run_few_samples_note(const struct mp_snap *snap, const char *out)
{
	uint64_t n = 0, rate = snap->header.rate;
	char rb[32];

	for (size_t k = 0; k < snap->nstats; k++)
		if (strcmp(snap->stats[k].name, "ForeignMalloc") == 0 && snap->stats[k].value) {
			fprintf(stderr, "memprof: note: '%s' misses the program's malloc calls: its "
				"executable defines malloc itself (an allocator linked in, such as "
				"jemalloc), which comes before memprof's\n", out);
			return;
		}
	if (rate <= 1)
		return;   /* every allocation, or sampling off: exact or empty by choice */
	for (size_t i = 0; i < snap->nheap; i++)
		n += snap->heap[i].alloc_objects;
	if (n >= MP_FEW_SAMPLES)
		return;
	mp_human_bytes(rate, rb, sizeof(rb));
	if (n == 0) {
		fprintf(stderr, "memprof: note: '%s' holds no sample: the program allocated too "
			"little for one sample every %s on average; --rate 1 records every "
			"allocation\n", out, rb);
		return;
	}
	fprintf(stderr, "memprof: note: '%s' rests on %" PRIu64 " sampled allocation%s (one "
		"every %s allocated, on average), too few for more than rough figures; "
		"--rate 1 records every allocation\n", out, n, n == 1 ? "" : "s", rb);
}

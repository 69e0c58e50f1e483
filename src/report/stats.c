/* SPDX-License-Identifier: MIT */
/*
 * The statistics table of `memprof stats` (see stats.h).  Statistics are
 * printed in the order the shim wrote them, byte counts also in binary
 * units; "BySize.<size>.Mallocs" and ".Frees" pairs become one table of
 * size classes with the blocks still live.  CLI only.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/human.h"
#include "report/stats.h"

static const struct {
	const char *name, *meaning;
	bool bytes;
} known[] = {
	{ "HeapAlloc", "bytes in live blocks", true },
	{ "HeapInuse", "bytes in spans that hold blocks", true },
	{ "HeapIdle", "bytes in spans that hold none", true },
	{ "HeapReleased", "bytes of idle spans returned to the kernel", true },
	{ "HeapSys", "bytes of address space the heap took from the kernel", true },
	{ "Mallocs", "blocks allocated", false },
	{ "Frees", "blocks freed", false },
	{ "HeapCached", "bytes of free blocks in thread caches", true },
	{ "RSS", "resident set size of the process", true },
	{ "LeakScanBytes", "bytes the leak scan read", true },
	{ "LeakScanNs", "nanoseconds the leak scan took", false },
	{ "ForeignMalloc", "1: the executable's own malloc came before memprof's", false },
	/* memprof attach's */
	{ "AttachRSSBefore", "resident set size at attach", true },
	{ "AttachRSSAfter", "resident set size at detach", true },
	{ "AttachCalls", "allocator calls seen", false },
	{ "AttachSampled", "allocator calls sampled", false },
	{ "AttachNested", "calls inside realloc and its kin, not counted again", false },
	{ "AttachLostEvents", "events lost: the ring buffer was full", false },
	{ "AttachUntracked", "sampled blocks whose free could not be tracked", false },
	{ "AttachStackless", "samples without a stack", false },
	{ "AttachFramesCFI", "frames unwound with .eh_frame", false },
	{ "AttachFramesFP", "frames unwound with the frame pointer", false },
	{ "AttachWalksElfutils", "stacks unwound again by elfutils", false },
	{ "AttachFramesElfutils", "frames elfutils unwound", false },
	{ "AttachForks", "processes forked during the attach", false },
	{ "AttachThreadsEnded", "threads that ended during the attach", false },
};

/* "BySize.<digits>.<what>": the size, or -1. */
static int64_t by_size(const char *name, const char *what)
{
	char *end;

	if (strncmp(name, "BySize.", 7) != 0 || name[7] < '0' || name[7] > '9')
		return -1;
	long long v = strtoll(name + 7, &end, 10);
	if (*end != '.' || strcmp(end + 1, what) != 0)
		return -1;
	return v;
}

int mp_stats_print(const struct mp_profile *p, FILE *f)
{
	const Perftools__Profiles__Profile *msg = p->msg;
	size_t classes = 0;
	int width = 14;              /* the longest name's, at least */

	for (size_t i = 0; i < msg->n_memprof_stat; i++) {
		const char *name = msg->memprof_stat[i]->name ? msg->memprof_stat[i]->name : "";

		if (by_size(name, "Mallocs") < 0 && by_size(name, "Frees") < 0 &&
		    (int)strlen(name) > width && strlen(name) < 64)
			width = (int)strlen(name);
	}

	for (size_t i = 0; i < msg->n_memprof_stat; i++) {
		const Perftools__Profiles__MemprofStat *s = msg->memprof_stat[i];
		const char *name = s->name ? s->name : "";
		char hb[32] = "";
		const char *meaning = "";

		if (by_size(name, "Mallocs") >= 0 || by_size(name, "Frees") >= 0) {
			classes += by_size(name, "Mallocs") >= 0;
			continue;
		}
		for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			if (strcmp(known[k].name, name) == 0) {
				meaning = known[k].meaning;
				if (known[k].bytes && s->value >= 1024)
					mp_human_bytes_fixed((uint64_t)s->value, hb, sizeof(hb));
			}
		fprintf(f, "%-*s %14" PRId64 "  %-10s %s\n", width, name, s->value, hb, meaning);
	}
	if (classes) {
		fputs("\nsize class        mallocs          frees           live\n", f);
		for (size_t i = 0; i < msg->n_memprof_stat; i++) {
			const char *name = msg->memprof_stat[i]->name ? msg->memprof_stat[i]->name : "";
			int64_t size = by_size(name, "Mallocs"), frees = 0;

			if (size < 0)
				continue;
			for (size_t k = 0; k < msg->n_memprof_stat; k++)
				if (msg->memprof_stat[k]->name &&
				    by_size(msg->memprof_stat[k]->name, "Frees") == size)
					frees = msg->memprof_stat[k]->value;
			fprintf(f, "%10" PRId64 " %14" PRId64 " %14" PRId64 " %14" PRId64 "\n", size,
				msg->memprof_stat[i]->value, frees, msg->memprof_stat[i]->value - frees);
		}
	}
	if (ferror(f))
		return -EIO;
	return (int)(msg->n_memprof_stat > INT32_MAX ? INT32_MAX : msg->n_memprof_stat);
}

/* The "bytes" label of a sample: the block size it was recorded at (0 when none). */
static int64_t sample_bytes(const struct mp_profile *p, const Perftools__Profiles__Sample *s)
{
	for (size_t j = 0; j < s->n_label; j++)
		if (strcmp(mp_profile_str(p, s->label[j]->key), "bytes") == 0)
			return s->label[j]->num;
	return 0;
}

struct part {
	const Perftools__Profiles__Sample *s;
	int64_t bytes;
};

/* Samples of one stack and one block size next to each other. */
static int part_cmp(const void *a, const void *b)
{
	const struct part *x = a, *y = b;

	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? -1 : 1;
	if (x->s->n_location_id != y->s->n_location_id)
		return x->s->n_location_id < y->s->n_location_id ? -1 : 1;
	for (size_t i = 0; i < x->s->n_location_id; i++)
		if (x->s->location_id[i] != y->s->location_id[i])
			return x->s->location_id[i] < y->s->location_id[i] ? -1 : 1;
	return 0;
}

/*
 * The number of sampled allocations a heap profile rests on, from its
 * unbiased values.  A heap record split by lifetime (one sample per class,
 * the same stack and "bytes" label) has parts whose values are differences
 * of the whole's scaled running sums: a part alone does not scale back to
 * a whole number, their sum does.  So samples of one stack and block size
 * are summed before scaling back.
 */
int mp_heap_sampled_allocations(const struct mp_profile *p, uint64_t *ret_samples, int64_t *ret_rate)
{
	const Perftools__Profiles__Profile *msg = p->msg;
	int io = mp_profile_type_index(p, "alloc_objects");
	int is = mp_profile_type_index(p, "alloc_space");
	struct part *parts;
	size_t np = 0;
	double n = 0;

	if (io < 0 || is < 0 || !msg->period_type || msg->period <= 1 ||
	    strcmp(mp_profile_str(p, msg->period_type->type), "space") != 0 ||
	    strcmp(mp_profile_str(p, msg->period_type->unit), "bytes") != 0)
		return -ENOENT;
	for (size_t i = 1; i < msg->n_string_table; i++)
		if (strcmp(msg->string_table[i], "pprof::base") == 0)
			return -ENOENT;   /* a difference: its values are not samples */
	parts = calloc(msg->n_sample ? msg->n_sample : 1, sizeof(*parts));
	if (!parts)
		return -ENOMEM;
	for (size_t i = 0; i < msg->n_sample; i++)
		if (msg->sample[i]->n_value > (size_t)io && msg->sample[i]->n_value > (size_t)is &&
		    msg->sample[i]->value[io] > 0)
			parts[np++] = (struct part){ msg->sample[i], sample_bytes(p, msg->sample[i]) };
	qsort(parts, np, sizeof(*parts), part_cmp);
	for (size_t i = 0; i < np;) {
		double objects = 0, bytes = 0;
		size_t j = i;

		for (; j < np && part_cmp(&parts[i], &parts[j]) == 0; j++) {
			objects += (double)parts[j].s->value[io];
			bytes += (double)parts[j].s->value[is];
		}
		i = j;
		/* Zero-byte blocks are kept unscaled.  The writer truncated the
		 * scaled count, so scaling back gives a little less than the
		 * whole number of samples, never more: round up. */
		if (bytes > 0)
			objects = ceil(objects * (1 - exp(-bytes / objects / (double)msg->period)) -
				       1e-6);
		n += objects;
	}
	free(parts);
	*ret_samples = n < 0 ? 0 : (uint64_t)n;
	*ret_rate = msg->period;
	return 0;
}

void mp_rate_text(int64_t rate, char *buf, size_t size)
{
	if (rate % (1 << 20) == 0)
		snprintf(buf, size, "%" PRId64 " MiB", rate >> 20);
	else if (rate % 1024 == 0)
		snprintf(buf, size, "%" PRId64 " KiB", rate >> 10);
	else
		snprintf(buf, size, "%" PRId64 " bytes", rate);
}

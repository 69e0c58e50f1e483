/* SPDX-License-Identifier: MIT */
/* Byte counts as people read them (see human.h). */
#include <inttypes.h>
#include <stdio.h>

#include "common/human.h"

/* v in the largest unit it reaches 1 of (TiB at most): the unit's index. */
static unsigned scaled(uint64_t v, double *ret_d)
{
	double d = (double)v;
	unsigned u = 0;

	while (d >= 1024 && u < 4) {
		d /= 1024;
		u++;
	}
	*ret_d = d;
	return u;
}

static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };

void mp_human_bytes(uint64_t v, char *buf, size_t size)
{
	double d;
	unsigned u = scaled(v, &d);

	if (u == 0)
		snprintf(buf, size, "%" PRIu64 " B", v);
	else if (d == (double)(uint64_t)d)
		snprintf(buf, size, "%.0f %s", d, units[u]);   /* "512 KiB" */
	else
		snprintf(buf, size, "%.1f %s", d, units[u]);
}

void mp_human_bytes_fixed(uint64_t v, char *buf, size_t size)
{
	double d;
	unsigned u = scaled(v, &d);

	if (u == 0)
		snprintf(buf, size, "%" PRIu64 " B", v);
	else
		snprintf(buf, size, "%.1f %s", d, units[u]);
}

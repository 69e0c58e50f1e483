/* SPDX-License-Identifier: MIT */
/*
 * The shim's reading of MEMPROF_OPTIONS: the table and the parser are the
 * contract's (common/shim-options.h); here they meet the shim's warnings
 * (one per bad item, capped like every warning) and verbose=1's listing.
 * In the target: no allocation, no stdio.
 */
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "shim/shim.h"

static void warn_item(void *ctx, const char *what, const char *item, size_t n)
{
	char buf[128];
	(void)ctx;
	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	memcpy(buf, item, n);
	buf[n] = 0;
	if (strcmp(what, "colon") == 0)
		mp_warn("MEMPROF_OPTIONS separates options with ',', not ':': '", buf, "', ignoring",
			NULL);
	else
		mp_warn(what, " in MEMPROF_OPTIONS: '", buf, "', ignoring");
}

void mp_shim_options_read(struct mp_options *o)
{
	mp_options_default(o);
	mp_options_parse(o, getenv(MP_OPTIONS_ENV), warn_item, NULL);
}

void mp_shim_options_print(const struct mp_options *o)
{
	char num[24];
	for (size_t i = 0; i < mp_options_count; i++)
		mp_log("option ", mp_options_table[i].name, "=",
		       mp_options_value(o, &mp_options_table[i], 0, num));
}

/* SPDX-License-Identifier: MIT */
/* One-line error messages for the CLI (see errmsg.h). */
#include <stdarg.h>
#include <stdio.h>

#include "common/errmsg.h"

void mp_set_err(char **ret_err, const char *fmt, ...)
{
	va_list ap;

	if (!ret_err)
		return;
	va_start(ap, fmt);
	if (vasprintf(ret_err, fmt, ap) < 0)
		*ret_err = NULL;
	va_end(ap);
}

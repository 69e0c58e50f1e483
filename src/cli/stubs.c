/* SPDX-License-Identifier: MIT */
/*
 * Stand-ins for the parts of the CLI that src/cli/meson.build did not find
 * (while the project is assembled piece by piece): they fail cleanly instead
 * of breaking the link.  Compiled only when something is missing.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "convert/convert.h"

#ifndef MP_CLI_STUB_TOP
#define MP_CLI_STUB_TOP 0
#endif
#ifndef MP_CLI_STUB_CONVERT
#define MP_CLI_STUB_CONVERT 0
#endif

#if MP_CLI_STUB_TOP
int mp_cmd_top(int argc, char **argv)
{
	fputs("memprof: 'top' is not built into this memprof\n", stderr);
	return 1;
}
#endif

#if MP_CLI_STUB_CONVERT
int mp_cmd_convert(int argc, char **argv)
{
	fputs("memprof: 'convert' is not built into this memprof\n", stderr);
	return 1;
}

int mp_convert_heap(const char *snapshot_path, const char *heap_out, char **ret_err)
{
	if (ret_err)
		*ret_err = strdup("cannot convert snapshots: not built into this memprof");
	return -ENOSYS;
}
#endif

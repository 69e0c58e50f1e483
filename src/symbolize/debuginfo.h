/* SPDX-License-Identifier: MIT */
/*
 * Finding a file's separate debug file for libdwfl (its find_debuginfo
 * callback): libdwfl's standard search, except that debuginfod is only
 * asked when servers are configured (debuginfo.c says why).  Internal to
 * src/symbolize/.
 */
#ifndef MP_SYMBOLIZE_DEBUGINFO_H
#define MP_SYMBOLIZE_DEBUGINFO_H

#include <elfutils/libdwfl.h>
#include <stdbool.h>
#include <sys/types.h>

/* The file a module was opened from; a module's libdwfl user data points
 * to one (dwfl_module_info's userdata), NULL: compare by name. */
struct mp_file_id {
	dev_t dev;
	ino_t ino;
};

/* Whether DEBUGINFOD_URLS names a server. */
bool mp_debuginfod_servers(void);

/* A Dwfl_Callbacks.find_debuginfo: dwfl_standard_find_debuginfo's
 * contract. */
int mp_find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname, GElf_Addr base,
		      const char *file_name, const char *debuglink, GElf_Word crc, char **ret_name);

#endif

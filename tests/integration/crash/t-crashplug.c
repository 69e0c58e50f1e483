/* SPDX-License-Identifier: MIT */
/* A plugin t-crash loads with dlopen after start: its code is named in the
 * profile of a process killed after using it. */
#include <stdlib.h>
#include <string.h>

void *plugin_kept[100];

__attribute__((noinline)) void plugin_alloc(void)
{
	for (int i = 0; i < 100; i++) {
		plugin_kept[i] = malloc(500);
		memset(plugin_kept[i], 3, 500);
	}
}

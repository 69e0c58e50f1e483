/* SPDX-License-Identifier: MIT */
/* The hooks the shim sets for the trackers (see resources.h). */
#include "resources/internal.h"

struct mp_res_hooks mp_res_hooks;

void mp_res_set_hooks(const struct mp_res_hooks *hooks)
{
	mp_res_hooks = *hooks;
}

int mp_res_death;

void mp_res_dying(void)
{
	__atomic_store_n(&mp_res_death, 1, __ATOMIC_RELEASE);
}

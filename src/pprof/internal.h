/* SPDX-License-Identifier: MIT */
/* Between the pprof module's own files, never outside it.  CLI only. */
#ifndef MP_PPROF_INTERNAL_H
#define MP_PPROF_INTERNAL_H

#include "pprof/pprof.h"

/*
 * mp_profile_new() for a message the builder made (validate.c): its ids
 * are indexed and nothing else is checked, for the builder's output holds
 * every rule by construction and checking a big one again costs as much as
 * reading it.  Same returns.
 */
int mp_profile_new_built(const Perftools__Profiles__Profile *msg, struct mp_profile **ret,
			 char **ret_err);

#endif

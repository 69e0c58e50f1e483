/* SPDX-License-Identifier: MIT */
/* The profile kinds' names (see profile-kind.h). */
#include <string.h>

#include "common/profile-kind.h"
#include "common/snapshot.h"

const struct mp_profile_kind_info mp_profile_kinds[MP_PROFILE_KINDS] = {
	[MP_PROFILE_HEAP] = { "heap", "heap", "heap", ".heap.pb.gz", 0 },
	[MP_PROFILE_FDS] = { "fds", "fd", "descriptor", ".fds.pb.gz", MP_RES_FD },
	[MP_PROFILE_THREADS] = { "threads", "thread", "thread", ".threads.pb.gz", MP_RES_THREAD },
	[MP_PROFILE_TIMERS] = { "timers", "timer", "timer", ".timers.pb.gz", MP_RES_TIMER },
	[MP_PROFILE_PEAK] = { "peak", "peak", "peak heap", ".peak.pb.gz", 0 },
};

enum mp_profile_kind mp_profile_kind_of_name(const char *name)
{
	size_t len = strlen(name);

	for (int k = 0; k < MP_PROFILE_KINDS; k++) {
		size_t l = strlen(mp_profile_kinds[k].suffix);

		if (len > l && memcmp(name + len - l, mp_profile_kinds[k].suffix, l) == 0)
			return (enum mp_profile_kind)k;
	}
	return MP_PROFILE_NONE;
}

enum mp_profile_kind mp_profile_kind_of_res_class(uint32_t res_class)
{
	for (int k = 0; k < MP_PROFILE_KINDS; k++)
		if (res_class && mp_profile_kinds[k].res_class == res_class)
			return (enum mp_profile_kind)k;
	return MP_PROFILE_NONE;
}

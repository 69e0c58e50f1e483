/* SPDX-License-Identifier: MIT */
/*
 * The contract between the shim and the CLI (src/common/): the profile
 * kinds and their names.
 */
#include <string.h>

#include "common/profile-kind.h"
#include "common/snapshot.h"
#include "tap.h"

static void test_profile_kinds(void)
{
	static const struct {
		const char *name;
		int kind;
	} names[] = {
		{ "app.heap.pb.gz", MP_PROFILE_HEAP },
		{ "app.s0003.fds.pb.gz", MP_PROFILE_FDS },
		{ "/tmp/x.threads.pb.gz", MP_PROFILE_THREADS },
		{ "x.timers.pb.gz", MP_PROFILE_TIMERS },
		{ ".timers.pb.gz", MP_PROFILE_TIMERS },
		{ "x.pb.gz", -1 },
		{ "x.heap.pb", -1 },
		{ "heap.pb.gz", -1 },
		{ "", -1 },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		CHECK_INT(mp_profile_kind_of_name(names[i].name), names[i].kind);
	for (int k = 0; k < MP_PROFILE_KINDS; k++) {
		const struct mp_profile_kind_info *p = &mp_profile_kinds[k];
		char want[32];

		/* Every kind is named, its suffix is "." name ".pb.gz", and its
		 * records' class leads back to it. */
		CHECK(p->name && p->item && p->noun && p->suffix);
		snprintf(want, sizeof(want), ".%s.pb.gz", p->name);
		CHECK_STR(p->suffix, want);
		if (k != MP_PROFILE_HEAP)
			CHECK_INT(mp_profile_kind_of_res_class(p->res_class), k);
	}
	CHECK_INT(mp_profile_kind_of_res_class(MP_RES_FD), MP_PROFILE_FDS);
	CHECK_INT(mp_profile_kind_of_res_class(MP_RES_THREAD), MP_PROFILE_THREADS);
	CHECK_INT(mp_profile_kind_of_res_class(MP_RES_TIMER), MP_PROFILE_TIMERS);
	CHECK_INT(mp_profile_kind_of_res_class(0), -1);
	CHECK_INT(mp_profile_kind_of_res_class(99), -1);
	CHECK_STR(mp_profile_kinds[MP_PROFILE_FDS].item, "fd");
	CHECK_STR(mp_profile_kinds[MP_PROFILE_FDS].noun, "descriptor");
}

int main(void)
{
	test_profile_kinds();
	return tap_done();
}

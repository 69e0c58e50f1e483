/* SPDX-License-Identifier: MIT */
/*
 * The in-program API's side in the shim (<memprof.h>, memprof(3)): the
 * functions the header finds with dlsym(RTLD_DEFAULT, ...) when the shim
 * is loaded.  Their names carry the API's version; they return 0 or more,
 * or a negative errno, which the header turns into -1 and errno.
 *
 * Called on a thread of the program, outside any of the shim's locks; not
 * from a signal handler that interrupted the allocator or memprof's own
 * code (-EDEADLK).
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "base/compiler.h"
#include "base/guard.h"
#include "base/lock.h"
#include "common/snapshot.h"
#include "leakscan/ignore.h"
#include "leakscan/leakscan.h"
#include "sample/unwind.h"
#include "shim/shim.h"
#include "shim/trigger.h"

static int loaded(void)
{
	return __atomic_load_n(&mp_shim.init, __ATOMIC_ACQUIRE) == MP_INIT_DONE;
}

/* Snapshots need the profile tables (sampling on). */
static int ready(void)
{
	return loaded() && mp_shim.enabled;
}

/* The leak functions need the own allocator. */
static int own_heap(void)
{
	return loaded() && mp_shim_alloc_mode() == MP_MODE_OWN;
}

/* Whether this thread may run a snapshot or a scan now. */
static int can_run(void)
{
	return !mp_busy && !mp_lock_held && !mp_trigger_is_own_thread();
}

MP_EXPORT int memprof_api_v1_running(void)
{
	return loaded();
}

MP_EXPORT int memprof_api_v1_snapshot(const char *name)
{
	if (!ready())
		return -ENOTSUP;
	if (name && !mp_snap_name_ok(name, strnlen(name, MP_SNAP_NAME_MAX + 1)))
		return -EINVAL;
	if (!can_run())
		return -EDEADLK;
	mp_busy++;
	int r = mp_trigger_snapshot_named(name);
	mp_busy--;
	return r;
}

MP_EXPORT long memprof_api_v1_leak_check(void)
{
	uint64_t bytes = 0;

	if (!own_heap())
		return -ENOTSUP;
	if (!can_run())
		return -EDEADLK;
	mp_busy++;
	/* No snapshot is written meanwhile, and none after the final one. */
	int r = mp_trigger_write_lock(1);
	if (r == 0) {
		/* Roots: the program's stack from its call, and the
		 * callee-saved registers it had (this frame may have saved
		 * them below its frame address). */
		uintptr_t cfa = (uintptr_t)__builtin_dwarf_cfa(), sp = cfa;
		uintptr_t regs[MP_UNWIND_NSAVED];
		unsigned nregs = mp_unwind_caller(0, 0, cfa, &sp, regs) == 0 ? MP_UNWIND_NSAVED : 0;
		r = mp_leakscan_run_live(sp, regs, nregs, mp_trigger_tid(), &bytes);
		mp_trigger_write_unlock(1, 0);
	}
	mp_busy--;
	if (r < 0)
		return r;
	return bytes > (uint64_t)LONG_MAX ? LONG_MAX : (long)bytes;
}

MP_EXPORT int memprof_api_v1_ignore(const void *p)
{
	if (!own_heap())
		return -ENOTSUP;
	return mp_leakscan_ignore(p);
}

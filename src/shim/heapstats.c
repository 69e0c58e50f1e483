/* SPDX-License-Identifier: MIT */
/*
 * The own allocator's statistics as snapshot key/values (MP_SNAP_STATS),
 * named like Go's runtime.MemStats: HeapAlloc, HeapInuse, HeapIdle,
 * HeapReleased, HeapSys, Mallocs, Frees, plus HeapCached (free blocks
 * parked in thread caches and central batches, counted in HeapInuse but not
 * HeapAlloc), LeakScanBytes and LeakScanNs (the leak scan's work, leak=1),
 * and per size class
 * "BySize.<size>.Mallocs" / "BySize.<size>.Frees" for the classes used.
 * Large blocks (more than 32 KiB) count in Mallocs/Frees only, as in Go.
 * Runs in the target: no allocation.
 */
#include <string.h>

#include "alloc/alloc.h"
#include "common/snapshot.h"
#include "leakscan/leakscan.h"
#include "shim/shim.h"

static size_t put(struct mp_snap_kv *kv, size_t i, size_t cap, const char *a, const char *b,
		  const char *c, uint64_t v)
{
	if (i >= cap)
		return i;
	memset(kv[i].name, 0, sizeof(kv[i].name));
	size_t n = 0;
	for (const char *parts[] = { a, b, c }, **q = parts; q < parts + 3; q++)
		for (const char *s = *q; s && *s && n < sizeof(kv[i].name) - 1; s++)
			kv[i].name[n++] = *s;
	kv[i].value = v;
	return i + 1;
}

size_t mp_shim_heap_stats(struct mp_snap_kv *kv, size_t cap)
{
	if (__atomic_load_n(&mp_alloc_mode, __ATOMIC_ACQUIRE) != MP_MODE_OWN)
		return 0;
	static struct mp_alloc_stats st;   /* big: not on a small thread stack */
	mp_alloc_stats(&st);
	size_t i = 0;
	i = put(kv, i, cap, "HeapAlloc", NULL, NULL, st.heap_alloc);
	i = put(kv, i, cap, "HeapInuse", NULL, NULL, st.heap_inuse);
	i = put(kv, i, cap, "HeapIdle", NULL, NULL, st.heap_idle);
	i = put(kv, i, cap, "HeapReleased", NULL, NULL, st.heap_released);
	i = put(kv, i, cap, "HeapSys", NULL, NULL, st.heap_sys);
	i = put(kv, i, cap, "Mallocs", NULL, NULL, st.mallocs);
	i = put(kv, i, cap, "Frees", NULL, NULL, st.frees);
	i = put(kv, i, cap, "HeapCached", NULL, NULL, st.cached);
	uint64_t scan_bytes, scan_ns;
	mp_leakscan_timing(&scan_bytes, &scan_ns);
	if (scan_ns) {
		i = put(kv, i, cap, "LeakScanBytes", NULL, NULL, scan_bytes);
		i = put(kv, i, cap, "LeakScanNs", NULL, NULL, scan_ns);
	}
	for (unsigned c = 1; c < MP_NCLASS; c++) {
		char num[24];
		if (!st.class_mallocs[c])
			continue;
		mp_utoa(mp_classes[c].size, num);
		i = put(kv, i, cap, "BySize.", num, ".Mallocs", st.class_mallocs[c]);
		i = put(kv, i, cap, "BySize.", num, ".Frees", st.class_frees[c]);
	}
	return i;
}

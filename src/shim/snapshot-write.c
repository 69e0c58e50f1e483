/* SPDX-License-Identifier: MIT */
/*
 * Writing a raw snapshot (common/snapshot.h) from inside the target.
 *
 * The file is written to "<dir>/memprof.<pid>.snap.tmp" (O_EXCL) and renamed
 * to "<dir>/memprof.<pid>.snap", so a reader never sees half a file; numbered
 * snapshots taken while the program runs (trigger.c) are
 * "<dir>/memprof.<pid>.<seq>.snap".  Writers are serialized by trigger.c's
 * write lock.  The
 * maps text is read into memory we map ourselves; no malloc, no stdio.
 * Profile tables are locked only while their bytes are written.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>   /* rename() only: no stdio streams */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "alloc/ownmem.h"
#include "common/snapshot.h"
#include "sample/stacks.h"
#include "sample/vm.h"
#include "leakscan/leakscan.h"
#include "resources/fds.h"
#include "resources/threads.h"
#include "resources/timers.h"
#include "shim/shim.h"
#include "shim/trigger.h"

static int write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int write_section(int fd, uint32_t type, const void *data, size_t size)
{
	static const char zeros[8];
	struct mp_snap_section s = { .type = type, .size = size };
	int r = write_all(fd, &s, sizeof(s));
	if (r == 0)
		r = write_all(fd, data, size);
	if (r == 0 && size % 8)
		r = write_all(fd, zeros, 8 - size % 8);
	return r;
}

/* One section from three buffers back to back (records of one array). */
static int write_section3(int fd, uint32_t type, const void *a, size_t na, const void *b, size_t nb,
			  const void *c, size_t nc)
{
	static const char zeros[8];
	struct mp_snap_section s = { .type = type, .size = na + nb + nc };
	int r = write_all(fd, &s, sizeof(s));
	if (r == 0 && na)
		r = write_all(fd, a, na);
	if (r == 0 && nb)
		r = write_all(fd, b, nb);
	if (r == 0 && nc)
		r = write_all(fd, c, nc);
	if (r == 0 && (na + nb + nc) % 8)
		r = write_all(fd, zeros, 8 - (na + nb + nc) % 8);
	return r;
}

/* Whole file into a fresh mapping (procfs sizes are unknown up front). */
static int slurp(const char *path, char **ret_buf, size_t *ret_len, size_t *ret_cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t cap = 64 << 10, len = 0;
	char *buf = mp_vm_reserve(cap);
	int r = 0;
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	for (;;) {
		if (len == cap) {
			char *n = mremap(buf, cap, cap * 2, MREMAP_MAYMOVE);
			if (n == MAP_FAILED) {
				r = -ENOMEM;
				break;
			}
			/* It may have moved: ours is where it is now. */
			mp_ownmem_remove(buf, cap);
			mp_ownmem_add(n, cap * 2);
			buf = n;
			cap *= 2;
		}
		ssize_t got = read(fd, buf + len, cap - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = -errno;
			break;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	if (r < 0) {
		mp_vm_release(buf, cap);
		goto out;
	}
	*ret_buf = buf;
	*ret_len = len;
	*ret_cap = cap;
out:
	close(fd);
	return r;
}

static size_t build_path(char *dst, size_t cap, const char *dir, uint64_t pid, uint32_t seq,
			 const char *suffix)
{
	char num[24], seqnum[24];
	mp_utoa(pid, num);
	mp_utoa(seq, seqnum);
	size_t n = 0;
	const char *parts[] = { dir, "/memprof.", num, seq ? "." : "", seq ? seqnum : "", ".snap",
				suffix };
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		size_t l = strlen(parts[i]);
		if (n + l >= cap)
			return 0;
		memcpy(dst + n, parts[i], l);
		n += l;
	}
	dst[n] = 0;
	return n;
}

static int snapshot_write_locked(uint32_t seq, uint64_t flags)
{
	char path[PATH_MAX], tmp[PATH_MAX], exe[PATH_MAX];
	uint64_t pid = (uint64_t)getpid();
	const char *dir = mp_shim.opt.snapdir;
	if (!build_path(path, sizeof(path), dir, pid, seq, "") ||
	    !build_path(tmp, sizeof(tmp), dir, pid, seq, ".tmp"))
		return -ENAMETOOLONG;

	char *maps = NULL;
	size_t maps_len = 0, maps_cap = 0;
	int r = slurp("/proc/self/maps", &maps, &maps_len, &maps_cap);
	if (r < 0) {
		mp_warn("cannot read /proc/self/maps: ", strerrorname_np(-r),
			", no profile written", NULL);
		return r;
	}
	ssize_t exe_len = readlink("/proc/self/exe", exe, sizeof(exe));
	if (exe_len < 0)
		exe_len = 0;

	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 && errno == EEXIST) {
		/* A stale temporary from a process with our pid that died. */
		unlink(tmp);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	}
	if (fd < 0) {
		r = -errno;
		mp_warn("cannot write snapshot '", tmp, "': ", strerrorname_np(-r));
		goto out_maps;
	}

	/* Statistics of the moment (MP_SNAP_STATS): RSS from trigger.c. */
	static struct mp_snap_kv stats[8 + 2 * MP_NCLASS];   /* writers are serialized */
	size_t nstats = mp_trigger_stats(stats, sizeof(stats) / sizeof(stats[0]));
	nstats += mp_shim_heap_stats(stats + nstats, sizeof(stats) / sizeof(stats[0]) - nstats);

	/* The leak scan's result, in the final snapshot only (leak=1). */
	const void *leaks = NULL;
	size_t leaks_size = 0;
	if (flags & MP_SNAP_F_FINAL)
		mp_leakscan_records(&leaks, &leaks_size);
	/* Live file descriptors (resources/fds.c). */
	const void *res = NULL, *thr = NULL;
	size_t res_size = mp_fds_records(&res) * sizeof(struct mp_snap_res_rec);
	size_t thr_size = mp_threads_records(&thr) * sizeof(struct mp_snap_res_rec);
	const void *tim = NULL;
	size_t tim_size = mp_timers_records(&tim) * sizeof(struct mp_snap_res_rec);
	/* Libraries unloaded so far (dlclose.c). */
	const void *unl = NULL;
	size_t unl_size = mp_unload_records(&unl);

	mp_prof_lock();
	const void *stacks, *buckets;
	size_t stacks_size, buckets_size;
	mp_prof_stacks(&stacks, &stacks_size);
	mp_prof_buckets(&buckets, &buckets_size);
	struct mp_snap_header h = {
		.version = MP_SNAP_VERSION,
		.endian = MP_SNAP_ENDIAN_TAG,
		.header_size = sizeof(h),
		.nsections = 4 + (nstats ? 1 : 0) + (leaks_size ? 1 : 0) + 1 + (unl_size ? 1 : 0),
		.pid = pid,
		.ppid = (uint64_t)getppid(),
		.rate = mp_shim.opt.rate,
		.start_ns = mp_shim.start_ns,
		.end_ns = mp_now_ns(),
		.max_depth = mp_shim.opt.depth,
		.seq = seq,
		.flags = flags | (mp_prof_truncated() ? MP_SNAP_F_TRUNCATED : 0),
	};
	memcpy(h.magic, MP_SNAP_MAGIC, sizeof(h.magic));
	r = write_all(fd, &h, sizeof(h));
	if (r == 0)
		r = write_section(fd, MP_SNAP_MAPS, maps, maps_len);
	if (r == 0)
		r = write_section(fd, MP_SNAP_EXE, exe, (size_t)exe_len);
	if (r == 0)
		r = write_section(fd, MP_SNAP_STACKS, stacks, stacks_size);
	if (r == 0)
		r = write_section(fd, MP_SNAP_HEAP, buckets, buckets_size);
	if (r == 0 && nstats)
		r = write_section(fd, MP_SNAP_STATS, stats, nstats * sizeof(stats[0]));
	if (r == 0 && leaks_size)
		r = write_section(fd, MP_SNAP_LEAKS, leaks, leaks_size);
	if (r == 0)
		r = write_section3(fd, MP_SNAP_RESOURCES, res, res_size, thr, thr_size, tim, tim_size);
	if (r == 0 && unl_size)
		r = write_section(fd, MP_SNAP_UNLOADED, unl, unl_size);
	mp_prof_unlock();

	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		mp_warn("cannot write snapshot '", path, "': ", strerrorname_np(-r));
	}
out_maps:
	mp_vm_release(maps, maps_cap);
	return r;
}

int mp_snapshot_write(uint32_t seq, uint64_t flags)
{
	int r = mp_trigger_write_lock(seq);
	if (r < 0)
		return r;
	r = snapshot_write_locked(seq, flags);
	mp_trigger_write_unlock(seq, r == 0);
	return r;
}

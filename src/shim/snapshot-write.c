/* SPDX-License-Identifier: MIT */
/*
 * Writing a raw snapshot (common/snapshot.h) from inside the target.
 *
 * The file is written to "<dir>/memprof.<pid>.snap.tmp" (O_EXCL) and renamed
 * to "<dir>/memprof.<pid>.snap", so a reader never sees half a file; numbered
 * snapshots taken while the program runs (trigger.c) are
 * "<dir>/memprof.<pid>.<seq>.snap", and the answers to live requests
 * "<dir>/memprof.<pid>.<token>.live" (the names: common/snapfile.h).  Writers
 * are serialized by trigger.c's write lock.  The
 * maps text is streamed into the file; no malloc, no stdio, no mapping.
 * Profile tables are locked only while their bytes are written.
 *
 * All of it runs through mp_privfd_run (base/privfd.h): the files are
 * opened in a descriptor table of the shim's own, never the program's, so
 * a program that used up its descriptors still gets its snapshot, and the
 * numbers the program's other threads get from open() meanwhile are the
 * ones they would get without us.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>   /* rename() only: no stdio streams */
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/snapfile.h"
#include "common/snapshot.h"
#include "common/write-all.h"
#include "base/privfd.h"
#include "base/shm.h"
#include "sample/peak.h"
#include "sample/stacks.h"
#include "base/vm.h"
#include "leakscan/leakscan.h"
#include "resources/resources.h"
#include "shim/shim.h"
#include "shim/trigger.h"

static int write_section(int fd, uint32_t type, const void *data, size_t size)
{
	static const char zeros[8];
	struct mp_snap_section s = { .type = type, .size = size };
	int r = mp_write_all(fd, &s, sizeof(s));
	if (r == 0)
		r = mp_write_all(fd, data, size);
	if (r == 0 && size % 8)
		r = mp_write_all(fd, zeros, 8 - size % 8);
	return r;
}

/* One section from three buffers back to back (records of one array). */
static int write_section3(int fd, uint32_t type, const void *a, size_t na, const void *b, size_t nb,
			  const void *c, size_t nc)
{
	static const char zeros[8];
	struct mp_snap_section s = { .type = type, .size = na + nb + nc };
	int r = mp_write_all(fd, &s, sizeof(s));
	if (r == 0 && na)
		r = mp_write_all(fd, a, na);
	if (r == 0 && nb)
		r = mp_write_all(fd, b, nb);
	if (r == 0 && nc)
		r = mp_write_all(fd, c, nc);
	if (r == 0 && (na + nb + nc) % 8)
		r = mp_write_all(fd, zeros, 8 - (na + nb + nc) % 8);
	return r;
}

/*
 * A section copied from a file whose size is unknown up front (procfs):
 * streamed through a static buffer (writers are serialized), its header
 * written last at its place.  No memory is mapped: a program that used up
 * its address space (RLIMIT_AS) still gets its snapshot.  `quiet`: a
 * failure is not said (see say_not_written).
 */
static int write_section_file(int fd, uint32_t type, const char *path, int quiet)
{
	static char buf[64 << 10];
	static const char zeros[8];
	struct mp_snap_section s = { .type = type, .size = 0 };
	off_t at = lseek(fd, 0, SEEK_CUR);
	int r, in;

	if (at < 0)
		return -errno;
	in = mp_sys_open(path, O_RDONLY | O_CLOEXEC, 0);
	if (in < 0) {
		r = -errno;
		if (!quiet)
			mp_warn("cannot read ", path, ": ", strerrorname_np(-r));
		return r;
	}
	r = mp_write_all(fd, &s, sizeof(s));
	while (r == 0) {
		ssize_t got = read(in, buf, sizeof(buf));
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = -errno;
			if (!quiet)
				mp_warn("cannot read ", path, ": ", strerrorname_np(-r));
			break;
		}
		if (got == 0)
			break;
		r = mp_write_all(fd, buf, (size_t)got);
		s.size += (uint64_t)got;
	}
	mp_sys_close(in);
	if (r == 0 && s.size % 8)
		r = mp_write_all(fd, zeros, 8 - s.size % 8);
	if (r == 0 && pwrite(fd, &s, sizeof(s), at) != (ssize_t)sizeof(s))
		r = errno ? -errno : -EIO;
	return r;
}

struct write_args {
	enum mp_snapfile kind;     /* final, numbered or live */
	uint32_t seq;              /* numbered: its number; live: the token */
	const char *name;          /* numbered: its MP_SNAP_NAME, or NULL */
	uint64_t flags;
	uint64_t pid, ppid;        /* the program's (the writer may be a child) */
	const void *res;           /* live descriptors, described in the program's */
	size_t res_size;           /* own table (the writer's has none of them) */
};

static void say_not_written(const struct write_args *a, const char *path, int r);

/* The statistics the last write computed (writers are serialized). */
static struct mp_snap_kv stats[12 + 2 * MP_NCLASS];
static size_t stats_n;

/* Whether a failure loses nothing (see say_not_written). */
static int lost_quietly(const struct write_args *a)
{
	return a->kind == MP_SNAPFILE_FINAL && mp_shm_shared();
}

static int snapshot_write_locked(void *arg)
{
	const struct write_args *a = arg;
	char path[PATH_MAX], tmp[PATH_MAX], exe[PATH_MAX];
	uint32_t seq = a->seq;
	uint64_t flags = a->flags, pid = a->pid;
	const char *dir = mp_shim.opt.snapdir;
	enum mp_snapfile kind = a->kind;
	size_t name_len = a->name ? strlen(a->name) : 0;
	if (!mp_snapfile_path(path, sizeof(path), dir, kind, pid, seq, NULL) ||
	    !mp_snapfile_path(tmp, sizeof(tmp), dir, kind, pid, seq, MP_SNAPFILE_TMP))
		return -ENAMETOOLONG;

	int r;
	ssize_t exe_len = readlink("/proc/self/exe", exe, sizeof(exe));
	if (exe_len < 0)
		exe_len = 0;

	/* Statistics of the moment (MP_SNAP_STATS): RSS from trigger.c.
	 * Before the file, for salvage() too. */
	stats_n = mp_trigger_stats(stats, sizeof(stats) / sizeof(stats[0]));
	if (mp_shim.foreign_malloc) {
		memset(&stats[stats_n], 0, sizeof(stats[stats_n]));
		memcpy(stats[stats_n].name, "ForeignMalloc", sizeof("ForeignMalloc"));
		stats[stats_n++].value = 1;
	}
	stats_n += mp_shim_heap_stats(stats + stats_n, sizeof(stats) / sizeof(stats[0]) - stats_n);

	int fd = mp_sys_open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 && errno == EEXIST) {
		/* A stale temporary from a process with our pid that died. */
		unlink(tmp);
		fd = mp_sys_open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	}
	if (fd < 0) {
		struct stat st;
		char num[24], uid[24];

		r = -errno;
		/* A process that became another user (su, runuser, a daemon
		 * dropping privileges) cannot write into memprof's private
		 * directory (nor, often, see it): say that, not a path it never
		 * chose. */
		if (r == -EACCES && !(stat(dir, &st) == 0 && st.st_uid == geteuid())) {
			mp_utoa(pid, num);
			mp_utoa(geteuid(), uid);
			mp_warn("no profile for process ", num,
				": it runs as another user than memprof, uid ", uid);
		} else {
			say_not_written(a, tmp, r);
		}
		return r;
	}

	/* The leak scan's result, in the final snapshot only (leak=1). */
	const void *leaks = NULL;
	size_t leaks_size = 0;
	if (flags & MP_SNAP_F_FINAL)
		mp_leakscan_records(&leaks, &leaks_size);
	/* Live file descriptors, described by mp_snapshot_write. */
	const void *res = a->res, *thr = NULL;
	size_t res_size = a->res_size;
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
	/* The peak and the lifetimes, records parallel to the buckets
	 * (sample/peak.h): the lifetimes before the buckets, the peak after
	 * them (the orders common/snapshot.h relies on). */
	uint32_t nb = (uint32_t)(buckets_size / sizeof(struct mp_snap_heap_rec));
	const void *peak_hdr, *peak_recs, *life;
	size_t peak_hdr_size, peak_recs_size, life_size;
	mp_peak_life_region(nb, &life, &life_size);
	struct mp_snap_header h = {
		.version = MP_SNAP_VERSION,
		.endian = MP_SNAP_ENDIAN_TAG,
		.header_size = sizeof(h),
		.nsections = 4 + (stats_n ? 1 : 0) + (leaks_size ? 1 : 0) + 1 + (unl_size ? 1 : 0) +
			     (life ? 2 : 0) + (name_len ? 1 : 0),
		.pid = pid,
		.ppid = a->ppid,
		.rate = mp_shim.opt.rate,
		.start_ns = mp_shim.start_ns,
		.end_ns = mp_now_ns(),
		.max_depth = mp_shim.opt.depth,
		.seq = kind == MP_SNAPFILE_NUMBERED ? seq : 0,
		.flags = flags | (mp_prof_truncated() ? MP_SNAP_F_TRUNCATED : 0),
	};
	memcpy(h.magic, MP_SNAP_MAGIC, sizeof(h.magic));
	r = mp_write_all(fd, &h, sizeof(h));
	if (r == 0)
		r = write_section_file(fd, MP_SNAP_MAPS, "/proc/self/maps", lost_quietly(a));
	if (r == 0)
		r = write_section(fd, MP_SNAP_EXE, exe, (size_t)exe_len);
	if (r == 0)
		r = write_section(fd, MP_SNAP_STACKS, stacks, stacks_size);
	if (r == 0 && life)
		r = write_section(fd, MP_SNAP_LIFETIMES, life, life_size);
	if (r == 0)
		r = write_section(fd, MP_SNAP_HEAP, buckets, buckets_size);
	if (r == 0 && life) {
		mp_peak_region(nb, &peak_hdr, &peak_hdr_size, &peak_recs, &peak_recs_size);
		r = write_section3(fd, MP_SNAP_PEAK, peak_hdr, peak_hdr_size, peak_recs,
				   peak_recs_size, NULL, 0);
	}
	if (r == 0 && stats_n)
		r = write_section(fd, MP_SNAP_STATS, stats, stats_n * sizeof(stats[0]));
	if (r == 0 && leaks_size)
		r = write_section(fd, MP_SNAP_LEAKS, leaks, leaks_size);
	if (r == 0)
		r = write_section3(fd, MP_SNAP_RESOURCES, res, res_size, thr, thr_size, tim, tim_size);
	if (r == 0 && unl_size)
		r = write_section(fd, MP_SNAP_UNLOADED, unl, unl_size);
	if (r == 0 && name_len)
		r = write_section(fd, MP_SNAP_NAME, a->name, name_len);
	mp_prof_unlock();

	if (mp_sys_close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r == 0 && (flags & MP_SNAP_F_FINAL))
		mp_shm_send_done();   /* the CLI may drop the shared tables */
	if (r < 0) {
		unlink(tmp);
		say_not_written(a, path, r);
	}
	return r;
}

/*
 * A snapshot that could not be written, said in one line, or not at all
 * when nothing is lost: the final snapshot of a process whose tables are
 * shared with the CLI is written by the CLI from them once the process is
 * gone, as after a crash.  A seccomp filter that refuses to open files for
 * writing (man-db runs its filters, col, tbl, groff, under one: ENOSYS)
 * made a warning with a temporary path for every such process, while
 * their profiles were all written.  A process the filter also kept from
 * sharing its tables (no memfd_create: a program it exec'd) gets no
 * profile, and the line says why.  Silent too, when its tables are
 * shared, a process that cannot read its /proc/self/maps (the parent of
 * unshare --pid --fork --mount-proc: /proc is then the procfs of a pid
 * namespace it is not in).  Silent, last, in a process that outlived
 * memprof run (a daemon): memprof's directory is gone, and no one is
 * left to want the profile (mp_shim_collector_gone).
 */
static void say_not_written(const struct write_args *a, const char *path, int r)
{
	char num[24];

	if (lost_quietly(a) || mp_shim_collector_gone())
		return;
	if (r == -ENOSYS) {
		/* openat and write exist: only a seccomp filter says ENOSYS. */
		char who[64] = " (";
		size_t n = strnlen(program_invocation_short_name, sizeof(who) - 4);
		memcpy(who + 2, program_invocation_short_name, n);
		memcpy(who + 2 + n, ")", 2);
		mp_utoa(a->pid, num);
		mp_warn("no profile for process ", num, who,
			": a seccomp filter refuses the system calls that write it (ENOSYS)");
		return;
	}
	mp_warn("cannot write snapshot '", path, "': ", strerrorname_np(-r));
}

int mp_shim_collector_gone(void)
{
	struct stat st;

	return mp_shim.opt.shm && stat(mp_shim.opt.snapdir, &st) < 0 && errno == ENOENT;
}

/*
 * The final snapshot could not be written while the tables are shared (a
 * hard RLIMIT_FSIZE of the program's own, a full disk, a seccomp filter
 * that refuses to open files): memprof writes the profile from the tables
 * once the process is gone (lost_quietly).  What only the snapshot
 * carries, the allocator's statistics and the leak scan's result, goes
 * into two more tables, made now, so that the profile has its statistics
 * and the leak check its report all the same.  Best effort: a table that
 * cannot be made is left out (base/shm.h).
 */
static void salvage_table(struct mp_vm_area *w, uint32_t section, uint64_t rec_size,
			  const void *data, size_t size)
{
	if (!size || mp_vm_area_init(w, size) < 0)
		return;
	if (mp_vm_area_share(w, section, rec_size) <= 0 || mp_vm_area_grow(w, size, 0) < 0) {
		mp_vm_area_trim(w, 0);
		return;
	}
	memcpy((void *)w->base, data, size);
	mp_shm_publish(w, 0, size);
}

static void salvage(void)
{
	static struct mp_vm_area stats_area, leaks_area;
	const void *leaks = NULL;
	size_t leaks_size = 0;

	mp_leakscan_records(&leaks, &leaks_size);
	salvage_table(&stats_area, MP_SNAP_STATS, sizeof(struct mp_snap_kv), stats,
		      stats_n * sizeof(stats[0]));
	salvage_table(&leaks_area, MP_SNAP_LEAKS, sizeof(struct mp_snap_leak_rec), leaks,
		      leaks_size);
}

int mp_snapshot_write(uint32_t seq, uint64_t flags)
{
	return mp_snapshot_write_as(seq ? MP_SNAPFILE_NUMBERED : MP_SNAPFILE_FINAL, seq, NULL, flags);
}

int mp_snapshot_write_as(enum mp_snapfile kind, uint32_t seq, const char *name, uint64_t flags)
{
	struct write_args a = { .kind = kind, .seq = seq, .name = name, .flags = flags,
				.pid = (uint64_t)getpid(), .ppid = (uint64_t)getppid() };
	/* The write lock's view: 0 is the final snapshot, anything else a
	 * snapshot refused once the final one is written. */
	uint32_t lock_n = kind == MP_SNAPFILE_FINAL ? 0 : (seq ? seq : 1);
	int r = mp_trigger_write_lock(lock_n);
	if (r < 0)
		return r;
	/* Live file descriptors (resources/fds.c), described here: /proc/self/fd
	 * and getsockname() name the program's descriptors only in its own
	 * descriptor table, which the writer below does not run in. */
	a.res_size = mp_fds_records(&a.res) * sizeof(struct mp_snap_res_rec);
	stats_n = 0;
	r = mp_privfd_run(snapshot_write_locked, &a);
	if (r < 0 && lost_quietly(&a))
		salvage();
	mp_trigger_write_unlock(lock_n, r == 0);
	return r;
}

/* SPDX-License-Identifier: MIT */
/*
 * The process's profile after any death (common/shm.h): the tables are
 * shared with the CLI (base/shm.h); here is what the shim adds so that the
 * CLI can build the snapshot from them alone: the directory's header
 * fields, the text of /proc/self/maps kept current in a shared double
 * buffer (at start; when a new stack holds a return address in none of
 * the executable ranges of the last reading, which is how code loaded
 * since shows, without interposing dlopen, whose caller decides its search
 * path; after a dlclose; at a fatal signal), and, at a catchable fatal signal, the state at death: the
 * descriptor, thread and timer records refreshed and the signal noted.
 *
 * Must never: allocate, hold a descriptor of the program's table outside a
 * death handler, block in a death handler (every lock there is a try).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "base/privfd.h"
#include "base/shm.h"
#include "common/snapfile.h"
#include "resources/resources.h"
#include "shim/crash.h"
#include "shim/shim.h"
#include "sample/stacks.h"
#include "shim/signals.h"

#define MAPS_HALF ((size_t)4 << 20)   /* bigger maps text is cut there */
#define MAPS_STEP ((size_t)64 << 10)

static struct mp_vm_area maps_area;
static int maps_ok;
static int maps_busy;                 /* one writer: a spin flag, tried only */
static unsigned maps_half;            /* the half the next refresh writes */
static pid_t crash_pid;               /* the process the tables are of */

int mp_crash_init(void)
{
	struct mp_options *o = &mp_shim.opt;
	char path[PATH_MAX];
	size_t n = strlen(o->snapdir);
	if (!o->shm)
		return 0;
	if (n + 1 + sizeof(MP_SHM_SOCKET) > sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, o->snapdir, n);
	path[n] = '/';
	memcpy(path + n + 1, MP_SHM_SOCKET, sizeof(MP_SHM_SOCKET));
	int r = mp_shm_start(path);
	if (r < 0)
		return r;
	struct mp_shm_meta *m = mp_shm_dir;
	m->ppid = (uint64_t)getppid();
	m->rate = o->rate;
	m->start_ns = mp_shim.start_ns;
	m->max_depth = o->depth;
	ssize_t l = readlink("/proc/self/exe", m->exe, sizeof(m->exe));
	m->exe_len = l > 0 ? (uint32_t)l : 0;
	crash_pid = getpid();
	if (mp_vm_area_init(&maps_area, 2 * MAPS_HALF) == 0 &&
	    mp_vm_area_share(&maps_area, MP_SNAP_MAPS, MP_SHM_REC_SWAP) > 0)
		maps_ok = 1;
	return 0;
}

/*
 * The executable ranges of the maps last read, double-buffered: a new stack
 * with a return address outside them means code was loaded since, and the
 * maps are read again (at most every REFRESH_GAP_NS: code that keeps
 * making code, a JIT, must not cost a read per stack).  No dl_iterate_phdr
 * here: it takes the loader's lock from inside malloc, which a program's
 * callback holding a lock of its own could turn into a deadlock.
 */
#define MAX_RANGES 4096
#define REFRESH_GAP_NS 100000000ull
struct xrange {
	uint64_t lo, hi;
};
static struct xrange ranges[2][MAX_RANGES];
static uint32_t nranges[2];
static unsigned cur_ranges;           /* the set readers use */
static uint64_t burst_start_ns;
static int burst_left;
#define REFRESH_BURST 8

static uint64_t hex(const char **p, const char *end)
{
	uint64_t v = 0;
	for (; *p < end; (*p)++) {
		char c = **p;
		unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
			     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10) : 16;
		if (d == 16)
			break;
		v = v << 4 | d;
	}
	return v;
}

/* The executable ranges of the text just read (sorted: maps are). */
static void parse_ranges(const char *text, size_t len)
{
	unsigned set = cur_ranges ^ 1;
	uint32_t n = 0;
	const char *p = text, *end = text + len;
	while (p < end && n < MAX_RANGES) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			break;
		uint64_t lo = hex(&p, eol);
		if (p < eol && *p == '-') {
			p++;
			uint64_t hi = hex(&p, eol);
			if (p + 4 < eol && p[3] == 'x')
				ranges[set][n++] = (struct xrange){ lo, hi };
		}
		p = eol + 1;
	}
	nranges[set] = n;
	__atomic_store_n(&cur_ranges, set, __ATOMIC_RELEASE);
}

static int known_pc(uint64_t pc)
{
	unsigned set = __atomic_load_n(&cur_ranges, __ATOMIC_ACQUIRE);
	uint32_t lo = 0, hi = nranges[set];
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (pc < ranges[set][mid].lo)
			hi = mid;
		else if (pc >= ranges[set][mid].hi)
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

/* /proc/self/maps into the free half, then published as the current one. */
static int maps_read(void *arg)
{
	(void)arg;
	size_t base = (size_t)maps_half * MAPS_HALF, len = 0;
	int fd = mp_sys_open("/proc/self/maps", O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (len + MAPS_STEP > MAPS_HALF)
			break;   /* cut: the last line may be partial, the reader copes */
		if (mp_vm_area_grow(&maps_area, base + len + MAPS_STEP, 0) < 0)
			break;
		ssize_t got = read(fd, (char *)maps_area.base + base + len, MAPS_STEP);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		len += (size_t)got;
	}
	mp_sys_close(fd);
	parse_ranges((const char *)maps_area.base + base, len);
	/* A double buffer (common/shm.h, MP_SHM_REC_SWAP): the torn range
	 * names the new text, whole already, while off and used change. */
	mp_shm_begin(&maps_area, base, len);
	mp_shm_publish(&maps_area, base, len);
	mp_shm_end(&maps_area);
	maps_half ^= 1;
	return 0;
}

static int maps_try_lock(void)
{
	return maps_ok && !__atomic_exchange_n(&maps_busy, 1, __ATOMIC_ACQUIRE);
}

void mp_crash_maps_refresh(void)
{
	if (!maps_try_lock())
		return;
	if (getpid() == crash_pid)
		mp_privfd_run(maps_read, NULL);
	__atomic_store_n(&maps_busy, 0, __ATOMIC_RELEASE);
}

void mp_crash_after_fork_child(void)
{
	crash_pid = getpid();
	maps_busy = 0;
}

/*
 * A catchable fatal signal with the program's action the default one: the
 * state at death into the shared tables, once.  In a signal handler: the
 * resource trackers' records are lock-free (threads' without dladdr), the
 * maps are read in the program's own descriptor table (it is dying).
 */
static void on_death(int sig)
{
	static int once;
	struct mp_shm_meta *m = __atomic_load_n(&mp_shm_dir, __ATOMIC_ACQUIRE);
	if (!m || getpid() != crash_pid || __atomic_exchange_n(&once, 1, __ATOMIC_ACQ_REL))
		return;
	int saved = errno;
	const void *buf;
	mp_busy++;
	mp_res_dying();
	mp_fds_records(&buf);
	mp_threads_records(&buf);
	mp_timers_records(&buf);
	if (maps_try_lock()) {
		maps_read(NULL);
		__atomic_store_n(&maps_busy, 0, __ATOMIC_RELEASE);
	}
	m->death_ns = mp_now_ns();
	__atomic_store_n(&m->death_signal, (uint32_t)sig, __ATOMIC_RELEASE);
	mp_busy--;
	errno = saved;
}

void mp_crash_new_stack(const uint64_t *pcs, uint32_t n)
{
	if (!maps_ok)
		return;
	for (uint32_t i = 0; i < n; i++) {
		if (known_pc(pcs[i] - 1))
			continue;
		/* REFRESH_BURST readings per REFRESH_GAP_NS: a dlopen of a few
		 * libraries is seen at once, a JIT costs a bounded rate. */
		uint64_t now = mp_now_ns();
		if (now - __atomic_load_n(&burst_start_ns, __ATOMIC_RELAXED) >= REFRESH_GAP_NS) {
			__atomic_store_n(&burst_start_ns, now, __ATOMIC_RELAXED);
			__atomic_store_n(&burst_left, REFRESH_BURST, __ATOMIC_RELAXED);
		}
		if (__atomic_load_n(&burst_left, __ATOMIC_RELAXED) > 0) {
			__atomic_sub_fetch(&burst_left, 1, __ATOMIC_RELAXED);
			mp_crash_maps_refresh();
		}
		return;
	}
}

static int commit_also(void *arg)
{
	(void)arg;
	return maps_ok ? maps_read(NULL) : 0;
}

void mp_crash_start(void)
{
	if (!mp_shm_dir)
		return;
	/* The tables made so far become memfds, and the maps are read, in one
	 * private-table child: a process pays one clone for it at start.  The
	 * stack table's lock keeps recording threads (if a constructor made
	 * any) out while their tables are copied. */
	mp_prof_lock();
	int locked = maps_try_lock();
	if (mp_shm_commit(locked ? commit_also : NULL, NULL) < 0)
		maps_ok = 0;
	if (locked)
		__atomic_store_n(&maps_busy, 0, __ATOMIC_RELEASE);
	mp_prof_unlock();
	if (mp_shm_dir)
		mp_signals_on_death(on_death);
}

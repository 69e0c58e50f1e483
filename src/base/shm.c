/* SPDX-License-Identifier: MIT */
/*
 * Tables shared with the memprof CLI (see shm.h).
 *
 * Must never: leave a descriptor in the program's table (every memfd and
 * socket lives in a private-table child, base/privfd.h), allocate, or let
 * a fork child write its parent's shared memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/ownmem.h"
#include "base/privfd.h"
#include "base/shm.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 1u
#endif

#define PAGE ((size_t)4 << 10)

struct mp_shm_meta *mp_shm_dir;

static struct sockaddr_un sock_addr;
static socklen_t sock_len;
/* A path too long for sun_path (a long TMPDIR): its directory, reached as
 * /proc/self/fd/N/<name> through a descriptor of the private table. */
static char sock_dir[PATH_MAX];
static char sock_name[64];
static int sock_long;

/* "/proc/self/fd/<fd>/<name>" as the address to send to. */
static socklen_t long_addr(struct sockaddr_un *sa, int fd)
{
	char num[24];
	size_t k = 0;
	const char *parts[] = { "/proc/self/fd/", mp_utoa((uint64_t)fd, num), "/", sock_name };
	sa->sun_family = AF_UNIX;
	for (size_t i = 0; i < 4; i++)
		for (const char *c = parts[i]; *c && k < sizeof(sa->sun_path) - 1; c++)
			sa->sun_path[k++] = *c;
	sa->sun_path[k] = 0;
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + k + 1);
}
static struct mp_vm_area meta_area;
/* The shared windows by slot (0: the directory's). */
static struct mp_vm_area *areas[MP_SHM_MAX_TABLES];
static uint32_t nslots;          /* slots handed out, 1.. */
static int share_lock;
static int pending;            /* tables listed, not yet memfds (mp_shm_commit) */

static uint64_t random64(void)
{
	uint64_t r = 0;
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		r = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
	}
	return r | 1;
}

/* Send one datagram, with fd (>= 0) attached.  In the private table. */
static int send_msg(const struct mp_shm_msg *m, int fd)
{
	int s = (int)syscall(SYS_socket, AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	/* A CLI that stopped reading must not hold the program for long. */
	struct timeval tv = { .tv_sec = 2 };
	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = (void *)m, .iov_len = sizeof(*m) };
	struct sockaddr_un la;
	int dfd = -1;
	struct msghdr mh = { .msg_name = &sock_addr, .msg_namelen = sock_len,
			     .msg_iov = &iov, .msg_iovlen = 1 };
	if (sock_long) {
		dfd = mp_sys_open(sock_dir, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
		if (dfd < 0) {
			int e = -errno;
			mp_sys_close(s);
			return e;
		}
		mh.msg_name = &la;
		mh.msg_namelen = long_addr(&la, dfd);
	}
	if (fd >= 0) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	ssize_t w;
	do
		w = sendmsg(s, &mh, MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	int r = w == (ssize_t)sizeof(*m) ? 0 : -errno;
	mp_sys_close(s);
	if (dfd >= 0)
		mp_sys_close(dfd);
	return r;
}

struct make_args {
	struct mp_vm_area *a;
	uint32_t slot;
	size_t first;         /* bytes to map from the new memfd */
	int copy;             /* the current contents go first (commit, fork child) */
	const uint8_t *src;   /* of `len` bytes; NULL: the window itself */
	size_t len;
	int r;
};

/*
 * A memfd this child cannot size: the program's hard RLIMIT_FSIZE is below
 * the window (`ulimit -f` in a shell sets both limits, and without
 * CAP_SYS_RESOURCE privfd.c lifts only the soft one).  Writing through a
 * mapping is not bound by that limit, only growing the file is: the CLI,
 * whose own limit is usually not the program's, grows it on receipt
 * (cli/crash.c), or sets it to 1 byte when it cannot either.  So the memfd
 * goes first, and this child waits for its size: 200 ms at most, and not
 * again in this process once the CLI could not or did not answer.  0, or
 * -EFBIG (the table stays private then).
 */
static int cli_sizes;   /* 1: the CLI sized one; -1: it did not, don't wait again */

static int size_by_cli(int fd, const struct mp_shm_msg *msg)
{
	if (cli_sizes < 0 || send_msg(msg, fd) < 0) {
		cli_sizes = -1;
		return -EFBIG;
	}
	for (int i = 0; i < 400; i++) {
		struct stat st;
		struct timespec ts = { 0, 500000 };
		if (fstat(fd, &st) < 0 || (st.st_size != 0 && (uint64_t)st.st_size != msg->size))
			break;
		if ((uint64_t)st.st_size == msg->size) {
			cli_sizes = 1;
			return 0;
		}
		nanosleep(&ts, NULL);
	}
	cli_sizes = -1;
	return -EFBIG;
}

/*
 * A memfd for window a (its whole size), mapped at a->base: `first` bytes
 * of it (in a fork child, after writing the current mapping's contents to
 * it, replacing that mapping); then sent.  In the private table.
 */
static int make_table(void *arg)
{
	struct make_args *m = arg;
	struct mp_vm_area *a = m->a;
	size_t len = m->first;
	struct mp_shm_msg msg = { .kind = MP_SHM_MSG_TABLE, .slot = m->slot,
				  .pid = mp_shm_dir->pid, .image = mp_shm_dir->image,
				  .size = a->size };
	int fd = (int)syscall(SYS_memfd_create, "memprof", MFD_CLOEXEC);
	if (fd < 0)
		return m->r = -errno;
	int r = 0, sent = 0;
	if (ftruncate(fd, (off_t)a->size) < 0) {
		r = -errno;
		if (r != -EFBIG || size_by_cli(fd, &msg) < 0)
			goto out;
		r = 0;
		sent = 1;
	}
	const uint8_t *src = m->src ? m->src : (const uint8_t *)a->base;
	size_t n = m->src ? m->len : len;
	if (m->copy && n && sent) {
		/* (pwrite past the limit is refused too) */
		void *t = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (t == MAP_FAILED) {
			r = -errno;
			goto out;
		}
		memcpy(t, src, n);
		munmap(t, n);
	}
	for (size_t done = 0; m->copy && !sent && done < n;) {
		ssize_t w = pwrite(fd, src + done, n - done, (off_t)done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			r = w < 0 ? -errno : -EIO;
			goto out;
		}
		done += (size_t)w;
	}
	void *p = mmap((void *)a->base, len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | (m->copy ? MAP_FIXED : MAP_FIXED_NOREPLACE), fd, 0);
	if (p != (void *)a->base) {
		if (p != MAP_FAILED) {
			munmap(p, len);
			errno = EEXIST;
		}
		r = -errno;
		goto out;
	}
	__atomic_store_n(&a->mapped, len, __ATOMIC_RELEASE);
	/* Not sent: the window stays shared with no one, which costs nothing
	 * more than a private one. */
	if (!sent)
		send_msg(&msg, fd);
out:
	mp_sys_close(fd);
	return m->r = r;
}

static int make_fn(void *arg)
{
	return make_table(arg);
}

static void spin_lock(void)
{
	while (__atomic_exchange_n(&share_lock, 1, __ATOMIC_ACQUIRE))
		sched_yield();
}

static void spin_unlock(void)
{
	__atomic_store_n(&share_lock, 0, __ATOMIC_RELEASE);
}

int mp_shm_start(const char *sock_path)
{
	size_t n = strlen(sock_path);
	if (n >= sizeof(sock_addr.sun_path)) {
		const char *slash = strrchr(sock_path, '/');
		if (!slash || n >= sizeof(sock_dir) || strlen(slash + 1) >= sizeof(sock_name))
			return -ENAMETOOLONG;
		memcpy(sock_dir, sock_path, (size_t)(slash - sock_path));
		sock_dir[slash - sock_path] = 0;
		strcpy(sock_name, slash + 1);
		sock_long = 1;
	} else {
		sock_addr.sun_family = AF_UNIX;
		memcpy(sock_addr.sun_path, sock_path, n + 1);
		sock_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	}
	/* The directory is mapped whole (it never grows), private until the
	 * commit copies it into its memfd. */
	if (mp_vm_area_init(&meta_area, sizeof(struct mp_shm_meta)) < 0 ||
	    mp_vm_area_grow(&meta_area, sizeof(struct mp_shm_meta), 0) < 0)
		return -ENOMEM;
	struct mp_shm_meta *meta = (struct mp_shm_meta *)meta_area.base;
	memcpy(meta->magic, MP_SHM_MAGIC, sizeof(meta->magic));
	meta->version = MP_SHM_VERSION;
	meta->pid = (uint64_t)getpid();
	meta->image = random64();
	areas[0] = &meta_area;
	nslots = 1;
	pending = 1;
	__atomic_store_n(&mp_shm_dir, meta, __ATOMIC_RELEASE);
	return 0;
}

static int slot_of(const struct mp_vm_area *a)
{
	return a->shared < 0 ? -a->shared : a->shared;
}

int mp_vm_area_share(struct mp_vm_area *a, uint32_t section, uint64_t rec_size)
{
	struct mp_shm_meta *meta = __atomic_load_n(&mp_shm_dir, __ATOMIC_ACQUIRE);
	if (!meta)
		return -ENOTCONN;
	if (a->shared)
		return slot_of(a);
	if (!a->base || (!pending && a->mapped))
		return -EINVAL;
	spin_lock();
	uint32_t slot = nslots;
	if (slot >= MP_SHM_MAX_TABLES) {
		spin_unlock();
		return -ENOSPC;
	}
	int r = 0;
	if (!pending) {
		struct make_args m = { .a = a, .slot = slot, .first = PAGE };
		r = mp_privfd_run(make_fn, &m);
	}
	if (r == 0) {
		struct mp_shm_table *t = &meta->tables[slot];
		t->rec_size = rec_size;
		t->off = t->used = 0;
		__atomic_store_n(&t->section, section, __ATOMIC_RELEASE);
		areas[slot] = a;
		/* Listed (negative) until the commit backs it with a memfd. */
		a->shared = pending ? -(int)slot : (int)slot;
		nslots = slot + 1;
	}
	spin_unlock();
	return r < 0 ? r : (int)slot;
}

struct commit_args {
	int (*also)(void *);
	void *arg;
};

static int commit_fn(void *arg)
{
	struct commit_args *c = arg;
	int dir_ok = 0;
	for (uint32_t i = 0; i < nslots; i++) {
		struct mp_vm_area *a = areas[i];
		if (!a)
			continue;
		struct make_args m = { .a = a, .slot = i, .first = a->mapped ? a->mapped : PAGE,
				       .copy = a->mapped != 0 };
		if ((i > 0 && !dir_ok) || make_table(&m) < 0) {
			if (i > 0) {
				a->shared = 0;   /* stays private: not a table of the image */
				if (dir_ok)
					((struct mp_shm_meta *)meta_area.base)->tables[i].section = 0;
			}
			continue;
		}
		if (i == 0)
			dir_ok = 1;
		else
			a->shared = (int)i;
	}
	if (c->also)
		c->also(c->arg);
	return dir_ok;
}

int mp_shm_commit(int (*also)(void *arg), void *arg)
{
	struct commit_args c = { also, arg };
	if (!pending || !mp_shm_dir)
		return also ? mp_privfd_run(also, arg) : 0;
	spin_lock();
	int ok = mp_privfd_run(commit_fn, &c);
	pending = 0;
	if (ok <= 0) {
		for (uint32_t i = 1; i < nslots; i++)
			if (areas[i])
				areas[i]->shared = 0;
		__atomic_store_n(&mp_shm_dir, NULL, __ATOMIC_RELEASE);
	}
	spin_unlock();
	return ok > 0 ? 0 : -EIO;
}

/*
 * The tables as they were at the fork, copied in the parent by
 * mp_shm_before_fork while the tables' writers are held off by the
 * caller's locks, so that the child's copies are the state at the fork
 * and not what the parent's other threads do meanwhile (its windows are
 * the parent's shared memory until the child replaces them).
 */
static uint8_t *fork_copy;
static size_t fork_copy_size;
static size_t fork_off[MP_SHM_MAX_TABLES], fork_len[MP_SHM_MAX_TABLES];

void mp_shm_before_fork(void)
{
	if (!mp_shm_dir || pending)
		return;
	size_t total = 0;
	for (uint32_t i = 0; i < nslots; i++)
		if (areas[i] && areas[i]->shared >= 0)
			total += areas[i]->mapped;
	void *p = total ? mmap(NULL, total, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
			: MAP_FAILED;
	if (p == MAP_FAILED)
		return;   /* the child copies what it finds (under a tight RLIMIT_AS) */
	fork_copy = p;
	fork_copy_size = total;
	/* The directory first: a table appended meanwhile has its count
	 * published after its bytes, so the copied count never covers more
	 * than the copied bytes. */
	size_t off = 0;
	for (uint32_t i = 0; i < nslots; i++) {
		fork_off[i] = off;
		fork_len[i] = areas[i] && areas[i]->shared >= 0 ? areas[i]->mapped : 0;
		if (fork_len[i])
			memcpy(fork_copy + off, (const void *)areas[i]->base, fork_len[i]);
		off += fork_len[i];
	}
}

void mp_shm_after_fork_parent(void)
{
	if (fork_copy)
		munmap(fork_copy, fork_copy_size);
	fork_copy = NULL;
}

/* Fork child: the window is made private (a copy), when no memfd can be. */
static void make_private(struct mp_vm_area *a, const uint8_t *src, size_t n)
{
	size_t len = a->mapped;
	void *tmp = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (tmp != MAP_FAILED) {
		memcpy(tmp, src ? src : (const uint8_t *)a->base, src ? n : len);
		if (mremap(tmp, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)a->base) ==
		    (void *)a->base) {
			a->shared = 0;
			return;
		}
		munmap(tmp, len);
	}
	/* No memory for a copy: an empty private window rather than the
	 * parent's (this process's tables restart empty). */
	mmap((void *)a->base, len, PROT_READ | PROT_WRITE,
	     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	a->shared = 0;
}

static int fork_fn(void *arg)
{
	(void)arg;
	/* The directory first: without it the CLI cannot read the others, so
	 * they are all made private then. */
	int dir_ok = 0;
	for (uint32_t i = 0; i < nslots; i++) {
		struct mp_vm_area *a = areas[i];
		if (!a || !a->mapped)
			continue;
		struct make_args m = { .a = a, .slot = i, .first = a->mapped, .copy = 1 };
		if (fork_copy) {
			m.src = fork_copy + fork_off[i];
			m.len = fork_len[i] < a->mapped ? fork_len[i] : a->mapped;
		}
		if ((i > 0 && !dir_ok) || make_table(&m) < 0) {
			make_private(a, m.src, m.len);
			if (dir_ok)   /* the CLI has no copy of it: not a table of the image */
				((struct mp_shm_meta *)meta_area.base)->tables[i].section = 0;
			continue;
		}
		if (i == 0) {
			struct mp_shm_meta *d = (struct mp_shm_meta *)a->base;
			d->pid = mp_shm_dir->pid;
			d->ppid = mp_shm_dir->ppid;
			d->image = mp_shm_dir->image;
			d->flags |= 1u << 2;   /* MP_SNAP_F_FORKED */
			d->death_signal = 0;
			d->death_ns = 0;
			dir_ok = 1;
		}
	}
	return dir_ok;
}

void mp_shm_after_fork_child(void)
{
	if (!mp_shm_dir)
		return;
	share_lock = 0;
	if (pending) {
		/* Forked before the commit: its tables are private copies
		 * already; they stay private (no constructor will commit). */
		mp_shm_dir = NULL;
		pending = 0;
		for (uint32_t i = 1; i < nslots; i++)
			if (areas[i])
				areas[i]->shared = 0;
		return;
	}
	/* The new image's names, for the messages, while the tables are
	 * re-made (the directory's own copy is the parent's until then). */
	static struct mp_shm_meta boot;
	boot.pid = (uint64_t)getpid();
	boot.ppid = (uint64_t)getppid();
	boot.image = random64();
	mp_shm_dir = &boot;
	int ok = mp_privfd_run(fork_fn, NULL);
	mp_shm_after_fork_parent();   /* the copy is not needed any more here either */
	__atomic_store_n(&mp_shm_dir, ok > 0 ? (struct mp_shm_meta *)meta_area.base : NULL,
			 __ATOMIC_RELEASE);
}

static int done_fn(void *arg)
{
	(void)arg;
	struct mp_shm_meta *m = mp_shm_dir;
	struct mp_shm_msg msg = { .kind = MP_SHM_MSG_DONE, .pid = m->pid, .image = m->image };
	return send_msg(&msg, -1);
}

void mp_shm_mark_exec(int on)
{
	struct mp_shm_meta *m = __atomic_load_n(&mp_shm_dir, __ATOMIC_ACQUIRE);
	if (!m || (uint64_t)syscall(SYS_getpid) != m->pid)
		return;
	if (on)
		__atomic_or_fetch(&m->flags, (uint64_t)MP_SHM_F_EXEC, __ATOMIC_RELEASE);
	else
		__atomic_and_fetch(&m->flags, ~(uint64_t)MP_SHM_F_EXEC, __ATOMIC_RELEASE);
}

int mp_shm_shared(void)
{
	return __atomic_load_n(&mp_shm_dir, __ATOMIC_ACQUIRE) != NULL && !pending;
}

void mp_shm_send_done(void)
{
	if (mp_shm_dir)
		done_fn(NULL);
}

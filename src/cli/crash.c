/* SPDX-License-Identifier: MIT */
/*
 * Profiles after any death (see crash.h): the memfds of every process
 * image's tables, held while they may be needed, and the snapshots of the
 * images that died without writing theirs.  CLI only.
 *
 * The receiving thread only takes datagrams and descriptors: it never
 * prints; everything it holds is untrusted (any process of the user may
 * write to the socket, which lives in our private directory, mode 0700;
 * the tables are read by common/shm-read.c, which trusts nothing).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/crash.h"
#include "cli/snapshots.h"
#include "common/grow.h"
#include "common/shm-read.h"
#include "common/write-all.h"

/* The largest table window we map (the shim's biggest is 512 MiB). */
#define MAX_TABLE ((uint64_t)64 << 30)

struct table {
	uint64_t pid, image, size;
	uint32_t slot;
	int fd;
};

struct mp_crash {
	char *snapdir;
	char *sock_path;
	int sock;
	int wake;                  /* eventfd: stop now (-1: none, the poll times out) */
	pthread_t thread;
	bool running;
	int stop;                  /* atomic */
	pthread_mutex_t lock;
	struct table *tables;
	size_t n, cap;
	void (*on_written)(void *ctx, pid_t pid);   /* (under lock) mp_crash_on_written */
	void *on_written_ctx;
	bool target_execd;         /* the target's last image exec'd one without the shim */
};

/* Drop the tables of (pid, image), or with other_images those of pid's
 * other images (an exec or a reused pid made them stale).  Locked. */
static void drop_locked(struct mp_crash *c, uint64_t pid, uint64_t image, bool other_images)
{
	size_t w = 0;
	for (size_t i = 0; i < c->n; i++) {
		struct table *t = &c->tables[i];
		bool match = t->pid == pid && ((t->image == image) != other_images);
		if (match)
			close(t->fd);
		else
			c->tables[w++] = *t;
	}
	c->n = w;
}

static void take(struct mp_crash *c, const struct mp_shm_msg *m, int fd)
{
	void (*on_written)(void *ctx, pid_t pid) = NULL;
	void *ctx = NULL;

	pthread_mutex_lock(&c->lock);
	if (m->kind == MP_SHM_MSG_DONE) {
		drop_locked(c, m->pid, m->image, false);
		on_written = c->on_written;
		ctx = c->on_written_ctx;
	} else if (m->kind == MP_SHM_MSG_TABLE && fd >= 0 && m->slot < MP_SHM_MAX_TABLES &&
		   m->size && m->size <= MAX_TABLE) {
		struct stat st;
		/* A table the shim could not size under the program's hard
		 * RLIMIT_FSIZE (base/shm.c, size_by_cli): sized here, or set to
		 * 1 byte to tell it this cannot be done either.  Only a memfd
		 * (F_GET_SEALS answers for no other file). */
		if (fstat(fd, &st) == 0 && st.st_size == 0 && fcntl(fd, F_GET_SEALS) >= 0 &&
		    ftruncate(fd, (off_t)m->size) < 0)
			(void)!ftruncate(fd, 1);
		if (m->slot == 0)
			drop_locked(c, m->pid, m->image, true);
		/* A slot sent twice (not by our shim): the last one wins. */
		for (size_t i = c->n; i-- > 0;)
			if (c->tables[i].pid == m->pid && c->tables[i].image == m->image &&
			    c->tables[i].slot == m->slot) {
				close(c->tables[i].fd);
				c->tables[i] = c->tables[--c->n];
			}
		if (MP_GROW(c->tables, c->n + 1, c->cap) == 0) {
			c->tables[c->n++] = (struct table){ .pid = m->pid, .image = m->image,
							    .size = m->size, .slot = m->slot,
							    .fd = fd };
			fd = -1;
		}
	}
	pthread_mutex_unlock(&c->lock);
	if (fd >= 0)
		close(fd);
	if (on_written && m->pid <= (uint64_t)INT32_MAX)
		on_written(ctx, (pid_t)m->pid);
}

void mp_crash_on_written(struct mp_crash *c, void (*fn)(void *ctx, pid_t pid), void *ctx)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->on_written = fn;
	c->on_written_ctx = ctx;
	pthread_mutex_unlock(&c->lock);
}

/* One datagram, if any is waiting.  1: taken, 0: none, < 0: error. */
static int receive(struct mp_crash *c)
{
	struct mp_shm_msg m;
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	ssize_t got = recvmsg(c->sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	int fd = -1;

	if (got < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -errno;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		size_t nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < nfd; i++) {
			int x;
			memcpy(&x, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (fd < 0)
				fd = x;
			else
				close(x);
		}
	}
	if (got != (ssize_t)sizeof(m) || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		if (fd >= 0)
			close(fd);
		return 1;
	}
	take(c, &m, fd);
	return 1;
}

/* Until told to stop: by c->wake at once, or within 100 ms without it (poll
 * skips a negative descriptor).  The program's exit waited for that
 * timeout: 85 ms of the 260 ms memprof took after gcc's cc1 exited. */
static void *receiver(void *arg)
{
	struct mp_crash *c = arg;
	struct pollfd p[2] = { { .fd = c->sock, .events = POLLIN },
			       { .fd = c->wake, .events = POLLIN } };

	while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
		if (poll(p, 2, 100) > 0 && (p[0].revents & POLLIN))
			while (receive(c) > 0)
				;
	}
	return NULL;
}

struct mp_crash *mp_crash_listen(const char *snapdir)
{
	struct mp_crash *c = calloc(1, sizeof(*c));
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	sigset_t all, old;

	if (!c)
		return NULL;
	c->sock = -1;
	c->wake = -1;
	pthread_mutex_init(&c->lock, NULL);
	c->snapdir = strdup(snapdir);
	if (asprintf(&c->sock_path, "%s/%s", snapdir, MP_SHM_SOCKET) < 0)
		c->sock_path = NULL;
	if (!c->snapdir || !c->sock_path)
		goto fail;
	/* A path too long for sun_path (a long TMPDIR) is reached through a
	 * descriptor of its directory, as the shim does (base/shm.c). */
	int dfd = -1;
	if (strlen(c->sock_path) < sizeof(sa.sun_path)) {
		strcpy(sa.sun_path, c->sock_path);
	} else {
		dfd = open(snapdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			goto fail;
		snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dfd,
			 MP_SHM_SOCKET);
	}
	c->sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int bound = c->sock >= 0 && bind(c->sock, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	int saved = errno;
	if (dfd >= 0)
		close(dfd);
	errno = saved;
	if (!bound)
		goto fail;
	/* Room for many processes' tables at once: the thread drains it. */
	int rcv = 4 << 20;
	setsockopt(c->sock, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	/* Under a tight descriptor limit there may be none to spare: the
	 * thread then notices the stop by its poll's timeout.  Below 16 none is
	 * taken, so that the launch's pipe still fits (`ulimit -n 6`: three
	 * inherited, the socket, the pipe's two ends). */
	struct rlimit nofile;
	c->wake = getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < 16
			  ? -1 : eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	/* The thread takes no signal: supervise.c waits for them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	errno = pthread_create(&c->thread, NULL, receiver, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (errno)
		goto fail;
	c->running = true;
	return c;
fail:
	fprintf(stderr, "memprof: warning: cannot listen for the program's tables: %s; "
		"no profile if it is killed\n", strerror(errno));
	if (c->sock >= 0)
		close(c->sock);
	if (c->wake >= 0)
		close(c->wake);
	if (c->sock_path)
		unlink(c->sock_path);
	free(c->sock_path);
	free(c->snapdir);
	free(c);
	return NULL;
}

/* One image's snapshot from its tables (c->tables[from..to), one pid and
 * image).  1: written, 0: not needed or not possible (said). */
static int salvage_image(struct mp_crash *c, size_t from, size_t to, pid_t target, int status)
{
	struct mp_shm_view views[MP_SHM_MAX_TABLES] = { { 0 } };
	uint64_t pid = c->tables[from].pid, torn = 0;
	uint32_t sig = 0, flags = 0;
	uint8_t *buf = NULL;
	size_t len = 0;
	char *err = NULL, *path = NULL, *tmp = NULL;
	struct timespec now;
	int r, written = 0;

	path = mp_snapshots_path(c->snapdir, MP_SNAPFILE_FINAL, (pid_t)pid, 0, NULL);
	tmp = mp_snapshots_path(c->snapdir, MP_SNAPFILE_FINAL, (pid_t)pid, 0, ".crash.tmp");
	if (!path || !tmp || access(path, F_OK) == 0)
		goto out;   /* it wrote its own (the done message was lost) */
	for (size_t i = from; i < to; i++) {
		struct table *t = &c->tables[i];
		void *p = mmap(NULL, t->size, PROT_READ, MAP_SHARED, t->fd, 0);
		struct stat st;

		/* A memfd smaller than it claims would fault past its end. */
		if (p == MAP_FAILED || fstat(t->fd, &st) < 0 || (uint64_t)st.st_size < t->size) {
			if (p != MAP_FAILED)
				munmap(p, t->size);
			continue;
		}
		views[t->slot].data = p;
		views[t->slot].size = t->size;
	}
	/* Inside execve when its tables were last written, and no new image
	 * sent tables for the pid: replaced by a program without the shim
	 * (static, setuid, an environment without LD_PRELOAD), not dead; that
	 * last program has no profile (common/shm.h, MP_SHM_F_EXEC). */
	if (views[0].data && views[0].size >= sizeof(struct mp_shm_meta) &&
	    (((const struct mp_shm_meta *)views[0].data)->flags & MP_SHM_F_EXEC)) {
		if (pid == (uint64_t)target && target > 0)
			c->target_execd = true;
		goto unmap;
	}
	if (pid == (uint64_t)target && target > 0) {
		if (WIFSIGNALED(status))
			sig = (uint32_t)WTERMSIG(status);
		else
			flags |= MP_DEATH_F_EXITED;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	r = mp_shm_build(views, sig, flags, (uint64_t)now.tv_sec * 1000000000ull + now.tv_nsec,
			 &buf, &len, &torn, &err);
	if (r < 0) {
		fprintf(stderr, "memprof: no profile for pid %" PRIu64 " after its death: %s\n",
			pid, err ? err : strerror(-r));
		goto unmap;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	bool ok = fd >= 0;
	/* A short write (EFBIG, ENOSPC) sets no errno: the next one says why. */
	if (ok) {
		int w = mp_write_all(fd, buf, len);
		if (w < 0)
			errno = -w, ok = false;
	}
	if (fd >= 0) {
		int saved = errno;
		if (close(fd) < 0 && ok)
			saved = errno, ok = false;
		errno = saved;
	}
	if (!ok || rename(tmp, path) < 0) {
		fprintf(stderr, "memprof: cannot write snapshot '%s': %s\n", path, strerror(errno));
		unlink(tmp);
		goto unmap;
	}
	written = 1;
unmap:
	for (size_t i = 0; i < MP_SHM_MAX_TABLES; i++)
		if (views[i].data)
			munmap((void *)views[i].data, views[i].size);
out:
	free(buf);
	free(err);
	free(path);
	free(tmp);
	return written;
}

static int cmp_table(const void *a, const void *b)
{
	const struct table *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->image != y->image)
		return x->image < y->image ? -1 : 1;
	return (x->slot > y->slot) - (x->slot < y->slot);
}

static bool is_running(uint64_t pid, const pid_t *running, size_t n_running)
{
	for (size_t i = 0; i < n_running; i++)
		if ((uint64_t)running[i] == pid)
			return true;
	return false;
}

int mp_crash_salvage(struct mp_crash *c, pid_t target, int status, const pid_t *running,
		     size_t n_running, bool *target_execd)
{
	int written = 0;

	if (target_execd)
		*target_execd = false;
	if (!c)
		return 0;
	if (c->running) {
		__atomic_store_n(&c->stop, 1, __ATOMIC_RELEASE);
		if (c->wake >= 0)
			(void)!write(c->wake, &(uint64_t){ 1 }, sizeof(uint64_t));
		pthread_join(c->thread, NULL);
	}
	if (c->wake >= 0)
		close(c->wake);
	while (receive(c) > 0)   /* what came after the thread's last look */
		;
	close(c->sock);
	unlink(c->sock_path);
	if (c->n)
		qsort(c->tables, c->n, sizeof(*c->tables), cmp_table);
	for (size_t i = 0; i < c->n;) {
		size_t j = i;

		while (j < c->n && c->tables[j].pid == c->tables[i].pid &&
		       c->tables[j].image == c->tables[i].image)
			j++;
		/* Without its directory: nothing to read. */
		if (c->tables[i].slot == 0 && !is_running(c->tables[i].pid, running, n_running))
			written += salvage_image(c, i, j, target, status);
		i = j;
	}
	for (size_t i = 0; i < c->n; i++)
		close(c->tables[i].fd);
	if (target_execd)
		*target_execd = c->target_execd;
	free(c->tables);
	pthread_mutex_destroy(&c->lock);
	free(c->sock_path);
	free(c->snapdir);
	free(c);
	return written;
}

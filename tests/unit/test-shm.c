/* SPDX-License-Identifier: MIT */
/*
 * Crash-safe tables (common/shm.h): the target side's mechanism
 * (base/shm.h: windows backed by memfds sent over the socket, grown by
 * mremap, re-made in a fork child) and the CLI's reader (common/shm-read.h:
 * the snapshot of a dead process, torn records skipped and counted, what
 * it writes always parses).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/privfd.h"
#include "base/shm.h"
#include "common/shm-read.h"
#include "common/snapshot-read.h"
#include "tap.h"

/* ---- the reader ----------------------------------------------------------------- */

enum { S_MAPS = 1, S_STACKS = 2, S_HEAP = 3, S_RES = 4 };

struct fake {
	struct mp_shm_meta meta;
	uint8_t tab[5][4096];
	struct mp_shm_view views[MP_SHM_MAX_TABLES];
};

static void fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	memcpy(f->meta.magic, MP_SHM_MAGIC, 8);
	f->meta.version = MP_SHM_VERSION;
	f->meta.pid = 42;
	f->meta.rate = 1;
	f->meta.start_ns = 1000;
	f->meta.max_depth = 64;
	memcpy(f->meta.exe, "/bin/t", 6);
	f->meta.exe_len = 6;
	f->views[0] = (struct mp_shm_view){ (const uint8_t *)&f->meta, sizeof(f->meta) };
	for (int i = 1; i < 5; i++)
		f->views[i] = (struct mp_shm_view){ f->tab[i], sizeof(f->tab[i]) };
	/* maps: a double buffer, the valid text in its second half */
	const char *maps = "00400000-00401000 r-xp 00000000 08:01 1 /bin/t\n";
	memcpy(f->tab[S_MAPS] + 2048, maps, strlen(maps));
	f->meta.tables[S_MAPS] = (struct mp_shm_table){ .section = MP_SNAP_MAPS, .off = 2048,
		.used = strlen(maps), .rec_size = MP_SHM_REC_SWAP };
	/* two stacks: {1, 1, pc}, {2, 2, pc, pc} */
	uint32_t *s = (uint32_t *)f->tab[S_STACKS];
	uint64_t pc = 0x400100;
	s[0] = 1; s[1] = 1; memcpy(s + 2, &pc, 8);
	s[4] = 2; s[5] = 2; memcpy(s + 6, &pc, 8); memcpy(s + 8, &pc, 8);
	f->meta.tables[S_STACKS] = (struct mp_shm_table){ .section = MP_SNAP_STACKS, .used = 40 };
	/* two buckets */
	struct mp_snap_heap_rec *h = (struct mp_snap_heap_rec *)f->tab[S_HEAP];
	h[0] = (struct mp_snap_heap_rec){ .stack_id = 1, .size = 1000, .alloc_objects = 1000 };
	h[1] = (struct mp_snap_heap_rec){ .stack_id = 2, .size = 16, .alloc_objects = 5,
					  .free_objects = 2 };
	f->meta.tables[S_HEAP] = (struct mp_shm_table){ .section = MP_SNAP_HEAP, .used = 64,
		.rec_size = sizeof(*h) };
	/* two descriptors */
	struct mp_snap_res_rec *r = (struct mp_snap_res_rec *)f->tab[S_RES];
	r[0] = (struct mp_snap_res_rec){ .res_class = MP_RES_FD, .kind = MP_FD_FILE, .id = 0 };
	r[1] = (struct mp_snap_res_rec){ .res_class = MP_RES_FD, .kind = MP_FD_PIPE, .id = 1,
					 .stack_id = 2 };
	f->meta.tables[S_RES] = (struct mp_shm_table){ .section = MP_SNAP_RESOURCES,
		.used = 2 * sizeof(*r), .rec_size = sizeof(*r) };
}

/* Build and parse; *ret_torn. */
static struct mp_snap *build(struct fake *f, uint32_t sig, uint64_t *ret_torn)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	struct mp_snap *s = NULL;
	char *err = NULL;
	if (mp_shm_build(f->views, sig, 0, 5000, &buf, &len, ret_torn, &err) < 0) {
		printf("# build: %s\n", err ? err : "?");
		free(err);
		return NULL;
	}
	if (mp_snap_parse(buf, len, &s, &err) < 0) {
		printf("# parse: %s\n", err ? err : "?");
		free(err);
		s = NULL;
	}
	free(buf);
	return s;
}

static void test_reader(void)
{
	struct fake f;
	uint64_t torn = 99;
	struct mp_snap *s;

	fake_init(&f);
	s = build(&f, 9, &torn);
	CHECK(s != NULL);
	if (s) {
		CHECK_U64(torn, 0);
		CHECK_INT(s->nstacks, 2);
		CHECK_INT(s->nheap, 2);
		CHECK_INT(s->nres, 2);
		CHECK(s->has_death);
		CHECK_INT(s->death.signal, 9);
		CHECK_U64(s->death.torn, 0);
		CHECK_U64(s->header.pid, 42);
		CHECK_STR(s->exe, "/bin/t");
		CHECK(strstr(s->maps, "/bin/t\n") != NULL);
		CHECK(s->header.flags & MP_SNAP_F_FINAL);
	}
	mp_snap_free(s);

	/* a stack being appended, not yet counted in: skipped, nothing lost */
	fake_init(&f);
	f.meta.tables[S_STACKS].seq = 3;
	f.meta.tables[S_STACKS].torn_off = 40;
	f.meta.tables[S_STACKS].torn_len = 16;
	s = build(&f, 9, &torn);
	CHECK(s && s->nstacks == 2 && torn == 1 && s->death.torn == 1);
	mp_snap_free(s);

	/* a stack counted in but torn: it and the bucket of it go */
	fake_init(&f);
	f.meta.tables[S_STACKS].seq = 5;
	f.meta.tables[S_STACKS].torn_off = 16;
	f.meta.tables[S_STACKS].torn_len = 24;
	s = build(&f, 9, &torn);
	CHECK(s && s->nstacks == 1 && s->nheap == 1 && torn == 2);
	if (s)
		CHECK_INT(s->res[1].stack_id, 0);   /* the descriptor keeps no dangling stack */
	mp_snap_free(s);

	/* a bucket torn in place: skipped, the other one read */
	fake_init(&f);
	f.meta.tables[S_HEAP].seq = 1;
	f.meta.tables[S_HEAP].torn_off = 0;
	f.meta.tables[S_HEAP].torn_len = 32;
	s = build(&f, 9, &torn);
	CHECK(s && s->nheap == 1 && s->heap[0].stack_id == 2 && torn == 1);
	mp_snap_free(s);

	/* a descriptor record being rewritten at death */
	fake_init(&f);
	f.meta.tables[S_RES].seq = 7;
	f.meta.tables[S_RES].torn_off = sizeof(struct mp_snap_res_rec);
	f.meta.tables[S_RES].torn_len = sizeof(struct mp_snap_res_rec);
	s = build(&f, 11, &torn);
	CHECK(s && s->nres == 1 && s->res[0].id == 0 && torn == 1);
	mp_snap_free(s);

	/* the maps' double buffer mid-swap: the new half, whole, is taken */
	fake_init(&f);
	const char *maps2 = "00500000-00501000 r-xp 00000000 08:01 2 /bin/u\n";
	memcpy(f.tab[S_MAPS], maps2, strlen(maps2));
	f.meta.tables[S_MAPS].seq = 1;
	f.meta.tables[S_MAPS].torn_off = 0;
	f.meta.tables[S_MAPS].torn_len = strlen(maps2);
	s = build(&f, 9, &torn);
	CHECK(s && strstr(s->maps, "/bin/u\n") && torn == 0);
	mp_snap_free(s);

	/* counts a racing fork child's copy can show: frees capped */
	fake_init(&f);
	((struct mp_snap_heap_rec *)f.tab[S_HEAP])[1].free_objects = 9;
	s = build(&f, 0, &torn);
	CHECK(s && s->heap[1].free_objects == 5 && s->death.signal == 0);
	mp_snap_free(s);

	/* scribbled tables: ranges past the memfd, records of no class */
	fake_init(&f);
	f.meta.tables[S_HEAP].used = 1ull << 40;
	((struct mp_snap_res_rec *)f.tab[S_RES])[0].res_class = 77;
	s = build(&f, 9, &torn);
	CHECK(s && s->nheap == 0 && s->nres == 1 && torn == 2);
	mp_snap_free(s);

	/* the shim's death signal when the parent did not see one */
	fake_init(&f);
	f.meta.death_signal = 6;
	s = build(&f, 0, &torn);
	CHECK(s && s->death.signal == 6 && (s->death.flags & MP_DEATH_F_AT_SIGNAL));
	mp_snap_free(s);

	/* a table of a section this reader does not know: carried, its torn
	 * record skipped and counted */
	fake_init(&f);
	f.views[5] = (struct mp_shm_view){ f.tab[0], sizeof(f.tab[0]) };
	memset(f.tab[0], 0x5a, 64);
	f.meta.tables[5] = (struct mp_shm_table){ .section = 40, .used = 64, .rec_size = 16,
		.seq = 1, .torn_off = 16, .torn_len = 16 };
	{
		uint8_t *out = NULL;
		size_t olen = 0;
		CHECK_INT(mp_shm_build(f.views, 9, 0, 1, &out, &olen, &torn, NULL), 0);
		CHECK_U64(torn, 1);
		int found = 0;
		for (size_t off = sizeof(struct mp_snap_header); out && off + 16 <= olen;) {
			struct mp_snap_section sec;
			memcpy(&sec, out + off, sizeof(sec));
			if (sec.type == 40 && sec.size == 48)
				found = 1;
			off += sizeof(sec) + sec.size + (-sec.size & 7);
		}
		CHECK(found);
		struct mp_snap *sn = NULL;
		CHECK_INT(mp_snap_parse(out, olen, &sn, NULL), 0);
		mp_snap_free(sn);
		free(out);
	}

	/* no directory */
	fake_init(&f);
	f.meta.magic[0] = 'X';
	uint8_t *buf = NULL;
	size_t len;
	CHECK_INT(mp_shm_build(f.views, 9, 0, 1, &buf, &len, &torn, NULL), -EBADMSG);
	CHECK(buf == NULL);
}

/* ---- the mechanism --------------------------------------------------------------- */

struct got {
	int fd[MP_SHM_MAX_TABLES * 2];
	struct mp_shm_msg msg[MP_SHM_MAX_TABLES * 2];
	int n;
};

static void receive_all(int sock, struct got *g)
{
	for (;;) {
		struct mp_shm_msg m;
		union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} u;
		struct iovec iov = { &m, sizeof(m) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
				     .msg_controllen = sizeof(u.buf) };
		if (recvmsg(sock, &mh, MSG_DONTWAIT) != (ssize_t)sizeof(m) ||
		    g->n == MP_SHM_MAX_TABLES * 2)
			return;
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		int fd = -1;
		if (c && c->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(c), sizeof(int));
		g->msg[g->n] = m;
		g->fd[g->n++] = fd;
	}
}

static int open_fds(void)
{
	int n = 0;
	for (int fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

static void test_mechanism(void)
{
	char dir[] = "/tmp/test-shm.XXXXXX", path[128];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct mp_vm_area a;
	struct got g = { .n = 0 };

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/%s", dir, MP_SHM_SOCKET);
	strcpy(sa.sun_path, path);
	int sock = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHECK_INT(bind(sock, (struct sockaddr *)&sa, sizeof(sa)), 0);

	/* without a start, nothing is shared */
	CHECK_INT(mp_vm_area_init(&a, 8 << 20), 0);
	CHECK_INT(mp_vm_area_share(&a, MP_SNAP_HEAP, 32), -ENOTCONN);

	int before = open_fds();
	CHECK_INT(mp_shm_start(path), 0);
	CHECK(mp_shm_dir != NULL);
	int slot = mp_vm_area_share(&a, MP_SNAP_HEAP, 32);
	CHECK_INT(slot, 1);
	/* listed, private until the commit (one clone for every table) */
	CHECK_U64(a.mapped, 0);
	CHECK_INT(mp_vm_area_grow(&a, 8192, 0), 0);
	((char *)a.base)[100] = 5;
	CHECK_INT(mp_shm_commit(NULL, NULL), 0);
	CHECK_INT(open_fds(), before);   /* no descriptor of ours left in the table */
	CHECK_U64(a.mapped, 8192);
	CHECK_INT(((char *)a.base)[100], 5);   /* copied into the memfd */
	/* made after the commit: backed at once */
	struct mp_vm_area b;
	CHECK_INT(mp_vm_area_init(&b, 1 << 20), 0);
	CHECK_INT(mp_vm_area_share(&b, MP_SNAP_UNLOADED, 0), 2);
	CHECK_U64(b.mapped, 4096);
	CHECK_INT(open_fds(), before);
	/* grown by mremap over the memfd's next pages */
	CHECK_INT(mp_vm_area_grow(&a, 3 << 20, 0), 0);
	CHECK_U64(a.mapped, 3 << 20);
	memset((void *)a.base, 0xab, 64);
	((char *)a.base)[(3 << 20) - 1] = 7;
	mp_shm_begin(&a, 0, 32);
	mp_shm_publish(&a, 0, 64);
	mp_shm_end(&a);

	receive_all(sock, &g);
	CHECK_INT(g.n, 3);
	CHECK(g.n == 3 && g.msg[0].slot == 0 && g.msg[2].slot == 2 && g.msg[1].slot == 1 && g.msg[1].size == a.size &&
	      g.msg[0].pid == (uint64_t)getpid() && g.msg[0].image == g.msg[1].image);
	if (g.n == 3) {
		uint8_t *p = mmap(NULL, a.size, PROT_READ, MAP_SHARED, g.fd[1], 0);
		const struct mp_shm_meta *m = mmap(NULL, sizeof(*m), PROT_READ, MAP_SHARED,
						   g.fd[0], 0);
		CHECK(p != MAP_FAILED && m != MAP_FAILED);
		if (p != MAP_FAILED && m != MAP_FAILED) {
			CHECK_INT(p[0], 0xab);
			CHECK_INT(p[(3 << 20) - 1], 7);   /* the grown part is the memfd's */
			CHECK_INT(m->tables[1].section, MP_SNAP_HEAP);
			CHECK_U64(m->tables[1].used, 64);
			CHECK_INT(m->tables[1].seq, 2);
			CHECK(memcmp(m->magic, MP_SHM_MAGIC, 8) == 0);

			/* a fork child gets copies of its own, of the tables as they
			 * were when the fork began (the parent's other threads may
			 * write on meanwhile): its writes are not ours */
			mp_shm_before_fork();
			((uint8_t *)a.base)[2] = 0x22;   /* after the copy: not the child's */
			pid_t pid = fork();
			if (pid == 0) {
				mp_privfd_after_fork_child();
				mp_shm_after_fork_child();
				((uint8_t *)a.base)[0] = 0x11;
				_exit(mp_shm_dir && mp_shm_dir->pid == (uint64_t)getpid() ? 0 : 1);
			}
			mp_shm_after_fork_parent();
			int st;
			waitpid(pid, &st, 0);
			CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
			CHECK_INT(p[0], 0xab);
			CHECK_INT(((uint8_t *)a.base)[0], 0xab);
			struct got k = { .n = 0 };
			receive_all(sock, &k);
			CHECK_INT(k.n, 3);
			if (k.n == 3) {
				uint8_t *q = mmap(NULL, a.size, PROT_READ, MAP_SHARED, k.fd[1], 0);
				const struct mp_shm_meta *km = mmap(NULL, sizeof(*km), PROT_READ,
								    MAP_SHARED, k.fd[0], 0);
				CHECK(k.msg[0].pid == (uint64_t)pid && k.msg[0].image != m->image);
				CHECK(q != MAP_FAILED && q[0] == 0x11 && q[1] == 0xab &&
				      q[2] == 0xab && q[(3 << 20) - 1] == 7);
				CHECK(km != MAP_FAILED && km->pid == (uint64_t)pid &&
				      (km->flags & MP_SNAP_F_FORKED) && km->tables[1].used == 64);
			}
			for (int i = 0; i < k.n; i++)
				close(k.fd[i]);
		}
	}
	for (int i = 0; i < g.n; i++)
		close(g.fd[i]);
	close(sock);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	test_reader();
	test_mechanism();
	return tap_done();
}

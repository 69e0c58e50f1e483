/* SPDX-License-Identifier: MIT */
/*
 * The live endpoint's server (live.h).  Every connection is a small state
 * machine: READ (its request head, within READ_TIMEOUT_MS of the accept,
 * however slowly it comes), DELAY (a delta profile's interval), WRITE (the
 * whole answer, within WRITE_TIMEOUT_MS), then closed: one request per
 * connection, "Connection: close".  The answer is made while the request
 * is handled, from a snapshot taken then (mp_live_snapshot, which waits for
 * the program's answer); nothing is cached.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli/early-sym.h"
#include "cli/http.h"
#include "cli/live.h"
#include "cli/procstate.h"
#include "common/errmsg.h"
#include "common/mono.h"
#include "common/profile-kind.h"
#include "common/snapshot-read.h"
#include "convert/convert.h"
#include "pprof/pprof.h"
#include "report/diff.h"
#include "report/top.h"

#define MAX_CONNS 32
#define READ_TIMEOUT_MS 10000u
#define WRITE_TIMEOUT_MS 30000u
#define SNAP_TIMEOUT_MS 10000u
#define MAX_SECONDS 3600u

enum conn_state { C_READ, C_DELAY, C_WRITE };

struct conn {
	int fd;
	enum conn_state st;
	uint64_t deadline;              /* CLOCK_MONOTONIC ms */
	char in[MP_HTTP_HEAD_MAX];
	size_t in_len;
	char *out;
	size_t out_len, out_off;
	/* DELAY: the delta profile's request and its base. */
	enum mp_profile_kind kind;
	bool allocs;                    /* /debug/pprof/allocs: alloc_space first */
	pid_t pid;
	bool head;
	uint8_t *base;
	size_t base_len;
};

struct mp_live {
	int lfd;
	char *snapdir;
	pid_t target;
	struct conn *conns[MAX_CONNS];
	int nconns;
	/* What the last mp_live_poll_fds handed out, in order. */
	bool polled_listen;
	struct conn *polled[MAX_CONNS];
	int npolled;
};

/* ---- listening ------------------------------------------------------------------ */

/* Split "HOST:PORT", ":PORT", "PORT", "[V6]:PORT" into host (malloc'd,
 * "127.0.0.1" when empty) and port.  0 or -1. */
static int split_addr(const char *addr, char **ret_host, char **ret_port)
{
	const char *colon = strrchr(addr, ':');
	const char *port = colon ? colon + 1 : addr;
	size_t hlen = colon ? (size_t)(colon - addr) : 0;
	const char *host = addr;

	if (!*port || strspn(port, "0123456789") != strlen(port) || strlen(port) > 5 ||
	    atoi(port) > 65535)
		return -1;
	if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
		host++;
		hlen -= 2;
	} else if (hlen && memchr(host, ':', hlen)) {
		return -1;   /* an IPv6 address goes in brackets */
	}
	*ret_host = hlen ? strndup(host, hlen) : strdup("127.0.0.1");
	*ret_port = strdup(port);
	if (!*ret_host || !*ret_port) {
		free(*ret_host);
		free(*ret_port);
		return -1;
	}
	return 0;
}

int mp_live_open(const char *addr, const char *snapdir, struct mp_live **ret)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	char *host = NULL, *port = NULL, shown[INET6_ADDRSTRLEN + 8];
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct mp_live *lv;
	int fd = -1, r, one = 1;

	if (split_addr(addr, &host, &port) < 0) {
		fprintf(stderr, "memprof: bad --http '%s': not [HOST]:PORT or PORT\n", addr);
		return -1;
	}
	r = getaddrinfo(host, port, &hints, &ai);
	if (r != 0) {
		fprintf(stderr, "memprof: bad --http '%s': %s\n", addr, gai_strerror(r));
		goto fail;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		fprintf(stderr, "memprof: cannot listen on '%s': %s\n", addr, strerror(errno));
		goto fail;
	}
	lv = calloc(1, sizeof(*lv));
	if (!lv || !(lv->snapdir = strdup(snapdir))) {
		free(lv);
		fputs("memprof: out of memory\n", stderr);
		goto fail;
	}
	lv->lfd = fd;
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;
		char a[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		snprintf(shown, sizeof(shown), "[%s]:%u", a, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;
		char a[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		snprintf(shown, sizeof(shown), "%s:%u", a, ntohs(s4->sin_port));
	}
	fprintf(stderr, "memprof: serving http://%s/debug/pprof/\n", shown);
	freeaddrinfo(ai);
	free(host);
	free(port);
	*ret = lv;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	if (ai)
		freeaddrinfo(ai);
	free(host);
	free(port);
	return -1;
}

void mp_live_set_target(struct mp_live *lv, pid_t pid)
{
	lv->target = pid;
}

static void conn_free(struct mp_live *lv, int i)
{
	struct conn *c = lv->conns[i];

	close(c->fd);
	free(c->out);
	free(c->base);
	free(c);
	lv->conns[i] = lv->conns[--lv->nconns];
}

static void respond_error(struct conn *c, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static bool on_write(struct conn *c);

void mp_live_close(struct mp_live *lv)
{
	if (!lv)
		return;
	while (lv->nconns) {
		struct conn *c = lv->conns[lv->nconns - 1];

		/* A delta still waiting when the program's tree has ended gets
		 * an answer that says so, not a closed connection; what can be
		 * sent at once of it and of any answer underway is. */
		if (c->st == C_DELAY)
			respond_error(c, 503, "the program ended before the ?seconds= interval did");
		if (c->st == C_WRITE)
			on_write(c);
		conn_free(lv, lv->nconns - 1);
	}
	close(lv->lfd);
	mp_live_snapshot_clean(lv->snapdir, 0, 0);
	free(lv->snapdir);
	free(lv);
}

/* ---- answers -------------------------------------------------------------------- */

/* The answer: status line, headers (`extra`: more lines, each ending in
 * CRLF, or ""), the body unless `head`.  Takes `body` (malloc'd or NULL). */
static void respond(struct conn *c, int status, const char *type, const char *extra, char *body,
		    size_t len)
{
	char *out = NULL;
	size_t out_len = 0;
	FILE *f = open_memstream(&out, &out_len);

	if (f) {
		fprintf(f, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			   "X-Content-Type-Options: nosniff\r\nConnection: close\r\n%s\r\n",
			status, mp_http_reason(status), type, len, extra);
		if (!c->head && len)
			fwrite(body, 1, len, f);
		if (fclose(f) != 0) {
			free(out);
			out = NULL;
		}
	}
	free(body);
	free(c->out);
	c->out = out;
	c->out_len = out ? out_len : 0;
	c->out_off = 0;
	c->st = C_WRITE;
	c->deadline = mp_mono_ms() + WRITE_TIMEOUT_MS;
}

/* A plain-text error: `fmt` and a newline. */
static void __attribute__((format(printf, 3, 4)))
respond_error(struct conn *c, int status, const char *fmt, ...)
{
	char *msg = NULL, *line = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (msg && asprintf(&line, "%s\n", msg) < 0)
		line = NULL;
	free(msg);
	respond(c, status, "text/plain; charset=utf-8",
		status == 405 ? "Allow: GET, HEAD\r\n" : "", line, line ? strlen(line) : 0);
}

/* Whether pid is a process of our tree (a descendant of memprof). */
static bool in_tree(pid_t pid)
{
	pid_t self = getpid();

	for (int depth = 0; pid > 1 && depth < 256; depth++) {
		char path[64], buf[512];
		const char *p;
		FILE *f;
		int ppid = 0;

		if (pid == self)
			return depth > 0;
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		f = fopen(path, "re");
		if (!f)
			return false;
		p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
		fclose(f);
		if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1)
			return false;
		pid = (pid_t)ppid;
	}
	return false;
}

/*
 * Go's /debug/pprof/allocs: the heap profile with alloc_space as its
 * default sample type, so that pprof shows what was allocated, not what is
 * in use.  The encoded profile read, copied as `memprof merge` copies one,
 * and encoded again with that default (memprof's statistics, which merge
 * does not carry, are left out).  0 or -errno, *buf replaced.
 */
static int allocs_default(uint8_t **buf, size_t *len, char **ret_err)
{
	struct mp_profile *p = NULL;
	struct mp_pprof_builder *b = NULL;
	uint8_t *out = NULL;
	size_t out_len = 0;
	int r = mp_pprof_parse(*buf, *len, &p, ret_err);

	if (r == 0)
		r = mp_merge_build((const struct mp_profile *const *)&p, 1, &b, ret_err);
	if (r == 0) {
		mp_pprof_set_default_sample_type(b, "alloc_space");
		r = mp_pprof_encode(b, &out, &out_len);
	}
	mp_pprof_builder_free(b);
	mp_profile_free(p);
	if (r < 0)
		return r;
	free(*buf);
	*buf = out;
	*len = out_len;
	return 0;
}

/* The encoded profile of `kind` from a fresh snapshot of pid (allocs: with
 * alloc_space as its default): 0 with a malloc'd buffer, or the HTTP status
 * to answer with the reason. */
static int fetch_profile(struct mp_live *lv, pid_t pid, enum mp_profile_kind kind, bool allocs,
			 uint8_t **ret_buf, size_t *ret_len, char **ret_err)
{
	struct mp_converter *cv = NULL;
	struct mp_snap *sn = NULL;
	int r = mp_live_snapshot(lv->snapdir, pid, SNAP_TIMEOUT_MS, &sn, ret_err);

	if (r < 0)
		return r == -ETIMEDOUT ? 504 : 503;
	mp_early_sym_lock();
	r = mp_converter_new(sn, 0, mp_early_sym_finish(), &cv);
	if (r < 0)
		mp_set_err(ret_err, "cannot convert the snapshot: %s", strerror(-r));
	else
		r = mp_converter_encode(cv, kind, ret_buf, ret_len, ret_err);
	mp_converter_free(cv);
	mp_early_sym_unlock();
	mp_snap_free(sn);
	if (r == 0 && allocs && allocs_default(ret_buf, ret_len, ret_err) < 0) {
		free(*ret_buf);
		*ret_buf = NULL;
		r = -1;
	}
	return r < 0 ? 500 : 0;
}

/* ?debug=N: the profile as `memprof top` prints it. */
static int to_text(const uint8_t *buf, size_t len, char **ret, size_t *ret_len, char **ret_err)
{
	struct mp_top_options o = MP_TOP_OPTIONS_DEFAULT;
	struct mp_profile *p = NULL;
	struct mp_top *t = NULL;
	FILE *f;
	int r = mp_pprof_parse(buf, len, &p, ret_err);

	if (r == 0)
		r = mp_top_compute(p, &o, &t, ret_err);
	if (r == 0) {
		f = open_memstream(ret, ret_len);
		r = f ? mp_top_print(t, f) : -ENOMEM;
		if (f && fclose(f) != 0 && r == 0)
			r = -ENOMEM;
	}
	mp_top_free(t);
	mp_profile_free(p);
	return r;
}

static void respond_profile(struct conn *c, enum mp_profile_kind kind, uint8_t *buf, size_t len)
{
	char extra[128];

	snprintf(extra, sizeof(extra), "Content-Disposition: attachment; filename=\"%s\"\r\n",
		 mp_profile_kinds[kind].name);
	respond(c, 200, "application/octet-stream", extra, (char *)buf, len);
}

/* The processes of the tree, for the index: "<li>" lines. */
static void list_processes(FILE *f, pid_t pid, pid_t target, int depth)
{
	pid_t *kids = NULL;
	size_t n = 0, cap = 0;

	if (depth > 16)
		return;
	mp_proc_children(pid, &kids, &n, &cap);   /* what could be read */
	for (size_t i = 0; i < n; i++) {
		long child = kids[i];
		char comm[64];

		mp_proc_comm(kids[i], comm, sizeof(comm));
		comm[strcspn(comm, "<>&\"")] = 0;
		if (child == target)
			fprintf(f, "<li>%ld %s (the program: served without ?pid=)</li>\n",
				child, comm);
		else
			fprintf(f, "<li>%ld %s: <a href=\"heap?pid=%ld\">heap</a> "
				   "<a href=\"fds?pid=%ld\">fds</a> "
				   "<a href=\"threads?pid=%ld\">threads</a> "
				   "<a href=\"timers?pid=%ld\">timers</a></li>\n",
				child, comm, child, child, child, child);
		list_processes(f, kids[i], target, depth + 1);
	}
	free(kids);
}

static void respond_index(struct mp_live *lv, struct conn *c)
{
	static const struct { const char *path, *what; } rows[] = {
		{ "heap", "sampled heap: in-use and allocated space and objects by allocation stack "
			  "(?debug=1: text; ?seconds=N: the change over N seconds)" },
		{ "allocs", "the same heap profile, allocated space first (alloc_space), as Go's" },
		{ "fds", "open file descriptors with the stacks that opened them" },
		{ "threads", "live threads with the stacks that created them (also threadcreate)" },
		{ "timers", "armed timers with the stacks that created them" },
	};
	char *body = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&body, &len);

	if (!f) {
		respond_error(c, 500, "out of memory");
		return;
	}
	fprintf(f, "<!DOCTYPE html>\n<html><head><title>/debug/pprof/</title></head><body>\n"
		   "<h1>memprof: /debug/pprof/</h1>\n<p>Profiles of process %d, each from a "
		   "snapshot taken for the request:</p>\n<table>\n", (int)lv->target);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		fprintf(f, "<tr><td><a href=\"%s?debug=1\">%s</a></td><td>%s</td></tr>\n",
			rows[i].path, rows[i].path, rows[i].what);
	fputs("</table>\n<p>Processes of the tree (another one with ?pid=N):</p>\n<ul>\n", f);
	list_processes(f, getpid(), lv->target, 0);
	fputs("</ul>\n<p>go tool pprof http://HOST:PORT/debug/pprof/heap</p>\n</body></html>\n", f);
	if (fclose(f) != 0) {
		free(body);
		respond_error(c, 500, "out of memory");
		return;
	}
	respond(c, 200, "text/html; charset=utf-8", "", body, len);
}

/* The answer to a complete request head. */
static void handle(struct mp_live *lv, struct conn *c, const struct mp_http_req *req)
{
	static const struct { const char *name; enum mp_profile_kind kind; } paths[] = {
		{ "heap", MP_PROFILE_HEAP }, { "allocs", MP_PROFILE_HEAP },
		{ "fds", MP_PROFILE_FDS }, { "threads", MP_PROFILE_THREADS },
		{ "threadcreate", MP_PROFILE_THREADS }, { "timers", MP_PROFILE_TIMERS },
	};
	static const char prefix[] = "/debug/pprof/";
	const size_t plen = sizeof(prefix) - 1;
	struct mp_http_query q;
	uint8_t *buf = NULL;
	size_t len = 0;
	char *err = NULL;
	int status;

	c->head = req->method == MP_HTTP_HEAD;
	if (req->method == MP_HTTP_OTHER) {
		respond_error(c, 405, "only GET and HEAD are served");
		return;
	}
	if (mp_http_parse_query(req->query ? req->query : "", req->query_len, &q) < 0) {
		respond_error(c, 400, "bad query: debug, gc, seconds and pid take a number");
		return;
	}
	if (req->path_len == plen - 1 && memcmp(req->path, prefix, req->path_len) == 0) {
		/* As Go does: the index's links are relative to the directory. */
		char *body = strdup("/debug/pprof/\n");
		respond(c, 301, "text/plain; charset=utf-8", "Location: /debug/pprof/\r\n", body,
			body ? strlen(body) : 0);
		return;
	}
	if (req->path_len == plen && memcmp(req->path, prefix, req->path_len) == 0) {
		if (!lv->target)
			respond_error(c, 503, "the program has not started yet");
		else
			respond_index(lv, c);
		return;
	}
	c->kind = MP_PROFILE_NONE;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (req->path_len == plen + strlen(paths[i].name) &&
		    memcmp(req->path, prefix, plen) == 0 &&
		    memcmp(req->path + plen, paths[i].name, strlen(paths[i].name)) == 0) {
			c->kind = paths[i].kind;
			c->allocs = strcmp(paths[i].name, "allocs") == 0;
		}
	if (c->kind == MP_PROFILE_NONE) {
		respond_error(c, 404, "no such profile: see /debug/pprof/ for heap, allocs, fds, "
				      "threads, threadcreate and timers");
		return;
	}
	c->pid = q.has_pid ? (pid_t)q.pid : lv->target;
	if (!c->pid) {
		respond_error(c, 503, "the program has not started yet");
		return;
	}
	if (q.has_pid && !in_tree(c->pid)) {
		respond_error(c, 404, "process %d is not one of the program's tree", (int)c->pid);
		return;
	}
	if (q.has_seconds && q.seconds > 0) {
		if (q.seconds > MAX_SECONDS || (q.has_debug && q.debug)) {
			respond_error(c, 400, "seconds: 1 to %u, with debug=0 only", MAX_SECONDS);
			return;
		}
		status = fetch_profile(lv, c->pid, c->kind, c->allocs, &c->base, &c->base_len, &err);
		if (status) {
			respond_error(c, status, "%s", err ? err : "no snapshot");
		} else {
			c->st = C_DELAY;
			c->deadline = mp_mono_ms() + q.seconds * 1000;
		}
		free(err);
		return;
	}
	status = fetch_profile(lv, c->pid, c->kind, c->allocs, &buf, &len, &err);
	if (status) {
		respond_error(c, status, "%s", err ? err : "no snapshot");
	} else if (q.has_debug && q.debug) {
		char *text = NULL;
		size_t tlen = 0;
		if (to_text(buf, len, &text, &tlen, &err) < 0) {
			free(text);
			respond_error(c, 500, "%s", err ? err : "cannot print the profile");
		} else {
			respond(c, 200, "text/plain; charset=utf-8", "", text, tlen);
		}
		free(buf);
	} else {
		respond_profile(c, c->kind, buf, len);
	}
	free(err);
}

/* A delta profile's interval is over: the change since its base. */
static void finish_delta(struct mp_live *lv, struct conn *c)
{
	struct mp_profile *base = NULL, *after = NULL;
	struct mp_pprof_builder *b = NULL;
	uint8_t *buf = NULL, *out = NULL;
	size_t len = 0, out_len = 0;
	char *err = NULL;
	int status = fetch_profile(lv, c->pid, c->kind, c->allocs, &buf, &len, &err);

	if (status) {
		respond_error(c, status, "%s", err ? err : "no snapshot");
		goto out;
	}
	if (mp_pprof_parse(c->base, c->base_len, &base, &err) < 0 ||
	    mp_pprof_parse(buf, len, &after, &err) < 0 ||
	    mp_diff_build(base, after, &b, &err) < 0) {
		respond_error(c, 500, "cannot make the delta profile: %s", err ? err : "no memory");
		goto out;
	}
	/* As Go's net/http/pprof: the change is dated by the second profile
	 * and lasts from the first to the second (a merge would add the two
	 * profiles' durations, each counted from the process's start). */
	int64_t t0 = base->msg->time_nanos, t1 = after->msg->time_nanos;
	mp_pprof_set_time(b, t1, t1 > t0 ? t1 - t0 : 0);
	if (mp_pprof_encode(b, &out, &out_len) < 0) {
		respond_error(c, 500, "cannot make the delta profile: no memory");
		goto out;
	}
	respond_profile(c, c->kind, out, out_len);
out:
	mp_pprof_builder_free(b);
	mp_profile_free(base);
	mp_profile_free(after);
	free(buf);
	free(err);
}

/* ---- the connections ------------------------------------------------------------ */

static void accept_some(struct mp_live *lv)
{
	for (int i = 0; i < 8 && lv->nconns < MAX_CONNS; i++) {
		int fd = accept4(lv->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *c;

		if (fd < 0)
			return;
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			return;
		}
		c->fd = fd;
		c->st = C_READ;
		c->deadline = mp_mono_ms() + READ_TIMEOUT_MS;
		lv->conns[lv->nconns++] = c;
	}
}

/* Read what came; answer once the head is complete.  false: close it. */
static bool on_read(struct mp_live *lv, struct conn *c)
{
	struct mp_http_req req;
	ssize_t n = read(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len);
	int r;

	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	if (n == 0)
		return false;   /* the client gave up */
	c->in_len += (size_t)n;
	r = mp_http_parse(c->in, c->in_len, &req);
	if (r == 0)
		return true;
	if (r < 0)
		respond_error(c, -r, "%s", mp_http_reason(-r));
	else
		handle(lv, c, &req);
	return true;
}

/* Write what we can.  false: done or failed, close it. */
static bool on_write(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR;
		c->out_off += (size_t)n;
	}
	shutdown(c->fd, SHUT_WR);
	return false;
}

int mp_live_poll_fds(void *arg, struct pollfd *fds, int max, int *timeout_ms)
{
	struct mp_live *lv = arg;
	uint64_t now = mp_mono_ms(), next = UINT64_MAX;
	int n = 0;

	lv->polled_listen = lv->nconns < MAX_CONNS && max > 0;
	if (lv->polled_listen)
		fds[n++] = (struct pollfd){ .fd = lv->lfd, .events = POLLIN };
	lv->npolled = 0;
	for (int i = 0; i < lv->nconns && n < max; i++) {
		struct conn *c = lv->conns[i];
		short ev = c->st == C_READ ? POLLIN : c->st == C_WRITE ? POLLOUT : 0;

		fds[n++] = (struct pollfd){ .fd = c->fd, .events = ev };
		lv->polled[lv->npolled++] = c;
		if (c->deadline < next)
			next = c->deadline;
	}
	if (next != UINT64_MAX) {
		uint64_t wait = next > now ? next - now : 0;
		if (*timeout_ms < 0 || wait < (uint64_t)*timeout_ms)
			*timeout_ms = (int)(wait > INT32_MAX ? INT32_MAX : wait);
	}
	return n;
}

static int index_of(struct mp_live *lv, const struct conn *c)
{
	for (int i = 0; i < lv->nconns; i++)
		if (lv->conns[i] == c)
			return i;
	return -1;
}

void mp_live_polled(void *arg, const struct pollfd *fds, int n)
{
	struct mp_live *lv = arg;
	int k = lv->polled_listen ? 1 : 0;

	for (int j = 0; j < lv->npolled && k + j < n; j++) {
		struct conn *c = lv->polled[j];
		short rev = fds[k + j].revents;
		bool keep = true;

		if (!rev)
			continue;
		if (c->st == C_READ && (rev & (POLLIN | POLLHUP | POLLERR)))
			keep = on_read(lv, c);
		else if (c->st == C_WRITE && (rev & (POLLOUT | POLLHUP | POLLERR)))
			keep = !(rev & POLLERR) && on_write(c);
		else if (rev & (POLLHUP | POLLERR))
			keep = false;   /* a delta's client went away */
		if (keep && c->st == C_WRITE && !(rev & POLLOUT))
			keep = on_write(c);   /* answered just now: try at once */
		if (!keep)
			conn_free(lv, index_of(lv, c));
	}
	/* Deadlines: slow clients get 408 or are dropped; deltas are due. */
	uint64_t now = mp_mono_ms();
	for (int i = 0; i < lv->nconns; i++) {
		struct conn *c = lv->conns[i];

		if (c->deadline > now)
			continue;
		if (c->st == C_READ) {
			respond_error(c, 408, "the request took too long");
			if (on_write(c))
				continue;
		} else if (c->st == C_DELAY) {
			finish_delta(lv, c);
			if (on_write(c))
				continue;
		}
		conn_free(lv, i--);
	}
	if (lv->polled_listen && n > 0 && (fds[0].revents & POLLIN))
		accept_some(lv);
}

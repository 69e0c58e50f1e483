/* SPDX-License-Identifier: MIT */
/*
 * The contract between the shim and the CLI (src/common/): the profile
 * kinds and their names; the shim's options (table, parser, formatter);
 * the names of the files in a snapshot directory; the snapshot request;
 * the decimal conversion and the whole write both sides share.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/profile-kind.h"
#include "common/shim-options.h"
#include "common/snapfile.h"
#include "common/trigger.h"
#include "common/snapshot.h"
#include "common/utoa.h"
#include "common/write-all.h"
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
		{ "app.s0003.peak.pb.gz", MP_PROFILE_PEAK },
		{ "x.timers.pb.gz.1", -1 },
		{ ".timers.pb.gz", -1 },
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
		if (p->res_class)   /* heap and peak: none */
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

/* ---- MEMPROF_OPTIONS --------------------------------------------------------- */

static char warned[512];
static int nwarned;

static void warn(void *ctx, const char *what, const char *item, size_t n)
{
	size_t l = strlen(warned);
	(void)ctx;
	nwarned++;
	snprintf(warned + l, sizeof(warned) - l, "%s%s '%.*s'", l ? "; " : "", what, (int)n, item);
}

static void test_options_defaults(void)
{
	struct mp_options o;

	memset(&o, 0xa5, sizeof(o));
	mp_options_default(&o);
	CHECK_U64(o.rate, 524288);
	CHECK_INT(o.depth, 64);
	CHECK_INT(o.verbose, 0);
	CHECK_STR(o.snapdir, "");
	CHECK_U64(o.interval_ns, 0);
	CHECK_INT(o.snapshot_signal, 12);
	CHECK_INT(o.leak, 0);
	CHECK_INT(o.allocator, MP_ALLOCATOR_MEMPROF);
	CHECK_INT(o.unwind, 0);
	CHECK(mp_options_find("depth", 5) && mp_options_find("depth", 5)->max == MP_MAX_DEPTH);
	CHECK(mp_options_find("dept", 4) == NULL);
	CHECK(mp_options_find("rate=", 5) == NULL);
	for (size_t i = 0; i < mp_options_count; i++)
		CHECK(mp_options_table[i].help && mp_options_table[i].help[0]);
}

static void test_options_parse(void)
{
	struct mp_options o;

	mp_options_default(&o);
	warned[0] = 0;
	CHECK_INT(mp_options_parse(&o, "rate=1,depth=32,verbose=1,snapdir=/tmp/x:y,interval=1m30s,"
				   "snapshot_signal=0,leak=1,allocator=system,unwind=2", warn, NULL), 0);
	CHECK_STR(warned, "");
	CHECK_U64(o.rate, 1);
	CHECK_INT(o.depth, 32);
	CHECK_INT(o.verbose, 1);
	CHECK_STR(o.snapdir, "/tmp/x:y");
	CHECK_U64(o.interval_ns, 90000000000ull);
	CHECK_INT(o.snapshot_signal, 0);
	CHECK_INT(o.leak, 1);
	CHECK_INT(o.allocator, MP_ALLOCATOR_SYSTEM);
	CHECK_INT(o.unwind, 2);

	/* In order, the last value wins; empty items are nothing. */
	CHECK_INT(mp_options_parse(&o, ",,allocator=memprof,,rate=5,rate=7,interval=2,", warn, NULL), 0);
	CHECK_INT(o.allocator, MP_ALLOCATOR_MEMPROF);
	CHECK_U64(o.rate, 7);
	CHECK_U64(o.interval_ns, 2000000000ull);
	CHECK_INT(mp_options_parse(&o, "interval=250ms,depth=256", NULL, NULL), 0);
	CHECK_U64(o.interval_ns, 250000000ull);
	CHECK_INT(o.depth, 256);
	CHECK_INT(mp_options_parse(&o, NULL, warn, NULL), 0);

	/* Each bad item: reported with its reason and text, nothing changed. */
	static const struct {
		const char *s, *want;
	} bad[] = {
		{ "rate", "missing value 'rate'" },
		{ "rate=", "bad value 'rate='" },
		{ "rate=-1", "bad value 'rate=-1'" },
		{ "rate=1k", "bad value 'rate=1k'" },
		{ "rate=99999999999999999999", "bad value 'rate=99999999999999999999'" },
		{ "rate=4611686018427387904", "bad value 'rate=4611686018427387904'" },
		{ "depth=0", "bad value 'depth=0'" },
		{ "depth=257", "bad value 'depth=257'" },
		{ "verbose=2", "bad value 'verbose=2'" },
		{ "snapdir=", "bad value 'snapdir='" },
		{ "interval=5x", "bad value 'interval=5x'" },
		{ "interval=ms", "bad value 'interval=ms'" },
		{ "interval=9999999999", "bad value 'interval=9999999999'" },
		{ "snapshot_signal=65", "bad value 'snapshot_signal=65'" },
		{ "allocator=glibc", "bad value 'allocator=glibc'" },
		{ "unwind=3", "bad value 'unwind=3'" },
		{ "sample=1", "unknown option 'sample=1'" },
		{ "=1", "unknown option '=1'" },
		{ "rate=1:verbose=1", "colon 'rate=1:verbose=1'" },
		{ "snapdir=/tmp/x:rate=2", "colon 'snapdir=/tmp/x:rate=2'" },
		{ "depth=8,leak=yes,rate=3", "bad value 'leak=yes'" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct mp_options before;

		mp_options_default(&o);
		mp_options_parse(&o, "rate=9,depth=9,leak=0", NULL, NULL);
		before = o;
		warned[0] = 0;
		nwarned = 0;
		CHECK_INT(mp_options_parse(&o, bad[i].s, warn, NULL), 1);
		CHECK_INT(nwarned, 1);
		CHECK_STR(warned, bad[i].want);
		if (i + 1 < sizeof(bad) / sizeof(bad[0]))
			CHECK(memcmp(&o, &before, sizeof(o)) == 0);
	}
	/* (The good items around a bad one still apply.) */
	CHECK_INT(o.depth, 8);
	CHECK_U64(o.rate, 3);

	size_t at = 99;
	CHECK(!mp_options_colon_at("/tmp/a:b", 8, &at));
	CHECK_INT(at, 99);
	CHECK(!mp_options_colon_at("/tmp/a:foo=2", 12, &at));
	CHECK(mp_options_colon_at("1:depth=8", 9, &at));
	CHECK_INT(at, 1);
	CHECK(!mp_options_colon_at("1:depth=", 7, NULL));
}

static void test_options_format(void)
{
	static const char names[] = "rate,depth,snapdir,interval,snapshot_signal,allocator,leak";
	struct mp_options o, back;
	char buf[256], num[24];

	mp_options_default(&o);
	strcpy(o.snapdir, "/tmp/memprof.abc");
	CHECK_INT(mp_options_format(buf, sizeof(buf), &o, names), 102);
	CHECK_STR(buf, "rate=524288,depth=64,snapdir=/tmp/memprof.abc,interval=0ns,"
		       "snapshot_signal=12,allocator=memprof,leak=0");
	CHECK_INT(strlen(buf), 102);
	/* Read back by the parser: the same settings. */
	o.rate = 1;
	o.depth = 7;
	o.interval_ns = 1500000000ull;
	o.snapshot_signal = 0;
	o.allocator = MP_ALLOCATOR_SYSTEM;
	o.leak = 1;
	CHECK(mp_options_format(buf, sizeof(buf), &o, names) > 0);
	mp_options_default(&back);
	CHECK_INT(mp_options_parse(&back, buf, NULL, NULL), 0);
	CHECK(memcmp(&o, &back, sizeof(o)) == 0);
	/* Cut to the buffer, the whole length returned. */
	CHECK_INT(mp_options_format(buf, 8, &o, "rate,depth"), 14);
	CHECK_STR(buf, "rate=1,");
	CHECK_INT(mp_options_format(NULL, 0, &o, "depth"), 7);
	CHECK_INT(mp_options_format(buf, sizeof(buf), &o, ""), 0);
	CHECK_STR(buf, "");
	CHECK_INT(mp_options_format(buf, sizeof(buf), &o, "rate,colour"), -1);
	/* verbose=1 prints durations bare. */
	CHECK_STR(mp_options_value(&o, mp_options_find("interval", 8), 0, num), "1500000000");
	CHECK_STR(mp_options_value(&o, mp_options_find("interval", 8), 1, num), "1500000000ns");
	CHECK_STR(mp_options_value(&o, mp_options_find("allocator", 9), 0, num), "system");
}

/* ---- the snapshot directory's names ---------------------------------------- */

static void test_snapfile(void)
{
	static const struct {
		int kind;
		uint64_t pid;
		uint32_t seq;
		const char *name;
	} good[] = {
		{ MP_SNAPFILE_FINAL, 1234, 0, "memprof.1234.snap" },
		{ MP_SNAPFILE_NUMBERED, 1234, 7, "memprof.1234.7.snap" },
		{ MP_SNAPFILE_SEQ, 99, 0, "memprof.99.seq" },
		{ MP_SNAPFILE_PROFILE, 5, 4294967295u, "memprof.5.4294967295.profile" },
		{ MP_SNAPFILE_FINAL, 2147483647, 0, "memprof.2147483647.snap" },
		{ MP_SNAPFILE_LIVE, 77, 3, "memprof.77.3.live" },
	};
	static const char *const bad[] = {
		"memprof.1234.snap.tmp", "memprof.1234.7.snap.tmp", "memprof.1234.7.profile.tmp",
		"memprof.0.snap", "memprof.1.0.snap", "memprof.2147483648.snap",
		"memprof.1.4294967296.snap", "memprof..snap", "memprof.x.snap", "memprof.1.snapx",
		"memprof.1.2.3.snap", "memprof.1.2.seq", "memprof.-1.snap", "memprof.+1.snap",
		"memprof.1.+2.snap", "memprof. 1.snap", "Memprof.1.snap", "memprof.1", "",
		"memprof.1.2", "memprof.1.2.", "x.heap.pb.gz", ".memprof-collector",
		"memprof.1.live", "memprof.1.0.live", "memprof.1.2.live.tmp", "memprof.1.2.livex",
	};
	char buf[128];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		uint64_t pid = 0;
		uint32_t seq = 99;
		size_t n = mp_snapfile_path(buf, sizeof(buf), NULL, good[i].kind, good[i].pid,
					    good[i].seq, NULL);

		CHECK_STR(buf, good[i].name);
		CHECK_INT(n, strlen(good[i].name));
		CHECK_INT(mp_snapfile_parse(buf, &pid, &seq), good[i].kind);
		CHECK_U64(pid, good[i].pid);
		CHECK_INT(seq, good[i].seq);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t pid = 42;
		uint32_t seq = 43;

		CHECK_INT(mp_snapfile_parse(bad[i], &pid, &seq), -1);
		CHECK(pid == 42 && seq == 43);
	}
	CHECK_INT(mp_snapfile_path(buf, sizeof(buf), "/tmp/d", MP_SNAPFILE_NUMBERED, 12, 3,
				   MP_SNAPFILE_TMP), 28);
	CHECK_STR(buf, "/tmp/d/memprof.12.3.snap.tmp");
	/* Too long for the buffer: 0, never a cut name. */
	CHECK_INT(mp_snapfile_path(buf, 28, "/tmp/d", MP_SNAPFILE_NUMBERED, 12, 3,
				   MP_SNAPFILE_TMP), 0);
	CHECK_INT(mp_snapfile_path(buf, 29, "/tmp/d", MP_SNAPFILE_NUMBERED, 12, 3,
				   MP_SNAPFILE_TMP), 28);
	CHECK_INT(mp_snapfile_path(buf, 0, NULL, MP_SNAPFILE_FINAL, 1, 0, NULL), 0);
}

/* ---- the snapshot request -------------------------------------------------- */

static uint64_t bit(int sig)
{
	return 1ull << (sig - 1);
}

/* Names a program gives its snapshots (MP_SNAP_NAME). */
static void test_snap_name(void)
{
	static const char *const good[] = { "a", "after-load", "s", "s1x", "S12", "x_1-2",
		"0123456789012345678901234567890123456789012345678901234567890123" };
	static const char *const bad[] = { "", "s1", "s0001", "a b", "a.b", "a/b", "\xc3\xa9",
		"01234567890123456789012345678901234567890123456789012345678901234" };

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CHECK(mp_snap_name_ok(good[i], strlen(good[i])));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(!mp_snap_name_ok(bad[i], strlen(bad[i])));
}

static void test_trigger(void)
{
	siginfo_t si;
	/* The helper's mask: every signal but its doorbell. */
	uint64_t all = ~0ull;

	mp_trigger_request(&si, SIGRTMAX, 1234, 1000);
	CHECK(mp_trigger_is_request(&si));
	CHECK_INT(si.si_signo, SIGRTMAX);
	CHECK_INT(si.si_code, SI_QUEUE);
	CHECK_INT(si.si_pid, 1234);
	CHECK_INT(si.si_uid, 1000);
	CHECK(!mp_trigger_is_request(NULL));
	si.si_value.sival_int = 1;
	CHECK(!mp_trigger_is_request(&si));
	mp_trigger_request(&si, SIGUSR2, 1, 0);
	si.si_code = SI_USER;   /* kill(2): no value */
	CHECK(!mp_trigger_is_request(&si));

	/* Live requests: their own magic and a token; never a numbered one. */
	uint32_t tok = 0;
	mp_trigger_live_request(&si, SIGRTMAX, 1234, 1000, 0xfffffffeu);
	CHECK(mp_trigger_live_token(&si, &tok));
	CHECK_U64(tok, 0xfffffffeu);
	CHECK(!mp_trigger_is_request(&si));
	CHECK_INT(si.si_pid, 1234);
	mp_trigger_request(&si, SIGRTMAX, 1234, 1000);
	tok = 7;
	CHECK(!mp_trigger_live_token(&si, &tok));
	CHECK(!mp_trigger_live_token(NULL, &tok));
	CHECK_INT(tok, 7);
	si.si_value.sival_ptr = (void *)(uintptr_t)MP_TRIGGER_MAGIC_LIVE;   /* token 0 */
	CHECK(!mp_trigger_live_token(&si, &tok));
	mp_trigger_live_request(&si, SIGRTMAX, 1, 0, 5);
	si.si_code = SI_USER;
	CHECK(!mp_trigger_live_token(&si, &tok));

	CHECK_INT(mp_trigger_bell(all & ~bit(SIGRTMAX)), SIGRTMAX);
	CHECK_INT(mp_trigger_bell(all & ~bit(SIGRTMAX - 3)), SIGRTMAX - 3);
	CHECK_INT(mp_trigger_bell(all & ~bit(SIGRTMIN)), SIGRTMIN);
	/* (A second unblocked one: the highest.) */
	CHECK_INT(mp_trigger_bell(all & ~bit(SIGRTMIN + 2) & ~bit(SIGRTMAX - 2)), SIGRTMAX - 2);
	CHECK_INT(mp_trigger_bell(all), 0);
	/* A thread of the program that is merely named so. */
	CHECK_INT(mp_trigger_bell(0), 0);
	CHECK_INT(mp_trigger_bell(all & ~bit(SIGRTMAX) & ~bit(SIGTERM)), 0);
	CHECK_INT(mp_trigger_bell(all & ~bit(SIGRTMAX) & ~bit(SIGINT)), 0);
	CHECK_INT(mp_trigger_bell(all & ~bit(SIGRTMAX) & ~bit(SIGHUP)), 0);
	CHECK_INT(mp_trigger_bell(all & ~bit(SIGRTMAX) & ~bit(SIGUSR2)), SIGRTMAX);
}

static void test_utoa(void)
{
	static const struct {
		uint64_t v;
		const char *s;
	} good[] = {
		{ 0, "0" }, { 7, "7" }, { 10, "10" }, { 4096, "4096" },
		{ 1234567890, "1234567890" }, { UINT32_MAX, "4294967295" },
		{ UINT64_MAX, "18446744073709551615" },
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char buf[MP_UTOA_SIZE + 1];

		memset(buf, 'x', sizeof(buf));
		CHECK(mp_utoa(good[i].v, buf) == buf);
		CHECK_STR(buf, good[i].s);
		CHECK(buf[MP_UTOA_SIZE] == 'x');   /* nothing past the NUL's place */
	}
}

/* A buffer larger than a pipe holds goes out whole (the pipe takes it in
 * short writes as the reader drains it); a bad descriptor is -EBADF. */
static void test_write_all(void)
{
	enum { N = 1 << 20 };
	unsigned char *buf = malloc(N);
	int p[2];
	pid_t pid;

	for (size_t i = 0; i < N; i++)
		buf[i] = (unsigned char)(i * 7 + (i >> 12));
	CHECK_INT(pipe(p), 0);
	pid = fork();
	if (pid == 0) {
		/* The reader: exit 0 when it read exactly buf. */
		static unsigned char got[N + 1];
		size_t n = 0;
		ssize_t r;

		close(p[1]);
		while ((r = read(p[0], got + n, sizeof(got) - n)) > 0)
			n += (size_t)r;
		_exit(n == N && memcmp(got, buf, N) == 0 ? 0 : 1);
	}
	close(p[0]);
	CHECK_INT(mp_write_all(p[1], buf, N), 0);
	close(p[1]);
	int st = -1;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK_INT(mp_write_all(p[1], buf, 1), -EBADF);
	CHECK_INT(mp_write_all(p[1], buf, 0), 0);   /* nothing to write: no call */
	free(buf);
}

int main(void)
{
	test_profile_kinds();
	test_options_defaults();
	test_options_parse();
	test_options_format();
	test_snapfile();
	test_trigger();
	test_snap_name();
	test_utoa();
	test_write_all();
	return tap_done();
}

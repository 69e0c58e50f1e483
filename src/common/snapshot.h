/* SPDX-License-Identifier: MIT */
/*
 * The raw snapshot format: what the shim writes inside the target and the CLI
 * turns into pprof profiles.  This header is the contract between the two.
 *
 * The shim keeps work inside the target minimal: it writes raw return
 * addresses, the text of /proc/self/maps and raw (unscaled) sampled counters.
 * Symbolization, scaling and protobuf encoding happen in the CLI.
 *
 * Layout (host byte order; the file is only read on the machine that wrote it,
 * the header's endian tag lets the reader refuse a foreign file):
 *
 *   struct mp_snap_header
 *   repeated: struct mp_snap_section, then `size` bytes of payload, then zero
 *             padding up to a multiple of 8 bytes
 *
 * Files are written to "<final>.tmp" with O_EXCL and renamed, so a reader
 * never sees half a file (the names: common/snapfile.h).  Everything in the file is untrusted for the
 * reader: every count, size, id and offset must be checked.
 */
#ifndef MP_COMMON_SNAPSHOT_H
#define MP_COMMON_SNAPSHOT_H

#include <stdint.h>

#define MP_SNAP_MAGIC "MPSNAP\0\1"     /* 8 bytes, no terminating NUL */
#define MP_SNAP_VERSION 1u
#define MP_SNAP_ENDIAN_TAG 0x01020304u
/* Deepest stack a snapshot may hold (header.max_depth's bound; the shim's
 * depth= maximum, MP_MAX_DEPTH in common/shim-options.h). */
#define MP_SNAP_MAX_DEPTH 256u

struct mp_snap_header {
	char magic[8];            /* MP_SNAP_MAGIC */
	uint32_t version;         /* MP_SNAP_VERSION */
	uint32_t endian;          /* MP_SNAP_ENDIAN_TAG as written by the host */
	uint32_t header_size;     /* sizeof(struct mp_snap_header) */
	uint32_t nsections;       /* number of sections that follow */
	uint64_t pid;             /* pid of the process that wrote it */
	uint64_t ppid;            /* its parent at write time */
	uint64_t rate;            /* sampling rate in bytes (1: every allocation, 0: off) */
	uint64_t start_ns;        /* CLOCK_REALTIME when profiling started (or at fork, in a child) */
	uint64_t end_ns;          /* CLOCK_REALTIME when the snapshot was taken */
	uint32_t max_depth;       /* stack depth limit in force */
	uint32_t seq;             /* snapshot number (0: final at exit) */
	uint64_t flags;           /* MP_SNAP_F_* */
};

enum {
	MP_SNAP_F_FINAL = 1u << 0,      /* taken at process exit */
	MP_SNAP_F_TRUNCATED = 1u << 1,  /* a table filled up: some samples were dropped */
	MP_SNAP_F_FORKED = 1u << 2,     /* written by a forked child */
};

struct mp_snap_section {
	uint32_t type;            /* enum mp_snap_section_type */
	uint32_t reserved;        /* 0 */
	uint64_t size;            /* payload bytes, padding not included */
};

enum mp_snap_section_type {
	/* Text of /proc/self/maps at snapshot time, not NUL-terminated. */
	MP_SNAP_MAPS = 1,
	/* readlink("/proc/self/exe"), not NUL-terminated. */
	MP_SNAP_EXE = 2,
	/*
	 * Stack table: a sequence of records
	 *   uint32_t id;      1, 2, 3, ... in order, unique
	 *   uint32_t depth;   number of frames, 0 .. header.max_depth
	 *   uint64_t pc[depth];
	 * pc[0] is the innermost frame of the program (the caller of malloc);
	 * the shim's own frames are already removed.  Every pc is a return
	 * address as the unwinder reported it: the reader subtracts 1 to get an
	 * address inside the call instruction for symbolization.
	 */
	MP_SNAP_STACKS = 3,
	/* Array of struct mp_snap_heap_rec, one per (stack, size) bucket. */
	MP_SNAP_HEAP = 4,
	/* Array of struct mp_snap_kv: allocator and shim statistics. */
	MP_SNAP_STATS = 5,
	/* Array of struct mp_snap_leak_rec: the leak scan at exit (leak=1). */
	MP_SNAP_LEAKS = 16,
	/* Array of struct mp_snap_res_rec: live resources (file descriptors). */
	MP_SNAP_RESOURCES = 17,
	/*
	 * Code unloaded (dlclose) before the snapshot, one record per library
	 * in the order they were unloaded:
	 *   struct mp_snap_unload_rec
	 *   char text[text_len]: its mappings as /proc/self/maps would have
	 *       shown them (one line per loaded segment, file-backed part)
	 *   zero padding up to a multiple of 8
	 * Its addresses are in stacks 1..last_stack only: the stack table never
	 * gives a later stack the id of one holding an address of unloaded
	 * code (sample/stacks.h, mp_prof_unmapped), so a stack with id s and
	 * an address a belongs to the record covering a with the smallest
	 * last_stack >= s, or, when there is none, to the maps of MP_SNAP_MAPS
	 * (a range can be reused by code loaded later).
	 */
	MP_SNAP_UNLOADED = 18,
	/* 19: reserved for the same owner. */
	/*
	 * The largest the sampled heap in use has been so far, and what was in
	 * use then: struct mp_snap_peak, then one struct mp_snap_peak_rec per
	 * MP_SNAP_HEAP record, in the same order (record i is heap record i's
	 * state at the peak).  Absent: no peak was tracked (the reader's peak
	 * is then unknown, not "the heap at the end").
	 */
	MP_SNAP_PEAK = 28,
	/*
	 * How long the sampled blocks that were freed lived: one struct
	 * mp_snap_life_rec per MP_SNAP_HEAP record, in the same order.
	 */
	MP_SNAP_LIFETIMES = 29,
	/*
	 * The name a program gave the snapshot (memprof_snapshot(3)): 1 to
	 * MP_SNAP_NAME_MAX bytes of [A-Za-z0-9_-], not NUL-terminated, not
	 * "s" followed by digits only (those are numbered profiles' names).
	 * In numbered snapshots only; the profiles' comment names it.
	 */
	MP_SNAP_NAME = 32,
	/* 33: reserved for the same owner. */
};

#define MP_SNAP_NAME_MAX 64

/* Whether name[0..n) is a valid MP_SNAP_NAME.  For both sides. */
static inline int mp_snap_name_ok(const char *name, unsigned long n)
{
	int digits_after_s = n >= 2 && name[0] == 's';

	if (n < 1 || n > MP_SNAP_NAME_MAX)
		return 0;
	for (unsigned long i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return 0;
		if (i > 0 && (c < '0' || c > '9'))
			digits_after_s = 0;
	}
	return !digits_after_s;
}

/*
 * One heap bucket: the sampled (unscaled) counts for blocks of one requested
 * size allocated from one stack.  Like Go's memory profile buckets, the key
 * is (stack, size), so the CLI can unbias with the exact block size:
 * a sample of a block of s bytes at rate R stands for 1/(1 - exp(-s/R))
 * blocks (see sample/sampler.c).
 */
struct mp_snap_heap_rec {
	uint32_t stack_id;        /* id in MP_SNAP_STACKS */
	uint32_t peak_mark;       /* the shim's own (sample/peak.c); readers ignore it */
	uint64_t size;            /* requested size of each block in bytes */
	uint64_t alloc_objects;   /* sampled allocations */
	uint64_t free_objects;    /* of those, freed before the snapshot */
};

/*
 * The peak (MP_SNAP_PEAK).  The in-use estimate is the sum, over the
 * sampled blocks in use, of the bytes each stands for: size / (1 -
 * exp(-size/rate)) rounded to an integer (size itself at rate 1, where it
 * is exact), the unbiasing the reader applies per record.  The peak is the
 * moment that sum was largest; ties keep the first such moment.
 *
 * The records are kept copy-on-write, so that tracking the peak costs one
 * compare per sampled event and never a copy of a table: every time the
 * heap starts to shrink from a new peak, `epoch` grows by one, and a heap
 * record that then changes for the first time saves its counts first, with
 * that epoch.  So:
 *   - a record whose epoch equals the header's holds its counts at the peak
 *     (the counts it had when the heap started to shrink from it);
 *   - any other record has not changed since the peak: its MP_SNAP_HEAP
 *     counts are the peak's;
 *   - with MP_SNAP_PEAK_F_NOW the heap is at its peak at snapshot time
 *     (it has not shrunk since it last grew past it): every record's
 *     MP_SNAP_HEAP counts are the peak's, whatever its epoch.
 * A record of a bucket created after the peak holds epoch == header epoch
 * and zero counts.  A record whose epoch is above the header's was saved at
 * a later peak, reached while the snapshot was being written (the records
 * are copied after the header): its counts are the nearest to the peak
 * there are, and readers take them as the peak's.  Invariants:
 * free_objects <= alloc_objects (the shim reads free_objects first);
 * size * alloc_objects fits in int64_t (size: the heap record's).  With
 * several threads an event that races the peak's capture may count on
 * either side of it: the counts are exact for a program that allocates
 * from one thread at a time.
 */
struct mp_snap_peak {
	uint64_t epoch;           /* >= 1 */
	uint64_t inuse;           /* the in-use estimate at the peak, bytes */
	uint64_t time_ns;         /* CLOCK_REALTIME when it was reached (0: nothing sampled yet) */
	uint64_t now;             /* the in-use estimate at snapshot time */
	uint64_t flags;           /* MP_SNAP_PEAK_F_* */
	uint64_t reserved;        /* 0 */
};

enum {
	MP_SNAP_PEAK_F_NOW = 1u << 0,   /* the heap is at its peak right now */
};

struct mp_snap_peak_rec {
	uint64_t epoch;           /* the epoch its counts were saved at */
	uint64_t alloc_objects;   /* the heap record's counts then */
	uint64_t free_objects;
};

/*
 * Lifetimes (MP_SNAP_LIFETIMES): freed[k] is how many of a heap record's
 * freed sampled blocks lived, from the allocation's return to the free's
 * call, less than mp_snap_life_bound_ns(k) (and at least the bound of
 * k - 1) for k < MP_SNAP_LIFE_CLASSES - 1; the last class holds those that
 * lived longer: decades from 10 us to 10 s (the shim measures in ticks of
 * 1024 TSC cycles or 1.024 us, sample/tag.h, so a lifetime is known to
 * within one tick).  Their sum is at most the
 * heap record's free_objects: blocks credited freed without a lifetime (a
 * sampled block the shim could not track, counted freed at once) make up
 * the rest.  The shim writes this section before MP_SNAP_HEAP, so frees
 * counted meanwhile keep the sum below; a reader trims any excess (a
 * realloc that failed, taken back while the snapshot was written) from the
 * longest classes.
 */
#define MP_SNAP_LIFE_CLASSES 8

/* The upper bound of lifetime class k < MP_SNAP_LIFE_CLASSES - 1: 10 us * 10^k. */
static inline uint64_t mp_snap_life_bound_ns(unsigned k)
{
	uint64_t b = 10000;
	while (k--)
		b *= 10;
	return b;
}

struct mp_snap_life_rec {
	uint64_t freed[MP_SNAP_LIFE_CLASSES];   /* sum <= the heap record's free_objects */
};

/*
 * How a heap profile names them: its samples carry a string label
 * MP_LIFE_LABEL whose value is class k's name (mp_snap_life_name), or
 * MP_LIFE_INUSE for blocks still in use when the snapshot was taken, or
 * MP_LIFE_UNKNOWN for freed blocks whose lifetime was not measured.
 */
#define MP_LIFE_LABEL "lifetime"
#define MP_LIFE_INUSE "in-use"
#define MP_LIFE_UNKNOWN "unknown"
static inline const char *mp_snap_life_name(unsigned k)
{
	static const char *const names[MP_SNAP_LIFE_CLASSES] = {
		"<10us", "10us-100us", "100us-1ms", "1ms-10ms",
		"10ms-100ms", "100ms-1s", "1s-10s", ">=10s",
	};
	return k < MP_SNAP_LIFE_CLASSES ? names[k] : MP_LIFE_UNKNOWN;
}

/* Header of one MP_SNAP_UNLOADED record. */
struct mp_snap_unload_rec {
	uint32_t last_stack;      /* stacks in the table when it was unloaded */
	uint32_t text_len;        /* bytes of maps text that follow, no NUL */
	uint32_t build_id_len;    /* bytes of build_id that hold its GNU build ID, 0..32 */
	uint32_t reserved;        /* 0 */
	uint8_t build_id[32];     /* as its note in memory had it */
};

/* Reachability classes of the leak scan (Valgrind's meanings).  Values
 * are kept: 4 was added later, so a reader that knows 1..3 only refuses
 * the snapshots of a newer shim rather than misreading them. */
enum mp_snap_leak_category {
	MP_LEAK_DEFINITE = 1,     /* no pointer to it anywhere */
	MP_LEAK_INDIRECT = 2,     /* pointed to only from lost blocks */
	MP_LEAK_REACHABLE = 3,    /* reachable from a root at exit, through start
				   * pointers (or interior ones Valgrind's heuristics
				   * take for start pointers) */
	MP_LEAK_POSSIBLE = 4,     /* reachable from a root only through a chain with
				   * an interior pointer: possibly lost */
};
#define MP_LEAK_CATEGORY_MAX MP_LEAK_POSSIBLE

/*
 * Live heap blocks at exit of one allocation stack and one class, as the
 * leak scan found them.  stack_id 0: blocks whose allocation was not
 * recorded (allocated before the shim could record it, or not sampled);
 * size is then 0 and bytes are usable bytes.
 */
struct mp_snap_leak_rec {
	uint32_t stack_id;        /* id in MP_SNAP_STACKS, or 0 */
	uint32_t category;        /* enum mp_snap_leak_category */
	uint64_t size;            /* requested size of each block (0: unknown) */
	uint64_t count;           /* blocks */
	uint64_t bytes;           /* their bytes */
};

/* Resource classes and kinds (MP_SNAP_RESOURCES). */
enum mp_snap_res_class {
	MP_RES_FD = 1,
	MP_RES_THREAD = 2,
	MP_RES_TIMER = 3,
};

enum mp_snap_timer_kind {
	MP_TIMER_DISARMED = 0,
	MP_TIMER_ARMED = 1,
	MP_TIMER_KINDS
};

enum mp_snap_thread_kind {
	MP_THREAD_RUNNING = 0,    /* still running */
	MP_THREAD_UNJOINED = 1,   /* ended, joinable, never joined */
	MP_THREAD_EXITED = 2,     /* memprof attach: ended while it was attached (whether
				   * joined is not known) */
	MP_THREAD_KINDS
};

enum mp_snap_fd_kind {
	MP_FD_OTHER = 0, MP_FD_FILE = 1, MP_FD_DIR = 2, MP_FD_SOCKET = 3, MP_FD_PIPE = 4,
	MP_FD_EVENTFD = 5, MP_FD_EPOLL = 6, MP_FD_TIMERFD = 7, MP_FD_SIGNALFD = 8,
	MP_FD_INOTIFY = 9, MP_FD_MEMFD = 10,
	MP_FD_KINDS
};

enum {
	MP_RES_F_INHERITED = 1u << 0,   /* open when the process started: not created here */
	MP_RES_F_CLOEXEC = 1u << 1,
	MP_RES_F_DETACHED = 1u << 2,    /* a thread that was detached */
	MP_RES_F_BEFORE_ATTACH = 1u << 3, /* memprof attach: there before it attached, its
					   * creation not seen (never in a shim's snapshot) */
};

/*
 * One live resource at snapshot time with the stack that created it (0: not
 * recorded, e.g. inherited): an open file descriptor (id: the fd; detail:
 * what it is at snapshot time, the kernel's path of a file,
 * "inet stream 127.0.0.1:80 <-> 10.0.0.2:4242" for a socket, "read end" of
 * a pipe, ...) or a thread (id: its kernel thread id; detail: "name
 * routine", the start routine's linker name after the last space, the name
 * possibly empty) or a POSIX timer (id: the timer_t; detail: "clock" or
 * "clock interval <N>ns").  detail is
 * NUL-terminated within the array.
 */
struct mp_snap_res_rec {
	uint32_t res_class;       /* enum mp_snap_res_class */
	uint32_t kind;            /* enum mp_snap_fd_kind */
	int64_t id;               /* the fd */
	uint32_t stack_id;        /* id in MP_SNAP_STACKS, or 0 */
	uint32_t flags;           /* MP_RES_F_* */
	char detail[104];
};

/* A named counter: NUL-padded ASCII name, value. */
struct mp_snap_kv {
	char name[24];
	uint64_t value;
};

#endif

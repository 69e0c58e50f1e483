/* SPDX-License-Identifier: MIT */
/*
 * Crash-safe tables: the part of the shim-CLI contract that lets `memprof
 * run` write a process's profile after any death, SIGKILL and the OOM
 * killer included.
 *
 * The shim keeps its profile tables in the snapshot record formats
 * (common/snapshot.h).  With shm=1 (memprof run sets it) each of those
 * tables lives in a memfd of its own, mapped by the shim at the table's
 * window (base/vmarea.h, mp_vm_area_share) and handed to the CLI over a
 * datagram socket, "<snapdir>/memprof.sock" (SCM_RIGHTS), then closed in the
 * target: the program's descriptor table never holds it (the memfd is made
 * and sent from the shim's private descriptor table, base/privfd.h).  A
 * window grows by mremap in place, so the memory the target maps is still
 * exactly what it uses (RLIMIT_AS, setrlimit).  A fork child copies every
 * table into memfds of its own and sends those; an exec starts over.
 *
 * One table of each process is the directory (struct mp_shm_meta, its
 * slot 0): the snapshot header's fields and, per table, the section type it
 * holds and where its valid bytes are.  When the process ends without its
 * exit snapshot the CLI builds that snapshot from the tables (cli/crash.c)
 * and the usual converter turns it into profiles.
 *
 * Torn records: every change to a table's records goes through a
 * sequence count with the range being changed (mp_shm_begin/end below,
 * base/shm.h): the count is odd while bytes [torn_off, torn_off +
 * torn_len) of the table change.  Writers of one table are serialized by
 * its owner's lock, so a table has at most one record in flight; appended
 * records lie beyond `used` until whole (used grows by a release store).
 * A process dies at an arbitrary instruction, but the CLI reads only after
 * it is gone, so it sees either an even count (every record whole) or an
 * odd one naming the record that may be torn: that record is skipped and
 * counted (MP_SNAP_DEATH's torn), never read.  Counters updated in place by
 * a single atomic add (heap buckets' alloc_objects and free_objects) are
 * never torn and need no count.
 *
 * Everything the CLI reads here is untrusted: the program may have
 * scribbled over it before dying (tests/fuzz/fuzz-shm.c).
 */
#ifndef MP_COMMON_SHM_H
#define MP_COMMON_SHM_H

#include <stdint.h>

#define MP_SHM_MAGIC "MPSHM\0\0\1"   /* 8 bytes */
#define MP_SHM_VERSION 1u
#define MP_SHM_MAX_TABLES 32u
/* The socket in the snapshot directory the CLI receives the memfds on. */
#define MP_SHM_SOCKET "memprof.sock"

/* Where a table's valid bytes are and which record may be torn. */
struct mp_shm_table {
	uint32_t section;        /* enum mp_snap_section_type it holds; 0: none */
	uint32_t seq;            /* odd: [torn_off, torn_off + torn_len) changing */
	uint64_t off;            /* valid bytes start here (a double buffer moves it) */
	uint64_t used;           /* valid bytes [off, off + used); release store */
	uint64_t torn_off;       /* the range being changed while seq is odd */
	uint64_t torn_len;
	uint64_t rec_size;       /* fixed record size, 0: variable (appends only),
				  * MP_SHM_REC_SWAP: a double buffer */
};

/*
 * A double buffer (the maps text): the writer fills the half that is not
 * valid, then, with the count odd and [torn_off, torn_off + torn_len) the
 * new valid range (whole already), stores off and used.  A reader that
 * finds the count odd takes the torn range as the valid one.
 */
#define MP_SHM_REC_SWAP UINT64_MAX

/* The directory: slot 0 of every process's tables. */
struct mp_shm_meta {
	char magic[8];           /* MP_SHM_MAGIC */
	uint32_t version;        /* MP_SHM_VERSION */
	uint32_t death_signal;   /* the fatal signal the shim saw, 0: none */
	uint64_t pid;            /* the process (updated at fork) */
	uint64_t ppid;
	uint64_t image;          /* random per process image: exec and fork change it */
	uint64_t rate;
	uint64_t start_ns;
	uint32_t max_depth;
	uint32_t exe_len;        /* bytes of exe */
	uint64_t flags;          /* MP_SNAP_F_FORKED, MP_SNAP_F_TRUNCATED, MP_SHM_F_EXEC */
	uint64_t death_ns;       /* CLOCK_REALTIME when the fatal signal came */
	char exe[4096];          /* readlink("/proc/self/exe"), no NUL needed */
	struct mp_shm_table tables[MP_SHM_MAX_TABLES];
};

/*
 * In the directory's flags: the image is inside execve (set before the
 * call, cleared when it fails).  Tables left with it set, and no new
 * image's tables for the pid, are of an image replaced by a program without
 * the shim: it did not die, and its last program has no profile.
 */
#define MP_SHM_F_EXEC (1ull << 63)

/*
 * Tables only the shared tables have (never a section of a snapshot): the
 * peak's state and its records (sample/peak.h), which the reader turns into
 * an MP_SNAP_PEAK section (header and records parallel to the heap's).
 */
enum {
	MP_SHM_PEAK_STATE = 0x70000001u,   /* one struct mp_shm_peak */
	MP_SHM_PEAK_RECS = 0x70000002u,    /* struct mp_snap_peak_rec per heap record */
};

/*
 * The peak's state, where the shim keeps it (each group on a cache line of
 * its own: the epoch is read on every sampled event, the estimate written).
 * Its time `tick` is CLOCK_REALTIME real0 + (tick - tick0) * ns_per_tick
 * (ns_per_tick: a double's bits; 0 while not measured yet, the ticks then
 * being the TSC's >> tick_shift).
 */
struct mp_shm_peak {
	uint64_t epoch;          /* >= 1 */
	uint64_t pad0[7];
	uint64_t now;            /* the in-use estimate */
	uint64_t inuse;          /* its largest value */
	uint64_t tick;           /* when it was reached (0: never) */
	uint64_t flags;          /* MP_SNAP_PEAK_F_* */
	uint64_t pad1[4];
	uint64_t tick0, real0, ns_per_tick;
	uint64_t tick_shift;     /* a tick is 2^tick_shift of the clock's units */
	uint64_t pad2[4];
};

/* Datagram kinds on the socket. */
enum {
	MP_SHM_MSG_TABLE = 1,    /* one memfd (SCM_RIGHTS): a table of a process image */
	MP_SHM_MSG_DONE = 2,     /* the image wrote its exit snapshot: tables not needed */
};

struct mp_shm_msg {
	uint32_t kind;           /* MP_SHM_MSG_* */
	uint32_t slot;           /* table slot, < MP_SHM_MAX_TABLES; 0: the directory */
	uint64_t pid;
	uint64_t image;          /* struct mp_shm_meta's image */
	uint64_t size;           /* the memfd's size (the table's window) */
};

/*
 * Section 30 of a snapshot the CLI built from the tables of a process that
 * ended without writing one (never written by the shim).
 */
#define MP_SNAP_DEATH 30
/* 31: reserved for the same owner. */

struct mp_snap_death {
	uint32_t signal;         /* the signal that ended it; 0: not known */
	uint32_t flags;          /* MP_DEATH_F_* */
	uint64_t torn;           /* records skipped: being changed at death */
};

enum {
	MP_DEATH_F_AT_SIGNAL = 1u << 0, /* the shim refreshed resources and maps at the
					 * fatal signal (a catchable one) */
	MP_DEATH_F_EXITED = 1u << 1,    /* it exited (status known) without its snapshot */
};

#endif

/* SPDX-License-Identifier: MIT */
/*
 * A module: one mapped ELF file loaded for symbolization (see module.h).
 *
 * Loading.  The file is reported to a Dwfl session of its own with
 * dwfl_report_elf() at the load bias of the mapping (a session per file
 * keeps garbage in the untrusted maps text from making modules overlap,
 * and lets a file fail alone).  libdwfl finds the symbols where they are:
 * .symtab of the file or of its separate debug file (build ID under
 * /usr/lib/debug/.build-id, .gnu_debuglink, debuginfod when
 * DEBUGINFOD_URLS is set), .dynsym, and MiniDebugInfo (.gnu_debugdata).
 * They are enumerated once (dwfl_module_getsym_info) into our own sorted
 * index (symindex.h), because dwfl_module_addrinfo() scans every symbol
 * on every call: O(addresses x symbols), 68% of a compile's profile.
 *
 * Load bias.  The kernel maps the page holding a PT_LOAD segment's p_offset
 * at the page holding its p_vaddr + bias; p_offset and p_vaddr are congruent
 * modulo the page size (ELF requires it), so for the segment whose file
 * bytes contain the mapping's file offset:
 *
 *     bias = start - offset - (p_vaddr - p_offset)
 *
 * (modular arithmetic).  ET_EXEC files have bias 0 and libdwfl ignores it.
 * Answers are kept by file address (address - bias), so the disk cache
 * holds across runs whatever the address space layout.
 *
 * Frames from DWARF come from dwarf.c, under the module's lock.
 *
 * Strings in answers point into libdw's data, into demangled or joined
 * copies the module owns, or into its mapped cache file: all live as long
 * as the module.
 */
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/grow.h"
#include "common/same-file.h"
#include "symbolize/debuginfo.h"
#include "symbolize/demangle.h"
#include "symbolize/dwopen.h"
#include "symbolize/module-int.h"
#include "symbolize/pages.h"
#include "symbolize/symcache.h"
#include "symbolize/symindex.h"

static char *debuginfo_path;   /* NULL: libdwfl's default search path */

static void release_locked(struct mp_module *m);

static const Dwfl_Callbacks offline_callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = mp_find_debuginfo,      /* debuginfod only with servers */
	.section_address = dwfl_offline_section_address,
	.debuginfo_path = &debuginfo_path,
};

/* ---- opening ---------------------------------------------------------------------- */

/*
 * The load bias of the ELF open on `fd` when its file offset `offset` is
 * mapped at `start`, and whether the file carries DWARF itself.  False when
 * no PT_LOAD segment holds that offset (not the file that was mapped).
 * Executable segments win over others.
 */
static bool inspect_elf(int fd, uint64_t start, uint64_t offset, uint64_t *ret_bias,
			bool *ret_has_debug)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	bool found = false, found_x = false;
	size_t phnum, shstrndx;

	if (!elf)
		return false;
	if (elf_kind(elf) != ELF_K_ELF || elf_getphdrnum(elf, &phnum) != 0)
		goto out;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		bool x;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		x = ph.p_flags & PF_X;
		/* The file bytes of the segment, from the page p_offset is in. */
		if (ph.p_filesz == 0 || ph.p_filesz > UINT64_MAX - ph.p_offset ||
		    offset < (ph.p_offset & ~(page - 1)) || offset >= ph.p_offset + ph.p_filesz ||
		    (found_x && !x))
			continue;
		*ret_bias = start - offset - (ph.p_vaddr - ph.p_offset);
		found = true;
		found_x = x;
	}
	*ret_has_debug = false;
	if (found && elf_getshdrstrndx(elf, &shstrndx) == 0) {
		Elf_Scn *scn = NULL;

		while ((scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;
			const char *name;

			if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS)
				continue;
			name = elf_strptr(elf, shstrndx, sh.sh_name);
			if (name && (strcmp(name, ".debug_info") == 0 ||
				     strcmp(name, ".zdebug_info") == 0)) {
				*ret_has_debug = true;
				break;
			}
		}
	}
out:
	elf_end(elf);
	return found;
}

static void hex(const unsigned char *b, int n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = 0;
}

/* Whether DWARF for build ID `bid` is likely on this machine without
 * looking further: a -dbgsym package's file, or debuginfod's client cache. */
static bool debug_file_known(const char *bid)
{
	const char *p, *home;
	char path[4096];

	if (strlen(bid) < 4)
		return false;
	snprintf(path, sizeof(path), "/usr/lib/debug/.build-id/%.2s/%s.debug", bid, bid + 2);
	if (access(path, R_OK) == 0)
		return true;
	if ((p = getenv("DEBUGINFOD_CACHE_PATH")) && *p)
		snprintf(path, sizeof(path), "%s/%s/debuginfo", p, bid);
	else if ((p = getenv("XDG_CACHE_HOME")) && *p)
		snprintf(path, sizeof(path), "%s/debuginfod_client/%s/debuginfo", p, bid);
	else if ((home = getenv("HOME")) && *home)
		snprintf(path, sizeof(path), "%s/.cache/debuginfod_client/%s/debuginfo", home, bid);
	else
		return false;
	return access(path, R_OK) == 0;
}

static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static struct mp_symcache_dir *cache_dir;

static void cache_init(void)
{
	cache_dir = mp_symcache_dir_open();
}

/* O_NONBLOCK: the names come from an untrusted file and might be FIFOs. */
#define OPEN_FLAGS (O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)

/* Open the file `name` as process `pid` sees it when pid > 0 (under the
 * process's root: a process in a container), else or failing that as we
 * do. */
static int open_named(const char *name, int pid)
{
	char path[4200];
	int fd;

	if (pid > 0 && (size_t)snprintf(path, sizeof(path), "/proc/%d/root%s", pid, name) <
			       sizeof(path)) {
		fd = open(path, OPEN_FLAGS);
		if (fd >= 0)
			return fd;
	}
	return open(name, OPEN_FLAGS);
}

/* Open the file of entry e: as process `pid` sees it when pid > 0 (the
 * very file it mapped, through its /proc map_files entry), else by its
 * name (open_named). */
static int open_mapped(const struct mp_maps_entry *e, int pid)
{
	char path[128];
	int fd;

	if (pid > 0) {
		snprintf(path, sizeof(path), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, pid,
			 e->start, e->end);
		fd = open(path, OPEN_FLAGS);
		if (fd >= 0)
			return fd;
	}
	return open_named(e->path, pid);
}

/* A libdwfl session with the file open on fd (taken over, also on
 * failure) reported at m->report_bias, in m->dwfl and m->mod.  Under the
 * lock (or before the module is shared). */
static bool report_locked(struct mp_module *m, int fd)
{
	void **userdata = NULL;

	m->dwfl = dwfl_begin(&offline_callbacks);
	if (!m->dwfl) {
		close(fd);
		return false;
	}
	dwfl_report_begin(m->dwfl);
	m->mod = dwfl_report_elf(m->dwfl, m->path, m->path, fd, m->report_bias, true);
	dwfl_report_end(m->dwfl, NULL, NULL);
	if (!m->mod) {
		close(fd);      /* not consumed on failure */
		dwfl_end(m->dwfl);
		m->dwfl = NULL;
		return false;
	}
	/* fd belongs to libdwfl now; our debug file search wants to know
	 * which file it is. */
	dwfl_module_info(m->mod, &userdata, NULL, NULL, NULL, NULL, NULL, NULL);
	if (userdata)
		*userdata = &m->file_id;
	return true;
}

/*
 * Descriptors.  A module keeps the file it opened first, so that loading
 * it again after a release reads the very file the process mapped whatever
 * happened to its name since; but only in the lower half of the descriptor
 * limit (RLIMIT_NOFILE, which memprof raises to the hard limit for itself,
 * cli/nofile.h), so that a program with more libraries than that, or a
 * limit of a few descriptors (`ulimit -n 16` sets the hard one too), leaves
 * room for the files being loaded, the disk cache and the profile
 * written: a python3 importing ssl and sqlite3 maps 25 files, and memprof
 * could not write its profile under `ulimit -n 20`.  A module without a
 * descriptor opens its file again by name and answers only when it is
 * the same file (device and inode) as the first time.
 */
static bool fd_keepable(int fd)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return true;
	return (rlim_t)fd < rl.rlim_cur / 2;
}

/* A descriptor of the module's file: a copy of the one it kept, else the
 * file opened again by name when it is still the one opened first; -1
 * when neither is possible.  Under the lock. */
static int reopen_locked(struct mp_module *m)
{
	struct stat st;
	int fd;

	if (m->fd >= 0)
		return fcntl(m->fd, F_DUPFD_CLOEXEC, 0);
	fd = open_named(m->path, m->pid);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || st.st_dev != m->file_id.dev || st.st_ino != m->file_id.ino) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The session again after a release (reopen_locked).  Under the lock. */
static bool reload_locked(struct mp_module *m)
{
	Dwarf_Addr b = 0;
	int fd;

	if (m->dwfl)
		return true;
	fd = reopen_locked(m);
	if (fd < 0)
		return false;
	if (!report_locked(m, fd))
		return false;
	if (!dwfl_module_getelf(m->mod, &b) || b != m->bias) {
		/* Not what it was: answer nothing rather than something else. */
		dwfl_end(m->dwfl);
		m->dwfl = NULL;
		m->mod = NULL;
		return false;
	}
	return true;
}

struct mp_module *mp_module_open(const struct mp_maps_entry *e, int pid, bool cache)
{
	const unsigned char *bits;
	struct mp_module *m;
	GElf_Addr vaddr;
	uint64_t bias;
	bool has_debug;
	struct stat st;
	int fd, n;

	if (e->deleted || e->path[0] != '/')
		return NULL;    /* gone, or [vdso], [vsyscall], ... */
	fd = open_mapped(e, pid);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		goto fail;
	/*
	 * Same file as the process mapped?  Only comparable on the same device:
	 * overlayfs, for one, shows another device (and inode) in maps than
	 * stat() does, and then we have to trust the name.
	 */
	if (major(st.st_dev) == e->dev_major && minor(st.st_dev) == e->dev_minor &&
	    (uint64_t)st.st_ino != e->inode)
		goto fail;
	if (!inspect_elf(fd, e->start, e->offset, &bias, &has_debug))
		goto fail;
	m = calloc(1, sizeof(*m));
	if (!m)
		goto fail;
	m->path = strdup(e->path);
	m->report_bias = bias;
	m->file_id = (struct mp_file_id){ st.st_dev, st.st_ino };
	m->st = st;
	/* A descriptor of our own, to load the file again after a release,
	 * when there is room for it (fd_keepable). */
	m->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (m->fd >= 0 && !fd_keepable(m->fd)) {
		close(m->fd);
		m->fd = -1;
	}
	m->pid = pid;
	if (!m->path || !report_locked(m, fd)) {
		if (m->fd >= 0)
			close(m->fd);
		free(m->path);
		free(m);
		return NULL;
	}
	pthread_mutex_init(&m->lock, NULL);
	m->refs = 1;
	m->start = e->start;
	m->limit = e->end;
	m->offset = e->offset;
	m->inode = e->inode;
	m->dev_major = e->dev_major;
	m->dev_minor = e->dev_minor;
	{
		Dwarf_Addr b = 0;

		/* The module's low address is the bias plus the lowest vaddr;
		 * the bias itself comes with the main ELF. */
		if (dwfl_module_getelf(m->mod, &b))
			m->bias = b;
		else
			m->bias = bias;
	}
	n = dwfl_module_build_id(m->mod, &bits, &vaddr);
	if (n > 0 && n <= 64)
		hex(bits, n, m->build_id);
	m->cache_wanted = cache;
	m->cache = cache && m->build_id[0];
	if (m->cache) {
		pthread_once(&cache_once, cache_init);
		/* An answer with DWARF found before beats a guess; a symbols-only
		 * file counts only while no debug file is known to exist and no
		 * debuginfod server might have one. */
		m->disk = mp_symcache_load(cache_dir, m->build_id, MP_SYMCACHE_KIND_DWARF);
		if (!m->disk && !has_debug && !debug_file_known(m->build_id) &&
		    !mp_debuginfod_servers())
			m->disk = mp_symcache_load(cache_dir, m->build_id, MP_SYMCACHE_KIND_SYMTAB);
	}
	/* Nothing is loaded until an answer is wanted (one the disk cache
	 * has needs nothing): at most one descriptor a file meanwhile. */
	release_locked(m);
	return m;
fail:
	close(fd);
	return NULL;
}

bool mp_module_matches(const struct mp_module *m, const struct mp_maps_entry *e)
{
	return m->start == e->start && m->limit == e->end && m->offset == e->offset &&
	       m->inode == e->inode && m->dev_major == e->dev_major &&
	       m->dev_minor == e->dev_minor && strcmp(m->path, e->path) == 0;
}

const char *mp_module_build_id(const struct mp_module *m)
{
	return m->build_id;
}

/*
 * Every module alive in the process, so that symbolizers made one after
 * another (one per snapshot, per process of a tree, the early one while
 * the program runs) share a file instead of loading it again: the same
 * mapping, or the same segment of the same file mapped elsewhere by
 * another process (mp_module_get_or_open).  reg_lock guards the list, every
 * reference count and the kept modules (mp_module_keep): those in the list
 * with no reference, `parked` their turn on park_clock.
 */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mp_module **reg;
static size_t nreg, cap_reg;
static size_t keep_max, nparked;
static uint64_t park_clock;

/* A reference taken on m, found in the list (a kept one in use again). */
static void ref_found_locked(struct mp_module *m)
{
	if (m->parked) {
		m->parked = 0;
		nparked--;
	}
	m->refs++;
}

static struct mp_module *reg_find_locked(const struct mp_maps_entry *e, bool cache)
{
	for (size_t i = 0; i < nreg; i++)
		if (reg[i]->cache_wanted == cache && mp_module_matches(reg[i], e))
			return reg[i];
	return NULL;
}

/* The same segment of the same file, mapped anywhere (not stale). */
static struct mp_module *reg_find_file_locked(const struct mp_maps_entry *e, bool cache)
{
	for (size_t i = 0; i < nreg; i++) {
		const struct mp_module *m = reg[i];

		if (m->cache_wanted == cache && !m->stale && m->offset == e->offset &&
		    m->limit - m->start == e->end - e->start && m->inode == e->inode &&
		    m->dev_major == e->dev_major && m->dev_minor == e->dev_minor &&
		    strcmp(m->path, e->path) == 0)
			return reg[i];
	}
	return NULL;
}

/* Whether m's file is still as it was opened: a file rewritten in place
 * keeps its inode, and the answers would be the old code's. */
static bool unchanged(const struct mp_module *m)
{
	struct stat st;

	return (m->fd >= 0 ? fstat(m->fd, &st) : stat(m->path, &st)) == 0 &&
	       mp_same_file(&st, &m->st);
}

struct mp_module *mp_module_get_or_open(const struct mp_maps_entry *e, int pid, bool cache,
					uint64_t *ret_bias)
{
	struct mp_module *m, *other;

	pthread_mutex_lock(&reg_lock);
	m = reg_find_locked(e, cache);
	if (m) {
		ref_found_locked(m);
		pthread_mutex_unlock(&reg_lock);
		*ret_bias = m->bias;
		return m;
	}
	m = reg_find_file_locked(e, cache);
	if (m)
		ref_found_locked(m);
	pthread_mutex_unlock(&reg_lock);
	if (m) {
		if (unchanged(m)) {
			/* The segment at e->start instead of m->start. */
			*ret_bias = m->bias + (e->start - m->start);
			return m;
		}
		pthread_mutex_lock(&reg_lock);
		m->stale = true;
		pthread_mutex_unlock(&reg_lock);
		mp_module_unref(m);
	}
	m = mp_module_open(e, pid, cache);     /* slow: outside the lock */
	if (!m)
		return NULL;
	pthread_mutex_lock(&reg_lock);
	other = reg_find_locked(e, cache);
	if (other) {
		ref_found_locked(other);
	} else if (MP_GROW(reg, nreg + 1, cap_reg) == 0) {
		reg[nreg++] = m;
		m->registered = true;
	}
	pthread_mutex_unlock(&reg_lock);
	if (other) {
		mp_module_unref(m);
		*ret_bias = other->bias;
		return other;
	}
	*ret_bias = m->bias;
	return m;
}

void mp_module_ref(struct mp_module *m)
{
	pthread_mutex_lock(&reg_lock);
	m->refs++;
	pthread_mutex_unlock(&reg_lock);
}

static void save(struct mp_module *m)
{
	struct mp_symcache_entry *e;
	size_t n = 0;

	/* (m->dwarf says what the answers were made with once loaded) */
	if (!m->cache || !m->nanswers || !cache_dir || !m->loads)
		return;
	e = malloc(m->nanswers * sizeof(*e));
	if (!e)
		return;
	for (size_t i = 0; i < m->nanswers; i++)
		e[n++] = (struct mp_symcache_entry){
			m->answers[i].fa, (enum mp_sym_source)m->answers[i].source,
			m->answers[i].frames, m->answers[i].nframes
		};
	/* A failure to write leaves the cache as it was: nothing to report. */
	(void)mp_symcache_store(cache_dir, m->build_id,
				m->dwarf == YES ? MP_SYMCACHE_KIND_DWARF : MP_SYMCACHE_KIND_SYMTAB, e, n);
	free(e);
}

/* Free what is loaded (libdwfl's session, libdw's data, our indexes),
 * keeping the answers and the pool they point to.  Under the lock, or
 * when no other thread can use the module. */
static void release_locked(struct mp_module *m)
{
	for (size_t i = 0; i < m->cap_memo; i++)
		free(m->memo[i].value);
	free(m->memo);
	m->memo = NULL;
	m->nmemo = m->cap_memo = 0;
	for (size_t i = 0; m->demangled && i < m->nsyms; i++)
		if (m->demangled[i] && m->demangled[i] != m->symname[i])
			free((char *)m->demangled[i]);
	free(m->demangled);
	free(m->symname);
	free(m->symframe);
	m->demangled = m->symname = NULL;
	m->symframe = NULL;
	m->nsyms = 0;
	mp_symindex_free(m->index);
	m->index = NULL;
	mp_dwarf_done(m);
	free(m->own_units);
	m->own_units = NULL;
	m->own_nunits = 0;
	mp_dwopen_close(m->own);
	m->own = NULL;
	m->dw = NULL;
	if (m->dwfl)
		dwfl_end(m->dwfl);
	m->dwfl = NULL;
	m->mod = NULL;
	__atomic_store_n(&m->prepared, 0, __ATOMIC_RELEASE);
}

void mp_module_release(struct mp_module *m)
{
	pthread_mutex_lock(&m->lock);
	release_locked(m);
	pthread_mutex_unlock(&m->lock);
}

/* Store m's new answers and free it: no reference left, out of the list. */
static void destroy(struct mp_module *m)
{
	save(m);
	release_locked(m);
	for (struct arena_block *b = m->arena.head, *next; b; b = next) {
		next = b->next;
		free(b);
	}
	free(m->answers);
	free(m->disk_frames);
	free(m->slots);
	mp_symcache_unload(m->disk);
	mp_strpool_done(&m->pool);
	if (m->fd >= 0)
		close(m->fd);
	pthread_mutex_destroy(&m->lock);
	free(m->path);
	free(m);
}

static void unlist_locked(struct mp_module *m)
{
	for (size_t i = 0; i < nreg; i++) {
		if (reg[i] == m) {
			reg[i] = reg[--nreg];
			break;
		}
	}
	m->registered = false;
}

/* The kept module dropped longest ago, taken out of the list (NULL: none
 * beyond keep_max). */
static struct mp_module *evict_locked(void)
{
	struct mp_module *oldest = NULL;

	if (nparked <= keep_max)
		return NULL;
	for (size_t i = 0; i < nreg; i++)
		if (reg[i]->parked && (!oldest || reg[i]->parked < oldest->parked))
			oldest = reg[i];
	if (oldest) {
		oldest->parked = 0;
		nparked--;
		unlist_locked(oldest);
	}
	return oldest;
}

void mp_module_unref(struct mp_module *m)
{
	struct mp_module *gone = NULL;
	bool last;

	if (!m)
		return;
	pthread_mutex_lock(&reg_lock);
	last = --m->refs == 0;
	if (last && m->registered && keep_max && !m->stale) {
		/* Kept: what is loaded goes first, the answers stay.  The
		 * reference held meanwhile keeps it from being evicted under
		 * the release; another symbolizer may still take it (release
		 * is safe under use, which loads again on demand). */
		m->refs = 1;
		pthread_mutex_unlock(&reg_lock);
		mp_module_release(m);
		pthread_mutex_lock(&reg_lock);
		if (--m->refs == 0) {
			m->parked = ++park_clock;
			nparked++;
			gone = evict_locked();   /* at most one: one more kept */
		}
		pthread_mutex_unlock(&reg_lock);
		if (gone)
			destroy(gone);
		return;
	}
	if (last && m->registered)
		unlist_locked(m);
	pthread_mutex_unlock(&reg_lock);
	if (last)
		destroy(m);
}

void mp_module_keep(size_t max)
{
	struct mp_module *gone;

	pthread_mutex_lock(&reg_lock);
	keep_max = max;
	pthread_mutex_unlock(&reg_lock);
	for (;;) {
		pthread_mutex_lock(&reg_lock);
		gone = evict_locked();
		pthread_mutex_unlock(&reg_lock);
		if (!gone)
			break;
		destroy(gone);
	}
}

/* ---- what is loaded, for the benchmark ------------------------------------------- */

static struct {
	pthread_mutex_t lock;
	struct mp_sym_stats st;
	struct mp_file_id *seen;    /* files counted */
	size_t nseen, cap;
} stats = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* The size of section sh: its data uncompressed (libdw inflates what it
 * reads when it opens the file; other sections may still be packed). */
static uint64_t section_size(Elf_Scn *scn, const GElf_Shdr *sh)
{
	GElf_Chdr ch;

	if ((sh->sh_flags & SHF_COMPRESSED) && gelf_getchdr(scn, &ch))
		return ch.ch_size;
	return sh->sh_size;
}

/* Bytes of the symbol table libdwfl reads symbols from in elf (.symtab,
 * else .dynsym) and of its string table. */
static uint64_t symtab_bytes(Elf *elf)
{
	Elf_Scn *scn = NULL, *dyn = NULL, *tab = NULL;
	GElf_Shdr sh;
	uint64_t n = 0;

	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type == SHT_SYMTAB && !tab)
			tab = scn;
		else if (sh.sh_type == SHT_DYNSYM && !dyn)
			dyn = scn;
	}
	if (!tab)
		tab = dyn;
	if (tab && gelf_getshdr(tab, &sh)) {
		Elf_Scn *str = elf_getscn(elf, sh.sh_link);
		GElf_Shdr ssh;

		n += section_size(tab, &sh);
		if (str && gelf_getshdr(str, &ssh) && ssh.sh_type != SHT_NOBITS)
			n += section_size(str, &ssh);
	}
	return n;
}

/* The DWARF sections of elf answers are read from, into st. */
static void dwarf_bytes(Elf *elf, struct mp_sym_stats *st)
{
	static const char *const used[] = {
		"info", "abbrev", "line", "line_str", "str", "str_offsets", "addr", "ranges",
		"rnglists", "aranges",
	};
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	if (!elf || elf_getshdrstrndx(elf, &shstrndx) != 0)
		return;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name, *what;
		bool is_used = false;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS ||
		    !(name = elf_strptr(elf, shstrndx, sh.sh_name)))
			continue;
		if (!(what = mp_dwarf_section_suffix(name)))
			continue;
		for (size_t i = 0; i < sizeof(used) / sizeof(used[0]); i++)
			is_used |= strcmp(what, used[i]) == 0;
		if (is_used)
			st->dwarf_bytes += section_size(scn, &sh);
	}
}

/* Count a load of m: its tables once per file. */
static void account(struct mp_module *m, uint64_t symtab, Dwarf *dw)
{
	struct mp_sym_stats add = { .symtab_bytes = symtab };

	pthread_mutex_lock(&stats.lock);
	stats.st.loads++;
	for (size_t i = 0; i < stats.nseen; i++) {
		if (stats.seen[i].dev == m->file_id.dev && stats.seen[i].ino == m->file_id.ino) {
			pthread_mutex_unlock(&stats.lock);
			return;
		}
	}
	if (MP_GROW(stats.seen, stats.nseen + 1, stats.cap) < 0) {
		pthread_mutex_unlock(&stats.lock);
		return;
	}
	stats.seen[stats.nseen++] = m->file_id;
	if (dw) {
		Dwarf *alt = dwarf_getalt(dw);

		dwarf_bytes(dwarf_getelf(dw), &add);
		if (alt)
			dwarf_bytes(dwarf_getelf(alt), &add);
	}
	stats.st.files++;
	stats.st.symtab_bytes += add.symtab_bytes;
	stats.st.dwarf_bytes += add.dwarf_bytes;
	pthread_mutex_unlock(&stats.lock);
}

void mp_symbolize_stats(struct mp_sym_stats *ret)
{
	pthread_mutex_lock(&stats.lock);
	*ret = stats.st;
	pthread_mutex_unlock(&stats.lock);
}

/* ---- the symbol index ---------------------------------------------------------------- */

static uint8_t bind_rank(int bind)
{
	switch (bind) {
	case STB_GLOBAL: return MP_SYMBIND_GLOBAL;
	case STB_WEAK: return MP_SYMBIND_WEAK;
	case STB_LOCAL: return MP_SYMBIND_LOCAL;
	default: return MP_SYMBIND_OTHER;
	}
}

/* Enumerate the symbols libdwfl chose for the module (with MiniDebugInfo's
 * as well) once, and index the ones that can name code.  Under the lock. */
static void build_index_locked(struct mp_module *m, uint64_t *ret_bytes)
{
	int total = dwfl_module_getsymtab(m->mod);
	struct mp_rawsym *raw = NULL;
	const char **names = NULL;
	Elf *elfs[4] = { NULL };
	size_t n = 0;

	if (total <= 1)
		return;
	raw = malloc((size_t)total * sizeof(*raw));
	names = malloc((size_t)total * sizeof(*names));
	if (!raw || !names)
		goto out;
	for (int i = 1; i < total; i++) {
		GElf_Sym sym;
		GElf_Addr addr;
		GElf_Word shndx;
		Elf *elf = NULL;
		Dwarf_Addr bias = 0;
		const char *name = dwfl_module_getsym_info(m->mod, i, &sym, &addr, &shndx, &elf, &bias);
		int type = GELF_ST_TYPE(sym.st_info);
		struct mp_rawsym *r = &raw[n];

		for (size_t k = 0; elf && k < 4; k++) {
			if (elfs[k] == elf)
				break;
			if (!elfs[k]) {
				elfs[k] = elf;
				*ret_bytes += symtab_bytes(elf);
				break;
			}
		}
		if (!name || !name[0] || shndx == SHN_UNDEF || type == STT_SECTION ||
		    type == STT_FILE || type == STT_TLS)
			continue;
		memset(r, 0, sizeof(*r));
		r->value = addr - m->bias;
		r->size = sym.st_size;
		r->order = (uint32_t)i;
		r->bind = bind_rank(GELF_ST_BIND(sym.st_info));
		r->absolute = shndx >= SHN_LORESERVE && shndx != SHN_XINDEX;
		if (!r->size && !r->absolute && elf) {
			GElf_Shdr sh;
			Elf_Scn *scn = elf_getscn(elf, shndx);

			if (scn && gelf_getshdr(scn, &sh)) {
				r->sec_lo = sh.sh_addr + bias - m->bias;
				r->sec_hi = r->sec_lo + sh.sh_size;
			}
		}
		names[n++] = name;
	}
	if (mp_symindex_build(raw, n, &m->index) < 0)
		goto out;
	m->demangled = calloc(n ? n : 1, sizeof(*m->demangled));
	m->symframe = calloc(n ? n : 1, sizeof(*m->symframe));
	if (!m->demangled || !m->symframe) {
		free(m->demangled);
		free(m->symframe);
		m->demangled = NULL;
		m->symframe = NULL;
		mp_symindex_free(m->index);
		m->index = NULL;
		goto out;
	}
	m->symname = names;
	names = NULL;
	m->nsyms = n;
out:
	free(raw);
	free(names);
}

/* The separate debug file's DWARF opened by dwopen.c when that applies
 * (compressed DWARF: less memory than libdw's own opening), or NULL.
 * libdwfl found the file when it looked for the symbol table. */
static Dwarf *open_own_locked(struct mp_module *m)
{
	const char *main_file = NULL, *debug_file = NULL;
	const unsigned char *bits;
	Dwarf_Addr dwbias = (Dwarf_Addr)-1;
	GElf_Addr vaddr;
	int n;

	dwfl_module_info(m->mod, NULL, NULL, NULL, &dwbias, NULL, &main_file, &debug_file);
	if (!debug_file || dwbias == (Dwarf_Addr)-1 || (main_file && strcmp(main_file, debug_file) == 0) ||
	    (n = dwfl_module_build_id(m->mod, &bits, &vaddr)) <= 0)
		return NULL;
	m->own = mp_dwopen(debug_file, bits, n);
	if (!m->own)
		return NULL;
	m->dwbias = dwbias;
	return mp_dwopen_dwarf(m->own);
}

/*
 * Give back the resident pages of libelf's mapping of the module's separate
 * debug file (pages.c) once its symbol table is indexed and its DWARF, if
 * libdwfl opened it, inflated: nothing reads them again but the names of
 * symbols answered.  (The file's own mapping is left as it is: when it
 * holds the symbol table, its names are what symbol-table answers read,
 * and reading them in again costs more than it saves.)
 */
static void give_back_debug_file_pages(struct mp_module *m)
{
	const char *main_file = NULL, *debug_file = NULL;
	struct mp_pages_file file;
	struct stat st;

	dwfl_module_info(m->mod, NULL, NULL, NULL, NULL, NULL, &main_file, &debug_file);
	if (!debug_file || (main_file && strcmp(main_file, debug_file) == 0) ||
	    stat(debug_file, &st) < 0 || (st.st_dev == m->file_id.dev && st.st_ino == m->file_id.ino))
		return;
	file = (struct mp_pages_file){ st.st_dev, st.st_ino, (uint64_t)st.st_size };
	mp_pages_give_back(&file, 1);
}

void mp_module_prepare(struct mp_module *m)
{
	Dwarf_Addr bias;

	if (__atomic_load_n(&m->prepared, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&m->lock);
	if (!m->prepared) {
		m->dwarf = NO;
		if (reload_locked(m)) {
			uint64_t symtab = 0;
			Dwarf *dw;

			build_index_locked(m, &symtab);
			dw = open_own_locked(m);
			if (!dw) {
				dw = dwfl_module_getdwarf(m->mod, &bias);
				m->dwbias = bias;
			}
			give_back_debug_file_pages(m);
			m->dw = dw;
			m->dwarf = dw ? YES : NO;
			m->loads++;
			account(m, symtab, dw);
		}
		__atomic_store_n(&m->prepared, 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&m->lock);
}

bool mp_module_has_dwarf(struct mp_module *m)
{
	mp_module_prepare(m);
	return m->dwarf == YES;
}

size_t mp_module_index_bytes(const struct mp_module *m)
{
	return m->index ? mp_symindex_bytes(m->index) + m->nsyms * 2 * sizeof(char *) : 0;
}

void mp_module_warm(struct mp_module *m)
{
	mp_module_prepare(m);
	if (m->dwarf != YES)
		return;
	pthread_mutex_lock(&m->lock);
	mp_dwarf_warm_locked(m);
	pthread_mutex_unlock(&m->lock);
}

/* ---- names ------------------------------------------------------------------------ */

static size_t memo_slot(const void *k1, const void *k2, size_t cap)
{
	uint64_t h = (uint64_t)(uintptr_t)k1 * 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)k2;

	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	return (size_t)(h >> 32) & (cap - 1);
}

/* The string memoized for (k1, k2), or NULL.  Under the lock. */
const char *mp_module_memo_get(const struct mp_module *m, const void *k1, const void *k2)
{
	if (!m->cap_memo)
		return NULL;
	for (size_t j = memo_slot(k1, k2, m->cap_memo); m->memo[j].value;
	     j = (j + 1) & (m->cap_memo - 1))
		if (m->memo[j].k1 == k1 && m->memo[j].k2 == k2)
			return m->memo[j].value;
	return NULL;
}

/* Keep `value` (malloc'd, taken over even on failure) for (k1, k2).  Under
 * the lock. */
const char *mp_module_memo_put(struct mp_module *m, const void *k1, const void *k2, char *value,
			       int *ret_err)
{
	size_t j;

	if ((m->nmemo + 1) * 2 > m->cap_memo) {
		size_t ncap = m->cap_memo ? 2 * m->cap_memo : 256;
		struct memo *n = calloc(ncap, sizeof(*n));

		if (!n) {
			free(value);
			*ret_err = -ENOMEM;
			return NULL;
		}
		for (size_t i = 0; i < m->cap_memo; i++) {
			if (!m->memo[i].value)
				continue;
			for (j = memo_slot(m->memo[i].k1, m->memo[i].k2, ncap); n[j].value;
			     j = (j + 1) & (ncap - 1))
				;
			n[j] = m->memo[i];
		}
		free(m->memo);
		m->memo = n;
		m->cap_memo = ncap;
	}
	for (j = memo_slot(k1, k2, m->cap_memo); m->memo[j].value; j = (j + 1) & (m->cap_memo - 1))
		;
	m->memo[j].k1 = k1;
	m->memo[j].k2 = k2;
	m->memo[j].value = value;
	m->nmemo++;
	return value;
}

/* Display name of a mangled C++ or Rust name (demangle.h): malloc'd, or
 * NULL (not mangled, or out of memory: *ret_err). */
static char *demangle_new(const char *name, int *ret_err)
{
	char *d = NULL;
	int r = mp_demangle(name, &d);

	if (r < 0)
		*ret_err = r;
	return r > 0 ? d : NULL;
}

/* Demangled form of a DWARF linkage name (owned by m); `name` itself
 * otherwise.  Under the lock. */
const char *mp_module_demangle_locked(struct mp_module *m, const char *name, int *ret_err)
{
	const char *done;
	char *d;

	if (!mp_demangle_candidate(name))
		return name;
	done = mp_module_memo_get(m, name, NULL);
	if (done)
		return done;
	d = demangle_new(name, ret_err);
	if (!d)
		return name;
	done = mp_module_memo_put(m, name, NULL, d, ret_err);
	return done ? done : name;
}

/* Demangled name of indexed symbol i, computed once by whichever thread
 * asks first (published with a compare-and-swap; no lock). */
static const char *sym_display(struct mp_module *m, size_t i, int *ret_err)
{
	const char *d = __atomic_load_n(&m->demangled[i], __ATOMIC_ACQUIRE);
	const char *want;
	const char *expected = NULL;
	char *made;
	int err = 0;

	if (d)
		return d;
	made = demangle_new(m->symname[i], &err);
	if (err) {
		*ret_err = err;
		return m->symname[i];
	}
	want = made ? made : m->symname[i];
	if (__atomic_compare_exchange_n(&m->demangled[i], &expected, want, false,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return want;
	free(made);
	return expected;
}

/* The indexed symbol naming file address fa, or -1. */
int64_t mp_module_sym_at(const struct mp_module *m, uint64_t fa)
{
	return m->index ? mp_symindex_lookup(m->index, fa) : -1;
}

/* ---- one address ------------------------------------------------------------------ */

struct mp_sym_frame *mp_frames_add(struct frames *f)
{
	if (MP_GROW(f->v, f->n + 1, f->cap) < 0) {
		f->err = -ENOMEM;
		return NULL;
	}
	memset(&f->v[f->n], 0, sizeof(f->v[0]));
	return &f->v[f->n++];
}

/* The one frame of indexed symbol i, in the pool: made under the lock by
 * the first thread that asks, then read without it.  NULL: out of
 * memory. */
static const struct mp_sym_frame *sym_frame(struct mp_module *m, size_t i, int *ret_err)
{
	const struct mp_sym_frame *f = __atomic_load_n(&m->symframe[i], __ATOMIC_ACQUIRE);
	struct mp_sym_frame *nf;
	const char *display;

	if (f)
		return f;
	display = sym_display(m, i, ret_err);
	pthread_mutex_lock(&m->lock);
	f = m->symframe[i];
	if (!f && (nf = mp_strpool_alloc(&m->pool, sizeof(*nf)))) {
		/* A symbol's names are its own: copied, not looked up. */
		nf->system_name = mp_strpool_copy(&m->pool, m->symname[i]);
		nf->function = display == m->symname[i] ? nf->system_name
							: mp_strpool_copy(&m->pool, display);
		nf->file = NULL;
		nf->line = nf->start_line = 0;
		if (nf->system_name && nf->function) {
			__atomic_store_n(&m->symframe[i], nf, __ATOMIC_RELEASE);
			f = nf;
		}
	}
	pthread_mutex_unlock(&m->lock);
	if (!f)
		*ret_err = -ENOMEM;
	return f;
}

/* Point the strings of frames f into the pool (the answer outlives
 * libdw's data).  Under the lock. */
static void pool_frames_locked(struct mp_module *m, struct frames *f)
{
	for (size_t k = 0; k < f->n && !f->err; k++) {
		struct mp_sym_frame *fr = &f->v[k];

		fr->function = mp_strpool_intern(&m->pool, fr->function);
		fr->system_name = mp_strpool_intern(&m->pool, fr->system_name);
		if (!fr->function || !fr->system_name)
			f->err = -ENOMEM;
		if (fr->file && !(fr->file = mp_strpool_intern(&m->pool, fr->file)))
			f->err = -ENOMEM;
	}
}

int mp_module_compute(struct mp_module *m, uint64_t fa, struct mp_module_answer *ret)
{
	struct frames f = { 0 };

	mp_module_prepare(m);
	if (m->dwarf == YES) {
		const char *file = NULL;
		int lineno = 0;
		bool found;

		pthread_mutex_lock(&m->lock);
		found = mp_dwarf_frames_locked(m, fa + m->bias, &f);
		if (!found && !f.err)
			mp_dwarf_line_locked(m, fa + m->bias, &file, &lineno, &f.err);
		if (!found && !f.err && file && lineno > 0) {
			/* A line but no function DIE: the symbol's name with the
			 * line table's place, as addr2line shows it. */
			int64_t s = mp_module_sym_at(m, fa);

			if (s >= 0 && mp_frames_add(&f)) {
				const char *display = m->demangled[s];

				if (!display) {
					char *d = demangle_new(m->symname[s], &f.err);

					display = d ? mp_strpool_intern(&m->pool, d) : m->symname[s];
					free(d);
				}
				f.v[0].system_name = m->symname[s];
				f.v[0].function = display ? display : m->symname[s];
				f.v[0].file = file;
				f.v[0].line = lineno;
			}
		}
		if (f.n)
			pool_frames_locked(m, &f);
		pthread_mutex_unlock(&m->lock);
		if (f.err) {
			free(f.v);
			return f.err;
		}
		if (f.n) {
			*ret = (struct mp_module_answer){ f.v, (uint32_t)f.n,
							  found ? MP_SYM_DWARF : MP_SYM_SYMTAB, 1 };
			return 0;
		}
		free(f.v);
	}
	{
		int64_t s = mp_module_sym_at(m, fa);
		const struct mp_sym_frame *fr = NULL;
		int err = 0;

		if (s >= 0 && !(fr = sym_frame(m, (size_t)s, &err)))
			return err;
		*ret = (struct mp_module_answer){ fr, fr ? 1 : 0, fr ? MP_SYM_SYMTAB : MP_SYM_NONE, 0 };
	}
	return 0;
}

void mp_module_answer_free(struct mp_module_answer *a)
{
	if (a->owned)
		free((void *)a->frames);
	a->owned = 0;
}

/* ---- the answer table ------------------------------------------------------------- */

/* n bytes (8-aligned) that live as long as the module, or NULL. */
static void *arena_alloc(struct arena *a, size_t n)
{
	n = (n + 7) & ~(size_t)7;
	if (a->used + n > a->cap) {
		size_t cap = n > 65536 - 64 ? n : 65536 - 64;
		struct arena_block *b = malloc(sizeof(*b) + cap);

		if (!b)
			return NULL;
		b->next = a->head;
		a->head = b;
		a->used = 0;
		a->cap = cap;
	}
	a->used += n;
	return (char *)(a->head + 1) + a->used - n;
}

static size_t slot_of(uint64_t fa, size_t nslots)
{
	fa ^= fa >> 31;
	fa *= 0x9e3779b97f4a7c15ull;
	return (size_t)(fa >> 20) & (nslots - 1);
}

static const struct answer_entry *table_get(const struct mp_module *m, uint64_t fa)
{
	if (!m->nslots)
		return NULL;
	for (size_t j = slot_of(fa, m->nslots); m->slots[j]; j = (j + 1) & (m->nslots - 1))
		if (m->answers[m->slots[j] - 1].fa == fa)
			return &m->answers[m->slots[j] - 1];
	return NULL;
}

bool mp_module_get(struct mp_module *m, uint64_t fa, struct mp_module_answer *ret)
{
	const struct answer_entry *e = table_get(m, fa);
	const struct mp_symcache_view *v;
	enum mp_sym_source src;
	size_t first, n;
	int64_t i;

	if (e) {
		*ret = (struct mp_module_answer){ e->frames, e->nframes, e->source, 0 };
		return true;
	}
	if (!m->disk)
		return false;
	v = mp_symcache_file_view(m->disk);
	i = mp_symcache_index(v, fa);
	if (i < 0)
		return false;
	if (!m->disk_frames) {
		/* Untouched pages cost nothing: only frames used are decoded. */
		m->disk_frames = calloc(v->nframes ? v->nframes : 1, sizeof(*m->disk_frames));
		if (!m->disk_frames)
			return false;
	}
	first = v->recs[i].first_frame;
	n = mp_symcache_nframes(v, (size_t)i);
	if (n && !m->disk_frames[first].function)
		mp_symcache_decode(v, (size_t)i, &src, &m->disk_frames[first]);
	*ret = (struct mp_module_answer){ n ? &m->disk_frames[first] : NULL, (uint32_t)n,
					  v->recs[i].source, 0 };
	return true;
}

int mp_module_put(struct mp_module *m, uint64_t fa, struct mp_module_answer *a,
		  struct mp_module_answer *ret)
{
	const struct mp_sym_frame *frames = a->frames;
	size_t j;

	if (a->owned && a->nframes) {
		struct mp_sym_frame *copy = arena_alloc(&m->arena, a->nframes * sizeof(*copy));

		if (!copy)
			goto fail;
		memcpy(copy, a->frames, a->nframes * sizeof(*copy));
		frames = copy;
	}
	mp_module_answer_free(a);
	if ((m->nanswers + 1) * 2 > m->nslots) {
		size_t n = m->nslots ? 2 * m->nslots : 1024;
		uint32_t *slots;

		if (n > UINT32_MAX || !(slots = calloc(n, sizeof(*slots))))
			return -ENOMEM;
		for (size_t i = 0; i < m->nanswers; i++) {
			for (j = slot_of(m->answers[i].fa, n); slots[j]; j = (j + 1) & (n - 1))
				;
			slots[j] = (uint32_t)i + 1;
		}
		free(m->slots);
		m->slots = slots;
		m->nslots = n;
	}
	if (MP_GROW(m->answers, m->nanswers + 1, m->cap_answers) < 0)
		return -ENOMEM;
	m->answers[m->nanswers] = (struct answer_entry){ fa, frames, a->nframes, a->source };
	for (j = slot_of(fa, m->nslots); m->slots[j]; j = (j + 1) & (m->nslots - 1))
		;
	m->slots[j] = (uint32_t)++m->nanswers;
	*ret = (struct mp_module_answer){ frames, a->nframes, a->source, 0 };
	return 0;
fail:
	mp_module_answer_free(a);
	return -ENOMEM;
}

/* SPDX-License-Identifier: MIT */
/* elfutils' unwinder over a copied stack (see dwunwind.h). */
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpf/dwunwind.h"

/* DWARF register numbers on x86-64 (the psABI's table). */
enum { DW_RBX = 3, DW_RBP = 6, DW_RSP = 7, DW_R12 = 12, DW_RIP = 16 };

/* The one "thread" every walk unwinds (libdwfl wants a thread id). */
#define WALK_TID 1

struct mp_dwunwind {
	Dwfl *dwfl;
	bool attached;               /* dwfl_attach_state done (once per Dwfl) */
	size_t nmods;
	/* the walk in progress */
	const struct mp_bpf_regs *regs;
	const uint8_t *stack;
	size_t len;
	uint64_t *pcs;
	uint32_t n, max;
};

static const Dwfl_Callbacks module_callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.section_address = dwfl_offline_section_address,
};

static pid_t next_thread(Dwfl *dwfl, void *arg, void **thread_argp)
{
	(void)dwfl;
	if (*thread_argp)
		return 0;                /* one thread only */
	*thread_argp = arg;
	return WALK_TID;
}

/* The stack is all the memory a walk reads: CFA expressions and saved
 * registers point into it. */
static bool memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg)
{
	struct mp_dwunwind *d = arg;
	uint64_t base = d->regs->sp;

	(void)dwfl;
	if (addr < base || addr - base > d->len || d->len - (addr - base) < 8)
		return false;
	memcpy(result, d->stack + (addr - base), 8);
	return true;
}

static bool set_initial_registers(Dwfl_Thread *thread, void *arg)
{
	struct mp_dwunwind *d = arg;
	const struct mp_bpf_regs *r = d->regs;
	Dwarf_Word bx = r->bx, bp_sp[2] = { r->bp, r->sp },
		   hi[4] = { r->r12, r->r13, r->r14, r->r15 }, ip = r->ip;

	return dwfl_thread_state_registers(thread, DW_RBX, 1, &bx) &&
	       dwfl_thread_state_registers(thread, DW_RBP, 2, bp_sp) &&
	       dwfl_thread_state_registers(thread, DW_R12, 4, hi) &&
	       dwfl_thread_state_registers(thread, DW_RIP, 1, &ip);
}

static const Dwfl_Thread_Callbacks thread_callbacks = {
	.next_thread = next_thread,
	.memory_read = memory_read,
	.set_initial_registers = set_initial_registers,
};

struct mp_dwunwind *mp_dwunwind_new(void)
{
	struct mp_dwunwind *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->dwfl = dwfl_begin(&module_callbacks);
	if (!d->dwfl) {
		free(d);
		return NULL;
	}
	dwfl_report_begin(d->dwfl);
	return d;
}

void mp_dwunwind_free(struct mp_dwunwind *d)
{
	if (!d)
		return;
	if (d->dwfl)
		dwfl_end(d->dwfl);
	free(d);
}

void mp_dwunwind_reset(struct mp_dwunwind *d)
{
	Dwfl *n = dwfl_begin(&module_callbacks);

	if (!n)
		return;                  /* keep the old modules: better than none */
	dwfl_end(d->dwfl);
	d->dwfl = n;
	d->attached = false;
	d->nmods = 0;
	dwfl_report_begin(d->dwfl);
}

int mp_dwunwind_add(struct mp_dwunwind *d, const char *name, const char *path, uint64_t bias)
{
	int fd;

	if (d->attached)
		return -EBUSY;           /* reset first */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return -errno;
	/* The Dwfl owns fd from here, whether it takes the module or not. */
	if (!dwfl_report_elf(d->dwfl, name, path, fd, bias, true))
		return -EBADMSG;
	d->nmods++;
	return 0;
}

static int on_frame(Dwfl_Frame *frame, void *arg)
{
	struct mp_dwunwind *d = arg;
	Dwarf_Addr pc;
	bool activation;

	if (!dwfl_frame_pc(frame, &pc, &activation))
		return DWARF_CB_ABORT;
	if (activation)
		return DWARF_CB_OK;      /* the registers' own frame: not a return address */
	if (!pc || d->n == d->max)
		return DWARF_CB_ABORT;
	d->pcs[d->n++] = pc;
	return DWARF_CB_OK;
}

uint32_t mp_dwunwind_walk(struct mp_dwunwind *d, const struct mp_bpf_regs *r,
			  const uint8_t *stack, size_t len, uint64_t *pcs, uint32_t max)
{
	if (!d->nmods)
		return 0;
	if (!d->attached) {
		dwfl_report_end(d->dwfl, NULL, NULL);
		if (!dwfl_attach_state(d->dwfl, NULL, WALK_TID, &thread_callbacks, d))
			return 0;
		d->attached = true;
	}
	d->regs = r;
	d->stack = stack;
	d->len = len;
	d->pcs = pcs;
	d->n = 0;
	d->max = max;
	/* Its end (or an error: a frame it cannot unwind) ends the walk. */
	(void)dwfl_getthread_frames(d->dwfl, WALK_TID, on_frame, d);
	return d->n;
}

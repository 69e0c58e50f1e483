/* SPDX-License-Identifier: MIT */
/*
 * The CLI's reader of a dead process's shared tables (common/shm.h): a
 * raw snapshot built from them, as the shim would have written at exit,
 * with an MP_SNAP_DEATH section.  Everything read is untrusted (the
 * program may have written over its tables before it died): every offset
 * and count is checked, records torn by the death are skipped and
 * counted, and what comes out always parses (tests/fuzz/fuzz-shm.c).
 * CLI only.
 */
#ifndef MP_COMMON_SHM_READ_H
#define MP_COMMON_SHM_READ_H

#include <stddef.h>
#include <stdint.h>

#include "common/shm.h"

/* A table's bytes as the CLI mapped them (data NULL: not received). */
struct mp_shm_view {
	const uint8_t *data;
	size_t size;
};

/*
 * The snapshot of the process whose tables are views[0..MP_SHM_MAX_TABLES)
 * (views[0]: the directory).  `signal`: the signal that ended it as its
 * parent saw it (0: not known; the directory's death_signal is used then),
 * `flags`: MP_DEATH_F_* the caller knows, `now_ns`: the end time when the
 * directory has none.  0 with *ret_buf (malloc'd, *ret_len bytes) and
 * *ret_torn (records skipped), or -EBADMSG (no usable directory, reason in
 * *ret_err when not NULL, malloc'd), -ENOMEM.
 */
int mp_shm_build(const struct mp_shm_view *views, uint32_t signal, uint32_t flags,
		 uint64_t now_ns, uint8_t **ret_buf, size_t *ret_len, uint64_t *ret_torn,
		 char **ret_err);

#endif

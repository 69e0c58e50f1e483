/* SPDX-License-Identifier: MIT */
/*
 * `memprof run --leak-check` over a process tree (leakcheck.h): the
 * suppressions, the report of each process's final snapshot, the report
 * files.  CLI only.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/leakcheck.h"
#include "cli/profiles.h"
#include "common/file-write.h"
#include "common/grow.h"
#include "common/snapshot-read.h"
#include "convert/leaks-ci.h"
#include "convert/leaks.h"

int mp_leakcheck_load_suppressions(struct mp_leakcheck *lc, const char *path)
{
	uint8_t *text = NULL;
	char *err = NULL;
	size_t len = 0;
	int r = mp_cli_read_whole(path, SIZE_MAX, &text, &len);

	if (r == -ENOMEM) {
		fputs("memprof: out of memory\n", stderr);
		return -1;
	}
	if (r < 0) {
		fprintf(stderr, "memprof: cannot read suppressions '%s': %s\n", path, strerror(-r));
		return -1;
	}
	r = mp_supp_parse((const char *)text, len, &lc->supp, &err);
	free(text);
	if (r < 0) {
		fprintf(stderr, "memprof: bad suppressions '%s': %s\n", path,
			err ? err : strerror(-r));
		free(err);
		return -1;
	}
	return 0;
}

int mp_leakcheck_write(const struct mp_leakcheck *lc, const char *path,
		       enum mp_leak_format fmt)
{
	struct mp_leak_ci ci = { .fail_on = lc->fail_on, .version = MP_VERSION,
				 .unchecked = lc->unchecked };
	struct mp_file_stream w;
	int r;

	/* Without a working directory, paths stay absolute. */
	if (fmt != MP_LEAKFMT_JSON && mp_leak_ci_from_cwd(&ci) < 0)
		fprintf(stderr, "memprof: cannot get the working directory: %s, source paths in "
			"'%s' stay absolute\n", strerror(errno), path);

	r = mp_file_stream_open(path, &w);
	if (r < 0) {
		fprintf(stderr, "memprof: cannot write leak report '%s': %s\n", path, strerror(-r));
		mp_leak_ci_done(&ci);
		return -1;
	}
	r = mp_leaks_write(w.f, fmt, lc->reports, lc->n, &ci);
	mp_leak_ci_done(&ci);
	r = mp_file_stream_end(&w, r);
	if (r < 0)
		fprintf(stderr, "memprof: cannot write leak report '%s': %s\n", path, strerror(-r));
	return r;
}

void mp_leakcheck_add(struct mp_leakcheck *lc, const struct mp_snap *sn,
		      struct mp_symbolizer *sym)
{
	struct mp_leak_report *r = NULL;

	if (sn->header.seq != 0 || !(sn->header.flags & MP_SNAP_F_FINAL))
		return;
	if (sn->has_death && !sn->has_leaks) {
		/* Its profile was read from its tables after it died
		 * (common/shm.h): there is no process left to scan.  (One that
		 * exited with its scan done but could not write its snapshot
		 * left the result in a table: reported below.) */
		const char *abbrev = sn->death.signal ? sigabbrev_np((int)sn->death.signal) : NULL;
		fprintf(stderr, "memprof: no leak check for pid %" PRIu64 ": it %s%s%s, and a dead "
			"process's heap cannot be scanned (its heap profile is written)\n",
			sn->header.pid, sn->death.signal ? "was killed by SIG" : "ended without its exit snapshot",
			abbrev ? abbrev : "", sn->death.signal && !abbrev ? "NAL" : "");
		lc->unchecked++;
		return;
	}
	if (!sn->has_leaks) {
		fprintf(stderr, "memprof: no leak check for pid %" PRIu64 ": the shim could not "
			"run it (see its warning above)\n", sn->header.pid);
		lc->errors++;
		lc->unchecked++;
		return;
	}
	if (mp_leaks_build_with(sn, 0, sym, &r) < 0 || MP_GROW(lc->reports, lc->n + 1, lc->cap) < 0) {
		fputs("memprof: out of memory\n", stderr);
		mp_leaks_free(r);
		lc->errors++;
		return;
	}
	lc->reports[lc->n++] = r;
	mp_supp_apply(lc->supp, r);
	mp_leaks_print(stderr, r, lc->full);
	if (lc->gen_suppressions)
		mp_leaks_print_suppressions(stderr, r);
	if (mp_leaks_failing(r, lc->fail_on))
		lc->failing = true;
}

int mp_leakcheck_status(const struct mp_leakcheck *lc, int status, int error_exitcode)
{
	if (lc->errors && status == 0)
		status = 1;
	if (lc->failing && error_exitcode >= 0)
		status = error_exitcode;
	return status;
}

void mp_leakcheck_done(struct mp_leakcheck *lc)
{
	for (size_t i = 0; i < lc->n; i++)
		mp_leaks_free(lc->reports[i]);
	free(lc->reports);
	mp_supp_free(lc->supp);
	memset(lc, 0, sizeof(*lc));
}

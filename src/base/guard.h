/* SPDX-License-Identifier: MIT */
/*
 * The recursion guard: nonzero while the calling thread runs memprof's own
 * code, so that what that code reaches of the interposed functions (malloc
 * from dlsym or from libgcc's unwinder, open from a library we call, a
 * thread we create) is served as the program's would be but never recorded,
 * and never re-enters the recorder.  A depth: code that may run inside
 * another guarded section (fork handlers, the exit path, a snapshot) raises
 * and lowers it; a section that cannot nest sets it to 1 and back to 0.
 * The helper thread keeps it raised for good.
 *
 * Per thread (initial-exec TLS, zero in a new thread); any layer of the
 * target side may test it, in a signal handler too.
 */
#ifndef MP_BASE_GUARD_H
#define MP_BASE_GUARD_H

#include "base/compiler.h"

extern MP_TLS int mp_busy;

#endif

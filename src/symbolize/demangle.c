/* SPDX-License-Identifier: MIT */
/*
 * Demangling (see demangle.h): Rust through libiberty, C++ through
 * libstdc++.
 *
 * libiberty is linked statically (Debian ships libiberty.a only, built
 * position-independent); only rust-demangle.o and its character table
 * (safe-ctype.o) come in, since rust_demangle_callback is the one function
 * called.  rust-demangle.c carries the GCC linking exception ("unlimited
 * permission to link the compiled version of this file into combinations
 * with other programs").  The callback form is used rather than
 * rust_demangle(), which returns NULL both for "not Rust" and for a failed
 * realloc, and cannot be stopped: here out of memory is told apart, and a
 * name that prints too much is cut short (MAX_NAME).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libiberty/demangle.h>

#include "common/grow.h"
#include "symbolize/demangle.h"

/* libstdc++'s demangler (the Itanium C++ ABI's abi::__cxa_demangle). */
extern char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

/*
 * The longest display name kept, in bytes.  libiberty's v0 demangler
 * follows back-references every time it prints them, so a name of 150
 * bytes whose back-references point at back-references prints gigabytes
 * for minutes (found by tests/fuzz/fuzz-demangle.c; rustc-demangle stops
 * such names at 1,000,000 bytes).  It cannot be told to stop, and it
 * holds nothing of ours, so the callback stops it here: longjmp back, and
 * the name stays mangled.  The longest real name seen, in rustc's own
 * librustc_driver, demangles to 10,111 bytes; the fuzzer's name is cut
 * short after 2-3 ms (fuzz-demangle's -timeout checks that no name makes it
 * work long without printing).
 */
#define MAX_NAME (128 * 1024)

/* What the Rust demangler printed so far (on the heap: the fields change
 * between setjmp and longjmp, so they must not be locals). */
struct text {
	char *s;
	size_t len, cap;
	int err;                    /* -ENOMEM, -E2BIG: jumped out */
	jmp_buf out;
};

static void text_append(const char *p, size_t n, void *opaque)
{
	struct text *t = opaque;

	if (n > MAX_NAME - t->len) {
		t->err = -E2BIG;
		longjmp(t->out, 1);
	}
	if (MP_GROW(t->s, t->len + n + 1, t->cap) < 0) {
		t->err = -ENOMEM;
		longjmp(t->out, 1);
	}
	memcpy(t->s + t->len, p, n);
	t->len += n;
	t->s[t->len] = '\0';
}

/*
 * Whether v0 name may hold a binder (`for<'a, ...>`, the `G<base 62>_`
 * right after a fn type's `F` or a dyn type's `D`) counting at least as
 * many lifetimes as the name has bytes, which no valid name does
 * (rustc-demangle and LLVM refuse it).  libiberty loops over the count,
 * printing each lifetime, up to 2^64 times; while it skips output (an
 * impl's own path, the instantiating crate) the callback never runs to stop
 * it: 37 bytes took 18 s (found by tests/fuzz/fuzz-demangle.c).  Such
 * names stay mangled.  Any `FG` or `DG` counts, even inside an identifier
 * or a crate disambiguator: 6 of the 125,727 v0 names of cargo and
 * librustc_driver are refused for it.
 */
static bool v0_binder_too_big(const char *name)
{
	static const char b62[] =
		"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
	size_t len = strlen(name);

	for (const char *p = name; (p = strchr(p, 'G')) != NULL; p++) {
		uint64_t x = 0, count;
		const char *q;

		if (p == name || (p[-1] != 'F' && p[-1] != 'D'))
			continue;
		/* G_ is 1, G<x>_ is x + 2 (the v0 spec's base 62 numbers). */
		for (q = p + 1; *q && *q != '_' && x < len; q++) {
			const char *d = strchr(b62, *q);

			if (!d)
				break;
			x = x * 62 + (uint64_t)(d - b62);
		}
		count = q == p + 1 ? 1 : x + 2;
		if (count >= len && (*q == '_' || x >= len))
			return true;
	}
	return false;
}

/*
 * Rust (v0 or legacy): 1, 0 (not Rust, or too long), -ENOMEM.
 *
 * Jumping out of rust_demangle_callback skips only its own frames: it
 * holds no lock and no allocation then, except perhaps the buffer of a
 * Punycode-encoded identifier it is printing (print_ident mallocs one and
 * frees it after printing), which a name cut short there would leak: a few
 * bytes, for a name no compiler emits.
 */
static int demangle_rust(const char *name, char **ret_name)
{
	struct text *t;
	int r = 0;

	if (name[1] == 'R' && v0_binder_too_big(name))
		return 0;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	/* Options 0: no DMGL_VERBOSE (hash and disambiguators dropped), and the
	 * recursion limit stays on (no DMGL_NO_RECURSE_LIMIT). */
	if (setjmp(t->out) != 0) {
		r = t->err == -ENOMEM ? -ENOMEM : 0;   /* jumped out */
		goto out;
	}
	if (rust_demangle_callback(name, 0, text_append, t) && t->len > 0) {
		*ret_name = t->s;
		t->s = NULL;
		r = 1;
	}
out:
	free(t->s);
	free(t);
	return r;
}

/* C++: 1, 0 (not a valid C++ name), -ENOMEM. */
static int demangle_cxx(const char *name, char **ret_name)
{
	int status = 0;
	char *d = __cxa_demangle(name, NULL, NULL, &status);

	if (!d || status != 0) {
		free(d);
		return status == -1 ? -ENOMEM : 0;
	}
	*ret_name = d;
	return 1;
}

int mp_demangle(const char *name, char **ret_name)
{
	int r;

	if (!mp_demangle_candidate(name))
		return 0;
	if (name[1] == 'R' || name[2] == 'N') {
		r = demangle_rust(name, ret_name);
		if (r != 0 || name[1] == 'R')
			return r;
	}
	return demangle_cxx(name, ret_name);
}

/* SPDX-License-Identifier: MIT */
/*
 * Display names of mangled symbols: C++ (the Itanium C++ ABI, `_Z...`) and
 * Rust, both of its schemes: v0 (`_R...`, RFC 2603) and legacy (`_ZN...`
 * ending in a `17h<16 hex digits>E` hash, which looks like C++).  CLI only.
 *
 * Rust goes through libiberty's demangler (binutils' rust-demangle.c, the
 * one c++filt and gdb use) without DMGL_VERBOSE: no legacy hash, no crate
 * disambiguators, `cargo::main` and `core::fmt::write` as rustc-demangle's
 * alternate form and go tool pprof print them.  Everything else mangled
 * goes through libstdc++'s __cxa_demangle, as before Rust was known, so C++
 * names read exactly as addr2line -C and libdw's users show them.  A legacy
 * Rust name is tried as Rust first, as c++filt's automatic style does; one
 * the Rust demangler refuses (a hash with fewer than 5 distinct digits)
 * falls back to C++ and keeps its hash.
 *
 * Names come from ELF and DWARF of any file a profiled program mapped:
 * untrusted.  Fuzzed: tests/fuzz/fuzz-demangle.c.
 */
#ifndef MP_SYMBOLIZE_DEMANGLE_H
#define MP_SYMBOLIZE_DEMANGLE_H

#include <stdbool.h>

/* Whether name has a mangled prefix worth a demangler's time (`_Z`, `_R`):
 * a cheap test before memo lookups. */
static inline bool mp_demangle_candidate(const char *name)
{
	return name[0] == '_' && (name[1] == 'Z' || name[1] == 'R');
}

/*
 * The display name of symbol `name`.  Returns 1 with *ret_name (malloc'd,
 * the caller frees), 0 when name is not mangled or not validly so, or is a
 * Rust name whose display name would pass 128 KiB (nothing stored),
 * -ENOMEM.  Thread-safe; may recurse in the demanglers (libiberty's Rust
 * demangler stops at 1024 levels).
 */
int mp_demangle(const char *name, char **ret_name);

#endif

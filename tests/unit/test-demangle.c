/* SPDX-License-Identifier: MIT */
/*
 * The demangling wrapper (src/symbolize/demangle.c) on fixed names:
 * Rust v0 and legacy names demangled as rustc-demangle's alternate form and
 * go tool pprof print them (no hash, no crate disambiguator); C++ names
 * exactly as libstdc++'s __cxa_demangle gives them (the symbolizer's
 * answers are compared with addr2line and libdw's); plain and malformed
 * names refused with the output untouched.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize/demangle.h"
#include "tap.h"

extern char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

static const struct {
	const char *mangled, *want;
} good[] = {
	/* Rust v0 (RFC 2603).  cargo's main. */
	{ "_RNvCshd6KImAYX4a_5cargo4main", "cargo::main" },
	/* An inherent impl's method; the instantiating crate (gimli) and the
	 * crate disambiguators are not shown. */
	{ "_RNvMs4_NtCslNYArtu3iFV_5alloc7raw_vecNtB5_11RawVecInner15try_allocate_inCsduwmD7cSIQq_5gimli",
	  "<alloc::raw_vec::RawVecInner>::try_allocate_in" },
	/* Generic arguments and a slice type. */
	{ "_RINvMNtCslNYArtu3iFV_5alloc5sliceSh9to_vec_inNtNtB5_5alloc6GlobalECs1AdN8cFC2m1_5hello",
	  "<[u8]>::to_vec_in::<alloc::alloc::Global>" },
	/* Nested closures, the outermost disambiguated (s_ = 1): go tool pprof's
	 * demangler (ianlancetaylor/demangle, Go 1.19) reverses their order. */
	{ "_RNCNCNCNvNtCsjrHSEGnQ3l9_3std2rt19lang_start_internal00s_0B9_",
	  "std::rt::lang_start_internal::{closure#0}::{closure#0}::{closure#1}" },
	/* A trait impl. */
	{ "_RNvXsf_NtCsgEmfK2I1SDS_4core3fmtbNtB5_5Debug3fmt", "<bool as core::fmt::Debug>::fmt" },
	/* A fn pointer type with a binder: for<'a> fn(&'a u8). */
	{ "_RINvCshd6KImAYX4a_5cargo4mainFG_RL0_hEuE", "cargo::main::<for<'a> fn(&'a u8)>" },
	/* LLVM's suffixes are dropped. */
	{ "_RNvCshd6KImAYX4a_5cargo4main.llvm.1234567890", "cargo::main" },
	/* Legacy Rust: C++-like, with a hash that is dropped. */
	{ "_ZN4core3fmt5write17h0123456789abcdefE", "core::fmt::write" },
	{ "_ZN4core3fmt5write17h0123456789abcdefE.llvm.4711", "core::fmt::write" },
	{ "_ZN5alloc3vec16Vec$LT$T$C$A$GT$16with_capacity_in17h0960b83fab91c126E",
	  "alloc::vec::Vec<T,A>::with_capacity_in" },
	{ "_ZN3std2rt10lang_start28_$u7b$$u7b$closure$u7d$$u7d$17h8e2a7bc3fd9a1c44E",
	  "std::rt::lang_start::{{closure}}" },
	{ "_ZN3std3sys9backtrace28__rust_begin_short_backtrace17heb9130fa040d41c2E",
	  "std::sys::backtrace::__rust_begin_short_backtrace" },
	{ "_ZN63_$LT$alloc..alloc..Global$u20$as$u20$core..alloc..Allocator$GT$10deallocate17h900886a769a894fbE",
	  "<alloc::alloc::Global as core::alloc::Allocator>::deallocate" },
	{ "_ZN4core3ptr42drop_in_place$LT$alloc..string..String$GT$17h883e0b1cf2448754E",
	  "core::ptr::drop_in_place<alloc::string::String>" },
	/* A "hash" of fewer than 5 distinct digits is no Rust hash: C++, which
	 * keeps it. */
	{ "_ZN4core3fmt5write17h0000000000000000E", "core::fmt::write::h0000000000000000" },
	/* C++ (as __cxa_demangle: checked against it below too). */
	{ "_Z3fooi", "foo(int)" },
	{ "_ZN3foo3barEv", "foo::bar()" },
	{ "_ZNSt6vectorIiSaIiEE9push_backERKi",
	  "std::vector<int, std::allocator<int> >::push_back(int const&)" },
	{ "_Z3foov.cold", "foo() [clone .cold]" },
	/* Parameters after the hash: C++, not Rust. */
	{ "_ZN4core3fmt5write17h0123456789abcdefEv", "core::fmt::write::h0123456789abcdef()" },
};

static const char *const refused[] = {
	"", "_", "_Z", "_R", "main", "malloc", "_start", "foo::bar", "__cxa_demangle",
	"_RNvC", "_RNvCshd6KImAYX4a_5cargo", "_RNvCshd6KImAYX4a_5cargo99main", "_RX",
	"_ZN4core3fmt5write17h0123456789abcdeE", "_ZZZ", "RNvCshd6KImAYX4a_5cargo4main",
};

static void test_good(void)
{
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char *d = NULL;

		CHECK_INT(mp_demangle(good[i].mangled, &d), 1);
		CHECK_STR(d, good[i].want);
		free(d);
	}
}

static void test_refused(void)
{
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		char *d = (char *)"untouched";

		CHECK_INT(mp_demangle(refused[i], &d), 0);
		CHECK_STR(d, "untouched");
	}
}

/* Every C++ name (not legacy Rust) reads as __cxa_demangle has it. */
static void test_cxx_unchanged(void)
{
	static const char *const cxx[] = {
		"_Z3fooi", "_ZN3foo3barEv", "_ZNSt6vectorIiSaIiEE9push_backERKi", "_Z3foov.cold",
		"_ZNKSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEE4sizeEv",
		"_ZN9__gnu_cxx13new_allocatorIcE8allocateEmPKv", "_ZdlPvm", "_Znwm",
		"_ZN4core3fmt5write17h0000000000000000E", "_ZN3foo17h0123456789abcdefEv",
		"_ZL4leafm", "_ZZ4mainE1x", "_ZN10__cxxabiv111__terminateEPFvvE",
		"_ZN1AC2Ev", "_ZN1AD0Ev", "_ZTV1A", "_ZTI1A", "_ZThn8_N1B1fEv",
	};

	for (size_t i = 0; i < sizeof(cxx) / sizeof(cxx[0]); i++) {
		int status = 0;
		char *want = __cxa_demangle(cxx[i], NULL, NULL, &status);
		char *d = NULL;
		int r = mp_demangle(cxx[i], &d);

		CHECK_INT(r, want ? 1 : 0);
		if (want)
			CHECK_STR(d, want);
		free(want);
		free(d);
	}
}

/* Deep nesting and long names end with an answer or a refusal, never a
 * crash: the v0 demangler caps its recursion (1024 levels). */
static void test_deep(void)
{
	size_t n = 100000, k;
	char *s = malloc(2 * n + 64);
	char *d = (char *)"untouched";

	if (!s) {
		CHECK(s != NULL);
		return;
	}
	/* v0: cargo::main::<&&&...&u8>, references nested n deep. */
	k = (size_t)sprintf(s, "_RINvCshd6KImAYX4a_5cargo4main");
	memset(s + k, 'R', n);
	strcpy(s + k + n, "hE");
	CHECK_INT(mp_demangle(s, &d), 0);
	CHECK_STR(d, "untouched");
	/* v0 back-references to back-references: 150 bytes that would print
	 * gigabytes (found by fuzz-demangle), cut short at 128 KiB. */
	CHECK_INT(mp_demangle("_RYYYYFFFFFFFFFFFGFFFFFFFFFFFFFFFFFFFFFbFFFFFFFFFFFFFFFFFFFFFFFFFF"
			      "_RYYRYYFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFY", &d), 0);
	CHECK_STR(d, "untouched");
	/* A binder of about 62^4 lifetimes, in the instantiating crate (where
	 * nothing is printed): refused before libiberty loops over them. */
	CHECK_INT(mp_demangle("_RNvC5cargm4_RYYYYFFFFFFFFFFGmaFFF_in", &d), 0);
	CHECK_STR(d, "untouched");
	/* Legacy: m path components, a::a::...: kept up to 128 KiB. */
	for (size_t m = n / 4; m <= n; m += 3 * n / 4) {
		k = (size_t)sprintf(s, "_ZN");
		for (size_t i = 0; i < m; i++, k += 2)
			memcpy(s + k, "1a", 2);
		strcpy(s + k, "17h0123456789abcdefE");
		d = NULL;
		CHECK_INT(mp_demangle(s, &d), 3 * m - 2 <= 128 * 1024);
		CHECK(m == n ? !d : d && strlen(d) == 3 * m - 2 && strncmp(d, "a::a::", 6) == 0);
		free(d);
	}
	free(s);
}

int main(void)
{
	test_good();
	test_refused();
	test_cxx_unchanged();
	test_deep();
	return tap_done();
}

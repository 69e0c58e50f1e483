/* SPDX-License-Identifier: MIT */
/* Compiler helpers shared by the in-target modules. */
#ifndef MP_BASE_COMPILER_H
#define MP_BASE_COMPILER_H

#define MP_LIKELY(x) __builtin_expect(!!(x), 1)
#define MP_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define MP_NOINLINE __attribute__((noinline))
#define MP_COLD __attribute__((cold))
#define MP_EXPORT __attribute__((visibility("default")))
/* On the declaration of a global the hot paths read: -fvisibility=hidden
 * makes definitions hidden, not declarations, and a global declared without
 * it is read through the GOT (lea and load) where one load does. */
#define MP_HIDDEN __attribute__((visibility("hidden")))
#define MP_TLS __attribute__((tls_model("initial-exec"))) __thread

#endif

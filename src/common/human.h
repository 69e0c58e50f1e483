/* SPDX-License-Identifier: MIT */
/*
 * Byte counts as people read them, for the CLI's notes, reports and
 * profile comments.  CLI only (stdio).
 */
#ifndef MP_COMMON_HUMAN_H
#define MP_COMMON_HUMAN_H

#include <stddef.h>
#include <stdint.h>

/* `v` bytes into buf, 1024-based with one decimal, none when whole:
 * "512 B", "98.7 KiB", "512 KiB", "1.5 GiB" (TiB at most).  24 bytes are
 * enough; buf is always NUL-terminated when size > 0. */
void mp_human_bytes(uint64_t v, char *buf, size_t size);

/* The same with one decimal even when whole ("512.0 KiB"): columns of
 * `memprof stats`, attach's RSS note. */
void mp_human_bytes_fixed(uint64_t v, char *buf, size_t size);

#endif

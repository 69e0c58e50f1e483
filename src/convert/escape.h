/* SPDX-License-Identifier: MIT */
/*
 * Text put into the machine-read reports (leak JSON, SARIF, JUnit XML) as
 * their grammars demand.  Names in a report come from places we do not
 * control: a source file or a descriptor's path may hold any bytes but
 * '/' and NUL, a thread name any bytes; JSON (RFC 8259 section 8.1) and
 * XML 1.0 (section 2.2) accept only Unicode text, so invalid UTF-8 would
 * make a consumer reject the whole file.  Each function writes valid output
 * for every input.  CLI only.
 */
#ifndef MP_CONVERT_ESCAPE_H
#define MP_CONVERT_ESCAPE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * Decode one character of well-formed UTF-8 (RFC 3629: no overlong forms,
 * no surrogates, nothing above U+10FFFF) at s, which has n > 0 bytes left.
 * Returns the bytes it takes (1..4) and sets *ret_cp; a byte that starts no
 * well-formed character takes 1 and yields U+FFFD.
 */
size_t mp_utf8_decode(const unsigned char *s, size_t n, uint32_t *ret_cp);

/* A JSON string with its quotes: '"', '\\' and controls escaped, invalid
 * UTF-8 as U+FFFD. */
void mp_put_json_str(FILE *f, const char *s);

/*
 * XML 1.0 character data: '&', '<', '>' as entities; in an attribute
 * value (attr) also '"' and '\'', and tab, newline and carriage return as
 * character references so that attribute normalization keeps them.
 * Characters XML 1.0 forbids (controls, U+FFFE, U+FFFF) and invalid UTF-8
 * become U+FFFD.
 */
void mp_put_xml(FILE *f, const char *s, int attr);

/* A path as the path of a URI reference (RFC 3986): every byte but the
 * unreserved characters and '/' percent-encoded ("my dir/a.c" ->
 * "my%20dir/a.c"). */
void mp_put_uri_path(FILE *f, const char *s);

#endif

/* SPDX-License-Identifier: MIT */
/* Text for the machine-read reports (see escape.h).  CLI only. */
#include <string.h>

#include "convert/escape.h"

size_t mp_utf8_decode(const unsigned char *s, size_t n, uint32_t *ret_cp)
{
	/* RFC 3629 section 4: the second byte's range depends on the first
	 * (E0: A0..BF against overlong forms, ED: 80..9F against surrogates,
	 * F0: 90..BF, F4: 80..8F against > U+10FFFF). */
	uint32_t cp;
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf;

	if (s[0] < 0x80) {
		*ret_cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
		if (s[0] == 0xe0)
			lo = 0xa0;
		else if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f;
	} else {
		*ret_cp = 0xfffd;
		return 1;
	}
	if (n < len || s[1] < lo || s[1] > hi) {
		*ret_cp = 0xfffd;
		return 1;
	}
	for (size_t i = 1; i < len; i++) {
		if (i > 1 && (s[i] < 0x80 || s[i] > 0xbf)) {
			*ret_cp = 0xfffd;
			return 1;
		}
		cp = cp << 6 | (s[i] & 0x3f);
	}
	*ret_cp = cp;
	return len;
}

static void put_utf8(FILE *f, uint32_t cp)
{
	if (cp < 0x80) {
		fputc((int)cp, f);
	} else if (cp < 0x800) {
		fputc(0xc0 | (int)(cp >> 6), f);
		fputc(0x80 | (int)(cp & 0x3f), f);
	} else if (cp < 0x10000) {
		fputc(0xe0 | (int)(cp >> 12), f);
		fputc(0x80 | (int)((cp >> 6) & 0x3f), f);
		fputc(0x80 | (int)(cp & 0x3f), f);
	} else {
		fputc(0xf0 | (int)(cp >> 18), f);
		fputc(0x80 | (int)((cp >> 12) & 0x3f), f);
		fputc(0x80 | (int)((cp >> 6) & 0x3f), f);
		fputc(0x80 | (int)(cp & 0x3f), f);
	}
}

void mp_put_json_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = s ? strlen(s) : 0;

	fputc('"', f);
	while (n) {
		uint32_t cp;
		size_t k = mp_utf8_decode(p, n, &cp);

		if (cp == '"' || cp == '\\')
			fprintf(f, "\\%c", (int)cp);
		else if (cp < 0x20)
			fprintf(f, "\\u%04x", (unsigned)cp);
		else if (cp == 0xfffd && k == 1)
			fputs("\\ufffd", f);
		else
			fwrite(p, 1, k, f);   /* well-formed: as it is */
		p += k;
		n -= k;
	}
	fputc('"', f);
}

void mp_put_xml(FILE *f, const char *s, int attr)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = s ? strlen(s) : 0;

	while (n) {
		uint32_t cp;
		size_t k = mp_utf8_decode(p, n, &cp);

		switch (cp) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs(attr ? "&quot;" : "\"", f); break;
		case '\'': fputs(attr ? "&apos;" : "'", f); break;
		case '\t': case '\n': case '\r':
			if (attr)
				fprintf(f, "&#%u;", (unsigned)cp);
			else
				fputc((int)cp, f);
			break;
		default:
			/* XML 1.0 section 2.2: Char excludes the other C0
			 * controls and U+FFFE, U+FFFF (surrogates never
			 * decode). */
			if (cp < 0x20 || cp == 0xfffe || cp == 0xffff)
				put_utf8(f, 0xfffd);
			else
				put_utf8(f, cp);
		}
		p += k;
		n -= k;
	}
}

void mp_put_uri_path(FILE *f, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
		unsigned char c = *p;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~' || c == '/')
			fputc(c, f);
		else
			fprintf(f, "%%%02X", c);
	}
}

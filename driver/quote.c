// SPDX-License-Identifier: MIT
#include "quote.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

size_t utf8_len(const unsigned char *s, size_t avail, uint32_t *cp)
{
	size_t n, i;
	uint32_t c, min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0)
		n = 2, c = s[0] & 0x1f, min = 0x80;
	else if ((s[0] & 0xf0) == 0xe0)
		n = 3, c = s[0] & 0x0f, min = 0x800;
	else if ((s[0] & 0xf8) == 0xf0)
		n = 4, c = s[0] & 0x07, min = 0x10000;
	else
		return 0;
	if (n > avail)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

void utf8_cut_end(char *s)
{
	size_t len = strlen(s), k = len;
	uint32_t cp;

	/* The last character starts at most three continuation bytes before the end. */
	while (k > 0 && len - k < 3 && ((unsigned char)s[k - 1] & 0xc0) == 0x80)
		k--;
	if (k > 0 && ((unsigned char)s[k - 1] & 0x80) &&
	    !utf8_len((const unsigned char *)s + k - 1, len - k + 1, &cp))
		s[k - 1] = '\0';
}

/* The escape for code point CP when it needs one ("" otherwise), into ESC (8 bytes). */
static const char *escape(uint32_t cp, size_t len, unsigned char byte, char *esc)
{
	if (!len) {
		snprintf(esc, 8, "\\x%02x", byte);
		return esc;
	}
	switch (cp) {
	case '\n': return "\\n";
	case '\t': return "\\t";
	case '\r': return "\\r";
	case '\\': return "\\\\";
	case '"': return "\\\"";
	}
	if (cp < 0x20 || cp == 0x7f) {
		snprintf(esc, 8, "\\x%02x", (unsigned)cp);
		return esc;
	}
	if (cp >= 0x80 && cp < 0xa0) {
		snprintf(esc, 8, "\\u%04x", (unsigned)cp);
		return esc;
	}
	return "";
}

const char *quote(const char *s, size_t max, char *buf, size_t size)
{
	if (!s)
		s = "(null)";
	return quote_mem(s, strlen(s), max, buf, size);
}

const char *quote_mem(const char *s, size_t avail, size_t max, char *buf, size_t size)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t in = 0, out = 0, len, piece;
	char esc[8];
	const char *e;
	uint32_t cp = 0;
	bool cut = false;

	if (!size)
		return buf;
	while (in < avail) {
		len = utf8_len(p + in, avail - in, &cp);
		e = escape(cp, len, p[in], esc);
		piece = *e ? strlen(e) : len;
		if (!len)
			len = 1;
		/* Stop before MAX input bytes, or before the output (and a "...") would not fit. */
		if (in + len > max || out + piece + 4 > size) {
			cut = true;
			break;
		}
		memcpy(buf + out, *e ? e : (const char *)p + in, piece);
		out += piece;
		in += len;
	}
	if (cut && out + 4 <= size) {
		memcpy(buf + out, "...", 3);
		out += 3;
	}
	buf[out] = '\0';
	return buf;
}

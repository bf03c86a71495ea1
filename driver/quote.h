/* SPDX-License-Identifier: MIT */
/*
 * User text in an error or a log line, the way the kernel prints user strings with %*pE: the
 * engine's option keys and values, request paths, names from files and sockets. The result is
 * valid UTF-8 (the engine reads an error that is not as "out of memory"), has no control
 * character (a newline in an option key must never start a new log line), and is cut on a
 * character boundary. Every piece of user text passes through here once, where it is printed.
 */
#ifndef QUOTE_H
#define QUOTE_H

#include <stddef.h>
#include <stdint.h>

/* Room for the quoted form of up to N input bytes: each may become a 4-byte escape, plus "...". */
#define QUOTE_SIZE(n) ((n)*4 + 4)

/* Writes into BUF (SIZE bytes) the first MAX bytes of the NUL-terminated S, or fewer so as to end
 * on a character boundary, with every byte that is not part of valid UTF-8, every control
 * character (C0, DEL, C1), the backslash and the double quote escaped (\n, \t, \r, \\, \", \xNN,
 * \u0085), and "..." when S was cut. NULL prints as (null). Returns BUF. */
const char *quote(const char *s, size_t max, char *buf, size_t size);
/* The same for the LEN bytes at S (not NUL-terminated; a NUL among them is escaped). */
const char *quote_mem(const char *s, size_t len, size_t max, char *buf, size_t size);
/* Length of the valid UTF-8 sequence at S (at most AVAIL bytes, AVAIL > 0), or 0 when it is not
 * one: no overlong forms, no surrogates, nothing above U+10FFFF (RFC 3629). *CP gets its code
 * point. The fuzz harnesses check every log line with it. */
size_t utf8_len(const unsigned char *s, size_t avail, uint32_t *cp);
/* Cuts the NUL-terminated S before its last character when that one is incomplete, as
 * vsnprintf() leaves a message longer than its buffer: an answer to the engine must be valid
 * UTF-8 (jansson refuses it otherwise and the engine reads "out of memory"). */
void utf8_cut_end(char *s);

/* quote() into a buffer that lives until the end of the enclosing block, for one printf argument:
 *   errmsg_set(err, -EINVAL, "option \"%s\": unknown", QUOTE(key, 60)); */
#define QUOTE(s, max) quote((s), (max), (char[QUOTE_SIZE(max)]){ 0 }, QUOTE_SIZE(max))
#define QUOTE_MEM(s, len, max) \
	quote_mem((s), (len), (max), (char[QUOTE_SIZE(max)]){ 0 }, QUOTE_SIZE(max))

#endif

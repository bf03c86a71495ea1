/* SPDX-License-Identifier: MIT */
/*
 * What the harnesses that run daemon code share with those that check its messages: the check
 * that user-facing text is what STYLE.md rule 16 promises (valid UTF-8, no control character), a
 * FUZZ_CHECK that says which object broke it, and a stderr that takes the daemon's log lines:
 * a fuzzer's millions of inputs do not fill it, and every line the daemon logs is checked like an
 * error text (a newline in it is a finding), then dropped. The rest passes, unchanged.
 */
#ifndef FUZZ_LOG_H
#define FUZZ_LOG_H

#include "fuzz.h"
#include "log.h"
#include "quote.h"

#include <errno.h>
#include <stdbool.h>
#include <unistd.h>

/* FUZZ_CHECK with a printf message naming what broke it. */
#define FUZZ_CHECKF(cond, ...)                                                               \
	do {                                                                                 \
		if (!(cond)) {                                                               \
			fprintf(stderr, "%s:%d: invariant broken: %s: ", __FILE__, __LINE__, \
				#cond);                                                      \
			fprintf(stderr, __VA_ARGS__);                                        \
			fputc('\n', stderr);                                                 \
			abort();                                                             \
		}                                                                            \
	} while (0)

/* NULL when the LEN bytes at S are valid UTF-8 without a control character (C0, DEL, C1; with
 * LINES, '\n' ends lines and is allowed), else the first byte that is not. */
static inline const char *fuzz_text_bad(const char *s, size_t len, bool lines)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp = 0;
	size_t n;

	for (size_t i = 0; i < len; i += n) {
		n = utf8_len(p + i, len - i, &cp);
		if (!n || (cp < 0x20 && !(lines && cp == '\n')) || cp == 0x7f ||
		    (cp >= 0x80 && cp < 0xa0))
			return s + i;
	}
	return NULL;
}

/* Aborts unless TEXT (NUL-terminated), which WHAT names, is clean as above. */
static inline void fuzz_check_text(const char *what, const char *text, bool lines)
{
	const char *bad = fuzz_text_bad(text, strlen(text), lines);

	FUZZ_CHECKF(!bad, "%s: byte 0x%02x at %zu of \"%s\"", what, (unsigned char)*bad,
		    (size_t)(bad - text), text);
}

/* The daemon's log lines, as log.c writes them to stderr: "2026-12-02T00:50:14.696Z info: ". */
static inline bool fuzz_log_prefix(const char *buf, size_t size)
{
	return size >= 25 && buf[4] == '-' && buf[7] == '-' && buf[10] == 'T' && buf[13] == ':' &&
	       buf[19] == '.' && buf[23] == 'Z' && buf[24] == ' ';
}

static char fuzz_log_line[16384];
static size_t fuzz_log_len;
static bool fuzz_log_in_line;

static void fuzz_write_fd2(const char *buf, size_t size)
{
	ssize_t n;

	while (size && ((n = write(2, buf, size)) > 0 || errno == EINTR))
		if (n > 0)
			buf += n, size -= (size_t)n;
}

/* A log line (up to its '\n') is checked and dropped; anything else (libFuzzer's output, a
 * FUZZ_CHECK message) goes to file descriptor 2 as it came. */
static ssize_t fuzz_stderr_write(void *cookie, const char *buf, size_t size)
{
	const char *bad;
	size_t len;

	if (!fuzz_log_in_line && !fuzz_log_prefix(buf, size)) {
		fuzz_write_fd2(buf, size);
		return (ssize_t)size;
	}
	fuzz_log_in_line = true;
	len = size < sizeof(fuzz_log_line) - fuzz_log_len ? size
							  : sizeof(fuzz_log_line) - fuzz_log_len;
	memcpy(fuzz_log_line + fuzz_log_len, buf, len);
	fuzz_log_len += len;
	if (!size || buf[size - 1] != '\n')
		return (ssize_t)size;
	/* A line cut to the buffer may end inside a character: only what is whole is checked. */
	len = fuzz_log_len - (fuzz_log_len < sizeof(fuzz_log_line));
	if (len + 1 == sizeof(fuzz_log_line))
		while (len && ((unsigned char)fuzz_log_line[len - 1] & 0xc0) == 0x80)
			len--;
	bad = fuzz_text_bad(fuzz_log_line, len, false);
	if (bad) {
		/* Not through stderr: this runs inside a write to it. */
		dprintf(2, "invariant broken: log line: byte 0x%02x at %zu of \"%.*s\"\n",
			(unsigned char)*bad, (size_t)(bad - fuzz_log_line), (int)fuzz_log_len,
			fuzz_log_line);
		abort();
	}
	fuzz_log_in_line = false;
	fuzz_log_len = 0;
	return (ssize_t)size;
}

/* Before main: stderr becomes the stream above (log.c writes a line in several calls, which an
 * unbuffered stream hands over as they come), and every level is logged, so checked. */
__attribute__((constructor)) static void fuzz_log_setup(void)
{
	FILE *f = fopencookie(NULL, "w", (cookie_io_functions_t){ .write = fuzz_stderr_write });

	if (!f || setvbuf(f, NULL, _IONBF, 0))
		abort();
	stderr = f;
	log_set_level(LOG_LEVEL_DEBUG);
}

#endif

// SPDX-License-Identifier: MIT
#include "errmsg.h"
#include "quote.h"

#include <stdarg.h>
#include <stdio.h>

void errmsg_vformat(char *buf, size_t size, const char *fmt, va_list ap)
{
	vsnprintf(buf, size, fmt, ap);
	utf8_cut_end(buf);
}

int errmsg_set(char *err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errmsg_vformat(err, ERRMSG_LEN, fmt, ap);
	va_end(ap);
	return code;
}

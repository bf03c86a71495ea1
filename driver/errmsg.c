// SPDX-License-Identifier: MIT
#include "errmsg.h"
#include "quote.h"

#include <stdarg.h>
#include <stdio.h>

int errmsg_set(char *err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, ERRMSG_LEN, fmt, ap);
	va_end(ap);
	utf8_cut_end(err);
	return code;
}

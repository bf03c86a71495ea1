/* SPDX-License-Identifier: MIT */
/* Logging to stderr (the engine keeps a managed plugin's stderr in its own log). Secrets never
 * reach these functions. */
#ifndef LOG_H
#define LOG_H

#include <stdbool.h>

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* Parses "error", "warn", "info" or "debug"; -EINVAL otherwise. */
int log_parse_level(const char *s, enum log_level *out);
void log_set_level(enum log_level level);
/* true when messages of LEVEL are written: what only they need is not computed otherwise. */
bool log_enabled(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif

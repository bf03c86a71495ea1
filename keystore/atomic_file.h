/* SPDX-License-Identifier: MIT */
/* Durable whole-file writes: the old content or the new one survives a crash, never a mix. */
#ifndef ATOMIC_FILE_H
#define ATOMIC_FILE_H

#include <stddef.h>
#include <sys/types.h>

/* Writes LEN bytes of DATA to PATH with MODE: a temp file in the same directory (created with
 * MODE, never wider), fsync, rename over PATH, fsync of the directory. On failure PATH is
 * unchanged and the temp file removed. Borrows DATA (the temp buffer is not copied). */
int atomic_file_write(const char *path, const void *data, size_t len, mode_t mode);

/* Reads PATH whole into a new NUL-terminated buffer (*OUT, free with free(); the caller wipes it
 * first if it held a secret); -EFBIG when it is larger than MAX bytes. */
int atomic_file_read(const char *path, size_t max, char **out, size_t *len);

#endif

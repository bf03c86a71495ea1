/* SPDX-License-Identifier: MIT */
/* Durable whole-file writes: the old content or the new one survives a crash, never a mix. */
#ifndef ATOMIC_FILE_H
#define ATOMIC_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Writes LEN bytes of DATA to PATH with MODE: a temp file in the same directory (created with
 * MODE, never wider), fsync, rename over PATH, fsync of the directory. On failure PATH is
 * unchanged and the temp file removed. Borrows DATA (the temp buffer is not copied). */
int atomic_file_write(const char *path, const void *data, size_t len, mode_t mode);

/* Removes PATH and makes the removal durable (fsync of its directory); 0 if it did not exist. */
int atomic_file_remove(const char *path);

/* true when NAME (a directory entry) is a temp file of atomic_file_write: ".BASE.XXXXXX". */
bool atomic_file_is_temp(const char *name);

/* Removes the temp files a crash in the middle of atomic_file_write left in DIR (they may hold a
 * key). Returns how many, or -errno when DIR cannot be read. */
int atomic_file_remove_temps(const char *dir);

/* Reads PATH whole into a new NUL-terminated buffer (*OUT, free with free(); the caller wipes it
 * first if it held a secret); -EFBIG when it is larger than MAX bytes. */
int atomic_file_read(const char *path, size_t max, char **out, size_t *len);

#endif

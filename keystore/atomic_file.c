// SPDX-License-Identifier: MIT
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkostemp */
#endif
#include "atomic_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Splits PATH into its directory (DIR) and the temp file name next to it (TMP). */
static int temp_path_for(const char *path, char dir[PATH_MAX], char tmp[PATH_MAX])
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	int n;

	if (!*base)
		return -EISDIR;
	if (!slash)
		n = snprintf(dir, PATH_MAX, ".");
	else if (slash == path)
		n = snprintf(dir, PATH_MAX, "/");
	else
		n = snprintf(dir, PATH_MAX, "%.*s", (int)(slash - path), path);
	if (n < 0 || n >= PATH_MAX)
		return -ENAMETOOLONG;
	/* A leading dot keeps temp files out of listings that match names by suffix. */
	n = snprintf(tmp, PATH_MAX, "%.*s.%s.XXXXXX", (int)(base - path), path, base);
	if (n < 0 || n >= PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

int atomic_file_write(const char *path, const void *data, size_t len, mode_t mode)
{
	char dir[PATH_MAX], tmp[PATH_MAX];
	int dir_fd = -1, fd = -1, ret;

	ret = temp_path_for(path, dir, tmp);
	if (ret)
		return ret;
	/* Opened first so that nothing but the final fsync can fail after the rename. */
	dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0)
		return -errno;
	/* mkostemp creates the file owner-only, so others never get more than MODE gives them. */
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		goto err_close_dir;
	}
	ret = fchmod(fd, mode) < 0 ? -errno : write_all(fd, data, len);
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	if (ret)
		goto err_unlink_tmp;
	ret = close(fd);
	fd = -1;
	if (ret < 0) {
		ret = -errno;
		goto err_unlink_tmp;
	}
	if (rename(tmp, path) < 0) {
		ret = -errno;
		goto err_unlink_tmp;
	}
	ret = fsync(dir_fd) < 0 ? -errno : 0;
	close(dir_fd);
	return ret;

err_unlink_tmp:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
err_close_dir:
	close(dir_fd);
	return ret;
}

static int dir_of(const char *path, char dir[PATH_MAX])
{
	char tmp[PATH_MAX];

	return temp_path_for(path, dir, tmp);
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

int atomic_file_remove(const char *path)
{
	char dir[PATH_MAX];
	int ret = dir_of(path, dir);

	if (ret)
		return ret;
	if (unlink(path) < 0)
		return errno == ENOENT ? 0 : -errno;
	return fsync_dir(dir);
}

bool atomic_file_is_temp(const char *name)
{
	size_t len = strlen(name);

	/* "." + at least one character of the base + "." + the six of mkostemp */
	return name[0] == '.' && len >= 9 && name[len - 7] == '.';
}

int atomic_file_remove_temps(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *e;
	int removed = 0;
	DIR *d;

	d = opendir(dir);
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		if (!atomic_file_is_temp(e->d_name))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path))
			continue;
		if (!unlink(path))
			removed++;
	}
	closedir(d);
	if (removed)
		fsync_dir(dir);
	return removed;
}

/* Moves BUF into a larger allocation, wiping the old one: it may hold a secret. */
static int grow_buffer(char **buf, size_t used, size_t *cap, size_t limit)
{
	size_t new_cap = *cap > limit / 2 ? limit : *cap * 2;
	char *bigger = malloc(new_cap);

	if (!bigger)
		return -ENOMEM;
	memcpy(bigger, *buf, used);
	sodium_memzero(*buf, *cap);
	free(*buf);
	*buf = bigger;
	*cap = new_cap;
	return 0;
}

int atomic_file_read(const char *path, size_t max, char **out, size_t *len)
{
	size_t cap, used = 0, limit;
	char *buf = NULL;
	struct stat st;
	int fd, ret;

	if (max >= SIZE_MAX - 2)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto err_close;
	}
	if (st.st_size > 0 && (uintmax_t)st.st_size > max) {
		ret = -EFBIG;
		goto err_close;
	}
	/* Room for one byte past MAX (to notice growth) and the NUL. */
	limit = max + 2;
	cap = st.st_size > 0 ? (size_t)st.st_size + 2 : 64;
	if (cap > limit)
		cap = limit;
	buf = malloc(cap);
	if (!buf) {
		ret = -ENOMEM;
		goto err_close;
	}
	for (;;) {
		ssize_t n;

		if (used == cap - 1) {
			if (cap == limit)
				break;
			ret = grow_buffer(&buf, used, &cap, limit);
			if (ret)
				goto err_free_buf;
		}
		n = read(fd, buf + used, cap - 1 - used);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			goto err_free_buf;
		}
		if (!n)
			break;
		used += (size_t)n;
	}
	if (used > max) {
		ret = -EFBIG;
		goto err_free_buf;
	}
	close(fd);
	buf[used] = '\0';
	*out = buf;
	if (len)
		*len = used;
	return 0;

err_free_buf:
	sodium_memzero(buf, cap);
	free(buf);
err_close:
	close(fd);
	return ret;
}

// SPDX-License-Identifier: MIT
#include "hostmounts.h"

#include "atomic_file.h"
#include "errmsg.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

/* Creates DIR with MODE unless it exists; it must then be a directory, not a link to one. */
static int make_dir(const char *dir, mode_t mode, char *err)
{
	struct stat st;

	if (mkdir(dir, mode) < 0 && errno != EEXIST)
		return errmsg_set(err, -errno, "%s: %s", dir, strerror(errno));
	if (lstat(dir, &st) < 0)
		return errmsg_set(err, -errno, "%s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return errmsg_set(err, -ENOTDIR, "%s: not a directory", dir);
	return 0;
}

static bool is_dir(const char *parent, const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", parent, name);
	return !lstat(path, &st) && S_ISDIR(st.st_mode);
}

/* Binds SOURCE (and the mounts under it) on TARGET, made a slave so that later mounts under
 * SOURCE in the host reach TARGET but nothing goes back; then detaches FROM, the host mount
 * SOURCE was found in. */
static int bind_and_detach(const char *source, const char *target, const char *from, char *err)
{
	int ret;

	ret = make_dir(target, 0700, err);
	if (ret)
		return ret;
	if (mount(source, target, NULL, MS_BIND | MS_REC, NULL) < 0)
		return errmsg_set(err, -errno, "binding %s on %s: %s", source, target,
				  strerror(errno));
	if (mount(NULL, target, NULL, MS_SLAVE | MS_REC, NULL) < 0) {
		ret = errmsg_set(err, -errno, "%s: making it a slave mount: %s", target,
				 strerror(errno));
		goto err_unmount;
	}
	if (umount2(from, MNT_DETACH) < 0) {
		ret = errmsg_set(err, -errno, "detaching %s: %s", from, strerror(errno));
		goto err_unmount;
	}
	return 0;

err_unmount:
	umount2(target, MNT_DETACH);
	return ret;
}

int hostmounts_state(const char *parent, const char *target, char *err)
{
	char dir[PATH_MAX], msg[ERRMSG_LEN];
	int ret;

	if (is_dir(parent, "networks") && is_dir(parent, "keys")) {
		snprintf(dir, sizeof(dir), "%s", parent);
	} else {
		if (snprintf(dir, sizeof(dir), "%s/%s", parent, HOSTMOUNTS_STATE_NAME) >=
		    (int)sizeof(dir))
			return errmsg_set(err, -ENAMETOOLONG, "%s: path too long", parent);
		ret = make_dir(dir, 0700, err);
		if (ret)
			return ret;
	}
	ret = bind_and_detach(dir, target, parent, err);
	if (ret) {
		snprintf(msg, sizeof(msg), "%s", err);
		errmsg_set(err, ret, "state directory %.100s: %s", dir, msg);
	}
	return ret;
}

int hostmounts_netns(const char *exec_root, const char *target, char *err)
{
	char dir[PATH_MAX], msg[ERRMSG_LEN];
	int ret;

	if (snprintf(dir, sizeof(dir), "%s/%s", exec_root, HOSTMOUNTS_NETNS_NAME) >=
	    (int)sizeof(dir))
		return errmsg_set(err, -ENAMETOOLONG, "%s: path too long", exec_root);
	ret = make_dir(dir, 0755, err);
	if (!ret)
		ret = bind_and_detach(dir, target, exec_root, err);
	if (ret) {
		snprintf(msg, sizeof(msg), "%s", err);
		errmsg_set(err, ret, "sandbox namespaces (the engine's exec-root %.100s): %s",
			   exec_root, msg);
	}
	return ret;
}

/* Copies FROM (at most 1 MiB: certificates, a key, a secret) to TO with mode 0600. */
static int copy_file(const char *from, const char *to, char *err)
{
	char *data = NULL;
	size_t len = 0;
	int ret;

	ret = atomic_file_read(from, 1 << 20, &data, &len);
	if (!ret)
		ret = atomic_file_write(to, data, len, 0600);
	if (data) {
		sodium_memzero(data, len);
		free(data);
	}
	if (ret)
		return errmsg_set(err, ret, "%s: %s", from, strerror(-ret));
	return 0;
}

int hostmounts_etcd(const char *mounted, const char *target, bool *found, char *err)
{
	static const char *const names[] = HOSTMOUNTS_ETCD_FILES;
	char from[PATH_MAX], to[PATH_MAX];
	int ret = 0;

	*found = false;
	for (size_t i = 0; names[i] && !*found; i++) {
		snprintf(from, sizeof(from), "%s/%s", mounted, names[i]);
		*found = !access(from, F_OK);
	}
	if (*found) {
		ret = make_dir(target, 0700, err);
		if (!ret && mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
				  "mode=0700,size=4m") < 0)
			ret = errmsg_set(err, -errno, "%s: tmpfs: %s", target, strerror(errno));
		for (size_t i = 0; !ret && names[i]; i++) {
			snprintf(from, sizeof(from), "%s/%s", mounted, names[i]);
			snprintf(to, sizeof(to), "%s/%s", target, names[i]);
			if (!access(from, F_OK))
				ret = copy_file(from, to, err);
		}
	}
	if (umount2(mounted, MNT_DETACH) < 0 && !ret)
		ret = errmsg_set(err, -errno, "detaching %s: %s", mounted, strerror(errno));
	return ret;
}

// SPDX-License-Identifier: MIT
/* The plugin's view of the host, in a mount namespace of the test's own: the host's directories
 * are temp directories, the plugin's mounts of them are binds, and the sandboxes' namespaces are
 * binds of the test's own network namespace. */
#include "unit.h"

#include "driver/hostmounts.c"

#include <sched.h>
#include <stdbool.h>

static char top[64];

static void path(char *out, const char *name)
{
	snprintf(out, PATH_MAX, "%s/%s", top, name);
}

static bool is_mountpoint(const char *p)
{
	char line[4096], point[PATH_MAX];
	bool found = false;
	FILE *f = fopen("/proc/self/mountinfo", "r");

	while (f && !found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%*s %*s %*s %*s %4095s", point) == 1 && !strcmp(point, p);
	if (f)
		fclose(f);
	return found;
}

/* MNT becomes the plugin's mount of HOST, as the engine makes it: rbind, rslave. */
static void plugin_mount(void)
{
	char host[PATH_MAX], mnt[PATH_MAX];

	path(host, "host");
	path(mnt, "mnt");
	CHECK(mount(host, mnt, NULL, MS_BIND | MS_REC, NULL) == 0);
	CHECK(mount(NULL, mnt, NULL, MS_SLAVE | MS_REC, NULL) == 0);
}

/* A fresh top directory with HOST (the host's directory) and MNT (the plugin's mount of it). */
static void setup(void)
{
	char host[PATH_MAX], mnt[PATH_MAX];

	strcpy(top, "/tmp/unit-hostmounts-XXXXXX");
	CHECK(mkdtemp(top) != NULL);
	path(host, "host");
	path(mnt, "mnt");
	CHECK(mkdir(host, 0755) == 0 && mkdir(mnt, 0755) == 0);
	/* The host's directory is a shared mount, as / is under systemd. */
	CHECK(mount(host, host, NULL, MS_BIND, NULL) == 0);
	CHECK(mount(NULL, host, NULL, MS_SHARED, NULL) == 0);
	plugin_mount();
}

static void teardown(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "umount -R -l %s/* 2>/dev/null; rm -rf %s", top, top);
	CHECK(system(cmd) == 0);
}

UNIT_TEST(the_test_gets_a_mount_namespace_of_its_own)
{
	CHECK(unshare(CLONE_NEWNS) == 0);
	CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
}

UNIT_TEST(state_is_made_in_the_parent_bound_and_the_parent_detached)
{
	char mnt[PATH_MAX], target[PATH_MAX], made[PATH_MAX], file[PATH_MAX + 8], err[ERRMSG_LEN];
	struct stat st;

	setup();
	path(mnt, "mnt");
	path(target, "state");
	path(made, "host/" HOSTMOUNTS_STATE_NAME);
	CHECK_EQ_INT(hostmounts_state(mnt, target, err), 0);
	CHECK(stat(made, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0700);
	CHECK(is_mountpoint(target));
	CHECK(!is_mountpoint(mnt));
	snprintf(file, sizeof(file), "%s/x", target);
	CHECK(close(open(file, O_CREAT | O_WRONLY, 0600)) == 0);
	snprintf(file, sizeof(file), "%s/x", made);
	CHECK(access(file, F_OK) == 0);
	/* A second start finds it there. */
	CHECK(umount2(target, MNT_DETACH) == 0);
	plugin_mount();
	CHECK_EQ_INT(hostmounts_state(mnt, target, err), 0);
	snprintf(file, sizeof(file), "%s/x", target);
	CHECK(access(file, F_OK) == 0);
	teardown();
}

UNIT_TEST(a_state_directory_of_an_earlier_build_is_used_as_it_is)
{
	char mnt[PATH_MAX], target[PATH_MAX], d[PATH_MAX], file[PATH_MAX + 8], err[ERRMSG_LEN];

	setup();
	path(d, "host/networks");
	CHECK(mkdir(d, 0700) == 0);
	path(d, "host/keys");
	CHECK(mkdir(d, 0700) == 0);
	path(mnt, "mnt");
	path(target, "state");
	CHECK_EQ_INT(hostmounts_state(mnt, target, err), 0);
	snprintf(file, sizeof(file), "%s/keys", target);
	CHECK(access(file, F_OK) == 0);
	path(d, "host/" HOSTMOUNTS_STATE_NAME);
	CHECK(access(d, F_OK) != 0);
	teardown();
}

UNIT_TEST(a_state_name_that_is_not_a_directory_is_refused)
{
	char mnt[PATH_MAX], target[PATH_MAX], d[PATH_MAX], err[ERRMSG_LEN];

	setup();
	path(d, "host/" HOSTMOUNTS_STATE_NAME);
	CHECK(symlink("/etc", d) == 0);
	path(mnt, "mnt");
	path(target, "state");
	CHECK_EQ_INT(hostmounts_state(mnt, target, err), -ENOTDIR);
	CHECK_STR_CONTAINS(err, "not a directory");
	CHECK(!is_mountpoint(target));
	CHECK(is_mountpoint(mnt));
	teardown();
}

/* Mounts the test's network namespace on a new file NAME in DIR, as libnetwork makes a
 * sandbox. */
static int sandbox_add(const char *dir, const char *name)
{
	char file[PATH_MAX + 32];

	snprintf(file, sizeof(file), "%s/%s", dir, name);
	if (close(open(file, O_CREAT | O_WRONLY, 0444)))
		return -1;
	return mount("/proc/self/ns/net", file, NULL, MS_BIND, NULL);
}

static bool is_netns(const char *dir, const char *name)
{
	char file[PATH_MAX + 32];
	struct stat a, b;

	snprintf(file, sizeof(file), "%s/%s", dir, name);
	return !stat(file, &a) && !stat("/proc/self/ns/net", &b) && a.st_ino == b.st_ino &&
	       a.st_dev == b.st_dev;
}

UNIT_TEST(netns_is_made_and_sandboxes_mounted_before_and_after_reach_the_target)
{
	char mnt[PATH_MAX], target[PATH_MAX], netns[PATH_MAX], err[ERRMSG_LEN];
	struct stat st;

	setup();
	path(mnt, "mnt");
	path(target, "netns");
	path(netns, "host/" HOSTMOUNTS_NETNS_NAME);
	CHECK_EQ_INT(hostmounts_netns(mnt, target, err), 0);
	CHECK(stat(netns, &st) == 0 && (st.st_mode & 07777) == 0755);
	CHECK(!is_mountpoint(mnt));
	CHECK(sandbox_add(netns, "after") == 0);
	CHECK(is_netns(target, "after"));
	/* A restarted plugin finds the sandboxes that exist already. */
	CHECK(umount2(target, MNT_DETACH) == 0);
	plugin_mount();
	CHECK_EQ_INT(hostmounts_netns(mnt, target, err), 0);
	CHECK(is_netns(target, "after"));
	teardown();
}

UNIT_TEST(a_missing_exec_root_is_an_error_naming_it)
{
	char target[PATH_MAX], err[ERRMSG_LEN];

	setup();
	path(target, "netns");
	CHECK_EQ_INT(hostmounts_netns("/nonexistent-exec-root", target, err), -ENOENT);
	CHECK_STR_CONTAINS(err, "exec-root /nonexistent-exec-root");
	CHECK(!is_mountpoint(target));
	teardown();
}

UNIT_MAIN("hostmounts", UNIT_CASE(the_test_gets_a_mount_namespace_of_its_own),
	  UNIT_CASE(state_is_made_in_the_parent_bound_and_the_parent_detached),
	  UNIT_CASE(a_state_directory_of_an_earlier_build_is_used_as_it_is),
	  UNIT_CASE(a_state_name_that_is_not_a_directory_is_refused),
	  UNIT_CASE(netns_is_made_and_sandboxes_mounted_before_and_after_reach_the_target),
	  UNIT_CASE(a_missing_exec_root_is_an_error_naming_it))

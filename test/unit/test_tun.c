// SPDX-License-Identifier: MIT
/*
 * Persistent TUN devices, in a child in network namespaces of its own (the host's is never
 * touched): create, find by tag (here and in another namespace), attach once, placeholders,
 * renames.
 */
#include "unit.h"

#include "driver/tun.c"

#include <linux/if_tun.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/wait.h>

static void scenario_here(void)
{
	struct tun_link link;
	int fd, again, placeholder;

	CHECK_EQ_INT(tun_create("wgt-a"), 0);
	CHECK_EQ_INT(tun_create("wgt-a"), -EEXIST);
	CHECK(rtnl_link_exists("wgt-a"));
	CHECK_EQ_INT(tun_find(NULL, "wgt-a", &link), 0);
	CHECK(!strcmp(link.name, "wgt-a") && link.ifindex > 0 && !link.attached);
	/* Created as plain IFF_TUN, with its packet information header. */
	CHECK_EQ_INT(link.flags, IFF_TUN);
	CHECK_EQ_INT(tun_find(NULL, "wgt-none", &link), -ENODEV);

	fd = tun_attach(NULL, &link);
	CHECK(fd >= 0);
	CHECK_EQ_INT(tun_find(NULL, "wgt-a", &link), 0);
	CHECK(link.attached);
	again = tun_attach(NULL, &link);
	CHECK_EQ_INT(again, -EBUSY);
	if (fd >= 0)
		close(fd);
	/* Persistent: no holder, still there. */
	CHECK_EQ_INT(tun_find(NULL, "wgt-a", &link), 0);
	CHECK(!link.attached);

	CHECK_EQ_INT(tun_placeholder("wgt-a"), -EEXIST);
	placeholder = tun_placeholder("wgt-p");
	CHECK(placeholder >= 0);
	CHECK(rtnl_link_exists("wgt-p"));
	if (placeholder >= 0)
		close(placeholder);
	CHECK(!rtnl_link_exists("wgt-p"));

	/* A rename keeps the tag, and the tag finds it. */
	CHECK_EQ_INT(tun_rename(NULL, link.ifindex, "wg0"), 0);
	CHECK_EQ_INT(tun_find(NULL, "wgt-a", &link), 0);
	CHECK(!strcmp(link.name, "wg0"));
	CHECK_EQ_INT(tun_rename(NULL, link.ifindex, "a-name-far-too-long"), -EINVAL);
	CHECK_EQ_INT(rtnl_link_delete("wg0"), 0);
	CHECK_EQ_INT(tun_find(NULL, "wgt-a", &link), -ENODEV);
}

/* A device moved into another namespace is found and attached from there. */
static void scenario_elsewhere(void)
{
	char path[64], cmd[128];
	int ready[2], hold[2], fd;
	struct tun_link link;
	pid_t other;
	char c = 0;

	CHECK_EQ_INT(tun_create("wgt-b"), 0);
	CHECK(pipe2(ready, O_CLOEXEC) == 0 && pipe2(hold, O_CLOEXEC) == 0);
	other = fork();
	if (other == 0) {
		close(ready[0]);
		close(hold[1]);
		if (unshare(CLONE_NEWNET) || write(ready[1], "r", 1) != 1)
			_exit(1);
		while (read(hold[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(ready[1]);
	close(hold[0]);
	CHECK_EQ_INT(read(ready[0], &c, 1), 1);
	close(ready[0]);
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)other);
	snprintf(cmd, sizeof(cmd), "ip link set wgt-b netns %d", (int)other);
	CHECK_EQ_INT(system(cmd), 0);
	CHECK_EQ_INT(tun_find(NULL, "wgt-b", &link), -ENODEV);
	CHECK_EQ_INT(tun_find(path, "wgt-b", &link), 0);
	CHECK_EQ_INT(tun_rename(path, link.ifindex, "wg0"), 0);
	CHECK_EQ_INT(tun_find(path, "wgt-b", &link), 0);
	CHECK(!strcmp(link.name, "wg0"));
	fd = tun_attach(path, &link);
	CHECK(fd >= 0);
	CHECK_EQ_INT(tun_find(path, "wgt-b", &link), 0);
	CHECK(link.attached);
	if (fd >= 0)
		close(fd);
	close(hold[1]);
	CHECK_EQ_INT(waitpid(other, NULL, 0), other);
	/* Its namespace gone, the device went with it. */
	CHECK_EQ_INT(tun_find(path, "wgt-b", &link), -ENOENT);
	CHECK_EQ_INT(tun_find(NULL, "wgt-b", &link), -ENODEV);
}

UNIT_TEST(persistent_tun_devices)
{
	int status = -1;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (unshare(CLONE_NEWNET)) {
			perror("  unshare(CLONE_NEWNET)");
			_exit(1);
		}
		scenario_here();
		scenario_elsewhere();
		exit(unit_failed_checks ? 1 : 0);
	}
	CHECK_EQ_INT(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

UNIT_MAIN("tun", UNIT_CASE(persistent_tun_devices))

// SPDX-License-Identifier: MIT
/* Starting wireguard-go: its memory-limit setting, its user, and the error that names the host
 * limit when that user has no inotify instance left (a helper holds every instance that user may
 * have; nothing of the host's configuration is changed). */
#include "unit.h"

#include "driver/wggo.c"

#include <sys/socket.h>

UNIT_TEST(memlimit_syntax)
{
	uint64_t b;

	CHECK_EQ_INT(wggo_memlimit_parse("64MiB", &b), 0);
	CHECK(b == 64ull << 20);
	CHECK_EQ_INT(wggo_memlimit_parse("1GiB", &b), 0);
	CHECK(b == 1ull << 30);
	CHECK_EQ_INT(wggo_memlimit_parse("8388608", &b), 0);
	CHECK(b == 8388608);
	CHECK_EQ_INT(wggo_memlimit_parse("8388608B", &b), 0);
	CHECK_EQ_INT(wggo_memlimit_parse("off", &b), 0);
	CHECK(b == 0);
	CHECK_EQ_INT(wggo_memlimit_parse("4MiB", &b), -EINVAL); /* below WGGO_MEMLIMIT_MIN */
	CHECK_EQ_INT(wggo_memlimit_parse("64MB", &b), -EINVAL);
	CHECK_EQ_INT(wggo_memlimit_parse("64 MiB", &b), -EINVAL);
	CHECK_EQ_INT(wggo_memlimit_parse("-64MiB", &b), -EINVAL);
	CHECK_EQ_INT(wggo_memlimit_parse("", &b), -EINVAL);
	CHECK_EQ_INT(wggo_memlimit_parse("99999999999999999999", &b), -EINVAL);
	CHECK_EQ_INT(wggo_memlimit_parse("17179869184TiB", &b), -EINVAL);
}

UNIT_TEST(each_link_has_a_user_of_the_range)
{
	uid_t a = wggo_uid("wg-0123456789ab"), b = wggo_uid("wg-0123456789ac");

	UNIT_SKIP_IF(geteuid() != 0, "not root");
	CHECK(a >= WGGO_UID_FIRST && a < WGGO_UID_FIRST + WGGO_UIDS);
	CHECK(b >= WGGO_UID_FIRST && b < WGGO_UID_FIRST + WGGO_UIDS);
	CHECK(a != b);
	CHECK(a == wggo_uid("wg-0123456789ab"));
}

/* A process of user UID that holds every inotify instance the user may have, until its pipe
 * closes. Returns its pid, or -1 when the limit could not be reached. */
static pid_t hold_instances(uid_t uid, int *hold)
{
	int ready[2], keep[2];
	pid_t pid;
	char c = 0;

	if (pipe2(ready, O_CLOEXEC) || pipe2(keep, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid == 0) {
		close(ready[0]);
		close(keep[1]);
		if (setresgid(uid, uid, uid) || setresuid(uid, uid, uid))
			_exit(1);
		for (int i = 0; i < 100000; i++) {
			if (inotify_init1(IN_CLOEXEC) >= 0)
				continue;
			c = errno == EMFILE ? 'f' : 'e';
			break;
		}
		if (write(ready[1], &c, 1) != 1)
			_exit(1);
		while (read(keep[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(ready[1]);
	close(keep[0]);
	if (pid < 0 || read(ready[0], &c, 1) != 1 || c != 'f') {
		close(keep[1]);
		if (pid > 0)
			waitpid(pid, NULL, 0);
		pid = -1;
	}
	close(ready[0]);
	*hold = keep[1];
	return pid;
}

UNIT_TEST(a_user_without_inotify_instances_is_named_with_its_limit)
{
	const char *ifname = "wg-unitinotify";
	struct wggo_start start = { .program = "/bin/true", .ifname = ifname, .tun_fd = -1 };
	char why[512];
	int sv[2], hold = -1;
	pid_t holder, pid = 0;

	UNIT_SKIP_IF(geteuid() != 0, "not root");
	start.uid = wggo_uid(ifname);
	holder = hold_instances(start.uid, &hold);
	UNIT_SKIP_IF(holder < 0, "this host's inotify limit is out of reach");
	CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	start.uapi_fd = sv[0];
	CHECK_EQ_INT(wggo_spawn(&start, &pid), -EMFILE);
	CHECK_EQ_INT(pid, 0);
	CHECK(wggo_limit_explain(-EMFILE, start.uid, why, sizeof(why)));
	CHECK_STR_CONTAINS(why, "fs.inotify.max_user_instances");
	CHECK_STR_CONTAINS(why, "sysctl -w fs.inotify.max_user_instances=");
	CHECK(!wggo_limit_explain(-EIO, start.uid, why, sizeof(why)));
	close(hold);
	waitpid(holder, NULL, 0);

	/* The same start once the instances are free again. */
	CHECK_EQ_INT(wggo_spawn(&start, &pid), 0);
	CHECK(pid > 0);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	close(sv[0]);
	close(sv[1]);
}

UNIT_TEST(a_missing_program_is_enoent)
{
	struct wggo_start start = { .program = "/nonexistent/wireguard-go",
				    .ifname = "wg-x",
				    .tun_fd = -1,
				    .uapi_fd = 0 };
	pid_t pid = 1;

	CHECK_EQ_INT(wggo_spawn(&start, &pid), -ENOENT);
	CHECK_EQ_INT(pid, 0);
	start.program = "no-such-wireguard-go-program";
	CHECK_EQ_INT(wggo_spawn(&start, &pid), -ENOENT);
}

UNIT_MAIN("wggo", UNIT_CASE(memlimit_syntax), UNIT_CASE(each_link_has_a_user_of_the_range),
	  UNIT_CASE(a_user_without_inotify_instances_is_named_with_its_limit),
	  UNIT_CASE(a_missing_program_is_enoent))

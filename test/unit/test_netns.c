// SPDX-License-Identifier: MIT
/* Namespace paths as the engine sends them, and work inside a namespace (the test's own). */
#include "unit.h"

#include "driver/netns.c"

#include <sys/stat.h>

static char dir[64];

UNIT_TEST(an_existing_path_is_used_as_it_is)
{
	char out[PATH_MAX];

	CHECK_EQ_INT(netns_resolve("/proc/self/ns/net", out, sizeof(out)), 0);
	CHECK(!strcmp(out, "/proc/self/ns/net"));
	CHECK(netns_exists("/proc/self/ns/net"));
}

UNIT_TEST(another_exec_root_is_found_in_the_docker_directory)
{
	char out[PATH_MAX], file[128];

	strcpy(dir, "/tmp/unit-netns-XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	docker_dir = dir;
	snprintf(file, sizeof(file), "%s/0123456789ab", dir);
	CHECK(close(open(file, O_CREAT | O_WRONLY, 0600)) == 0);
	CHECK_EQ_INT(netns_resolve("/srv/engine/exec/netns/0123456789ab", out, sizeof(out)), 0);
	CHECK(!strcmp(out, file));
	CHECK(netns_exists("/srv/engine/exec/netns/0123456789ab"));
	CHECK_EQ_INT(netns_resolve("/srv/engine/exec/netns/ba9876543210", out, sizeof(out)),
		     -ENOENT);
	CHECK(!strcmp(out, "/srv/engine/exec/netns/ba9876543210"));
	CHECK(!netns_exists("/srv/engine/exec/netns/ba9876543210"));
	CHECK(!netns_exists(NULL));
	CHECK_EQ_INT(netns_resolve("/srv/x/", out, sizeof(out)), 0);
	CHECK_EQ_INT(netns_resolve("/proc/self/ns/net", out, 8), -ENAMETOOLONG);
	unlink(file);
	rmdir(dir);
	docker_dir = NETNS_DOCKER_DIR;
}

UNIT_TEST(sockets_and_files_inside_a_namespace)
{
	struct stat before, after;
	int fd;

	CHECK_EQ_INT(stat("/proc/thread-self/ns/net", &before), 0);
	fd = netns_socket("/proc/self/ns/net", AF_UNIX, SOCK_DGRAM, 0);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	fd = netns_open("/proc/self/ns/net", "/dev/null", O_RDONLY);
	CHECK(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC));
	if (fd >= 0)
		close(fd);
	fd = netns_open(NULL, "/dev/null", O_RDONLY);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	CHECK_EQ_INT(netns_socket("/nonexistent/ns", AF_UNIX, SOCK_DGRAM, 0), -ENOENT);
	CHECK_EQ_INT(netns_open("/nonexistent/ns", "/dev/null", O_RDONLY), -ENOENT);
	/* Not a namespace file: setns refuses, and the thread stays where it was. */
	CHECK_EQ_INT(netns_open("/dev/null", "/dev/null", O_RDONLY), -EINVAL);
	CHECK_EQ_INT(stat("/proc/thread-self/ns/net", &after), 0);
	CHECK(before.st_ino == after.st_ino);
}

UNIT_MAIN("netns", UNIT_CASE(an_existing_path_is_used_as_it_is),
	  UNIT_CASE(another_exec_root_is_found_in_the_docker_directory),
	  UNIT_CASE(sockets_and_files_inside_a_namespace))

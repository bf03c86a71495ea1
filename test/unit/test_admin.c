// SPDX-License-Identifier: MIT
/* The wgctl commands, run directly and over the wgctl socket. */
#include "../../driver/admin_cmd.c"

#include "admin.h"
#include "api.h"
#include "backends.h"
#include "helper_daemon.h"
#include "helper_fake_backend.h"
#include "state.h"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define NID   "1111111111111111111111111111111111111111111111111111111111111111"
#define EID_A "aaaaaaaaaaaa0000000000000000000000000000000000000000000000000000"
/* Computed with `wg genkey | tee priv | wg pubkey`. */
#define WG_PRIVATE "cLMkp+z2dGVJB4YiHSJAUC+DmhKcPwhPJGdO484FTF8="
#define WG_PUBLIC  "gE+QCd+ZTlRsaW+HGdmzoKJHEZjLoM3tFghZob1Tjw4="

static struct test_daemon td;
static const char *dir = td.dir;
static struct admin_text out;
static char err[ERRMSG_LEN];

static void setup(void)
{
	fake_reset();
	test_daemon_init(&td, &fake_backend);
}

static void teardown(void)
{
	admin_text_free(&out);
	test_daemon_destroy(&td);
	fake_reset();
}

/* Runs REQUEST; returns its status and leaves its lines in OUT (emptied first). */
static int run(const char *request)
{
	char buf[ADMIN_REQUEST_MAX + 1];
	int ret;

	admin_text_free(&out);
	err[0] = '\0';
	snprintf(buf, sizeof(buf), "%s", request);
	ret = admin_cmd_run(&td.d, buf, &out, err);
	return ret;
}

static const char *text(void)
{
	return out.data ? out.data : "";
}

UNIT_TEST(generate_import_list_export_delete)
{
	setup();
	CHECK_EQ_INT(run("generate identity web\n"), 0);
	CHECK_EQ_INT(out.len, 45);
	CHECK_EQ_INT(run("generate identity web\n"), -EEXIST);
	CHECK_STR_CONTAINS(err, "identity web exists already");
	CHECK_EQ_INT(run("import identity db\n" WG_PRIVATE "\n"), 0);
	CHECK(!strcmp(text(), WG_PUBLIC "\n"));
	CHECK_EQ_INT(run("import identity db\n" WG_PRIVATE "\n"), -EEXIST);
	CHECK_EQ_INT(run("generate psk p1\n"), 0);
	CHECK_EQ_INT(out.len, 0);
	CHECK_EQ_INT(run("list\n"), 0);
	CHECK_STR_CONTAINS(text(), "identity db " WG_PUBLIC "\nidentity web ");
	CHECK_STR_CONTAINS(text(), "psk p1\n");
	CHECK(!strstr(text(), WG_PRIVATE));
	CHECK_EQ_INT(run("export identity db\n"), 0);
	CHECK(!strcmp(text(), WG_PRIVATE "\n"));
	CHECK_EQ_INT(run("delete identity db\n"), 0);
	CHECK_EQ_INT(run("delete identity db\n"), -ENOENT);
	CHECK_STR_CONTAINS(err, "no identity db");
	CHECK_EQ_INT(run("export psk nope\n"), -ENOENT);
	CHECK_EQ_INT(run("delete psk p1\n"), 0);
	CHECK_EQ_INT(run("list\n"), 0);
	CHECK(!strstr(text(), "psk p1") && !strstr(text(), "identity db"));
	teardown();
}

UNIT_TEST(bad_requests)
{
	setup();
	CHECK_EQ_INT(run("frob\n"), -EINVAL);
	CHECK_STR_CONTAINS(err, "unknown command \"frob\"");
	CHECK_EQ_INT(run(""), -EINVAL);
	CHECK_EQ_INT(run("list identity x\n"), -EINVAL);
	CHECK_EQ_INT(run("generate web\n"), -EINVAL);
	CHECK_STR_CONTAINS(err, "expected identity or psk");
	CHECK_EQ_INT(run("generate identity\n"), -EINVAL);
	CHECK_EQ_INT(run("generate identity a b\n"), -EINVAL);
	CHECK_EQ_INT(run("generate identity ../x\n"), -EINVAL);
	CHECK_STR_CONTAINS(err, "generate: \"../x\" is not a key reference");
	CHECK_EQ_INT(run("import identity x\nshort\n"), -EINVAL);
	CHECK_STR_CONTAINS(err, "expected a base64 32-byte key");
	CHECK_EQ_INT(run("import identity x"), -EINVAL);
	CHECK_STR_CONTAINS(err, "no key given");
	teardown();
}

UNIT_TEST(keys_in_use_stay)
{
	static const char net[] = "{\"NetworkID\":\"" NID "\",\"Options\":{\"com.docker.network."
				  "generic\":{\"wg.policy\":\"links\"}}}";
	static const char ep[] = "{\"NetworkID\":\"" NID "\",\"EndpointID\":\"" EID_A "\","
				 "\"Interface\":{\"Address\":\"10.7.0.2/24\"},\"Options\":"
				 "{\"wg.key\":\"web\",\"wg.links\":\"db:p1\"}}";

	setup();
	CHECK_EQ_INT(run("generate identity db\n"), 0);
	CHECK_EQ_INT(run("generate psk p1\n"), 0);
	json_decref(test_daemon_call(&td, "NetworkDriver.CreateNetwork", net));
	json_decref(test_daemon_call(&td, "NetworkDriver.CreateEndpoint", ep));
	CHECK_EQ_INT(run("delete identity web\n"), -EBUSY);
	CHECK_STR_CONTAINS(err, "identity web is in use by endpoint aaaaaaaaaaaa");
	CHECK_EQ_INT(run("delete psk p1\n"), -EBUSY);
	CHECK_EQ_INT(run("links\n"), 0);
	CHECK(!strcmp(text(), "111111111111 db web p1 waiting\n"));
	/* db has no live endpoint: its key may go, and the link waits for another. */
	CHECK_EQ_INT(run("delete identity db\n"), 0);
	teardown();
}

/* Sends REQUEST on a new connection to PATH and reads the whole reply into REPLY (LEN bytes). */
static void exchange(const struct sockaddr_un *addr, const char *request, char *reply, size_t len)
{
	size_t got = 0;
	ssize_t n = 0;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	CHECK(!connect(fd, (const struct sockaddr *)addr, sizeof(*addr)));
	CHECK_EQ_INT(write(fd, request, strlen(request)), (long long)strlen(request));
	shutdown(fd, SHUT_WR);
	while (got < len - 1 && (n = read(fd, reply + got, len - 1 - got)) > 0)
		got += (size_t)n;
	reply[got] = '\0';
	close(fd);
}

UNIT_TEST(socket_round_trip)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct admin *a = NULL;
	char reply[256];
	struct stat st;

	setup();
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/wgctl.sock", dir);
	CHECK_EQ_INT(admin_start(&td.d, addr.sun_path, &a, err), 0);
	CHECK(!stat(addr.sun_path, &st) && (st.st_mode & 0777) == 0600);
	exchange(&addr, "generate identity x\n", reply, sizeof(reply));
	CHECK(strlen(reply) == 3 + 45 && !strncmp(reply, "ok\n", 3));
	exchange(&addr, "generate identity x\n", reply, sizeof(reply));
	CHECK_STR_CONTAINS(reply, "error identity x exists already");
	admin_stop(a);
	CHECK(access(addr.sun_path, F_OK) != 0);
	teardown();
}

/* At start a socket file a dead daemon left is replaced; anything else at that path is not
 * ours to remove. */
UNIT_TEST(only_a_stale_socket_is_replaced)
{
	char path[128];
	struct admin *a = NULL;
	int fd;

	setup();
	snprintf(path, sizeof(path), "%s/wgctl.sock", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	CHECK(fd >= 0 && close(fd) == 0);
	CHECK_EQ_INT(admin_start(&td.d, path, &a, err), -EEXIST);
	CHECK_STR_CONTAINS(err, "exists and is not a socket; not removed");
	CHECK(access(path, F_OK) == 0 && a == NULL);
	unlink(path);
	CHECK_EQ_INT(admin_start(&td.d, path, &a, err), 0);
	admin_stop(a);
	teardown();
}

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* A client that sends a byte now and then gets ADMIN_TIMEOUT_MS in all, not per byte: before,
 * one that kept trickling held the socket, and every other wgctl, for as long as it liked. */
UNIT_TEST(a_slow_client_gets_one_deadline_in_all)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct admin *a = NULL;
	long long start, took = 0;
	char reply[256];
	ssize_t n;
	int fd;

	setup();
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/wgctl.sock", dir);
	CHECK_EQ_INT(admin_start(&td.d, addr.sun_path, &a, err), 0);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(!connect(fd, (const struct sockaddr *)&addr, sizeof(addr)));
	start = now_ms();
	/* One byte every 500 ms, for up to three deadlines, until the daemon answers. */
	for (int i = 0; i < 3 * ADMIN_TIMEOUT_MS / 500; i++) {
		if (send(fd, "l", 1, MSG_NOSIGNAL) != 1)
			break;
		n = recv(fd, reply, sizeof(reply) - 1, MSG_DONTWAIT);
		if (n > 0 || (n < 0 && errno != EAGAIN)) {
			reply[n > 0 ? n : 0] = '\0';
			break;
		}
		usleep(500 * 1000);
	}
	took = now_ms() - start;
	close(fd);
	CHECK(took < ADMIN_TIMEOUT_MS + 1500);
	/* And the next client is served. */
	exchange(&addr, "list\n", reply, sizeof(reply));
	CHECK(!strncmp(reply, "ok\n", 3));
	admin_stop(a);
	teardown();
}

/* Out of descriptors, accept() fails at once for as long as a client waits: the thread must back
 * off, not spin (before, it took a whole core). */
UNIT_TEST(a_failing_accept_does_not_spin)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct timespec cpu0, cpu1;
	struct rlimit old, low;
	struct admin *a = NULL;
	long long used;
	int fd, spare;

	setup();
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/wgctl.sock", dir);
	CHECK_EQ_INT(admin_start(&td.d, addr.sun_path, &a, err), 0);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(!connect(fd, (const struct sockaddr *)&addr, sizeof(addr)));
	/* The lowest limit that keeps the descriptors open now: the next one fails. */
	spare = dup(0);
	close(spare);
	getrlimit(RLIMIT_NOFILE, &old);
	low = old;
	low.rlim_cur = (rlim_t)spare;
	CHECK(!setrlimit(RLIMIT_NOFILE, &low));
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu0);
	usleep(1000 * 1000);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu1);
	CHECK(!setrlimit(RLIMIT_NOFILE, &old));
	used = (cpu1.tv_sec - cpu0.tv_sec) * 1000LL + (cpu1.tv_nsec - cpu0.tv_nsec) / 1000000;
	CHECK(used < 300);
	close(fd);
	admin_stop(a);
	teardown();
}

UNIT_MAIN("admin", UNIT_CASE(generate_import_list_export_delete), UNIT_CASE(bad_requests),
	  UNIT_CASE(keys_in_use_stay), UNIT_CASE(socket_round_trip),
	  UNIT_CASE(only_a_stale_socket_is_replaced),
	  UNIT_CASE(a_slow_client_gets_one_deadline_in_all),
	  UNIT_CASE(a_failing_accept_does_not_spin))

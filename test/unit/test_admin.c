// SPDX-License-Identifier: MIT
/* The wgctl commands, run directly and over the wgctl socket. */
#include "../../driver/admin_cmd.c"

#include "admin.h"
#include "api.h"
#include "backends.h"
#include "helper_fake_backend.h"
#include "state.h"
#include "unit.h"

#include <ftw.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define NID   "1111111111111111111111111111111111111111111111111111111111111111"
#define EID_A "aaaaaaaaaaaa0000000000000000000000000000000000000000000000000000"
/* Computed with `wg genkey | tee priv | wg pubkey`. */
#define WG_PRIVATE "cLMkp+z2dGVJB4YiHSJAUC+DmhKcPwhPJGdO484FTF8="
#define WG_PUBLIC  "gE+QCd+ZTlRsaW+HGdmzoKJHEZjLoM3tFghZob1Tjw4="

static char dir[64];
static struct admin_text out;
static char err[ERRMSG_LEN];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void setup(void)
{
	char keys[128];

	strcpy(dir, "/tmp/unit-admin-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	snprintf(keys, sizeof(keys), "%s/keys", dir);
	if (state_init(dir, err) || keystore_init(keys))
		abort();
	backends_set_default(&fake_backend, "fake: unit test");
	fake_reset();
}

static void teardown(void)
{
	admin_text_free(&out);
	network_finalise();
	keystore_finalise();
	fake_reset();
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* Runs REQUEST; returns its status and leaves its lines in OUT (emptied first). */
static int run(const char *request)
{
	char buf[ADMIN_REQUEST_MAX + 1];

	admin_text_free(&out);
	err[0] = '\0';
	snprintf(buf, sizeof(buf), "%s", request);
	return admin_cmd_run(buf, &out, err);
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
	free(api_handle("/NetworkDriver.CreateNetwork", net, strlen(net)));
	free(api_handle("/NetworkDriver.CreateEndpoint", ep, strlen(ep)));
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
	char reply[256];
	struct stat st;

	setup();
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/wgctl.sock", dir);
	CHECK_EQ_INT(admin_start(addr.sun_path, err), 0);
	CHECK(!stat(addr.sun_path, &st) && (st.st_mode & 0777) == 0600);
	exchange(&addr, "generate identity x\n", reply, sizeof(reply));
	CHECK(strlen(reply) == 3 + 45 && !strncmp(reply, "ok\n", 3));
	exchange(&addr, "generate identity x\n", reply, sizeof(reply));
	CHECK_STR_CONTAINS(reply, "error identity x exists already");
	admin_stop();
	CHECK(access(addr.sun_path, F_OK) != 0);
	teardown();
}

UNIT_MAIN("admin", UNIT_CASE(generate_import_list_export_delete), UNIT_CASE(bad_requests),
	  UNIT_CASE(keys_in_use_stay), UNIT_CASE(socket_round_trip))

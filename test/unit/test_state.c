// SPDX-License-Identifier: MIT
/* Network files that cannot be read, files that lie, and temp files left by interrupted writes.
 * A state file is input like any other: it is loaded through the checks the API makes. */
#include "unit.h"

#include "driver/state.c"

#include "helper_daemon.h"
#include "helper_fake_backend.h"

#define NID_GOOD "1111111111111111111111111111111111111111111111111111111111111111"
#define NID_BAD	 "2222222222222222222222222222222222222222222222222222222222222222"
#define NID_NONE "3333333333333333333333333333333333333333333333333333333333333333"
#define EID_A	 "aaaaaaaaaaaa0000000000000000000000000000000000000000000000000000"
#define EID_B	 "bbbbbbbbbbbb0000000000000000000000000000000000000000000000000000"

static struct test_daemon td;

static void write_file(const char *name, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/networks/%s", td.dir, name);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static bool exists(const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/networks/%s", td.dir, name);
	return access(path, F_OK) == 0;
}

static int load(void)
{
	int ret;

	wgd_lock(&td.d);
	ret = state_load(&td.d);
	wgd_unlock(&td.d);
	return ret;
}

/* Loads a daemon's state from a single network file with TEXT as NID's: the number loaded. */
static int load_only(const char *nid, const char *text)
{
	test_daemon_restart(&td);
	write_file(nid, text);
	return load();
}

/* A network file with one endpoint whose fields are FIELDS (JSON members, after the ID). */
#define NETWORK_WITH(nid, mtu, endpoint)                                                      \
	"{\"version\":1,\"id\":\"" nid "\",\"mtu\":" mtu ",\"psk\":true,\"policy\":\"mesh\"," \
	"\"ipv6\":false,\"endpoints\":[" endpoint "]}"
#define ENDPOINT(id, extra)                                                                    \
	"{\"id\":\"" id "\",\"key\":\"" id "\",\"address\":\"10.7.0.2/24\",\"address6\":\"\"," \
	"\"listen_port\":4000,\"joined\":true" extra "}"

static void start(void)
{
	uint8_t key[WG_KEY_LEN];

	fake_reset();
	test_daemon_init(&td, &fake_backend);
	/* The identities the files below name exist. */
	CHECK_EQ_INT(keystore_identity_get(td.d.keys, EID_A, true, key, NULL), 0);
	CHECK_EQ_INT(keystore_identity_get(td.d.keys, EID_B, true, key, NULL), 0);
}

UNIT_TEST(an_unreadable_file_is_named_and_the_others_load)
{
	struct network_options opts = { .mtu = 1420, .psk = true };
	char err[ERRMSG_LEN];

	start();
	wgd_lock(&td.d);
	CHECK_EQ_INT(network_create(&td.d, NID_GOOD, &opts, false, err), 0);
	wgd_unlock(&td.d);
	test_daemon_restart(&td);
	write_file(NID_BAD ".json", "{\"version\":1,\"id\":\"" NID_BAD "\",\"mtu\":14");
	write_file("." NID_GOOD ".json.Ab12Cd", "{\"half\":");

	CHECK_EQ_INT(load(), 1);
	CHECK(network_find(&td.d, NID_GOOD) != NULL && network_find(&td.d, NID_BAD) == NULL);
	CHECK(!exists("." NID_GOOD ".json.Ab12Cd"));
	CHECK(exists(NID_BAD ".json"));
	CHECK_EQ_INT(state_network_error(&td.d, NID_BAD, err), -EIO);
	CHECK_STR_CONTAINS(err, "NetworkID 222222222222: state file ");
	CHECK_STR_CONTAINS(err, "/networks/" NID_BAD ".json: not valid JSON");
	CHECK_EQ_INT(state_network_error(&td.d, NID_NONE, err), -ENOENT);
	CHECK_STR_CONTAINS(err, "no such network");

	test_daemon_restart(&td);
	CHECK_EQ_INT(state_network_error(&td.d, NID_BAD, err), -ENOENT);
	test_daemon_destroy(&td);
}

UNIT_TEST(a_file_that_names_another_network_or_a_path_is_refused)
{
	char err[ERRMSG_LEN];

	start();
	/* Its ID would make the next save write outside networks/. */
	CHECK_EQ_INT(load_only(NID_BAD ".json", NETWORK_WITH("../../x", "1420", "")), 0);
	CHECK_EQ_INT(state_network_error(&td.d, NID_BAD, err), -EIO);
	CHECK_STR_CONTAINS(err, "id \"../../x\": expected the file's name");
	CHECK_EQ_INT(load_only(NID_BAD ".json", NETWORK_WITH(NID_GOOD, "1420", "")), 0);
	CHECK_EQ_INT(load_only(NID_BAD ".json", NETWORK_WITH(NID_BAD, "1420", "")), 1);
	test_daemon_destroy(&td);
}

UNIT_TEST(settings_the_api_refuses_are_refused)
{
	char err[ERRMSG_LEN];

	start();
	CHECK_EQ_INT(load_only(NID_BAD ".json", NETWORK_WITH(NID_BAD, "70000", "")), 0);
	CHECK_EQ_INT(state_network_error(&td.d, NID_BAD, err), -EIO);
	CHECK_STR_CONTAINS(err, "mtu 70000: expected 1280 to 65455");
	CHECK_EQ_INT(load_only(NID_BAD ".json",
			       NETWORK_WITH(NID_BAD, "1420", ENDPOINT("../../etc/x", ""))),
		     0);
	CHECK_EQ_INT(state_network_error(&td.d, NID_BAD, err), -EIO);
	CHECK_STR_CONTAINS(err, "not an endpoint ID");
	CHECK_EQ_INT(load_only(NID_BAD ".json",
			       NETWORK_WITH(NID_BAD, "1420",
					    ENDPOINT(EID_A,
						     ",\"sandbox\":\"../../proc/1/ns/net\""))),
		     0);
	CHECK_EQ_INT(load_only(NID_BAD ".json",
			       NETWORK_WITH(NID_BAD, "1420",
					    ENDPOINT(EID_A, "") "," ENDPOINT(EID_A, ""))),
		     0);
	CHECK_EQ_INT(state_network_error(&td.d, NID_BAD, err), -EIO);
	CHECK_STR_CONTAINS(err, "link name wg-aaaaaaaaaaaa is taken");
	CHECK_EQ_INT(load_only(NID_BAD ".json",
			       NETWORK_WITH(NID_BAD, "1420",
					    "{\"id\":\"" EID_A "\",\"key\":\"../x\",\"address\":"
					    "\"10.7.0.2/24\",\"address6\":\"\",\"listen_port\":1,"
					    "\"joined\":false}")),
		     0);
	test_daemon_destroy(&td);
}

/* jansson's "i" cut 4294968716 to 1420: numbers are read whole and checked before they are
 * narrowed (found by fuzzing, test/fuzz/corpus/fuzz_state/regress-integer-cut-to-int). */
UNIT_TEST(numbers_too_large_for_their_field_are_refused_not_cut)
{
	char err[ERRMSG_LEN];

	start();
	CHECK_EQ_INT(load_only(NID_BAD ".json", NETWORK_WITH(NID_BAD, "4294968716", "")), 0);
	CHECK_EQ_INT(state_network_error(&td.d, NID_BAD, err), -EIO);
	CHECK_STR_CONTAINS(err, "mtu 4294968716: expected 1280 to 65455");
	CHECK_EQ_INT(load_only(NID_BAD ".json",
			       NETWORK_WITH(NID_BAD, "1420",
					    "{\"id\":\"" EID_A "\",\"key\":\"" EID_A "\","
					    "\"address\":\"10.7.0.2/24\",\"address6\":\"\","
					    "\"listen_port\":4294971296,\"joined\":true}")),
		     0);
	CHECK_EQ_INT(state_network_error(&td.d, NID_BAD, err), -EIO);
	CHECK_STR_CONTAINS(err, "invalid key, port, serve");
	CHECK_EQ_INT(load_only(NID_BAD ".json",
			       NETWORK_WITH(NID_BAD, "1420",
					    ENDPOINT(EID_A, ",\"serve\":4294967296"))),
		     0);
	test_daemon_destroy(&td);
}

/* A network's pools and its outside peers go to its file and come back as they were; an outside
 * peer that lies (a key that is none, an address of no family) takes its network down. */
UNIT_TEST(pools_and_outside_peers_survive_a_restart)
{
	struct network_options opts = { .mtu = 1420, .psk = true, .own_ipam = true };
	struct endpoint *o;
	struct network *net;
	char err[ERRMSG_LEN];

	start();
	snprintf(opts.pool4, sizeof(opts.pool4), "10.9.0.0/24");
	wgd_lock(&td.d);
	CHECK_EQ_INT(network_create(&td.d, NID_GOOD, &opts, false, err), 0);
	net = network_find(&td.d, NID_GOOD);
	o = outside_new(err);
	CHECK(o != NULL);
	o->net = net;
	strcpy(o->key_ref, "laptop");
	memset(o->public_key, 7, WG_KEY_LEN);
	CHECK_EQ_INT(addr_parse("10.9.0.200/24", AF_INET, &o->addr4), 0);
	strcpy(o->outside->via, "vpn.example.org");
	o->outside->ipam = true;
	net->outside = o;
	CHECK_EQ_INT(state_save(net, err), 0);
	wgd_unlock(&td.d);
	test_daemon_restart(&td);
	CHECK_EQ_INT(load(), 1);
	net = network_find(&td.d, NID_GOOD);
	CHECK(net && !strcmp(net->opts.pool4, "10.9.0.0/24") && net->opts.own_ipam);
	o = net ? net->outside : NULL;
	CHECK(o && !strcmp(o->key_ref, "laptop") && o->joined && o->outside->ipam &&
	      !o->outside->key_made && !strcmp(o->outside->via, "vpn.example.org") &&
	      o->public_key[31] == 7 && o->addr4.family == AF_INET && !o->next);
	CHECK_EQ_INT(load_only(NID_BAD ".json",
			       "{\"version\":1,\"id\":\"" NID_BAD "\",\"mtu\":1420,\"psk\":true,"
			       "\"ipv6\":false,\"endpoints\":[],\"outside\":[{\"id\":\"" EID_B
			       "\",\"name\":\"x\",\"pub\":\"notakey\",\"address\":\"10.9.0.9/24\","
			       "\"address6\":\"\",\"links\":\"\",\"via\":\"\",\"key_made\":false,"
			       "\"ipam\":false}]}"),
		     1); /* NID_GOOD's file only */
	CHECK_EQ_INT(state_network_error(&td.d, NID_BAD, err), -EIO);
	CHECK_STR_CONTAINS(err, "outside peer x: invalid key, address or via");
	test_daemon_destroy(&td);
}

/* A file that names a link such as eth0: the name follows from the endpoint's ID, so nothing a
 * file says makes the daemon touch (or, at start, delete) another link. */
UNIT_TEST(the_link_name_comes_from_the_id_not_the_file)
{
	struct endpoint *ep;

	start();
	CHECK_EQ_INT(load_only(NID_GOOD ".json",
			       NETWORK_WITH(NID_GOOD, "1420",
					    ENDPOINT(EID_A, ",\"ifname\":\"eth0\""))),
		     1);
	ep = endpoint_find(network_find(&td.d, NID_GOOD), EID_A);
	CHECK(ep && !strcmp(ep->ifname, "wg-aaaaaaaaaaaa"));
	/* And the next save does not write it. */
	wgd_lock(&td.d);
	CHECK_EQ_INT(state_save(ep->net, (char[ERRMSG_LEN]){ 0 }), 0);
	wgd_unlock(&td.d);
	test_daemon_restart(&td);
	CHECK_EQ_INT(load(), 1);
	CHECK(endpoint_find(network_find(&td.d, NID_GOOD), EID_A) != NULL);
	test_daemon_destroy(&td);
}

UNIT_TEST(the_state_directory_must_be_ours_alone)
{
	struct wgd d;
	struct wgd_config cfg = { .state_dir = NULL };
	char dir[64], link[80], err[ERRMSG_LEN];

	strcpy(dir, "/tmp/unit-statedir-XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	CHECK(chmod(dir, 0775) == 0);
	cfg.state_dir = dir;
	CHECK_EQ_INT(wgd_init(&d, &cfg, err), -EPERM);
	CHECK_STR_CONTAINS(err, "mode 0775: others may write to it");
	wgd_destroy(&d);
	/* Readable by others is not a risk: the keys below it have private directories. */
	CHECK(chmod(dir, 0755) == 0);
	CHECK_EQ_INT(wgd_init(&d, &cfg, err), 0);
	wgd_destroy(&d);
	CHECK(chmod(dir, 0700) == 0);
	snprintf(link, sizeof(link), "%s.link", dir);
	CHECK(symlink(dir, link) == 0);
	cfg.state_dir = link;
	CHECK_EQ_INT(wgd_init(&d, &cfg, err), -ENOTDIR);
	CHECK_STR_CONTAINS(err, "not a directory");
	wgd_destroy(&d);
	cfg.state_dir = dir;
	CHECK_EQ_INT(wgd_init(&d, &cfg, err), 0);
	wgd_destroy(&d);
	unlink(link);
	snprintf(link, sizeof(link), "rm -rf %s", dir);
	CHECK(system(link) == 0);
}

UNIT_MAIN("state", UNIT_CASE(an_unreadable_file_is_named_and_the_others_load),
	  UNIT_CASE(a_file_that_names_another_network_or_a_path_is_refused),
	  UNIT_CASE(settings_the_api_refuses_are_refused),
	  UNIT_CASE(numbers_too_large_for_their_field_are_refused_not_cut),
	  UNIT_CASE(pools_and_outside_peers_survive_a_restart),
	  UNIT_CASE(the_link_name_comes_from_the_id_not_the_file),
	  UNIT_CASE(the_state_directory_must_be_ours_alone))

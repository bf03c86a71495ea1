// SPDX-License-Identifier: MIT
/* Endpoint identities and links end to end over the fake backend: wg.key and wg.links, the
 * links policy, named keys that outlive endpoints, and resolution after Join. */
#include "../../driver/identity.c"

#include "api.h"
#include "backends.h"
#include "helper_daemon.h"
#include "helper_fake_backend.h"
#include "keystore.h"
#include "peers.h"
#include "peersync.h"
#include "state.h"
#include "unit.h"

#include <sodium.h>
#include <unistd.h>

#define NID   "1111111111111111111111111111111111111111111111111111111111111111"
#define EID_A "aaaaaaaaaaaa0000000000000000000000000000000000000000000000000000"
#define EID_B "bbbbbbbbbbbb0000000000000000000000000000000000000000000000000000"
#define EID_C "cccccccccccc0000000000000000000000000000000000000000000000000000"

static struct test_daemon td;
static const char *dir = td.dir;
static const struct endpoint *requested;

static void record_request(void *ctx, const struct endpoint *ep)
{
	requested = ep;
}

static void setup(bool with_resolver)
{
	fake_reset();
	test_daemon_init(&td, &fake_backend);
	td.d.resolve = with_resolver ? record_request : NULL;
	requested = NULL;
}

static void teardown(void)
{
	test_daemon_destroy(&td);
	fake_reset();
}

/* endpoint_resolve as the engine resolver calls it, and the peer programming it queues. */
static int resolve(struct endpoint *c, const char *key, struct link_set *links, char *err)
{
	int ret;

	wgd_lock(&td.d);
	ret = endpoint_resolve(c, key, links, err);
	wgd_unlock(&td.d);
	peersync_flush(&td.d);
	return ret;
}

static int load(void)
{
	int ret;

	wgd_lock(&td.d);
	ret = state_load(&td.d);
	wgd_unlock(&td.d);
	return ret;
}

/* Calls METHOD with the request J (taken); returns the Err or NULL. The text is kept until the
 * next call. */
static const char *call(const char *method, json_t *j)
{
	static char *answer;
	char path[64], *body = json_dumps(j, JSON_COMPACT);
	json_t *a;

	free(answer);
	snprintf(path, sizeof(path), "/NetworkDriver.%s", method);
	answer = api_handle(&td.d, path, body, strlen(body));
	peersync_flush(&td.d);
	free(body);
	json_decref(j);
	a = json_loads(answer, 0, NULL);
	if (!json_object_get(a, "Err")) {
		json_decref(a);
		return NULL;
	}
	snprintf(answer, strlen(answer) + 1, "%s", json_string_value(json_object_get(a, "Err")));
	json_decref(a);
	return answer;
}

static void create_network(const char *policy)
{
	CHECK(!call("CreateNetwork", json_pack("{s:s, s:{s:{s:s}}}", "NetworkID", NID, "Options",
					       "com.docker.network.generic", "wg.policy", policy)));
}

/* CreateEndpoint with OPTIONS (a JSON text); returns the Err or NULL. */
static const char *create(const char *eid, const char *addr, const char *options)
{
	return call("CreateEndpoint", json_pack("{s:s, s:s, s:{s:s}, s:o}", "NetworkID", NID,
						"EndpointID", eid, "Interface", "Address", addr,
						"Options", json_loads(options, 0, NULL)));
}

static const char *join(const char *eid)
{
	return call("Join", json_pack("{s:s, s:s, s:s}", "NetworkID", NID, "EndpointID", eid,
				      "SandboxKey", "/var/run/docker/netns/0123456789ab"));
}

static const char *delete (const char *eid)
{
	return call("DeleteEndpoint", json_pack("{s:s, s:s}", "NetworkID", NID, "EndpointID", eid));
}

static struct endpoint *ep(const char *eid)
{
	return endpoint_find(network_find(&td.d, NID), eid);
}

static struct fake_link *link_of(const char *eid)
{
	return fake_link_find(ep(eid)->ifname);
}

static bool key_file(const char *sub, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/keys/%s/%s", dir, sub, name);
	return access(path, F_OK) == 0;
}

UNIT_TEST(links_policy_peers_only_linked)
{
	struct wg_peer *ab, *ba;
	uint8_t psk[WG_KEY_LEN];

	setup(false);
	create_network("links");
	CHECK(!create(EID_A, "10.7.0.2/24", "{\"wg.key\":\"db\"}"));
	CHECK(!create(EID_B, "10.7.0.3/24", "{\"wg.key\":\"web\",\"wg.links\":\"db\"}"));
	CHECK(!create(EID_C, "10.7.0.4/24", "{\"wg.key\":\"cache\"}"));
	CHECK(!join(EID_A) && !join(EID_B) && !join(EID_C));
	CHECK_EQ_INT(link_of(EID_A)->dev.n_peers, 1);
	CHECK_EQ_INT(link_of(EID_B)->dev.n_peers, 1);
	CHECK_EQ_INT(link_of(EID_C)->dev.n_peers, 0);
	CHECK(!peers_linked(ep(EID_A), ep(EID_C)) && !peers_linked(ep(EID_C), ep(EID_B)));
	ab = fake_peer_find(link_of(EID_A), ep(EID_B)->public_key);
	ba = fake_peer_find(link_of(EID_B), ep(EID_A)->public_key);
	CHECK(ab && ba && ab->has_preshared_key &&
	      !memcmp(ab->preshared_key, ba->preshared_key, WG_KEY_LEN));
	/* Derived from the host's link secret, not stored per pair. */
	CHECK(!key_file("link", "db+web.psk"));
	CHECK(!keystore_psk_derive(td.d.keys, ep(EID_A)->public_key, ep(EID_B)->public_key, psk));
	CHECK(ab && !memcmp(ab->preshared_key, psk, WG_KEY_LEN));
	sodium_memzero(psk, sizeof(psk));
	teardown();
}

UNIT_TEST(mesh_with_named_keys_and_psk)
{
	uint8_t psk[WG_KEY_LEN];
	struct wg_peer *ab, *ac;

	setup(false);
	create_network("mesh");
	CHECK(!keystore_psk_ref_get(td.d.keys, "shared", true, psk, NULL));
	CHECK(!create(EID_A, "10.7.0.2/24", "{\"wg.key\":\"a\"}"));
	CHECK(!create(EID_B, "10.7.0.3/24", "{\"wg.key\":\"b\",\"wg.links\":\"a:shared\"}"));
	CHECK(!create(EID_C, "10.7.0.4/24", "{}"));
	CHECK(!join(EID_A) && !join(EID_B) && !join(EID_C));
	CHECK_EQ_INT(link_of(EID_C)->dev.n_peers, 2);
	ab = fake_peer_find(link_of(EID_A), ep(EID_B)->public_key);
	ac = fake_peer_find(link_of(EID_A), ep(EID_C)->public_key);
	/* The link that names a PSK uses it on both ends; the others use their pair's own. */
	CHECK(ab && !memcmp(ab->preshared_key, psk, WG_KEY_LEN));
	CHECK(ac && ac->has_preshared_key && memcmp(ac->preshared_key, psk, WG_KEY_LEN));
	sodium_memzero(psk, sizeof(psk));
	teardown();
}

UNIT_TEST(named_keys_outlive_endpoints)
{
	uint8_t pub[WG_KEY_LEN], psk[WG_KEY_LEN];
	struct wg_peer *ab;

	setup(false);
	create_network("links");
	CHECK(!create(EID_A, "10.7.0.2/24", "{\"wg.key\":\"db\"}"));
	CHECK(!create(EID_B, "10.7.0.3/24", "{\"wg.key\":\"web\",\"wg.links\":\"db\"}"));
	CHECK(!create(EID_C, "10.7.0.4/24", "{\"wg.links\":\"db\"}"));
	CHECK(!join(EID_A) && !join(EID_B) && !join(EID_C));
	memcpy(pub, ep(EID_B)->public_key, WG_KEY_LEN);
	ab = fake_peer_find(link_of(EID_A), pub);
	CHECK(ab != NULL);
	if (ab)
		memcpy(psk, ab->preshared_key, WG_KEY_LEN);
	CHECK(!delete (EID_A) && !delete (EID_B) && !delete (EID_C));
	/* Named identities stay; the generated key goes; no link has a file. */
	CHECK(key_file("identity", "db.key") && key_file("identity", "web.key"));
	CHECK(!key_file("identity", EID_C ".key"));
	CHECK(!key_file("link", "db+web.psk") && !key_file("link", "db+" EID_C ".psk"));
	/* The same references give the same public keys, and their link the same PSK. */
	CHECK(!create(EID_A, "10.7.0.2/24", "{\"wg.key\":\"db\"}"));
	CHECK(!create(EID_C, "10.7.0.4/24", "{\"wg.key\":\"web\",\"wg.links\":\"db\"}"));
	CHECK(!memcmp(ep(EID_C)->public_key, pub, WG_KEY_LEN));
	CHECK(!join(EID_A) && !join(EID_C));
	ab = fake_peer_find(link_of(EID_C), ep(EID_A)->public_key);
	CHECK(ab && !memcmp(ab->preshared_key, psk, WG_KEY_LEN));
	sodium_memzero(psk, sizeof(psk));
	teardown();
}

UNIT_TEST(refusals_change_nothing)
{
	setup(false);
	create_network("links");
	CHECK(!create(EID_A, "10.7.0.2/24", "{\"wg.key\":\"db\"}"));
	CHECK_STR_CONTAINS(create(EID_B, "10.7.0.3/24", "{\"wg.key\":\"db\"}"),
			   "key \"db\" is in use by endpoint aaaaaaaaaaaa");
	CHECK_STR_CONTAINS(create(EID_B, "10.7.0.3/24", "{\"wg.key\":\"w\",\"wg.links\":\"dv\"}"),
			   "link to \"dv\": no identity has that key reference");
	CHECK_STR_CONTAINS(create(EID_B, "10.7.0.3/24",
				  "{\"wg.key\":\"w\",\"wg.links\":\"db:nope\"}"),
			   "no preshared key \"nope\"");
	CHECK_STR_CONTAINS(create(EID_B, "10.7.0.3/24", "{\"wg.key\":\"../x\"}"),
			   "Options.wg.key: \"../x\" is not a key reference");
	CHECK_STR_CONTAINS(create(EID_B, "10.7.0.3/24", "{\"wg.key\":true}"),
			   "Options.wg.key: expected a string");
	CHECK(ep(EID_B) == NULL);
	CHECK(!key_file("identity", "w.key"));
	teardown();
}

UNIT_TEST(waiting_endpoint_has_no_peers_until_resolved)
{
	struct link_set links = { 0 };
	char err[ERRMSG_LEN], gen[128];
	uint8_t priv[WG_KEY_LEN];
	struct endpoint *c;

	setup(true);
	create_network("links");
	CHECK(!create(EID_A, "10.7.0.2/24", "{\"wg.key\":\"db\"}"));
	CHECK(!create(EID_C, "10.7.0.4/24", "{}"));
	c = ep(EID_C);
	CHECK(c->pending && !ep(EID_A)->pending);
	/* Every joined endpoint goes to the resolver (for its container's name); only C waits. */
	CHECK(!join(EID_A) && requested == ep(EID_A) && !ep(EID_A)->pending);
	CHECK(!join(EID_C) && requested == c);
	CHECK_EQ_INT(link_of(EID_C)->dev.n_peers, 0);
	snprintf(gen, sizeof(gen), "%s.key", EID_C);
	CHECK(key_file("identity", gen));
	/* What the resolver found: label wireguard.key=web, a link to db. */
	CHECK(!links_add(&links, "db", NULL));
	CHECK_EQ_INT(resolve(c, "web", &links, err), 0);
	CHECK(!c->pending && !strcmp(c->key_ref, "web") && links.n == 0 && c->links.n == 1);
	CHECK(!keystore_identity_get(td.d.keys, "web", false, priv, NULL));
	CHECK(!memcmp(link_of(EID_C)->dev.private_key, priv, WG_KEY_LEN));
	sodium_memzero(priv, sizeof(priv));
	CHECK_EQ_INT(link_of(EID_C)->dev.n_peers, 1);
	CHECK(fake_peer_find(link_of(EID_A), c->public_key) != NULL);
	CHECK(!key_file("identity", gen));
	/* Resolved once is resolved: a second call changes nothing. */
	CHECK_EQ_INT(resolve(c, "other", &links, err), 0);
	CHECK(!strcmp(c->key_ref, "web"));
	/* And it is on disk. */
	test_daemon_restart(&td);
	CHECK_EQ_INT(load(), 1);
	CHECK(!ep(EID_C)->pending && !strcmp(ep(EID_C)->links.v[0].peer, "db"));
	teardown();
}

UNIT_TEST(failed_resolution_keeps_waiting)
{
	struct link_set links = { 0 };
	char err[ERRMSG_LEN];
	struct endpoint *c;

	setup(true);
	create_network("mesh");
	CHECK(!create(EID_A, "10.7.0.2/24", "{\"wg.key\":\"db\"}"));
	CHECK(!create(EID_C, "10.7.0.4/24", "{}"));
	CHECK(!join(EID_A) && !join(EID_C));
	c = ep(EID_C);
	CHECK_EQ_INT(resolve(c, "db", &links, err), -EEXIST);
	CHECK_STR_CONTAINS(err,
			   "label wireguard.key: key \"db\" is in use by endpoint aaaaaaaaaaaa");
	CHECK(c->pending && !strcmp(c->key_ref, EID_C));
	CHECK_EQ_INT(link_of(EID_C)->dev.n_peers, 0);
	CHECK_EQ_INT(link_of(EID_A)->dev.n_peers, 0);
	CHECK(!key_file("identity", "web.key"));
	/* Without a label it keeps its generated key; under mesh it peers with everyone. */
	CHECK_EQ_INT(resolve(c, NULL, &links, err), 0);
	CHECK(!c->pending && !strcmp(c->key_ref, EID_C));
	CHECK_EQ_INT(link_of(EID_A)->dev.n_peers, 1);
	CHECK_EQ_INT(link_of(EID_C)->dev.n_peers, 1);
	teardown();
}

/* The link of a resolved endpoint gets its new key and its peers even when the backend fails at
 * first: the work is retried, and the endpoint is not left waiting for a backend's hiccup. */
UNIT_TEST(resolution_is_programmed_when_the_backend_works_again)
{
	struct link_set links = { 0 };
	char err[ERRMSG_LEN];
	uint8_t priv[WG_KEY_LEN];
	struct endpoint *c;

	setup(true);
	create_network("mesh");
	CHECK(!create(EID_A, "10.7.0.2/24", "{\"wg.key\":\"db\"}"));
	CHECK(!create(EID_C, "10.7.0.4/24", "{}"));
	CHECK(!join(EID_A) && !join(EID_C));
	c = ep(EID_C);
	fake_fail_peer_set = -EIO;
	CHECK_EQ_INT(resolve(c, "web", &links, err), 0);
	CHECK(!c->pending && !strcmp(c->key_ref, "web"));
	CHECK_EQ_INT(link_of(EID_A)->dev.n_peers, 0);
	peersync_flush(&td.d);
	CHECK_EQ_INT(link_of(EID_A)->dev.n_peers, 1);
	CHECK(fake_peer_find(link_of(EID_A), c->public_key) != NULL);
	CHECK(!keystore_identity_get(td.d.keys, "web", false, priv, NULL));
	CHECK(!memcmp(link_of(EID_C)->dev.private_key, priv, WG_KEY_LEN));
	sodium_memzero(priv, sizeof(priv));
	teardown();
}

UNIT_TEST(state_files_without_the_new_keys_load)
{
	char path[256];
	uint8_t key[WG_KEY_LEN];
	FILE *f;

	setup(false);
	CHECK(!keystore_identity_get(td.d.keys, EID_A, true, key, NULL));
	sodium_memzero(key, sizeof(key));
	snprintf(path, sizeof(path), "%s/networks/%s.json", dir, NID);
	f = fopen(path, "w");
	fputs("{\"version\":1,\"id\":\"" NID "\",\"mtu\":1420,\"psk\":true,\"ipv6\":false,"
	      "\"endpoints\":[{\"id\":\"" EID_A "\",\"ifname\":\"wg-aaaaaaaaaaaa\",\"key\":\"" EID_A
	      "\",\"address\":\"10.7.0.2/24\",\"address6\":\"\",\"listen_port\":0,"
	      "\"joined\":false}]}",
	      f);
	fclose(f);
	CHECK_EQ_INT(load(), 1);
	CHECK(network_find(&td.d, NID)->opts.policy == NETWORK_POLICY_MESH);
	CHECK(ep(EID_A) && !ep(EID_A)->pending && ep(EID_A)->links.n == 0);
	CHECK(!endpoint_key_named(ep(EID_A)));
	teardown();
}

UNIT_MAIN("identity", UNIT_CASE(links_policy_peers_only_linked),
	  UNIT_CASE(mesh_with_named_keys_and_psk), UNIT_CASE(named_keys_outlive_endpoints),
	  UNIT_CASE(refusals_change_nothing),
	  UNIT_CASE(waiting_endpoint_has_no_peers_until_resolved),
	  UNIT_CASE(failed_resolution_keeps_waiting),
	  UNIT_CASE(resolution_is_programmed_when_the_backend_works_again),
	  UNIT_CASE(state_files_without_the_new_keys_load))

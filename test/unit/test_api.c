// SPDX-License-Identifier: MIT
/* The API handlers end to end (JSON in, JSON out, state on disk) over the fake backend. */
#include "../../driver/api.c"

#include "backends.h"
#include "helper_daemon.h"
#include "helper_fake_backend.h"
#include "keystore.h"
#include "peers.h"
#include "peersync.h"
#include "state.h"
#include "unit.h"

#include <dirent.h>
#include <pthread.h>
#include <time.h>
#include <sodium.h>
#include <unistd.h>

#define NID   "1111111111111111111111111111111111111111111111111111111111111111"
#define NID2  "2222222222222222222222222222222222222222222222222222222222222222"
#define EID_A "aaaaaaaaaaaa0000000000000000000000000000000000000000000000000000"
#define EID_B "bbbbbbbbbbbb0000000000000000000000000000000000000000000000000000"
#define EID_C "cccccccccccc0000000000000000000000000000000000000000000000000000"

static struct test_daemon td;
static const char *dir = td.dir;

static void setup(void)
{
	fake_reset();
	test_daemon_init(&td, &fake_backend);
}

static void teardown(void)
{
	test_daemon_destroy(&td);
	fake_reset();
}

/* Calls METHOD with BODY and returns the parsed answer (decref it). */
static json_t *call(const char *method, const char *body)
{
	return test_daemon_call(&td, method, body);
}

/* METHOD with BODY, without running the peer work queued. */
static json_t *api_call_noflush_method(const char *method, const char *body)
{
	char path[128], *text;
	json_t *j;

	snprintf(path, sizeof(path), "/%s", method);
	text = api_handle(&td.d, path, body, strlen(body));
	j = text ? json_loads(text, 0, NULL) : NULL;
	free(text);
	return j;
}

static json_t *api_call_noflush(const char *body)
{
	return api_call_noflush_method("NetworkDriver.EndpointOperInfo", body);
}

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Reads the state directory again, as a restarted daemon does. */
static int load(void)
{
	int ret;

	wgd_lock(&td.d);
	ret = state_load(&td.d);
	wgd_unlock(&td.d);
	return ret;
}

static const char *err_of(json_t *j)
{
	return json_string_value(json_object_get(j, "Err"));
}

static bool call_ok(const char *method, const char *body)
{
	json_t *j = call(method, body);
	bool ok = j && !json_object_get(j, "Err");

	if (!ok)
		fprintf(stderr, "  %s failed: %s\n", method, j ? err_of(j) : "(no answer)");
	json_decref(j);
	return ok;
}

/* Calls METHOD, which must fail with an Err containing NEEDLE. */
static void check_err(const char *method, const char *body, const char *needle)
{
	json_t *j = call(method, body);

	CHECK_STR_CONTAINS(err_of(j), needle);
	json_decref(j);
}

static bool create_network(const char *nid, const char *generic)
{
	char body[512];

	snprintf(body, sizeof(body),
		 "{\"NetworkID\":\"%s\",\"Options\":{\"com.docker.network.generic\":%s},"
		 "\"IPv4Data\":[{\"Pool\":\"10.7.0.0/24\",\"Gateway\":\"10.7.0.1/24\"}],"
		 "\"IPv6Data\":[]}",
		 nid, generic);
	return call_ok("NetworkDriver.CreateNetwork", body);
}

static bool create_endpoint(const char *nid, const char *eid, const char *addr, const char *addr6)
{
	char body[512];

	snprintf(body, sizeof(body),
		 "{\"NetworkID\":\"%s\",\"EndpointID\":\"%s\",\"Interface\":{\"Address\":\"%s\","
		 "\"AddressIPv6\":\"%s\",\"MacAddress\":\"\"},\"Options\":{}}",
		 nid, eid, addr, addr6);
	return call_ok("NetworkDriver.CreateEndpoint", body);
}

static json_t *join(const char *nid, const char *eid)
{
	char body[512];

	snprintf(body, sizeof(body),
		 "{\"NetworkID\":\"%s\",\"EndpointID\":\"%s\",\"SandboxKey\":"
		 "\"/var/run/docker/netns/0123456789ab\",\"Options\":{}}",
		 nid, eid);
	return call("NetworkDriver.Join", body);
}

static bool ids_call(const char *method, const char *nid, const char *eid)
{
	char body[256];

	snprintf(body, sizeof(body), "{\"NetworkID\":\"%s\",\"EndpointID\":\"%s\"}", nid, eid);
	return call_ok(method, body);
}

static struct endpoint *ep_of(const char *nid, const char *eid)
{
	struct network *n = network_find(&td.d, nid);

	return n ? endpoint_find(n, eid) : NULL;
}

/* true when the state file of network NID exists. */
static bool state_file_exists(const char *nid)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/networks/%s.json", dir, nid);
	return access(path, F_OK) == 0;
}

/* A snapshot of every file name and size under the state directory. */
static void snapshot(char *out, size_t len)
{
	char cmd[128];
	FILE *p;
	size_t n;

	snprintf(cmd, sizeof(cmd), "cd %s && find . -printf '%%p %%s\\n' | sort", dir);
	p = popen(cmd, "r");
	n = p ? fread(out, 1, len - 1, p) : 0;
	out[n] = '\0';
	if (p)
		pclose(p);
}

static int count_files(const char *sub)
{
	char path[256];
	struct dirent *d;
	DIR *dp;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	dp = opendir(path);
	if (!dp)
		return -1;
	while ((d = readdir(dp)))
		n += d->d_name[0] != '.';
	closedir(dp);
	return n;
}

static const char *info_of(const char *eid, const char *field)
{
	static char value[256];
	char body[256];
	json_t *j;

	snprintf(body, sizeof(body), "{\"NetworkID\":\"" NID "\",\"EndpointID\":\"%s\"}", eid);
	j = call("NetworkDriver.EndpointOperInfo", body);
	snprintf(value, sizeof(value), "%s",
		 json_string_value(json_object_get(json_object_get(j, "Value"), field)) ?: "");
	json_decref(j);
	return value;
}

static long pending_of(const char *eid)
{
	char body[256];
	json_t *j;
	long n;

	snprintf(body, sizeof(body), "{\"NetworkID\":\"" NID "\",\"EndpointID\":\"%s\"}", eid);
	j = api_call_noflush(body);
	n = (long)json_integer_value(json_object_get(json_object_get(j, "Value"), "peers_pending"));
	json_decref(j);
	return n;
}

UNIT_TEST(test_handshake_calls)
{
	json_t *j;

	setup();
	j = call("Plugin.Activate", "");
	CHECK_STR_CONTAINS(json_string_value(json_array_get(json_object_get(j, "Implements"), 0)),
			   "NetworkDriver");
	json_decref(j);
	j = call("NetworkDriver.GetCapabilities", "");
	CHECK_STR_CONTAINS(json_string_value(json_object_get(j, "Scope")), "local");
	CHECK_STR_CONTAINS(json_string_value(json_object_get(j, "ConnectivityScope")), "local");
	json_decref(j);
	check_err("NetworkDriver.Nonsense", "{}", "unknown method /NetworkDriver.Nonsense");
	/* Without Options the answer's empty object was leaked once per call (ASan sees it). */
	j = call("NetworkDriver.AllocateNetwork", "{\"NetworkID\":\"" NID "\"}");
	CHECK(json_is_object(json_object_get(j, "Options")) &&
	      json_object_size(json_object_get(j, "Options")) == 0);
	json_decref(j);
	teardown();
}

/* User text in an error must never make the answer invalid (the engine read a NULL answer as
 * "out of memory") nor forge a log line. */
UNIT_TEST(test_errors_quote_user_text)
{
	static const char bad_path[] = "/NetworkDriver.\xff\xfe\nerror: forged";
	char *text;
	json_t *j;

	setup();
	text = api_handle(&td.d, bad_path, "{}", 2);
	CHECK(text != NULL);
	j = text ? json_loads(text, 0, NULL) : NULL;
	CHECK_STR_CONTAINS(err_of(j), "unknown method /NetworkDriver.\\xff\\xfe\\nerror: forged");
	json_decref(j);
	free(text);
	/* A key that ends in the middle of a character where it is cut, and one with a newline. */
	check_err("NetworkDriver.CreateNetwork",
		  "{\"NetworkID\":\"" NID "\",\"Options\":{\"com.docker.network.generic\":"
		  "{\"wg.x\\nerror: forged\":\"1\"}}}",
		  "option \"wg.x\\nerror: forged\": unknown");
	check_err("NetworkDriver.CreateNetwork",
		  "{\"NetworkID\":\"" NID "\",\"Options\":{\"com.docker.network.generic\":"
		  "{\"wg.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\u00e9\u00e9\":"
		  "\"1\"}}}",
		  "xxxxxxxxxx...\": unknown");
	teardown();
}

/* A Join that takes long (a slow wireguard-go start) holds up no other call: the lock is not
 * held while a link is made. */
static int slow_link_create(const struct wg_device *dev, uint16_t *port)
{
	usleep(1500 * 1000);
	return fake_backend.link_create(dev, port);
}

static void *join_b(void *arg)
{
	json_decref(api_call_noflush_method("NetworkDriver.Join",
					    "{\"NetworkID\":\"" NID "\",\"EndpointID\":\"" EID_B
					    "\",\"SandboxKey\":\"/x\"}"));
	return NULL;
}

UNIT_TEST(test_a_slow_join_holds_up_no_other_call)
{
	struct backend_ops slow = fake_backend;
	long long start, took;
	pthread_t thread;

	setup();
	slow.link_create = slow_link_create;
	backends_set_default(&td.d.backends, &slow, "slow: unit test");
	CHECK(create_network(NID, "{}"));
	CHECK(create_endpoint(NID, EID_A, "10.7.0.2/24", ""));
	CHECK(create_endpoint(NID, EID_B, "10.7.0.3/24", ""));
	CHECK_EQ_INT(pthread_create(&thread, NULL, join_b, NULL), 0);
	usleep(200 * 1000);
	start = now_ms();
	CHECK(create_endpoint(NID, EID_C, "10.7.0.4/24", ""));
	CHECK_STR_CONTAINS(info_of(EID_A, "ifname"), "wg-aaaaaaaaaaaa");
	took = now_ms() - start;
	CHECK(took < 500);
	/* The same endpoint is another matter: its call is refused while the Join works. */
	check_err("NetworkDriver.DeleteEndpoint",
		  "{\"NetworkID\":\"" NID "\",\"EndpointID\":\"" EID_B "\"}",
		  "another call for it is in progress");
	pthread_join(thread, NULL);
	CHECK(ep_of(NID, EID_B)->joined);
	teardown();
}

UNIT_TEST(test_network_options)
{
	struct network *n;

	setup();
	check_err("NetworkDriver.CreateNetwork",
		  "{\"NetworkID\":\"" NID "\",\"Options\":{\"com.docker.network.generic\":"
		  "{\"wg.foo\":\"1\"}}}",
		  "option \"wg.foo\": unknown; known options: wg.psk");
	check_err("NetworkDriver.CreateNetwork",
		  "{\"NetworkID\":\"" NID "\",\"Options\":{\"com.docker.network.generic\":"
		  "{\"com.docker.network.driver.mtu\":\"70000\"}}}",
		  "com.docker.network.driver.mtu\": expected an integer from 1280 to 65455");
	check_err("NetworkDriver.CreateNetwork",
		  "{\"NetworkID\":\"" NID "\",\"Options\":{\"com.docker.network.generic\":"
		  "{\"wg.psk\":\"maybe\"}}}",
		  "option \"wg.psk\": expected on or off");
	CHECK(network_find(&td.d, NID) == NULL);
	CHECK_EQ_INT(count_files("networks"), 0);
	CHECK(create_network(NID,
			     "{\"com.docker.network.driver.mtu\":\"1380\",\"wg.psk\":\"off\"}"));
	n = network_find(&td.d, NID);
	CHECK(n && n->opts.mtu == 1380 && !n->opts.psk);
	/* The same again is fine; other options for the same ID are not. */
	CHECK(create_network(NID,
			     "{\"com.docker.network.driver.mtu\":\"1380\",\"wg.psk\":\"off\"}"));
	check_err("NetworkDriver.CreateNetwork",
		  "{\"NetworkID\":\"" NID "\",\"Options\":{\"com.docker.network.generic\":{}}}",
		  "exists already with other options");
	CHECK(create_network(NID2, "{}"));
	n = network_find(&td.d, NID2);
	CHECK(n && n->opts.mtu == 1420 && n->opts.psk);
	CHECK_EQ_INT(count_files("networks"), 2);
	teardown();
}

UNIT_TEST(test_bad_requests_change_nothing)
{
	char before[4096], after[4096];

	setup();
	CHECK(create_network(NID, "{}"));
	CHECK(create_endpoint(NID, EID_A, "10.7.0.2/24", ""));
	snapshot(before, sizeof(before));
	check_err("NetworkDriver.CreateEndpoint",
		  "{\"NetworkID\":", "request body: not valid JSON");
	check_err("NetworkDriver.CreateEndpoint", "[1,2]", "expected a JSON object");
	check_err("NetworkDriver.CreateEndpoint", "", "request body: empty");
	check_err("NetworkDriver.Join", "{\"NetworkID\":\"" NID "\",\"EndpointID\":5}",
		  "EndpointID: expected a string, got an integer");
	check_err("NetworkDriver.Join", "{\"NetworkID\":\"" NID "\"}", "EndpointID: missing");
	check_err("NetworkDriver.Join", "{\"NetworkID\":\"xyz\",\"EndpointID\":\"" EID_A "\"}",
		  "NetworkID: expected 64 lower-case hex characters, got \"xyz\"");
	check_err("NetworkDriver.Join", "{\"NetworkID\":\"" NID2 "\",\"EndpointID\":\"" EID_A "\"}",
		  "no such network");
	check_err("NetworkDriver.Join", "{\"NetworkID\":\"" NID "\",\"EndpointID\":\"" EID_B "\"}",
		  "no such endpoint");
	check_err("NetworkDriver.CreateEndpoint",
		  "{\"NetworkID\":\"" NID "\",\"EndpointID\":\"" EID_B "\",\"Interface\":"
		  "{\"Address\":\"10.7.0.3/24\",\"MacAddress\":\"02:42:0a:07:00:03\"}}",
		  "Interface.MacAddress: a WireGuard link has no MAC address");
	check_err("NetworkDriver.CreateEndpoint",
		  "{\"NetworkID\":\"" NID "\",\"EndpointID\":\"" EID_B "\",\"Interface\":"
		  "{\"Address\":\"10.7.0.300/24\"}}",
		  "Interface.Address: expected an IPv4 address with prefix length");
	check_err("NetworkDriver.CreateEndpoint",
		  "{\"NetworkID\":\"" NID "\",\"EndpointID\":\"" EID_B "\",\"Interface\":"
		  "{\"Address\":\"10.7.0.2/24\"}}",
		  "address 10.7.0.2/24 is used by endpoint aaaaaaaaaaaa");
	check_err("NetworkDriver.CreateEndpoint",
		  "{\"NetworkID\":\"" NID "\",\"EndpointID\":\"" EID_B "\"}", "Interface: missing");
	check_err("NetworkDriver.CreateEndpoint",
		  "{\"NetworkID\":\"" NID "\",\"EndpointID\":\"" EID_B "\",\"Interface\":"
		  "{\"Address\":\"10.7.0.3/24\"},\"Options\":{\"wg.nope\":\"x\"}}",
		  "Options.\"wg.nope\": unknown endpoint option");
	check_err("NetworkDriver.CreateEndpoint",
		  "{\"NetworkID\":\"" NID "\",\"EndpointID\":\"" EID_A "\",\"Interface\":"
		  "{\"Address\":\"10.7.0.9/24\"}}",
		  "exists already");
	snapshot(after, sizeof(after));
	CHECK(!strcmp(before, after));
	CHECK(network_find(&td.d, NID)->endpoints->next == NULL);
	/* The engine's cleanup calls succeed for IDs the driver does not know. */
	CHECK(ids_call("NetworkDriver.Leave", NID, EID_C));
	CHECK(ids_call("NetworkDriver.DeleteEndpoint", NID2, EID_C));
	CHECK(call_ok("NetworkDriver.DeleteNetwork", "{\"NetworkID\":\"" NID2 "\"}"));
	/* And the next valid call works. */
	CHECK(create_endpoint(NID, EID_B, "10.7.0.3/24", ""));
	teardown();
}

UNIT_TEST(test_join_answer)
{
	json_t *j, *rts;

	setup();
	CHECK(create_network(NID, "{}"));
	CHECK(create_endpoint(NID, EID_A, "10.7.0.2/24", "fd00:7::2/64"));
	j = join(NID, EID_A);
	CHECK_STR_CONTAINS(json_string_value(
				   json_object_get(json_object_get(j, "InterfaceName"), "SrcName")),
			   "wg-aaaaaaaaaaaa");
	CHECK_STR_CONTAINS(json_string_value(json_object_get(json_object_get(j, "InterfaceName"),
							     "DstPrefix")),
			   "wg");
	CHECK(json_is_true(json_object_get(j, "DisableGatewayService")));
	rts = json_object_get(j, "StaticRoutes");
	CHECK_EQ_INT(json_array_size(rts), 2);
	CHECK_STR_CONTAINS(json_string_value(
				   json_object_get(json_array_get(rts, 0), "Destination")),
			   "0.0.0.0/0");
	CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(rts, 0), "RouteType")), 1);
	CHECK_STR_CONTAINS(json_string_value(
				   json_object_get(json_array_get(rts, 1), "Destination")),
			   "::/0");
	json_decref(j);
	CHECK_EQ_INT(fake_link_count(), 1);
	CHECK_EQ_INT(fake_link_find("wg-aaaaaaaaaaaa")->dev.mtu, 1420);
	CHECK(fake_link_find("wg-aaaaaaaaaaaa")->dev.listen_port != 0);
	check_err("NetworkDriver.Join",
		  "{\"NetworkID\":\"" NID "\",\"EndpointID\":\"" EID_A "\",\"SandboxKey\":\"/x\"}",
		  "joined already");
	teardown();
}

UNIT_TEST(test_peers_mesh_and_psk)
{
	struct fake_link *a, *b, *c;
	struct endpoint *ea, *eb, *ec;
	struct wg_peer *ab, *ba, *ac;

	setup();
	CHECK(create_network(NID, "{}"));
	CHECK(create_endpoint(NID, EID_A, "10.7.0.2/24", ""));
	CHECK(create_endpoint(NID, EID_B, "10.7.0.3/24", "fd00:7::3/64"));
	CHECK(create_endpoint(NID, EID_C, "10.7.0.4/24", ""));
	json_decref(join(NID, EID_A));
	json_decref(join(NID, EID_B));
	json_decref(join(NID, EID_C));
	ea = ep_of(NID, EID_A), eb = ep_of(NID, EID_B), ec = ep_of(NID, EID_C);
	a = fake_link_find(ea->ifname), b = fake_link_find(eb->ifname);
	c = fake_link_find(ec->ifname);
	CHECK(a && b && c);
	/* A joined first and learnt of B and C afterwards, through peer_set. */
	CHECK_EQ_INT(a->dev.n_peers, 2);
	CHECK_EQ_INT(b->dev.n_peers, 2);
	CHECK_EQ_INT(c->dev.n_peers, 2);
	ab = fake_peer_find(a, eb->public_key);
	ba = fake_peer_find(b, ea->public_key);
	ac = fake_peer_find(a, ec->public_key);
	CHECK(ab && ba && ac);
	CHECK(ab->has_preshared_key && ba->has_preshared_key);
	CHECK(!memcmp(ab->preshared_key, ba->preshared_key, WG_KEY_LEN));
	CHECK(memcmp(ab->preshared_key, ac->preshared_key, WG_KEY_LEN));
	CHECK_EQ_INT(ntohs(ab->endpoint.addr4.sin_port), eb->listen_port);
	CHECK_EQ_INT(ntohl(ab->endpoint.addr4.sin_addr.s_addr), INADDR_LOOPBACK);
	CHECK_EQ_INT(ab->n_allowedips, 2);
	CHECK_EQ_INT(ab->allowedips[0].cidr, 32);
	CHECK_EQ_INT(ab->allowedips[1].cidr, 128);
	CHECK_EQ_INT(ba->n_allowedips, 1);
	CHECK(ea->listen_port != eb->listen_port && eb->listen_port != ec->listen_port);
	/* Leave takes B out of the others' configuration; its own link stays until Delete. */
	CHECK(ids_call("NetworkDriver.Leave", NID, EID_B));
	CHECK(!fake_peer_find(a, eb->public_key) && !fake_peer_find(c, eb->public_key));
	CHECK(fake_link_find(eb->ifname) != NULL);
	teardown();
}

UNIT_TEST(test_psk_off)
{
	struct fake_link *b;

	setup();
	CHECK(create_network(NID, "{\"wg.psk\":\"off\"}"));
	CHECK(create_endpoint(NID, EID_A, "10.7.0.2/24", ""));
	CHECK(create_endpoint(NID, EID_B, "10.7.0.3/24", ""));
	json_decref(join(NID, EID_A));
	json_decref(join(NID, EID_B));
	b = fake_link_find(ep_of(NID, EID_B)->ifname);
	CHECK(b && b->dev.n_peers == 1 && !b->dev.peers[0].has_preshared_key);
	CHECK_EQ_INT(count_files("keys/link"), 0);
	teardown();
}

UNIT_TEST(test_failed_link_leaves_nothing)
{
	char before[4096], after[4096];

	setup();
	CHECK(create_network(NID, "{}"));
	CHECK(create_endpoint(NID, EID_A, "10.7.0.2/24", ""));
	CHECK(create_endpoint(NID, EID_B, "10.7.0.3/24", ""));
	json_decref(join(NID, EID_A));
	snapshot(before, sizeof(before));
	fake_fail_link_create = -EPERM;
	check_err("NetworkDriver.Join",
		  "{\"NetworkID\":\"" NID "\",\"EndpointID\":\"" EID_B "\",\"SandboxKey\":\"/x\"}",
		  "Operation not permitted");
	CHECK_EQ_INT(fake_link_count(), 1);
	snapshot(after, sizeof(after));
	/* The failed attempt may have made the A–B PSK; nothing else. */
	CHECK(!ep_of(NID, EID_B)->joined);
	CHECK_EQ_INT(fake_link_find(ep_of(NID, EID_A)->ifname)->dev.n_peers, 0);
	/* The next Join works. */
	json_decref(join(NID, EID_B));
	CHECK(ep_of(NID, EID_B)->joined);
	CHECK_EQ_INT(fake_link_find(ep_of(NID, EID_A)->ifname)->dev.n_peers, 1);
	teardown();
}

/* A port someone else bound between the choice and the link's bind: another one is taken. */
UNIT_TEST(test_port_taken_meanwhile_is_chosen_again)
{
	setup();
	td.d.port_min = 50000;
	td.d.port_max = 50001;
	CHECK(create_network(NID, "{}"));
	CHECK(create_endpoint(NID, EID_A, "10.7.0.2/24", ""));
	CHECK(create_endpoint(NID, EID_B, "10.7.0.3/24", ""));
	CHECK(create_endpoint(NID, EID_C, "10.7.0.4/24", ""));
	fake_fail_link_create = -EADDRINUSE;
	json_decref(join(NID, EID_A));
	CHECK(ep_of(NID, EID_A)->joined);
	json_decref(join(NID, EID_B));
	CHECK(ep_of(NID, EID_B)->joined);
	CHECK(ep_of(NID, EID_A)->listen_port >= 50000 && ep_of(NID, EID_A)->listen_port <= 50001);
	CHECK(ep_of(NID, EID_B)->listen_port >= 50000 && ep_of(NID, EID_B)->listen_port <= 50001);
	CHECK(ep_of(NID, EID_A)->listen_port != ep_of(NID, EID_B)->listen_port);
	/* The range is full: the error says what to do. */
	check_err("NetworkDriver.Join",
		  "{\"NetworkID\":\"" NID "\",\"EndpointID\":\"" EID_C "\",\"SandboxKey\":\"/x\"}",
		  "every UDP port of WG_PORTS 50000-50001 is in use");
	CHECK(!ep_of(NID, EID_C)->joined);
	teardown();
}

/* The other links learn a new endpoint after its Join has answered; a link that cannot be told
 * now is told when its backend works again. */
UNIT_TEST(test_peers_that_cannot_be_told_now_are_told_later)
{
	struct endpoint *ea, *eb;

	setup();
	CHECK(create_network(NID, "{}"));
	CHECK(create_endpoint(NID, EID_A, "10.7.0.2/24", ""));
	CHECK(create_endpoint(NID, EID_B, "10.7.0.3/24", ""));
	json_decref(join(NID, EID_A));
	fake_fail_peer_set = -EIO;
	CHECK(call_ok("NetworkDriver.Join", "{\"NetworkID\":\"" NID "\",\"EndpointID\":\"" EID_B
					    "\",\"SandboxKey\":\"/x\"}"));
	ea = ep_of(NID, EID_A);
	eb = ep_of(NID, EID_B);
	CHECK(eb->joined);
	CHECK_EQ_INT(fake_link_find(eb->ifname)->dev.n_peers, 1);
	CHECK_EQ_INT(fake_link_find(ea->ifname)->dev.n_peers, 0);
	CHECK_EQ_INT(pending_of(EID_A), 1);
	peersync_flush(&td.d);
	CHECK_EQ_INT(fake_link_find(ea->ifname)->dev.n_peers, 1);
	CHECK(fake_peer_find(fake_link_find(ea->ifname), eb->public_key) != NULL);
	CHECK_EQ_INT(pending_of(EID_A), 0);
	teardown();
}

UNIT_TEST(test_delete_leaves_nothing)
{
	setup();
	CHECK(create_network(NID, "{}"));
	CHECK(create_endpoint(NID, EID_A, "10.7.0.2/24", ""));
	CHECK(create_endpoint(NID, EID_B, "10.7.0.3/24", ""));
	json_decref(join(NID, EID_A));
	json_decref(join(NID, EID_B));
	CHECK_EQ_INT(count_files("keys/identity"), 2);
	/* Their link's preshared key is derived, not stored. */
	CHECK_EQ_INT(count_files("keys/link"), 0);
	check_err("NetworkDriver.DeleteNetwork", "{\"NetworkID\":\"" NID "\"}",
		  "still has endpoints");
	CHECK(ids_call("NetworkDriver.Leave", NID, EID_A));
	CHECK(ids_call("NetworkDriver.DeleteEndpoint", NID, EID_A));
	/* DeleteEndpoint without a Leave first (engine cleanup after a crash) works too. */
	CHECK(ids_call("NetworkDriver.DeleteEndpoint", NID, EID_B));
	CHECK(ids_call("NetworkDriver.DeleteEndpoint", NID, EID_B));
	CHECK_EQ_INT(fake_link_count(), 0);
	CHECK_EQ_INT(count_files("keys/identity"), 0);
	CHECK_EQ_INT(count_files("keys/link"), 0);
	CHECK(call_ok("NetworkDriver.DeleteNetwork", "{\"NetworkID\":\"" NID "\"}"));
	CHECK(!state_file_exists(NID));
	CHECK_EQ_INT(count_files("networks"), 0);
	teardown();
}

UNIT_TEST(test_state_survives_restart)
{
	uint8_t pub_a[WG_KEY_LEN];
	struct endpoint *ea;
	json_t *j;

	setup();
	CHECK(create_network(NID, "{\"com.docker.network.driver.mtu\":\"1400\"}"));
	CHECK(create_endpoint(NID, EID_A, "10.7.0.2/24", "fd00:7::2/64"));
	CHECK(create_endpoint(NID, EID_B, "10.7.0.3/24", ""));
	json_decref(join(NID, EID_A));
	ea = ep_of(NID, EID_A);
	memcpy(pub_a, ea->public_key, WG_KEY_LEN);
	test_daemon_restart(&td);
	CHECK(network_find(&td.d, NID) == NULL);
	CHECK_EQ_INT(load(), 1);
	ea = ep_of(NID, EID_A);
	CHECK(ea && ea->joined && ea->listen_port && ea->addr6.family == AF_INET6);
	CHECK(ea && !memcmp(ea->public_key, pub_a, WG_KEY_LEN));
	CHECK(ep_of(NID, EID_B) && !ep_of(NID, EID_B)->joined);
	CHECK_EQ_INT(network_find(&td.d, NID)->opts.mtu, 1400);
	CHECK(network_find(&td.d, NID)->endpoints == ea);
	j = call("NetworkDriver.EndpointOperInfo",
		 "{\"NetworkID\":\"" NID "\",\"EndpointID\":\"" EID_A "\"}");
	CHECK_STR_CONTAINS(json_string_value(
				   json_object_get(json_object_get(j, "Value"), "ifname")),
			   "wg-aaaaaaaaaaaa");
	CHECK_STR_CONTAINS(json_string_value(
				   json_object_get(json_object_get(j, "Value"), "backend")),
			   "fake");
	json_decref(j);
	teardown();
}

UNIT_TEST(test_corrupt_state_file_is_skipped)
{
	char path[256];
	FILE *f;

	setup();
	CHECK(create_network(NID, "{}"));
	snprintf(path, sizeof(path), "%s/networks/%s.json", dir, NID2);
	f = fopen(path, "w");
	fputs("{\"version\":1,\"id\":", f);
	fclose(f);
	test_daemon_restart(&td);
	CHECK_EQ_INT(load(), 1);
	CHECK(network_find(&td.d, NID) != NULL);
	CHECK(network_find(&td.d, NID2) == NULL);
	teardown();
}

UNIT_TEST(test_no_secret_in_answers)
{
	static const char req[] = "{\"NetworkID\":\"" NID "\",\"EndpointID\":\"" EID_A "\"}";
	char b64[64], *text;
	uint8_t key[WG_KEY_LEN];
	struct endpoint *ea;

	setup();
	CHECK(create_network(NID, "{}"));
	CHECK(create_endpoint(NID, EID_A, "10.7.0.2/24", ""));
	ea = ep_of(NID, EID_A);
	CHECK(!keystore_identity_get(td.d.keys, ea->key_ref, false, key, NULL));
	sodium_bin2base64(b64, sizeof(b64), key, WG_KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
	text = api_handle(&td.d, "/NetworkDriver.EndpointOperInfo", req, strlen(req));
	CHECK(text && !strstr(text, b64));
	CHECK_STR_CONTAINS(text, "public_key");
	free(text);
	sodium_memzero(key, sizeof(key));
	teardown();
}

/* A second backend over the same fake links that counts what it is asked, so that a test can
 * tell which backend served which link; its probe fails while other_missing is set. */
static struct backend_ops other;
static int other_creates, other_peer_sets;
static uint16_t other_created_port;
static char other_peer_link[IFNAMSIZ];
static bool other_missing;

static int other_link_create(const struct wg_device *dev, uint16_t *port)
{
	other_creates++;
	other_created_port = dev->listen_port;
	return fake_backend.link_create(dev, port);
}

static int other_peer_set(const struct wg_link_ref *link, const struct wg_peer *peer)
{
	other_peer_sets++;
	snprintf(other_peer_link, sizeof(other_peer_link), "%s", link->ifname);
	return fake_backend.peer_set(link, peer);
}

static int other_peers_apply(const struct wg_link_ref *link, const struct wg_peer *set,
			     size_t n_set, const uint8_t (*remove)[WG_KEY_LEN], size_t n_remove)
{
	int ret = 0;

	for (size_t i = 0; !ret && i < n_remove; i++)
		ret = fake_backend.peer_remove(link, remove[i]);
	for (size_t i = 0; !ret && i < n_set; i++)
		ret = other_peer_set(link, &set[i]);
	return ret;
}

static int other_probe(char *why, size_t len)
{
	if (!other_missing)
		return 0;
	snprintf(why, len, "module other is not loaded");
	return -ENOTSUP;
}

static void setup_other(void)
{
	other = fake_backend;
	other.name = "other";
	other.link_create = other_link_create;
	other.peer_set = other_peer_set;
	other.peers_apply = other_peers_apply;
	other_creates = other_peer_sets = 0;
	other_missing = false;
	CHECK_EQ_INT(backends_add(&td.d.backends, &other, other_probe), 0);
}

UNIT_TEST(test_backend_options)
{
	setup();
	setup_other();
	check_err("NetworkDriver.CreateNetwork",
		  "{\"NetworkID\":\"" NID "\",\"Options\":{\"com.docker.network.generic\":"
		  "{\"wg.backend\":\"nosuch\"}}}",
		  "option \"wg.backend\": expected fake or other, got \"nosuch\"");
	other_missing = true;
	check_err("NetworkDriver.CreateNetwork",
		  "{\"NetworkID\":\"" NID "\",\"Options\":{\"com.docker.network.generic\":"
		  "{\"wg.backend\":\"other\"}}}",
		  "option \"wg.backend\": the other backend cannot run on this host: module other "
		  "is not loaded");
	CHECK(network_find(&td.d, NID) == NULL);
	CHECK_EQ_INT(count_files("networks"), 0);
	/* The module is there now: no restart needed. */
	other_missing = false;
	CHECK(create_network(NID, "{\"wg.backend\":\"other\"}"));
	CHECK(network_find(&td.d, NID) && network_find(&td.d, NID)->opts.backend == &other);
	check_err("NetworkDriver.CreateNetwork",
		  "{\"NetworkID\":\"" NID "\",\"Options\":{\"com.docker.network.generic\":{}}}",
		  "exists already with other options");
	CHECK(create_endpoint(NID, EID_A, "10.7.0.2/24", ""));
	CHECK(ep_of(NID, EID_A)->backend == &other);
	CHECK_STR_CONTAINS(info_of(EID_A, "backend"), "other");
	CHECK_STR_CONTAINS(info_of(EID_A, "backend_reason"), "wg.backend");
	test_daemon_restart(&td);
	CHECK_EQ_INT(load(), 1);
	CHECK(network_find(&td.d, NID)->opts.backend == &other);
	CHECK(ep_of(NID, EID_A)->backend == &other);
	teardown();
}

/* Links bind their port only once up (kernel links, and wireguard-go once it has seen its TUN up),
 * so a port read back at creation could be 0: without WG_PORTS the daemon chooses a free one,
 * and the peers get it. */
UNIT_TEST(test_port_chosen_by_the_daemon)
{
	struct wg_peer *p;

	setup();
	setup_other();
	CHECK(create_network(NID, "{\"wg.backend\":\"other\"}"));
	CHECK(create_endpoint(NID, EID_A, "10.7.0.2/24", ""));
	CHECK(create_endpoint(NID, EID_B, "10.7.0.3/24", ""));
	json_decref(join(NID, EID_A));
	CHECK(other_created_port != 0);
	CHECK_EQ_INT(ep_of(NID, EID_A)->listen_port, other_created_port);
	json_decref(join(NID, EID_B));
	CHECK(other_created_port != 0 && other_created_port != ep_of(NID, EID_A)->listen_port);
	p = fake_peer_find(fake_link_find(ep_of(NID, EID_B)->ifname),
			   ep_of(NID, EID_A)->public_key);
	CHECK(p && ntohs(p->endpoint.addr4.sin_port) == ep_of(NID, EID_A)->listen_port);
	teardown();
}

/* One network, an endpoint on each backend: each link is created and given its peers by its own
 * endpoint's backend, and a restart keeps each on its own. */
UNIT_TEST(test_mixed_backends)
{
	char snap[4096], again[4096];
	json_t *j;

	setup();
	setup_other();
	CHECK(create_network(NID, "{}"));
	CHECK(create_endpoint(NID, EID_A, "10.7.0.2/24", ""));
	snapshot(snap, sizeof(snap));
	check_err("NetworkDriver.CreateEndpoint",
		  "{\"NetworkID\":\"" NID "\",\"EndpointID\":\"" EID_B "\",\"Interface\":"
		  "{\"Address\":\"10.7.0.3/24\"},\"Options\":{\"wg.backend\":7}}",
		  "Options.wg.backend: expected a string");
	other_missing = true;
	check_err("NetworkDriver.CreateEndpoint",
		  "{\"NetworkID\":\"" NID "\",\"EndpointID\":\"" EID_B "\",\"Interface\":"
		  "{\"Address\":\"10.7.0.3/24\"},\"Options\":{\"wg.backend\":\"other\"}}",
		  "Options.wg.backend: the other backend cannot run on this host");
	snapshot(again, sizeof(again));
	CHECK(!strcmp(again, snap));
	CHECK(ep_of(NID, EID_B) == NULL);
	other_missing = false;
	CHECK(call_ok("NetworkDriver.CreateEndpoint",
		      "{\"NetworkID\":\"" NID "\",\"EndpointID\":\"" EID_B "\",\"Interface\":"
		      "{\"Address\":\"10.7.0.3/24\"},\"Options\":{\"wg.backend\":\"other\"}}"));
	CHECK(ep_of(NID, EID_A)->backend == &fake_backend);
	CHECK(ep_of(NID, EID_B)->backend == &other);
	CHECK_STR_CONTAINS(info_of(EID_A, "backend_reason"), "fake: unit test");
	j = join(NID, EID_A);
	CHECK(j && !json_object_get(j, "Err"));
	json_decref(j);
	CHECK_EQ_INT(other_creates, 0);
	j = join(NID, EID_B);
	CHECK(j && !json_object_get(j, "Err"));
	json_decref(j);
	/* B's link came from its backend; A learnt B through A's backend (not counted), B had A
	 * from the start. */
	CHECK_EQ_INT(other_creates, 1);
	CHECK_EQ_INT(other_peer_sets, 0);
	CHECK(fake_link_find("wg-aaaaaaaaaaaa") &&
	      fake_link_find("wg-aaaaaaaaaaaa")->dev.n_peers == 1);
	CHECK(fake_link_find("wg-bbbbbbbbbbbb") &&
	      fake_link_find("wg-bbbbbbbbbbbb")->dev.n_peers == 1);
	/* A joins again: B learns A through B's backend. */
	CHECK(ids_call("NetworkDriver.Leave", NID, EID_A));
	CHECK(fake_link_find("wg-bbbbbbbbbbbb")->dev.n_peers == 0);
	CHECK(ids_call("NetworkDriver.DeleteEndpoint", NID, EID_A));
	CHECK(create_endpoint(NID, EID_A, "10.7.0.2/24", ""));
	j = join(NID, EID_A);
	json_decref(j);
	CHECK_EQ_INT(other_peer_sets, 1);
	CHECK(!strcmp(other_peer_link, "wg-bbbbbbbbbbbb"));
	test_daemon_restart(&td);
	CHECK_EQ_INT(load(), 1);
	CHECK(ep_of(NID, EID_A)->backend == &fake_backend);
	CHECK(ep_of(NID, EID_B)->backend == &other);
	/* Restarted with the other default: A, created on the old default, stays on it. */
	test_daemon_restart(&td);
	backends_set_default(&td.d.backends, &other, "other: the new default");
	CHECK_EQ_INT(backends_add(&td.d.backends, &fake_backend, NULL), 0);
	CHECK_EQ_INT(load(), 1);
	CHECK(ep_of(NID, EID_A)->backend == &fake_backend);
	CHECK(ep_of(NID, EID_B)->backend == &other);
	teardown();
}

UNIT_MAIN("api", UNIT_CASE(test_handshake_calls), UNIT_CASE(test_errors_quote_user_text),
	  UNIT_CASE(test_a_slow_join_holds_up_no_other_call), UNIT_CASE(test_network_options),
	  UNIT_CASE(test_bad_requests_change_nothing), UNIT_CASE(test_join_answer),
	  UNIT_CASE(test_peers_mesh_and_psk), UNIT_CASE(test_psk_off),
	  UNIT_CASE(test_failed_link_leaves_nothing),
	  UNIT_CASE(test_port_taken_meanwhile_is_chosen_again),
	  UNIT_CASE(test_peers_that_cannot_be_told_now_are_told_later),
	  UNIT_CASE(test_delete_leaves_nothing), UNIT_CASE(test_state_survives_restart),
	  UNIT_CASE(test_corrupt_state_file_is_skipped), UNIT_CASE(test_no_secret_in_answers),
	  UNIT_CASE(test_backend_options), UNIT_CASE(test_port_chosen_by_the_daemon),
	  UNIT_CASE(test_mixed_backends))

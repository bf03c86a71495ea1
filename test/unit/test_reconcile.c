// SPDX-License-Identifier: MIT
/* The start after a restart, over the fake backend: links gone, stray links, sandboxes gone,
 * links served anew and the peers of the others. */
#include "../../driver/reconcile.c"

#include "api.h"
#include "backends.h"
#include "helper_daemon.h"
#include "helper_fake_backend.h"
#include "peersync.h"
#include "unit.h"

#include <unistd.h>

#define NID	"1111111111111111111111111111111111111111111111111111111111111111"
#define EID_A	"aaaaaaaaaaaa0000000000000000000000000000000000000000000000000000"
#define EID_B	"bbbbbbbbbbbb0000000000000000000000000000000000000000000000000000"
#define EID_C	"cccccccccccc0000000000000000000000000000000000000000000000000000"
#define EID_D	"dddddddddddd0000000000000000000000000000000000000000000000000000"
#define SANDBOX "/proc/self/ns/net"

static struct test_daemon td;

/* The fake backend as it is: links need nothing to be served. */
static struct backend_ops plain;

static void setup(void)
{
	log_set_level(LOG_LEVEL_ERROR);
	fake_reset();
	test_daemon_init(&td, &fake_backend);
	plain = fake_backend;
	plain.link_restore = NULL;
}

static void teardown(void)
{
	test_daemon_destroy(&td);
	fake_reset();
}

static bool call_ok(const char *method, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool call_ok(const char *method, const char *fmt, ...)
{
	char body[512], path[128], *text;
	va_list ap;
	bool ok;

	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), "/NetworkDriver.%s", method);
	text = api_handle(&td.d, path, body, strlen(body));
	peersync_flush(&td.d);
	ok = text && !strstr(text, "\"Err\"");
	if (!ok)
		fprintf(stderr, "  %s: %s\n", method, text ? text : "(no answer)");
	free(text);
	return ok;
}

/* Endpoint EID with address .N, joined to SANDBOX unless it is NULL. */
static bool endpoint_up(const char *eid, int n, const char *sandbox)
{
	if (!call_ok("CreateEndpoint",
		     "{\"NetworkID\":\"" NID "\",\"EndpointID\":\"%s\",\"Interface\":{\"Address\":"
		     "\"10.7.0.%d/24\"},\"Options\":{}}",
		     eid, n))
		return false;
	return !sandbox || call_ok("Join",
				   "{\"NetworkID\":\"" NID "\",\"EndpointID\":\"%s\","
				   "\"SandboxKey\":\"%s\",\"Options\":{}}",
				   eid, sandbox);
}

static struct endpoint *ep_of(const char *eid)
{
	return endpoint_find(network_find(&td.d, NID), eid);
}

static struct fake_link *link_of(const char *eid)
{
	struct endpoint *ep = ep_of(eid);

	return ep ? fake_link_find(ep->ifname) : NULL;
}

static bool peers_are(const char *eid, const char *p1, const char *p2)
{
	struct fake_link *l = link_of(eid);
	size_t want = (p1 != NULL) + (p2 != NULL);

	return l && l->dev.n_peers == want && (!p1 || fake_peer_find(l, ep_of(p1)->public_key)) &&
	       (!p2 || fake_peer_find(l, ep_of(p2)->public_key));
}

/* The network as a daemon restarted with backend OPS sees it: read back from its file, its
 * endpoints on OPS (the state names the backend; OPS is called "fake" too). */
static void restart(const struct backend_ops *ops)
{
	test_daemon_restart(&td);
	backends_set_default(&td.d.backends, ops, "fake: unit test");
	wgd_lock(&td.d);
	CHECK_EQ_INT(state_load(&td.d), 1);
	wgd_unlock(&td.d);
}

static bool network_up(void)
{
	return call_ok("CreateNetwork",
		       "{\"NetworkID\":\"" NID "\",\"Options\":{},\"IPv4Data\":[{\"Pool\":"
		       "\"10.7.0.0/24\"}],\"IPv6Data\":[]}");
}

UNIT_TEST(a_gone_link_is_not_joined_and_the_others_drop_it)
{
	setup();
	CHECK(network_up() && endpoint_up(EID_A, 2, SANDBOX) && endpoint_up(EID_B, 3, SANDBOX) &&
	      endpoint_up(EID_C, 4, SANDBOX));
	restart(&plain);
	fake_backend.link_delete(ep_of(EID_B)->ifname);
	reconcile_endpoints(&td.d);
	CHECK(ep_of(EID_A)->joined && !ep_of(EID_B)->joined && ep_of(EID_C)->joined);
	CHECK(peers_are(EID_A, EID_C, NULL));
	CHECK(peers_are(EID_C, EID_A, NULL));
	restart(&plain);
	CHECK(!ep_of(EID_B)->joined && !ep_of(EID_B)->sandbox && ep_of(EID_A)->joined);
	teardown();
}

UNIT_TEST(a_stray_link_and_a_gone_sandbox)
{
	struct wg_device dev = { 0 };

	setup();
	CHECK(network_up() && endpoint_up(EID_A, 2, SANDBOX) &&
	      endpoint_up(EID_B, 3, "/nonexistent/netns/0123456789ab") &&
	      endpoint_up(EID_D, 5, NULL));
	restart(&plain);
	/* What a crash between creating D's link and saving its Join leaves. */
	snprintf(dev.name, sizeof(dev.name), "%s", ep_of(EID_D)->ifname);
	CHECK_EQ_INT(fake_backend.link_create(&dev, &(uint16_t){ 0 }), 0);
	reconcile_endpoints(&td.d);
	CHECK(!link_of(EID_D) && !ep_of(EID_D)->joined);
	/* B's sandbox does not exist: its container went, its link with it. */
	CHECK(!link_of(EID_B) && !ep_of(EID_B)->joined && !ep_of(EID_B)->sandbox);
	CHECK(peers_are(EID_A, NULL, NULL));
	teardown();
}

/* A backend whose links are served anew (A), were served all along (B) or cannot be (C). */
static const struct endpoint *restored_a, *restored_c;
static int removes[3][3];

static int who(const char *ifname_or_null, const uint8_t *key)
{
	const char *ids[] = { EID_A, EID_B, EID_C };

	for (int i = 0; i < 3; i++) {
		struct endpoint *ep = ep_of(ids[i]);

		if (ep && (ifname_or_null ? !strcmp(ep->ifname, ifname_or_null)
					  : !memcmp(ep->public_key, key, WG_KEY_LEN)))
			return i;
	}
	return 0;
}

static int restore_some(const struct wg_link_ref *link, const struct wg_device *dev,
			bool *restarted)
{
	*restarted = false;
	if (!strcmp(link->ifname, restored_c->ifname))
		return -EBUSY;
	if (strcmp(link->ifname, restored_a->ifname))
		return 0;
	*restarted = true;
	return fake_backend.device_set(link, dev);
}

static int counting_remove(const struct wg_link_ref *link, const uint8_t key[WG_KEY_LEN])
{
	removes[who(link->ifname, NULL)][who(NULL, key)]++;
	return fake_backend.peer_remove(link, key);
}

UNIT_TEST(links_served_anew_and_their_peers)
{
	struct backend_ops restoring;

	setup();
	restoring = plain;
	restoring.link_restore = restore_some;
	restoring.peer_remove = counting_remove;
	CHECK(network_up() && endpoint_up(EID_A, 2, SANDBOX) && endpoint_up(EID_B, 3, SANDBOX) &&
	      endpoint_up(EID_C, 4, SANDBOX));
	restart(&restoring);
	restored_a = ep_of(EID_A);
	restored_c = ep_of(EID_C);
	memset(removes, 0, sizeof(removes));
	reconcile_endpoints(&td.d);
	CHECK(ep_of(EID_A)->joined && ep_of(EID_B)->joined && !ep_of(EID_C)->joined);
	CHECK(peers_are(EID_A, EID_B, NULL));
	CHECK(peers_are(EID_B, EID_A, NULL));
	/* A got C with its whole configuration, B had it: both drop it. */
	CHECK_EQ_INT(removes[0][2], 1);
	CHECK_EQ_INT(removes[1][2], 1);
	/* B held a session with the old A: dropped once; then the pair, with no handshake, was
	 * renewed once on each side, one side at a time. */
	CHECK_EQ_INT(removes[1][0], 2);
	CHECK_EQ_INT(removes[0][1], 1);
	teardown();
}

UNIT_MAIN("reconcile", UNIT_CASE(a_gone_link_is_not_joined_and_the_others_drop_it),
	  UNIT_CASE(a_stray_link_and_a_gone_sandbox), UNIT_CASE(links_served_anew_and_their_peers))

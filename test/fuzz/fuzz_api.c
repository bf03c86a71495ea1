// SPDX-License-Identifier: MIT
/*
 * The remote-driver and IPAM API end to end (api_handle, as the HTTP server calls it) on a fresh
 * daemon per input over the fake backend, with no peer workers: the peer programming runs when
 * the input says (peersync_flush).
 *
 * The input is lines, one step each: its first byte picks the step (the table below; a byte of
 * no step picks one by its value), the rest of the line is the body. In a body, N1 N2 (networks)
 * and E1 to E5 (endpoints; E5 has E1's link name) standing alone become the engine IDs of
 * fuzz_daemon.h, so that requests meet the networks and endpoints others made:
 *   c{"NetworkID":"N1","Options":{"com.docker.network.generic":{"wg.policy":"links"}}}
 *   e{"NetworkID":"N1","EndpointID":"E1","Interface":{"Address":"10.7.0.2/24"}}
 *   j{"NetworkID":"N1","EndpointID":"E1","SandboxKey":"/x"}
 * Besides the routes of api.c (c D e j l d i a A g x n P: the driver's; G s p q R Q: IPAM's):
 *   f           flush: the peer work queued so far is done, then the peers are checked
 *   r           restart: a new daemon on the same directory and links loads the state
 *               (everything the old one knew, the same), reconciles, and goes on
 *   w           toggles the engine resolver: endpoints without wg.* options wait for it
 *   z N1 E1 KEY LINKS   the resolver's answer for E1: its wireguard.key label (- for none)
 *               and wireguard.links label (engine.c's apply)
 *   ?PATH       an unknown path
 *
 * Beyond crashes and the daemon's own lock assertions: every answer is a JSON object, an error
 * under the key its API uses ("Err", IPAM's "Error") and clean text (rule 16, as every log
 * line); after every step no endpoint is left busy, every endpoint has its identity's key, every
 * joined endpoint has its link and every link its endpoint; after a flush every joined endpoint's
 * link has exactly the peers the policy gives it (peers_linked), each as peers_entry says (key,
 * PSK, allowed IPs, endpoint, keepalive), and the link has the endpoint's identity and port; a
 * restart loses nothing.
 */
#include "driver/engine.c"

#include "fuzz_daemon.h"

#include "addr.h"
#include "api.h"
#include "endpoint.h"
#include "keystore.h"
#include "links.h"
#include "network.h"
#include "peers.h"
#include "peersync.h"
#include "reconcile.h"
#include "state.h"

#define STEPS_MAX 64

enum step_kind { STEP_ROUTE, STEP_FLUSH, STEP_RESTART, STEP_ENGINE, STEP_RESOLVE, STEP_UNKNOWN };

static const struct step {
	char name;
	enum step_kind kind;
	const char *path;
} steps[] = {
	{ 'c', STEP_ROUTE, "/NetworkDriver.CreateNetwork" },
	{ 'D', STEP_ROUTE, "/NetworkDriver.DeleteNetwork" },
	{ 'e', STEP_ROUTE, "/NetworkDriver.CreateEndpoint" },
	{ 'j', STEP_ROUTE, "/NetworkDriver.Join" },
	{ 'l', STEP_ROUTE, "/NetworkDriver.Leave" },
	{ 'd', STEP_ROUTE, "/NetworkDriver.DeleteEndpoint" },
	{ 'i', STEP_ROUTE, "/NetworkDriver.EndpointOperInfo" },
	{ 'a', STEP_ROUTE, "/NetworkDriver.AllocateNetwork" },
	{ 'A', STEP_ROUTE, "/NetworkDriver.FreeNetwork" },
	{ 'g', STEP_ROUTE, "/NetworkDriver.GetCapabilities" },
	{ 'x', STEP_ROUTE, "/NetworkDriver.ProgramExternalConnectivity" },
	{ 'n', STEP_ROUTE, "/NetworkDriver.DiscoverNew" },
	{ 'P', STEP_ROUTE, "/Plugin.Activate" },
	{ 'G', STEP_ROUTE, "/IpamDriver.GetCapabilities" },
	{ 's', STEP_ROUTE, "/IpamDriver.GetDefaultAddressSpaces" },
	{ 'p', STEP_ROUTE, "/IpamDriver.RequestPool" },
	{ 'q', STEP_ROUTE, "/IpamDriver.ReleasePool" },
	{ 'R', STEP_ROUTE, "/IpamDriver.RequestAddress" },
	{ 'Q', STEP_ROUTE, "/IpamDriver.ReleaseAddress" },
	{ 'f', STEP_FLUSH, NULL },
	{ 'r', STEP_RESTART, NULL },
	{ 'w', STEP_ENGINE, NULL },
	{ 'z', STEP_RESOLVE, NULL },
	{ '?', STEP_UNKNOWN, NULL },
};

#define N_STEPS (sizeof(steps) / sizeof(steps[0]))

/* A second backend for wg.backend, the fake one under another name. */
static struct backend_ops fake_other;
static struct test_daemon td;
static bool engine_on;
/* FUZZ_VERBOSE=1 in the environment: each request and its answer on stderr (to write seeds). */
static bool verbose;

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_daemon_setup();
	verbose = getenv("FUZZ_VERBOSE") != NULL;
	fake_other = fake_backend;
	fake_other.name = "other";
	return 0;
}

static const struct step *step_of(unsigned char c)
{
	for (size_t i = 0; i < N_STEPS; i++)
		if (steps[i].name == c)
			return &steps[i];
	return &steps[c % N_STEPS];
}

static void engine_waits(void *ctx, const struct endpoint *ep)
{
}

static void engine_set(struct wgd *d)
{
	wgd_lock(d);
	d->resolve = engine_on ? engine_waits : NULL;
	wgd_unlock(d);
}

/* Checks the answer to PATH: a route of the table answers IPAM errors under "Error", anything
 * else (an unknown path too) under "Err". */
static void check_answer(const char *path, const char *answer)
{
	bool ipam = false;
	json_t *j, *e;

	for (size_t i = 0; i < N_STEPS; i++)
		if (steps[i].path && !strcmp(steps[i].path, path))
			ipam = !strncmp(path, "/IpamDriver.", 12);
	FUZZ_CHECKF(answer, "%s: no answer", path);
	if (verbose)
		fprintf(stderr, "%s -> %s\n", path, answer);
	j = json_loads(answer, JSON_REJECT_DUPLICATES, NULL);
	FUZZ_CHECKF(json_is_object(j), "%s: answer %s", path, answer);
	FUZZ_CHECKF(!json_object_get(j, ipam ? "Err" : "Error"), "%s: answer %s", path, answer);
	e = json_object_get(j, ipam ? "Error" : "Err");
	if (e) {
		FUZZ_CHECKF(json_is_string(e) && json_string_length(e), "%s: answer %s", path,
			    answer);
		fuzz_check_text(path, json_string_value(e), false);
		FUZZ_CHECKF(json_object_size(j) == 1, "%s: answer %s", path, answer);
	}
	json_decref(j);
}

static const struct endpoint *link_owner(const struct wgd *d, const char *ifname)
{
	for (const struct network *n = d->networks; n; n = n->next)
		for (const struct endpoint *ep = n->endpoints; ep; ep = ep->next)
			if (!strcmp(ep->ifname, ifname))
				return ep;
	return NULL;
}

/* After any step: calls are over, every endpoint has its identity, joined endpoints have links,
 * links have endpoints. */
static void check_model(struct wgd *d)
{
	uint8_t key[WG_KEY_LEN];

	wgd_lock(d);
	for (int i = 0; i < FAKE_LINKS_MAX; i++)
		FUZZ_CHECKF(!fake_links[i].used || link_owner(d, fake_links[i].dev.name),
			    "link %s: left behind, no endpoint has it", fake_links[i].dev.name);
	for (const struct network *n = d->networks; n; n = n->next) {
		for (const struct endpoint *ep = n->endpoints; ep; ep = ep->next) {
			FUZZ_CHECKF(!ep->busy, "endpoint %.12s: busy after the call", ep->id);
			FUZZ_CHECKF(link_owner(d, ep->ifname) == ep,
				    "endpoint %.12s: link %s taken", ep->id, ep->ifname);
			FUZZ_CHECKF(!ep->joined || fake_link_find(ep->ifname),
				    "endpoint %.12s: joined without its link %s", ep->id,
				    ep->ifname);
			FUZZ_CHECKF(!keystore_identity_get(d->keys, ep->key_ref, false, key, NULL),
				    "endpoint %.12s: its identity %s is gone", ep->id, ep->key_ref);
		}
	}
	wgd_unlock(d);
	sodium_memzero(key, sizeof(key));
}

static bool same_allowedip(const struct wg_allowedip *a, const struct wg_allowedip *b)
{
	if (a->family != b->family || a->cidr != b->cidr)
		return false;
	return a->family == AF_INET ? a->ip4.s_addr == b->ip4.s_addr
				    : !memcmp(&a->ip6, &b->ip6, sizeof(a->ip6));
}

/* The peer A's link has for B is what peers_entry says. */
static void check_peer(const struct endpoint *a, const struct endpoint *b, const struct wg_peer *p)
{
	struct wg_peer want;
	char err[ERRMSG_LEN] = "";
	int ret = peers_entry(a, b, &want, err);

	FUZZ_CHECKF(!ret, "endpoint %.12s, peer %.12s: %s", a->id, b->id, err);
	FUZZ_CHECKF(p->has_preshared_key == want.has_preshared_key &&
			    !memcmp(p->preshared_key, want.preshared_key, WG_KEY_LEN),
		    "endpoint %.12s, peer %.12s: another PSK", a->id, b->id);
	FUZZ_CHECKF(p->persistent_keepalive == want.persistent_keepalive,
		    "endpoint %.12s, peer %.12s: keepalive %u, expected %u", a->id, b->id,
		    p->persistent_keepalive, want.persistent_keepalive);
	FUZZ_CHECKF(p->endpoint.addr.sa_family == AF_INET &&
			    p->endpoint.addr4.sin_addr.s_addr ==
				    want.endpoint.addr4.sin_addr.s_addr &&
			    p->endpoint.addr4.sin_port == want.endpoint.addr4.sin_port,
		    "endpoint %.12s, peer %.12s: endpoint port %u, expected %u", a->id, b->id,
		    ntohs(p->endpoint.addr4.sin_port), ntohs(want.endpoint.addr4.sin_port));
	FUZZ_CHECKF(p->n_allowedips == want.n_allowedips,
		    "endpoint %.12s, peer %.12s: %zu allowed IPs, expected %zu", a->id, b->id,
		    p->n_allowedips, want.n_allowedips);
	for (size_t i = 0; i < want.n_allowedips; i++)
		FUZZ_CHECKF(same_allowedip(&p->allowedips[i], &want.allowedips[i]),
			    "endpoint %.12s, peer %.12s: allowed IP %zu", a->id, b->id, i);
	sodium_memzero(&want, sizeof(want));
}

/* The link of A (joined) has A's key and port and exactly the peers the policy gives it. */
static void check_link(const struct wgd *d, const struct endpoint *a, struct fake_link *l)
{
	const struct network *n = a->net;
	uint8_t priv[WG_KEY_LEN];

	FUZZ_CHECKF(!keystore_identity_get(d->keys, a->key_ref, false, priv, NULL) &&
			    !memcmp(priv, l->dev.private_key, WG_KEY_LEN),
		    "endpoint %.12s: link %s without the key of identity %s", a->id, a->ifname,
		    a->key_ref);
	sodium_memzero(priv, sizeof(priv));
	FUZZ_CHECKF(l->dev.listen_port == a->listen_port, "endpoint %.12s: port %u, link %u", a->id,
		    a->listen_port, l->dev.listen_port);
	for (size_t i = 0; i < l->dev.n_peers; i++) {
		const struct endpoint *b = NULL;

		for (const struct endpoint *o = n->endpoints; o && !b; o = o->next)
			if (!memcmp(o->public_key, l->dev.peers[i].public_key, WG_KEY_LEN) &&
			    peers_linked(a, o))
				b = o;
		FUZZ_CHECKF(b, "endpoint %.12s (%s): link %s has peer %zu, which it may not have",
			    a->id, a->key_ref, a->ifname, i);
	}
	for (const struct endpoint *b = n->endpoints; b; b = b->next) {
		struct wg_peer *p;

		if (!peers_linked(a, b))
			continue;
		p = fake_peer_find(l, b->public_key);
		FUZZ_CHECKF(p, "endpoint %.12s (%s): link %s lacks peer %.12s (%s)", a->id,
			    a->key_ref, a->ifname, b->id, b->key_ref);
		check_peer(a, b, p);
	}
}

/* After a flush: nothing is left to program, and every link is what the model says. */
static void check_peers(struct wgd *d)
{
	wgd_lock(d);
	for (const struct network *n = d->networks; n; n = n->next) {
		for (const struct endpoint *a = n->endpoints; a; a = a->next) {
			struct fake_link *l = fake_link_find(a->ifname);

			FUZZ_CHECKF(!peersync_pending(a),
				    "endpoint %.12s: %zu peers still to program", a->id,
				    peersync_pending(a));
			if (a->joined && l)
				check_link(d, a, l);
		}
	}
	wgd_unlock(d);
}

static int by_id(const void *a, const void *b)
{
	return strcmp((*(struct network *const *)a)->id, (*(struct network *const *)b)->id);
}

static void print_endpoint(FILE *f, const struct endpoint *ep)
{
	char a4[ADDR_STRLEN] = "", a6[ADDR_STRLEN] = "", *links = links_format(&ep->links);

	if (ep->addr4.family)
		addr_format(&ep->addr4, a4);
	if (ep->addr6.family)
		addr_format(&ep->addr6, a6);
	fprintf(f, "  endpoint %s %s %s key %s links %s pending %d %s %s port %u joined %d %s ",
		ep->id, ep->ifname, ep->backend->name, ep->key_ref, links, ep->pending, a4, a6,
		ep->listen_port, ep->joined, ep->sandbox ? ep->sandbox : "-");
	for (size_t i = 0; i < WG_KEY_LEN; i++)
		fprintf(f, "%02x", ep->public_key[i]);
	fputc('\n', f);
	free(links);
}

/* What D knows of its networks, in ID order (a restart loads them in file name order). */
static char *model_text(struct wgd *d)
{
	struct network *nets[64];
	size_t n = 0, len;
	char *text = NULL;
	FILE *f = open_memstream(&text, &len);

	FUZZ_CHECK(f);
	wgd_lock(d);
	for (struct network *net = d->networks; net && n < 64; net = net->next)
		nets[n++] = net;
	qsort(nets, n, sizeof(nets[0]), by_id);
	for (size_t i = 0; i < n; i++) {
		const struct network *net = nets[i];

		fprintf(f,
			"network %s mtu %u psk %d policy %s backend %s keepalive %u net %s ipv6 "
			"%d\n",
			net->id, net->opts.mtu, net->opts.psk,
			network_policy_name(net->opts.policy),
			net->opts.backend ? net->opts.backend->name : "-", net->opts.keepalive,
			net->opts.cluster, net->ipv6);
		for (const struct endpoint *ep = net->endpoints; ep; ep = ep->next)
			print_endpoint(f, ep);
	}
	wgd_unlock(d);
	fclose(f);
	return text;
}

/* A new daemon on the same directory and links, as after a crash: it must know what this one
 * knew. The links stay (the fake backend's are the host's), so reconcile keeps them. */
static void restart(void)
{
	char *before, *after;
	int loaded;

	before = model_text(&td.d);

	test_daemon_restart(&td);
	engine_set(&td.d);
	wgd_lock(&td.d);
	loaded = state_load(&td.d);
	wgd_unlock(&td.d);
	FUZZ_CHECKF(loaded >= 0, "state_load: %s", strerror(-loaded));
	after = model_text(&td.d);
	FUZZ_CHECKF(!strcmp(before, after), "a restart changed what the daemon knows:\n%s---\n%s",
		    before, after);
	free(before);
	free(after);
	reconcile_endpoints(&td.d);
}

/* "N1 E1 KEY LINKS": what the resolver found for endpoint E1 of N1 (KEY "-": no label). */
static void resolve_step(struct wgd *d, char *body)
{
	char *save = NULL, *nid, *eid, *key, *links;

	nid = strtok_r(body, " ", &save);
	eid = strtok_r(NULL, " ", &save);
	key = strtok_r(NULL, " ", &save);
	links = strtok_r(NULL, "", &save);
	if (!nid || !eid)
		return;
	if (key && !strcmp(key, "-"))
		key = NULL;
	wgd_lock(d);
	apply(d, nid, eid, key, links, NULL, 0);
	wgd_unlock(d);
}

static void run_step(const struct step *s, char *body, size_t len)
{
	char path[256], *answer;

	switch (s->kind) {
	case STEP_ROUTE:
		answer = api_handle(&td.d, s->path, body, len);
		check_answer(s->path, answer);
		free(answer);
		break;
	case STEP_UNKNOWN:
		snprintf(path, sizeof(path), "/%s", body);
		answer = api_handle(&td.d, path, "{}", 2);
		check_answer(path, answer);
		free(answer);
		break;
	case STEP_FLUSH:
		peersync_flush(&td.d);
		check_peers(&td.d);
		break;
	case STEP_RESTART: restart(); break;
	case STEP_ENGINE:
		engine_on = !engine_on;
		engine_set(&td.d);
		break;
	case STEP_RESOLVE: resolve_step(&td.d, body); break;
	}
	check_model(&td.d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	size_t n = 0;

	fuzz_daemon_rewind();
	fuzz_daemon_init(&td);
	if (backends_add(&td.d.backends, &fake_other, NULL))
		abort();
	engine_on = false;
	while (p < end && n++ < STEPS_MAX) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t line = nl ? (size_t)(nl - p) : (size_t)(end - p), len;
		char *body;

		if (line) {
			const struct step *s = step_of((unsigned char)p[0]);

			body = fuzz_expand_ids(p + 1, line - 1, &len);
			run_step(s, body, len);
			free(body);
		}
		p += line + 1;
	}
	peersync_flush(&td.d);
	check_peers(&td.d);
	test_daemon_destroy(&td);
	fake_reset();
	return 0;
}

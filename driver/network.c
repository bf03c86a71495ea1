// SPDX-License-Identifier: MIT
#include "network.h"

#include "backends.h"
#include "endpoint.h"
#include "errmsg.h"
#include "quote.h"
#include "state.h"
#include "wgd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define OPT_MTU	      "com.docker.network.driver.mtu"
#define OPT_PSK	      "wg.psk"
#define OPT_POLICY    "wg.policy"
#define OPT_NET	      "wg.net"
#define OPT_KEEPALIVE "wg.keepalive"
#define KNOWN_OPTIONS                                                      \
	OPT_PSK " (on|off), " OPT_POLICY " (mesh|links), " BACKENDS_OPTION \
		" (kernel|userspace), " OPT_MTU " (1280-65455), " OPT_NET  \
		" (a name), " OPT_KEEPALIVE " (seconds, 0-65535)"

static int parse_mtu(const json_t *v, uint32_t *out, char *err)
{
	const char *s;
	char *end;
	long mtu;

	/* The engine passes -o values as strings; accept a JSON integer from raw API callers too.
	 */
	if (json_is_integer(v)) {
		mtu = (long)json_integer_value(v);
	} else if (json_is_string(v)) {
		s = json_string_value(v);
		errno = 0;
		mtu = strtol(s, &end, 10);
		if (errno || end == s || *end)
			goto bad;
	} else {
		goto bad;
	}
	if (!network_mtu_valid(mtu))
		goto bad;
	*out = (uint32_t)mtu;
	return 0;
bad:
	return errmsg_set(err, -EINVAL, "option \"%s\": expected an integer from %d to %d", OPT_MTU,
			  NETWORK_MTU_MIN, NETWORK_MTU_MAX);
}

bool network_mtu_valid(long mtu)
{
	return mtu >= NETWORK_MTU_MIN && mtu <= NETWORK_MTU_MAX;
}

bool network_name_valid(const char *name)
{
	size_t len = name ? strlen(name) : 0;

	if (!len || len > NETWORK_NAME_MAX ||
	    !strchr("abcdefghijklmnopqrstuvwxyz0123456789", name[0]))
		return false;
	return strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789._-") == len;
}

/* An integer option from 0 to MAX, as the engine passes -o values (strings) or a raw caller
 * might (a JSON integer). */
static int parse_uint(const char *key, const json_t *v, long max, long *out, char *err)
{
	const char *s;
	char *end;
	long n;

	if (json_is_integer(v)) {
		n = (long)json_integer_value(v);
	} else if (json_is_string(v)) {
		s = json_string_value(v);
		errno = 0;
		n = strtol(s, &end, 10);
		if (errno || end == s || *end)
			n = -1;
	} else {
		n = -1;
	}
	if (n < 0 || n > max)
		return errmsg_set(err, -EINVAL, "option \"%s\": expected an integer from 0 to %ld",
				  key, max);
	*out = n;
	return 0;
}

static int parse_keepalive(const json_t *v, uint16_t *out, char *err)
{
	long n = 0;
	int ret = parse_uint(OPT_KEEPALIVE, v, NETWORK_KEEPALIVE_MAX, &n, err);

	if (!ret)
		*out = (uint16_t)n;
	return ret;
}

static int parse_net(const json_t *v, char *out, char *err)
{
	const char *s = json_string_value(v);

	if (!network_name_valid(s))
		return errmsg_set(err, -EINVAL,
				  "option \"" OPT_NET
				  "\": expected a name of 1 to %d characters of "
				  "a-z 0-9 . _ - starting with a letter or digit, got \"%s\"",
				  NETWORK_NAME_MAX, s ? QUOTE(s, 80) : "(not a string)");
	snprintf(out, NETWORK_NAME_MAX + 1, "%s", s);
	return 0;
}

static int parse_onoff(const char *key, const json_t *v, bool *out, char *err)
{
	const char *s = json_string_value(v);

	if (s && (!strcmp(s, "on") || !strcmp(s, "true"))) {
		*out = true;
		return 0;
	}
	if (s && (!strcmp(s, "off") || !strcmp(s, "false"))) {
		*out = false;
		return 0;
	}
	return errmsg_set(err, -EINVAL, "option \"%s\": expected on or off", key);
}

const char *network_policy_name(enum network_policy policy)
{
	return policy == NETWORK_POLICY_LINKS ? "links" : "mesh";
}

int network_policy_parse(const char *s, enum network_policy *out)
{
	if (s && !strcmp(s, "mesh"))
		*out = NETWORK_POLICY_MESH;
	else if (s && !strcmp(s, "links"))
		*out = NETWORK_POLICY_LINKS;
	else
		return -EINVAL;
	return 0;
}

static int parse_policy(const json_t *v, enum network_policy *out, char *err)
{
	if (network_policy_parse(json_string_value(v), out))
		return errmsg_set(err, -EINVAL, "option \"%s\": expected mesh or links",
				  OPT_POLICY);
	return 0;
}

static int parse_backend(const struct wgd *d, const json_t *v, const struct backend_ops **out,
			 char *err)
{
	if (!json_is_string(v))
		return errmsg_set(err, -EINVAL, "option \"%s\": expected kernel or userspace",
				  BACKENDS_OPTION);
	return backends_choose(&d->backends, json_string_value(v), "option \"" BACKENDS_OPTION "\"",
			       out, err);
}

int network_options_parse(const struct wgd *d, const json_t *generic, struct network_options *out,
			  char *err)
{
	const char *key;
	json_t *v;
	int ret;

	memset(out, 0, sizeof(*out));
	out->mtu = NETWORK_MTU_DEFAULT;
	out->psk = true;
	out->policy = NETWORK_POLICY_MESH;
	if (!generic)
		return 0;
	if (!json_is_object(generic))
		return errmsg_set(err, -EINVAL,
				  "Options.com.docker.network.generic: expected an object");
	json_object_foreach ((json_t *)generic, key, v) {
		if (!strcmp(key, OPT_MTU))
			ret = parse_mtu(v, &out->mtu, err);
		else if (!strcmp(key, OPT_PSK))
			ret = parse_onoff(key, v, &out->psk, err);
		else if (!strcmp(key, OPT_POLICY))
			ret = parse_policy(v, &out->policy, err);
		else if (!strcmp(key, BACKENDS_OPTION))
			ret = parse_backend(d, v, &out->backend, err);
		else if (!strcmp(key, OPT_NET))
			ret = parse_net(v, out->cluster, err);
		else if (!strcmp(key, OPT_KEEPALIVE))
			ret = parse_keepalive(v, &out->keepalive, err);
		else
			ret = errmsg_set(err, -EINVAL, "option \"%s\": unknown; known options: %s",
					 QUOTE(key, 60), KNOWN_OPTIONS);
		if (ret)
			return ret;
	}
	return 0;
}

static bool network_matches(const struct network *n, const char *want, bool exact)
{
	size_t len = strlen(want);

	if (exact)
		return !strcmp(n->id, want) || !strcmp(n->name, want) ||
		       (n->opts.cluster[0] && !strcmp(n->opts.cluster, want));
	return len && len < NETWORK_ID_LEN && strspn(want, "0123456789abcdef") == len &&
	       !strncmp(n->id, want, len);
}

int network_pick(struct wgd *d, const char *want, struct network **out, char *err)
{
	size_t n = 0;

	wgd_assert_locked(d);
	for (int exact = 1; exact >= 0 && !n; exact--)
		for (struct network *net = d->networks; net; net = net->next)
			if (network_matches(net, want, exact) && n++ == 0)
				*out = net;
	if (n == 1)
		return 0;
	if (n)
		return errmsg_set(err, -EINVAL,
				  "network \"%s\": %zu networks match; give more of its ID",
				  QUOTE(want, 64), n);
	return errmsg_set(err, -ENOENT,
			  "network \"%s\": no wireguard network of this host has that ID, name or "
			  "wg.net name (docker network ls --filter driver=wireguard:latest)",
			  QUOTE(want, 64));
}

struct network *network_find(const struct wgd *d, const char *id)
{
	for (struct network *n = d->networks; n; n = n->next)
		if (!strcmp(n->id, id))
			return n;
	return NULL;
}

void network_insert(struct wgd *d, struct network *net)
{
	struct network **tail = &d->networks;

	wgd_assert_locked(d);
	while (*tail)
		tail = &(*tail)->next;
	net->next = NULL;
	*tail = net;
}

static void unlink_network(struct network *net)
{
	for (struct network **p = &net->d->networks; *p; p = &(*p)->next) {
		if (*p == net) {
			*p = net->next;
			return;
		}
	}
}

void network_free(struct network *net)
{
	struct endpoint *ep, *next;

	if (!net)
		return;
	for (ep = net->endpoints; ep; ep = next) {
		next = ep->next;
		endpoint_free(ep);
	}
	for (ep = net->outside; ep; ep = next) {
		next = ep->next;
		endpoint_free(ep);
	}
	for (ep = net->remotes; ep; ep = next) {
		next = ep->next;
		endpoint_free(ep);
	}
	free(net);
}

int network_new(struct wgd *d, const char *id, const struct network_options *opts, bool ipv6,
		struct network **out, char *err)
{
	struct network *net = calloc(1, sizeof(*net));

	*out = NULL;
	if (!net)
		return errmsg_set(err, -ENOMEM, "out of memory");
	net->d = d;
	memcpy(net->id, id, NETWORK_ID_LEN);
	net->opts = *opts;
	net->ipv6 = ipv6;
	*out = net;
	return 0;
}

int network_create(struct wgd *d, const char *id, const struct network_options *opts, bool ipv6,
		   char *err)
{
	struct network *net = network_find(d, id);
	int ret;

	wgd_assert_locked(d);
	if (net) {
		if (net->opts.mtu == opts->mtu && net->opts.psk == opts->psk &&
		    net->opts.policy == opts->policy && net->opts.backend == opts->backend &&
		    net->opts.keepalive == opts->keepalive &&
		    !strcmp(net->opts.cluster, opts->cluster) && net->ipv6 == ipv6 &&
		    !strcmp(net->opts.pool4, opts->pool4) &&
		    !strcmp(net->opts.pool6, opts->pool6) && net->opts.own_ipam == opts->own_ipam)
			return 0;
		return errmsg_set(err, -EEXIST,
				  "NetworkID %.12s: exists already with other options", id);
	}
	ret = network_new(d, id, opts, ipv6, &net, err);
	if (ret)
		return ret;
	network_insert(d, net);
	ret = state_save(net, err);
	if (ret) {
		unlink_network(net);
		network_free(net);
	}
	return ret;
}

int network_delete(struct wgd *d, const char *id, char *err)
{
	struct network *net = network_find(d, id);
	int ret;

	wgd_assert_locked(d);
	if (!net)
		return 0;
	if (net->endpoints)
		return errmsg_set(err, -EBUSY, "network %.12s: still has endpoints", id);
	if (net->outside)
		return errmsg_set(
			err, -EBUSY,
			"network %.12s: outside peer %s is on it (wgctl peer rm %s first)", id,
			net->outside->key_ref, net->outside->key_ref);
	ret = state_remove(d, id, err);
	if (ret)
		return ret;
	unlink_network(net);
	network_free(net);
	return 0;
}

void network_finalise(struct wgd *d)
{
	struct network *net, *next;

	for (net = d->networks; net; net = next) {
		next = net->next;
		network_free(net);
	}
	d->networks = NULL;
}

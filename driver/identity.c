// SPDX-License-Identifier: MIT
#include "identity.h"

#include "backends.h"
#include "errmsg.h"
#include "log.h"
#include "outside.h"
#include "quote.h"
#include "wgd.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

struct options {
	const char *key;   /* wg.key, or NULL */
	const char *links; /* wg.links, or NULL */
};

static int parse_options(const json_t *options, struct options *out, char *err)
{
	const char *key, **slot;
	json_t *v;

	memset(out, 0, sizeof(*out));
	if (!options)
		return 0;
	/* The engine puts its own labels here too; only our wg.* namespace is ours to judge. */
	json_object_foreach ((json_t *)options, key, v) {
		/* wg.backend is the endpoint's business (endpoint.c), not the identity's. */
		if (strncmp(key, "wg.", 3) || !strcmp(key, BACKENDS_OPTION))
			continue;
		if (!strcmp(key, IDENTITY_OPT_KEY))
			slot = &out->key;
		else if (!strcmp(key, IDENTITY_OPT_LINKS))
			slot = &out->links;
		else
			return errmsg_set(err, -EINVAL,
					  "Options.\"%s\": unknown endpoint option; known endpoint "
					  "options: " IDENTITY_OPT_KEY ", " IDENTITY_OPT_LINKS
					  ", " BACKENDS_OPTION,
					  QUOTE(key, 60));
		if (!json_is_string(v))
			return errmsg_set(err, -EINVAL, "Options.%s: expected a string", key);
		*slot = json_string_value(v);
	}
	return 0;
}

int identity_check_key(const struct endpoint *ep, const char *key_ref, const char *what, char *err)
{
	/* A key generated for EP goes with EP: no other endpoint may use it. */
	bool generated = !strcmp(key_ref, ep->id);

	for (struct network *n = ep->net->d->networks; n; n = n->next) {
		for (const struct endpoint *o = n->endpoints; o; o = o->next) {
			if (o == ep || strcmp(o->key_ref, key_ref))
				continue;
			if (n == ep->net)
				return errmsg_set(
					err, -EEXIST,
					"%s: key \"%s\" is in use by endpoint %.12s on this "
					"network; a key may have one live endpoint per network",
					what, key_ref, o->id);
			if (generated)
				return errmsg_set(err, -EEXIST,
						  "%s: endpoint %.12s uses its ID as a named key "
						  "(wg.key) on network %.12s",
						  what, o->id, n->id);
			if (!endpoint_key_named(o))
				return errmsg_set(
					err, -EEXIST,
					"%s: \"%s\" is the key generated for endpoint %.12s", what,
					key_ref, o->id);
		}
	}
	for (struct network *n = ep->net->d->networks; n; n = n->next)
		for (const struct endpoint *o = n->outside; o; o = o->next)
			if (o != ep && !strcmp(o->key_ref, key_ref))
				return errmsg_set(err, -EEXIST,
						  "%s: \"%s\" is the identity of an outside peer "
						  "(wgctl peer list)",
						  what, key_ref);
	/* On a cluster network a key has one live endpoint in the whole cluster. */
	for (const struct endpoint *o = ep->net->remotes; o; o = o->next)
		if (!strcmp(o->key_ref, key_ref))
			return errmsg_set(
				err, -EEXIST,
				"%s: key \"%s\" is in use by endpoint %.12s on host %s; a key "
				"may have one live endpoint per network",
				what, key_ref, o->id, o->host);
	return 0;
}

/* 0, -ENOENT, or another -errno with the reason in keystore_error(). */
static int key_exists(struct keystore *ks,
		      int (*get)(struct keystore *, const char *, bool, uint8_t *, bool *),
		      const char *ref)
{
	uint8_t key[WG_KEY_LEN];
	int ret = get(ks, ref, false, key, NULL);

	sodium_memzero(key, sizeof(key));
	return ret;
}

/* A named preshared key must exist, and agree with the other end's declaration of the link. With
 * STRICT the identity linked to must exist too, so that a typo is an error, not a link that
 * never comes up. */
static int check_link(const struct endpoint *ep, const char *key_ref, const struct link *l,
		      bool strict, const char *what, char *err)
{
	const struct link *back;
	int ret;

	if (l->psk[0]) {
		ret = key_exists(ep->net->d->keys, keystore_psk_ref_get, l->psk);
		if (ret == -ENOENT)
			return errmsg_set(err, ret,
					  "%s: link to \"%s\": no preshared key \"%s\" (create it "
					  "with: wgctl generate --psk %s)",
					  what, l->peer, l->psk, l->psk);
		if (ret)
			return errmsg_set(err, ret, "%s: link to \"%s\": %s", what, l->peer,
					  keystore_error());
	}
	/* An outside peer given by its public key alone has no key here. */
	if (strict && !outside_find(ep->net->d, l->peer)) {
		ret = key_exists(ep->net->d->keys, keystore_identity_get, l->peer);
		if (ret == -ENOENT)
			return errmsg_set(
				err, ret,
				"%s: link to \"%s\": no identity has that key reference "
				"(start its endpoint with wg.key=%s first, or create the key "
				"with: wgctl generate %s)",
				what, l->peer, l->peer, l->peer);
		if (ret)
			return errmsg_set(err, ret, "%s: link to \"%s\": %s", what, l->peer,
					  keystore_error());
	}
	for (const struct endpoint *o = ep->net->endpoints; o; o = o->next) {
		if (o == ep || strcmp(o->key_ref, l->peer))
			continue;
		back = links_find(&o->links, key_ref);
		if (back && back->psk[0] && l->psk[0] && strcmp(back->psk, l->psk))
			return errmsg_set(
				err, -EINVAL,
				"%s: link to \"%s\" names preshared key \"%s\" but endpoint "
				"%.12s declares that link with \"%s\"",
				what, l->peer, l->psk, o->id, back->psk);
	}
	return 0;
}

static int check_links(const struct endpoint *ep, const char *key_ref, const struct link_set *links,
		       bool strict, const char *what, char *err)
{
	int ret;

	for (size_t i = 0; i < links->n; i++) {
		ret = check_link(ep, key_ref, &links->v[i], strict, what, err);
		if (ret)
			return ret;
	}
	return 0;
}

int identity_check(const struct endpoint *ep, const char *key_ref, const struct link_set *links,
		   bool strict, const char *what, char *err)
{
	int ret = identity_check_key(ep, key_ref, what, err);

	if (!ret)
		ret = check_links(ep, key_ref, links, strict, what, err);
	return ret;
}

int identity_from_options(struct endpoint *ep, const json_t *options, bool may_wait, char *err)
{
	struct options opts;
	int ret;

	ret = parse_options(options, &opts, err);
	if (!ret && opts.key)
		ret = links_check_ref(opts.key, "Options." IDENTITY_OPT_KEY, err);
	if (ret)
		return ret;
	snprintf(ep->key_ref, sizeof(ep->key_ref), "%s", opts.key ? opts.key : ep->id);
	if (opts.links)
		ret = links_parse(opts.links, ep->key_ref, "Options." IDENTITY_OPT_LINKS,
				  &ep->links, err);
	if (!ret)
		ret = identity_check_key(ep, ep->key_ref, "Options." IDENTITY_OPT_KEY, err);
	if (!ret)
		ret = check_links(ep, ep->key_ref, &ep->links, true, "Options." IDENTITY_OPT_LINKS,
				  err);
	if (ret)
		return ret;
	/* Driver options win: only an endpoint without them looks at its container. */
	ep->pending = may_wait && !opts.key && !opts.links;
	if (!ep->pending && !opts.key && !opts.links &&
	    ep->net->opts.policy == NETWORK_POLICY_LINKS)
		log_warn("endpoint %.12s: no wg.key or wg.links on a links network, and no engine "
			 "access to read its container's: it has no links",
			 ep->id);
	return 0;
}

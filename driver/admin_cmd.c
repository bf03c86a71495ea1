// SPDX-License-Identifier: MIT
#include "admin_cmd.h"

#include "cluster.h"

#include "endpoint.h"
#include "errmsg.h"
#include "keystore.h"
#include "links.h"
#include "outside.h"
#include "log.h"
#include "peers.h"
#include "quote.h"
#include "status.h"
#include "wgd.h"

#include <errno.h>
#include <stdbool.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define B64_LEN sodium_base64_ENCODED_LEN(KEYSTORE_KEY_LEN, sodium_base64_VARIANT_ORIGINAL)

enum key_kind { KIND_NONE, KIND_IDENTITY, KIND_PSK };

#define ARGS_MAX 16

struct request {
	struct wgd *d;
	struct cluster *cluster; /* for the cluster's commands, which run without the lock */
	const char *command;
	enum key_kind kind;
	const char *ref;
	const char *key; /* base64, import only */
	/* The words after the command, for the commands that take words (show, peer-*). */
	char *argv[ARGS_MAX];
	size_t argc;
};

/* Room for N more bytes and a NUL in T; -ENOMEM. */
static int reserve(struct admin_text *t, size_t n)
{
	size_t len = t->len, cap;
	char *grown;

	if (len + n + 1 <= t->cap)
		return 0;
	cap = (len + n + 1) * 2;
	/* Not realloc: the old block may hold a secret and must be wiped, not left. */
	grown = malloc(cap);
	if (!grown)
		return -ENOMEM;
	if (t->data)
		memcpy(grown, t->data, len);
	admin_text_free(t);
	t->data = grown;
	t->len = len;
	t->cap = cap;
	return 0;
}

int admin_text_append(struct admin_text *t, const char *s, size_t n)
{
	if (reserve(t, n))
		return -ENOMEM;
	memcpy(t->data + t->len, s, n);
	t->len += n;
	t->data[t->len] = '\0';
	return 0;
}

int admin_text_printf(struct admin_text *t, const char *fmt, ...)
{
	size_t room = t->cap - t->len;
	va_list ap;
	int n;

	/* Formatted once where it fits (a /metrics answer is a hundred thousand lines). */
	va_start(ap, fmt);
	n = vsnprintf(room ? t->data + t->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= room) {
		if (reserve(t, (size_t)n))
			return -ENOMEM;
		va_start(ap, fmt);
		vsnprintf(t->data + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
	}
	t->len += (size_t)n;
	return 0;
}

void admin_text_free(struct admin_text *t)
{
	if (t->data)
		sodium_memzero(t->data, t->cap);
	free(t->data);
	t->data = NULL;
	t->len = t->cap = 0;
}

static const char *kind_name(enum key_kind kind)
{
	return kind == KIND_PSK ? "preshared key" : "identity";
}

static int key_get(const struct request *r, bool create, uint8_t *key, bool *created)
{
	return r->kind == KIND_PSK
		       ? keystore_psk_ref_get(r->d->keys, r->ref, create, key, created)
		       : keystore_identity_get(r->d->keys, r->ref, create, key, created);
}

/* 0 when the key exists, -ENOENT when not, else -errno with the reason in ERR. */
static int key_exists(const struct request *r, char *err)
{
	enum key_kind kind = r->kind;
	const char *ref = r->ref;
	uint8_t key[KEYSTORE_KEY_LEN];
	int ret = key_get(r, false, key, NULL);

	sodium_memzero(key, sizeof(key));
	if (ret && ret != -ENOENT)
		errmsg_set(err, ret, "%s %s: %s", kind_name(kind), ref, keystore_error());
	return ret;
}

static int print_public(struct admin_text *out, const uint8_t priv[KEYSTORE_KEY_LEN])
{
	uint8_t pub[KEYSTORE_KEY_LEN];
	char b64[B64_LEN];

	keystore_public_key(pub, priv);
	sodium_bin2base64(b64, sizeof(b64), pub, sizeof(pub), sodium_base64_VARIANT_ORIGINAL);
	return admin_text_printf(out, "%s\n", b64);
}

static bool uses_key(const struct endpoint *ep, enum key_kind kind, const char *ref)
{
	if (kind == KIND_IDENTITY)
		return !strcmp(ep->key_ref, ref);
	for (size_t i = 0; i < ep->links.n; i++)
		if (!strcmp(ep->links.v[i].psk, ref))
			return true;
	return false;
}

/* The live endpoint or outside peer that uses the key, as its identity or through a link's named
 * PSK. */
static const struct endpoint *key_user(const struct wgd *d, enum key_kind kind, const char *ref)
{
	for (struct network *n = d->networks; n; n = n->next) {
		for (const struct endpoint *ep = n->endpoints; ep; ep = ep->next)
			if (uses_key(ep, kind, ref))
				return ep;
		for (const struct endpoint *o = n->outside; o; o = o->next)
			if (uses_key(o, kind, ref))
				return o;
	}
	return NULL;
}

static int list_identity(const char *ref, const uint8_t pub[KEYSTORE_KEY_LEN], void *ctx)
{
	char b64[B64_LEN];

	sodium_bin2base64(b64, sizeof(b64), pub, KEYSTORE_KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
	return admin_text_printf(ctx, "identity %s %s\n", ref, b64);
}

static int list_psk(const char *ref, void *ctx)
{
	return admin_text_printf(ctx, "psk %s\n", ref);
}

static int cmd_list(const struct request *r, struct admin_text *out, char *err)
{
	int ret = keystore_identity_foreach(r->d->keys, list_identity, out);

	if (!ret)
		ret = keystore_psk_ref_foreach(r->d->keys, list_psk, out);
	if (ret)
		return errmsg_set(err, ret, "list: %s",
				  ret == -ENOMEM ? "out of memory" : keystore_error());
	return 0;
}

struct pair {
	char a[KEYSTORE_REF_MAX + 1], b[KEYSTORE_REF_MAX + 1];
};

struct pairs {
	struct pair *v;
	size_t n;
};

/* Adds the link A–B once, whichever end declared it. */
static int pairs_add(struct pairs *p, const char *a, const char *b)
{
	struct pair *grown;

	if (strcmp(a, b) > 0) {
		const char *t = a;

		a = b;
		b = t;
	}
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->v[i].a, a) && !strcmp(p->v[i].b, b))
			return 0;
	grown = realloc(p->v, (p->n + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	p->v = grown;
	snprintf(p->v[p->n].a, sizeof(p->v[p->n].a), "%s", a);
	snprintf(p->v[p->n].b, sizeof(p->v[p->n].b), "%s", b);
	p->n++;
	return 0;
}

static const struct endpoint *endpoint_by_key(const struct network *n, const char *ref)
{
	for (const struct endpoint *ep = n->endpoints; ep; ep = ep->next)
		if (!strcmp(ep->key_ref, ref))
			return ep;
	return NULL;
}

/* The links of network N: declared ones, and under mesh every pair of resolved endpoints. */
static int network_pairs(const struct network *n, struct pairs *p)
{
	int ret = 0;

	for (const struct endpoint *ep = n->endpoints; ep && !ret; ep = ep->next) {
		for (size_t i = 0; i < ep->links.n && !ret; i++)
			ret = pairs_add(p, ep->key_ref, ep->links.v[i].peer);
		for (const struct endpoint *o = ep->next; o && !ret; o = o->next)
			if (n->opts.policy == NETWORK_POLICY_MESH && !ep->pending && !o->pending)
				ret = pairs_add(p, ep->key_ref, o->key_ref);
	}
	return ret;
}

/* One line per link: network, the two identities, the PSK it uses, active or waiting. */
static int print_pair(const struct network *n, const struct pair *pr, struct admin_text *out)
{
	static const struct link_set none;
	const struct endpoint *ea = endpoint_by_key(n, pr->a), *eb = endpoint_by_key(n, pr->b);
	const char *psk = links_psk(pr->a, ea ? &ea->links : &none, pr->b, eb ? &eb->links : &none);
	bool active = ea && eb && peers_linked(ea, eb);

	if (psk)
		return admin_text_printf(out, "%.12s %s %s %s %s\n", n->id, pr->a, pr->b, psk,
					 active ? "active" : "waiting");
	return admin_text_printf(out, "%.12s %s %s %s%s%s %s\n", n->id, pr->a, pr->b,
				 n->opts.psk ? pr->a : "none", n->opts.psk ? "+" : "",
				 n->opts.psk ? pr->b : "", active ? "active" : "waiting");
}

static int cmd_links(const struct request *r, struct admin_text *out, char *err)
{
	struct pairs p = { 0 };
	int ret = 0;

	for (const struct network *n = r->d->networks; n && !ret; n = n->next) {
		p.n = 0;
		ret = network_pairs(n, &p);
		for (size_t i = 0; i < p.n && !ret; i++)
			ret = print_pair(n, &p.v[i], out);
	}
	free(p.v);
	if (ret)
		return errmsg_set(err, ret, "links: out of memory");
	return 0;
}

static int cmd_generate(const struct request *r, struct admin_text *out, char *err)
{
	uint8_t key[KEYSTORE_KEY_LEN];
	bool created = false;
	int ret;

	ret = key_get(r, true, key, &created);
	if (ret)
		errmsg_set(err, ret, "%s %s: %s", kind_name(r->kind), r->ref, keystore_error());
	else if (!created)
		ret = errmsg_set(err, -EEXIST, "%s %s exists already (delete it first)",
				 kind_name(r->kind), r->ref);
	else if (r->kind == KIND_IDENTITY)
		ret = print_public(out, key);
	sodium_memzero(key, sizeof(key));
	if (!ret)
		log_info("wgctl: generated %s %s", kind_name(r->kind), r->ref);
	return ret;
}

/* Decodes a base64 key, as wg genkey and genpsk print it, trailing whitespace allowed. */
static int decode_key(const char *text, uint8_t key[KEYSTORE_KEY_LEN])
{
	return text && !keystore_key_parse(text, strlen(text), key) ? 0 : -EINVAL;
}

static int cmd_import(const struct request *r, struct admin_text *out, char *err)
{
	uint8_t key[KEYSTORE_KEY_LEN];
	int ret;

	ret = key_exists(r, err);
	if (!ret)
		return errmsg_set(err, -EEXIST, "%s %s exists already (delete it first)",
				  kind_name(r->kind), r->ref);
	if (ret != -ENOENT)
		return ret;
	if (decode_key(r->key, key))
		return errmsg_set(err, -EINVAL,
				  "import %s: expected a base64 32-byte key on stdin "
				  "(as wg genkey or wg genpsk print it)",
				  r->ref);
	ret = r->kind == KIND_PSK ? keystore_psk_ref_put(r->d->keys, r->ref, key)
				  : keystore_identity_put(r->d->keys, r->ref, key);
	if (ret)
		errmsg_set(err, ret, "%s %s: %s", kind_name(r->kind), r->ref, keystore_error());
	else if (r->kind == KIND_IDENTITY)
		ret = print_public(out, key);
	sodium_memzero(key, sizeof(key));
	if (!ret)
		log_info("wgctl: imported %s %s", kind_name(r->kind), r->ref);
	return ret;
}

static int cmd_delete(const struct request *r, struct admin_text *out, char *err)
{
	const struct endpoint *user = key_user(r->d, r->kind, r->ref);
	int ret;

	if (user && user->outside)
		return errmsg_set(
			err, -EBUSY,
			"%s %s is in use by outside peer %s on network %.12s (wgctl peer rm "
			"%s)",
			kind_name(r->kind), r->ref, user->key_ref, user->net->id, user->key_ref);
	if (user)
		return errmsg_set(err, -EBUSY, "%s %s is in use by endpoint %.12s on network %.12s",
				  kind_name(r->kind), r->ref, user->id, user->net->id);
	ret = key_exists(r, err);
	if (ret == -ENOENT)
		return errmsg_set(err, ret, "no %s %s", kind_name(r->kind), r->ref);
	if (ret)
		return ret;
	/* An identity's link keys go with it: a new key under the same name starts afresh. */
	if (r->kind == KIND_PSK)
		ret = keystore_psk_ref_delete(r->d->keys, r->ref);
	else
		ret = keystore_psk_delete_all(r->d->keys, r->ref);
	if (!ret && r->kind == KIND_IDENTITY)
		ret = keystore_identity_delete(r->d->keys, r->ref);
	/* Another host may use the reference now. */
	if (!ret && r->kind == KIND_IDENTITY && r->cluster)
		cluster_key_released(r->cluster, r->ref);
	if (ret)
		return errmsg_set(err, ret, "%s %s: %s", kind_name(r->kind), r->ref,
				  keystore_error());
	log_info("wgctl: deleted %s %s", kind_name(r->kind), r->ref);
	return 0;
}

static int cmd_export(const struct request *r, struct admin_text *out, char *err)
{
	uint8_t key[KEYSTORE_KEY_LEN];
	char b64[B64_LEN];
	int ret;

	ret = key_get(r, false, key, NULL);
	if (ret == -ENOENT)
		return errmsg_set(err, ret, "no %s %s", kind_name(r->kind), r->ref);
	if (ret)
		return errmsg_set(err, ret, "%s %s: %s", kind_name(r->kind), r->ref,
				  keystore_error());
	sodium_bin2base64(b64, sizeof(b64), key, sizeof(key), sodium_base64_VARIANT_ORIGINAL);
	ret = admin_text_printf(out, "%s\n", b64);
	sodium_memzero(b64, sizeof(b64));
	sodium_memzero(key, sizeof(key));
	if (ret)
		return errmsg_set(err, ret, "out of memory");
	log_info("wgctl: exported %s %s", kind_name(r->kind), r->ref);
	return 0;
}

static int cmd_hosts(const struct request *r, struct admin_text *out, char *err)
{
	return cluster_hosts(r->cluster, out, err);
}

static int cmd_forget(const struct request *r, struct admin_text *out, char *err)
{
	return cluster_host_forget(r->cluster, r->ref, out, err);
}

/* show [NETWORK [ENDPOINT]]: the status document (status.h), as JSON. */
static int cmd_show(const struct request *r, struct admin_text *out, char *err)
{
	json_t *doc;
	char *text;
	int ret;

	if (r->argc > 2)
		return errmsg_set(err, -EINVAL, "show: expected at most a network and an endpoint");
	ret = status_collect(r->d, r->argc > 0 ? r->argv[0] : NULL, r->argc > 1 ? r->argv[1] : NULL,
			     &doc, err);
	if (ret)
		return ret;
	text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	ret = text ? admin_text_printf(out, "%s\n", text) : -ENOMEM;
	free(text);
	return ret ? errmsg_set(err, ret, "show: out of memory") : 0;
}

/* The value of NAME=VALUE words from FIRST on; each name at most once, except address (twice). */
static int peer_options(const struct request *r, size_t first, struct outside_request *o,
			const char **via, char *err)
{
	size_t n_addr = 0;

	for (size_t i = first; i < r->argc; i++) {
		char *eq = strchr(r->argv[i], '=');
		const char **slot = NULL;

		if (eq)
			*eq++ = '\0';
		if (eq && !strcmp(r->argv[i], "links") && o)
			slot = &o->links;
		else if (eq && !strcmp(r->argv[i], "public-key") && o)
			slot = &o->public_key;
		else if (eq && !strcmp(r->argv[i], "address") && o && n_addr < 2)
			slot = &o->address[n_addr++];
		else if (eq && !strcmp(r->argv[i], "endpoint"))
			slot = via;
		if (!slot || (*slot && strcmp(r->argv[i], "address")))
			return errmsg_set(err, -EINVAL,
					  "%s: option \"%s\": not known here or given twice",
					  r->command, QUOTE(r->argv[i], 40));
		*slot = eq;
	}
	return 0;
}

static int cmd_peer_add(const struct request *r, struct admin_text *out, char *err)
{
	struct outside_request o = { 0 };
	int ret;

	if (r->argc < 2)
		return errmsg_set(err, -EINVAL, "peer add: expected a name and a network");
	o.name = r->argv[0];
	o.network = r->argv[1];
	ret = peer_options(r, 2, &o, &o.via, err);
	return ret ? ret : outside_add(r->d, &o, out, err);
}

static int cmd_peer_config(const struct request *r, struct admin_text *out, char *err)
{
	const char *via = NULL;
	int ret;

	if (r->argc < 1)
		return errmsg_set(err, -EINVAL, "peer config: expected a name");
	ret = peer_options(r, 1, NULL, &via, err);
	return ret ? ret : outside_config(r->d, r->argv[0], via, out, err);
}

static int cmd_peer_rm(const struct request *r, struct admin_text *out, char *err)
{
	if (r->argc != 1)
		return errmsg_set(err, -EINVAL, "peer rm: expected a name");
	return outside_remove(r->d, r->argv[0], err);
}

static int cmd_peer_list(const struct request *r, struct admin_text *out, char *err)
{
	if (r->argc)
		return errmsg_set(err, -EINVAL, "peer list takes no argument");
	return outside_list(r->d, out, err);
}

static const struct command {
	const char *name;
	int (*run)(const struct request *r, struct admin_text *out, char *err);
	bool takes_key;	  /* kind and reference */
	bool reads_key;	  /* a key line follows */
	bool takes_host;  /* a host: ID, name or address */
	bool cluster;	  /* the store's: runs without the daemon's lock */
	bool takes_words; /* words the command checks itself; runs without the lock */
} commands[] = {
	{ .name = "list", .run = cmd_list },
	{ .name = "links", .run = cmd_links },
	{ .name = "generate", .run = cmd_generate, .takes_key = true },
	{ .name = "import", .run = cmd_import, .takes_key = true, .reads_key = true },
	{ .name = "delete", .run = cmd_delete, .takes_key = true },
	{ .name = "export", .run = cmd_export, .takes_key = true },
	{ .name = "hosts", .run = cmd_hosts, .cluster = true },
	{ .name = "forget", .run = cmd_forget, .takes_host = true, .cluster = true },
	{ .name = "show", .run = cmd_show, .takes_words = true },
	{ .name = "peer-add", .run = cmd_peer_add, .takes_words = true },
	{ .name = "peer-config", .run = cmd_peer_config, .takes_words = true },
	{ .name = "peer-rm", .run = cmd_peer_rm, .takes_words = true },
	{ .name = "peer-list", .run = cmd_peer_list, .takes_words = true },
};

/* Splits "<command>[ <kind> <ref>]\n[<key>\n]" in place. */
static int parse_request(char *text, struct request *r, const struct command **cmd, char *err)
{
	char *line2 = strchr(text, '\n'), *kind, *save = NULL;

	memset(r, 0, sizeof(*r));
	if (line2)
		*line2++ = '\0';
	r->command = strtok_r(text, " ", &save);
	kind = strtok_r(NULL, " ", &save);
	r->ref = strtok_r(NULL, " ", &save);
	r->key = line2;
	*cmd = NULL;
	for (size_t i = 0; r->command && i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, r->command))
			*cmd = &commands[i];
	if (!*cmd)
		return errmsg_set(err, -EINVAL,
				  "unknown command \"%s\"; known: list, links, generate, import, "
				  "delete, export, hosts, forget, show, peer-add, peer-config, "
				  "peer-rm, peer-list",
				  QUOTE(r->command ? r->command : "", 40));
	if ((*cmd)->takes_words) {
		char *w = kind;

		for (int i = 0; w; i++) {
			if (r->argc == ARGS_MAX)
				return errmsg_set(err, -E2BIG, "%s: more than %d words", r->command,
						  ARGS_MAX);
			r->argv[r->argc++] = w;
			w = i == 0 ? (char *)r->ref : strtok_r(NULL, " ", &save);
		}
		r->ref = NULL;
		return 0;
	}
	if ((*cmd)->takes_host) {
		/* One word: the split above took a second one as the reference. */
		bool more = r->ref != NULL;

		r->ref = kind;
		if (!kind || r->ref[strspn(kind, "abcdefghijklmnopqrstuvwxyz0123456789._:-")] ||
		    strlen(kind) > 64 || more)
			return errmsg_set(err, -EINVAL,
					  "%s: expected one host: its ID, name or address",
					  r->command);
		return 0;
	}
	if (!(*cmd)->takes_key)
		return kind ? errmsg_set(err, -EINVAL, "%s takes no argument", r->command) : 0;
	if (kind && !strcmp(kind, "identity"))
		r->kind = KIND_IDENTITY;
	else if (kind && !strcmp(kind, "psk"))
		r->kind = KIND_PSK;
	else
		return errmsg_set(err, -EINVAL, "%s: expected identity or psk, then a reference",
				  r->command);
	if (!r->ref || strtok_r(NULL, " ", &save))
		return errmsg_set(err, -EINVAL, "%s: expected one reference", r->command);
	return links_check_ref(r->ref, r->command, err);
}

int admin_cmd_run(struct wgd *d, char *req, struct admin_text *out, char *err)
{
	const struct command *cmd;
	struct request r;
	int ret;

	wgd_assert_unlocked(d);
	ret = parse_request(req, &r, &cmd, err);
	r.d = d;
	if (ret)
		return ret;
	if (cmd->reads_key && !r.key)
		return errmsg_set(err, -EINVAL, "%s: no key given", r.command);
	/* These take the lock themselves, and let it go while they read links or the store. */
	if (cmd->takes_words)
		return cmd->run(&r, out, err);
	wgd_lock(d);
	r.cluster = d->cluster;
	if (!cmd->cluster) {
		ret = cmd->run(&r, out, err);
		wgd_unlock(d);
		return ret;
	}
	wgd_unlock(d);
	/* The store may take seconds: not under the lock. The cluster lives as long as this
	 * socket does. */
	if (!r.cluster)
		return errmsg_set(err, -ENOTSUP,
				  "%s: this host has no cluster store (ETCD_ENDPOINTS is not set)",
				  r.command);
	return cmd->run(&r, out, err);
}

// SPDX-License-Identifier: MIT
#include "state.h"

#include "addr.h"
#include "atomic_file.h"
#include "backend.h"
#include "backends.h"
#include "endpoint.h"
#include "errmsg.h"
#include "field.h"
#include "identity.h"
#include "keystore.h"
#include "links.h"
#include "log.h"
#include "network.h"
#include "outside.h"
#include "quote.h"
#include "wgd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATE_VERSION 1
/* A network with the most endpoints a host can run, with room to spare; anything larger is not
 * a file this daemon wrote. */
#define STATE_FILE_MAX (64 << 20)

/* A network file state_load could not read, kept to answer the engine's calls for it. */
struct state_unreadable {
	char id[NETWORK_ID_LEN + 1];
	char reason[ERRMSG_LEN];
	struct state_unreadable *next;
};

/* Creates DIR 0700 unless it exists; it must then be a directory (not a link to one) of ours
 * that no one else may write to: it holds the networks and, below it, the keys (whose own
 * directories are private). A state.source an operator made with 0755 is fine. */
static int private_dir(const char *dir, char *err)
{
	struct stat st;
	int fd, ret = 0;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return errmsg_set(err, -errno, "state directory %s: %s", dir, strerror(errno));
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errmsg_set(err, errno == ELOOP ? -ENOTDIR : -errno, "state directory %s: %s",
				  dir,
				  errno == ELOOP || errno == ENOTDIR ? "not a directory"
								     : strerror(errno));
	if (fstat(fd, &st) < 0)
		ret = errmsg_set(err, -errno, "state directory %s: %s", dir, strerror(errno));
	else if (st.st_uid != geteuid())
		ret = errmsg_set(err, -EPERM, "state directory %s: owned by uid %u, expected %u",
				 dir, (unsigned)st.st_uid, (unsigned)geteuid());
	else if (st.st_mode & (S_IWGRP | S_IWOTH))
		ret = errmsg_set(
			err, -EPERM,
			"state directory %s: mode %04o: others may write to it (chmod 0700 "
			"%s)",
			dir, (unsigned)(st.st_mode & 07777), dir);
	close(fd);
	return ret;
}

int state_init(struct state *st, const char *dir, char *err)
{
	int ret;

	memset(st, 0, sizeof(*st));
	if (snprintf(st->dir, sizeof(st->dir), "%s", dir) >= (int)sizeof(st->dir) ||
	    snprintf(st->networks_dir, sizeof(st->networks_dir), "%s/networks", dir) >=
		    (int)sizeof(st->networks_dir))
		return errmsg_set(err, -ENAMETOOLONG, "state directory %s: path too long", dir);
	ret = private_dir(dir, err);
	if (!ret)
		ret = private_dir(st->networks_dir, err);
	return ret;
}

void state_file(const struct state *st, const char *name, char *out)
{
	snprintf(out, PATH_MAX, "%s/%.255s", st->dir, name);
}

static void file_path(const struct state *st, char *path, const char *id)
{
	snprintf(path, PATH_MAX, "%s/%s.json", st->networks_dir, id);
}

static json_t *endpoint_to_json(const struct endpoint *ep)
{
	char a4[ADDR_STRLEN] = "", a6[ADDR_STRLEN] = "";
	char *links = links_format(&ep->links);
	json_t *j = NULL;

	if (ep->addr4.family)
		addr_format(&ep->addr4, a4);
	if (ep->addr6.family)
		addr_format(&ep->addr6, a6);
	/* "links" and "pending" are left out when empty, as files from before them have it. The
	 * link name is not stored: it follows from the ID (a file cannot name another link). */
	if (links)
		j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:b, s:s*, s:s*, s:o*, s:I}", "id",
			      ep->id, "backend", ep->backend->name, "key", ep->key_ref, "address",
			      a4, "address6", a6, "listen_port", ep->listen_port, "joined",
			      ep->joined, "sandbox", ep->sandbox, "links", *links ? links : NULL,
			      "pending", ep->pending ? json_true() : NULL, "serve",
			      (json_int_t)ep->serve);
	free(links);
	return j;
}

/* An outside peer (outside.h): its public key, not a secret, is kept here as it may have no
 * identity in the keystore. */
static json_t *outside_to_json(const struct endpoint *o)
{
	char a4[ADDR_STRLEN] = "", a6[ADDR_STRLEN] = "";
	char pub[sodium_base64_ENCODED_LEN(WG_KEY_LEN, sodium_base64_VARIANT_ORIGINAL)];
	char *links = links_format(&o->links);
	json_t *j = NULL;

	if (o->addr4.family)
		addr_format(&o->addr4, a4);
	if (o->addr6.family)
		addr_format(&o->addr6, a6);
	sodium_bin2base64(pub, sizeof(pub), o->public_key, WG_KEY_LEN,
			  sodium_base64_VARIANT_ORIGINAL);
	if (links)
		j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:b}", "id", o->id, "name",
			      o->key_ref, "pub", pub, "address", a4, "address6", a6, "links", links,
			      "via", o->outside->via, "key_made", o->outside->key_made, "ipam",
			      o->outside->ipam);
	free(links);
	return j;
}

int state_save(const struct network *net, char *err)
{
	char path[PATH_MAX];
	json_t *root, *eps;
	char *text = NULL;
	int ret = -ENOMEM;

	wgd_assert_locked(net->d);
	/* What is unset is left out, as files from before it have it. */
	root = json_pack("{s:i, s:s, s:i, s:b, s:s, s:s*, s:b, s:s*, s:o*, s:s*, s:s*, s:o*, s:[]}",
			 "version", STATE_VERSION, "id", net->id, "mtu", net->opts.mtu, "psk",
			 net->opts.psk, "policy", network_policy_name(net->opts.policy), "backend",
			 net->opts.backend ? net->opts.backend->name : NULL, "ipv6", net->ipv6,
			 "net", net->opts.cluster[0] ? net->opts.cluster : NULL, "keepalive",
			 net->opts.keepalive ? json_integer(net->opts.keepalive) : NULL, "pool4",
			 net->opts.pool4[0] ? net->opts.pool4 : NULL, "pool6",
			 net->opts.pool6[0] ? net->opts.pool6 : NULL, "ipam",
			 net->opts.own_ipam ? json_true() : NULL, "endpoints");
	if (!root)
		goto out;
	eps = json_object_get(root, "endpoints");
	for (const struct endpoint *ep = net->endpoints; ep; ep = ep->next)
		if (json_array_append_new(eps, endpoint_to_json(ep)))
			goto out;
	if (net->outside && json_object_set_new(root, "outside", json_array()))
		goto out;
	for (const struct endpoint *o = net->outside; o; o = o->next)
		if (json_array_append_new(json_object_get(root, "outside"), outside_to_json(o)))
			goto out;
	text = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS);
	if (!text)
		goto out;
	file_path(&net->d->state, path, net->id);
	ret = atomic_file_write(path, text, strlen(text), 0600);
	if (ret)
		errmsg_set(err, ret, "state file %s: %s", path, strerror(-ret));
out:
	if (ret == -ENOMEM)
		errmsg_set(err, ret, "network %.12s: out of memory saving state", net->id);
	free(text);
	json_decref(root);
	return ret;
}

int state_remove(struct wgd *d, const char *id, char *err)
{
	char path[PATH_MAX];
	int ret;

	file_path(&d->state, path, id);
	ret = atomic_file_remove(path);
	if (ret)
		return errmsg_set(err, ret, "state file %s: %s", path, strerror(-ret));
	return 0;
}

/* Reads one endpoint of NET from J and appends it, checked as CreateEndpoint and Join check
 * what the engine sends. -ENOMEM, or -EBADMSG with the reason in ERR. */
static int endpoint_from_json(struct network *net, const json_t *j, char *err)
{
	const char *id = NULL, *ifname = NULL, *key = NULL, *a4 = "", *a6 = "", *sandbox = NULL;
	const char *links = "", *backend = NULL;
	uint8_t priv[WG_KEY_LEN];
	struct endpoint *ep;
	int joined = 0, pending = 0, ret;
	/* Whole: jansson's "i" would cut a larger number to an int that looks valid. */
	json_int_t port = 0, serve = 0;
	json_error_t jerr;

	/* "ifname" is read from files that have it and ignored: the name follows from the ID. */
	if (json_unpack_ex((json_t *)j, &jerr, JSON_STRICT,
			   "{s:s, s?s, s?s, s:s, s:s, s:s, s:I, s:b, s?s, s?s, s?b, s?I}", "id",
			   &id, "ifname", &ifname, "backend", &backend, "key", &key, "address", &a4,
			   "address6", &a6, "listen_port", &port, "joined", &joined, "sandbox",
			   &sandbox, "links", &links, "pending", &pending, "serve", &serve))
		return errmsg_set(err, -EBADMSG, "endpoint: %s", QUOTE(jerr.text, 120));
	if (!field_id_valid(id))
		return errmsg_set(err, -EBADMSG, "endpoint \"%s\": not an endpoint ID",
				  QUOTE(id, 70));
	ret = endpoint_new(net, id, &ep, err);
	if (ret)
		return ret;
	ret = -EBADMSG;
	/* Files from before wg.backend have none: their endpoints ran on the default. */
	ep->backend = backend ? backends_find(&net->d->backends, backend)
			      : backends_default(&net->d->backends);
	if (!ep->backend) {
		errmsg_set(err, ret,
			   "endpoint %.12s: backend \"%s\": this daemon has none so called", id,
			   QUOTE(backend, 20));
		goto err;
	}
	if (!keystore_ref_valid(key) || port < 0 || port > 65535 || serve < 0 ||
	    serve > UINT32_MAX || (*a4 && addr_parse(a4, AF_INET, &ep->addr4)) ||
	    (*a6 && addr_parse(a6, AF_INET6, &ep->addr6)) || (!*a4 && !*a6) ||
	    (sandbox && !field_sandbox_valid(sandbox))) {
		errmsg_set(err, ret, "endpoint %.12s: invalid key, port, serve, address or sandbox",
			   id);
		goto err;
	}
	strcpy(ep->key_ref, key);
	ep->listen_port = (uint16_t)port;
	ep->joined = joined;
	ep->pending = pending;
	ep->serve = (uint32_t)serve;
	if (links_parse(links, ep->key_ref, "links", &ep->links, err) ||
	    endpoint_check_unique(ep, "address", err) ||
	    identity_check_key(ep, ep->key_ref, "key", err)) {
		ret = -EBADMSG;
		goto err;
	}
	if (sandbox && !(ep->sandbox = strdup(sandbox))) {
		ret = errmsg_set(err, -ENOMEM, "out of memory");
		goto err;
	}
	ret = keystore_identity_get(net->d->keys, ep->key_ref, false, priv, NULL);
	if (ret) {
		/* One endpoint whose key is gone does not take its whole network down. */
		log_error("endpoint %.12s: %s; it is left out", id, keystore_error());
		endpoint_free(ep);
		return 0;
	}
	keystore_public_key(ep->public_key, priv);
	sodium_memzero(priv, sizeof(priv));
	endpoint_append(net, ep);
	return 0;
err:
	endpoint_free(ep);
	return ret;
}

/* Reads one outside peer of NET from J and appends it, checked as wgctl peer add checks it. */
static int outside_from_json(struct network *net, const json_t *j, char *err)
{
	const char *id = NULL, *name = NULL, *pub = NULL, *a4 = "", *a6 = "", *links = "",
		   *via = "";
	int key_made = 0, ipam = 0, ret = -EBADMSG;
	struct endpoint *o, **tail;
	json_error_t jerr;

	if (json_unpack_ex((json_t *)j, &jerr, JSON_STRICT,
			   "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:b}", "id", &id, "name",
			   &name, "pub", &pub, "address", &a4, "address6", &a6, "links", &links,
			   "via", &via, "key_made", &key_made, "ipam", &ipam))
		return errmsg_set(err, -EBADMSG, "outside peer: %s", QUOTE(jerr.text, 120));
	if (!field_id_valid(id) || !keystore_ref_valid(name))
		return errmsg_set(err, -EBADMSG, "outside peer \"%s\": not an ID and name",
				  QUOTE(id, 70));
	o = outside_new(err);
	if (!o)
		return -ENOMEM;
	memcpy(o->id, id, NETWORK_ID_LEN);
	o->net = net;
	strcpy(o->key_ref, name);
	o->outside->key_made = key_made;
	o->outside->ipam = ipam;
	if (keystore_key_parse(pub, strlen(pub), o->public_key) ||
	    (*a4 && addr_parse(a4, AF_INET, &o->addr4)) ||
	    (*a6 && addr_parse(a6, AF_INET6, &o->addr6)) || (!*a4 && !*a6) ||
	    (*via && !outside_via_valid(via))) {
		errmsg_set(err, ret, "outside peer %s: invalid key, address or via", name);
		goto err;
	}
	snprintf(o->outside->via, sizeof(o->outside->via), "%s", via);
	if (links_parse(links, name, "links", &o->links, err) ||
	    identity_check_key(o, name, "outside peer", err) ||
	    endpoint_check_unique(o, "address", err))
		goto err;
	for (tail = &net->outside; *tail; tail = &(*tail)->next)
		;
	*tail = o;
	return 0;
err:
	endpoint_free(o);
	return ret;
}

/* Reads NET's settings from ROOT, checked as CreateNetwork checks the engine's options. */
static int network_from_json(struct wgd *d, json_t *root, const char *name, struct network **out,
			     char *err)
{
	const char *id = NULL, *policy = "mesh", *backend = NULL, *cluster = NULL;
	const char *pool4 = NULL, *pool6 = NULL;
	int psk = 0, ipv6 = 0, own_ipam = 0;
	json_int_t version = 0, mtu = 0, keepalive = 0; /* whole, checked before narrowing */
	struct network_options opts = { 0 };
	struct wg_allowedip a;
	json_t *eps = NULL, *outside = NULL, *e;
	struct network *net;
	json_error_t jerr;
	size_t i;
	int ret;

	*out = NULL;
	if (json_unpack_ex(root, &jerr, JSON_STRICT,
			   "{s:I, s:s, s:I, s:b, s?s, s?s, s:b, s?s, s?I, s?s, s?s, s?b, s:o, s?o}",
			   "version", &version, "id", &id, "mtu", &mtu, "psk", &psk, "policy",
			   &policy, "backend", &backend, "ipv6", &ipv6, "net", &cluster,
			   "keepalive", &keepalive, "pool4", &pool4, "pool6", &pool6, "ipam",
			   &own_ipam, "endpoints", &eps, "outside", &outside))
		return errmsg_set(err, -EBADMSG, "%s", QUOTE(jerr.text, 120));
	if (version != STATE_VERSION)
		return errmsg_set(err, -EBADMSG, "version %" JSON_INTEGER_FORMAT ": expected %d",
				  version, STATE_VERSION);
	/* The file is named by its ID: one that names another network is not its file. */
	if (!field_id_valid(id) || strlen(name) != NETWORK_ID_LEN + 5 ||
	    strncmp(name, id, NETWORK_ID_LEN))
		return errmsg_set(err, -EBADMSG, "id \"%s\": expected the file's name, %.64s",
				  QUOTE(id, 70), name);
	if (network_find(d, id))
		return errmsg_set(err, -EBADMSG, "network %.12s: loaded already", id);
	if (!json_is_array(eps) || (outside && !json_is_array(outside)))
		return errmsg_set(err, -EBADMSG, "\"endpoints\", \"outside\": expected arrays");
	if ((pool4 && (strlen(pool4) >= sizeof(opts.pool4) || addr_parse(pool4, AF_INET, &a))) ||
	    (pool6 && (strlen(pool6) >= sizeof(opts.pool6) || addr_parse(pool6, AF_INET6, &a))))
		return errmsg_set(err, -EBADMSG, "pool4, pool6: expected subnets");
	snprintf(opts.pool4, sizeof(opts.pool4), "%s", pool4 ? pool4 : "");
	snprintf(opts.pool6, sizeof(opts.pool6), "%s", pool6 ? pool6 : "");
	opts.own_ipam = own_ipam;
	opts.psk = psk;
	if (mtu < NETWORK_MTU_MIN || mtu > NETWORK_MTU_MAX || !network_mtu_valid((long)mtu))
		return errmsg_set(err, -EBADMSG, "mtu %" JSON_INTEGER_FORMAT ": expected %d to %d",
				  mtu, NETWORK_MTU_MIN, NETWORK_MTU_MAX);
	opts.mtu = (uint32_t)mtu;
	if (network_policy_parse(policy, &opts.policy))
		return errmsg_set(err, -EBADMSG, "policy \"%s\": expected mesh or links",
				  QUOTE(policy, 20));
	if (cluster && !network_name_valid(cluster))
		return errmsg_set(err, -EBADMSG, "net \"%s\": not a network name",
				  QUOTE(cluster, 70));
	if (cluster)
		snprintf(opts.cluster, sizeof(opts.cluster), "%s", cluster);
	if (keepalive < 0 || keepalive > NETWORK_KEEPALIVE_MAX)
		return errmsg_set(err, -EBADMSG,
				  "keepalive %" JSON_INTEGER_FORMAT ": expected 0 to %d", keepalive,
				  NETWORK_KEEPALIVE_MAX);
	opts.keepalive = (uint16_t)keepalive;
	if (backend && !(opts.backend = backends_find(&d->backends, backend)))
		return errmsg_set(err, -EBADMSG, "backend \"%s\": this daemon has none so called",
				  QUOTE(backend, 20));
	ret = network_new(d, id, &opts, ipv6, &net, err);
	if (ret)
		return ret;
	json_array_foreach (eps, i, e) {
		ret = endpoint_from_json(net, e, err);
		if (ret) {
			network_free(net);
			return ret;
		}
	}
	json_array_foreach (outside, i, e) {
		ret = outside_from_json(net, e, err);
		if (ret) {
			network_free(net);
			return ret;
		}
	}
	*out = net;
	return 0;
}

static int load_file(struct wgd *d, const char *path, const char *name, char *err)
{
	struct network *net;
	char *text = NULL, msg[ERRMSG_LEN];
	json_t *root = NULL;
	json_error_t jerr;
	size_t len = 0;
	int ret;

	ret = atomic_file_read(path, STATE_FILE_MAX, &text, &len);
	if (ret)
		return errmsg_set(err, ret, "state file %s: %s", path,
				  ret == -EFBIG ? "larger than any state file" : strerror(-ret));
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	if (!root)
		return errmsg_set(err, -EBADMSG, "state file %s: not valid JSON: %s (line %d)",
				  path, QUOTE(jerr.text, 120), jerr.line);
	ret = json_is_object(root) ? network_from_json(d, root, name, &net, msg)
				   : errmsg_set(msg, -EBADMSG, "expected a JSON object");
	json_decref(root);
	if (ret)
		return errmsg_set(err, ret, "state file %s: %s", path, msg);
	network_insert(d, net);
	return 0;
}

/* Remembers that the file of network ID (its name) could not be read, and why. */
static void unreadable_add(struct state *st, const char *name, const char *reason)
{
	struct state_unreadable *u;

	if (strlen(name) != NETWORK_ID_LEN + 5 || !(u = calloc(1, sizeof(*u))))
		return;
	memcpy(u->id, name, NETWORK_ID_LEN);
	snprintf(u->reason, sizeof(u->reason), "%s", reason);
	u->next = st->unreadable;
	st->unreadable = u;
}

/* atomic_file_write's temp files are ".<file>.XXXXXX": one is left only by a crash or a full
 * disk in the middle of a write, which the file it was for never saw. */
int state_load(struct wgd *d)
{
	char path[PATH_MAX], err[ERRMSG_LEN];
	struct dirent **names;
	int n, loaded = 0;

	wgd_assert_locked(d);
	n = scandir(d->state.networks_dir, &names, NULL, alphasort);
	if (n < 0)
		return -errno;
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		size_t len = strlen(name);

		snprintf(path, sizeof(path), "%s/%s", d->state.networks_dir, name);
		if (atomic_file_is_temp(name)) {
			if (!unlink(path))
				log_info("state file %s: removed (an interrupted write)", path);
		} else if (len > 5 && !strcmp(name + len - 5, ".json")) {
			if (!load_file(d, path, name, err)) {
				loaded++;
			} else {
				log_error("%s; that network is skipped", err);
				unreadable_add(&d->state, name, err);
			}
		}
		free(names[i]);
	}
	free(names);
	return loaded;
}

int state_network_error(const struct wgd *d, const char *id, char *err)
{
	for (const struct state_unreadable *u = d->state.unreadable; u; u = u->next)
		if (!strcmp(u->id, id))
			return errmsg_set(err, -EIO, "NetworkID %.12s: %s (fix or remove it)", id,
					  u->reason);
	return errmsg_set(err, -ENOENT, "NetworkID %.12s: no such network", id);
}

void state_finalise(struct state *st)
{
	for (struct state_unreadable *u = st->unreadable, *next; u; u = next) {
		next = u->next;
		free(u);
	}
	st->unreadable = NULL;
}

// SPDX-License-Identifier: MIT
#include "state.h"

#include "addr.h"
#include "atomic_file.h"
#include "backend.h"
#include "backends.h"
#include "endpoint.h"
#include "errmsg.h"
#include "keystore.h"
#include "links.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATE_VERSION 1

/* Room left in a PATH_MAX buffer for "/<file name>" after it. */
static char networks_dir[PATH_MAX - 256];

/* A network file state_load could not read, kept to answer the engine's calls for it. */
struct unreadable {
	char id[NETWORK_ID_LEN + 1];
	char reason[ERRMSG_LEN];
	struct unreadable *next;
};

static struct unreadable *unreadable;

int state_init(const char *dir, char *err)
{
	if (snprintf(networks_dir, sizeof(networks_dir), "%s/networks", dir) >=
	    (int)sizeof(networks_dir))
		return errmsg_set(err, -ENAMETOOLONG, "state directory %s: path too long", dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return errmsg_set(err, -errno, "state directory %s: %s", dir, strerror(errno));
	if (mkdir(networks_dir, 0700) < 0 && errno != EEXIST)
		return errmsg_set(err, -errno, "state directory %s: %s", networks_dir,
				  strerror(errno));
	return 0;
}

static void file_path(char *path, const char *id)
{
	snprintf(path, PATH_MAX, "%s/%s.json", networks_dir, id);
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
	/* "links" and "pending" are left out when empty, as files from before them have it. */
	if (links)
		j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:b, s:s*, s:s*, s:o*}", "id",
			      ep->id, "ifname", ep->ifname, "backend", ep->backend->name, "key",
			      ep->key_ref, "address", a4, "address6", a6, "listen_port",
			      ep->listen_port, "joined", ep->joined, "sandbox", ep->sandbox,
			      "links", *links ? links : NULL, "pending",
			      ep->pending ? json_true() : NULL);
	free(links);
	return j;
}

int state_save(const struct network *net, char *err)
{
	char path[PATH_MAX];
	json_t *root, *eps;
	char *text = NULL;
	int ret = -ENOMEM;

	root = json_pack("{s:i, s:s, s:i, s:b, s:s, s:s*, s:b, s:[]}", "version", STATE_VERSION,
			 "id", net->id, "mtu", net->opts.mtu, "psk", net->opts.psk, "policy",
			 network_policy_name(net->opts.policy), "backend",
			 net->opts.backend ? net->opts.backend->name : NULL, "ipv6", net->ipv6,
			 "endpoints");
	if (!root)
		goto out;
	eps = json_object_get(root, "endpoints");
	for (const struct endpoint *ep = net->endpoints; ep; ep = ep->next)
		if (json_array_append_new(eps, endpoint_to_json(ep)))
			goto out;
	text = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS);
	if (!text)
		goto out;
	file_path(path, net->id);
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

int state_remove(const char *id, char *err)
{
	char path[PATH_MAX];
	int ret;

	file_path(path, id);
	ret = atomic_file_remove(path);
	if (ret)
		return errmsg_set(err, ret, "state file %s: %s", path, strerror(-ret));
	return 0;
}

static int endpoint_from_json(struct network *net, const json_t *j, const char *path)
{
	const char *id = NULL, *ifname = NULL, *key = NULL, *a4 = "", *a6 = "", *sandbox = NULL;
	const char *links = "", *backend = NULL;
	char err[ERRMSG_LEN];
	uint8_t priv[WG_KEY_LEN];
	struct endpoint *ep;
	int port = 0, joined = 0, pending = 0, ret;
	json_error_t jerr;

	if (json_unpack_ex((json_t *)j, &jerr, JSON_STRICT,
			   "{s:s, s:s, s?s, s:s, s:s, s:s, s:i, s:b, s?s, s?s, s?b}", "id", &id,
			   "ifname", &ifname, "backend", &backend, "key", &key, "address", &a4,
			   "address6", &a6, "listen_port", &port, "joined", &joined, "sandbox",
			   &sandbox, "links", &links, "pending", &pending)) {
		log_error("state file %s: endpoint: %s", path, jerr.text);
		return -EBADMSG;
	}
	ep = calloc(1, sizeof(*ep));
	if (!ep)
		return -ENOMEM;
	ep->net = net;
	/* Files from before wg.backend have none: their endpoints ran on the default. */
	ep->backend = backend ? backends_find(backend) : backends_default();
	ret = -EBADMSG;
	if (!ep->backend || strlen(id) != NETWORK_ID_LEN || strlen(ifname) >= IFNAMSIZ ||
	    !keystore_ref_valid(key) || port < 0 || port > 65535 ||
	    (*a4 && addr_parse(a4, AF_INET, &ep->addr4)) ||
	    (*a6 && addr_parse(a6, AF_INET6, &ep->addr6))) {
		log_error("state file %s: endpoint %.12s: invalid field", path, id);
		goto err;
	}
	memcpy(ep->id, id, NETWORK_ID_LEN);
	strcpy(ep->ifname, ifname);
	strcpy(ep->key_ref, key);
	ep->listen_port = (uint16_t)port;
	ep->joined = joined;
	ep->pending = pending;
	if (links_parse(links, ep->key_ref, "links", &ep->links, err)) {
		log_error("state file %s: endpoint %.12s: %s", path, id, err);
		goto err;
	}
	if (sandbox && !(ep->sandbox = strdup(sandbox))) {
		ret = -ENOMEM;
		goto err;
	}
	ret = keystore_identity_get(ep->key_ref, false, priv, NULL);
	if (ret) {
		log_error("state file %s: endpoint %.12s: %s", path, id, keystore_error());
		goto err;
	}
	keystore_public_key(ep->public_key, priv);
	sodium_memzero(priv, sizeof(priv));
	ep->next = net->endpoints;
	net->endpoints = ep;
	return 0;
err:
	endpoint_free(ep);
	return ret;
}

static void reverse_endpoints(struct network *net)
{
	struct endpoint *prev = NULL, *ep = net->endpoints, *next;

	for (; ep; ep = next) {
		next = ep->next;
		ep->next = prev;
		prev = ep;
	}
	net->endpoints = prev;
}

static int load_file(const char *path, char *err)
{
	const char *id = NULL, *policy = "mesh", *backend = NULL;
	json_t *root = NULL, *eps = NULL, *e;
	struct network *net = NULL;
	int version = 0, mtu = 0, psk = 0, ipv6 = 0, ret;
	enum network_policy policy_value;
	json_error_t jerr;
	size_t i;

	root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return errmsg_set(err, -EBADMSG, "state file %s: not valid JSON: %s (line %d)",
				  path, jerr.text, jerr.line);
	ret = -EBADMSG;
	if (json_unpack_ex(root, &jerr, JSON_STRICT, "{s:i, s:s, s:i, s:b, s?s, s?s, s:b, s:o}",
			   "version", &version, "id", &id, "mtu", &mtu, "psk", &psk, "policy",
			   &policy, "backend", &backend, "ipv6", &ipv6, "endpoints", &eps)) {
		errmsg_set(err, ret, "state file %s: %s", path, jerr.text);
		goto out;
	}
	if (!json_is_array(eps)) {
		errmsg_set(err, ret, "state file %s: \"endpoints\": expected an array", path);
		goto out;
	}
	if (version != STATE_VERSION || strlen(id) != NETWORK_ID_LEN || network_find(id)) {
		errmsg_set(err, ret, "state file %s: unsupported version %d or bad/duplicate id",
			   path, version);
		goto out;
	}
	if (network_policy_parse(policy, &policy_value)) {
		errmsg_set(err, ret, "state file %s: policy \"%.20s\": expected mesh or links",
			   path, policy);
		goto out;
	}
	if (backend && !backends_find(backend)) {
		errmsg_set(err, ret,
			   "state file %s: backend \"%.20s\": this daemon has none so called", path,
			   backend);
		goto out;
	}
	net = calloc(1, sizeof(*net));
	if (!net) {
		ret = errmsg_set(err, -ENOMEM, "state file %s: out of memory", path);
		goto out;
	}
	net->opts.backend = backend ? backends_find(backend) : NULL;
	memcpy(net->id, id, NETWORK_ID_LEN);
	net->opts.mtu = (uint32_t)mtu;
	net->opts.psk = psk;
	net->opts.policy = policy_value;
	net->ipv6 = ipv6;
	json_array_foreach (eps, i, e) {
		/* One endpoint whose key is gone does not take its whole network down. */
		if (endpoint_from_json(net, e, path) == -ENOMEM) {
			ret = errmsg_set(err, -ENOMEM, "state file %s: out of memory", path);
			goto out;
		}
	}
	reverse_endpoints(net);
	network_insert(net);
	net = NULL;
	ret = 0;
out:
	if (net) {
		for (struct endpoint *ep = net->endpoints, *next; ep; ep = next) {
			next = ep->next;
			endpoint_free(ep);
		}
		free(net);
	}
	json_decref(root);
	return ret;
}

/* Remembers that the file of network ID (its name) could not be read, and why. */
static void unreadable_add(const char *name, const char *reason)
{
	struct unreadable *u;

	if (strlen(name) != NETWORK_ID_LEN + 5 || !(u = calloc(1, sizeof(*u))))
		return;
	memcpy(u->id, name, NETWORK_ID_LEN);
	snprintf(u->reason, sizeof(u->reason), "%s", reason);
	u->next = unreadable;
	unreadable = u;
}

/* atomic_file_write's temp files are ".<file>.XXXXXX": one is left only by a crash or a full
 * disk in the middle of a write, which the file it was for never saw. */
int state_load(void)
{
	char path[PATH_MAX], err[ERRMSG_LEN];
	struct dirent **names;
	int n, loaded = 0;

	n = scandir(networks_dir, &names, NULL, alphasort);
	if (n < 0)
		return -errno;
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		size_t len = strlen(name);

		snprintf(path, sizeof(path), "%s/%s", networks_dir, name);
		if (atomic_file_is_temp(name)) {
			if (!unlink(path))
				log_info("state file %s: removed (an interrupted write)", path);
		} else if (len > 5 && !strcmp(name + len - 5, ".json")) {
			if (!load_file(path, err)) {
				loaded++;
			} else {
				log_error("%s; network %.12s is skipped", err, name);
				unreadable_add(name, err);
			}
		}
		free(names[i]);
	}
	free(names);
	return loaded;
}

int state_network_error(const char *id, char *err)
{
	for (const struct unreadable *u = unreadable; u; u = u->next)
		if (!strcmp(u->id, id))
			return errmsg_set(err, -EIO, "NetworkID %.12s: %s (fix or remove it)", id,
					  u->reason);
	return errmsg_set(err, -ENOENT, "NetworkID %.12s: no such network", id);
}

void state_finalise(void)
{
	for (struct unreadable *u = unreadable, *next; u; u = next) {
		next = u->next;
		free(u);
	}
	unreadable = NULL;
}

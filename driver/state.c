// SPDX-License-Identifier: MIT
#include "state.h"

#include "addr.h"
#include "atomic_file.h"
#include "endpoint.h"
#include "errmsg.h"
#include "keystore.h"
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

	if (ep->addr4.family)
		addr_format(&ep->addr4, a4);
	if (ep->addr6.family)
		addr_format(&ep->addr6, a6);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:b, s:s*}", "id", ep->id, "ifname",
			 ep->ifname, "key", ep->key_ref, "address", a4, "address6", a6,
			 "listen_port", ep->listen_port, "joined", ep->joined, "sandbox",
			 ep->sandbox);
}

int state_save(const struct network *net, char *err)
{
	char path[PATH_MAX];
	json_t *root, *eps;
	char *text = NULL;
	int ret = -ENOMEM;

	root = json_pack("{s:i, s:s, s:i, s:b, s:b, s:[]}", "version", STATE_VERSION, "id", net->id,
			 "mtu", net->opts.mtu, "psk", net->opts.psk, "ipv6", net->ipv6,
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

	file_path(path, id);
	if (unlink(path) < 0 && errno != ENOENT)
		return errmsg_set(err, -errno, "state file %s: %s", path, strerror(errno));
	return 0;
}

static int endpoint_from_json(struct network *net, const json_t *j, const char *path)
{
	const char *id = NULL, *ifname = NULL, *key = NULL, *a4 = "", *a6 = "", *sandbox = NULL;
	uint8_t priv[WG_KEY_LEN];
	struct endpoint *ep;
	int port = 0, joined = 0, ret;
	json_error_t jerr;

	if (json_unpack_ex((json_t *)j, &jerr, JSON_STRICT, "{s:s, s:s, s:s, s:s, s:s, s:i, s:b, s?s}",
			   "id", &id, "ifname", &ifname, "key", &key, "address", &a4, "address6",
			   &a6, "listen_port", &port, "joined", &joined, "sandbox", &sandbox)) {
		log_error("state file %s: endpoint: %s", path, jerr.text);
		return -EBADMSG;
	}
	ep = calloc(1, sizeof(*ep));
	if (!ep)
		return -ENOMEM;
	ep->net = net;
	ret = -EBADMSG;
	if (strlen(id) != NETWORK_ID_LEN || strlen(ifname) >= IFNAMSIZ ||
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

static int load_file(const char *path)
{
	const char *id = NULL;
	json_t *root = NULL, *eps = NULL, *e;
	struct network *net = NULL;
	int version = 0, mtu = 0, psk = 0, ipv6 = 0, ret;
	json_error_t jerr;
	size_t i;

	root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		log_error("state file %s: not valid JSON: %s (line %d)", path, jerr.text, jerr.line);
		return -EBADMSG;
	}
	ret = -EBADMSG;
	if (json_unpack_ex(root, &jerr, JSON_STRICT, "{s:i, s:s, s:i, s:b, s:b, s:o}", "version",
			   &version, "id", &id, "mtu", &mtu, "psk", &psk, "ipv6", &ipv6,
			   "endpoints", &eps) ||
	    !json_is_array(eps)) {
		log_error("state file %s: %s", path, jerr.text);
		goto out;
	}
	if (version != STATE_VERSION || strlen(id) != NETWORK_ID_LEN || network_find(id)) {
		log_error("state file %s: unsupported version %d or bad/duplicate id", path, version);
		goto out;
	}
	net = calloc(1, sizeof(*net));
	if (!net) {
		ret = -ENOMEM;
		goto out;
	}
	memcpy(net->id, id, NETWORK_ID_LEN);
	net->opts.mtu = (uint32_t)mtu;
	net->opts.psk = psk;
	net->ipv6 = ipv6;
	json_array_foreach(eps, i, e) {
		/* One endpoint whose key is gone does not take its whole network down. */
		if (endpoint_from_json(net, e, path) == -ENOMEM) {
			ret = -ENOMEM;
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

int state_load(void)
{
	char path[PATH_MAX];
	struct dirent **names;
	int n, loaded = 0;

	n = scandir(networks_dir, &names, NULL, alphasort);
	if (n < 0)
		return -errno;
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		size_t len = strlen(name);

		if (len > 5 && !strcmp(name + len - 5, ".json")) {
			snprintf(path, sizeof(path), "%s/%s", networks_dir, name);
			if (!load_file(path))
				loaded++;
		}
		free(names[i]);
	}
	free(names);
	return loaded;
}

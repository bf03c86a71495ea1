// SPDX-License-Identifier: MIT
#include "ipam.h"

#include "addr.h"
#include "atomic_file.h"
#include "cluster.h"
#include "errmsg.h"
#include "field.h"
#include "quote.h"
#include "state.h"
#include "wgd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GATEWAY_OPTION	    "com.docker.network.gateway"
#define ADDRESS_TYPE_OPTION "RequestAddressType"
#define IPAM_LOCAL_FILE	    "ipam.json"
#define IPAM_LOCAL_SCAN_MAX (1u << 20) /* addresses looked at in one host-local pool */

/* A pool as the engine names it: its family, network address and prefix. */
struct pool {
	struct wg_allowedip net;
	char cidr[ADDR_STRLEN];	   /* normalised: "10.50.0.0/16" */
	char gateway[ADDR_STRLEN]; /* its first host address */
};

static int pool_parse(const char *text, struct pool *p, char *err)
{
	int family = text && strchr(text, ':') ? AF_INET6 : AF_INET;
	char ip[ADDR_STRLEN];
	int bits;

	if (!text || addr_parse(text, family, &p->net))
		return errmsg_set(err, -EINVAL,
				  "Pool: expected a subnet such as 10.50.0.0/16, got "
				  "\"%s\"",
				  text ? QUOTE(text, 60) : "");
	bits = (family == AF_INET ? 32 : 128) - p->net.cidr;
	if (bits < 2)
		return errmsg_set(err, -EINVAL, "Pool %s: too small for endpoints", text);
	/* The network's own address: the host bits cleared. */
	if (family == AF_INET) {
		uint32_t mask = p->net.cidr ? ~0u << bits : 0;

		p->net.ip4.s_addr = htonl(ntohl(p->net.ip4.s_addr) & mask);
	} else {
		for (int i = 0; i < 16; i++) {
			int keep = (int)p->net.cidr - i * 8;

			p->net.ip6.s6_addr[i] &= keep >= 8   ? 0xff
						 : keep <= 0 ? 0
							     : (uint8_t)(0xff << (8 - keep));
		}
	}
	addr_format(&p->net, p->cidr);
	inet_ntop(family, family == AF_INET ? (void *)&p->net.ip4 : (void *)&p->net.ip6, ip,
		  sizeof(ip));
	/* The first host address: the network address plus one. */
	if (family == AF_INET) {
		struct in_addr a = { .s_addr = htonl(ntohl(p->net.ip4.s_addr) + 1) };

		inet_ntop(AF_INET, &a, p->gateway, sizeof(p->gateway));
	} else {
		struct in6_addr a = p->net.ip6;

		a.s6_addr[15] |= 1;
		inet_ntop(AF_INET6, &a, p->gateway, sizeof(p->gateway));
	}
	return 0;
}

/* The pool a PoolID names. */
static int pool_of_id(const json_t *req, struct pool *p, char *err)
{
	const char *id = json_string_value(json_object_get(req, "PoolID"));

	if (!id || strncmp(id, IPAM_POOL_PREFIX, strlen(IPAM_POOL_PREFIX)))
		return errmsg_set(err, -EINVAL, "PoolID: expected one this driver gave, got \"%s\"",
				  id ? QUOTE(id, 80) : "");
	return pool_parse(id + strlen(IPAM_POOL_PREFIX), p, err);
}

json_t *ipam_capabilities(struct wgd *d, const json_t *req, char *err)
{
	/* A MAC would be set on the link, which has none; the allocations are durable. */
	return json_pack("{s:b, s:b}", "RequiresMACAddress", 0, "RequiresRequestReplay", 0);
}

json_t *ipam_address_spaces(struct wgd *d, const json_t *req, char *err)
{
	return json_pack("{s:s, s:s}", "LocalDefaultAddressSpace", IPAM_ADDRESS_SPACE,
			 "GlobalDefaultAddressSpace", IPAM_ADDRESS_SPACE);
}

json_t *ipam_request_pool(struct wgd *d, const json_t *req, char *err)
{
	const char *pool = json_string_value(json_object_get(req, "Pool"));
	const char *sub = json_string_value(json_object_get(req, "SubPool"));
	char gw[ADDR_STRLEN + 8], id[ADDR_STRLEN + 8];
	struct pool p;

	if (!pool || !*pool)
		return errmsg_set(
			       err, -EINVAL,
			       "Pool: the wireguard IPAM needs the subnet: docker network "
			       "create --ipam-driver wireguard:latest --subnet 10.50.0.0/16 ..."),
		       NULL;
	if (sub && *sub)
		return errmsg_set(err, -EINVAL, "SubPool: not supported (got \"%s\")",
				  QUOTE(sub, 60)),
		       NULL;
	if (pool_parse(pool, &p, err))
		return NULL;
	snprintf(id, sizeof(id), IPAM_POOL_PREFIX "%s", p.cidr);
	snprintf(gw, sizeof(gw), "%s/%u", p.gateway, p.net.cidr);
	return json_pack("{s:s, s:s, s:{s:s}}", "PoolID", id, "Pool", p.cidr, "Data",
			 GATEWAY_OPTION, gw);
}

json_t *ipam_release_pool(struct wgd *d, const json_t *req, char *err)
{
	struct pool p;

	/* The pool is the subnet: nothing is kept per pool. */
	if (pool_of_id(req, &p, err))
		return NULL;
	return json_object();
}

/* ---- host-local allocations, without the cluster store ---- */

static void local_path(const struct wgd *d, char *path)
{
	state_file(&d->state, IPAM_LOCAL_FILE, path);
}

/* The allocations of this host: { pool: [address, ...] }, read once; the lock is held. */
static json_t *local_load(struct wgd *d)
{
	char path[PATH_MAX];
	json_t *j;

	if (d->ipam_local)
		return d->ipam_local;
	local_path(d, path);
	j = json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(j)) {
		json_decref(j);
		j = json_object();
	}
	d->ipam_local = j;
	return j;
}

static int local_save(struct wgd *d, char *err)
{
	char path[PATH_MAX], *text = json_dumps(d->ipam_local, JSON_COMPACT | JSON_SORT_KEYS);
	int ret;

	if (!text)
		return errmsg_set(err, -ENOMEM, "out of memory");
	local_path(d, path);
	ret = atomic_file_write(path, text, strlen(text), 0600);
	free(text);
	if (ret)
		return errmsg_set(err, ret, "%s: %s", path, strerror(-ret));
	return 0;
}

static bool local_taken(const json_t *list, const char *ip)
{
	size_t i;
	json_t *v;

	json_array_foreach (list, i, v)
		if (json_is_string(v) && !strcmp(json_string_value(v), ip))
			return true;
	return false;
}

static int local_request(struct wgd *d, const struct pool *p, const char *want, char *out,
			 char *err)
{
	json_t *all = local_load(d), *list;
	struct wg_allowedip a;
	char ip[ADDR_STRLEN];
	int bits = (p->net.family == AF_INET ? 32 : 128) - p->net.cidr;
	uint64_t span = bits >= 20 ? IPAM_LOCAL_SCAN_MAX : (1ull << bits);
	int ret;

	if (!all)
		return errmsg_set(err, -ENOMEM, "out of memory");
	list = json_object_get(all, p->cidr);
	if (!json_is_array(list)) {
		list = json_array();
		if (!list || json_object_set_new(all, p->cidr, list))
			return errmsg_set(err, -ENOMEM, "out of memory");
	}
	if (want && *want) {
		if (local_taken(list, want) || !strcmp(want, p->gateway))
			return errmsg_set(err, -EEXIST, "Address %s: in use", QUOTE(want, 60));
		snprintf(ip, sizeof(ip), "%s", want);
	} else {
		ip[0] = '\0';
		/* In order from the address after the gateway, as the engine's own IPAM does. */
		for (uint64_t off = 2; off < span && !ip[0]; off++) {
			if (p->net.family == AF_INET && off == span - 1)
				break;
			a = p->net;
			if (a.family == AF_INET) {
				a.ip4.s_addr = htonl(ntohl(a.ip4.s_addr) + (uint32_t)off);
			} else {
				uint64_t o = off;

				for (int i = 15; i >= 8 && o; i--) {
					unsigned sum = a.ip6.s6_addr[i] + (unsigned)(o & 0xff);

					a.ip6.s6_addr[i] = (uint8_t)sum;
					o = (o >> 8) + (sum >> 8);
				}
			}
			inet_ntop(a.family, a.family == AF_INET ? (void *)&a.ip4 : (void *)&a.ip6,
				  ip, sizeof(ip));
			if (local_taken(list, ip))
				ip[0] = '\0';
		}
		if (!ip[0])
			return errmsg_set(err, -ENOSPC, "pool %s: no free address", p->cidr);
	}
	if (json_array_append_new(list, json_string(ip)))
		return errmsg_set(err, -ENOMEM, "out of memory");
	ret = local_save(d, err);
	if (ret) {
		json_array_remove(list, json_array_size(list) - 1);
		return ret;
	}
	snprintf(out, ADDR_STRLEN, "%s", ip);
	return 0;
}

static int local_release(struct wgd *d, const struct pool *p, const char *addr, char *err)
{
	json_t *list = json_object_get(local_load(d), p->cidr), *v;
	size_t i;

	json_array_foreach (list, i, v) {
		if (json_is_string(v) && !strcmp(json_string_value(v), addr)) {
			json_array_remove(list, i);
			return local_save(d, err);
		}
	}
	return 0;
}

void ipam_finalise(struct wgd *d)
{
	json_decref(d->ipam_local);
	d->ipam_local = NULL;
}

/* ---- the addresses ---- */

/* The address in REQ, checked to be an address of P (or "" for any). */
static int requested_address(const json_t *req, const struct pool *p, const char **out, char *err)
{
	const char *a = json_string_value(json_object_get(req, "Address"));
	char with[ADDR_STRLEN + 8];
	struct pool q;

	*out = "";
	if (!a || !*a)
		return 0;
	/* Its subnet under the pool's prefix must be the pool. */
	snprintf(with, sizeof(with), "%s/%u", a, p->net.cidr);
	if (!strchr(a, '/') && !pool_parse(with, &q, (char[ERRMSG_LEN]){ 0 }) &&
	    q.net.family == p->net.family && !strcmp(q.cidr, p->cidr)) {
		*out = a;
		return 0;
	}
	return errmsg_set(err, -EINVAL, "Address: expected an address of pool %s, got \"%s\"",
			  p->cidr, QUOTE(a, 60));
}

/* An address of P: WANT ("" for any) into IP (ADDR_STRLEN), from the store or this host's file. */
static int take(struct wgd *d, const struct pool *p, const char *want, char *ip, char *err)
{
	struct cluster *c;
	int ret = 0;

	wgd_lock(d);
	c = d->cluster;
	if (!c)
		ret = local_request(d, p, want, ip, err);
	wgd_unlock(d);
	/* The cluster's store is not asked under the lock: it may take seconds. The cluster
	 * lives as long as the daemon's socket does. */
	if (c)
		ret = cluster_ipam_request(c, p->cidr, want, p->gateway, ip, err);
	return ret;
}

static int give(struct wgd *d, const struct pool *p, const char *addr, char *err)
{
	struct cluster *c;
	int ret = 0;

	/* libnetwork releases the gateway it never asked for: nothing to do. */
	if (!strcmp(addr, p->gateway))
		return 0;
	wgd_lock(d);
	c = d->cluster;
	if (!c)
		ret = local_release(d, p, addr, err);
	wgd_unlock(d);
	if (c)
		ret = cluster_ipam_release(c, p->cidr, addr);
	return ret;
}

json_t *ipam_request_address(struct wgd *d, const json_t *req, char *err)
{
	const json_t *opts = json_object_get(req, "Options");
	const char *type = json_string_value(json_object_get(opts, ADDRESS_TYPE_OPTION));
	char ip[ADDR_STRLEN], with[ADDR_STRLEN + 8];
	const char *want;
	struct pool p;

	if (pool_of_id(req, &p, err) || requested_address(req, &p, &want, err))
		return NULL;
	if (type && !strcmp(type, GATEWAY_OPTION)) {
		snprintf(with, sizeof(with), "%s/%u", p.gateway, p.net.cidr);
		return json_pack("{s:s, s:{}}", "Address", with, "Data");
	}
	if (take(d, &p, want, ip, err))
		return NULL;
	snprintf(with, sizeof(with), "%s/%u", ip, p.net.cidr);
	return json_pack("{s:s, s:{}}", "Address", with, "Data");
}

json_t *ipam_release_address(struct wgd *d, const json_t *req, char *err)
{
	const char *addr;
	struct pool p;

	if (pool_of_id(req, &p, err) || requested_address(req, &p, &addr, err))
		return NULL;
	if (!*addr)
		return errmsg_set(err, -EINVAL, "Address: missing"), NULL;
	return give(d, &p, addr, err) ? NULL : json_object();
}

int ipam_take(struct wgd *d, const char *pool, const char *want, char *out, char *err)
{
	char ip[ADDR_STRLEN];
	struct pool p;
	int ret;

	wgd_assert_unlocked(d);
	ret = pool_parse(pool, &p, err);
	if (!ret)
		ret = take(d, &p, want, ip, err);
	if (ret)
		return ret;
	/* An address is at most INET6_ADDRSTRLEN - 1 characters: "/128" still fits. */
	snprintf(out, ADDR_STRLEN, "%.45s/%u", ip, p.net.cidr);
	return 0;
}

int ipam_give(struct wgd *d, const char *pool, const char *addr, char *err)
{
	char ip[ADDR_STRLEN];
	struct pool p;
	int ret;

	wgd_assert_unlocked(d);
	ret = pool_parse(pool, &p, err);
	snprintf(ip, sizeof(ip), "%.*s", (int)strcspn(addr, "/"), addr);
	return ret ? ret : give(d, &p, ip, err);
}

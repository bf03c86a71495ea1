/* SPDX-License-Identifier: MIT */
/*
 * Networks that span hosts (-o wg.net=NAME), with what the hosts share in etcd (etcd.h). Under
 * the prefix CLUSTER_PREFIX:
 *   hostinfo/<host>           {name, addr, box}            who a host is; box: its sealing key
 *   alive/<host>              {incarnation}                the host's lease: it is up
 *   nets/<net>/config         the settings of cluster network NET, written once (CAS create)
 *   nets/<net>/eps/<host>/<eid>  {pub, addr, port, ip4, ip6, key, links}   the host's lease
 *   ipam/<pool>/<address>     {host, net, time}            no lease: an address outlives outages
 *   keys/<ref>                {host}                       the host holding identity REF's key
 *   psk/<a>+<b>               {<host>: sealed, <host>: sealed}   a pair's PSK, sealed to each host
 * Private keys never leave their host. A pair's PSK across hosts is random, sealed (libsodium
 * sealed box) to each host's box key, and mixed with the cluster secret, which never enters
 * etcd, before WireGuard gets it: a recorded copy of the store does not give up the PSKs.
 *
 * Every call made for the engine is bounded (etcd.h: at most the store timeout, 5 s). A store
 * outage never removes a programmed peer: peers go only when the store says an endpoint went.
 * Writes the engine does not wait for (an endpoint's record, a release) are queued, the releases
 * on disk, and done when the store answers again.
 */
#ifndef CLUSTER_H
#define CLUSTER_H

#include "network.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLUSTER_PREFIX	      "/wgnet/v1/"
#define CLUSTER_LEASE_TTL_S   10
#define CLUSTER_SECRET_MAX    4096
#define CLUSTER_HOST_NAME_MAX 64

struct cluster;
struct endpoint;
struct wgd;

struct cluster_config {
	const char *endpoints;			    /* ETCD_ENDPOINTS */
	const char *ca_file, *cert_file, *key_file; /* NULL: none */
	const char *username, *password;	    /* ETCD_USERNAME, ETCD_PASSWORD, or NULL */
	const char *advertise; /* ADVERTISE_ADDR, or NULL: the source address of
				* the route to the first endpoint */
	const uint8_t *secret; /* the cluster secret, or NULL */
	size_t secret_len;
	const char *name;     /* this host's name (hostname) */
	unsigned lease_ttl_s; /* 0: CLUSTER_LEASE_TTL_S */
	unsigned timeout_ms;  /* each store call; 0: the store client's default */
};

/* Joins daemon D to the cluster of CFG (borrowed): checks the store (a certificate or password
 * it refuses is an error that says so), registers this host, and starts the lease, the watch
 * and the writer. Called without D's lock, after the state is loaded. */
int cluster_start(struct wgd *d, const struct cluster_config *cfg, struct cluster **out, char *err);
/* Leaves: stops the threads; the lease is revoked, so the other hosts drop this host's peers at
 * once (a restart publishes them again). Accepts NULL. Called without the lock. */
void cluster_stop(struct cluster *c);

/* For the metrics, with or without the daemon's lock: whether the store's watch runs and this
 * host holds its lease, and how many hosts the store says are alive and gone (this one too). */
void cluster_store_state(struct cluster *c, bool *connected, size_t *alive, size_t *gone);
/* The address this host advertises to the others (ADVERTISE_ADDR or the route's source). */
const char *cluster_host_addr(const struct cluster *c);
/* This host's ID (stable across restarts: kept in the state directory). */
const char *cluster_host_id(const struct cluster *c);

/* Without the lock, bounded: the first host to create cluster network OPTS->cluster records its
 * settings; a later host's must be the same (-EEXIST naming the setting and both values). The
 * network's remote endpoints are read too, for cluster_network_added. */
int cluster_network_check(struct cluster *c, const struct network_options *opts,
			  const char *subnet4, const char *subnet6, char *err);
/* Under the lock: NET (a cluster network) was created or loaded: its remote endpoints join it. */
void cluster_network_added(struct cluster *c, struct network *net);

/* Under the lock: EP joined, left, went or changed what its peers see: its record follows
 * (queued; a host's records are published again whenever its lease was lost). */
void cluster_endpoint_changed(struct cluster *c, const struct endpoint *ep);
/* Under the lock: the PSK of the pair SELF (local) - OTHER (remote) is needed; it is made or
 * fetched in the background and the two links are marked when it is there. */
void cluster_psk_wanted(struct cluster *c, const struct endpoint *self,
			const struct endpoint *other);

/* Without the lock, bounded: identity REF is to be used on this host: claims it for this host,
 * or -EEXIST with a message (starting with WHAT) that says which host holds it and how to move
 * it. */
int cluster_key_claim(struct cluster *c, const char *ref, const char *what, char *err);
/* Without the lock, bounded: identity REF was deleted here; another host may claim it. */
int cluster_key_release(struct cluster *c, const char *ref, char *err);
/* With or without the lock: the same, in the background. */
void cluster_key_released(struct cluster *c, const char *ref);

/* Without the lock, bounded: an address of POOL ("10.50.0.0/16") for this host, unique in the
 * cluster: WANT ("" for any), never GATEWAY (NULL: none), into OUT (ADDR_STRLEN). The record has
 * no lease: a host that is only cut off keeps its addresses. */
int cluster_ipam_request(struct cluster *c, const char *pool, const char *want, const char *gateway,
			 char *out, char *err);
/* Without the lock: gives ADDR of POOL back, if this host holds it. When the store does not
 * answer the release is kept on disk and done later: this never fails. */
int cluster_ipam_release(struct cluster *c, const char *pool, const char *addr);

struct admin_text;

/* Without the lock, bounded: one line per host the store knows (wgctl hosts): its ID, name,
 * advertised address, alive or gone, and how many endpoints it publishes. */
int cluster_hosts(struct cluster *c, struct admin_text *out, char *err);
/* Without the lock, bounded: host WHO (ID, name or address), gone for good, is forgotten: its
 * addresses go back to their pools, its key claims and records go (wgctl host forget). Refused
 * while its lease is held. */
int cluster_host_forget(struct cluster *c, const char *who, struct admin_text *out, char *err);

#endif

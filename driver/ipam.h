/* SPDX-License-Identifier: MIT */
/*
 * The plugin's IPAM driver (docker network create --ipam-driver wireguard:latest): addresses for
 * the endpoints of a network. With the cluster store (cluster.c) every address is unique across
 * the hosts that share the pool (etcd transactions); without it they are unique on this host and
 * kept in the state directory. A pool is named by its subnet, the one every host of a wg.net
 * network gives with --subnet: the IPAM calls carry no network name.
 *
 * libnetwork does not ask for a gateway address when the pool's Data names one: the first
 * address of the pool is that gateway, handed to no endpoint and released as a no-op.
 */
#ifndef IPAM_H
#define IPAM_H

#include <jansson.h>

#define IPAM_ADDRESS_SPACE "wireguard"
#define IPAM_POOL_PREFIX   "wg:"

struct ipam_local;
struct wgd;

/* The IpamDriver.* calls: REQ is the request object (borrowed, may be NULL), the answer is new,
 * or NULL with ERR set (the engine reads IPAM errors from "Error"). Called without D's lock. */
json_t *ipam_capabilities(struct wgd *d, const json_t *req, char *err);
json_t *ipam_address_spaces(struct wgd *d, const json_t *req, char *err);
json_t *ipam_request_pool(struct wgd *d, const json_t *req, char *err);
json_t *ipam_release_pool(struct wgd *d, const json_t *req, char *err);
json_t *ipam_request_address(struct wgd *d, const json_t *req, char *err);
json_t *ipam_release_address(struct wgd *d, const json_t *req, char *err);

/* For an outside peer (outside.h), without D's lock: an address of POOL (a subnet, as a network
 * keeps it) from this plugin's IPAM, as RequestAddress gives one: WANT ("" for any) into OUT
 * ("10.50.0.7/24", ADDR_STRLEN bytes). */
int ipam_take(struct wgd *d, const char *pool, const char *want, char *out, char *err);
/* Without D's lock: gives ADDR ("10.50.0.7/24" or "10.50.0.7") of POOL back. */
int ipam_give(struct wgd *d, const char *pool, const char *addr, char *err);

/* Frees the host-local allocations D keeps in memory (its state file stays). Accepts none. */
void ipam_finalise(struct wgd *d);

#endif

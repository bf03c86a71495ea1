/* SPDX-License-Identifier: MIT */
/*
 * Networks: their options and the networks a daemon knows (struct wgd), each with its
 * endpoints. Everything here runs under the daemon's lock (wgd.h).
 */
#ifndef NETWORK_H
#define NETWORK_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define NETWORK_ID_LEN	    64
#define NETWORK_MTU_DEFAULT 1420
#define NETWORK_MTU_MIN	    1280
#define NETWORK_MTU_MAX	    65455 /* 65535 minus WireGuard's 80 bytes of overhead */

struct backend_ops;
struct endpoint;
struct wgd;

/* Who peers with whom: every endpoint with every other, or only linked identities (links.c). */
enum network_policy { NETWORK_POLICY_MESH, NETWORK_POLICY_LINKS };

#define NETWORK_NAME_MAX	64  /* wg.net */
#define NETWORK_ENGINE_NAME_MAX 128 /* docker network name kept; longer ones are cut */
#define NETWORK_KEEPALIVE_MAX	65535
#define NETWORK_POOL_LEN \
	64 /* a subnet, "2001:db8::/64" */ /* wg.keepalive, seconds (WireGuard's u16) */

struct network_options {
	uint32_t mtu;
	bool psk; /* a preshared key on every link */
	enum network_policy policy;
	const struct backend_ops *backend;  /* wg.backend, or NULL: the daemon's default */
	uint16_t keepalive;		    /* wg.keepalive: persistent keepalive, 0: off */
	char cluster[NETWORK_NAME_MAX + 1]; /* wg.net: the cluster network it is, "": host-local */
	/* Not options: the subnets of its IPAM data ("10.50.0.0/24", "" when none or unknown: a
	 * network of an older build), and whether this plugin's IPAM hands their addresses out.
	 * Outside peers (outside.h) take theirs from them. */
	char pool4[NETWORK_POOL_LEN], pool6[NETWORK_POOL_LEN];
	bool own_ipam;
};

struct network {
	struct wgd *d; /* the daemon it belongs to */
	char id[NETWORK_ID_LEN + 1];
	struct network_options opts;
	bool ipv6;
	/* Its name in the engine (engine.c), "" until known: for the operator's eyes only. */
	char name[NETWORK_ENGINE_NAME_MAX + 1];
	struct endpoint *endpoints; /* this host's, singly linked, in creation order */
	struct endpoint *remotes;   /* other hosts' on a cluster network (cluster.c) */
	struct endpoint *outside;   /* outside peers added on this host (outside.h) */
	struct network *next;
};

/* Parses the network's generic options (the "com.docker.network.generic" object, may be NULL)
 * into OUT, defaults first; D's backends are the ones wg.backend may name. Every key is checked:
 * an unknown one is an error listing the known. */
int network_options_parse(const struct wgd *d, const json_t *generic, struct network_options *out,
			  char *err);
/* true when MTU is one a network may have. */
bool network_mtu_valid(long mtu);
/* true when NAME can name a cluster network (wg.net): 1 to 64 of a-z 0-9 . _ -, starting with a
 * letter or digit. */
bool network_name_valid(const char *name);

/* The option value that names POLICY ("mesh" or "links"). */
const char *network_policy_name(enum network_policy policy);
/* Parses "mesh" or "links" into *OUT; -EINVAL otherwise. */
int network_policy_parse(const char *s, enum network_policy *out);

/* Creates network ID of D with OPTS and persists it. Same ID with the same options: 0 (the engine
 * may retry); with other options: -EEXIST. */
int network_create(struct wgd *d, const char *id, const struct network_options *opts, bool ipv6,
		   char *err);
/* Deletes network ID and its state file; 0 when unknown. -EBUSY while it has endpoints. */
int network_delete(struct wgd *d, const char *id, char *err);
/* The one network WANT names, into *OUT: its ID, engine name or wg.net name, else a unique
 * prefix of its ID (as docker accepts). -ENOENT or -EINVAL (more than one) with the reason in
 * ERR. Borrowed. */
int network_pick(struct wgd *d, const char *want, struct network **out, char *err);
/* Returns network ID or NULL. Borrowed. */
struct network *network_find(const struct wgd *d, const char *id);
/* A network of D that is not in its list yet, into *OUT (new, free with network_free unless
 * network_insert takes it). ID is 64 lower-case hex characters. */
int network_new(struct wgd *d, const char *id, const struct network_options *opts, bool ipv6,
		struct network **out, char *err);
/* Adds NET (network_new, loaded from the state directory) to its daemon; takes ownership. */
void network_insert(struct wgd *d, struct network *net);
/* Frees NET and its endpoints in memory (not their state or links). Accepts NULL. */
void network_free(struct network *net);
/* Frees every network and endpoint of D in memory (not their state or links). */
void network_finalise(struct wgd *d);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * Networks: their options and the registry of networks known to this daemon, each with its
 * endpoints. The registry is not locked: the API serialises every call (api.c).
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

/* Who peers with whom: every endpoint with every other, or only linked identities (links.c). */
enum network_policy { NETWORK_POLICY_MESH, NETWORK_POLICY_LINKS };

struct network_options {
	uint32_t mtu;
	bool psk; /* a preshared key on every link */
	enum network_policy policy;
	const struct backend_ops *backend; /* wg.backend, or NULL: the daemon's default */
};

struct network {
	char id[NETWORK_ID_LEN + 1];
	struct network_options opts;
	bool ipv6;
	struct endpoint *endpoints; /* singly linked, in creation order */
	struct network *next;
};

/* Parses the network's generic options (the "com.docker.network.generic" object, may be NULL)
 * into OUT, defaults first. Every key is checked: an unknown one is an error listing the known. */
int network_options_parse(const json_t *generic, struct network_options *out, char *err);

/* The option value that names POLICY ("mesh" or "links"). */
const char *network_policy_name(enum network_policy policy);
/* Parses "mesh" or "links" into *OUT; -EINVAL otherwise. */
int network_policy_parse(const char *s, enum network_policy *out);

/* Creates network ID with OPTS and persists it. Same ID with the same options: 0 (the engine may
 * retry); with other options: -EEXIST. */
int network_create(const char *id, const struct network_options *opts, bool ipv6, char *err);
/* Deletes network ID and its state file; 0 when unknown. -EBUSY while it has endpoints. */
int network_delete(const char *id, char *err);
/* Returns network ID or NULL. Borrowed. */
struct network *network_find(const char *id);
/* Adds a network read from the state directory (takes ownership of NET). */
void network_insert(struct network *net);
/* First network of the registry (iterate with ->next). Borrowed. */
struct network *network_first(void);
/* Frees every network and endpoint in memory (not their state or links). */
void network_finalise(void);

#endif

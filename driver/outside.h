/* SPDX-License-Identifier: MIT */
/*
 * Outside peers (wgctl peer): a laptop or a server that is not a container gets an address on a
 * network and becomes a peer of the endpoints the network's policy allows (every one under mesh,
 * the linked ones under links), and prints a wg-quick configuration to reach them.
 *
 * An outside peer is an endpoint of its network's outside list (ep->outside set) with no link on
 * this host: its name is its identity (the reference links name), and the peers code treats it
 * as any other candidate. The endpoints give it no endpoint address: WireGuard learns where it is
 * from its first handshake, and it roams; its configuration keeps the session alive
 * (PersistentKeepalive). On a cluster network its record goes to the store like an endpoint's,
 * so the endpoints of every host peer with it, and its configuration names each host's address.
 *
 * Its private key is identity NAME of the keystore: made here unless the identity exists already
 * (then it is used) or --public-key gave only the public half (then nothing secret is kept and
 * the configuration leaves PrivateKey to its owner). Its address comes from the network's pool
 * when this plugin's IPAM serves it, else from --address, which must be outside the range the
 * engine hands out (docker network create --ip-range).
 *
 * Every function runs without the daemon's lock and takes it while the model changes.
 */
#ifndef OUTSIDE_H
#define OUTSIDE_H

#include "addr.h"

#include <stdbool.h>

#define OUTSIDE_VIA_MAX 253 /* a DNS name */
/* PersistentKeepalive of the configuration when the network sets none. */
#define OUTSIDE_KEEPALIVE_DEFAULT 25
/* How long a configuration waits for the preshared keys of peers on other hosts. */
#define OUTSIDE_PSK_WAIT_MS 3000

struct admin_text;
struct endpoint;
struct wgd;

/* What only an outside peer has. */
struct outside {
	char via[OUTSIDE_VIA_MAX + 1]; /* the address it reaches this host at, "" when not given */
	bool key_made;		       /* its identity was made for it: it goes with it */
	bool ipam;		       /* its addresses came from the plugin's IPAM */
};

struct outside_request {
	const char *name;	/* its identity reference */
	const char *network;	/* ID, unique ID prefix, engine name or wg.net name */
	const char *links;	/* wg.links syntax, or NULL */
	const char *public_key; /* base64, or NULL: the identity's (made when missing) */
	const char *address[2]; /* at most one per family, or NULL */
	const char *via;	/* the address this host is reached at, or NULL */
};

/* wgctl peer add: adds the outside peer R and prints its configuration into OUT. */
int outside_add(struct wgd *d, const struct outside_request *r, struct admin_text *out, char *err);
/* wgctl peer config: prints outside peer NAME's configuration as it is now; VIA (or NULL)
 * replaces the address of this host it names. */
int outside_config(struct wgd *d, const char *name, const char *via, struct admin_text *out,
		   char *err);
/* wgctl peer rm: removes outside peer NAME from its network, its address and, when made for it,
 * its identity and link keys. */
int outside_remove(struct wgd *d, const char *name, char *err);
/* wgctl peer list: one line per outside peer: name, network, addresses, public key. */
int outside_list(struct wgd *d, struct admin_text *out, char *err);

/* A new outside peer with a random ID, joined, in no list; NULL when out of memory (ERR says
 * so). Free with endpoint_free. */
struct endpoint *outside_new(char *err);
/* Under the lock: outside peer NAME of any network, or NULL. */
struct endpoint *outside_find(const struct wgd *d, const char *name);
/* true when TEXT can be a via address: an IP address or a DNS name. */
bool outside_via_valid(const char *text);

#endif

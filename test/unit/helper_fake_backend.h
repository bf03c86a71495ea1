/* SPDX-License-Identifier: MIT */
/* A backend for unit tests: keeps links in memory and can be told to fail. */
#ifndef HELPER_FAKE_BACKEND_H
#define HELPER_FAKE_BACKEND_H

#include "backend.h"

#define FAKE_LINKS_MAX 16

struct fake_link {
	bool used;
	struct wg_device dev; /* private key kept to check what was programmed */
};

extern const struct backend_ops fake_backend;
extern struct fake_link fake_links[FAKE_LINKS_MAX];
/* Error the next call of that kind returns (0: succeed), reset after one use. */
extern int fake_fail_link_create, fake_fail_peer_set;

/* The link called IFNAME, or NULL. */
struct fake_link *fake_link_find(const char *ifname);
/* The peer with PUB on LINK, or NULL. */
struct wg_peer *fake_peer_find(struct fake_link *link, const uint8_t *pub);
/* Number of links. */
int fake_link_count(void);
/* Forgets every link. */
void fake_reset(void);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * Persistent TUN devices for wireguard-go, so that a link outlives the process serving it (the
 * daemon killed, the plugin disabled or upgraded: every process of a managed plugin dies with
 * it) and a new wireguard-go can take it over through an inherited descriptor, even inside the
 * container that holds it.
 *
 * A device is created in the caller's network namespace under the link's name and tagged with
 * that name as its alias (IFLA_IFALIAS), which follows it when Docker moves it into a sandbox and
 * renames it wg0: the tag finds it there. A TUN is attached to one descriptor at a time; a device
 * inside a namespace is attached from a /dev/net/tun opened in that namespace.
 * Functions return 0 or -errno.
 */
#ifndef TUN_H
#define TUN_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

/* A TUN device as found in a namespace. */
struct tun_link {
	char name[IFNAMSIZ]; /* its name there now */
	int ifindex;
	uint16_t flags; /* the TUNSETIFF flags its last user attached with */
	bool attached;	/* a process holds it */
};

/* Creates the persistent TUN IFNAME, tagged IFNAME, in the caller's network namespace, attached
 * to nobody. -EEXIST if a link of that name exists. */
int tun_create(const char *ifname);
/* The same, attached with FLAGS (IFF_TUN ...): returns the descriptor, to hand to the process
 * that serves the link. Closing a new TUN's descriptor and attaching again races with a fork()
 * of another thread, whose child holds a copy until it execs: the attach then fails (-EBUSY). */
int tun_create_attached(const char *ifname, uint16_t flags);
/* Finds in the network namespace file NETNS (NULL: the caller's) the TUN tagged TAG, into OUT.
 * -ENODEV when there is none; -ENOENT when NETNS does not exist. */
int tun_find(const char *netns, const char *tag, struct tun_link *out);
/* Attaches to LINK (found in NETNS by tun_find) with its flags and returns the descriptor (close
 * it, or hand it to the process that serves the link). -EBUSY when a process holds it. */
int tun_attach(const char *netns, const struct tun_link *link);
/* Creates a TUN IFNAME in the caller's namespace that lives until the returned descriptor is
 * closed. -EEXIST if a link of that name exists. */
int tun_placeholder(const char *ifname);
/* Renames the link IFINDEX of the network namespace file NETNS to NAME (the link may be up). */
int tun_rename(const char *netns, int ifindex, const char *name);

#endif

/* SPDX-License-Identifier: MIT */
/* rtnetlink (libmnl) helpers for links: by name in the network namespace of the calling thread,
 * and requests and link dumps in any namespace. */
#ifndef RTNL_H
#define RTNL_H

#include "nlsock.h"

#include <stdbool.h>
#include <stdint.h>

/* How often a link dump the kernel interrupted (links changed meanwhile) is run again. */
#define RTNL_DUMP_TRIES 4

/* Sends the rtnetlink request NLH in the network namespace file NETNS (NULL: the caller's) and
 * passes every data message of the reply to CB (may be NULL). */
int rtnl_talk(const char *netns, struct nlmsghdr *nlh, nlsock_cb cb, void *data);
/* Passes every link of NETNS (an RTM_NEWLINK message each) to CB. START(DATA) comes before each
 * try: an interrupted dump is run again, up to RTNL_DUMP_TRIES times, and what the partial one
 * collected must be forgotten. */
int rtnl_link_dump(const char *netns, nlsock_cb cb, void *data, void (*start)(void *data));

/* Creates a link of kind "wireguard" named IFNAME with MTU (0: kernel default). -EEXIST if the
 * name is taken; -EOPNOTSUPP when the kernel has no WireGuard ("Unknown device type"). */
int rtnl_link_create_wireguard(const char *ifname, uint32_t mtu);
/* Sets the MTU of IFNAME. */
int rtnl_link_set_mtu(const char *ifname, uint32_t mtu);
/* Deletes IFNAME; 0 when it does not exist. */
int rtnl_link_delete(const char *ifname);
/* true when a link named IFNAME exists. */
bool rtnl_link_exists(const char *ifname);

#endif

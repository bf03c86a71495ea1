/* SPDX-License-Identifier: MIT */
/* rtnetlink (libmnl) helpers for links in the network namespace of the calling thread. */
#ifndef RTNL_H
#define RTNL_H

#include <stdbool.h>
#include <stdint.h>

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

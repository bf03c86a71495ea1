/* SPDX-License-Identifier: MIT */
/*
 * Sockets inside another network namespace. The calling thread enters the namespace only for the
 * socket() call; a socket keeps the namespace it was created in, so netlink requests sent on it
 * find the devices there (a link Docker moved into a container, renamed wg0).
 */
#ifndef NETNS_H
#define NETNS_H

/* Creates a socket(DOMAIN, TYPE | SOCK_CLOEXEC, PROTOCOL) inside the network namespace file PATH
 * (a Docker SandboxKey, /run/netns/NAME, /proc/PID/ns/net) and returns it (close it), or
 * -errno. The calling thread is back in its own namespace when this returns. */
int netns_socket(const char *path, int domain, int type, int protocol);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * Work inside another network namespace. The calling thread enters the namespace only for one
 * socket() or open() call; a socket keeps the namespace it was created in, so netlink requests
 * sent on it find the devices there (a link Docker moved into a container, renamed wg0), and a
 * /dev/net/tun opened there attaches to TUN devices of that namespace.
 *
 * Namespace files are Docker SandboxKeys, /run/netns/NAME or /proc/PID/ns/net. A SandboxKey sent
 * by an engine with a non-default exec-root (<exec-root>/netns/<id>) does not exist inside the
 * managed plugin, which sees the same files through its netns mount at NETNS_DOCKER_DIR/<id>.
 */
#ifndef NETNS_H
#define NETNS_H

#include <stdbool.h>
#include <stddef.h>

#define NETNS_DOCKER_DIR "/var/run/docker/netns"

/* Writes into OUT the namespace file to open for PATH: PATH itself when it exists, else
 * NETNS_DOCKER_DIR/<basename of PATH> when that exists. -ENOENT when neither does (OUT = PATH),
 * -ENAMETOOLONG. */
int netns_resolve(const char *path, char *out, size_t size);
/* Creates a socket(DOMAIN, TYPE | SOCK_CLOEXEC, PROTOCOL) inside the network namespace file PATH
 * (resolved as netns_resolve does) and returns it (close it), or -errno. The calling thread is
 * back in its own namespace when this returns. */
int netns_socket(const char *path, int domain, int type, int protocol);
/* Opens FILE with FLAGS | O_CLOEXEC while the calling thread is inside the network namespace
 * file PATH (NULL: its own) and returns the descriptor (close it), or -errno. */
int netns_open(const char *path, const char *file, int flags);
/* true when PATH (resolved as netns_resolve does) exists; false for NULL. */
bool netns_exists(const char *path);

#endif

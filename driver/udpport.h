/* SPDX-License-Identifier: MIT */
/* Choosing the UDP listen port of a new link in the host network namespace. */
#ifndef UDPPORT_H
#define UDPPORT_H

#include <stdbool.h>
#include <stdint.h>

/* Picks a UDP port that is free right now on the host for IPv4 and IPv6 (the kernel's choice
 * of an ephemeral port) and for which TAKEN(port, ctx) is false. */
int udpport_pick(bool (*taken)(uint16_t port, void *ctx), void *ctx, uint16_t *out);

#endif

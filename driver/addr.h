/* SPDX-License-Identifier: MIT */
/* Parsing and printing of the CIDR addresses IPAM hands to the driver ("10.0.0.2/24"). */
#ifndef ADDR_H
#define ADDR_H

#include "wgdev.h"

#include <arpa/inet.h>

#define ADDR_STRLEN (INET6_ADDRSTRLEN + 4)

/* Parses S as an address with prefix length of FAMILY (AF_INET or AF_INET6) into OUT. */
int addr_parse(const char *s, int family, struct wg_allowedip *out);
/* Formats A as "addr/prefix" into BUF (ADDR_STRLEN bytes); returns BUF. */
const char *addr_format(const struct wg_allowedip *a, char *buf);
/* Where a WireGuard peer is, as wg prints it: "192.0.2.1:51820", "[2001:db8::1]:51820" (with
 * "%scope" when it has one), or "" when nowhere known. */
#define ADDR_ENDPOINT_STRLEN (INET6_ADDRSTRLEN + 20)
const char *addr_endpoint_format(const union wg_endpoint *e, char *buf);
/* A host route for A's address: the same address with prefix 32 or 128. */
struct wg_allowedip addr_host(const struct wg_allowedip *a);

#endif

// SPDX-License-Identifier: MIT
#include "addr.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int addr_parse(const char *s, int family, struct wg_allowedip *out)
{
	char buf[ADDR_STRLEN];
	const char *slash = strchr(s, '/');
	size_t len = slash ? (size_t)(slash - s) : 0;
	int max = family == AF_INET ? 32 : 128;
	char *end;
	long prefix;

	if (!slash || len == 0 || len >= sizeof(buf) || !slash[1])
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(family, buf, family == AF_INET ? (void *)&out->ip4 : (void *)&out->ip6) != 1)
		return -EINVAL;
	errno = 0;
	prefix = strtol(slash + 1, &end, 10);
	if (errno || *end || slash[1] < '0' || slash[1] > '9' || prefix < 0 || prefix > max)
		return -EINVAL;
	out->family = (uint16_t)family;
	out->cidr = (uint8_t)prefix;
	return 0;
}

const char *addr_format(const struct wg_allowedip *a, char *buf)
{
	char ip[INET6_ADDRSTRLEN];

	inet_ntop(a->family, a->family == AF_INET ? (const void *)&a->ip4 : (const void *)&a->ip6,
		  ip, sizeof(ip));
	snprintf(buf, ADDR_STRLEN, "%s/%u", ip, a->cidr);
	return buf;
}

const char *addr_endpoint_format(const union wg_endpoint *e, char *buf)
{
	char ip[INET6_ADDRSTRLEN];

	buf[0] = '\0';
	if (e->addr.sa_family == AF_INET) {
		inet_ntop(AF_INET, &e->addr4.sin_addr, ip, sizeof(ip));
		snprintf(buf, ADDR_ENDPOINT_STRLEN, "%s:%u", ip, ntohs(e->addr4.sin_port));
	} else if (e->addr.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &e->addr6.sin6_addr, ip, sizeof(ip));
		if (e->addr6.sin6_scope_id)
			snprintf(buf, ADDR_ENDPOINT_STRLEN, "[%s%%%u]:%u", ip,
				 e->addr6.sin6_scope_id, ntohs(e->addr6.sin6_port));
		else
			snprintf(buf, ADDR_ENDPOINT_STRLEN, "[%s]:%u", ip,
				 ntohs(e->addr6.sin6_port));
	}
	return buf;
}

struct wg_allowedip addr_host(const struct wg_allowedip *a)
{
	struct wg_allowedip host = *a;

	host.cidr = a->family == AF_INET ? 32 : 128;
	return host;
}

/* SPDX-License-Identifier: MIT */
/*
 * What the libFuzzer harnesses share: a check that aborts (so libFuzzer keeps the input as a
 * finding) when a parse succeeds with values out of bounds, the bounds every parsed device must
 * respect, and the reply state a netlink datagram is fed to.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include "nlsock.h"
#include "wgdev.h"

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond)                                                                     \
	do {                                                                                 \
		if (!(cond)) {                                                               \
			fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, \
				#cond);                                                      \
			abort();                                                             \
		}                                                                            \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A reply to the request whose seq and port the first message of DATA carries: a reply whose
 * messages all belong to the request, as the kernel sends it, unless the fuzzer changes that. */
static inline struct nlsock_reply fuzz_reply(const uint8_t *data, size_t size, nlsock_cb cb,
					     void *arg)
{
	struct nlsock_reply reply = { .cb = cb, .data = arg };
	struct nlmsghdr nlh;

	if (size >= sizeof(nlh)) {
		memcpy(&nlh, data, sizeof(nlh));
		reply.seq = nlh.nlmsg_seq;
		reply.portid = nlh.nlmsg_pid;
	}
	return reply;
}

/* Feeds DATA once more to REPLY, which is done: its state may not change (the harness checks
 * what its callback collected). */
static inline void fuzz_check_done_stops(struct nlsock_reply *reply, const uint8_t *data,
					 size_t size)
{
	int error = reply->error;

	FUZZ_CHECK(reply->done);
	nlsock_reply_feed(reply, data, size);
	FUZZ_CHECK(reply->done && reply->error == error);
}

static inline void fuzz_check_allowedip(const struct wg_allowedip *ip)
{
	FUZZ_CHECK((ip->family == AF_INET && ip->cidr <= 32) ||
		   (ip->family == AF_INET6 && ip->cidr <= 128));
}

/* What any parsed struct wg_device must hold, whichever backend's answer it came from. */
static inline void fuzz_check_device(const struct wg_device *dev)
{
	FUZZ_CHECK(memchr(dev->name, '\0', sizeof(dev->name)));
	FUZZ_CHECK(!dev->has_private_key && sodium_is_zero(dev->private_key, WG_KEY_LEN));
	FUZZ_CHECK(!dev->n_peers || dev->peers);
	for (size_t i = 0; i < dev->n_peers; i++) {
		const struct wg_peer *peer = &dev->peers[i];
		sa_family_t family = peer->endpoint.addr.sa_family;

		FUZZ_CHECK(peer->n_allowedips <= WGDEV_MAX_ALLOWEDIPS);
		for (size_t j = 0; j < peer->n_allowedips; j++)
			fuzz_check_allowedip(&peer->allowedips[j]);
		FUZZ_CHECK(peer->has_preshared_key ==
			   !sodium_is_zero(peer->preshared_key, WG_KEY_LEN));
		FUZZ_CHECK(family == 0 || family == AF_INET || family == AF_INET6);
	}
}

/* wgdev_clear must leave nothing behind: LeakSanitizer sees the peers, this the keys. */
static inline void fuzz_clear_device(struct wg_device *dev)
{
	wgdev_clear(dev);
	FUZZ_CHECK(sodium_is_zero((const unsigned char *)dev, sizeof(*dev)));
}

#endif

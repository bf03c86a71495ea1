// SPDX-License-Identifier: MIT
/*
 * The RTM_NEWLINK callback of the link dumps (rtnl_link_dump hands each message to it): tun.c's
 * search for the TUN tagged FUZZ_TAG, fed by nlsock_reply_feed as rtnl_link_dump does. Beyond
 * crashes: a link found has a name that fits, an index from its header and only the TUNSETIFF
 * flags a TUN can have; a reply that is done takes nothing more.
 */
#include "driver/tun.c"

#include "fuzz.h"

/* The alias tun_create gave the TUN of the seed corpus (test/fuzz/mkcorpus.c). */
#define FUZZ_TAG "wgfuzz0"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tun_link link;
	struct tun_search search = { .tag = FUZZ_TAG, .out = &link };
	struct nlsock_reply reply = fuzz_reply(data, size, tun_link_cb, &search);
	struct tun_link found;

	memset(&link, 0xa5, sizeof(link));
	search_start(&search);
	nlsock_reply_feed(&reply, data, size);
	if (search.found) {
		FUZZ_CHECK(strnlen(link.name, sizeof(link.name)) < sizeof(link.name));
		FUZZ_CHECK(!(link.flags &
			     ~(IFF_TUN | IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE)));
	} else {
		FUZZ_CHECK(link.ifindex == (int)0xa5a5a5a5);
	}
	found = link;
	if (reply.done) {
		bool was_found = search.found;

		fuzz_check_done_stops(&reply, data, size);
		FUZZ_CHECK(search.found == was_found && !memcmp(&found, &link, sizeof(link)));
	}
	return 0;
}

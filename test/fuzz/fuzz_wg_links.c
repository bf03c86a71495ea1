// SPDX-License-Identifier: MIT
/*
 * The other RTM_NEWLINK callback of the link dumps: backend_kernel.c's list of the wireguard
 * links in a sandbox (collect_wireguard_link, what list_wireguard_links hands rtnl_link_dump),
 * fed by nlsock_reply_feed as rtnl_link_dump does. Beyond crashes: at most SANDBOX_LINKS_MAX
 * names, each one that fits IFNAMSIZ and is in the input as a string, and none unless the input
 * names the kind "wireguard"; a reply that is done takes nothing more; the start of a dump
 * (forget_names, before every try) leaves none.
 */
#include "driver/backend_kernel.c"

#include "fuzz.h"

#define KIND "wireguard"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct link_names names, found;
	struct nlsock_reply reply = fuzz_reply(data, size, collect_wireguard_link, &names);

	memset(&names, 0xa5, sizeof(names));
	forget_names(&names);
	FUZZ_CHECK(names.n == 0);
	nlsock_reply_feed(&reply, data, size);
	FUZZ_CHECK(names.n <= SANDBOX_LINKS_MAX);
	FUZZ_CHECK(!names.n || memmem(data, size, KIND, sizeof(KIND)));
	for (size_t i = 0; i < names.n; i++) {
		size_t len = strnlen(names.name[i], IFNAMSIZ);

		FUZZ_CHECK(len < IFNAMSIZ);
		FUZZ_CHECK(memmem(data, size, names.name[i], len + 1));
	}
	if (reply.done) {
		found = names;
		fuzz_check_done_stops(&reply, data, size);
		FUZZ_CHECK(!memcmp(&found, &names, sizeof(names)));
	}
	return 0;
}

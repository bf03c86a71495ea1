// SPDX-License-Identifier: MIT
/*
 * The WG_CMD_GET_DEVICE reply parser (genl_wg_parse_device, fed by nlsock_reply_feed as
 * genl_wg_get_device does) into a struct wg_device. Beyond crashes: every parsed device is in
 * bounds (fuzz_check_device), every key it holds was a 32-byte attribute of its type in the
 * input, a peer continued from the previous message is merged rather than repeated, a reply that
 * is done takes nothing more, and wgdev_clear leaves nothing behind.
 */
#include "driver/genl_wg.c"

#include "fuzz.h"

/* true when DATA holds an attribute of TYPE with exactly the 32 bytes of KEY as payload. */
static bool key_attr_in(const uint8_t *data, size_t size, uint16_t type, const uint8_t *key)
{
	struct nlattr hdr;

	for (size_t i = 0; i + MNL_ATTR_HDRLEN + WG_KEY_LEN <= size; i += MNL_ALIGNTO) {
		memcpy(&hdr, data + i, sizeof(hdr));
		if (hdr.nla_len == MNL_ATTR_HDRLEN + WG_KEY_LEN &&
		    (hdr.nla_type & NLA_TYPE_MASK) == type &&
		    !memcmp(data + i + MNL_ATTR_HDRLEN, key, WG_KEY_LEN))
			return true;
	}
	return false;
}

static void check_keys(const struct wg_device *dev, const uint8_t *data, size_t size)
{
	if (!sodium_is_zero(dev->public_key, WG_KEY_LEN))
		FUZZ_CHECK(key_attr_in(data, size, WGDEVICE_A_PUBLIC_KEY, dev->public_key));
	for (size_t i = 0; i < dev->n_peers; i++) {
		const struct wg_peer *peer = &dev->peers[i];

		FUZZ_CHECK(key_attr_in(data, size, WGPEER_A_PUBLIC_KEY, peer->public_key));
		if (peer->has_preshared_key)
			FUZZ_CHECK(key_attr_in(data, size, WGPEER_A_PRESHARED_KEY,
					       peer->preshared_key));
		if (i)
			FUZZ_CHECK(
				memcmp(dev->peers[i - 1].public_key, peer->public_key, WG_KEY_LEN));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wg_device dev = { 0 };
	struct nlsock_reply reply = fuzz_reply(data, size, genl_wg_parse_device, &dev);
	size_t n_peers;

	nlsock_reply_feed(&reply, data, size);
	fuzz_check_device(&dev);
	check_keys(&dev, data, size);
	n_peers = dev.n_peers;
	if (reply.done) {
		fuzz_check_done_stops(&reply, data, size);
		FUZZ_CHECK(dev.n_peers == n_peers);
	}
	fuzz_clear_device(&dev);
	return 0;
}

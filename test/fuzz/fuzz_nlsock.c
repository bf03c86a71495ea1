// SPDX-License-Identifier: MIT
/*
 * nlsock_reply_feed over arbitrary datagrams. The callback walks every message's attributes as
 * the real ones do (generic netlink and rtnetlink headers, nests three deep, the libmnl
 * validations they use) and touches every byte it is handed, so AddressSanitizer sees any byte
 * outside the datagram. Beyond crashes: the callback sees only whole messages inside the
 * datagram and never after an error, a reply that is done takes nothing more, and feeding the
 * datagram in two reads (split after its first message) gives what one read gives.
 */
#include "driver/nlsock.c"

#include "fuzz.h"

#include <linux/genetlink.h>
#include <linux/rtnetlink.h>

#define WALK_DEPTH 3

struct walk {
	const uint8_t *buf;
	size_t size;
	const struct nlsock_reply *reply;
	unsigned calls;
	uint64_t sum; /* of every byte and value read: keeps the reads, and compares two walks */
};

static void walk_bytes(struct walk *w, const void *p, size_t len)
{
	const uint8_t *bytes = p;

	FUZZ_CHECK(bytes >= w->buf && len <= w->size &&
		   bytes - w->buf <= (ptrdiff_t)(w->size - len));
	for (size_t i = 0; i < len; i++)
		w->sum += bytes[i];
}

static void walk_attr(struct walk *w, const struct nlattr *attr, int depth)
{
	const struct nlattr *inner;

	walk_bytes(w, attr, attr->nla_len);
	if (!mnl_attr_validate(attr, MNL_TYPE_NUL_STRING))
		w->sum += strlen(mnl_attr_get_str(attr));
	if (!mnl_attr_validate(attr, MNL_TYPE_U8))
		w->sum += mnl_attr_get_u8(attr);
	if (!mnl_attr_validate(attr, MNL_TYPE_U16))
		w->sum += mnl_attr_get_u16(attr);
	if (!mnl_attr_validate(attr, MNL_TYPE_U32))
		w->sum += mnl_attr_get_u32(attr);
	if (!mnl_attr_validate(attr, MNL_TYPE_U64))
		w->sum += mnl_attr_get_u64(attr);
	if (depth == WALK_DEPTH || mnl_attr_validate(attr, MNL_TYPE_NESTED))
		return;
	mnl_attr_for_each_nested (inner, attr)
		walk_attr(w, inner, depth + 1);
}

/* A message with NLM_F_ECHO set makes the callback fail, so that errors mid-reply are covered. */
static int walk_cb(const struct nlmsghdr *nlh, void *data)
{
	struct walk *w = data;
	const struct nlattr *attr;
	size_t payload;

	FUZZ_CHECK(!w->reply->error);
	FUZZ_CHECK(nlh->nlmsg_len >= sizeof(*nlh));
	walk_bytes(w, nlh, MNL_ALIGN(nlh->nlmsg_len));
	w->calls++;
	payload = mnl_nlmsg_get_payload_len(nlh);
	if (payload >= sizeof(struct genlmsghdr)) {
		mnl_attr_for_each (attr, nlh, sizeof(struct genlmsghdr))
			walk_attr(w, attr, 0);
	}
	if (payload >= sizeof(struct ifinfomsg)) {
		mnl_attr_for_each (attr, nlh, sizeof(struct ifinfomsg))
			walk_attr(w, attr, 0);
	}
	return nlh->nlmsg_flags & NLM_F_ECHO ? -EIO : 0;
}

static struct nlsock_reply feed(const uint8_t *data, size_t size, size_t split, struct walk *w)
{
	struct nlsock_reply reply = fuzz_reply(data, size, walk_cb, w);

	*w = (struct walk){ .buf = data, .size = size, .reply = &reply };
	nlsock_reply_feed(&reply, data, split);
	if (!reply.done)
		nlsock_reply_feed(&reply, data + split, size - split);
	w->reply = NULL;
	return reply;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nlsock_reply once, twice;
	struct walk w1, w2;
	uint32_t first_len = 0;
	size_t split = 0;

	once = feed(data, size, size, &w1);
	FUZZ_CHECK(once.done || !once.error || once.error == -EINTR || once.error == -EIO);
	FUZZ_CHECK(w1.calls <= size / sizeof(struct nlmsghdr));

	if (size >= sizeof(struct nlmsghdr)) {
		memcpy(&first_len, data, sizeof(first_len));
		split = MNL_ALIGN((size_t)first_len);
	}
	if (first_len >= sizeof(struct nlmsghdr) && split <= size) {
		twice = feed(data, size, split, &w2);
		FUZZ_CHECK(twice.done == once.done && twice.error == once.error);
		FUZZ_CHECK(w2.calls == w1.calls && w2.sum == w1.sum);
	}

	if (once.done) {
		unsigned calls = w1.calls;

		w1.reply = &once;
		once.data = &w1;
		fuzz_check_done_stops(&once, data, size);
		FUZZ_CHECK(w1.calls == calls);
	}
	return 0;
}

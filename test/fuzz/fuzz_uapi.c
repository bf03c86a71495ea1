// SPDX-License-Identifier: MIT
/*
 * The UAPI answers of wireguard-go: uapi_parse_get_reply (get=1) into a struct wg_device, and
 * uapi_parse_set_reply. The input is what recv_reply would hand over: the bytes received, made a
 * C string. Beyond crashes: the result is 0 or an errno, every parsed device is in bounds
 * (fuzz_check_device), there are no more peers than public_key lines, what follows the blank
 * line that ends an answer changes nothing, and wgdev_clear leaves nothing behind.
 */
#include "driver/uapi.c"

#include "fuzz.h"

static size_t count(const char *text, const char *needle)
{
	size_t n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* The length of TEXT up to and including the blank line that ends an answer, or 0. */
static size_t answer_len(const char *text)
{
	const char *blank;

	if (text[0] == '\n')
		return 1;
	blank = strstr(text, "\n\n");
	return blank ? (size_t)(blank - text) + 2 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *head;
	struct wg_device dev, again;
	size_t len;
	int err, set_err;

	FUZZ_CHECK(text);
	memcpy(text, data, size);
	text[size] = '\0';

	err = uapi_parse_get_reply(text, &dev);
	FUZZ_CHECK(err <= 0 && err >= -4095);
	fuzz_check_device(&dev);
	FUZZ_CHECK(dev.n_peers <= count(text, "public_key="));
	FUZZ_CHECK(!dev.has_private_key);

	len = answer_len(text);
	if (len) {
		head = strndup(text, len);
		FUZZ_CHECK(head);
		FUZZ_CHECK(uapi_parse_get_reply(head, &again) == err);
		FUZZ_CHECK(again.n_peers == dev.n_peers && again.listen_port == dev.listen_port);
		FUZZ_CHECK(uapi_parse_set_reply(head) == uapi_parse_set_reply(text));
		fuzz_clear_device(&again);
		free(head);
	} else {
		FUZZ_CHECK(err != 0);
	}

	set_err = uapi_parse_set_reply(text);
	FUZZ_CHECK(set_err <= 0 && set_err >= -4095);
	fuzz_clear_device(&dev);
	free(text);
	return 0;
}

// SPDX-License-Identifier: MIT
/*
 * The key-file text parser of keystore.c (keystore_key_parse: base64 of 32 bytes, then only
 * whitespace), on files up to the KEY_FILE_MAX bytes the loader reads. Beyond crashes: a key
 * accepted is the one its text encodes (base64 of it is the text, and only whitespace follows), and
 * a text refused leaves the key untouched or wiped, never half-written.
 */
#include "keystore/keystore.c"

#include "fuzz.h"

static bool all_bytes(const uint8_t *p, size_t len, uint8_t value)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != value)
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char b64[KEY_B64_LEN + 1];
	uint8_t key[KEYSTORE_KEY_LEN];
	int ret;

	if (size > KEY_FILE_MAX)
		return 0;
	memset(key, 0xa5, sizeof(key));
	ret = keystore_key_parse((const char *)data, size, key);
	if (ret) {
		FUZZ_CHECK(ret == -EBADMSG);
		FUZZ_CHECK(all_bytes(key, sizeof(key), 0xa5) || all_bytes(key, sizeof(key), 0));
		return 0;
	}
	sodium_bin2base64(b64, sizeof(b64), key, sizeof(key), sodium_base64_VARIANT_ORIGINAL);
	FUZZ_CHECK(size >= KEY_B64_LEN && !memcmp(b64, data, KEY_B64_LEN));
	for (size_t i = KEY_B64_LEN; i < size; i++)
		FUZZ_CHECK(strchr(" \t\r\n", data[i]) && data[i]);
	sodium_memzero(key, sizeof(key));
	return 0;
}

// SPDX-License-Identifier: MIT
/* User text made safe for errors and log lines: valid UTF-8, no control character, cut on a
 * character boundary. */
#include "unit.h"

#include "driver/quote.c"

#include <jansson.h>

static void check(const char *in, size_t max, const char *want)
{
	char buf[QUOTE_SIZE(64)];

	quote(in, max, buf, sizeof(buf));
	if (strcmp(buf, want)) {
		fprintf(stderr, "  quote(max %zu) gave \"%s\", expected \"%s\"\n", max, buf, want);
		unit_failed_checks++;
	}
}

UNIT_TEST(plain_text_is_kept)
{
	check("wg.key", 60, "wg.key");
	check("", 60, "");
	check(NULL, 60, "(null)");
	check("grüße 日本", 60, "grüße 日本");
}

UNIT_TEST(control_characters_quotes_and_backslashes_are_escaped)
{
	check("a\nerror: forged", 60, "a\\nerror: forged");
	check("\t\r\x1b[31m\x7f", 60, "\\t\\r\\x1b[31m\\x7f");
	check("say \"hi\" \\o/", 60, "say \\\"hi\\\" \\\\o/");
	check("\xc2\x85next", 60, "\\u0085next"); /* C1 NEL */
}

UNIT_TEST(bytes_that_are_not_utf8_are_escaped)
{
	check("\xff\xfe", 60, "\\xff\\xfe");
	check("\xc3", 60, "\\xc3");			       /* truncated sequence */
	check("\xc0\xaf", 60, "\\xc0\\xaf");		       /* overlong '/' */
	check("\xed\xa0\x80", 60, "\\xed\\xa0\\x80");	       /* a surrogate */
	check("\xf4\x90\x80\x80", 60, "\\xf4\\x90\\x80\\x80"); /* above U+10FFFF */
}

UNIT_TEST(text_is_cut_on_a_character_boundary)
{
	check("abcdef", 3, "abc...");
	check("ab\xc3\xa9", 3, "ab...");      /* é would end past byte 3 */
	check("ab\xc3\xa9", 4, "ab\xc3\xa9"); /* it fits exactly */
	check("\xe6\x97\xa5\xe6\x9c\xac", 4, "\xe6\x97\xa5...");
}

UNIT_TEST(the_result_is_always_valid_utf8_for_jansson)
{
	char in[256], buf[QUOTE_SIZE(40)];
	json_t *j;

	for (int i = 0; i < 255; i++)
		in[i] = (char)(i + 1);
	in[255] = '\0';
	for (size_t max = 0; max < 60; max += 7) {
		quote(in + max, 40, buf, sizeof(buf));
		j = json_string(buf);
		CHECK(j != NULL);
		json_decref(j);
		CHECK(strchr(buf, '\n') == NULL);
	}
}

/* A message longer than its buffer (vsnprintf) loses an incomplete last character, nothing else:
 * the fuzzer's regress-error-cut-in-a-character of fuzz_etcd. */
UNIT_TEST(a_message_cut_by_its_buffer_ends_on_a_character)
{
	char err[32], s[8];
	json_t *j;

	/* What vsnprintf() leaves of "bad answer: " and U+732B in 15 bytes. */
	memcpy(err, "bad answer: \xe7\x8c", 15);
	j = json_string(err);
	CHECK(j == NULL); /* jansson refused it: the engine read "out of memory" */
	json_decref(j);
	utf8_cut_end(err);
	CHECK(!strcmp(err, "bad answer: "));
	j = json_string(err);
	CHECK(j != NULL);
	json_decref(j);
	strcpy(s, "ab\xc3\xa9");
	utf8_cut_end(s);
	CHECK(!strcmp(s, "ab\xc3\xa9")); /* complete: kept */
	strcpy(s, "ab\xf0\x9f\x98");
	utf8_cut_end(s);
	CHECK(!strcmp(s, "ab"));
	strcpy(s, "\xc3");
	utf8_cut_end(s);
	CHECK(!strcmp(s, ""));
	strcpy(s, "abc");
	utf8_cut_end(s);
	CHECK(!strcmp(s, "abc"));
}

UNIT_TEST(the_macro_gives_a_buffer_per_argument)
{
	char out[128];

	snprintf(out, sizeof(out), "%s|%s", QUOTE("a\nb", 10), QUOTE("c", 10));
	CHECK(!strcmp(out, "a\\nb|c"));
}

UNIT_MAIN("quote", UNIT_CASE(plain_text_is_kept),
	  UNIT_CASE(control_characters_quotes_and_backslashes_are_escaped),
	  UNIT_CASE(a_message_cut_by_its_buffer_ends_on_a_character),
	  UNIT_CASE(bytes_that_are_not_utf8_are_escaped),
	  UNIT_CASE(text_is_cut_on_a_character_boundary),
	  UNIT_CASE(the_result_is_always_valid_utf8_for_jansson),
	  UNIT_CASE(the_macro_gives_a_buffer_per_argument))

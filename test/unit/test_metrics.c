// SPDX-License-Identifier: MIT
/* The text /metrics is written with: a buffer that grows while formatting (admin_text, a hundred
 * thousand lines at 200 endpoints) and label values escaped as the exposition format wants. */
#include "unit.h"

#include "driver/metrics.c"

static struct admin_text t;

static void teardown(void)
{
	admin_text_free(&t);
}

UNIT_TEST(text_grows_across_its_capacity_and_keeps_every_byte)
{
	char want[200000], piece[3000];
	size_t n = 0;
	int k;

	for (int i = 0; i < 3000; i++) {
		/* Pieces short and long, formatted and appended, so that some fit in the room
		 * left and some do not, at every capacity on the way. */
		if (i % 7 == 0) {
			k = snprintf(piece, sizeof(piece), "%0*d|", i % 500 + 1, i);
			CHECK_EQ_INT(admin_text_append(&t, piece, (size_t)k), 0);
		} else {
			k = snprintf(piece, sizeof(piece), "%d:%s;", i, i % 3 ? "ab" : "");
			CHECK_EQ_INT(admin_text_printf(&t, "%d:%s;", i, i % 3 ? "ab" : ""), 0);
		}
		if (n + (size_t)k < sizeof(want)) {
			memcpy(want + n, piece, (size_t)k);
			n += (size_t)k;
		}
	}
	CHECK(n < sizeof(want));
	CHECK_EQ_INT(t.len, n);
	CHECK(t.len < t.cap);
	CHECK(t.data && t.data[t.len] == '\0');
	CHECK(t.data && !memcmp(t.data, want, n));
	teardown();
}

static void check_label(const char *value, const char *want)
{
	CHECK_EQ_INT(label(&t, false, "container", value), 0);
	if (!t.data || strcmp(t.data, want)) {
		fprintf(stderr, "  label(%s) gave %s, expected %s\n", value ? value : "NULL",
			t.data ? t.data : "(nothing)", want);
		unit_failed_checks++;
	}
	teardown();
}

UNIT_TEST(label_values_escape_backslash_quote_and_newline_only)
{
	check_label("web-1", ",container=\"web-1\"");
	check_label(NULL, ",container=\"\"");
	check_label("", ",container=\"\"");
	check_label("a\\b\"c\nd", ",container=\"a\\\\b\\\"c\\nd\"");
	check_label("\n\n", ",container=\"\\n\\n\"");
	check_label("grüße\t", ",container=\"grüße\t\"");
	CHECK_EQ_INT(label(&t, true, "network", "prod"), 0);
	CHECK(t.data && !strcmp(t.data, "network=\"prod\""));
	teardown();
}

UNIT_MAIN("metrics", UNIT_CASE(text_grows_across_its_capacity_and_keeps_every_byte),
	  UNIT_CASE(label_values_escape_backslash_quote_and_newline_only))

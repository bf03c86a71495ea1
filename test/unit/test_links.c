// SPDX-License-Identifier: MIT
/* wg.links parsing and formatting, and who peers under each policy. */
#include "../../driver/links.c"

#include "errmsg.h"
#include "unit.h"

static char err[ERRMSG_LEN];

/* Parses TEXT for an endpoint whose key is SELF; returns the error (0) and keeps SET. */
static int parse(const char *text, const char *self, struct link_set *set)
{
	err[0] = '\0';
	return links_parse(text, self, "Options.wg.links", set, err);
}

static void check_refused(const char *text, const char *needle)
{
	struct link_set set;

	CHECK_EQ_INT(parse(text, "me", &set), -EINVAL);
	CHECK_STR_CONTAINS(err, "Options.wg.links: ");
	CHECK_STR_CONTAINS(err, needle);
	links_free(&set);
}

UNIT_TEST(parse_valid)
{
	struct link_set set;
	char *text;

	CHECK_EQ_INT(parse("db", "web", &set), 0);
	CHECK_EQ_INT(set.n, 1);
	CHECK(!strcmp(set.v[0].peer, "db") && !set.v[0].psk[0]);
	links_free(&set);

	CHECK_EQ_INT(parse(" db:p1 ,\tcache , x.y_z-9:k ", "web", &set), 0);
	CHECK_EQ_INT(set.n, 3);
	CHECK(!strcmp(set.v[0].peer, "db") && !strcmp(set.v[0].psk, "p1"));
	CHECK(!strcmp(set.v[1].peer, "cache") && !set.v[1].psk[0]);
	CHECK(!strcmp(set.v[2].peer, "x.y_z-9") && !strcmp(set.v[2].psk, "k"));
	text = links_format(&set);
	CHECK(text && !strcmp(text, "db:p1,cache,x.y_z-9:k"));
	free(text);
	links_free(&set);

	CHECK_EQ_INT(parse("", "web", &set), 0);
	CHECK_EQ_INT(set.n, 0);
	CHECK_EQ_INT(parse("  ", "web", &set), 0);
	CHECK_EQ_INT(set.n, 0);
	text = links_format(&set);
	CHECK(text && !strcmp(text, ""));
	free(text);
}

UNIT_TEST(parse_refused)
{
	char many[LINKS_MAX * 8 + 16] = "", long_ref[80];
	struct link_set set;

	check_refused("db,,web", "an empty entry");
	check_refused("db,", "an empty entry");
	check_refused(",", "an empty entry");
	check_refused("db:", "entry \"db:\": the preshared key after ':' is not a key reference");
	check_refused(":p", "entry \":p\": \"\" is not a key reference");
	check_refused("db:p1:p2", "entry \"db:p1:p2\" has more than one ':'");
	check_refused("Db", "entry \"Db\": \"Db\" is not a key reference");
	check_refused("db web", "entry \"db web\"");
	check_refused("../etc", "\"../etc\" is not a key reference");
	check_refused("db:../p", "the preshared key after ':' is not a key reference");
	check_refused("db,db:p", "\"db\" is listed twice");
	check_refused("db,me", "\"me\" is this endpoint's own key");
	check_refused("d\x01", "entry \"d\\x01\"");
	memset(long_ref, 'a', 65);
	long_ref[65] = '\0';
	check_refused(long_ref, "is not a key reference");
	for (int i = 0; i <= LINKS_MAX; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "%sr%d", i ? "," : "",
			 i);
	CHECK_EQ_INT(parse(many, "me", &set), -E2BIG);
	CHECK_STR_CONTAINS(err, "more than 256 links");
	links_free(&set);
}

UNIT_TEST(check_ref_quotes_safely)
{
	CHECK_EQ_INT(links_check_ref("web", "Options.wg.key", err), 0);
	CHECK_EQ_INT(links_check_ref("W\n\x1b[2J", "Options.wg.key", err), -EINVAL);
	CHECK_STR_CONTAINS(err, "Options.wg.key: \"W\\n\\x1b[2J\" is not a key reference");
	CHECK(!strchr(err, '\n') && !strchr(err, '\x1b'));
}

UNIT_TEST(add_find_and_dedupe)
{
	struct link_set set = { 0 };

	CHECK_EQ_INT(links_add(&set, "db", NULL), 0);
	CHECK_EQ_INT(links_add(&set, "db", "p"), 0);
	CHECK_EQ_INT(set.n, 1);
	CHECK(!links_find(&set, "db")->psk[0]);
	CHECK(links_find(&set, "web") == NULL);
	links_free(&set);
	CHECK(set.v == NULL && set.n == 0);
}

UNIT_TEST(policy)
{
	struct link_set web = { 0 }, db = { 0 }, cache = { 0 };

	CHECK_EQ_INT(parse("db", "web", &web), 0);
	/* Mesh: everyone. Links: either end's declaration is enough, both ways. */
	CHECK(links_allow(NETWORK_POLICY_MESH, "web", &web, "cache", &cache));
	CHECK(links_allow(NETWORK_POLICY_LINKS, "web", &web, "db", &db));
	CHECK(links_allow(NETWORK_POLICY_LINKS, "db", &db, "web", &web));
	CHECK(!links_allow(NETWORK_POLICY_LINKS, "web", &web, "cache", &cache));
	CHECK(!links_allow(NETWORK_POLICY_LINKS, "db", &db, "cache", &cache));
	links_free(&web);
}

UNIT_TEST(psk_choice)
{
	struct link_set web = { 0 }, db = { 0 }, none = { 0 };

	CHECK_EQ_INT(parse("db", "web", &web), 0);
	CHECK(links_psk("web", &web, "db", &none) == NULL);
	CHECK_EQ_INT(parse("web:p1", "db", &db), 0);
	/* Whichever end names it, both ends use it. */
	CHECK(!strcmp(links_psk("web", &web, "db", &db), "p1"));
	CHECK(!strcmp(links_psk("db", &db, "web", &web), "p1"));
	links_free(&web);
	links_free(&db);
}

UNIT_MAIN("links", UNIT_CASE(parse_valid), UNIT_CASE(parse_refused),
	  UNIT_CASE(check_ref_quotes_safely), UNIT_CASE(add_find_and_dedupe), UNIT_CASE(policy),
	  UNIT_CASE(psk_choice))

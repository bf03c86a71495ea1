// SPDX-License-Identifier: MIT
/* Network files that cannot be read, and temp files left by interrupted writes. */
#include "unit.h"

#include "driver/state.c"

#include <ftw.h>

#define NID_GOOD "1111111111111111111111111111111111111111111111111111111111111111"
#define NID_BAD	 "2222222222222222222222222222222222222222222222222222222222222222"
#define NID_NONE "3333333333333333333333333333333333333333333333333333333333333333"

static char dir[64];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void write_file(const char *name, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/networks/%s", dir, name);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static bool exists(const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/networks/%s", dir, name);
	return access(path, F_OK) == 0;
}

UNIT_TEST(an_unreadable_file_is_named_and_the_others_load)
{
	struct network_options opts = { .mtu = 1420, .psk = true };
	char err[ERRMSG_LEN], keys[128];

	strcpy(dir, "/tmp/unit-state-XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	snprintf(keys, sizeof(keys), "%s/keys", dir);
	CHECK_EQ_INT(state_init(dir, err), 0);
	CHECK_EQ_INT(keystore_init(keys), 0);
	CHECK_EQ_INT(network_create(NID_GOOD, &opts, false, err), 0);
	network_finalise();
	write_file(NID_BAD ".json", "{\"version\":1,\"id\":\"" NID_BAD "\",\"mtu\":14");
	write_file("." NID_GOOD ".json.Ab12Cd", "{\"half\":");

	CHECK_EQ_INT(state_load(), 1);
	CHECK(network_find(NID_GOOD) != NULL && network_find(NID_BAD) == NULL);
	CHECK(!exists("." NID_GOOD ".json.Ab12Cd"));
	CHECK(exists(NID_BAD ".json"));
	CHECK_EQ_INT(state_network_error(NID_BAD, err), -EIO);
	CHECK_STR_CONTAINS(err, "NetworkID 222222222222: state file ");
	CHECK_STR_CONTAINS(err, "/networks/" NID_BAD ".json: not valid JSON");
	CHECK_EQ_INT(state_network_error(NID_NONE, err), -ENOENT);
	CHECK_STR_CONTAINS(err, "no such network");

	network_finalise();
	state_finalise();
	CHECK_EQ_INT(state_network_error(NID_BAD, err), -ENOENT);
	keystore_finalise();
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

UNIT_MAIN("state", UNIT_CASE(an_unreadable_file_is_named_and_the_others_load))

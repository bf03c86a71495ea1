// SPDX-License-Identifier: MIT
#include "keystore/keystore.c"

#include "unit.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

/* Computed with `wg genkey | tee priv | wg pubkey`. */
#define WG_PRIVATE "cLMkp+z2dGVJB4YiHSJAUC+DmhKcPwhPJGdO484FTF8="
#define WG_PUBLIC  "gE+QCd+ZTlRsaW+HGdmzoKJHEZjLoM3tFghZob1Tjw4="
/* Bytes 0..31, not clamped: `wg pubkey` clamps before multiplying, as libsodium does. */
#define WG_UNCLAMPED_PRIVATE "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define WG_UNCLAMPED_PUBLIC  "j0DFrbaPJWJK5bIU6nZ6bslNgp09e14a0bpvPiE4KF8="

static char tmp_dir[64];
static char key_root[128];
static struct keystore *ks;

/* Opens the keystore at DIR as the one the tests use, closing the previous one. */
static int ks_open(const char *dir)
{
	keystore_close(ks);
	ks = NULL;
	return keystore_open(dir, &ks);
}

static void ks_close(void)
{
	keystore_close(ks);
	ks = NULL;
}

static void setup(void)
{
	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/unit-keystore-XXXXXX");
	if (!mkdtemp(tmp_dir)) {
		perror("mkdtemp");
		exit(2);
	}
	snprintf(key_root, sizeof(key_root), "%s/keys", tmp_dir);
}

static void setup_keystore(void)
{
	setup();
	if (ks_open(key_root)) {
		fprintf(stderr, "keystore_init %s: %s\n", key_root, keystore_error());
		exit(2);
	}
}

static void teardown(void)
{
	char cmd[128];

	ks_close();
	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", tmp_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "  cannot remove %s\n", tmp_dir);
}

static const char *key_path(const char *rel)
{
	static char p[256];

	snprintf(p, sizeof(p), "%s/%s", key_root, rel);
	return p;
}

static mode_t mode_of(const char *p)
{
	struct stat st;

	return stat(p, &st) ? (mode_t)-1 : st.st_mode & 07777;
}

static bool exists(const char *rel)
{
	return access(key_path(rel), F_OK) == 0;
}

static void write_text(const char *rel, const char *text, mode_t mode)
{
	int fd = open(key_path(rel), O_WRONLY | O_CREAT | O_TRUNC, mode);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) ||
	    fchmod(fd, mode) < 0) {
		perror(rel);
		exit(2);
	}
	close(fd);
}

static void decode(uint8_t out[KEYSTORE_KEY_LEN], const char *b64)
{
	if (sodium_base642bin(out, KEYSTORE_KEY_LEN, b64, strlen(b64), "\n", NULL, NULL,
			      sodium_base64_VARIANT_ORIGINAL)) {
		fprintf(stderr, "bad test vector %s\n", b64);
		exit(2);
	}
}

static bool is_zero(const uint8_t key[KEYSTORE_KEY_LEN])
{
	return sodium_is_zero(key, KEYSTORE_KEY_LEN);
}

UNIT_TEST(init_creates_private_directories)
{
	mode_t old_umask = umask(022);

	setup();
	CHECK_EQ_INT(ks_open(key_root), 0);
	CHECK_EQ_INT(mode_of(key_root), 0700);
	CHECK_EQ_INT(mode_of(key_path("identity")), 0700);
	CHECK_EQ_INT(mode_of(key_path("link")), 0700);
	CHECK_EQ_INT(mode_of(key_path("psk")), 0700);
	CHECK_EQ_INT(ks_open(key_root), 0);
	CHECK(!strcmp(keystore_error(), ""));
	umask(old_umask);
	teardown();
}

/* A crash in the middle of a key write leaves a temp file holding the key: the next start
 * removes it, and only it. */
UNIT_TEST(init_removes_temps_of_interrupted_writes)
{
	uint8_t key[KEYSTORE_KEY_LEN];
	char temp[PATH_MAX];
	FILE *f;

	setup();
	CHECK_EQ_INT(ks_open(key_root), 0);
	CHECK_EQ_INT(keystore_identity_get(ks, "db", true, key, NULL), 0);
	snprintf(temp, sizeof(temp), "%s/.web.key.Ab12Cd", key_path("identity"));
	f = fopen(temp, "w");
	CHECK(f != NULL);
	if (f)
		fclose(f);
	CHECK_EQ_INT(ks_open(key_root), 0);
	CHECK(access(temp, F_OK) != 0);
	CHECK_EQ_INT(keystore_identity_get(ks, "db", false, key, NULL), 0);
	sodium_memzero(key, sizeof(key));
	teardown();
}

UNIT_TEST(init_refuses_shared_directory)
{
	setup();
	CHECK_EQ_INT(mkdir(key_root, 0700), 0);
	CHECK_EQ_INT(chmod(key_root, 0755), 0);
	CHECK_EQ_INT(ks_open(key_root), -EPERM);
	CHECK_STR_CONTAINS(keystore_error(), key_root);
	CHECK_STR_CONTAINS(keystore_error(), "mode 0755, expected 0700");
	CHECK(ks == NULL);

	CHECK_EQ_INT(chmod(key_root, 0700), 0);
	CHECK_EQ_INT(ks_open(key_root), 0);
	CHECK_EQ_INT(chmod(key_path("link"), 0710), 0);
	CHECK_EQ_INT(ks_open(key_root), -EPERM);
	CHECK_STR_CONTAINS(keystore_error(), "/link: mode 0710");

	CHECK_EQ_INT(chmod(key_path("link"), 0700), 0);
	if (geteuid() == 0) {
		CHECK_EQ_INT(chown(key_root, 65534, 65534), 0);
		CHECK_EQ_INT(ks_open(key_root), -EPERM);
		CHECK_STR_CONTAINS(keystore_error(), "owned by uid 65534, expected 0");
	}
	teardown();
}

UNIT_TEST(init_refuses_missing_parent_and_files)
{
	setup();
	snprintf(key_root, sizeof(key_root), "%s/no/keys", tmp_dir);
	CHECK_EQ_INT(ks_open(key_root), -ENOENT);
	CHECK_STR_CONTAINS(keystore_error(), key_root);
	snprintf(key_root, sizeof(key_root), "%s/file", tmp_dir);
	close(open(key_root, O_WRONLY | O_CREAT, 0600));
	CHECK_EQ_INT(ks_open(key_root), -ENOTDIR);
	CHECK_STR_CONTAINS(keystore_error(), "not a directory");
	teardown();
}

UNIT_TEST(identity_get_or_create)
{
	uint8_t first[KEYSTORE_KEY_LEN], again[KEYSTORE_KEY_LEN], other[KEYSTORE_KEY_LEN];
	bool created = false;
	char *text = NULL;
	size_t len = 0;

	setup_keystore();
	CHECK_EQ_INT(keystore_identity_get(ks, "web", false, first, &created), -ENOENT);
	CHECK(!created);
	CHECK_EQ_INT(keystore_identity_get(ks, "web", true, first, &created), 0);
	CHECK(created);
	CHECK((first[0] & 7) == 0 && (first[31] & 0xc0) == 0x40);
	CHECK_EQ_INT(keystore_identity_get(ks, "web", true, again, &created), 0);
	CHECK(!created);
	CHECK(!memcmp(first, again, KEYSTORE_KEY_LEN));
	CHECK_EQ_INT(keystore_identity_get(ks, "web", false, again, NULL), 0);
	CHECK(!memcmp(first, again, KEYSTORE_KEY_LEN));
	CHECK_EQ_INT(keystore_identity_get(ks, "db", true, other, NULL), 0);
	CHECK(memcmp(first, other, KEYSTORE_KEY_LEN));

	CHECK_EQ_INT(mode_of(key_path("identity/web.key")), 0600);
	CHECK_EQ_INT(atomic_file_read(key_path("identity/web.key"), 100, &text, &len), 0);
	CHECK_EQ_INT(len, 45);
	CHECK(text && text[44] == '\n');
	if (text) {
		decode(again, text);
		CHECK(!memcmp(first, again, KEYSTORE_KEY_LEN));
		free(text);
	}
	teardown();
}

UNIT_TEST(identity_put_replaces_and_delete)
{
	uint8_t key[KEYSTORE_KEY_LEN], got[KEYSTORE_KEY_LEN];
	struct dirent **names = NULL;
	int n;

	setup_keystore();
	decode(key, WG_PRIVATE);
	CHECK_EQ_INT(keystore_identity_get(ks, "web", true, got, NULL), 0);
	CHECK_EQ_INT(keystore_identity_put(ks, "web", key), 0);
	CHECK_EQ_INT(keystore_identity_get(ks, "web", false, got, NULL), 0);
	CHECK(!memcmp(key, got, KEYSTORE_KEY_LEN));
	n = scandir(key_path("identity"), &names, NULL, alphasort);
	CHECK_EQ_INT(n, 3); /* ".", "..", "web.key": no temp files left */
	while (n-- > 0)
		free(names[n]);
	free(names);

	CHECK_EQ_INT(keystore_identity_delete(ks, "web"), 0);
	CHECK(!exists("identity/web.key"));
	CHECK_EQ_INT(keystore_identity_get(ks, "web", false, got, NULL), -ENOENT);
	CHECK_EQ_INT(keystore_identity_delete(ks, "web"), 0);
	teardown();
}

UNIT_TEST(key_file_written_by_wg_is_read)
{
	uint8_t key[KEYSTORE_KEY_LEN], want[KEYSTORE_KEY_LEN];

	setup_keystore();
	write_text("identity/web.key", WG_PRIVATE "\n", 0600);
	CHECK_EQ_INT(keystore_identity_get(ks, "web", false, key, NULL), 0);
	decode(want, WG_PRIVATE);
	CHECK(!memcmp(key, want, KEYSTORE_KEY_LEN));
	write_text("identity/web.key", WG_PRIVATE, 0400);
	CHECK_EQ_INT(keystore_identity_get(ks, "web", false, key, NULL), 0);
	CHECK(!memcmp(key, want, KEYSTORE_KEY_LEN));
	teardown();
}

UNIT_TEST(corrupt_key_files_are_refused)
{
	static const char *const bad[] = {
		"",
		"\n",
		"not a key at all\n",
		"cLMkp+z2dGVJB4YiHSJAUC+D\n",			  /* truncated */
		"cLMkp+z2dGVJB4YiHSJAUC+DmhKcPwhPJGdO484FTF8\n",  /* padding missing */
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n", /* 31 bytes */
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n", /* 33 bytes */
		"cLMkp+z2dGVJB4YiHSJAUC+DmhKcPwhPJGdO484FTF8=\nx\n",
		"cLMkp-z2dGVJB4YiHSJAUC_DmhKcPwhPJGdO484FTF8=\n", /* URL-safe alphabet */
		/* libsodium reads bytes from 0x80 up as '/': the fuzzer's find */
		"cLMkp+z2dGVJB4YiHSJAUC+DmhKcPwhPJGdO484FTF\x80=\n",
	};
	uint8_t key[KEYSTORE_KEY_LEN];
	char big[400];
	bool created = true;

	setup_keystore();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_text("identity/web.key", bad[i], 0600);
		memset(key, 0xaa, sizeof(key));
		CHECK_EQ_INT(keystore_identity_get(ks, "web", true, key, &created), -EBADMSG);
		CHECK(!created);
		CHECK(is_zero(key));
		CHECK_STR_CONTAINS(keystore_error(), key_path("identity/web.key"));
		CHECK_STR_CONTAINS(keystore_error(), "not a base64 32-byte key");
	}
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	write_text("identity/web.key", big, 0600);
	CHECK_EQ_INT(keystore_identity_get(ks, "web", false, key, NULL), -EBADMSG);
	CHECK_STR_CONTAINS(keystore_error(), "not a base64 32-byte key");

	CHECK_EQ_INT(unlink(key_path("identity/web.key")), 0);
	CHECK_EQ_INT(mkdir(key_path("identity/web.key"), 0700), 0);
	CHECK_EQ_INT(keystore_identity_get(ks, "web", true, key, NULL), -EBADMSG);
	CHECK_STR_CONTAINS(keystore_error(), "not a regular file");
	teardown();
}

UNIT_TEST(wrong_mode_is_refused)
{
	uint8_t key[KEYSTORE_KEY_LEN];

	setup_keystore();
	CHECK_EQ_INT(keystore_identity_get(ks, "web", true, key, NULL), 0);
	CHECK_EQ_INT(chmod(key_path("identity/web.key"), 0644), 0);
	CHECK_EQ_INT(keystore_identity_get(ks, "web", true, key, NULL), -EPERM);
	CHECK(is_zero(key));
	CHECK_STR_CONTAINS(keystore_error(), key_path("identity/web.key"));
	CHECK_STR_CONTAINS(keystore_error(), "mode 0644, expected 0600");
	CHECK_EQ_INT(chmod(key_path("identity/web.key"), 0600), 0);
	CHECK_EQ_INT(keystore_identity_get(ks, "web", false, key, NULL), 0);
	CHECK(!strcmp(keystore_error(), ""));
	teardown();
}

UNIT_TEST(failed_write_keeps_old_key)
{
	uint8_t key[KEYSTORE_KEY_LEN], got[KEYSTORE_KEY_LEN];
	char moved[PATH_MAX];

	setup_keystore();
	CHECK_EQ_INT(keystore_identity_get(ks, "web", true, key, NULL), 0);
	decode(got, WG_PRIVATE);
	snprintf(moved, sizeof(moved), "%s/identity.away", tmp_dir);
	CHECK_EQ_INT(rename(key_path("identity"), moved), 0);
	CHECK_EQ_INT(keystore_identity_put(ks, "web", got), -ENOENT);
	CHECK_STR_CONTAINS(keystore_error(), "identity/web.key: cannot write");
	CHECK_EQ_INT(keystore_identity_get(ks, "db", true, got, NULL), -ENOENT);
	CHECK(is_zero(got));
	CHECK_EQ_INT(rename(moved, key_path("identity")), 0);
	CHECK_EQ_INT(keystore_identity_get(ks, "web", false, got, NULL), 0);
	CHECK(!memcmp(key, got, KEYSTORE_KEY_LEN));
	CHECK(!exists("identity/db.key"));
	teardown();
}

UNIT_TEST(references)
{
	static const char *const good[] = { "a", "0", "web", "web-1.db_2", "9lives", "a..b" };
	static const char *const bad[] = { "",	 "../x", "A",	"Web", "a/b", ".x",
					   "-x", "_x",	 "a b", "x\n", "a+b", "é" };
	char long_ref[KEYSTORE_REF_MAX + 2];
	uint8_t key[KEYSTORE_KEY_LEN];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CHECK(keystore_ref_valid(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(!keystore_ref_valid(bad[i]));
	CHECK(!keystore_ref_valid(NULL));
	memset(long_ref, 'a', sizeof(long_ref));
	long_ref[KEYSTORE_REF_MAX] = '\0';
	CHECK(keystore_ref_valid(long_ref));
	long_ref[KEYSTORE_REF_MAX] = 'a';
	long_ref[KEYSTORE_REF_MAX + 1] = '\0';
	CHECK(!keystore_ref_valid(long_ref));

	setup_keystore();
	CHECK_EQ_INT(keystore_identity_get(ks, "../x", true, key, NULL), -EINVAL);
	CHECK_STR_CONTAINS(keystore_error(), "key reference \"../x\"");
	CHECK_STR_CONTAINS(keystore_error(), "a-z 0-9 . _ -");
	CHECK_EQ_INT(keystore_identity_put(ks, "Web", key), -EINVAL);
	CHECK_STR_CONTAINS(keystore_error(), "\"Web\"");
	CHECK_EQ_INT(keystore_psk_get(ks, "web", "a/b", true, key, NULL), -EINVAL);
	CHECK_STR_CONTAINS(keystore_error(), "\"a/b\"");
	CHECK_EQ_INT(keystore_identity_get(ks, "x\n", true, key, NULL), -EINVAL);
	CHECK_STR_CONTAINS(keystore_error(), "\"x?\"");
	CHECK_EQ_INT(keystore_psk_delete_all(ks, long_ref), -EINVAL);
	CHECK_STR_CONTAINS(keystore_error(), "...\"");
	CHECK(!exists("x.key"));
	CHECK(!exists("identity/Web.key"));
	teardown();
}

UNIT_TEST(psk_is_shared_by_both_ends)
{
	uint8_t ab[KEYSTORE_KEY_LEN], ba[KEYSTORE_KEY_LEN], ac[KEYSTORE_KEY_LEN];
	bool created = false;

	setup_keystore();
	CHECK_EQ_INT(keystore_psk_get(ks, "web", "db", false, ab, &created), -ENOENT);
	CHECK_EQ_INT(keystore_psk_get(ks, "web", "db", true, ab, &created), 0);
	CHECK(created);
	CHECK(exists("link/db+web.psk"));
	CHECK_EQ_INT(mode_of(key_path("link/db+web.psk")), 0600);
	CHECK_EQ_INT(keystore_psk_get(ks, "db", "web", true, ba, &created), 0);
	CHECK(!created);
	CHECK(!memcmp(ab, ba, KEYSTORE_KEY_LEN));
	CHECK_EQ_INT(keystore_psk_get(ks, "web", "api", true, ac, &created), 0);
	CHECK(created);
	CHECK(memcmp(ab, ac, KEYSTORE_KEY_LEN));

	CHECK_EQ_INT(keystore_psk_get(ks, "web", "web", true, ab, &created), -EINVAL);
	CHECK_STR_CONTAINS(keystore_error(), "web+web");
	CHECK(!exists("link/web+web.psk"));

	CHECK_EQ_INT(keystore_psk_delete(ks, "db", "web"), 0);
	CHECK(!exists("link/db+web.psk"));
	CHECK_EQ_INT(keystore_psk_delete(ks, "web", "db"), 0);
	CHECK(exists("link/api+web.psk"));
	teardown();
}

/* A link's derived preshared key: the same from either end and after a reopen, another for
 * another pair, and no file per pair; only link.key (0600) is written. */
UNIT_TEST(psk_derived_from_the_link_secret)
{
	uint8_t a[KEYSTORE_KEY_LEN], b[KEYSTORE_KEY_LEN], c[KEYSTORE_KEY_LEN];
	uint8_t ab[KEYSTORE_KEY_LEN], ba[KEYSTORE_KEY_LEN], ac[KEYSTORE_KEY_LEN];

	setup_keystore();
	randombytes_buf(a, sizeof(a));
	randombytes_buf(b, sizeof(b));
	randombytes_buf(c, sizeof(c));
	CHECK(!exists("link.key"));
	CHECK_EQ_INT(keystore_psk_derive(ks, a, b, ab), 0);
	CHECK_EQ_INT(mode_of(key_path("link.key")), 0600);
	CHECK_EQ_INT(keystore_psk_derive(ks, b, a, ba), 0);
	CHECK(!memcmp(ab, ba, KEYSTORE_KEY_LEN) && !is_zero(ab));
	CHECK_EQ_INT(keystore_psk_derive(ks, a, c, ac), 0);
	CHECK(memcmp(ab, ac, KEYSTORE_KEY_LEN));
	CHECK(!exists("link/link.psk"));
	ks_close();
	CHECK_EQ_INT(ks_open(key_root), 0);
	CHECK_EQ_INT(keystore_psk_derive(ks, a, b, ba), 0);
	CHECK(!memcmp(ab, ba, KEYSTORE_KEY_LEN));
	/* Another host (another secret) derives another key for the same pair. */
	CHECK_EQ_INT(unlink(key_path("link.key")), 0);
	ks_close();
	CHECK_EQ_INT(ks_open(key_root), 0);
	CHECK_EQ_INT(keystore_psk_derive(ks, a, b, ba), 0);
	CHECK(memcmp(ab, ba, KEYSTORE_KEY_LEN));
	sodium_memzero(ab, sizeof(ab));
	sodium_memzero(ba, sizeof(ba));
	sodium_memzero(ac, sizeof(ac));
	teardown();
}

UNIT_TEST(psk_delete_all_removes_only_that_identity)
{
	static const char *const links[][2] = {
		{ "web", "db" }, { "api", "web" }, { "api", "db" },  { "web2", "db" },
		{ "eb", "api" }, { "b", "we" },	   { "0web", "db" },
	};
	uint8_t psk[KEYSTORE_KEY_LEN];

	setup_keystore();
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		CHECK_EQ_INT(keystore_psk_get(ks, links[i][0], links[i][1], true, psk, NULL), 0);
	CHECK_EQ_INT(keystore_identity_get(ks, "web", true, psk, NULL), 0);
	CHECK_EQ_INT(keystore_psk_delete_all(ks, "web"), 0);
	CHECK(!exists("link/db+web.psk"));
	CHECK(!exists("link/api+web.psk"));
	CHECK(exists("link/api+db.psk"));
	CHECK(exists("link/db+web2.psk"));
	CHECK(exists("link/api+eb.psk"));
	CHECK(exists("link/b+we.psk"));
	CHECK(exists("link/0web+db.psk"));
	CHECK(exists("identity/web.key"));
	CHECK_EQ_INT(keystore_psk_delete_all(ks, "web"), 0);
	CHECK_EQ_INT(keystore_psk_delete_all(ks, "nobody"), 0);
	teardown();
}

UNIT_TEST(public_key_matches_wg)
{
	uint8_t priv[KEYSTORE_KEY_LEN], pub[KEYSTORE_KEY_LEN], want[KEYSTORE_KEY_LEN];

	decode(priv, WG_PRIVATE);
	decode(want, WG_PUBLIC);
	keystore_public_key(pub, priv);
	CHECK(!memcmp(pub, want, KEYSTORE_KEY_LEN));
	decode(priv, WG_UNCLAMPED_PRIVATE);
	decode(want, WG_UNCLAMPED_PUBLIC);
	keystore_public_key(pub, priv);
	CHECK(!memcmp(pub, want, KEYSTORE_KEY_LEN));
}

struct seen {
	char refs[8][KEYSTORE_REF_MAX + 1];
	uint8_t pubs[8][KEYSTORE_KEY_LEN];
	int n, stop_after;
};

static int record_identity(const char *ref, const uint8_t pub[KEYSTORE_KEY_LEN], void *ctx)
{
	struct seen *seen = ctx;

	if (seen->n >= 8)
		return -E2BIG;
	snprintf(seen->refs[seen->n], sizeof(seen->refs[0]), "%s", ref);
	memcpy(seen->pubs[seen->n], pub, KEYSTORE_KEY_LEN);
	seen->n++;
	return seen->n == seen->stop_after ? 42 : 0;
}

UNIT_TEST(identity_foreach_in_name_order)
{
	struct seen seen = { .n = 0 };
	uint8_t key[KEYSTORE_KEY_LEN], want[KEYSTORE_KEY_LEN];

	setup_keystore();
	CHECK_EQ_INT(keystore_identity_foreach(ks, record_identity, &seen), 0);
	CHECK_EQ_INT(seen.n, 0);
	decode(key, WG_PRIVATE);
	CHECK_EQ_INT(keystore_identity_put(ks, "web", key), 0);
	CHECK_EQ_INT(keystore_identity_get(ks, "db", true, key, NULL), 0);
	CHECK_EQ_INT(keystore_identity_get(ks, "api-2", true, key, NULL), 0);
	CHECK_EQ_INT(keystore_psk_get(ks, "web", "db", true, key, NULL), 0);
	write_text("identity/.web.key.a1b2c3", "leftover", 0600);
	write_text("identity/README", "not a key", 0600);
	write_text("identity/Upper.key", "not a ref", 0600);

	CHECK_EQ_INT(keystore_identity_foreach(ks, record_identity, &seen), 0);
	CHECK_EQ_INT(seen.n, 3);
	CHECK(!strcmp(seen.refs[0], "api-2"));
	CHECK(!strcmp(seen.refs[1], "db"));
	CHECK(!strcmp(seen.refs[2], "web"));
	decode(want, WG_PUBLIC);
	CHECK(!memcmp(seen.pubs[2], want, KEYSTORE_KEY_LEN));
	CHECK_EQ_INT(keystore_identity_get(ks, "db", false, key, NULL), 0);
	keystore_public_key(want, key);
	CHECK(!memcmp(seen.pubs[1], want, KEYSTORE_KEY_LEN));

	seen = (struct seen){ .stop_after = 2 };
	CHECK_EQ_INT(keystore_identity_foreach(ks, record_identity, &seen), 42);
	CHECK_EQ_INT(seen.n, 2);

	seen = (struct seen){ .n = 0 };
	write_text("identity/db.key", "garbage\n", 0600);
	CHECK_EQ_INT(keystore_identity_foreach(ks, record_identity, &seen), -EBADMSG);
	CHECK_STR_CONTAINS(keystore_error(), "identity/db.key: not a base64 32-byte key");
	CHECK_EQ_INT(seen.n, 1);
	teardown();
}

static int record_psk_ref(const char *ref, void *ctx)
{
	struct seen *seen = ctx;

	snprintf(seen->refs[seen->n++], sizeof(seen->refs[0]), "%s", ref);
	return 0;
}

UNIT_TEST(named_psks)
{
	uint8_t key[KEYSTORE_KEY_LEN], again[KEYSTORE_KEY_LEN], link[KEYSTORE_KEY_LEN];
	struct seen seen = { .n = 0 };
	bool created = false;

	setup_keystore();
	CHECK_EQ_INT(keystore_psk_ref_get(ks, "shared", false, key, NULL), -ENOENT);
	CHECK_EQ_INT(keystore_psk_ref_get(ks, "shared", true, key, &created), 0);
	CHECK(created);
	CHECK_EQ_INT(mode_of(key_path("psk/shared.psk")), 0600);
	CHECK_EQ_INT(keystore_psk_ref_get(ks, "shared", true, again, &created), 0);
	CHECK(!created && !memcmp(key, again, KEYSTORE_KEY_LEN));
	/* A named PSK and the generated key of a link are different files. */
	CHECK_EQ_INT(keystore_psk_get(ks, "a", "b", true, link, NULL), 0);
	CHECK(memcmp(key, link, KEYSTORE_KEY_LEN));
	decode(key, WG_PRIVATE);
	CHECK_EQ_INT(keystore_psk_ref_put(ks, "imported", key), 0);
	CHECK_EQ_INT(keystore_psk_ref_get(ks, "imported", false, again, NULL), 0);
	CHECK(!memcmp(key, again, KEYSTORE_KEY_LEN));
	write_text("psk/.x.psk.tmp", "leftover", 0600);
	write_text("psk/Bad.psk", "not a ref", 0600);
	CHECK_EQ_INT(keystore_psk_ref_foreach(ks, record_psk_ref, &seen), 0);
	CHECK_EQ_INT(seen.n, 2);
	CHECK(!strcmp(seen.refs[0], "imported") && !strcmp(seen.refs[1], "shared"));
	CHECK_EQ_INT(keystore_psk_ref_delete(ks, "shared"), 0);
	CHECK_EQ_INT(keystore_psk_ref_delete(ks, "shared"), 0);
	CHECK_EQ_INT(keystore_psk_ref_get(ks, "shared", false, key, NULL), -ENOENT);
	CHECK_EQ_INT(keystore_psk_ref_get(ks, "../link/a+b", false, key, NULL), -EINVAL);
	CHECK_STR_CONTAINS(keystore_error(), "key reference \"../link/a+b\"");
	teardown();
}

static void *fail_in_thread(void *arg)
{
	uint8_t key[KEYSTORE_KEY_LEN];
	bool *saw_empty_error = arg;

	*saw_empty_error = !strcmp(keystore_error(), "");
	keystore_identity_get(ks, "Bad", false, key, NULL);
	return NULL;
}

UNIT_TEST(error_is_per_thread)
{
	uint8_t key[KEYSTORE_KEY_LEN];
	bool saw_empty_error = false;
	pthread_t thread;

	setup_keystore();
	CHECK_EQ_INT(keystore_identity_get(ks, "../x", false, key, NULL), -EINVAL);
	CHECK_EQ_INT(pthread_create(&thread, NULL, fail_in_thread, &saw_empty_error), 0);
	pthread_join(thread, NULL);
	CHECK(saw_empty_error);
	CHECK_STR_CONTAINS(keystore_error(), "\"../x\"");
	teardown();
}

static atomic_bool swapping;

/* Swaps the key file with a world-readable one, over and over, as an attacker with a way into
 * the directory would. */
static void *swap_key_files(void *arg)
{
	char web[256], other[256];

	snprintf(web, sizeof(web), "%s", key_path("identity/web.key"));
	snprintf(other, sizeof(other), "%s", key_path("identity/other.key"));
	while (atomic_load(&swapping))
		renameat2(AT_FDCWD, web, AT_FDCWD, other, RENAME_EXCHANGE);
	return NULL;
}

/* What is checked is the file that is read: the descriptor, not the path (a path checked, then
 * opened, can be another file by then). */
UNIT_TEST(the_file_checked_is_the_file_read)
{
	uint8_t key[KEYSTORE_KEY_LEN], good[KEYSTORE_KEY_LEN], bad[KEYSTORE_KEY_LEN];
	int read_bad = 0, loaded = 0;
	pthread_t thread;

	setup_keystore();
	decode(good, WG_PRIVATE);
	decode(bad, WG_UNCLAMPED_PRIVATE);
	write_text("identity/web.key", WG_PRIVATE "\n", 0600);
	write_text("identity/other.key", WG_UNCLAMPED_PRIVATE "\n", 0644);
	atomic_store(&swapping, true);
	CHECK_EQ_INT(pthread_create(&thread, NULL, swap_key_files, NULL), 0);
	for (int i = 0; i < 20000; i++) {
		if (keystore_identity_get(ks, "web", false, key, NULL))
			continue;
		loaded++;
		read_bad += !memcmp(key, bad, sizeof(key));
	}
	atomic_store(&swapping, false);
	pthread_join(thread, NULL);
	CHECK_EQ_INT(read_bad, 0);
	CHECK(loaded > 0);
	/* A symlink in place of a key file is refused, whatever it points to. */
	CHECK_EQ_INT(unlink(key_path("identity/web.key")), 0);
	CHECK_EQ_INT(symlink("other.key", key_path("identity/web.key")), 0);
	CHECK_EQ_INT(chmod(key_path("identity/other.key"), 0600), 0);
	CHECK_EQ_INT(keystore_identity_get(ks, "web", false, key, NULL), -EBADMSG);
	CHECK_STR_CONTAINS(keystore_error(), "a symbolic link, not a regular file");
	sodium_memzero(good, sizeof(good));
	teardown();
}

UNIT_MAIN("keystore", UNIT_CASE(init_creates_private_directories),
	  UNIT_CASE(init_removes_temps_of_interrupted_writes),
	  UNIT_CASE(init_refuses_shared_directory),
	  UNIT_CASE(init_refuses_missing_parent_and_files), UNIT_CASE(identity_get_or_create),
	  UNIT_CASE(identity_put_replaces_and_delete), UNIT_CASE(key_file_written_by_wg_is_read),
	  UNIT_CASE(corrupt_key_files_are_refused), UNIT_CASE(wrong_mode_is_refused),
	  UNIT_CASE(failed_write_keeps_old_key), UNIT_CASE(references),
	  UNIT_CASE(psk_is_shared_by_both_ends), UNIT_CASE(psk_derived_from_the_link_secret),
	  UNIT_CASE(psk_delete_all_removes_only_that_identity), UNIT_CASE(public_key_matches_wg),
	  UNIT_CASE(identity_foreach_in_name_order), UNIT_CASE(named_psks),
	  UNIT_CASE(error_is_per_thread), UNIT_CASE(the_file_checked_is_the_file_read))

/* SPDX-License-Identifier: MIT */
/*
 * Named keys on disk. Nothing else in the project opens key files.
 *
 * Layout under the key directory (mode 0700):
 *   identity/<ref>.key     an endpoint's X25519 private key
 *   link/<a>+<b>.psk       the preshared key of the link between identities a and b (a < b),
 *                          when one was stored (across hosts; earlier builds for every pair)
 *   link.key               the secret the other links' preshared keys are derived from
 *   psk/<ref>.psk          a preshared key named by the operator, which links may name instead
 * Each file holds the key in base64 and a newline (as `wg genkey` prints it), mode 0600, and is
 * written atomically (temp file, fsync, rename, fsync of the directory).
 *
 * References are names matching [a-z0-9][a-z0-9._-]{0,63}: lower case because the docker CLI
 * lower-cases `--network ...,driver-opt=` values, and never a path.
 *
 * The keystore is an object (keystore_open): two daemons in one process, as the tests run them,
 * each have their own. Calls on one keystore may come from several threads: every write is a
 * whole-file rename, so a reader sees the old key or the new one.
 *
 * Functions return 0 or -errno. When a call fails for a reason worth telling the user (a corrupt
 * file, wrong permissions, a bad reference), keystore_error() describes it, naming the file.
 * Secrets are wiped from every buffer the keystore used.
 */
#ifndef KEYSTORE_H
#define KEYSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEYSTORE_KEY_LEN 32
#define KEYSTORE_REF_MAX 64

struct keystore;

/* Opens the key directory DIR, creating it (and its subdirectories) with mode 0700, into *OUT
 * (new, close with keystore_close). Fails with -EPERM if DIR exists with group/other permissions
 * or another owner, -ENOTDIR if it is not a directory (a symlink to one is not). Borrows DIR
 * (copied). */
int keystore_open(const char *dir, struct keystore **out);
/* Accepts NULL. */
void keystore_close(struct keystore *ks);

/* true when REF is a valid reference. */
bool keystore_ref_valid(const char *ref);

/* Loads identity REF into KEY. When absent: with CREATE, generates and stores a new key and sets
 * *CREATED (may be NULL); without, -ENOENT. A corrupt file gives -EBADMSG, wrong mode -EPERM. */
int keystore_identity_get(struct keystore *ks, const char *ref, bool create,
			  uint8_t key[KEYSTORE_KEY_LEN], bool *created);
/* Stores KEY as identity REF, replacing any existing one. Borrows KEY. */
int keystore_identity_put(struct keystore *ks, const char *ref,
			  const uint8_t key[KEYSTORE_KEY_LEN]);
/* Deletes identity REF; 0 when absent. */
int keystore_identity_delete(struct keystore *ks, const char *ref);

/* The preshared key of the link between identities A and B (order does not matter); CREATE and
 * CREATED as for keystore_identity_get. -EINVAL when A equals B. */
int keystore_psk_get(struct keystore *ks, const char *a, const char *b, bool create,
		     uint8_t psk[KEYSTORE_KEY_LEN], bool *created);
/* Stores PSK as the PSK of the link A–B (one the hosts of a cluster agreed on), replacing any
 * other. Borrows PSK. */
int keystore_psk_put(struct keystore *ks, const char *a, const char *b,
		     const uint8_t psk[KEYSTORE_KEY_LEN]);
/* Deletes the PSK of the link A–B; 0 when absent. */
int keystore_psk_delete(struct keystore *ks, const char *a, const char *b);
/* Deletes every PSK of links that involve identity REF; 0 when none. */
int keystore_psk_delete_all(struct keystore *ks, const char *ref);
/* The preshared key of the link between the identities of public keys PUB_A and PUB_B (either
 * order gives the same): BLAKE2b keyed with this host's link secret (link.key, made at first
 * use) over a context string and the two keys in order. It costs no file per pair, and an
 * identity made anew (a new key under an old reference) gets new preshared keys. */
int keystore_psk_derive(struct keystore *ks, const uint8_t pub_a[KEYSTORE_KEY_LEN],
			const uint8_t pub_b[KEYSTORE_KEY_LEN], uint8_t psk[KEYSTORE_KEY_LEN]);

/* The named preshared key REF (psk/<ref>.psk); CREATE and CREATED as for keystore_identity_get. */
int keystore_psk_ref_get(struct keystore *ks, const char *ref, bool create,
			 uint8_t psk[KEYSTORE_KEY_LEN], bool *created);
/* Stores PSK as the named preshared key REF, replacing any existing one. Borrows PSK. */
int keystore_psk_ref_put(struct keystore *ks, const char *ref, const uint8_t psk[KEYSTORE_KEY_LEN]);
/* Deletes the named preshared key REF; 0 when absent. */
int keystore_psk_ref_delete(struct keystore *ks, const char *ref);
/* Calls FN(ref, ctx) for every named preshared key, in name order; stops at and returns FN's
 * first non-zero value. */
int keystore_psk_ref_foreach(struct keystore *ks, int (*fn)(const char *ref, void *ctx), void *ctx);

/* Calls FN(ref, public_key, ctx) for every stored identity, in name order; stops at and returns
 * FN's first non-zero value. */
int keystore_identity_foreach(struct keystore *ks,
			      int (*fn)(const char *ref, const uint8_t pub[KEYSTORE_KEY_LEN],
					void *ctx),
			      void *ctx);

/* The host's own sealing key (a box key, not a WireGuard key: keys/host.key), created on first
 * use; *CREATED (may be NULL) as for keystore_identity_get. */
int keystore_host_key_get(struct keystore *ks, uint8_t key[KEYSTORE_KEY_LEN], bool *created);

/* Parses TEXT (LEN bytes): the base64 of a 32-byte key followed only by whitespace, as `wg genkey`
 * prints it, into KEY; -EBADMSG for anything else. */
int keystore_key_parse(const char *text, size_t len, uint8_t key[KEYSTORE_KEY_LEN]);

/* Derives the X25519 public key of PRIVATE_KEY. */
void keystore_public_key(uint8_t pub[KEYSTORE_KEY_LEN], const uint8_t priv[KEYSTORE_KEY_LEN]);

/* Describes the last failure of this thread's keystore call ("" if none). Borrowed. */
const char *keystore_error(void);

#endif

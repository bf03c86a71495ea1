/* SPDX-License-Identifier: MIT */
/*
 * What the harnesses that run a whole daemon share: the unit tests' daemon and fake backend
 * (test/unit/helper_daemon.c and helper_fake_backend.c, #included: the fuzz build links only the
 * library), made in /dev/shm, where the fsync of every key and state file costs nothing, and made
 * deterministic: libsodium's random bytes come from a stream that starts again with every input
 * (keys are the same for the same input, so a finding replays), and the fake backend numbers its
 * ports from the start again. The engine's IDs the seeds use are named here once, with the short
 * names inputs may use for them.
 */
#ifndef FUZZ_DAEMON_H
#define FUZZ_DAEMON_H

#include "../unit/helper_daemon.c"
#include "../unit/helper_fake_backend.c"

#include "fuzz_log.h"
#include "keystore.h"
#include "network.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <unistd.h>

#define FUZZ_NID1 "1111111111111111111111111111111111111111111111111111111111111111"
#define FUZZ_NID2 "2222222222222222222222222222222222222222222222222222222222222222"
#define FUZZ_EID1 "aaaaaaaaaaaa0000000000000000000000000000000000000000000000000000"
#define FUZZ_EID2 "bbbbbbbbbbbb0000000000000000000000000000000000000000000000000000"
#define FUZZ_EID3 "cccccccccccc0000000000000000000000000000000000000000000000000000"
#define FUZZ_EID4 "dddddddddddd0000000000000000000000000000000000000000000000000000"
/* The link name of EID1: another endpoint may not have it. */
#define FUZZ_EID5 "aaaaaaaaaaaa0000000000000000000000000000000000000000000000000005"

static inline bool fuzz_id_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* TEXT (LEN bytes) with N1 N2 E1 to E5 replaced by their IDs where they stand alone (no letter
 * or digit either side), into a new buffer (free it), NUL-terminated after *OUT_LEN bytes. */
static inline char *fuzz_expand_ids(const char *text, size_t len, size_t *out_len)
{
	static const struct {
		const char *name, *id;
	} ids[] = {
		{ "N1", FUZZ_NID1 }, { "N2", FUZZ_NID2 }, { "E1", FUZZ_EID1 }, { "E2", FUZZ_EID2 },
		{ "E3", FUZZ_EID3 }, { "E4", FUZZ_EID4 }, { "E5", FUZZ_EID5 },
	};
	char *out = malloc(len * NETWORK_ID_LEN / 2 + 1), *o = out;

	FUZZ_CHECK(out);
	for (size_t i = 0; i < len;) {
		const char *id = NULL;

		/* A byte at a time: libFuzzer traces every memcmp. */
		for (size_t p = 0; p < sizeof(ids) / sizeof(ids[0]); p++)
			if (i + 2 <= len && text[i] == ids[p].name[0] &&
			    text[i + 1] == ids[p].name[1] && (!i || !fuzz_id_char(text[i - 1])) &&
			    (i + 2 == len || !fuzz_id_char(text[i + 2])))
				id = ids[p].id;
		if (id) {
			memcpy(o, id, NETWORK_ID_LEN);
			o += NETWORK_ID_LEN;
			i += 2;
		} else {
			*o++ = text[i++];
		}
	}
	*o = '\0';
	*out_len = (size_t)(o - out);
	return out;
}

static uint64_t fuzz_random_counter;

static void fuzz_random_buf(void *buf, size_t size)
{
	unsigned char seed[randombytes_SEEDBYTES] = { 0 };

	memcpy(seed, &fuzz_random_counter, sizeof(fuzz_random_counter));
	fuzz_random_counter++;
	randombytes_buf_deterministic(buf, size, seed);
}

static uint32_t fuzz_random(void)
{
	uint32_t v;

	fuzz_random_buf(&v, sizeof(v));
	return v;
}

static const char *fuzz_random_name(void)
{
	return "fuzz";
}

static struct randombytes_implementation fuzz_random_impl = {
	.implementation_name = fuzz_random_name,
	.random = fuzz_random,
	.buf = fuzz_random_buf,
};

static const char *fuzz_state_parent(void)
{
	return access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm";
}

/* Removes the directories that harnesses which are gone left (a finding aborts, and a harness
 * keeps its directory until it exits): wgfuzz-PID-* of no running process. */
static void fuzz_daemon_sweep(void)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *dir = opendir(fuzz_state_parent());
	long pid;
	int end;

	while (dir && (e = readdir(dir))) {
		end = 0;
		if (sscanf(e->d_name, "wgfuzz-%ld-%n", &pid, &end) != 1 || !end || pid <= 0 ||
		    !kill((pid_t)pid, 0) || errno != ESRCH)
			continue;
		snprintf(path, sizeof(path), "%s/%s", fuzz_state_parent(), e->d_name);
		nftw(path, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	}
	if (dir)
		closedir(dir);
}

/* Before anything calls sodium_init: libsodium takes another source only until then. */
static void fuzz_daemon_setup(void)
{
	if (randombytes_set_implementation(&fuzz_random_impl) || sodium_init() < 0)
		abort();
	fuzz_daemon_sweep();
}

/* The random stream and the fake backend as they were at the start. */
static void fuzz_daemon_rewind(void)
{
	fuzz_random_counter = 0;
	fake_reset();
	next_port = 40000;
}

/* Makes T's daemon (helper_daemon.c's start, with the fake backend as default) in a new directory
 * under /dev/shm (/tmp without it), named after this process; test_daemon_destroy removes it. */
static void fuzz_daemon_init(struct test_daemon *t)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->dir, sizeof(t->dir), "%s/wgfuzz-%ld-XXXXXX", fuzz_state_parent(),
		 (long)getpid());
	if (!mkdtemp(t->dir))
		abort();
	start(t, &fake_backend);
}

/* Identity REF (new) of T's daemon, or aborts. */
static inline void fuzz_identity_make(struct test_daemon *t, const char *ref)
{
	uint8_t key[KEYSTORE_KEY_LEN];

	if (keystore_identity_get(t->d.keys, ref, true, key, NULL))
		abort();
	sodium_memzero(key, sizeof(key));
}

/* The named preshared key REF (new) of T's daemon, or aborts. */
static inline void fuzz_psk_make(struct test_daemon *t, const char *ref)
{
	uint8_t key[KEYSTORE_KEY_LEN];

	if (keystore_psk_ref_get(t->d.keys, ref, true, key, NULL))
		abort();
	sodium_memzero(key, sizeof(key));
}

#endif

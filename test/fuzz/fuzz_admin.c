// SPDX-License-Identifier: MIT
/*
 * The wgctl commands (admin_cmd_run, which takes the daemon's lock, as admin.c calls it) on a
 * fresh daemon per input with keys in use: network N1 (policy links) with endpoint E1 of identity
 * web, linked to db with the named PSK p1, and E2 of identity db, both joined; network N2 (mesh,
 * PSKs on) with E3 (its generated key) and E4 of identity cache, both joined. There is no cluster
 * store: hosts and forget only parse and refuse. The input is requests as the socket hands them
 * over, split at NUL bytes (a request may not hold one), each cut to ADMIN_REQUEST_MAX bytes; E1
 * to E5 standing alone become the endpoint IDs (the names of generated keys).
 *
 * Beyond crashes: a reply is lines of clean text (valid UTF-8, no control character but the '\n'
 * that ends each line), an error one line of clean text; a request taken (not refused as
 * invalid) has the words its command takes, no more; after every request every key a live
 * endpoint uses is there and unchanged (its identity, with its public key; the named PSKs of its
 * links): no request deletes or replaces a key in use.
 */
#include "fuzz_daemon.h"

#include "admin.h"
#include "admin_cmd.h"
#include "endpoint.h"
#include "network.h"

#define REQUESTS_MAX 32

static const char *const setup_calls[][2] = {
	{ "NetworkDriver.CreateNetwork",
	  "{\"NetworkID\":\"" FUZZ_NID1 "\",\"Options\":{\"com.docker.network.generic\":"
	  "{\"wg.policy\":\"links\"}}}" },
	{ "NetworkDriver.CreateEndpoint",
	  "{\"NetworkID\":\"" FUZZ_NID1 "\",\"EndpointID\":\"" FUZZ_EID1 "\",\"Interface\":"
	  "{\"Address\":\"10.7.0.2/24\"},\"Options\":{\"wg.key\":\"web\",\"wg.links\":\"db:p1\"}}" },
	{ "NetworkDriver.CreateEndpoint",
	  "{\"NetworkID\":\"" FUZZ_NID1 "\",\"EndpointID\":\"" FUZZ_EID2 "\",\"Interface\":"
	  "{\"Address\":\"10.7.0.3/24\"},\"Options\":{\"wg.key\":\"db\"}}" },
	{ "NetworkDriver.Join", "{\"NetworkID\":\"" FUZZ_NID1 "\",\"EndpointID\":\"" FUZZ_EID1
				"\",\"SandboxKey\":\"/var/run/docker/netns/1\"}" },
	{ "NetworkDriver.Join", "{\"NetworkID\":\"" FUZZ_NID1 "\",\"EndpointID\":\"" FUZZ_EID2
				"\",\"SandboxKey\":\"/var/run/docker/netns/2\"}" },
	{ "NetworkDriver.CreateNetwork",
	  "{\"NetworkID\":\"" FUZZ_NID2 "\",\"Options\":{\"com.docker.network.generic\":{}}}" },
	{ "NetworkDriver.CreateEndpoint",
	  "{\"NetworkID\":\"" FUZZ_NID2 "\",\"EndpointID\":\"" FUZZ_EID3 "\",\"Interface\":"
	  "{\"Address\":\"10.8.0.2/24\"},\"Options\":{}}" },
	{ "NetworkDriver.CreateEndpoint",
	  "{\"NetworkID\":\"" FUZZ_NID2 "\",\"EndpointID\":\"" FUZZ_EID4 "\",\"Interface\":"
	  "{\"Address\":\"10.8.0.3/24\"},\"Options\":{\"wg.key\":\"cache\"}}" },
	{ "NetworkDriver.Join", "{\"NetworkID\":\"" FUZZ_NID2 "\",\"EndpointID\":\"" FUZZ_EID3
				"\",\"SandboxKey\":\"/var/run/docker/netns/3\"}" },
	{ "NetworkDriver.Join", "{\"NetworkID\":\"" FUZZ_NID2 "\",\"EndpointID\":\"" FUZZ_EID4
				"\",\"SandboxKey\":\"/var/run/docker/netns/4\"}" },
};

static struct test_daemon td;
/* FUZZ_VERBOSE=1 in the environment: each request and its answer on stderr (to write seeds). */
static bool verbose;

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_daemon_setup();
	verbose = getenv("FUZZ_VERBOSE") != NULL;
	return 0;
}

static void setup(void)
{
	fuzz_daemon_rewind();
	fuzz_daemon_init(&td);
	fuzz_identity_make(&td, "db");
	fuzz_psk_make(&td, "p1");
	for (size_t i = 0; i < sizeof(setup_calls) / sizeof(setup_calls[0]); i++) {
		json_t *j = test_daemon_call(&td, setup_calls[i][0], setup_calls[i][1]);

		FUZZ_CHECKF(json_is_object(j) && !json_object_get(j, "Err"), "setup: %s %s",
			    setup_calls[i][0], setup_calls[i][1]);
		json_decref(j);
	}
}

/* Every key a live endpoint uses is there, the identity with its public key. */
static void check_keys_in_use(const char *request)
{
	uint8_t key[KEYSTORE_KEY_LEN], pub[KEYSTORE_KEY_LEN];

	for (const struct network *n = td.d.networks; n; n = n->next) {
		for (const struct endpoint *ep = n->endpoints; ep; ep = ep->next) {
			FUZZ_CHECKF(!keystore_identity_get(td.d.keys, ep->key_ref, false, key,
							   NULL),
				    "after \"%s\": identity %s of endpoint %.12s is gone", request,
				    ep->key_ref, ep->id);
			keystore_public_key(pub, key);
			FUZZ_CHECKF(!memcmp(pub, ep->public_key, KEYSTORE_KEY_LEN),
				    "after \"%s\": identity %s of endpoint %.12s was replaced",
				    request, ep->key_ref, ep->id);
			for (size_t i = 0; i < ep->links.n; i++)
				FUZZ_CHECKF(!ep->links.v[i].psk[0] ||
						    !keystore_psk_ref_get(td.d.keys,
									  ep->links.v[i].psk, false,
									  key, NULL),
					    "after \"%s\": PSK %s of endpoint %.12s is gone",
					    request, ep->links.v[i].psk, ep->id);
		}
	}
	sodium_memzero(key, sizeof(key));
}

/* How many words (split at spaces, as admin_cmd.c splits) the first line of REQUEST has. */
static size_t words(const char *request)
{
	size_t n = 0;

	for (const char *p = request; *p && *p != '\n'; p++)
		if (*p != ' ' && (p == request || p[-1] == ' '))
			n++;
	return n;
}

/* A request admin_cmd.c took (not refused as -EINVAL) has its command's words, no more. */
static void check_arguments(const char *request, int ret)
{
	static const struct {
		const char *name;
		size_t words;
	} commands[] = { { "list", 1 },	  { "links", 1 },  { "generate", 3 }, { "import", 3 },
			 { "delete", 3 }, { "export", 3 }, { "hosts", 1 },    { "forget", 2 } };
	size_t len = strcspn(request, " \n");

	if (ret == -EINVAL)
		return;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strlen(commands[i].name) == len && !strncmp(request, commands[i].name, len))
			FUZZ_CHECKF(words(request) == commands[i].words,
				    "\"%s\": taken (%d) with %zu words, %s takes %zu", request, ret,
				    words(request), commands[i].name, commands[i].words);
}

static void run(char *request)
{
	char err[ERRMSG_LEN] = "", copy[ADMIN_REQUEST_MAX + 1];
	struct admin_text out = { 0 };
	int ret;

	snprintf(copy, sizeof(copy), "%s", request);
	ret = admin_cmd_run(&td.d, request, &out, err);
	if (verbose)
		fprintf(stderr, "%s-> %d %s%s\n", copy, ret, err, out.data ? out.data : "");
	if (ret) {
		FUZZ_CHECKF(ret < 0 && err[0], "\"%s\": %d, \"%s\"", copy, ret, err);
		fuzz_check_text("error", err, false);
	} else if (out.len) {
		FUZZ_CHECKF(strlen(out.data) == out.len && out.data[out.len - 1] == '\n',
			    "\"%s\": reply \"%s\"", copy, out.data);
		fuzz_check_text("reply", out.data, true);
	}
	check_arguments(copy, ret);
	wgd_lock(&td.d);
	check_keys_in_use(copy);
	wgd_unlock(&td.d);
	admin_text_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, *p, *end, *nul;
	size_t len, n = 0;

	setup();
	text = fuzz_expand_ids((const char *)data, size, &len);
	for (p = text, end = text + len; p <= end && n++ < REQUESTS_MAX; p = nul + 1) {
		nul = memchr(p, '\0', (size_t)(end - p) + 1);
		if (strlen(p) > ADMIN_REQUEST_MAX)
			p[ADMIN_REQUEST_MAX] = '\0';
		run(p);
	}
	free(text);
	test_daemon_destroy(&td);
	fake_reset();
	return 0;
}

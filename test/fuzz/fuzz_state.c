// SPDX-License-Identifier: MIT
/*
 * The state loader (state_load) on network files it did not write. The input is one file, or two
 * split at the first NUL byte (a second network: link names and identities are unique across
 * networks), each written to networks/<ID>.json of a fresh daemon: ID is the file's own "id" when
 * that is an engine ID, else N1 (N2 for the second file) of fuzz_daemon.h. The keystore has the
 * identities of E1 to E5, web, db and cache, and the named PSK p1, as the files a daemon wrote
 * name them.
 *
 * Beyond crashes: every network loaded has an engine ID, an MTU and keepalive in range, and the
 * integers its file says (not the file's number cut to an int); every endpoint an engine ID, the
 * link name "wg-" + the first 12 characters of its ID, a valid key reference whose key it has, an
 * address, a valid sandbox, links to other valid references, a link name no other endpoint has
 * and addresses no other endpoint of its network has. A file not loaded is left as it was, and
 * state_network_error says why in clean text. Saving every network loaded and loading again gives
 * the same networks, saved the same (the round trip).
 */
#include "fuzz_daemon.h"

#include "addr.h"
#include "endpoint.h"
#include "field.h"
#include "links.h"
#include "network.h"
#include "state.h"

#include <dirent.h>

#define FILES_MAX 2

struct file {
	char id[NETWORK_ID_LEN + 1];
	const char *text;
	size_t len;
	char *saved; /* what state_save wrote for it, once loaded */
};

static struct test_daemon td;
/* FUZZ_VERBOSE=1 in the environment: why each file was not loaded, on stderr. */
static bool verbose;

static void remove_daemon(void)
{
	test_daemon_destroy(&td);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const identities[] = { FUZZ_EID1, FUZZ_EID2, FUZZ_EID3, FUZZ_EID4,
						  FUZZ_EID5, "web",	"db",	   "cache" };

	fuzz_daemon_setup();
	verbose = getenv("FUZZ_VERBOSE") != NULL;
	fuzz_daemon_rewind();
	fuzz_daemon_init(&td);
	/* Files of real daemons name these: only their names are used here. */
	if (backends_add(&td.d.backends, &backend_kernel, NULL) ||
	    backends_add(&td.d.backends, &backend_userspace, NULL))
		abort();
	for (size_t i = 0; i < sizeof(identities) / sizeof(identities[0]); i++)
		fuzz_identity_make(&td, identities[i]);
	fuzz_psk_make(&td, "p1");
	atexit(remove_daemon);
	return 0;
}

static void path_of(const char *id, char *path)
{
	snprintf(path, PATH_MAX, "%s/networks/%s.json", td.dir, id);
}

/* The whole file at PATH (new), or NULL when there is none. */
static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *text = NULL;
	size_t cap = 0;

	*len = 0;
	if (!f)
		return NULL;
	for (;;) {
		text = realloc(text, cap + 4097);
		FUZZ_CHECK(text);
		*len += fread(text + *len, 1, cap + 4096 - *len, f);
		if (*len < cap + 4096)
			break;
		cap += 4096;
	}
	text[*len] = '\0';
	fclose(f);
	return text;
}

static void write_file(const struct file *f)
{
	char path[PATH_MAX];
	FILE *out;

	path_of(f->id, path);
	out = fopen(path, "wb");
	FUZZ_CHECK(out && fwrite(f->text, 1, f->len, out) == f->len && !fclose(out));
}

static void empty_networks_dir(void)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *dir;

	snprintf(path, sizeof(path), "%s/networks", td.dir);
	dir = opendir(path);
	FUZZ_CHECK(dir);
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.' && (!e->d_name[1] || !strcmp(e->d_name, "..")))
			continue;
		snprintf(path, sizeof(path), "%s/networks/%s", td.dir, e->d_name);
		FUZZ_CHECK(!unlink(path));
	}
	closedir(dir);
}

/* The "id" of the network file TEXT when it is an engine ID, else DEFAULT_ID. */
static void name_file(struct file *f, const char *default_id)
{
	json_t *root = json_loadb(f->text, f->len, 0, NULL);
	const char *id = json_string_value(json_object_get(root, "id"));

	snprintf(f->id, sizeof(f->id), "%s", id && field_id_valid(id) ? id : default_id);
	json_decref(root);
}

/* Integer KEY of OBJ as the file says it, or ABSENT when it has none. */
static json_int_t file_int(const json_t *obj, const char *key, json_int_t absent)
{
	const json_t *v = json_object_get(obj, key);

	return v ? json_integer_value(v) : absent;
}

static void check_endpoint(const struct endpoint *ep, const json_t *file_ep)
{
	char ifname[IFNAMSIZ], err[ERRMSG_LEN];
	uint8_t priv[WG_KEY_LEN], pub[WG_KEY_LEN];

	FUZZ_CHECKF(field_id_valid(ep->id), "endpoint ID \"%s\"", ep->id);
	snprintf(ifname, sizeof(ifname), "wg-%.12s", ep->id);
	FUZZ_CHECKF(!strcmp(ep->ifname, ifname), "endpoint %.12s: link name %s", ep->id,
		    ep->ifname);
	FUZZ_CHECKF(ep->backend, "endpoint %.12s: no backend", ep->id);
	FUZZ_CHECKF(keystore_ref_valid(ep->key_ref), "endpoint %.12s: key \"%s\"", ep->id,
		    ep->key_ref);
	FUZZ_CHECKF(!keystore_identity_get(td.d.keys, ep->key_ref, false, priv, NULL),
		    "endpoint %.12s: no key %s", ep->id, ep->key_ref);
	keystore_public_key(pub, priv);
	sodium_memzero(priv, sizeof(priv));
	FUZZ_CHECKF(!memcmp(pub, ep->public_key, WG_KEY_LEN), "endpoint %.12s: public key", ep->id);
	FUZZ_CHECKF(ep->addr4.family || ep->addr6.family, "endpoint %.12s: no address", ep->id);
	FUZZ_CHECKF(!ep->addr4.family || (ep->addr4.family == AF_INET && ep->addr4.cidr <= 32),
		    "endpoint %.12s: IPv4 address", ep->id);
	FUZZ_CHECKF(!ep->addr6.family || (ep->addr6.family == AF_INET6 && ep->addr6.cidr <= 128),
		    "endpoint %.12s: IPv6 address", ep->id);
	FUZZ_CHECKF(!ep->sandbox || field_sandbox_valid(ep->sandbox), "endpoint %.12s: sandbox",
		    ep->id);
	for (size_t i = 0; i < ep->links.n; i++) {
		const struct link *l = &ep->links.v[i];

		FUZZ_CHECKF(keystore_ref_valid(l->peer) && strcmp(l->peer, ep->key_ref) &&
				    (!l->psk[0] || keystore_ref_valid(l->psk)) &&
				    links_find(&ep->links, l->peer) == l,
			    "endpoint %.12s: link %zu to \"%s\" (psk \"%s\")", ep->id, i, l->peer,
			    l->psk);
	}
	FUZZ_CHECKF(file_int(file_ep, "listen_port", -1) == ep->listen_port,
		    "endpoint %.12s: port %u, the file says %" JSON_INTEGER_FORMAT, ep->id,
		    ep->listen_port, file_int(file_ep, "listen_port", -1));
	FUZZ_CHECKF(!endpoint_check_unique(ep, "loaded", err), "endpoint %.12s: %s", ep->id, err);
}

/* NET as loaded against ROOT, its file. */
static void check_network(const struct network *net, const json_t *root)
{
	const json_t *eps = json_object_get(root, "endpoints"), *e;
	size_t i, n = 0;

	FUZZ_CHECKF(field_id_valid(net->id), "network ID \"%s\"", net->id);
	FUZZ_CHECKF(network_mtu_valid(net->opts.mtu), "network %.12s: mtu %u", net->id,
		    net->opts.mtu);
	FUZZ_CHECKF(file_int(root, "version", 0) == 1,
		    "network %.12s: version %" JSON_INTEGER_FORMAT, net->id,
		    file_int(root, "version", 0));
	FUZZ_CHECKF(file_int(root, "mtu", 0) == net->opts.mtu,
		    "network %.12s: mtu %u, the file says %" JSON_INTEGER_FORMAT, net->id,
		    net->opts.mtu, file_int(root, "mtu", 0));
	FUZZ_CHECKF(file_int(root, "keepalive", 0) == net->opts.keepalive,
		    "network %.12s: keepalive %u, the file says %" JSON_INTEGER_FORMAT, net->id,
		    net->opts.keepalive, file_int(root, "keepalive", 0));
	FUZZ_CHECKF(net->opts.policy == NETWORK_POLICY_MESH ||
			    net->opts.policy == NETWORK_POLICY_LINKS,
		    "network %.12s: policy %d", net->id, net->opts.policy);
	FUZZ_CHECKF(!net->opts.cluster[0] || network_name_valid(net->opts.cluster),
		    "network %.12s: net \"%s\"", net->id, net->opts.cluster);
	/* Endpoints whose key is gone are left out; the others are the file's, in its order, each
	 * the last of its ID (a later one would take its link name, failing the file). */
	for (const struct endpoint *ep = net->endpoints; ep; ep = ep->next) {
		FUZZ_CHECKF(ep->net == net, "endpoint %.12s: in another network", ep->id);
		e = NULL;
		for (i = n; i < json_array_size(eps); i++)
			if (!strcmp(json_string_value(
					    json_object_get(json_array_get(eps, i), "id")),
				    ep->id))
				e = json_array_get(eps, i), n = i + 1;
		FUZZ_CHECKF(e, "endpoint %.12s: not in the file's endpoints", ep->id);
		check_endpoint(ep, e);
	}
}

/* The networks D loaded from FILES (N) are what the files say; those it did not load it can
 * say why of, and left as they were. Saves each one loaded and returns how many. */
static int check_loaded(struct file *files, size_t n)
{
	char path[PATH_MAX], err[ERRMSG_LEN];
	int loaded = 0;
	size_t len;

	for (const struct network *net = td.d.networks; net; net = net->next)
		loaded++;
	for (size_t i = 0; i < n; i++) {
		struct network *net = network_find(&td.d, files[i].id);
		json_t *root;
		char *text;

		path_of(files[i].id, path);
		if (!net) {
			FUZZ_CHECKF(state_network_error(&td.d, files[i].id, err) == -EIO,
				    "network %.12s: not loaded, and no reason: %s", files[i].id,
				    err);
			fuzz_check_text("state_network_error", err, false);
			if (verbose)
				fprintf(stderr, "not loaded: %s\n", err);
			text = read_file(path, &len);
			FUZZ_CHECKF(text && len == files[i].len &&
					    !memcmp(text, files[i].text, len),
				    "network %.12s: a file not loaded was changed", files[i].id);
			free(text);
			continue;
		}
		if (verbose)
			fprintf(stderr, "loaded: network %.12s\n", net->id);
		root = json_loadb(files[i].text, files[i].len, 0, NULL);
		check_network(net, root);
		json_decref(root);
		FUZZ_CHECKF(!state_save(net, err), "network %.12s: %s", net->id, err);
		files[i].saved = read_file(path, &len);
		FUZZ_CHECK(files[i].saved);
	}
	return loaded;
}

/* A new daemon loads what the first saved: the same networks, saved the same. */
static void check_round_trip(struct file *files, size_t n, int loaded)
{
	char path[PATH_MAX], *text;
	int again;
	size_t len;

	test_daemon_restart(&td);
	wgd_lock(&td.d);
	again = state_load(&td.d);
	FUZZ_CHECKF(again == loaded, "loaded %d networks, then %d of what they saved", loaded,
		    again);
	for (size_t i = 0; i < n; i++) {
		struct network *net = network_find(&td.d, files[i].id);
		char err[ERRMSG_LEN];

		FUZZ_CHECKF(!net == !files[i].saved, "network %.12s: loaded once only",
			    files[i].id);
		if (!net)
			continue;
		FUZZ_CHECKF(!state_save(net, err), "network %.12s: %s", net->id, err);
		path_of(files[i].id, path);
		text = read_file(path, &len);
		FUZZ_CHECKF(text && !strcmp(text, files[i].saved),
			    "network %.12s: saved\n%s\nthen, loaded again and saved\n%s", net->id,
			    files[i].saved, text ? text : "(nothing)");
		free(text);
	}
	wgd_unlock(&td.d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct file files[FILES_MAX] = { { .text = (const char *)data, .len = size } };
	const char *nul = memchr(data, '\0', size);
	size_t n = 1;
	int loaded;

	if (nul) {
		files[0].len = (size_t)(nul - files[0].text);
		files[1].text = nul + 1;
		files[1].len = size - files[0].len - 1;
		n = 2;
	}
	name_file(&files[0], FUZZ_NID1);
	if (n == 2) {
		name_file(&files[1], FUZZ_NID2);
		if (!strcmp(files[1].id, files[0].id))
			snprintf(files[1].id, sizeof(files[1].id), "%s",
				 strcmp(files[0].id, FUZZ_NID2) ? FUZZ_NID2 : FUZZ_NID1);
	}
	for (size_t i = 0; i < n; i++)
		write_file(&files[i]);

	wgd_lock(&td.d);
	loaded = state_load(&td.d);
	FUZZ_CHECKF(loaded >= 0 && (size_t)loaded <= n, "state_load: %d", loaded);
	FUZZ_CHECKF(check_loaded(files, n) == loaded, "state_load: %d, but other networks", loaded);
	wgd_unlock(&td.d);
	check_round_trip(files, n, loaded);

	for (size_t i = 0; i < n; i++)
		free(files[i].saved);
	empty_networks_dir();
	/* The next input starts from a daemon that knows nothing (and this one's memory is free
	 * for LeakSanitizer's count). */
	test_daemon_restart(&td);
	return 0;
}

// SPDX-License-Identifier: MIT
/*
 * wgctl: the WireGuard network driver's keys by reference, its status and its outside peers,
 * through the daemon's wgctl socket (driver/admin.h), never by opening key files. A secret is
 * printed by export and by an outside peer's configuration only, and never to a terminal.
 */
#include "admin.h"
#include "show.h"

#include <errno.h>
#include <getopt.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define WGCTL_SOCKET_DEFAULT "/run/docker/plugins/" ADMIN_SOCKET_NAME
#define WGCTL_REPLY_MAX	     (4 << 20)
#define WGCTL_KEY_LINE_MAX   256

static const struct command {
	const char *name;
	bool takes_ref;
	bool reads_key;	 /* from stdin */
	bool prints_key; /* a secret: never to a terminal */
	const char *help;
} commands[] = {
	{ "list", false, false, false, "identities with their public keys; preshared key names" },
	{ "links", false, false, false,
	  "links of every network: identities, preshared key, active or waiting" },
	{ "generate", true, false, false, "a new key (an identity prints its public key)" },
	{ "import", true, true, false,
	  "the key on stdin, base64 as wg genkey and genpsk print it" },
	{ "delete", true, false, false,
	  "a key no live endpoint uses (an identity's link keys too)" },
	{ "export", true, false, true,
	  "the secret key in base64; refused when stdout is a terminal" },
	{ "hosts", false, false, false,
	  "the hosts of the cluster: ID, name, address, alive or gone, endpoints" },
	{ "host", false, false, false,
	  "forget HOST: a host gone for good gives its addresses and keys back" },
	{ "show", false, false, false,
	  "[--json] [NETWORK [CONTAINER|ENDPOINT]]: status, as wg show with names" },
	{ "peer", false, false, false, "add|config|rm|list: outside peers (wgctl peer --help)" },
};

/* A reply, wiped when freed: export's holds a secret. */
struct reply {
	char *data;
	size_t len, cap;
};

static void reply_free(struct reply *r)
{
	if (r->data)
		sodium_memzero(r->data, r->cap);
	free(r->data);
	memset(r, 0, sizeof(*r));
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: wgctl [-s SOCKET] COMMAND [--psk] [REF]\n"
		"Keys are identities unless --psk names a preshared key. REF: 1 to 64 of a-z 0-9 "
		". _ -.\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-9s%-14s%s\n", commands[i].name,
			commands[i].takes_ref ? "[--psk] REF" : "", commands[i].help);
	fprintf(f,
		"SOCKET: the daemon's wgctl socket; default $WGCTL_SOCKET, else %s\n"
		"(a managed plugin's: /run/docker/plugins/<plugin id>/%s)\n",
		WGCTL_SOCKET_DEFAULT, ADMIN_SOCKET_NAME);
}

static const struct command *command_find(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

/* Reads the first line of stdin (a key) into LINE (WGCTL_KEY_LINE_MAX bytes). */
static int read_key_line(char *line)
{
	size_t len;

	if (!fgets(line, WGCTL_KEY_LINE_MAX, stdin)) {
		fprintf(stderr, "wgctl: import: expected a base64 key on stdin\n");
		return -EINVAL;
	}
	len = strcspn(line, "\r\n");
	line[len] = '\0';
	return 0;
}

static int send_all(int fd, const char *s, size_t len)
{
	ssize_t n;

	while (len) {
		n = send(fd, s, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

static int recv_all(int fd, struct reply *r)
{
	char *grown;
	ssize_t n;

	for (;;) {
		if (r->cap - r->len < 1024) {
			if (r->cap >= WGCTL_REPLY_MAX)
				return -EFBIG;
			/* Not realloc: a block that held a secret is wiped before it is let go. */
			grown = malloc(r->cap ? r->cap * 2 : 4096);
			if (!grown)
				return -ENOMEM;
			if (r->data)
				memcpy(grown, r->data, r->len);
			if (r->data)
				sodium_memzero(r->data, r->cap);
			free(r->data);
			r->data = grown;
			r->cap = r->cap ? r->cap * 2 : 4096;
		}
		n = recv(fd, r->data + r->len, r->cap - r->len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			break;
		r->len += (size_t)n;
	}
	r->data[r->len] = '\0';
	return 0;
}

/* Sends REQUEST to the daemon at PATH and reads its whole reply into R. */
static int transact(const char *path, const char *request, struct reply *r)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd, ret;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "wgctl: %s: path too long\n", path);
		return -ENAMETOOLONG;
	}
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		ret = -errno;
		fprintf(stderr,
			"wgctl: %s: %s (is the driver running? -s names its wgctl socket)\n", path,
			strerror(errno));
		goto out;
	}
	ret = send_all(fd, request, strlen(request));
	if (!ret && shutdown(fd, SHUT_WR) < 0)
		ret = -errno;
	if (!ret)
		ret = recv_all(fd, r);
	if (ret)
		fprintf(stderr, "wgctl: %s: %s\n", path, strerror(-ret));
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

/* The daemon's error, when R is one; false otherwise. */
static bool reply_error(const struct reply *r)
{
	if (r->len >= 6 && !strncmp(r->data, "error ", 6)) {
		fprintf(stderr, "wgctl: %s", r->data + 6);
		return true;
	}
	if (r->len < 3 || strncmp(r->data, "ok\n", 3)) {
		fprintf(stderr, "wgctl: unexpected answer from the daemon\n");
		return true;
	}
	return false;
}

/* Appends " WORD" to the request REQ (SIZE bytes, *LEN used). A word never holds a space or a
 * line break: the daemon splits on them. */
static int add_word(char *req, size_t size, size_t *len, const char *prefix, const char *word)
{
	int n;

	if (strpbrk(word, " \n\r\t") || !*word) {
		fprintf(stderr, "wgctl: %s%.*s%s\"%.64s\": expected one word, without spaces\n",
			*prefix ? "--" : "", (int)strcspn(prefix, "="), prefix, *prefix ? " " : "",
			word);
		return -EINVAL;
	}
	n = snprintf(req + *len, size - *len, " %s%s", prefix, word);
	if (n < 0 || (size_t)n >= size - *len) {
		fprintf(stderr, "wgctl: request too long\n");
		return -E2BIG;
	}
	*len += (size_t)n;
	return 0;
}

static void show_usage(FILE *f)
{
	fprintf(f,
		"Usage: wgctl show [--json] [NETWORK [CONTAINER|ENDPOINT]]\n"
		"NETWORK: its name, ID or ID prefix, or its wg.net name. CONTAINER|ENDPOINT: a\n"
		"container name, an identity, or an endpoint ID or ID prefix. No key is secret here:\n"
		"private and preshared keys are never shown.\n");
}

static int cmd_show(const char *path, int argc, char *argv[])
{
	static const struct option opts[] = { { "json", no_argument, NULL, 'j' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	char req[ADMIN_REQUEST_MAX + 1] = "show";
	struct reply r = { 0 };
	size_t len = 4;
	bool json = false;
	int c, ret = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'h': show_usage(stdout); return 0;
		default: show_usage(stderr); return 2;
		}
	}
	if (argc - optind > 2) {
		show_usage(stderr);
		return 2;
	}
	for (int i = optind; i < argc; i++)
		if (add_word(req, sizeof(req), &len, "", argv[i]))
			return 2;
	strcat(req, "\n");
	if (!transact(path, req, &r) && !reply_error(&r))
		ret = show_print(stdout, r.data + 3, json);
	reply_free(&r);
	return ret;
}

static void peer_usage(FILE *f)
{
	fprintf(f,
		"Usage: wgctl peer add NAME --network NETWORK [--links REF[,REF...]]\n"
		"                      [--public-key KEY] [--address ADDR]... [--endpoint HOST]\n"
		"       wgctl peer config NAME [--endpoint HOST]\n"
		"       wgctl peer rm NAME\n"
		"       wgctl peer list\n"
		"An outside peer (a laptop, a server) gets an address on NETWORK and peers with the\n"
		"endpoints its policy allows (mesh: all; links: the linked ones). add and config print\n"
		"its wg-quick configuration, with its private key (unless --public-key gave only the\n"
		"public half) and preshared keys: never to a terminal. HOST: the address or DNS name\n"
		"it reaches this host at (default on a cluster network: the advertised address).\n"
		"ADDR: its address, required unless the network uses --ipam-driver wireguard:latest.\n");
}

static int cmd_peer(const char *path, int argc, char *argv[])
{
	static const struct option opts[] = { { "network", required_argument, NULL, 'n' },
					      { "links", required_argument, NULL, 'l' },
					      { "public-key", required_argument, NULL, 'k' },
					      { "address", required_argument, NULL, 'a' },
					      { "endpoint", required_argument, NULL, 'e' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	static const char *const verbs[] = { "add", "config", "rm", "list" };
	char req[ADMIN_REQUEST_MAX + 1], opts_req[ADMIN_REQUEST_MAX + 1] = "", *network = NULL;
	const char *verb = argc > 1 ? argv[1] : "";
	struct reply r = { 0 };
	size_t len, opts_len = 0, nverb = sizeof(verbs) / sizeof(verbs[0]), v;
	int c, ret = 0, add_only = 0, endpoint = 0;

	for (v = 0; v < nverb && strcmp(verb, verbs[v]); v++)
		;
	if (v == nverb) {
		peer_usage(!strcmp(verb, "--help") || !strcmp(verb, "-h") ? stdout : stderr);
		return !strcmp(verb, "--help") || !strcmp(verb, "-h") ? 0 : 2;
	}
	len = (size_t)snprintf(req, sizeof(req), "peer-%s", verb);
	argc--;
	argv++;
	optind = 1;
	/* The options go into the request as NAME=VALUE words after the positional ones. */
	while (!ret && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		const char *prefix = c == 'l' ? "links=" : c == 'k' ? "public-key=" : "address=";

		switch (c) {
		case 'n': network = optarg; break;
		case 'l':
		case 'k':
		case 'a':
			add_only++;
			ret = add_word(opts_req, sizeof(opts_req), &opts_len, prefix, optarg);
			break;
		case 'e':
			endpoint++;
			ret = add_word(opts_req, sizeof(opts_req), &opts_len, "endpoint=", optarg);
			break;
		case 'h': peer_usage(stdout); return 0;
		default: peer_usage(stderr); return 2;
		}
	}
	if (ret)
		return 2;
	/* add: a name and --network; config: a name, maybe --endpoint; rm: a name; list: none. */
	if (argc - optind != (v == 3 ? 0 : 1) || (v == 0) != (network != NULL) ||
	    (v != 0 && add_only) || (v >= 2 && endpoint)) {
		peer_usage(stderr);
		return 2;
	}
	if (v != 3 && add_word(req, sizeof(req), &len, "", argv[optind]))
		return 2;
	if (network && add_word(req, sizeof(req), &len, "", network))
		return 2;
	if (len + opts_len + 2 > sizeof(req)) {
		fprintf(stderr, "wgctl: request too long\n");
		return 2;
	}
	strcat(req, opts_req);
	strcat(req, "\n");
	/* A configuration holds secrets: refused before the daemon is asked. */
	if (v <= 1 && isatty(STDOUT_FILENO)) {
		fprintf(stderr,
			"wgctl: peer %s: refusing to print a configuration with secret keys "
			"to a terminal; redirect stdout to a file (> %s.conf)\n",
			verb, argv[optind]);
		return 1;
	}
	ret = 1;
	if (!transact(path, req, &r) && !reply_error(&r)) {
		fwrite(r.data + 3, 1, r.len - 3, stdout);
		ret = fflush(stdout) ? 1 : 0;
	}
	sodium_memzero(req, sizeof(req));
	reply_free(&r);
	return ret;
}

/* Prints the reply: its lines after "ok" on stdout, or the daemon's error on stderr. */
static int print_reply(const struct reply *r)
{
	if (r->len >= 3 && !strncmp(r->data, "ok\n", 3)) {
		fwrite(r->data + 3, 1, r->len - 3, stdout);
		return fflush(stdout) ? 1 : 0;
	}
	if (r->len >= 6 && !strncmp(r->data, "error ", 6)) {
		fprintf(stderr, "wgctl: %s", r->data + 6);
		return 1;
	}
	fprintf(stderr, "wgctl: unexpected answer from the daemon\n");
	return 1;
}

int main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "psk", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *path = getenv("WGCTL_SOCKET"), *ref = NULL;
	char request[ADMIN_REQUEST_MAX + 1], key[WGCTL_KEY_LINE_MAX] = "";
	const struct command *cmd;
	struct reply r = { 0 };
	bool psk = false;
	int c, n, ret = 1;

	if (!path || !*path)
		path = WGCTL_SOCKET_DEFAULT;
	/* show and peer have options of their own: only -s may come before them. */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-s") || !strcmp(argv[i], "--socket")) {
			if (++i < argc)
				path = argv[i];
			continue;
		}
		if (!strncmp(argv[i], "--socket=", 9)) {
			path = argv[i] + 9;
			continue;
		}
		if (!strcmp(argv[i], "show"))
			return cmd_show(path, argc - i, argv + i);
		if (!strcmp(argv[i], "peer"))
			return cmd_peer(path, argc - i, argv + i);
		break;
	}
	while ((c = getopt_long(argc, argv, "s:h", opts, NULL)) != -1) {
		switch (c) {
		case 's': path = optarg; break;
		case 'p': psk = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	cmd = optind < argc ? command_find(argv[optind]) : NULL;
	/* wgctl host forget HOST: the one command of two words and an argument. */
	if (cmd && !strcmp(cmd->name, "host")) {
		if (optind + 3 != argc || strcmp(argv[optind + 1], "forget") || psk) {
			usage(stderr);
			return 2;
		}
		n = snprintf(request, sizeof(request), "forget %s\n", argv[optind + 2]);
		if (n < 0 || n >= (int)sizeof(request) || strchr(argv[optind + 2], '\n') ||
		    strchr(argv[optind + 2], ' ')) {
			fprintf(stderr, "wgctl: host forget: a host is its ID, name or address\n");
			return 2;
		}
		if (!transact(path, request, &r))
			ret = print_reply(&r);
		reply_free(&r);
		return ret;
	}
	if (cmd && cmd->takes_ref && optind + 1 < argc)
		ref = argv[optind + 1];
	if (!cmd || optind + 1 + cmd->takes_ref != argc || (psk && !cmd->takes_ref)) {
		usage(stderr);
		return 2;
	}
	/* The daemon judges the reference; this only keeps it on its line of the request. */
	if (ref && strspn(ref, "abcdefghijklmnopqrstuvwxyz0123456789._-") != strlen(ref)) {
		fprintf(stderr,
			"wgctl: \"%.64s\": a reference is 1 to 64 characters of a-z 0-9 . _ -\n",
			ref);
		return 2;
	}
	/* Refused before the daemon is asked: the secret never reaches this process. */
	if (cmd->prints_key && isatty(STDOUT_FILENO)) {
		fprintf(stderr, "wgctl: export: refusing to print a secret key to a terminal; "
				"redirect stdout to a file or a pipe\n");
		return 1;
	}
	if (cmd->reads_key && read_key_line(key))
		return 1;
	if (cmd->takes_ref)
		n = snprintf(request, sizeof(request), "%s %s %s\n%s%s", cmd->name,
			     psk ? "psk" : "identity", ref, key, cmd->reads_key ? "\n" : "");
	else
		n = snprintf(request, sizeof(request), "%s\n", cmd->name);
	if (n < 0 || n >= (int)sizeof(request))
		fprintf(stderr, "wgctl: request too long\n");
	else if (!transact(path, request, &r))
		ret = print_reply(&r);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(request, sizeof(request));
	reply_free(&r);
	return ret;
}

// SPDX-License-Identifier: MIT
/*
 * wireguard-driver: the libnetwork remote network driver that gives every container endpoint a
 * WireGuard interface. Startup order: flags, state directory, keys, backend choice, persisted
 * networks, then the socket (the engine disables a managed plugin that is not listening within
 * about 9 s, so nothing slow comes before it).
 */
#include "admin.h"
#include "backend.h"
#include "atomic_file.h"
#include "backends.h"
#include "cluster.h"
#include "endpoint.h"
#include "engine.h"
#include "errmsg.h"
#include "hostmounts.h"
#include "http.h"
#include "keystore.h"
#include "kmod.h"
#include "log.h"
#include "metrics.h"
#include "monitor.h"
#include "netns.h"
#include "quote.h"
#include "network.h"
#include "reconcile.h"
#include "state.h"
#include "wgd.h"
#include "wggo.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The build's version (make VERSION=..., git describe by default); the log's first line says it,
 * so that an operator sees which build runs after an upgrade. */
#ifndef WGD_VERSION
#define WGD_VERSION "unknown"
#endif

struct config {
	const char *socket;
	const char *state_dir;
	const char *backend;
	const char *log_level;
	const char *wireguard_go;
	const char *wggo_memlimit; /* WG_GO_MEMLIMIT: GOMEMLIMIT of each wireguard-go */
	const char *engine_socket; /* NULL: no resolver */
	const char *admin_socket;  /* NULL: wgctl.sock beside --socket; "": none */
	const char *state_parent;  /* managed plugin: the host directory of the state directory */
	const char *exec_root;	   /* managed plugin: the engine's exec-root */
	const char *ports;	   /* WG_PORTS: LOW-HIGH, or NULL */
	const char *etcd_dir;	   /* the etcd files (standalone) */
	const char *etcd_mount;	   /* managed plugin: the etcd mount, copied then detached */
	const char *metrics_addr;  /* METRICS_ADDR: where /metrics is served, or NULL */
	const char *metrics_peers; /* METRICS_PEERS: on (NULL) or off */
};

/* Where the managed plugin keeps its copy of the etcd mount's files (a tmpfs). */
#define ETCD_FILES_DIR "/run/etcd-files"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: wireguard-driver --socket PATH --state-dir DIR [--backend auto|kernel|"
		"userspace]\n"
		"                        [--log-level error|warn|info|debug] "
		"[--wireguard-go PATH]\n"
		"                        [--wireguard-go-memlimit SIZE|off]\n"
		"                        [--engine-socket PATH] [--admin-socket PATH]\n"
		"                        [--state-parent DIR] [--exec-root DIR] [--ports LOW-HIGH]\n"
		"                        [--metrics-addr ADDR:PORT] [--metrics-peers on|off] "
		"[--version]\n"
		"Environment: WG_BACKEND, LOG_LEVEL, WG_PORTS, METRICS_ADDR, METRICS_PEERS and\n"
		"WG_GO_MEMLIMIT (the flags take "
		"precedence).\n"
		"--state-parent and --exec-root are for the managed plugin only: they bind "
		"DIR/" HOSTMOUNTS_STATE_NAME " on\n--state-dir and the engine's "
		"exec-root/" HOSTMOUNTS_NETNS_NAME " on " NETNS_DOCKER_DIR
		" in the daemon's mount namespace.\n");
}

static int parse_args(int argc, char *argv[], struct config *cfg)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "state-dir", required_argument, NULL, 'd' },
		{ "backend", required_argument, NULL, 'b' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "wireguard-go", required_argument, NULL, 'w' },
		{ "wireguard-go-memlimit", required_argument, NULL, 'm' },
		{ "engine-socket", required_argument, NULL, 'e' },
		{ "admin-socket", required_argument, NULL, 'a' },
		{ "state-parent", required_argument, NULL, 'p' },
		{ "exec-root", required_argument, NULL, 'x' },
		{ "ports", required_argument, NULL, 'P' },
		{ "etcd-dir", required_argument, NULL, 'E' },
		{ "etcd-mount", required_argument, NULL, 'M' },
		{ "metrics-addr", required_argument, NULL, 'A' },
		{ "metrics-peers", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': cfg->socket = optarg; break;
		case 'd': cfg->state_dir = optarg; break;
		case 'b': cfg->backend = optarg; break;
		case 'l': cfg->log_level = optarg; break;
		case 'w': cfg->wireguard_go = optarg; break;
		case 'm': cfg->wggo_memlimit = optarg; break;
		case 'e': cfg->engine_socket = optarg; break;
		case 'a': cfg->admin_socket = optarg; break;
		case 'p': cfg->state_parent = optarg; break;
		case 'x': cfg->exec_root = optarg; break;
		case 'P': cfg->ports = optarg; break;
		case 'E': cfg->etcd_dir = optarg; break;
		case 'M': cfg->etcd_mount = optarg; break;
		case 'A': cfg->metrics_addr = optarg; break;
		case 'R': cfg->metrics_peers = optarg; break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("wireguard-driver %s\n", WGD_VERSION); exit(0);
		default: return -EINVAL;
		}
	}
	if (optind != argc || !cfg->socket || !cfg->state_dir)
		return -EINVAL;
	return 0;
}

/* wgctl's socket: --admin-socket, else wgctl.sock in the directory of the engine's socket. */
static void admin_socket_path(const struct config *cfg, char *out, size_t len)
{
	const char *slash = strrchr(cfg->socket, '/');

	if (cfg->admin_socket)
		snprintf(out, len, "%s", cfg->admin_socket);
	else
		snprintf(out, len, "%.*s%s", slash ? (int)(slash - cfg->socket + 1) : 0,
			 cfg->socket, ADMIN_SOCKET_NAME);
}

static int wait_for_signal(void)
{
	sigset_t set;
	int sig = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigwait(&set, &sig);
	return sig;
}

/* What wg.backend=kernel and wg.backend=userspace ask of the host (backends.h). */
static int probe_kernel(char *why, size_t len)
{
	return kmod_backend_usable(KMOD_MODE_KERNEL, backend_userspace_program(), why, len);
}

static int probe_userspace(char *why, size_t len)
{
	return kmod_backend_usable(KMOD_MODE_USERSPACE, backend_userspace_program(), why, len);
}

/* Parses "LOW-HIGH" (1 <= LOW <= HIGH <= 65535) into WC's port range; "" leaves it empty. */
static int parse_ports(const char *s, struct wgd_config *wc)
{
	unsigned long low, high;
	char *end;

	if (!s || !*s)
		return 0;
	errno = 0;
	low = strtoul(s, &end, 10);
	if (errno || end == s || *end != '-')
		return -EINVAL;
	s = end + 1;
	high = strtoul(s, &end, 10);
	if (errno || end == s || *end || low < 1 || low > high || high > 65535)
		return -EINVAL;
	wc->port_min = (uint16_t)low;
	wc->port_max = (uint16_t)high;
	return 0;
}

/* The path of etcd file NAME in DIR when it exists, into OUT; NULL otherwise. */
static const char *etcd_file(const char *dir, const char *name, char *out, size_t size)
{
	if (!dir)
		return NULL;
	snprintf(out, size, "%s/%s", dir, name);
	return access(out, R_OK) ? NULL : out;
}

/* Joins the cluster when ETCD_ENDPOINTS says there is one. The secret comes from the etcd
 * directory (cluster.secret) or CLUSTER_SECRET. */
static int start_cluster(struct wgd *d, const char *dir, struct cluster **out, char *err)
{
	char ca[PATH_MAX], cert[PATH_MAX], key[PATH_MAX], sec[PATH_MAX], name[256] = "";
	struct cluster_config cc = { .endpoints = getenv("ETCD_ENDPOINTS"),
				     .username = getenv("ETCD_USERNAME"),
				     .password = getenv("ETCD_PASSWORD"),
				     .advertise = getenv("ADVERTISE_ADDR") };
	const char *env_secret = getenv("CLUSTER_SECRET");
	char *secret = NULL;
	size_t secret_len = 0;
	int ret;

	*out = NULL;
	if (!cc.endpoints || !*cc.endpoints)
		return 0;
	if (cc.username && !*cc.username)
		cc.username = NULL;
	if (cc.password && !*cc.password)
		cc.password = NULL;
	cc.ca_file = etcd_file(dir, "ca.crt", ca, sizeof(ca));
	cc.cert_file = etcd_file(dir, "client.crt", cert, sizeof(cert));
	cc.key_file = etcd_file(dir, "client.key", key, sizeof(key));
	if (etcd_file(dir, "cluster.secret", sec, sizeof(sec))) {
		ret = atomic_file_read(sec, CLUSTER_SECRET_MAX, &secret, &secret_len);
		if (ret)
			return errmsg_set(err, ret, "%s: %s", sec, strerror(-ret));
	} else if (env_secret && *env_secret) {
		secret = strdup(env_secret);
		secret_len = secret ? strlen(secret) : 0;
	}
	cc.secret = (const uint8_t *)secret;
	cc.secret_len = secret_len;
	gethostname(name, sizeof(name) - 1);
	cc.name = name;
	if (!secret)
		log_warn("cluster: no cluster secret (cluster.secret or CLUSTER_SECRET): the PSKs "
			 "between hosts rest on the sealed boxes in the store alone");
	ret = cluster_start(d, &cc, out, err);
	if (secret) {
		sodium_memzero(secret, secret_len);
		free(secret);
	}
	return ret;
}

int main(int argc, char *argv[])
{
	struct config cfg = { .backend = getenv("WG_BACKEND"),
			      .log_level = getenv("LOG_LEVEL"),
			      .ports = getenv("WG_PORTS"),
			      .metrics_addr = getenv("METRICS_ADDR"),
			      .metrics_peers = getenv("METRICS_PEERS"),
			      .wireguard_go = "wireguard-go",
			      .wggo_memlimit = getenv("WG_GO_MEMLIMIT") };
	struct wgd_config wc = { .sync_workers = WGD_SYNC_WORKERS };
	const struct backend_ops *backend = NULL;
	static char reason[512];
	char admin_path[PATH_MAX], err[ERRMSG_LEN];
	enum kmod_mode mode = KMOD_MODE_AUTO;
	enum log_level level = LOG_LEVEL_INFO;
	struct cluster *cluster = NULL;
	struct engine *engine = NULL;
	struct admin *admin = NULL;
	struct metrics *metrics = NULL;
	bool metrics_peers = true;
	struct monitor *monitor = NULL;
	const char *etcd_dir;
	bool found;
	struct http *http = NULL;
	struct wgd d = { 0 };
	uint64_t memlimit = 0;
	sigset_t set;
	int ret, loaded;

	if (parse_args(argc, argv, &cfg)) {
		usage(stderr);
		return 2;
	}
	if (cfg.log_level && *cfg.log_level && log_parse_level(cfg.log_level, &level)) {
		fprintf(stderr, "log level \"%s\": expected error, warn, info or debug\n",
			QUOTE(cfg.log_level, 40));
		return 2;
	}
	log_set_level(level);
	log_info("wireguard-driver %s", WGD_VERSION);
	if (cfg.backend && *cfg.backend && kmod_parse_mode(cfg.backend, &mode)) {
		log_error("backend \"%s\": expected auto, kernel or userspace",
			  QUOTE(cfg.backend, 40));
		return 2;
	}
	if (parse_ports(cfg.ports, &wc)) {
		log_error("ports \"%s\" (WG_PORTS): expected LOW-HIGH, 1 <= LOW <= HIGH <= 65535",
			  QUOTE(cfg.ports, 40));
		return 2;
	}
	if (cfg.wggo_memlimit && *cfg.wggo_memlimit &&
	    wggo_memlimit_parse(cfg.wggo_memlimit, &memlimit)) {
		log_error(
			"memory limit \"%s\" (WG_GO_MEMLIMIT): expected off or a size of at least "
			"8MiB, bytes or with the unit B, KiB, MiB, GiB or TiB (GOMEMLIMIT's "
			"syntax), e.g. 64MiB",
			QUOTE(cfg.wggo_memlimit, 40));
		return 2;
	}
	/* Signals go to sigwait() in main only, never to the server's or children's threads. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (sodium_init() < 0) {
		log_error("libsodium failed to initialise");
		return 1;
	}
	/* Without the sandboxes only the kernel backend's changes to links inside containers and
	 * the re-attach of a TUN fail, each with its own error: the rest still serves. */
	if (cfg.exec_root && hostmounts_netns(cfg.exec_root, NETNS_DOCKER_DIR, err))
		log_error("%s", err);
	if (cfg.state_parent) {
		ret = wggo_open_plugin_root();
		if (ret)
			log_error("plugin root /: making it reachable to wireguard-go's users: %s",
				  strerror(-ret));
		ret = hostmounts_state(cfg.state_parent, cfg.state_dir, err);
		if (ret) {
			log_error("%s", err);
			return 1;
		}
	}
	etcd_dir = cfg.etcd_dir;
	if (cfg.etcd_mount) {
		ret = hostmounts_etcd(cfg.etcd_mount, ETCD_FILES_DIR, &found, err);
		if (ret) {
			log_error("etcd files: %s", err);
			return 1;
		}
		etcd_dir = found ? ETCD_FILES_DIR : NULL;
	}
	wc.state_dir = cfg.state_dir;
	ret = wgd_init(&d, &wc, err);
	if (ret) {
		log_error("%s", err);
		goto out;
	}
	backend_userspace_set_program(cfg.wireguard_go);
	backend_userspace_set_memlimit(cfg.wggo_memlimit);
	if (memlimit)
		log_info("wireguard-go memory limit %s (WG_GO_MEMLIMIT)", cfg.wggo_memlimit);
	ret = kmod_choose_backend(mode, cfg.wireguard_go, &backend, reason, sizeof(reason));
	if (ret) {
		log_error("no usable WireGuard backend: %s", reason);
		goto out;
	}
	log_info("backend %s", reason);
	backends_set_default(&d.backends, backend, reason);
	backends_add(&d.backends, &backend_kernel, probe_kernel);
	backends_add(&d.backends, &backend_userspace, probe_userspace);
	wgd_lock(&d);
	loaded = state_load(&d);
	wgd_unlock(&d);
	if (loaded < 0)
		log_error("state directory %s: %s", cfg.state_dir, strerror(-loaded));
	else
		log_info("%d network(s) loaded from %s", loaded, cfg.state_dir);
	reconcile_endpoints(&d);
	/* A store that does not answer yet is not fatal: the cluster keeps trying. One that
	 * refuses this host's certificate or password is, and says so. */
	ret = start_cluster(&d, etcd_dir, &cluster, err);
	if (ret) {
		/* Host-local networks still serve; every wg.net call answers this. */
		log_error("%s; networks across hosts (wg.net) are unavailable", err);
		snprintf(d.cluster_error, sizeof(d.cluster_error), "%s", err);
	}
	ret = engine_start(&d, cfg.engine_socket, &engine, err);
	if (ret) {
		log_error("%s", err);
		goto out;
	}
	ret = http_start(&d, cfg.socket, &http, err);
	if (ret) {
		log_error("%s", err);
		goto out;
	}
	log_info("listening on %s", cfg.socket);
	admin_socket_path(&cfg, admin_path, sizeof(admin_path));
	/* Key management and metrics are extras: the engine's socket serves without them. */
	if (admin_start(&d, admin_path, &admin, err))
		log_error("%s", err);
	if (metrics_parse_peers(cfg.metrics_peers, &metrics_peers, err) ||
	    metrics_start(&d, cfg.metrics_addr, metrics_peers, &metrics, err))
		log_error("%s; no metrics", err);
	if (monitor_start(&d, &monitor, err))
		log_error("%s; first handshakes are not logged", err);
	log_info("signal %d: stopping", wait_for_signal());
out:
	monitor_stop(monitor);
	metrics_stop(metrics);
	admin_stop(admin);
	http_stop(http);
	engine_stop(engine);
	cluster_stop(cluster);
	backend_userspace_finalise();
	wgd_destroy(&d);
	return ret ? 1 : 0;
}

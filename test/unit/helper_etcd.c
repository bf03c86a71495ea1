// SPDX-License-Identifier: MIT
#include "helper_etcd.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SERVERS_MAX    8
#define START_WAIT_MS  15000
#define PROXY_CONN_MAX 32

/* Servers to clean up when the test binary ends, however it ends. */
static struct etcd_server *live[SERVERS_MAX];

void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void server_kill(struct etcd_server *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
	}
	s->pid = 0;
}

static void cleanup_all(void)
{
	for (int i = 0; i < SERVERS_MAX; i++)
		if (live[i])
			etcd_server_destroy(live[i]);
}

static void on_fatal_signal(int sig)
{
	cleanup_all();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void track(struct etcd_server *s)
{
	static bool installed;
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGSEGV, SIGBUS, SIGABRT };

	if (!installed) {
		installed = true;
		atexit(cleanup_all);
		for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
			signal(sigs[i], on_fatal_signal);
		if (__sanitizer_set_death_callback)
			__sanitizer_set_death_callback(cleanup_all);
	}
	for (int i = 0; i < SERVERS_MAX; i++) {
		if (!live[i]) {
			live[i] = s;
			return;
		}
	}
}

static void untrack(struct etcd_server *s)
{
	for (int i = 0; i < SERVERS_MAX; i++)
		if (live[i] == s)
			live[i] = NULL;
}

/* Below the kernel's ephemeral range (32768 and up by default): no bind(0) elsewhere and no
 * outgoing connection's source port takes it while a server restarts, which also rules out a
 * client connecting to itself on a port nobody listens on. */
unsigned etcd_server_free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	static unsigned seed;

	if (!seed)
		seed = (unsigned)getpid() ^ (unsigned)time(NULL);
	for (int tries = 0; tries < 200; tries++) {
		unsigned port = 20000 + (unsigned)rand_r(&seed) % 12000;
		int fd = socket(AF_INET, SOCK_STREAM, 0), rc;

		if (fd < 0)
			return 0;
		sa.sin_port = htons((uint16_t)port);
		rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
		close(fd);
		if (!rc)
			return port;
	}
	return 0;
}

struct answer {
	char text[1024];
	size_t len;
};

static size_t keep(char *p, size_t size, size_t n, void *arg)
{
	struct answer *a = arg;
	size_t room = sizeof(a->text) - 1 - a->len;

	n *= size;
	memcpy(a->text + a->len, p, n < room ? n : room);
	a->len += n < room ? n : room;
	a->text[a->len] = '\0';
	return n;
}

/* POSTs BODY to PATH of S; the HTTP status, or 0 when nothing answered. The answer's start goes
 * to ANSWER (may be NULL). */
static long post(const struct etcd_server *s, const char *path, const char *body,
		 struct answer *answer)
{
	struct answer ignored = { .len = 0 };
	char url[128];
	long status = 0;
	CURL *h = curl_easy_init();

	if (!h)
		return 0;
	answer = answer ? answer : &ignored;
	answer->len = 0;
	answer->text[0] = '\0';
	snprintf(url, sizeof(url), "%s%s", s->endpoint, path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, answer);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 1000L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (s->flags & ETCD_SERVER_TLS) {
		curl_easy_setopt(h, CURLOPT_CAINFO, s->ca);
		curl_easy_setopt(h, CURLOPT_SSLCERT, s->cert);
		curl_easy_setopt(h, CURLOPT_SSLKEY, s->key);
	}
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	return status;
}

static int run(const char *cmd)
{
	int rc = system(cmd);

	if (rc) {
		fprintf(stderr, "  helper_etcd: failed (%d): %s\n", rc, cmd);
		return -1;
	}
	return 0;
}

/* A CA in DIR/NAME.{crt,key}. */
static int make_ca(const char *dir, const char *name)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		 "-keyout %s/%s.key -out %s/%s.crt -days 2 -subj /CN=%s >/dev/null 2>&1",
		 dir, name, dir, name, name);
	return run(cmd);
}

/* DIR/NAME.{crt,key} signed by DIR/CA with SUBJECT and the extensions EXT. */
static int make_cert(const char *dir, const char *ca, const char *name, const char *subject,
		     const char *ext)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd),
		 "cd %s && printf '%s\\n' > %s.ext && "
		 "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		 "-keyout %s.key -out %s.csr -subj %s >/dev/null 2>&1 && "
		 "openssl x509 -req -in %s.csr -CA %s.crt -CAkey %s.key -CAcreateserial "
		 "-out %s.crt -days 2 -extfile %s.ext >/dev/null 2>&1",
		 dir, ext, name, name, name, subject, name, ca, ca, name, name);
	return run(cmd);
}

/* Server and client certificates. The client's has no CN, which etcd's gateway refuses with RBAC
 * on (multihost.md 3.8); the server's is also for clients, as etcd 3.4's gateway presents it when
 * it dials etcd's own gRPC port. */
static int make_certs(struct etcd_server *s)
{
	if (make_ca(s->dir, "ca") || make_ca(s->dir, "other-ca") ||
	    make_cert(s->dir, "ca", "server", "/CN=127.0.0.1",
		      "subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth,clientAuth") ||
	    make_cert(s->dir, "ca", "client", "/O=wgnet", "extendedKeyUsage=clientAuth") ||
	    make_cert(s->dir, "other-ca", "other-client", "/O=wgnet",
		      "extendedKeyUsage=clientAuth"))
		return -1;
	snprintf(s->ca, sizeof(s->ca), "%s/ca.crt", s->dir);
	snprintf(s->other_ca, sizeof(s->other_ca), "%s/other-ca.crt", s->dir);
	snprintf(s->cert, sizeof(s->cert), "%s/client.crt", s->dir);
	snprintf(s->key, sizeof(s->key), "%s/client.key", s->dir);
	snprintf(s->other_cert, sizeof(s->other_cert), "%s/other-client.crt", s->dir);
	snprintf(s->other_key, sizeof(s->other_key), "%s/other-client.key", s->dir);
	return 0;
}

static void exec_etcd(const struct etcd_server *s)
{
	char data[96], log[96], client[64], peer[64], cluster[96], cert[96], key[96], token[96];
	const char *scheme = s->flags & ETCD_SERVER_TLS ? "https" : "http";
	const char *argv[32];
	int n = 0, fd;

	snprintf(data, sizeof(data), "%s/data", s->dir);
	snprintf(log, sizeof(log), "%s/etcd.log", s->dir);
	snprintf(client, sizeof(client), "%s://127.0.0.1:%u", scheme, s->port);
	snprintf(peer, sizeof(peer), "http://127.0.0.1:%u", s->peer_port);
	snprintf(cluster, sizeof(cluster), "t=%s", peer);
	/* Member IDs differ from one server to the next: spawn() knows its own by it. */
	snprintf(token, sizeof(token), "--initial-cluster-token=%s", s->dir);
	snprintf(cert, sizeof(cert), "%s/server.crt", s->dir);
	snprintf(key, sizeof(key), "%s/server.key", s->dir);
	/* etcd dies with the test, whatever kills the test. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	/* Nothing of the test's goes along: a socket the proxy or a client closes must close. */
	close_range(3, ~0u, 0);
	argv[n++] = "etcd";
	argv[n++] = "--name=t";
	argv[n++] = "--data-dir";
	argv[n++] = data;
	argv[n++] = "--listen-client-urls";
	argv[n++] = client;
	argv[n++] = "--advertise-client-urls";
	argv[n++] = client;
	argv[n++] = "--listen-peer-urls";
	argv[n++] = peer;
	argv[n++] = "--initial-advertise-peer-urls";
	argv[n++] = peer;
	argv[n++] = "--initial-cluster";
	argv[n++] = cluster;
	argv[n++] = token;
	argv[n++] = "--enable-v2=false";
	/* One member elects itself sooner with short ticks. */
	argv[n++] = "--heartbeat-interval=10";
	argv[n++] = "--election-timeout=100";
	if (s->flags & ETCD_SERVER_TLS) {
		argv[n++] = "--cert-file";
		argv[n++] = cert;
		argv[n++] = "--key-file";
		argv[n++] = key;
		argv[n++] = "--trusted-ca-file";
		argv[n++] = s->ca;
		argv[n++] = "--client-cert-auth";
	}
	argv[n] = NULL;
	execvp("etcd", (char **)argv);
	_exit(127);
}

static int64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Whether the status answer A comes from S's own member: the first answer sets which that is. */
static bool is_member(struct etcd_server *s, const struct answer *a)
{
	const char *id = strstr(a->text, "\"member_id\":\"");
	size_t len;

	if (!id)
		return false;
	id += 13;
	len = strcspn(id, "\"");
	if (!s->member_id[0] && len < sizeof(s->member_id))
		snprintf(s->member_id, sizeof(s->member_id), "%.*s", (int)len, id);
	return strlen(s->member_id) == len && !strncmp(s->member_id, id, len);
}

static int spawn(struct etcd_server *s)
{
	int64_t until = ms_now() + START_WAIT_MS;
	struct answer a;
	char cmd[128];
	int status;

	s->pid = fork();
	if (s->pid < 0) {
		s->pid = 0;
		return -1;
	}
	if (!s->pid)
		exec_etcd(s);
	while (ms_now() < until) {
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			s->pid = 0;
			break;
		}
		if (post(s, "/v3/maintenance/status", "{}", &a) == 200 && is_member(s, &a) &&
		    waitpid(s->pid, &status, WNOHANG) == 0)
			return 0;
		usleep(20 * 1000);
	}
	fprintf(stderr, "  helper_etcd: etcd on port %u did not answer; its log ends with:\n",
		s->port);
	snprintf(cmd, sizeof(cmd), "tail -n 5 %s/etcd.log >&2", s->dir);
	if (system(cmd))
		fprintf(stderr, "  (no log)\n");
	server_kill(s);
	return -1;
}

int etcd_server_start(struct etcd_server *s, unsigned flags)
{
	memset(s, 0, sizeof(*s));
	s->flags = flags;
	snprintf(s->dir, sizeof(s->dir), "/tmp/etcd-unit.XXXXXX");
	if (!mkdtemp(s->dir)) {
		fprintf(stderr, "  helper_etcd: mkdtemp: %s\n", strerror(errno));
		s->dir[0] = '\0';
		return -1;
	}
	track(s);
	s->port = etcd_server_free_port();
	s->peer_port = etcd_server_free_port();
	snprintf(s->endpoint, sizeof(s->endpoint), "%s://127.0.0.1:%u",
		 flags & ETCD_SERVER_TLS ? "https" : "http", s->port);
	if ((flags & ETCD_SERVER_TLS) && make_certs(s))
		goto err_destroy;
	if (spawn(s))
		goto err_destroy;
	return 0;

err_destroy:
	etcd_server_destroy(s);
	return -1;
}

int etcd_server_restart(struct etcd_server *s)
{
	server_kill(s);
	return spawn(s);
}

/* Whether every thread of PID is stopped: kill() returns before they are. */
static bool all_stopped(pid_t pid)
{
	char path[320], line[512];
	bool stopped = true;
	struct dirent *d;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		return false;
	while (stopped && (d = readdir(dir))) {
		const char *state;
		FILE *f;

		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/stat", (int)pid, d->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		state = fgets(line, sizeof(line), f) ? strrchr(line, ')') : NULL;
		stopped = state && state[1] == ' ' && (state[2] == 'T' || state[2] == 't');
		fclose(f);
	}
	closedir(dir);
	return stopped;
}

void etcd_server_signal(const struct etcd_server *s, int sig)
{
	int64_t until = ms_now() + 1000;

	if (s->pid <= 0)
		return;
	kill(s->pid, sig);
	while (sig == SIGSTOP && !all_stopped(s->pid) && ms_now() < until)
		usleep(1000);
}

int etcd_server_enable_auth(const struct etcd_server *s, const char *password)
{
	char user[256], escaped[128];
	size_t n = 0;

	for (const char *p = password; *p && n + 2 < sizeof(escaped); p++) {
		if (*p == '"' || *p == '\\')
			escaped[n++] = '\\';
		escaped[n++] = *p;
	}
	escaped[n] = '\0';
	snprintf(user, sizeof(user), "{\"name\":\"root\",\"password\":\"%s\"}", escaped);
	if (post(s, "/v3/auth/role/add", "{\"name\":\"root\"}", NULL) != 200 ||
	    post(s, "/v3/auth/user/add", user, NULL) != 200 ||
	    post(s, "/v3/auth/user/grant", "{\"user\":\"root\",\"role\":\"root\"}", NULL) != 200 ||
	    post(s, "/v3/auth/enable", "{}", NULL) != 200) {
		fprintf(stderr, "  helper_etcd: enabling auth failed\n");
		return -1;
	}
	return 0;
}

void etcd_server_destroy(struct etcd_server *s)
{
	server_kill(s);
	if (s->dir[0])
		nftw(s->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	s->dir[0] = '\0';
	untrack(s);
}

struct tcp_proxy {
	int listen_fd, wake[2];
	unsigned target;
	pthread_t thread;
	pthread_mutex_t lock;
	bool block, stop;
	int pairs[PROXY_CONN_MAX][2]; /* client, server; -1 when unused */
};

static void pair_close(struct tcp_proxy *p, int i)
{
	for (int j = 0; j < 2; j++) {
		if (p->pairs[i][j] >= 0)
			close(p->pairs[i][j]);
		p->pairs[i][j] = -1;
	}
}

static void proxy_accept(struct tcp_proxy *p, bool block)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)p->target),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int c = accept4(p->listen_fd, NULL, NULL, SOCK_CLOEXEC), u;

	if (c < 0)
		return;
	u = block ? -1 : socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (u < 0 || connect(u, (struct sockaddr *)&sa, sizeof(sa))) {
		if (u >= 0)
			close(u);
		close(c);
		return;
	}
	for (int i = 0; i < PROXY_CONN_MAX; i++) {
		if (p->pairs[i][0] < 0) {
			p->pairs[i][0] = c;
			p->pairs[i][1] = u;
			return;
		}
	}
	close(u);
	close(c);
}

/* Copies what FROM has to TO; false when either is closed. */
static bool relay(int from, int to)
{
	char buf[16384];
	ssize_t n = read(from, buf, sizeof(buf)), off = 0;

	if (n <= 0)
		return false;
	while (off < n) {
		ssize_t w = send(to, buf + off, (size_t)(n - off), MSG_NOSIGNAL);

		if (w <= 0)
			return false;
		off += w;
	}
	return true;
}

static void *proxy_main(void *arg)
{
	struct tcp_proxy *p = arg;

	for (;;) {
		struct pollfd fds[2 + 2 * PROXY_CONN_MAX];
		int idx[2 + 2 * PROXY_CONN_MAX], n = 2;
		bool block;

		pthread_mutex_lock(&p->lock);
		block = p->block;
		if (p->stop) {
			pthread_mutex_unlock(&p->lock);
			break;
		}
		for (int i = 0; i < PROXY_CONN_MAX; i++)
			if (block && p->pairs[i][0] >= 0)
				pair_close(p, i);
		pthread_mutex_unlock(&p->lock);
		fds[0] = (struct pollfd){ .fd = p->listen_fd, .events = POLLIN };
		fds[1] = (struct pollfd){ .fd = p->wake[0], .events = POLLIN };
		for (int i = 0; i < PROXY_CONN_MAX; i++) {
			for (int j = 0; j < 2 && p->pairs[i][0] >= 0; j++) {
				idx[n] = i * 2 + j;
				fds[n++] =
					(struct pollfd){ .fd = p->pairs[i][j], .events = POLLIN };
			}
		}
		if (poll(fds, (nfds_t)n, 1000) <= 0)
			continue;
		if (fds[1].revents) {
			char c;

			if (read(p->wake[0], &c, 1) < 0)
				continue;
		}
		if (fds[0].revents)
			proxy_accept(p, block);
		for (int k = 2; k < n; k++) {
			int i = idx[k] / 2, j = idx[k] % 2;

			if (fds[k].revents && p->pairs[i][0] >= 0 &&
			    !relay(p->pairs[i][j], p->pairs[i][1 - j]))
				pair_close(p, i);
		}
	}
	return NULL;
}

int tcp_proxy_start(unsigned target, struct tcp_proxy **out, unsigned *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	struct tcp_proxy *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (!p)
		return -1;
	for (int i = 0; i < PROXY_CONN_MAX; i++)
		p->pairs[i][0] = p->pairs[i][1] = -1;
	p->target = target;
	pthread_mutex_init(&p->lock, NULL);
	p->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (p->listen_fd < 0 || bind(p->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(p->listen_fd, 16) || getsockname(p->listen_fd, (struct sockaddr *)&sa, &len) ||
	    pipe2(p->wake, O_CLOEXEC) || pthread_create(&p->thread, NULL, proxy_main, p)) {
		fprintf(stderr, "  helper_etcd: proxy: %s\n", strerror(errno));
		if (p->listen_fd >= 0)
			close(p->listen_fd);
		free(p);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	*out = p;
	return 0;
}

static void proxy_set(struct tcp_proxy *p, bool block, bool stop)
{
	pthread_mutex_lock(&p->lock);
	p->block = block;
	p->stop = stop;
	pthread_mutex_unlock(&p->lock);
	if (write(p->wake[1], "x", 1) < 0)
		fprintf(stderr, "  helper_etcd: proxy: %s\n", strerror(errno));
}

void tcp_proxy_block(struct tcp_proxy *p, bool block)
{
	proxy_set(p, block, false);
	/* Let the proxy thread act before the caller goes on. */
	usleep(50 * 1000);
}

void tcp_proxy_stop(struct tcp_proxy *p)
{
	if (!p)
		return;
	proxy_set(p, true, true);
	pthread_join(p->thread, NULL);
	for (int i = 0; i < PROXY_CONN_MAX; i++)
		pair_close(p, i);
	close(p->listen_fd);
	close(p->wake[0]);
	close(p->wake[1]);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

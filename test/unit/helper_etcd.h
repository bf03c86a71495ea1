/* SPDX-License-Identifier: MIT */
/* A real etcd (Debian's etcd-server) for unit tests: one member on 127.0.0.1 with free ports and
 * a temporary directory, optionally with TLS (certificates made with openssl at test time) or
 * with a root user and auth on. Every server still running is killed and its directory removed at
 * exit, on a fatal signal and when a sanitizer aborts; etcd itself dies with the test process. */
#ifndef HELPER_ETCD_H
#define HELPER_ETCD_H

#include <stdbool.h>
#include <sys/types.h>

#define ETCD_SERVER_TLS 1u /* https, --client-cert-auth, certificates in dir */

struct etcd_server {
	pid_t pid; /* 0 when not running */
	unsigned flags;
	unsigned port, peer_port;
	char dir[64];		/* data, log and certificates */
	char member_id[32];	/* what its status says, to know it from another etcd */
	char endpoint[64];	/* "http://127.0.0.1:PORT" (https with TLS) */
	char ca[96];		/* the CA that signed the server's and client's certificates */
	char other_ca[96];	/* a CA that signed nothing of this server */
	char cert[96], key[96]; /* client certificate without a CN, and its key */
	char other_cert[96], other_key[96]; /* a client certificate signed by other_ca */
};

/* Starts S (filled in here) and waits until it answers; 0 or -1 with the reason on stderr. */
int etcd_server_start(struct etcd_server *s, unsigned flags);
/* Kills S (SIGKILL, as a crash) and starts it again on the same directory and ports. */
int etcd_server_restart(struct etcd_server *s);
/* Sends SIG to S (SIGSTOP, SIGCONT); SIGSTOP returns once every thread of etcd has stopped. */
void etcd_server_signal(const struct etcd_server *s, int sig);
/* Adds user "root" with PASSWORD and the root role, then enables auth, through the gateway. */
int etcd_server_enable_auth(const struct etcd_server *s, const char *password);
/* Kills S and removes its directory (a stopped or zeroed S is fine). */
void etcd_server_destroy(struct etcd_server *s);
/* A free TCP port on 127.0.0.1 (nothing listens there afterwards, barring a race). */
unsigned etcd_server_free_port(void);

struct tcp_proxy;

/* Forwards connections from 127.0.0.1:*PORT (chosen here) to 127.0.0.1:TARGET on a thread of its
 * own, in a new proxy (free with tcp_proxy_stop). */
int tcp_proxy_start(unsigned target, struct tcp_proxy **out, unsigned *port);
/* BLOCK: closes every forwarded connection and closes new ones at once; !BLOCK: forwards again. */
void tcp_proxy_block(struct tcp_proxy *p, bool block);
/* Stops P, closing everything (NULL is fine). */
void tcp_proxy_stop(struct tcp_proxy *p);

#endif

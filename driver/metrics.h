/* SPDX-License-Identifier: MIT */
/*
 * Prometheus metrics (METRICS_ADDR): GET /metrics answers the text exposition format 0.0.4 with
 *   wireguard_sent_bytes_total, wireguard_received_bytes_total, wireguard_latest_handshake_seconds
 *       per peer of each endpoint, labelled network, network_id, container, endpoint, identity,
 *       peer_identity, peer_container, peer_kind; unless METRICS_PEERS=off (a full mesh of N
 *       endpoints has N * (N - 1) peers: 119,533 series at 200)
 *   wireguard_endpoint_peers, wireguard_endpoint_sent_bytes, wireguard_endpoint_received_bytes,
 *   wireguard_endpoint_latest_handshake_seconds  per endpoint over its link's peers, labelled
 *       network, network_id, container, endpoint, identity (gauges: a peer that goes takes its
 *       bytes with it)
 *   wireguard_endpoints{network, network_id, backend}, wireguard_outside_peers{network, network_id}
 *   wireguard_peers{network, network_id, link}  peers of the endpoints by link state
 *   wireguard_api_requests_total{route, result}, wireguard_api_request_duration_seconds{route}
 *   wireguard_store_up, wireguard_store_hosts{state}  when the host has a cluster store
 * Every figure is read when scraped (status.h); nothing secret is in it. Served on a TCP address
 * of its own, apart from the engine's socket and wgctl's.
 */
#ifndef METRICS_H
#define METRICS_H

#include <stdbool.h>

struct metrics;
struct wgd;

/* METRICS_PEERS: NULL, "" or "on" (the per-peer series) or "off" into *PEERS; -EINVAL with ERR
 * naming the setting otherwise. */
int metrics_parse_peers(const char *value, bool *peers, char *err);
/* Serves the metrics of daemon D on ADDR ("127.0.0.1:9586", "[::1]:9586"; NULL or "": off) on a
 * thread of its own, into *OUT (NULL when off), with the per-peer series when PEERS. -EINVAL with
 * ERR naming METRICS_ADDR when ADDR is no numeric address and port. */
int metrics_start(struct wgd *d, const char *addr, bool peers, struct metrics **out, char *err);
/* Stops serving. Accepts NULL. */
void metrics_stop(struct metrics *m);

#endif

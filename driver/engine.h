/* SPDX-License-Identifier: MIT */
/*
 * The engine resolver, for compose 1.x and `docker run --link`, which cannot set endpoint driver
 * options. Given the engine's API socket, it finds the container behind each endpoint that has no
 * wg.* option and takes the container's links (compose links:, --link) as wg links and its labels
 * wireguard.key and wireguard.links as the endpoint's key and links (endpoint_resolve). Until
 * then the endpoint has no peers. For every joined endpoint it also learns the names of its
 * container and network, which the logs, wgctl show and the metrics give beside the IDs.
 *
 * It runs on its own thread, after Join and never inside a handler: the engine holds the
 * container's lock while it starts it and calls the driver, so the container cannot be inspected
 * before the start is over. It never calls the engine while it holds the API lock.
 */
#ifndef ENGINE_H
#define ENGINE_H

#define ENGINE_LABEL_KEY   "wireguard.key"
#define ENGINE_LABEL_LINKS "wireguard.links"

struct engine;
struct wgd;

/* A container inspect waits for the container's start to end, which waits for our Join. */
#define ENGINE_TIMEOUT_MS 30000
/* An inspect answer is some KiB; a network's lists its containers. jansson needs about 80 times
 * the text in memory for a hostile one, so the bound is what keeps that small. */
#define ENGINE_REPLY_MAX (1 << 20)

/* Starts the resolver of daemon D for the engine API socket PATH into *OUT (new, stop with
 * engine_stop) and queues every joined endpoint that waits. Without a socket at PATH (NULL, "", a
 * missing file or another kind of file, such as the plugin's default /dev/null) there is no
 * resolver (*OUT NULL): endpoints never wait, and the reason is logged. Every call to the engine
 * is bounded (connect, send and answer within ENGINE_TIMEOUT_MS, an answer of at most
 * ENGINE_REPLY_MAX bytes). Called without D's lock. */
int engine_start(struct wgd *d, const char *path, struct engine **out, char *err);
/* Stops the resolver, interrupting a call to the engine in progress. Accepts NULL. */
void engine_stop(struct engine *e);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * The engine resolver, for compose 1.x and `docker run --link`, which cannot set endpoint driver
 * options. Given the engine's API socket, it finds the container behind each endpoint that has no
 * wg.* option and takes the container's links (compose links:, --link) as wg links and its labels
 * wireguard.key and wireguard.links as the endpoint's key and links (endpoint_resolve). Until
 * then the endpoint has no peers.
 *
 * It runs on its own thread, after Join and never inside a handler: the engine holds the
 * container's lock while it starts it and calls the driver, so the container cannot be inspected
 * before the start is over. It never calls the engine while it holds the API lock.
 */
#ifndef ENGINE_H
#define ENGINE_H

#define ENGINE_LABEL_KEY   "wireguard.key"
#define ENGINE_LABEL_LINKS "wireguard.links"

/* Starts the resolver for the engine API socket PATH and queues every joined endpoint that waits.
 * Without a socket at PATH (NULL, "", a missing file or another kind of file, such as the
 * plugin's default /dev/null) there is no resolver: endpoints never wait, and the reason is
 * logged. */
int engine_start(const char *path, char *err);
/* Stops the resolver, interrupting a call to the engine in progress. Accepts a stopped one. */
void engine_stop(void);

#endif

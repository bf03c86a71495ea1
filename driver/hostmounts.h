/* SPDX-License-Identifier: MIT */
/*
 * What a managed plugin sees of the host. The engine bind-mounts a plugin's mounts when it starts
 * the plugin and does not create a missing source: the enable fails, and an engine that fails to
 * enable a network plugin at boot (Docker 20.10 and 26 both) panics and never starts. So
 * plugin/config.json mounts only directories that exist whenever the engine starts its plugins:
 * the engine's exec-root, which the engine creates first, and the host's /var/lib. At start the
 * daemon makes what it needs inside them (netns/, which libnetwork creates only with the first
 * sandbox; docker-wireguard/ for the state), binds just those where it uses them and detaches the
 * rest, so that the running daemon sees neither containerd's socket in the exec-root nor the rest
 * of /var/lib.
 *
 * Managed plugin only: the binds change the mount namespace the daemon runs in.
 */
#ifndef HOSTMOUNTS_H
#define HOSTMOUNTS_H

#define HOSTMOUNTS_STATE_NAME "docker-wireguard"
#define HOSTMOUNTS_NETNS_NAME "netns"

/* Makes PARENT/docker-wireguard (created 0700) the state directory: binds it on TARGET and
 * detaches PARENT. A PARENT that is a state directory itself (networks/ and keys/ at its top: in
 * earlier builds state.source named the state directory) is bound as it is. */
int hostmounts_state(const char *parent, const char *target, char *err);
/* Binds EXEC_ROOT/netns (created 0755 when missing, as libnetwork does) on TARGET, with the
 * sandboxes mounted there now and, by slave propagation, later; then detaches EXEC_ROOT. */
int hostmounts_netns(const char *exec_root, const char *target, char *err);

#endif

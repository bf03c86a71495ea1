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

#include <stdbool.h>

#define HOSTMOUNTS_STATE_NAME "docker-wireguard"
#define HOSTMOUNTS_NETNS_NAME "netns"

/* Makes PARENT/docker-wireguard (created 0700) the state directory: binds it on TARGET and
 * detaches PARENT. A PARENT that is a state directory itself (networks/ and keys/ at its top: in
 * earlier builds state.source named the state directory) is bound as it is. */
int hostmounts_state(const char *parent, const char *target, char *err);
/* Binds EXEC_ROOT/netns (created 0755 when missing, as libnetwork does) on TARGET, with the
 * sandboxes mounted there now and, by slave propagation, later; then detaches EXEC_ROOT. */
int hostmounts_netns(const char *exec_root, const char *target, char *err);

/* The files of the etcd mount the daemon uses: the CA, the client certificate and key, the
 * cluster secret. */
#define HOSTMOUNTS_ETCD_FILES                                                \
	{                                                                    \
		"ca.crt", "client.crt", "client.key", "cluster.secret", NULL \
	}

/* Copies the etcd files found at the top of MOUNTED (the etcd mount: the directory etcd.source
 * names, or /var/lib when unset, which has none of them) into a tmpfs mounted on TARGET (0700,
 * files 0600) and detaches MOUNTED: the running daemon keeps the certificates and the secret in
 * memory only and sees nothing else of the host. *FOUND tells whether any file was there. */
int hostmounts_etcd(const char *mounted, const char *target, bool *found, char *err);

#endif

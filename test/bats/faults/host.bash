# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# Fault suite, host level: a simulated host (scripts/lib-engine.sh host_start): dockerd with the
# paths of a fresh install in a mount namespace of its own, whose /run is empty at every start as
# after a boot, and the managed plugin installed with its default settings. Nothing is prepared
# for the plugin: no state directory, no exec-root/netns.

# shellcheck source=docker.bash
source "$(dirname "${BASH_SOURCE[0]}")/docker.bash"

# host_setup_file [daemon.json]: starts the host (optionally with that engine configuration).
host_setup_file()
{
	[ "$(id -u)" -eq 0 ] || { echo "the fault suite needs root" >&2; return 1; }
	[ -f "$PLUGIN_DIR/config.json" ] || { echo "no $PLUGIN_DIR: run make plugin" >&2; return 1; }
	WGT_DIR=$(mktemp -d /tmp/wgh.XXXXXX)
	# The engine's log is where the docker helpers look for it.
	export WGT_DIR WGT_HOST=$WGT_DIR WGT_ENGINE=$WGT_DIR
	export WGT_STATE=$WGT_HOST/var-lib/docker-wireguard
	[ -z "${1:-}" ] || echo "$1" >"$WGT_HOST/daemon.json"
	host_start "$WGT_HOST"
	engine_import_busybox "$IMAGE"
}

host_teardown_file()
{
	[ -n "${WGT_HOST:-}" ] || return 0
	# Bounded, as docker_teardown_file: a stuck engine is stopped all the same.
	if [ -S "$WGT_HOST/docker.sock" ]; then
		docker ps -aq | xargs -r timeout 120 docker rm -f >/dev/null 2>&1
		timeout 60 docker plugin disable -f "$PLUGIN" >/dev/null 2>&1
		timeout 60 docker plugin rm -f "$PLUGIN" >/dev/null 2>&1
	fi
	host_stop "$WGT_HOST"
}

# plugin_install [SETTING...]: docker plugin create, the settings, enable: as a user installs it.
plugin_install()
{
	docker plugin create "$PLUGIN" "$PLUGIN_DIR" >/dev/null
	[ $# -eq 0 ] || docker plugin set "$PLUGIN" "$@"
	docker plugin enable "$PLUGIN" >/dev/null
	plugin_refresh
}

# in_host TEST-ARGS...: test(1) inside the host's mount namespace.
in_host() { host_exec "$WGT_HOST" test "$@"; }

# engine_panicked: the engine's log has a Go panic or a plugin it could not enable.
engine_panicked() { grep -E '^panic:|failed to enable plugin' "$WGT_HOST/dockerd.log"; }

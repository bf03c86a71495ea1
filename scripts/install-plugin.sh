#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Usage: [PLUGIN_SETTINGS="state.source=/path ..."] scripts/install-plugin.sh PLUGIN_DIR NAME:TAG
# Creates the managed plugin from PLUGIN_DIR (config.json + rootfs/, see scripts/mkplugin.sh) on the
# engine at $DOCKER_HOST (default: the local one), replacing an older plugin of the same name, then
# applies PLUGIN_SETTINGS with `docker plugin set` and enables it.
set -euo pipefail

if [ $# -ne 2 ] || [[ $2 != *:* ]]; then
	echo "usage: $0 PLUGIN_DIR NAME:TAG" >&2
	exit 2
fi
dir=$1 ref=$2
if [ ! -f "$dir/config.json" ] || [ ! -d "$dir/rootfs" ]; then
	echo "install-plugin: $dir: no config.json and rootfs/ (run: make plugin)" >&2
	exit 1
fi
read -r -a settings <<<"${PLUGIN_SETTINGS:-}"

if docker plugin inspect "$ref" >/dev/null 2>&1; then
	echo "install-plugin: replacing $ref"
	docker plugin disable -f "$ref" >/dev/null 2>&1 || true
	docker plugin rm -f "$ref" >/dev/null
fi

docker plugin create "$ref" "$dir" >/dev/null
if [ ${#settings[@]} -gt 0 ]; then
	docker plugin set "$ref" "${settings[@]}"
fi
docker plugin enable "$ref" >/dev/null

cat <<EOF
install-plugin: $ref is enabled. A managed plugin is addressed by name and tag:
  docker network create -d $ref NET
  docker run --rm --network NET busybox ip -o link
Settings (only while disabled), e.g.:
  docker plugin set $ref state.source=/srv exec-root.source=/var/run/docker
  docker plugin set $ref WG_BACKEND=userspace LOG_LEVEL=debug
EOF

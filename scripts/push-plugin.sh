#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Usage: scripts/push-plugin.sh PLUGIN_DIR HOST[:PORT]/NAME:TAG
# Pushes the managed plugin in PLUGIN_DIR (config.json + rootfs/, see scripts/mkplugin.sh) to a
# registry through the engine at $DOCKER_HOST (default: the local one): `docker plugin create`
# under the registry's name, `docker plugin push`, and the local copy removed again, so that the
# engine keeps only the plugins it had. Users then install it with `docker plugin install`.
set -euo pipefail

if [ $# -ne 2 ] || [[ $2 != */*:* ]]; then
	echo "usage: $0 PLUGIN_DIR HOST[:PORT]/NAME:TAG" >&2
	exit 2
fi
dir=$1 ref=$2
if [ ! -f "$dir/config.json" ] || [ ! -d "$dir/rootfs" ]; then
	echo "push-plugin: $dir: no config.json and rootfs/ (run: make plugin)" >&2
	exit 1
fi

# A plugin of that name here may be one this engine runs: never ours to remove.
if docker plugin inspect "$ref" >/dev/null 2>&1; then
	echo "push-plugin: this engine has a plugin named $ref already; push from another" \
		"engine (DOCKER_HOST), or remove it (docker plugin rm $ref)" >&2
	exit 1
fi
# The engine (20.10 and 26.1) stores a plugin's layer once and refuses a second plugin whose
# rootfs is the very same (`content sha256:...: already exists`), such as the one make install
# created from this build/plugin. The plugin is created from a copy made now: its files' times,
# and so its layer, are its own.
copy=$(mktemp -d)
trap 'rm -rf "$copy"' EXIT
cp -R --preserve=mode,ownership,links "$dir/config.json" "$dir/rootfs" "$copy/"
if ! out=$(docker plugin create "$ref" "$copy" 2>&1); then
	echo "push-plugin: docker plugin create $ref: $out" >&2
	exit 1
fi
trap 'docker plugin rm -f "$ref" >/dev/null 2>&1 || true; rm -rf "$copy"' EXIT
docker plugin push "$ref"
echo "push-plugin: pushed $ref; install it with:"
name=${ref##*/}
echo "  docker plugin install --grant-all-permissions --alias ${name%:*}:latest $ref"

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Usage: scripts/mkplugin.sh BUILD_DIR OUT_DIR
# Builds a managed-plugin directory (OUT_DIR/config.json + OUT_DIR/rootfs/) from
# BUILD_DIR/wireguard-driver and wireguard-go with the shared libraries both need.
# No registry and no docker build: `docker plugin create NAME OUT_DIR` takes it as is.
# The wireguard-go is Debian 13's 0.0.20231211 (vectorized I/O and TUN offloads: 3.5 times the
# throughput of Debian 12's here; it needs glibc 2.34), pinned in scripts/debs.lock and fetched
# by checksum (scripts/debfetch.sh, DEB_CACHE). WIREGUARD_GO=PATH ships another one, such as
# Debian 12's: WIREGUARD_GO=/usr/bin/wireguard-go make plugin.
set -euo pipefail

if [ $# -ne 2 ]; then
	echo "usage: $0 BUILD_DIR OUT_DIR" >&2
	exit 2
fi
build=$1 out=$2
repo=$(cd "$(dirname "$0")/.." && pwd)
driver=$build/wireguard-driver
if [ -n "${WIREGUARD_GO:-}" ]; then
	wggo=$WIREGUARD_GO
else
	wggo=$("$repo/scripts/debfetch.sh" --print-dir wireguard-go)/usr/bin/wireguard-go
fi

for f in "$driver" "$wggo"; do
	[ -x "$f" ] || { echo "mkplugin: $f: not found or not executable" >&2; exit 1; }
done

rm -rf "$out"
root=$out/rootfs
# Debian 12 layout (merged /usr), so the paths ldd prints resolve the same inside.
mkdir -p "$root"/usr/{bin,sbin,lib,lib64} "$root"/{etc,tmp,run/wireguard,var/lib/docker-wireguard}
# Where the daemon binds the exec-root's netns/ and, from the host's state mount, its state
# (driver/hostmounts.h); /host/* are the mount points of those two mounts.
mkdir -p "$root"/run/docker/netns "$root"/run/etcd-files "$root"/host/{state,exec-root,etcd}
mkdir -p "$root"/{dev,proc,sys}
ln -s usr/bin "$root/bin"
ln -s usr/sbin "$root/sbin"
ln -s usr/lib "$root/lib"
ln -s usr/lib64 "$root/lib64"
ln -s ../run "$root/var/run"
chmod 1777 "$root/tmp"
chmod 0700 "$root/var/lib/docker-wireguard"

install -m 0755 "$driver" "$root/usr/sbin/wireguard-driver"
install -m 0755 "$wggo" "$root/usr/bin/wireguard-go"

# Every library path ldd resolves (the dynamic loader included), copied to the same path.
libs=$(ldd "$driver" "$wggo" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// && $1 !~ /:$/ { print $1 }' |
       sort -u)
for lib in $libs; do
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
done

echo 'root:x:0:0:root:/:/usr/sbin/nologin' >"$root/etc/passwd"
echo 'root:x:0:' >"$root/etc/group"
echo 'hosts: files' >"$root/etc/nsswitch.conf"
# The engine bind-mounts the host's copies over these for a host-network plugin.
: >"$root/etc/hosts"
: >"$root/etc/resolv.conf"

cp "$repo/plugin/config.json" "$out/config.json"
# What the plugin ships, for bench/run and for whoever inspects the directory.
if dpkg-query -S "$wggo" >/dev/null 2>&1; then
	wggo_version=$(dpkg-query -W -f '${Version}' wireguard-go)
else
	wggo_version=$(basename "$(dirname "$(dirname "$(dirname "$wggo")")")")
	wggo_version=${wggo_version#wireguard-go_}
fi
echo "$wggo_version" >"$out/wireguard-go.version"
echo "mkplugin: $out ($(du -sh "$root" | cut -f1) rootfs, $(wc -w <<<"$libs") libraries," \
     "wireguard-go $wggo_version)"

#!/usr/bin/env bash
# Installs, with apt, what building and testing need on Debian 12. Idempotent and quick when
# everything is already there. Recommends are skipped: wireguard-tools would pull a kernel.
set -eu
pkgs=(build-essential pkg-config libmicrohttpd-dev libjansson-dev libmnl-dev libsodium-dev
      wireguard-go wireguard-tools iproute2 bats busybox-static docker.io iperf3 tcpdump
      clang-format qemu-system-x86 cpio kmod curl jq docker-compose parallel python3 iptables
      etcd-server etcd-client libcurl4-openssl-dev openssl ethtool
      prometheus      # the Docker suite scrapes the plugin's metrics with it
      docker-registry # the Docker suite installs the plugin from a registry it runs on 127.0.0.1
      clang libclang-rt-14-dev) # make fuzz: clang 14 and its libFuzzer (libclang_rt.fuzzer-x86_64.a)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: run as root (or install: ${missing[*]})" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
# etcd, Prometheus and the registry are run by the tests as processes of their own, on their own
# ports: the services their packages enable at install are not left running on a systemd host.
if [ -d /run/systemd/system ]; then
	for p in "${missing[@]}"; do
		case $p in
		etcd-server) systemctl disable --now etcd 2>/dev/null || true ;;
		prometheus) systemctl disable --now prometheus 2>/dev/null || true ;;
		docker-registry) systemctl disable --now docker-registry 2>/dev/null || true ;;
		esac
	done
fi

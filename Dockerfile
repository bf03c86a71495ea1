# SPDX-License-Identifier: MIT
# The plugin rootfs, built where an image registry is reachable (CI here uses scripts/mkplugin.sh,
# which needs none). To turn the image into a managed plugin:
#   docker build -t wireguard-rootfs .
#   mkdir -p plugin-dir/rootfs && cp plugin/config.json plugin-dir/
#   docker export "$(docker create wireguard-rootfs)" | tar -x -C plugin-dir/rootfs
#   docker plugin create wireguard:latest plugin-dir && docker plugin enable wireguard:latest
#   (docker rm the created container afterwards; `docker plugin push` publishes it)
# Like `make plugin`, it ships Debian 13's wireguard-go 0.0.20231211 (TUN offloads), fetched by
# scripts/debfetch.sh at the version and SHA-256 of scripts/debs.lock from the archive of the
# image's own apt sources; it needs glibc 2.34 and Debian 12 has 2.36.

FROM debian:12 AS build
RUN apt-get update && \
    apt-get install -y --no-install-recommends build-essential pkg-config \
	libmicrohttpd-dev libjansson-dev libmnl-dev libsodium-dev libcurl4-openssl-dev && \
    rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
COPY driver/ driver/
COPY keystore/ keystore/
COPY kmod/ kmod/
# No .git here: the build names itself by VERSION (docker build --build-arg VERSION=...).
ARG VERSION=unknown
RUN make -j"$(nproc)" VERSION="$VERSION" build/wireguard-driver && strip build/wireguard-driver

FROM debian:12 AS wireguard-go
# debian-archive-keyring of a current Debian 12 holds the key that signs Debian 13's archive.
RUN apt-get update && \
    apt-get install -y --no-install-recommends ca-certificates debian-archive-keyring && \
    rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY scripts/debfetch.sh scripts/debs.lock scripts/
RUN cp "$(DEB_CACHE=/debs scripts/debfetch.sh --print-dir wireguard-go)/usr/bin/wireguard-go" \
	/wireguard-go && rm -rf /debs

FROM debian:12-slim
RUN apt-get update && \
    apt-get install -y --no-install-recommends libmicrohttpd12 libjansson4 libmnl0 \
	libsodium23 libcurl4 && \
    rm -rf /var/lib/apt/lists/* && \
    mkdir -p -m 0700 /var/lib/docker-wireguard && mkdir -p /run/wireguard && \
    mkdir -p /run/docker/netns /run/etcd-files /host/state /host/exec-root /host/etcd
# The mount points above are those of scripts/mkplugin.sh (driver/hostmounts.h): the plugin's
# mounts land on /host/*, and the daemon binds what it uses of them where it uses it.
COPY --from=build /src/build/wireguard-driver /usr/sbin/wireguard-driver
COPY --from=wireguard-go /wireguard-go /usr/bin/wireguard-go
ENTRYPOINT ["/usr/sbin/wireguard-driver", "--socket", "/run/docker/plugins/wireguard.sock", \
	    "--state-dir", "/var/lib/docker-wireguard"]

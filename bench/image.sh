# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# The iperf3 image for bench/run, made without a registry. Source it; it only defines functions.
#   iperf_image_import TAG   docker import a rootfs holding the host's iperf3, the libraries ldd
#                            lists for it (dynamic loader included) and busybox-static as sh

iperf_image_import()
{
	local tag=$1 root lib app rc

	root=$(mktemp -d)
	mkdir -p "$root"/{bin,usr/bin,etc,proc,sys,dev}
	mkdir -m 1777 "$root/tmp"
	cp /bin/busybox "$root/bin/busybox"
	for app in sh sleep true; do
		ln -s busybox "$root/bin/$app"
	done
	cp /usr/bin/iperf3 "$root/usr/bin/iperf3"
	for lib in $(ldd /usr/bin/iperf3 | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
	echo 'root:x:0:0:root:/:/bin/sh' >"$root/etc/passwd"
	echo 'root:x:0:' >"$root/etc/group"
	rc=0
	tar -C "$root" -c . | docker import -c 'CMD ["/bin/sh"]' - "$tag" >/dev/null || rc=$?
	rm -rf "$root"
	return $rc
}

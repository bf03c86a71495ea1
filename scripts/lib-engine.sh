# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# Private Docker engine and test image, shared by scripts/demo.sh and the Docker bats suite.
# Source it; it only defines functions. The engine gets its own data-root, exec-root, pidfile,
# socket and containerd under one directory, so it never touches an engine the user runs.
#   engine_start DIR     start dockerd under DIR, export DOCKER_HOST, wait until it answers
#   engine_stop DIR      stop that dockerd (and its containerd) by PID, end the containers it
#                        could not stop, unmount and remove DIR
#   engine_diagnose DIR [KEEP]  for an engine that stopped answering: its goroutines (copied to
#                        KEEP), and the known engine deadlock when they show it
#   engine_deadlock FILE whether a goroutine dump FILE shows libnetwork's lock-order deadlock
#   engine_import_busybox TAG   docker import a busybox-static rootfs as TAG
#   plugin_host_pid NAME        PID (host view) of an enabled managed plugin's process
#   engine_restart DIR [SIGNAL] stop dockerd with SIGNAL (TERM: a clean stop, KILL: a crash; its
#                               containers keep running under containerd) and start it again
#   engine_live_restore DIR on|off   live-restore in DIR's daemon.json (next start or SIGHUP)
#   host_start DIR [NETNS]      a simulated host: dockerd with every default path, in a mount
#                               namespace of its own (below); exports DOCKER_HOST
#   host_reboot DIR [crash]     stop it as a shutdown does (or kill everything, with crash), end
#                               what is left, and start it again on an empty /run
#   host_stop DIR               end everything the host runs and remove DIR
#   host_exec DIR CMD...        run CMD inside the host's mount (and network) namespace
#   host_dockerd_pid DIR        the host's dockerd
# ENGINE_BIN: a directory whose dockerd, containerd, containerd-shim-runc-v2 ... are used
# instead of those on PATH (another engine version, scripts/engines.sh).

ENGINE_WAIT_S=${ENGINE_WAIT_S:-60}

engine_start()
{
	local dir=$1

	mkdir -p "$dir/data"
	echo '{}' >"$dir/daemon.json"
	# Sandbox netns files are mounted after the plugin starts; they reach the plugin's
	# /var/run/docker/netns (rslave) only if the host / is shared, as systemd makes it.
	mount --make-rshared /
	engine_launch "$dir"
}

# engine_launch DIR: starts dockerd on DIR as it is and waits until it answers.
engine_launch()
{
	local dir=$1 i

	PATH=${ENGINE_BIN:+$ENGINE_BIN:}$PATH dockerd --config-file "$dir/daemon.json" \
		--data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$dir/dockerd.pid" \
		-H "unix://$dir/docker.sock" --bridge=none --iptables=false --ip-forward=false \
		--ip-masq=false --userland-proxy=false \
		>>"$dir/dockerd.log" 2>&1 </dev/null &
	echo $! >"$dir/dockerd.started"
	export DOCKER_HOST="unix://$dir/docker.sock"
	for ((i = 0; i < ENGINE_WAIT_S * 5; i++)); do
		docker version >/dev/null 2>&1 && return 0
		kill -0 "$(cat "$dir/dockerd.started")" 2>/dev/null || break
		sleep 0.2
	done
	echo "engine_start: dockerd did not answer on $DOCKER_HOST; last log lines:" >&2
	tail -n 20 "$dir/dockerd.log" >&2
	return 1
}

# Waits up to $2 seconds for PID $1 to exit; 0 if it did.
engine_wait_exit()
{
	local pid=$1 i

	for ((i = 0; i < $2 * 5; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.2
	done
	return 1
}

engine_stop()
{
	local dir=$1 pid ctrd m

	[ -d "$dir" ] || return 0
	pid=$(cat "$dir/dockerd.started" 2>/dev/null)
	ctrd=$(cat "$dir/exec/containerd/containerd.pid" 2>/dev/null)
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		engine_wait_exit "$pid" 30 || { kill -KILL "$pid"; engine_wait_exit "$pid" 5; }
	fi
	# dockerd stops the containerd it started; only a killed dockerd leaves it behind.
	if [ -n "$ctrd" ] && kill -0 "$ctrd" 2>/dev/null; then
		kill -TERM "$ctrd"
		engine_wait_exit "$ctrd" 10 || kill -KILL "$ctrd"
	fi
	engine_end_shims "$dir"
	# A plugin the engine could not disable (it was stuck or killed) keeps its socket directory
	# in the host's /run/docker/plugins, named by the plugin's ID as in the engine's data-root.
	for m in "$dir"/data/plugins/*; do
		[[ ${m##*/} =~ ^[0-9a-f]{64}$ ]] && rm -rf "/run/docker/plugins/${m##*/}"
	done
	# Deepest first: overlay, shm and netns mounts the engine left under its directories.
	for m in $(awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r); do
		umount -l "$m" 2>/dev/null
	done
	rm -rf "$dir"
}

# engine_shims DIR: the PIDs of the containerd shims of DIR's engine (their -address is its
# containerd's socket), none of another engine's.
engine_shims()
{
	local sock=$1/exec/containerd/containerd.sock f pid

	for f in /proc/[0-9]*/cmdline; do
		pid=${f#/proc/} pid=${pid%/cmdline}
		[[ $(readlink "/proc/$pid/exe" 2>/dev/null) == */containerd-shim* ]] || continue
		tr '\0' '\n' <"$f" 2>/dev/null | grep -qxF -- "$sock" && echo "$pid"
	done
	return 0
}

# engine_end_shims DIR: a dockerd that could not stop its containers (killed, or deadlocked and
# then stopped) leaves their shims running after its containerd: ends each container's init (the
# kernel ends the rest of its PID namespace), then the shims.
engine_end_shims()
{
	local shims inits pid

	shims=$(engine_shims "$1")
	[ -n "$shims" ] || return 0
	inits=$(for pid in $shims; do pgrep -P "$pid"; done)
	# shellcheck disable=SC2086
	[ -z "$inits" ] || kill -KILL $inits 2>/dev/null
	# shellcheck disable=SC2086
	kill -TERM $shims 2>/dev/null
	for pid in $shims; do
		engine_wait_exit "$pid" 5 || kill -KILL "$pid" 2>/dev/null
	done
	return 0
}

# engine_deadlock FILE: 0 when the goroutine dump FILE shows the lock-order deadlock of Docker
# 20.10's libnetwork (moby/moby#46661): processEndpointDelete holds the controller's lock and
# waits for a network's, getSvcRecords holds that network's and waits for the controller's. Every
# later container exit and `docker rm` then waits for ever; only a restart of the engine ends it.
# Fixed in Docker 20.10.27 and 23.0, not in Debian 12's docker.io (20.10.24). Both must have
# waited for a lock for minutes (Go prints how long), which a busy engine's never do.
engine_deadlock()
{
	awk 'BEGIN { RS = "" }
	     /\[semacquire, [0-9]+ minutes\]/ && /processEndpointDelete/ { del = 1 }
	     /\[semacquire, [0-9]+ minutes\]/ && /getSvcRecords/ { svc = 1 }
	     END { exit !(del && svc) }' "$1"
}

# engine_diagnose DIR [KEEP]: for an engine that stopped answering. Has its dockerd write its
# goroutines (SIGUSR1; it logs where), copies them to KEEP when given (DIR may be removed soon),
# and prints one line: where they are, and the known deadlock when they show it.
engine_diagnose()
{
	local dir=$1 keep=${2:-} pid before file i

	pid=$(cat "$dir/dockerd.started" 2>/dev/null || true)
	if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
		echo "engine $dir: dockerd is not running"
		return 0
	fi
	before=$(grep -c 'goroutine stacks written to' "$dir/dockerd.log" || true)
	kill -USR1 "$pid"
	for ((i = 0; i < 50; i++)); do
		[ "$(grep -c 'goroutine stacks written to' "$dir/dockerd.log")" -gt "$before" ] && break
		sleep 0.2
	done
	file=$(sed -n 's/.*goroutine stacks written to \([^" ]*\).*/\1/p' "$dir/dockerd.log" | tail -n 1)
	if [ "$i" -eq 50 ] || [ ! -s "$file" ]; then
		echo "engine $dir: dockerd ($pid) wrote no goroutine dump in 10 s"
		return 0
	fi
	if [ -n "$keep" ] && cp "$file" "$keep"; then
		file=$keep
	fi
	if engine_deadlock "$file"; then
		echo "engine $dir is deadlocked in libnetwork (moby/moby#46661, Docker 20.10): every" \
			"container exit and docker rm now waits for ever; restart the engine. Goroutines: $file"
	else
		echo "engine $dir: no known deadlock in its goroutines ($file)"
	fi
}

engine_restart()
{
	local dir=$1 sig=${2:-TERM} pid

	pid=$(cat "$dir/dockerd.started")
	kill -"$sig" "$pid"
	# A clean stop first stops the containers that live-restore does not keep (15 s at most).
	engine_wait_exit "$pid" 60 || { kill -KILL "$pid"; engine_wait_exit "$pid" 5; }
	rm -f "$dir/dockerd.pid"
	engine_launch "$dir"
}

engine_live_restore()
{
	# Explicit both ways: a reload (SIGHUP) leaves a key that is absent as it was.
	if [ "$2" = on ]; then
		echo '{"live-restore": true}' >"$1/daemon.json"
	else
		echo '{"live-restore": false}' >"$1/daemon.json"
	fi
}

engine_import_busybox()
{
	local tag=$1 tmp app rc

	tmp=$(mktemp -d)
	mkdir -p "$tmp/bin" "$tmp/tmp" "$tmp/etc" "$tmp/proc" "$tmp/sys" "$tmp/dev"
	cp /bin/busybox "$tmp/bin/busybox"
	for app in sh ash ping ping6 ip ifconfig route sleep cat ls echo grep awk sed wc head \
		   tail nc netstat hostname ps kill true false test mkdir rm touch; do
		ln -s busybox "$tmp/bin/$app"
	done
	echo 'root:x:0:0:root:/:/bin/sh' >"$tmp/etc/passwd"
	echo 'root:x:0:' >"$tmp/etc/group"
	tar -C "$tmp" -c . | docker import -c 'CMD ["/bin/sh"]' - "$tag" >/dev/null
	rc=$?
	rm -rf "$tmp"
	return $rc
}

plugin_host_pid()
{
	local id f p

	id=$(docker plugin inspect -f '{{.Id}}' "$1") || return 1
	# The plugin runs as a task named by its ID; its cgroup paths end in that ID, and its init
	# is the driver (wireguard-go children share the cgroup).
	for f in $(grep -l "$id" /proc/[0-9]*/cgroup 2>/dev/null); do
		p=${f#/proc/}
		p=${p%/cgroup}
		if [ "$(readlink "/proc/$p/exe" 2>/dev/null)" = /usr/sbin/wireguard-driver ]; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# A simulated host is dockerd as a fresh install runs it: exec-root /var/run/docker, data-root
# /var/lib/docker, the plugin with its default settings. It runs in a mount namespace of its own
# where /run is an empty tmpfs, as after a boot (no exec-root, no netns/, no containerd socket: the
# host's own is hidden, so dockerd starts its containerd), and /var/lib is DIR/var-lib, which
# outlives reboots. / is made rshared inside, as systemd makes it, so the sandboxes' namespaces
# reach the plugin. Its host name is DIR's last component. With NETNS the host runs in network
# namespace /run/netns/NETNS.
host_start()
{
	local dir=$1 netns=${2:-} pid i
	local enter=()

	mkdir -p "$dir/var-lib"
	[ -f "$dir/daemon.json" ] || echo '{}' >"$dir/daemon.json"
	if [ -n "$netns" ]; then
		echo "$netns" >"$dir/netns"
	elif [ -f "$dir/netns" ]; then
		netns=$(cat "$dir/netns")
	fi
	if [ -n "$netns" ]; then
		enter=(nsenter "--net=/run/netns/$netns")
	fi
	PATH=${ENGINE_BIN:+$ENGINE_BIN:}$PATH "${enter[@]}" \
		unshare --mount --uts --propagation slave -- sh -c '
		set -e
		hostname "$(basename "$1")"
		mount --make-rshared /
		mount -t tmpfs -o mode=0755 tmpfs /run
		mount --bind "$1/var-lib" /var/lib
		exec dockerd --config-file "$1/daemon.json" -H "unix://$1/docker.sock" \
			-H unix:///var/run/docker.sock --bridge=none --iptables=false \
			--ip-forward=false --ip-masq=false --userland-proxy=false' sh "$dir" \
		>>"$dir/dockerd.log" 2>&1 </dev/null &
	pid=$!
	# A host's crash is a test's doing (host_end KILL): no job report for it.
	disown "$pid" 2>/dev/null || true
	echo "$pid" >"$dir/dockerd.started"
	export DOCKER_HOST="unix://$dir/docker.sock"
	for ((i = 0; i < ENGINE_WAIT_S * 5; i++)); do
		if docker version >/dev/null 2>&1; then
			readlink "/proc/$pid/ns/mnt" >"$dir/mntns"
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	echo "host_start: dockerd did not answer on $DOCKER_HOST; last log lines:" >&2
	tail -n 20 "$dir/dockerd.log" >&2
	return 1
}

host_dockerd_pid() { cat "$1/dockerd.started"; }

host_exec()
{
	local dir=$1 flags=(-m)
	shift
	[ -f "$dir/netns" ] && flags+=(-n)
	nsenter -t "$(host_dockerd_pid "$dir")" "${flags[@]}" -- "$@"
}

# host_pids DIR: every process of the host: those in its mount namespace (dockerd, containerd,
# the shims) and their descendants (containers, plugins, wireguard-go).
host_pids()
{
	local mnt p
	mnt=$(cat "$1/mntns" 2>/dev/null) || return 0
	[ -n "$mnt" ] || return 0
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/ns/mnt" 2>/dev/null)" = "$mnt" ] && echo "${p#/proc/}"
	done | while read -r p; do
		echo "$p"
		ps -o pid= --ppid "$p" >/dev/null 2>&1 && host_descendants "$p"
	done | sort -un
}

host_descendants()
{
	local c
	for c in $(ps -o pid= --ppid "$1"); do
		echo "$c"
		host_descendants "$c"
	done
}

# host_end DIR SIGNAL: dockerd gets SIGNAL (TERM: it stops containers and plugins as at a
# shutdown), then whatever is left of the host is killed, and waited for.
host_end()
{
	local dir=$1 sig=$2 pid pids p i
	pid=$(host_dockerd_pid "$dir" 2>/dev/null)
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -"$sig" "$pid"
		engine_wait_exit "$pid" 60 || kill -KILL "$pid"
	fi
	# Listed once dockerd is gone, so that every PID is still one of the host's.
	pids=$(host_pids "$dir")
	for p in $pids; do kill -KILL "$p" 2>/dev/null || true; done
	for p in $pids; do
		for ((i = 0; i < 50; i++)); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
	done
	rm -f "$dir/mntns"
}

host_reboot()
{
	local dir=$1 how=${2:-clean}
	if [ "$how" = crash ]; then host_end "$dir" KILL; else host_end "$dir" TERM; fi
	host_start "$dir"
}

host_stop()
{
	local dir=$1
	[ -d "$dir" ] || return 0
	host_end "$dir" TERM
	rm -rf "$dir"
}

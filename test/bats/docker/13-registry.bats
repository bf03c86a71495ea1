#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# The plugin as its users get it: `make push` to a registry (Debian's docker-registry, run here on
# 127.0.0.1, which the engine treats as plain HTTP without --insecure-registry), then on a fresh
# host `docker plugin install` with settings on the command line, and `docker plugin upgrade` to a
# new build under running containers. The build host is a private engine; the user's host is a
# simulated one (scripts/lib-engine.sh host_start) with every default path, so the mount sources
# the upgrade falls back to are its own. The tests run in order.

load ../faults/host

REG_PORTS=47100-47199

# registry_start DIR: docker-registry on 127.0.0.1, a free port, storage in DIR; sets REG_ADDR.
registry_start()
{
	local dir=$1 i
	command -v docker-registry >/dev/null ||
		{ echo "no docker-registry: run scripts/install-deps.sh" >&2; return 1; }
	mkdir -p "$dir/data"
	cat >"$dir/config.yml" <<-EOF
		version: 0.1
		log:
		  level: info
		storage:
		  filesystem:
		    rootdirectory: $dir/data
		http:
		  addr: 127.0.0.1:0
	EOF
	docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 </dev/null &
	echo $! >"$dir/pid"
	# Port 0: the kernel picks a free port and the registry logs the address it listens on.
	for ((i = 0; i < 50; i++)); do
		REG_ADDR=$(sed -n 's/.*msg="listening on \(127\.0\.0\.1:[0-9]*\)".*/\1/p' "$dir/log")
		[ -n "$REG_ADDR" ] && break
		sleep 0.1
	done
	[ -n "$REG_ADDR" ] || { cat "$dir/log" >&2; return 1; }
	export REG_ADDR
}

registry_stop()
{
	local pid
	pid=$(cat "$1/pid" 2>/dev/null) || return 0
	kill -TERM "$pid" 2>/dev/null && engine_wait_exit "$pid" 10
}

# build_push ARGS...: `make push` on the build host's engine, quiet unless it fails.
build_push()
{
	local out
	out=$(DOCKER_HOST=unix://$WGT_BUILD/docker.sock make -C "$REPO" --no-print-directory push \
		REGISTRY="$REG_ADDR" "$@" 2>&1) || { echo "$out" >&2; return 1; }
}

# plugin_log_has TEXT: the plugin logged TEXT (the engine keeps its output in its own log).
plugin_log_has() { grep "plugin=$WGT_PLUGIN_ID" "$WGT_HOST/dockerd.log" | grep -qF "$1"; }

# in_ports PORT: PORT is in REG_PORTS.
in_ports() { (($1 >= ${REG_PORTS%-*} && $1 <= ${REG_PORTS#*-})); }

# mount_sources WHAT: the mounts' sources in the plugin's Config (what the engine mounts) or in
# its Settings (what docker plugin set was given), as NAME=SOURCE lines.
mount_sources()
{
	docker plugin inspect "$PLUGIN" | jq -r ".[0].$1.Mounts[] | \"\(.Name)=\(.Source)\""
}

setup_file()
{
	local t0
	host_setup_file
	# The user's setting: a state.source of its own (test 2 makes it, as the README asks).
	WGT_STATE=$WGT_HOST/var-lib/srv/docker-wireguard
	WGT_BUILD=$WGT_DIR/build-host WGT_REGISTRY=$WGT_DIR/registry
	export WGT_STATE WGT_BUILD WGT_REGISTRY
	registry_start "$WGT_REGISTRY"
	# What users install; --alias keeps the driver name wireguard:latest of the README.
	export REG_REF=$REG_ADDR/wireguard:latest
	# engine_start exports DOCKER_HOST for the engine it starts: the user's host stays the
	# default here, the build host is named where it is used.
	(engine_start "$WGT_BUILD" >/dev/null)
	report "engine $(docker version -f '{{.Server.Version}}'), registry on $REG_ADDR"
	t0=$EPOCHREALTIME
	# Build A: the suite's build; the plugin directory of its own, so build/plugin stays.
	build_push PLUGIN_DIR="$WGT_DIR/plugin-a"
	report "make push of build A: $(ms_since "$t0") ms ($(du -sh "$WGT_REGISTRY/data" | cut -f1) in the registry)"
	VERSION_A=$("$REPO/build/wireguard-driver" --version | cut -d' ' -f2)
	export VERSION_A
}

# The build host and the registry live in the user's host directory, which host_stop removes:
# they stop first.
teardown_file()
{
	[ -n "${WGT_BUILD:-}" ] && engine_stop "$WGT_BUILD"
	[ -n "${WGT_REGISTRY:-}" ] && registry_stop "$WGT_REGISTRY"
	host_teardown_file
}

teardown() { fault_teardown; }

@test "make push refuses without REGISTRY and over a plugin of that name; beside one of the same build it pushes" {
	run make -C "$REPO" --no-print-directory push
	[ "$status" -ne 0 ]
	[[ $output == *"make push needs REGISTRY=HOST[:PORT]"* ]]
	[[ $output != *mkplugin* ]]
	DOCKER_HOST=unix://$WGT_BUILD/docker.sock docker plugin create "$REG_ADDR/wireguard:mine" \
		"$WGT_DIR/plugin-a" >/dev/null
	run build_push PLUGIN_DIR="$WGT_DIR/plugin-a" PLUGIN_TAG=mine
	[ "$status" -ne 0 ]
	[[ $output == *"this engine has a plugin named $REG_ADDR/wireguard:mine already"* ]]
	DOCKER_HOST=unix://$WGT_BUILD/docker.sock docker plugin inspect "$REG_ADDR/wireguard:mine" \
		>/dev/null
	# The same build under another name, beside a plugin made from it (make install, then make
	# push): the engine refuses a second plugin with the very same rootfs; make push's own copy
	# of the files is another layer. It leaves the engine as it found it.
	build_push PLUGIN_DIR="$WGT_DIR/plugin-a" PLUGIN_TAG=again
	[ "$(DOCKER_HOST=unix://$WGT_BUILD/docker.sock docker plugin ls --format '{{.Name}}')" = \
		"$REG_ADDR/wireguard:mine" ]
	DOCKER_HOST=unix://$WGT_BUILD/docker.sock docker plugin rm "$REG_ADDR/wireguard:mine" \
		>/dev/null
}

@test "docker plugin install from the registry with settings on the command line; a network works" {
	local t0 c port
	in_host ! -e /var/run/docker/netns
	in_host ! -e /var/lib/docker-wireguard
	mkdir "$WGT_HOST/var-lib/srv"
	t0=$EPOCHREALTIME
	docker plugin install --grant-all-permissions --alias "$PLUGIN" "$REG_REF" \
		state.source=/var/lib/srv WG_PORTS="$REG_PORTS" LOG_LEVEL=debug >/dev/null
	report "docker plugin install: $(ms_since "$t0") ms"
	plugin_refresh
	[ "$(docker plugin inspect -f '{{.Enabled}} {{.PluginReference}}' "$PLUGIN")" = \
		"true $REG_REF" ]
	plugin_log_has "wireguard-driver $VERSION_A"
	docker network create -d "$PLUGIN" --subnet 10.79.7.0/24 rg >/dev/null
	ctr_run rg-db name=rg,driver-opt=wg.key=db
	ctr_run rg-web rg
	ctr_ping rg-db "$(ctr_ip rg-web rg)"
	ctr_ping rg-web "$(ctr_ip rg-db rg)"
	[ "$(ctr_links rg-web)" = "lo wg0" ]
	# The settings took effect: the state is in state.source, the links listen in WG_PORTS.
	[ -f "$WGT_STATE/keys/identity/db.key" ]
	[ "$(state_eids | sort)" = "$(for c in rg-db rg-web; do ctr_eid "$c" rg; done | sort)" ]
	in_host ! -e /var/lib/docker-wireguard
	for c in rg-db rg-web; do
		port=$(ep_info "$c" rg .Value.listen_port)
		in_ports "$port"
		ss -Hlun "sport = :$port" | grep -q .
	done
	pubkeys rg rg-db rg-web >"$WGT_DIR/keys"
}

@test "docker plugin upgrade to a new build: network, keys and running containers kept" {
	local t0 old_id old_layer version_b back gap1 gap2 eid
	plugin_refresh
	old_id=$WGT_PLUGIN_ID
	version_b=$VERSION_A-upgrade-test
	# Build B differs in its version only: build A's objects, main.o compiled again.
	mkdir -p "$WGT_DIR/build-b"
	cp -a "$REPO/build/obj" "$REPO/build/libwgdriver.a" "$WGT_DIR/build-b/"
	t0=$EPOCHREALTIME
	build_push B="$WGT_DIR/build-b" PLUGIN_DIR="$WGT_DIR/plugin-b" VERSION="$version_b"
	report "make push of build B (one object compiled): $(ms_since "$t0") ms"
	old_layer=$(docker plugin inspect -f '{{.Config.rootfs.diff_ids}}' "$PLUGIN")

	ping_start rg-web "$(ctr_ip rg-db rg)"
	ping_start rg-db "$(ctr_ip rg-web rg)"
	sleep 1
	t0=$EPOCHREALTIME
	# The engine upgrades only a disabled plugin, and disables one in use only with -f.
	run docker plugin upgrade --grant-all-permissions "$PLUGIN"
	[ "$status" -ne 0 ]
	[[ $output == *"must be disabled"* ]]
	run docker plugin disable "$PLUGIN"
	[ "$status" -ne 0 ]
	[[ $output == *"in use"* ]]
	docker plugin disable -f "$PLUGIN" >/dev/null
	# wireguard-go went with the plugin; the containers keep their wg0 (a persistent TUN).
	[ "$(count "$(wggo_pids)")" -eq 0 ]
	[ "$(ctr_links rg-db)" = "lo wg0" ]
	docker plugin upgrade --grant-all-permissions "$PLUGIN" >/dev/null
	# What the engine keeps (20.10 and 26): the plugin's ID, its environment settings and,
	# only on display, its mount settings. It mounts the new build's default sources.
	[ "$(docker plugin inspect -f '{{.Id}}' "$PLUGIN")" = "$old_id" ]
	[ "$(docker plugin inspect -f '{{.Config.rootfs.diff_ids}}' "$PLUGIN")" != "$old_layer" ]
	docker plugin inspect -f '{{.Settings.Env}}' "$PLUGIN" | grep -q "WG_PORTS=$REG_PORTS"
	mount_sources Settings | grep -qx state=/var/lib/srv
	mount_sources Config | grep -qx state=/var/lib
	# The README's step: the mount settings given again, from what inspect still shows.
	docker plugin set "$PLUGIN" $(docker plugin inspect \
		-f '{{range .Settings.Mounts}}{{.Name}}.source={{.Source}} {{end}}' "$PLUGIN")
	mount_sources Config | grep -qx state=/var/lib/srv
	docker plugin enable "$PLUGIN" >/dev/null
	back=$(ms_since "$t0")
	report "upgrade: disable -f, upgrade, set, enable took $back ms"

	plugin_refresh
	plugin_log_has "wireguard-driver $version_b"
	# The new build found both links in the state and gave each a new wireguard-go.
	[ "$(grep "plugin=$WGT_PLUGIN_ID" "$WGT_HOST/dockerd.log" | grep -c 'served again')" -eq 2 ]
	wait_until 10 docker exec rg-web ping -c 1 -W 1 "$(ctr_ip rg-db rg)" >/dev/null
	report "upgrade: traffic again $(ms_since "$t0") ms after it began"
	sleep 1
	gap1=$(ping_gap rg-web)
	gap2=$(ping_gap rg-db)
	report "upgrade: longest gap without a reply: web->db $gap1 ms, db->web $gap2 ms"
	# Traffic stops at the disable; the engine's upgrade takes what it takes on a loaded
	# machine. Within 5 s of the enable it is back.
	((gap1 >= 0 && gap1 < back + 5000 && gap2 >= 0 && gap2 < back + 5000))
	[ "$(docker network inspect -f '{{.Driver}}' rg)" = "$PLUGIN" ]
	[ "$(pubkeys rg rg-db rg-web)" = "$(cat "$WGT_DIR/keys")" ]
	[ "$(ctr_links rg-db)" = "lo wg0" ]
	[ "$(count "$(wggo_pids)")" -eq 2 ]
	in_host ! -e /var/lib/docker-wireguard
	# A new container joins, listens in WG_PORTS, reaches and is reached.
	ctr_run rg-new rg
	in_ports "$(ep_info rg-new rg .Value.listen_port)"
	ctr_ping rg-new "$(ctr_ip rg-db rg)"
	ctr_ping rg-web "$(ctr_ip rg-new rg)"
	eid=$(ctr_eid rg-new rg)
	docker rm -f rg-new >/dev/null
	no_host_links "$eid"
}

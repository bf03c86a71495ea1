#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# A fresh host: an engine that never ran a container, nothing made for the plugin (no state
# directory, no exec-root/netns), `docker plugin create` and `enable` as a user runs them. The
# engine does not create a missing bind-mount source, so the plugin's mounts must exist already:
# its exec-root and /var/lib (driver/hostmounts.h).

load host

# Each test starts a host of its own; its teardown, in the test's process, ends it.
teardown()
{
	fault_teardown
	host_teardown_file
}

# two_ping NET: two containers on NET reach each other over wg0 and see only lo and wg0.
two_ping()
{
	ctr_run "$1-a" "$1"
	ctr_run "$1-b" "$1"
	ctr_ping "$1-a" "$(ctr_ip "$1-b" "$1")"
	ctr_ping "$1-b" "$(ctr_ip "$1-a" "$1")"
	[ "$(ctr_links "$1-a")" = "lo wg0" ]
}

@test "default settings: the plugin enables on a fresh host and a network works" {
	host_setup_file
	in_host ! -e /var/run/docker/netns
	in_host ! -e /var/lib/docker-wireguard
	plugin_install
	[ "$(docker plugin inspect -f '{{.Enabled}}' "$PLUGIN")" = true ]
	docker network create -d "$PLUGIN" --subnet 10.79.1.0/24 fresh >/dev/null
	two_ping fresh
	[ "$(stat -c %a "$WGT_STATE")" = 700 ]
	[ -n "$(state_eids)" ]
	! engine_panicked
}

@test "an engine with its own exec-root and data-root, state.source without docker-wireguard/" {
	host_setup_file '{"exec-root": "/run/dx", "data-root": "/var/lib/dx"}'
	mkdir "$WGT_HOST/var-lib/srv"
	export WGT_STATE=$WGT_HOST/var-lib/srv/docker-wireguard
	in_host ! -e /run/dx/netns
	plugin_install exec-root.source=/run/dx state.source=/var/lib/srv
	docker network create -d "$PLUGIN" --subnet 10.79.2.0/24 own >/dev/null
	two_ping own
	in_host -d /run/dx/netns
	[ "$(stat -c %a "$WGT_STATE")" = 700 ]
	[ -n "$(state_eids)" ]
	! engine_panicked
}

@test "a state directory of an earlier build (state.source named it) is used as it is" {
	host_setup_file
	# What an earlier build left where state.source pointed: networks/ and keys/ at the top.
	mkdir -p -m 0700 "$WGT_HOST/var-lib/old/networks" "$WGT_HOST/var-lib/old/keys/identity"
	(umask 077 && wg genkey >"$WGT_HOST/var-lib/old/keys/identity/db.key")
	chmod 0600 "$WGT_HOST/var-lib/old/keys/identity/db.key"
	chmod 0700 "$WGT_HOST/var-lib/old/keys"
	export WGT_STATE=$WGT_HOST/var-lib/old
	plugin_install state.source=/var/lib/old
	docker network create -d "$PLUGIN" --subnet 10.79.3.0/24 old >/dev/null
	ctr_run old-db name=old,driver-opt=wg.key=db
	[ "$(ep_info old-db old .Value.public_key)" = \
		"$(wg pubkey <"$WGT_STATE/keys/identity/db.key")" ]
	[ ! -e "$WGT_STATE/docker-wireguard" ]
	[ -n "$(state_eids)" ]
}

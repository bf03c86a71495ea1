#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# The README's compose example (examples/docker-compose.yml) with Debian's docker-compose 1.29.

load helpers

setup_file() { docker_setup_file; }
teardown_file() { docker_teardown_file; }
teardown()
{
	IMAGE=$IMAGE docker-compose -p wgc -f "$REPO/examples/docker-compose.yml" down -t 1 \
		>/dev/null 2>&1
	docker_teardown
}

compose() { IMAGE=$IMAGE docker-compose -p wgc -f "$REPO/examples/docker-compose.yml" "$@"; }

@test "the compose example: web reaches db by name over wg0, and down leaves nothing" {
	compose up -d 2>/dev/null
	[ "$(ctr_links wgc_web_1)" = "lo wg0" ]
	[ "$(docker exec wgc_web_1 cat /sys/class/net/wg0/mtu)" = 1400 ]
	# The engine's embedded DNS answers for the service names on this network.
	docker exec wgc_web_1 ping -c 1 -W 5 db >/dev/null
	docker exec wgc_db_1 ping -c 1 -W 5 web >/dev/null
	[ "$(ep_info wgc_web_1 wgc_secure .Value.peers)" = 1 ]
	compose down -t 1 2>/dev/null
	[ -z "$(state_files networks keys/identity keys/link)" ]
}

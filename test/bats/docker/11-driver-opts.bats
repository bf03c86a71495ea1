#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Endpoint driver options through the engine API, as compose v2 (2.27.1+) sends them for
# examples/compose-v2.yml: EndpointsConfig.<network>.DriverOpts. No engine access needed.

load links

setup_file() { docker_setup_file; }
teardown_file() { docker_teardown_file; }
teardown() { docker_teardown; }

PROJECT=wgv

# v2_requests FILE: the requests compose v2 makes for FILE, one per line: "network - <json>" for
# POST /networks/create, then "container <name> <json>" for POST /containers/create, in
# depends_on order.
v2_requests()
{
	# Debian's python3 has PyYAML: docker-compose depends on it (scripts/install-deps.sh).
	IMAGE=$IMAGE PROJECT=$PROJECT /usr/bin/python3 - "$1" <<'EOF'
import json, os, sys, yaml

project, image = os.environ["PROJECT"], os.environ["IMAGE"]
spec = yaml.safe_load(open(sys.argv[1]))
for name, net in spec["networks"].items():
    print("network", "-", json.dumps({
        "Name": f"{project}_{name}", "Driver": net["driver"], "CheckDuplicate": True,
        "Options": net.get("driver_opts", {}),
        "IPAM": {"Driver": "default", "Config": [{"Subnet": c["subnet"]} for c in net["ipam"]["config"]]},
        "Labels": {"com.docker.compose.network": name, "com.docker.compose.project": project}}))
done, order = set(), []
def visit(s):
    if s not in done:
        done.add(s)
        for d in spec["services"][s].get("depends_on", []):
            visit(d)
        order.append(s)
for s in spec["services"]:
    visit(s)
for s in order:
    svc, cname = spec["services"][s], f"{project}-{s}-1"
    nets = {f"{project}_{n}": {"Aliases": [cname, s], "DriverOpts": (o or {}).get("driver_opts")}
            for n, o in svc["networks"].items()}
    first = next(iter(nets))
    print("container", cname, json.dumps({
        "Image": image, "Cmd": svc["command"].split(),
        "Labels": {"com.docker.compose.project": project, "com.docker.compose.service": s},
        "HostConfig": {"NetworkMode": first},
        "NetworkingConfig": {"EndpointsConfig": nets}}))
EOF
}

# v2_up FILE: what `docker compose up -d` does with FILE, through the engine API.
v2_up()
{
	local kind name body
	v2_requests "$1" >"$BATS_TEST_TMPDIR/requests" || return 1
	while read -r kind name body; do
		if [ "$kind" = network ]; then
			engine_api POST /networks/create "$body" | jq -e .Id >/dev/null || return 1
		else
			engine_api POST "/containers/create?name=$name" "$body" | jq -e .Id >/dev/null &&
				engine_api POST "/containers/$name/start" || return 1
		fi
	done <"$BATS_TEST_TMPDIR/requests"
}

@test "EndpointsConfig.DriverOpts as compose v2 sends them: web and worker reach db, cache no one" {
	v2_up "$REPO/examples/compose-v2.yml"
	# The same request the engine received, as the engine kept it.
	[ "$(docker inspect -f '{{json (index .NetworkSettings.Networks "wgv_secure").DriverOpts}}' \
		wgv-web-1)" = '{"wg.key":"web","wg.links":"db"}' ]
	[ "$(ep_info wgv-web-1 wgv_secure .Value.key)" = web ]
	[ "$(ep_info wgv-web-1 wgv_secure .Value.pending)" = false ]
	ctr_ping wgv-web-1 db
	ctr_ping wgv-db-1 web
	ctr_ping wgv-worker-1 db
	no_ctr_ping wgv-web-1 cache
	no_ctr_ping wgv-cache-1 db
	no_ctr_ping wgv-worker-1 web
	[ "$(peers wgv-db-1 wgv_secure)" = 2 ]
	[ "$(peers wgv-cache-1 wgv_secure)" = 0 ]
	wgctl links | grep -q " db web db+web active$"
}

@test "docker run --network name=N,driver-opt=... sets the key and links (values lower-cased)" {
	wgnet conn -o wg.policy=links
	ctr_run c-db "name=conn,driver-opt=wg.key=c-db"
	ctr_run c-web "name=conn,driver-opt=wg.key=c-web,driver-opt=wg.links=c-db"
	ctr_run c-x "name=conn,driver-opt=wg.key=C-X"
	[ "$(ep_info c-x conn .Value.key)" = c-x ]
	ctr_ping c-web "$(ctr_ip c-db conn)"
	ctr_ping c-db "$(ctr_ip c-web conn)"
	no_ctr_ping c-x "$(ctr_ip c-db conn)"
}

@test "a bad reference in DriverOpts fails the container start with a clear message" {
	wgnet bad -o wg.policy=links
	id=$(engine_api POST /containers/create "{\"Image\":\"$IMAGE\",\"Cmd\":[\"true\"],
		\"HostConfig\":{\"NetworkMode\":\"bad\"},\"NetworkingConfig\":{\"EndpointsConfig\":
		{\"bad\":{\"DriverOpts\":{\"wg.key\":\"../etc\"}}}}}" | jq -er .Id)
	run engine_api POST "/containers/$id/start"
	[[ $output == *'Options.wg.key: \"../etc\" is not a key reference'* ]]
	id=$(engine_api POST /containers/create "{\"Image\":\"$IMAGE\",\"Cmd\":[\"true\"],
		\"HostConfig\":{\"NetworkMode\":\"bad\"},\"NetworkingConfig\":{\"EndpointsConfig\":
		{\"bad\":{\"DriverOpts\":{\"wg.key\":\"x\",\"wg.links\":\"nobody\"}}}}}" | jq -er .Id)
	run engine_api POST "/containers/$id/start"
	[[ $output == *'link to \"nobody\": no identity has that key reference'* ]]
	[ ! -e "$WGT_STATE/keys/identity/x.key" ]
}

@test "the README shows examples/compose-v2.yml as it is" {
	python3 -c 'import sys; sys.exit(open(sys.argv[1]).read() not in open(sys.argv[2]).read())' \
		"$REPO/examples/compose-v2.yml" "$REPO/README.md"
}

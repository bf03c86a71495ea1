#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# wgctl: keys by reference through the daemon's own socket; secrets only from export, never to a
# terminal.

load links

setup_file() {
	suite_setup
	export NET=$(newid)
	net_create "$NET" 10.77.62.0/24 '' '{"wg.policy":"links"}'
}

teardown_file() { suite_teardown; }

# raw_request TEXT: TEXT (printf format) sent on the wgctl socket as is; prints the reply.
raw_request() {
	python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode())
s.shutdown(socket.SHUT_WR)
sys.stdout.write(s.makefile().read())' "$TMP/wgctl.sock" "$1"
}

# on_tty CMD...: CMD with its stdout on a terminal (a pty from script); its output, and its status.
on_tty() { script -qec "$*" /dev/null; }

@test "the wgctl socket is root's only, and the engine's socket does not serve wgctl" {
	[[ -S $TMP/wgctl.sock ]]
	assert_eq "$(stat -c %a "$TMP/wgctl.sock")" 600 "mode of the wgctl socket"
	[[ $(api WgCtl.List '{}' | jq -r .Err) == "unknown method /WgCtl.List" ]]
}

@test "generate prints the public key that list shows; a second generate is refused" {
	local pub
	pub=$(wgctl generate alpha)
	[[ $pub =~ ^[A-Za-z0-9+/]{43}=$ ]]
	wgctl list | grep -qx "identity alpha $pub"
	run wgctl generate alpha
	[ "$status" -eq 1 ]
	[[ $output == *"identity alpha exists already"* ]]
	assert_eq "$(stat -c %a "$STATE/keys/identity/alpha.key")" 600 "mode of the key file"
}

@test "import reads the key from stdin; export gives it back to a pipe" {
	local priv psk
	priv=$(wg genkey)
	assert_eq "$(wgctl import beta <<<"$priv")" "$(wg pubkey <<<"$priv")" "public key"
	assert_eq "$(wgctl export beta | cat)" "$priv" "exported private key"
	psk=$(wg genpsk)
	assert_eq "$(wgctl import --psk gamma <<<"$psk")" "" "import --psk output"
	assert_eq "$(wgctl export --psk gamma)" "$psk" "exported PSK"
	wgctl list | grep -qx "psk gamma"
	run wgctl import delta <<<"not a key"
	[ "$status" -eq 1 ]
	[[ $output == *"expected a base64 32-byte key on stdin"* ]]
	! wgctl list | grep -q delta
}

@test "list and links never print a secret" {
	local priv out
	priv=$(wgctl export alpha)
	out=$(wgctl list; wgctl links)
	[[ $out != *"$priv"* ]]
	[[ $out != *"$(wgctl export --psk gamma)"* ]]
}

@test "export refuses to write to a terminal and prints nothing of the key" {
	local priv
	priv=$(wgctl export alpha)
	run on_tty "$WGCTL" -s "$TMP/wgctl.sock" export alpha
	[ "$status" -eq 1 ]
	[[ $output == *"refusing to print a secret key to a terminal"* ]]
	[[ $output != *"$priv"* ]]
	run on_tty "$WGCTL" -s "$TMP/wgctl.sock" export --psk gamma
	[ "$status" -eq 1 ]
	# The refusal comes before the daemon is asked.
	[ "$(grep -c 'exported identity alpha' "$LOG")" -eq 2 ]
}

@test "a key in use by a live endpoint cannot be deleted; afterwards it can" {
	local ep=$(newid)
	ep_create "$NET" "$ep" 10.77.62.2/24 "" "$(opts '{"wg.key":"beta","wg.links":"alpha:gamma"}')"
	run wgctl delete beta
	[ "$status" -eq 1 ]
	[[ $output == *"identity beta is in use by endpoint ${ep:0:12}"* ]]
	run wgctl delete --psk gamma
	[ "$status" -eq 1 ]
	[[ $output == *"preshared key gamma is in use by endpoint ${ep:0:12}"* ]]
	assert_eq "$(wgctl links)" "${NET:0:12} alpha beta gamma waiting" "wgctl links"
	delete_ep "$NET" "$ep" >/dev/null
	wgctl delete beta
	wgctl delete --psk gamma
	[[ ! -e $STATE/keys/identity/beta.key && ! -e $STATE/keys/psk/gamma.psk ]]
	run wgctl delete beta
	[ "$status" -eq 1 ]
	[[ $output == *"no identity beta"* ]]
}

@test "bad references and commands are refused" {
	run wgctl generate ../x
	[ "$status" -eq 2 ]
	run wgctl generate Upper
	[ "$status" -eq 2 ]
	run wgctl frobnicate
	[ "$status" -eq 2 ]
	[[ $output == *"Usage: wgctl"* ]]
	run wgctl list extra
	[ "$status" -eq 2 ]
	# What wgctl passes is judged again by the daemon.
	run raw_request 'generate identity -x\n'
	[[ $output == "error generate: \"-x\" is not a key reference"* ]]
	run raw_request 'generate identity x y\n'
	[[ $output == "error generate: expected one reference"* ]]
	run wgctl -s "$TMP/nothing.sock" list
	[ "$status" -eq 1 ]
	[[ $output == *"is the driver running?"* ]]
}

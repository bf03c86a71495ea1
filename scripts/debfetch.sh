#!/usr/bin/env bash
# debfetch.sh [--print-dir] NAME...
#
# Fetches Debian packages pinned in scripts/debs.lock (NAME VERSION SUITE SHA256), typically of a
# newer Debian release than the host's, and unpacks each with `dpkg-deb -x` into
# $DEB_CACHE/NAME_VERSION/ (a ':' of an epoch is written '%3a'). Nothing is installed.
#
# The download goes through apt with a private configuration: a sources list for SUITE built from
# the URIs and Signed-By of the host's own apt sources (the entry for the host's codename, or for
# CODENAME-updates / CODENAME-security when SUITE has that suffix), with private lists, cache and
# status under $DEB_CACHE/apt, so the host's apt state is untouched and apt checks the archive's
# signature (InRelease) and the file's hash from the signed index. The .deb's SHA-256 is then
# checked against the lock. Verified .debs are kept in $DEB_CACHE/pool.
#
# Prints nothing on success; with --print-dir, the unpacked directory of each NAME, one per line.
# Environment: DEB_CACHE (default: build/debs under the repository), DEBS_LOCK (default:
# scripts/debs.lock), DEBFETCH_LOCK_TIMEOUT (seconds to wait for a parallel run, default 900).
set -euo pipefail

prog=debfetch
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
lockfile=${DEBS_LOCK:-$here/debs.lock}
cache=${DEB_CACHE:-$repo/build/debs}
case $cache in /*) ;; *) cache=$PWD/$cache ;; esac

die() { printf '%s: %s\n' "$prog" "$*" >&2; exit 1; }
usage() {
	cat <<EOF
usage: $0 [--print-dir] NAME...
  Fetches the packages pinned in \$DEBS_LOCK ($lockfile), checks their SHA-256 and unpacks them
  into \$DEB_CACHE/NAME_VERSION ($cache). --print-dir prints those directories, one per line.
EOF
}

print_dir=0
names=()
while [ $# -gt 0 ]; do
	case $1 in
	--print-dir) print_dir=1 ;;
	-h | --help) usage; exit 0 ;;
	--) shift; names+=("$@"); break ;;
	-*) usage >&2; exit 2 ;;
	*) names+=("$1") ;;
	esac
	shift
done
[ ${#names[@]} -gt 0 ] || { usage >&2; exit 2; }
[ -r "$lockfile" ] || die "cannot read the lock file $lockfile"
for tool in apt-get apt-cache dpkg-deb sha256sum flock; do
	command -v "$tool" >/dev/null || die "$tool is missing"
done

# --- the lock file -----------------------------------------------------------------------------
declare -A L_VER L_SUITE L_SHA
suites=()
lineno=0
while IFS= read -r line || [ -n "$line" ]; do
	lineno=$((lineno + 1))
	line=${line%%#*}
	read -r -a f <<<"$line" || true
	[ ${#f[@]} -eq 0 ] && continue
	[ ${#f[@]} -eq 4 ] || die "$lockfile:$lineno: expected NAME VERSION SUITE SHA256"
	[[ ${f[3]} =~ ^[0-9a-f]{64}$ ]] || die "$lockfile:$lineno: bad SHA-256 '${f[3]}'"
	L_VER[${f[0]}]=${f[1]}
	L_SUITE[${f[0]}]=${f[2]}
	L_SHA[${f[0]}]=${f[3]}
	[[ " ${suites[*]} " == *" ${f[2]} "* ]] || suites+=("${f[2]}")
done <"$lockfile"
for n in "${names[@]}"; do
	[ -n "${L_VER[$n]:-}" ] || die "$n is not pinned in $lockfile"
done

dir_of() { local v=${L_VER[$1]}; printf '%s/%s_%s' "$cache" "$1" "${v//:/%3a}"; }
# A directory is complete when its stamp holds the pinned hash (it is renamed into place whole).
is_unpacked() { [ "$(cat "$(dir_of "$1")/.debfetch-sha256" 2>/dev/null)" = "${L_SHA[$1]}" ]; }

emit() {
	if [ $print_dir -eq 1 ]; then
		for n in "${names[@]}"; do dir_of "$n"; echo; done
	fi
}

# Fast path, without the lock: everything is already there.
todo=()
for n in "${names[@]}"; do is_unpacked "$n" || todo+=("$n"); done
if [ ${#todo[@]} -eq 0 ]; then emit; exit 0; fi

mkdir -p "$cache/pool" "$cache/apt"
exec 9>"$cache/.lock"
flock -w "${DEBFETCH_LOCK_TIMEOUT:-900}" 9 || die "another debfetch holds $cache/.lock"
rm -rf "$cache"/.tmp.* # left by a run that was killed; we hold the lock
tmp=
trap '[ -z "$tmp" ] || rm -rf "$tmp"' EXIT
tmp=$(mktemp -d "$cache/.tmp.XXXXXX")
chmod 711 "$tmp" # apt downloads as user _apt into $tmp/dl
trap 'exit 130' INT
trap 'exit 143' TERM

# --- the host's apt sources --------------------------------------------------------------------
# shellcheck disable=SC1091
host_codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[ -n "$host_codename" ] || die "cannot tell the host's Debian codename from /etc/os-release"

# Prints, for the host suite $1, a deb822 stanza "URIs: ...\nSigned-By: ..." (Signed-By may span
# several lines: an embedded key) taken from the first matching deb entry of the host's sources.
host_source() {
	local want=$1 f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		awk -v want="$want" '
			function flush() {
				hit = 0; ns = split(suites, s, /[ \t]+/); for (i = 1; i <= ns; i++) if (s[i] == want) hit = 1
				if (types ~ /(^|[ \t])deb([ \t]|$)/ && hit && enabled !~ /^(no|false|0)$/ && uris != "" && !done) {
					split(uris, u, " "); print "URIs: " u[1]; if (sb != "") printf "Signed-By:%s", sb; done = 1
				}
				types = suites = uris = sb = enabled = ""; key = ""
			}
			/^#/ { next }
			/^[ \t]*$/ { flush(); next }
			/^[ \t]/ { if (key == "signed-by") sb = sb $0 "\n"; next }
			{
				key = tolower(substr($0, 1, index($0, ":") - 1)); val = substr($0, index($0, ":") + 1)
				gsub(/^[ \t]+|[ \t]+$/, "", val)
				if (key == "types") types = val; else if (key == "suites") suites = val
				else if (key == "uris") uris = val; else if (key == "enabled") enabled = tolower(val)
				else if (key == "signed-by") sb = " " val "\n"
			}
			END { flush() }' "$f" | grep . && return 0
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -r "$f" ] || continue
		awk -v want="$want" '
			$1 != "deb" { next }
			{
				opts = ""; i = 2
				if ($2 ~ /^\[/) { while (i <= NF) { opts = opts " " $i; if ($i ~ /\]$/) break; i++ }; i++ }
				if ($(i + 1) != want) next
				print "URIs: " $i
				if (match(opts, /signed-by=[^] ]+/)) print "Signed-By: " substr(opts, RSTART + 10, RLENGTH - 10)
				exit
			}' "$f" | grep . && return 0
	done
	return 1
}

# The private apt configuration: nothing of the host's apt.conf.d is read (its hooks touch the
# host's cache), except its Acquire:: settings (proxies, timeouts, date checks).
aptroot=$cache/apt
mkdir -p "$aptroot/lists/partial" "$aptroot/cache/archives/partial" "$aptroot/sources" "$aptroot/empty"
: >"$aptroot/status"
srcs=$tmp/debfetch.sources
: >"$srcs"
for s in "${suites[@]}"; do
	case $s in
	*-*) hs=$host_codename-${s#*-} ;;
	*) hs=$host_codename ;;
	esac
	stanza=$(host_source "$hs") ||
		die "no apt source for suite '$hs' in /etc/apt/sources.list{,.d/} to derive '$s' from"
	printf 'Types: deb\n%s\nSuites: %s\nComponents: main\n\n' "$stanza" "$s" >>"$srcs"
done
if ! cmp -s "$srcs" "$aptroot/sources/debfetch.sources"; then
	mv "$srcs" "$aptroot/sources/debfetch.sources"
fi
conf=$aptroot/apt.conf
{
	apt-config dump 2>/dev/null | grep -E '^Acquire::' |
		grep -vE '^Acquire::(IndexTargets|Languages|GzipIndexes|CompressionTypes)' || true
	cat <<EOF
Dir::Etc::Parts "$aptroot/empty";
Dir::Etc::main "/dev/null";
Dir::Etc::SourceList "/dev/null";
Dir::Etc::SourceParts "$aptroot/sources";
Dir::Etc::Preferences "/dev/null";
Dir::Etc::PreferencesParts "$aptroot/empty";
Dir::State "$aptroot";
Dir::State::Lists "$aptroot/lists";
Dir::State::status "$aptroot/status";
Dir::Cache "$aptroot/cache";
Dir::Cache::srcpkgcache "";
Dir::Log "$aptroot/log";
Acquire::Languages "none";
Acquire::AllowInsecureRepositories "false";
Acquire::AllowWeakRepositories "false";
Acquire::AllowDowngradeToInsecureRepositories "false";
Acquire::GzipIndexes "false";
APT::Get::List-Cleanup "true";
EOF
} >"$tmp/apt.conf"
mv "$tmp/apt.conf" "$conf"
export APT_CONFIG=$conf

apt_update() {
	if ! apt-get -q update --error-on=any >"$tmp/update.log" 2>&1; then
		{
			echo "$prog: apt-get update of ${suites[*]} failed; sources derived from the host's:"
			grep . "$aptroot/sources/debfetch.sources" | sed 's/^/    /'
			echo "  apt said:"
			grep -E '^(E|W|Err):' "$tmp/update.log" | sed 's/^/    /' || tail -n 20 "$tmp/update.log"
			if grep -qE 'Could not resolve|Temporary failure resolving|Could not connect|Connection (failed|timed out|refused)|Unable to connect|Network is unreachable' "$tmp/update.log"; then
				echo "$prog: the Debian mirror cannot be reached."
			elif grep -qE 'NO_PUBKEY|EXPKEYSIG|BADSIG|not signed|signature' "$tmp/update.log"; then
				echo "$prog: the archive's signature does not verify with the host's keyring; not going on."
			fi
		} >&2
		exit 1
	fi
}
in_lists() { # is NAME at its pinned version in the private lists?
	apt-cache madison "$1" 2>/dev/null |
		awk -F'|' -v v="${L_VER[$1]}" '{ gsub(/[ \t]/, "", $2) } $2 == v { f = 1 } END { exit !f }'
}

# --- fetch, check, unpack ----------------------------------------------------------------------
updated=0
mkdir -p "$tmp/dl"
[ "$(id -u)" -eq 0 ] && id _apt >/dev/null 2>&1 && chown _apt "$tmp/dl"
for n in "${todo[@]}"; do
	is_unpacked "$n" && continue # done by a parallel run while we waited for the lock
	ver=${L_VER[$n]} want=${L_SHA[$n]}
	deb=$(find "$cache/pool" -maxdepth 1 -name "${n}_${ver//:/%3a}_*.deb" -print -quit)
	if [ -n "$deb" ]; then
		got=$(sha256sum "$deb" | cut -d' ' -f1)
		[ "$got" = "$want" ] || die "SHA-256 mismatch for $n $ver in the cache ($deb):
  expected $want (from $lockfile)
  actual   $got
  remove that file to fetch it again, or fix the lock."
	else
		if [ $updated -eq 0 ] && ! in_lists "$n"; then apt_update; updated=1; fi
		in_lists "$n" || die "$n $ver is not in ${L_SUITE[$n]} (any more?): apt-cache has $(apt-cache policy "$n" 2>/dev/null | awk '/Candidate:/ {print $2}'); update $lockfile"
		rm -f "$tmp/dl"/*.deb
		(cd "$tmp/dl" && apt-get -q download "$n=$ver") >"$tmp/download.log" 2>&1 || {
			sed 's/^/    /' "$tmp/download.log" >&2
			if grep -qE 'Could not resolve|Temporary failure resolving|Could not connect|Connection (failed|timed out|refused)|Unable to connect|Network is unreachable' "$tmp/download.log"; then
				die "downloading $n $ver failed: the Debian mirror cannot be reached"
			fi
			die "downloading $n $ver failed"
		}
		dl=$(find "$tmp/dl" -maxdepth 1 -name '*.deb' -print -quit)
		[ -n "$dl" ] || die "apt-get download $n=$ver produced no .deb"
		got=$(sha256sum "$dl" | cut -d' ' -f1)
		[ "$got" = "$want" ] || die "SHA-256 mismatch for $n $ver as downloaded by apt (lock suite ${L_SUITE[$n]}):
  expected $want (from $lockfile)
  actual   $got
  the archive serves a different build of that version; check it and fix the lock."
		deb=$cache/pool/$(basename "$dl")
		mv "$dl" "$deb"
		chmod 644 "$deb"
	fi
	out=$tmp/unpack
	rm -rf "$out"
	mkdir "$out"
	dpkg-deb -x "$deb" "$out" || die "dpkg-deb -x $deb failed"
	echo "$want" >"$out/.debfetch-sha256"
	dir=$(dir_of "$n")
	rm -rf "$dir"
	mv "$out" "$dir"
done
emit

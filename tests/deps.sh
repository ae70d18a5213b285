#!/usr/bin/env bash
# Install the Debian packages ClaudeFS needs to build, test and demo, if
# any is missing. Non-interactive; a no-op when all are present.
# --bench adds what tests/bench/run measures against and draws with;
# --fuzz, clang and libFuzzer for make fuzz.
set -euo pipefail

pkgs=(
	build-essential pkg-config
	protobuf-c-compiler libprotobuf-c-dev
	libnng-dev liburing-dev libfuse3-dev fuse3
	libisal-dev libsodium-dev libjansson-dev
	check libsubunit-dev liblmdb-dev libraft-dev libuv1-dev libcurl4-openssl-dev
	fio attr acl util-linux valgrind bc python3 python3-botocore
)
# the tier tests' S3 server (npm's s3rver) needs Node.js and npm
command -v npm >/dev/null || pkgs+=(nodejs npm)
if [ "${1:-}" = --fuzz ]; then	# make fuzz: clang's libFuzzer
	pkgs+=(clang-14 libclang-rt-14-dev)
fi
if [ "${1:-}" = --bench ]; then
	pkgs+=(moosefs-master moosefs-chunkserver moosefs-client
	       glusterfs-server glusterfs-client gnuplot-nox iproute2 tar make)
fi
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
s3rver() {	# the version tests/s3rver/package-lock.json pins
	local d
	d=$(cd "$(dirname "$0")" && pwd)/s3rver
	[ -d "$d/node_modules/s3rver" ] && return 0
	echo "deps: installing s3rver (npm) for the tier tests"
	(cd "$d" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
}
[ ${#missing[@]} -eq 0 ] && { s3rver; exit 0; }
echo "deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: run as root (or install the packages above)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
s3rver

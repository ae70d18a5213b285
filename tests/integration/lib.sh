# Shared by the integration tests: a real cluster per test file, started
# with deploy/local/cfs-cluster on its own ports and torn down by a trap
# whatever happens. Source it, then call cluster_up.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export CFS_BIN=${CFS_BIN:-$ROOT/build/bin}
CLUSTER=$ROOT/deploy/local/cfs-cluster
T=$(mktemp -d /tmp/cfs-it.XXXXXX)
chmod 755 "$T"	# other users reach the mount in permission tests
PASS=0
FAIL=0

cleanup() {
	if [ -e "$T/mounts" ]; then	# second_mount's, killed if they hang
		while read -r pid dir; do
			fusermount3 -u -z "$dir" 2>/dev/null
			kill "$pid" 2>/dev/null
			wait_for 5 '! kill -0 "$pid" 2>/dev/null' || {
				echo "cfs-fuse $pid did not stop: SIGKILL"
				kill -9 "$pid" 2>/dev/null
			}
		done <"$T/mounts"
	fi
	# what the test left running in the background (holders, writers)
	# shellcheck disable=SC2046
	kill $(jobs -p) 2>/dev/null
	"$CLUSTER" down --dir "$T/c" >/dev/null 2>&1 || true
	netns_down
	if [ "$FAIL" -gt 0 ]; then	# the evidence, before it goes
		for log in "$T"/c/logs/*.log; do
			[ -s "$log" ] || continue
			echo "---- last lines of $(basename "$log")"
			tail -n 12 "$log"
		done
	fi
	[ -n "${KEEP_T:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

# cluster_up NODES PORT_BASE [FUSE OPTIONS...]; UP_ARGS: more of
# cfs-cluster up's options (an array)
cluster_up() {
	local nodes=$1 port=$2
	shift 2
	MNT=$("$CLUSTER" up --nodes "$nodes" --dir "$T/c" --port-base "$port" \
		${UP_ARGS[@]+"${UP_ARGS[@]}"} -- "$@") ||
		{ echo "FAIL: cluster did not start"; tail -n 20 "$T"/c/logs/*.log; exit 1; }
	MDS=$("$CLUSTER" addr --dir "$T/c")	# every MDS replica's address
	# the cluster's tokens: cfs commands join with the admin's, second
	# mounts with the client's
	export CFS_TOKEN=$T/c/tokens/admin.token
	CLIENT_TOKEN=$T/c/tokens/client.token
}

cluster() { "$CLUSTER" "$1" --dir "$T/c" "${@:2}"; }
# the MDS replica serving now: mds, mds2, ... (cfs-cluster's names)
leader() {
	local a k
	a=$(cluster cfs status "$MDS" 2>/dev/null | awk '/^mds /{print $2}')
	k=${a##*.}
	k=${k%%:*}
	case $k in 1) echo mds ;; [2-9]) echo "mds$k" ;; esac
}
# whether the MDS replica at address $1 is heard from by the leader and
# caught up (less than 100 entries behind)
follows() {
	cluster cfs status --json "$MDS" 2>/dev/null | python3 -c '
import json, sys
m = json.load(sys.stdin)["mds"]["replicas"]
r = [x for x in m if x["address"] == sys.argv[1]]
sys.exit(0 if r and r[0]["up"] and r[0]["lag"] < 100 else 1)' "$1"
}
# the health line of cfs status (HEALTHY, or DEGRADED: why)
health() { cluster cfs status "$MDS" | grep '^health:'; }

# netns_up P NODES: network namespaces for cfs-cluster's CFS_NETNS=P:
# P1..PNODES and Pc (the client), each with eth0 on one bridge in Psw
# (10.77.0.K, the client 10.77.0.100); removed by cleanup. link_down K
# and link_up K take node K's link (c: the client's) down and up again.
NETNS_MADE=
netns_up() {
	local p=$1 n a
	NETNS_MADE=$p
	ip netns add "${p}sw" &&
		ip -n "${p}sw" link add br0 type bridge &&
		ip -n "${p}sw" link set br0 up || return 1
	for n in $(seq 1 "$2") c; do
		a=10.77.0.$n
		[ "$n" = c ] && a=10.77.0.100
		ip netns add "$p$n" &&
			ip -n "${p}sw" link add "b$n" type veth peer name eth0 \
				netns "$p$n" &&
			ip -n "${p}sw" link set "b$n" master br0 up &&
			ip -n "$p$n" addr add "$a/24" dev eth0 &&
			ip -n "$p$n" link set eth0 up &&
			ip -n "$p$n" link set lo up || return 1
	done
}
netns_down() {
	local ns
	[ -n "$NETNS_MADE" ] || return 0
	for ns in $(ip netns list | awk '{print $1}'); do
		case $ns in "$NETNS_MADE"*) ip netns del "$ns" ;; esac
	done
}
link_down() { ip -n "${NETNS_MADE}sw" link set "b$1" down; }
link_up() { ip -n "${NETNS_MADE}sw" link set "b$1" up; }

mounted() { awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/self/mounts; }

# second_mount DIR [OPTIONS]: another cfs-fuse of the cluster on DIR (its
# data cache in DIR.cache), its PID in MOUNT_PID, unmounted and stopped
# by cleanup; 1 if it did not mount within 10 s. With MOUNT_NETNS, it
# runs in that network namespace.
second_mount() {
	local dir=$1 ns=()
	mkdir -p "$dir"
	[ -n "${MOUNT_NETNS:-}" ] && ns=(nsenter --net="/run/netns/$MOUNT_NETNS")
	${ns[@]+"${ns[@]}"} "$CFS_BIN/cfs-fuse" "$MDS" "$dir" -f \
		-o "token=$CLIENT_TOKEN,cache_dir=$dir.cache" "${@:2}" >>"$T/fuse2.log" 2>&1 &
	MOUNT_PID=$!
	echo "$MOUNT_PID $dir" >>"$T/mounts"
	wait_for 10 'mounted "$dir"'
}

# cold_caches: the next reads of every mount reach the OSDs: the kernel's
# page cache and each mount's data cache (cfs cache drop) are emptied
cold_caches() {
	local m
	echo 3 >/proc/sys/vm/drop_caches
	for m in "$MNT" $(awk '{ print $2 }' "$T/mounts" 2>/dev/null); do
		"$CFS_BIN/cfs" cache drop "$m" 2>/dev/null
	done
	return 0
}

# fd7_reads_as FILE: descriptor 7, read whole from its start, holds
# FILE's bytes (a file the test holds open across others' changes)
fd7_reads_as() {
	python3 -c '
import os, sys
os.lseek(7, 0, 0)
got = b""
while True:
	b = os.read(7, 1 << 20)
	if not b:
		break
	got += b
sys.exit(got != open(sys.argv[1], "rb").read())' "$1"
}

ok() { PASS=$((PASS + 1)); echo "ok   $*"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL $*"; }

# check NAME 'EXPRESSION': pass if the whole expression, one string
# evaluated here (so `[ a ] && [ b ]` is asserted whole), succeeds; more
# than one argument is refused, as a shell would split `check N [ a ] &&
# [ b ]` before the helper sees it
check() {
	if [ $# -ne 2 ]; then
		bad "$1 (check takes one quoted expression, got $(($# - 1)) words)"
		return
	fi
	if eval "$2"; then ok "$1"; else bad "$1"; fi
}

# wait_for SECONDS 'EXPRESSION' (tests/poll.sh)
. "$ROOT/tests/poll.sh"

# check_within SECONDS NAME 'EXPRESSION': pass if the expression holds
# within SECONDS (a visibility bound: polled, never a fixed sleep)
check_within() {
	if wait_for "$1" "$3"; then ok "$2"; else bad "$2 (not within $1 s)"; fi
}

# same_file EXPECTED ACTUAL: the same bytes; else says where they part
# (cmp's first difference, or its read error)
same_file() {
	local why
	why=$(cmp "$1" "$2" 2>&1) && return 0
	echo "     $2: ${why:-differs}" | head -n 1
	return 1
}

# model_run DIR: the randomized model (tests/posix/model.c), seed
# $MODEL_SEED (else a random one, printed), $MODEL_OPS operations (300)
# from 4 processes, on a local directory and on DIR (made here). Leaves
# the results in $T/local.log.K and DIR.log.K, the final trees in
# $T/local.tree and $T/mount.tree.
MODEL_PROCS=4
model_run() {
	local seed=${MODEL_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
	local ops=${MODEL_OPS:-300} local_dir k
	echo "     model seed $seed, $MODEL_PROCS processes x $ops operations"
	local_dir=$(mktemp -d "$T/model.XXXXXX")
	mkdir "$1"
	"$CFS_BIN/model" "$seed" "$ops" "$MODEL_PROCS" "$local_dir" >"$T/local.tree"
	"$CFS_BIN/model" "$seed" "$ops" "$MODEL_PROCS" "$1" >"$T/mount.tree"
	for k in $(seq 0 $((MODEL_PROCS - 1))); do
		mv "$local_dir.log.$k" "$T/local.log.$k"
	done
	rm -rf "$local_dir"
}

finish() {
	echo "$(basename "$0"): $PASS passed, $FAIL failed"
	[ "$FAIL" -eq 0 ]
}

#!/usr/bin/env bash
# The data exerciser (tests/posix/fsx.c) on real daemons: every read of
# every operation compared with a model of the file.
#  1. on a local directory, so the exerciser itself is checked;
#  2. the regression logs (tests/posix/regress/*.fsxlog), each replayed
#     FSX_REPLAYS times (300) on fresh files on the default mount;
#  3. FSX_OPS operations (100,000) in each of, at the same time: the
#     default mount with two processes on one file, a second mount with
#     -o strict, and two mounts with close-to-open checks at every reopen;
#  4. FSX_OPS more on the default mount while OSDs are SIGKILLed and
#     restarted, one at a time, for as long as it runs.
# Seeds are printed; FSX_SEED=N replays a run, FSX_RUNS=K runs K seeds in
# each configuration (make soak). A failing run prints its last
# operations and leaves its whole log in the test's directory.
. "$(dirname "$0")/lib.sh"
CFS_DOWN_AFTER_MS=2000 cluster_up 3 "${FSX_PORT:-7580}"

ops=${FSX_OPS:-100000}
runs=${FSX_RUNS:-1}
replays=${FSX_REPLAYS:-300}
seed=${FSX_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
FSX=$CFS_BIN/fsx
echo "     fsx seed $seed, $runs x $ops operations per configuration"

local_dir=$(mktemp -d /var/tmp/cfs-fsx.XXXXXX)
trap 'rm -rf "$local_dir"; cleanup' EXIT

# fsx_check NAME LOG ARGS...: run fsx, pass if it exits 0; on a failure
# its report is shown and its log kept
fsx_check() {
	local name=$1 log=$2
	shift 2
	if "$FSX" -q "$@" >"$log" 2>&1; then
		ok "$name: $(tail -n 1 "$log")"
	else
		bad "$name:"
		sed 's/^/     /' "$log" | head -n 60
	fi
}

fsx_check "local directory (the exerciser agrees with the kernel)" \
	"$T/local.out" -n 20000 -s "$seed" -i 2 -p 2 "$local_dir/f"

for r in "$ROOT"/tests/posix/regress/*.fsxlog; do
	fsx_check "$(basename "$r") replayed $replays times on fresh files" \
		"$T/replay.out" -r "$r" -i "$replays" -l "$T/$(basename "$r").fail" \
		"$MNT/replay"
done

second_mount "$T/b" -o no_uring || bad "second mount did not come up"
second_mount "$T/s" -o strict || bad "strict mount did not come up"
"$FSX" -q -n "$ops" -i "$runs" -s "$seed" -p 2 -l "$T/default.log" \
	"$MNT/default" >"$T/default.out" 2>&1 &
p1=$!
"$FSX" -q -n "$ops" -i "$runs" -s "$((seed + 1000))" -l "$T/strict.log" \
	"$T/s/strict" >"$T/strict.out" 2>&1 &
p2=$!
"$FSX" -q -n "$ops" -i "$runs" -s "$((seed + 2000))" -b "$T/b/two" \
	-l "$T/two.log" "$MNT/two" >"$T/two.out" 2>&1 &
p3=$!
for cfg in "default mount, 2 processes:$p1:default" "-o strict:$p2:strict" \
	   "two mounts, close-to-open:$p3:two"; do
	IFS=: read -r name pid out <<<"$cfg"
	if wait "$pid"; then
		ok "$name: $(tail -n 1 "$T/$out.out")"
	else
		bad "$name:"
		sed 's/^/     /' "$T/$out.out" | head -n 60
	fi
done

# OSDs SIGKILLed and restarted, one at a time, while fsx runs
up_count() { "$CFS_BIN/cfs" status "$MDS" 2>/dev/null | awk '/ of .* OSDs up/ {print $1}'; }
wait_up() {	# wait_up N: until N OSDs are up (30 s at most)
	for _ in $(seq 1 300); do
		[ "$(up_count)" = "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
"$FSX" -q -n "$ops" -i "$runs" -s "$((seed + 3000))" -l "$T/kill.log" \
	"$MNT/kill" >"$T/kill.out" 2>&1 &
p4=$!
kills=0 k=2
while kill -0 "$p4" 2>/dev/null; do
	cluster kill "osd$k" >/dev/null
	kills=$((kills + 1))
	wait_up 2 || { bad "osd$k was not marked down"; break; }
	cluster start "osd$k" >/dev/null
	wait_up 3 || { bad "osd$k did not come back"; break; }
	k=$((k % 3 + 1))
done
if wait "$p4"; then
	ok "default mount, $kills OSD kills: $(tail -n 1 "$T/kill.out")"
else
	bad "default mount with OSDs killed ($kills kills):"
	sed 's/^/     /' "$T/kill.out" | head -n 60
fi
check "at least one OSD was killed during the run" '[ "$kills" -ge 1 ]'
check "cfs fsck finds the namespace consistent" '"$CFS_BIN/cfs" fsck "$T/c/mds"'

finish

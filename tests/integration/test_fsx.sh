#!/usr/bin/env bash
# The data exerciser (tests/posix/fsx.c) on real daemons: every read of
# every operation compared with a model of the file.
#  1. on a local directory, so the exerciser itself is checked;
#  2. the regression logs (tests/posix/regress/*.fsxlog), each replayed
#     FSX_REPLAYS times (300) on fresh files on the default mount;
#  3. FSX_OPS operations (60,000; make soak: 100,000) in each of, at the same time: the
#     default mount with two processes on one file, a second mount with
#     -o strict, and two mounts with close-to-open checks at every reopen
#     while a third process fsyncs the file over and over (-F: flushes
#     the kernel does not order with truncates and writes);
#  4. FSX_OPS more on the default mount while OSDs are SIGKILLed and
#     restarted, one at a time, for as long as it runs, with up to
#     FSX_KILL_GAP seconds (5) of calm after each comes back (without it
#     the run spends most of its time failing over: 450 s instead of 120).
# Seeds are printed; FSX_SEED=N replays a run, FSX_RUNS=K runs K seeds in
# each configuration (make soak). FSX_NODES=6 runs it all on six nodes,
# where files are ec:4+2 by default (make soak does both). One MDS in
# make test (FSX_MDS_REPLICAS, 1: the data path is what it exercises,
# and three replicas add two minutes); make soak runs the default three.
# A failing run prints its last operations and leaves its whole log in
# the test's directory.
. "$(dirname "$0")/lib.sh"
nodes=${FSX_NODES:-3}
CFS_MDS_REPLICAS=${FSX_MDS_REPLICAS:-1} CFS_DOWN_AFTER_MS=2000 \
	cluster_up "$nodes" "${FSX_PORT:-7580}"

ops=${FSX_OPS:-60000}
runs=${FSX_RUNS:-1}
replays=${FSX_REPLAYS:-300}
seed=${FSX_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
FSX=$CFS_BIN/fsx
touch "$MNT/.probe"
echo "     fsx seed $seed, $runs x $ops operations per configuration, $nodes nodes" \
	"(files are $(cluster cfs layout get "$MNT/.probe" | cut -d' ' -f2))"
rm -f "$MNT/.probe"

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
start_fsx() {	# start_fsx NAME SEED ARGS...: in the background; its exit
		# status lands in $T/NAME.rc (bash forgets those of children
		# that ended long ago)
	( "$FSX" -q -n "$ops" -i "$runs" -s "$2" -l "$T/$1.log" "${@:3}" \
		>"$T/$1.out" 2>&1; echo $? >"$T/$1.rc" ) &
	fsx_pid=$!
}
fsx_result() {	# fsx_result NAME TITLE: once NAME's run has ended
	if [ "$(cat "$T/$1.rc" 2>/dev/null)" = 0 ]; then
		ok "$2: $(tail -n 1 "$T/$1.out")"
	else
		bad "$2:"
		sed 's/^/     /' "$T/$1.out" | head -n 60
	fi
}
# three configurations at once (they wait on disks and round trips more
# than on the CPU)
start_fsx default "$seed" -p 2 "$MNT/default"
pids=("$fsx_pid")
start_fsx strict "$((seed + 1000))" "$T/s/strict"
pids+=("$fsx_pid")
start_fsx two "$((seed + 2000))" -b "$T/b/two" -F "$MNT/two"
pids+=("$fsx_pid")
wait "${pids[@]}"
fsx_result default "default mount, 2 processes"
fsx_result strict "-o strict"
fsx_result two "two mounts, close-to-open, a syncer"
check "no daemon crashed under them" '! "$CLUSTER" status --dir "$T/c" | grep -q " dead"'

# OSDs SIGKILLed and restarted, one at a time, for as long as a run lasts
up_count() { "$CFS_BIN/cfs" status "$MDS" 2>/dev/null | awk '/ of .* OSDs up/ {print $1}'; }
start_fsx kill "$((seed + 3000))" "$MNT/kill"
kills=0 k=2
while kill -0 "$fsx_pid" 2>/dev/null; do
	cluster kill "osd$k" >/dev/null
	kills=$((kills + 1))
	wait_for 30 '[ "$(up_count)" = $((nodes - 1)) ]' || { bad "osd$k was not marked down"; break; }
	cluster start "osd$k" >/dev/null
	wait_for 30 '[ "$(up_count)" = "$nodes" ]' || { bad "osd$k did not come back"; break; }
	wait_for "${FSX_KILL_GAP:-5}" '! kill -0 "$fsx_pid" 2>/dev/null'
	k=$((k % nodes + 1))
done
wait "$fsx_pid"
fsx_result kill "default mount, $kills OSD kills"
check "at least one OSD was killed during the run" '[ "$kills" -ge 1 ]'
check "no daemon crashed in the kill run" '! "$CLUSTER" status --dir "$T/c" | grep -q " dead"'
check "cfs fsck finds the namespace consistent" '"$CFS_BIN/cfs" fsck "$T/c/mds"'
# every file a run removed while open is freed once closed (a close
# racing the unlink left some as open orphans for the mount's lifetime)
check_within 10 "no file removed while open is left unfreed" '"$CFS_BIN/cfs" fsck "$T/c/mds" | grep -q " 0 open orphans, 0 problems"'

finish

#!/usr/bin/env bash
# The MDS with no single point of failure: three replicas (a Raft group)
# on nodes 1-3. While four writers create, rename and unlink files, the
# leader is SIGKILLed again and again (each time the new one, then
# restarted): no operation fails, the tree ends as the operations made
# it (each once), a process's fcntl lock stays held, the longest pause
# of a writer stays under 5 s (the pauses are printed), and every
# replica's store ends fsck-clean and identical. With two of three replicas dead,
# a create waits (no split brain) and completes once one returns. Then
# a dead replica is replaced for good (cfs mds remove, add).
# Replicas snapshot every 128 log entries here (8192 by default), so
# that failovers, restarts and the new replica's catch-up all go through
# snapshots, and each Raft log stays small.
# MDS_HA_CYCLES sets the number of failovers (make soak runs 20).
. "$(dirname "$0")/lib.sh"

CFS_MDS_FLAGS="--snapshot-entries 128" cluster_up 3 7700 \
	${MDS_HA_FUSE:+-o "$MDS_HA_FUSE"}
CYCLES=${MDS_HA_CYCLES:-4}

# a process holding a write lock on $MNT/locked through every failover;
# held: whether another process's lock attempt finds it taken
python3 -c '
import fcntl, sys, time
f = open(sys.argv[1], "w")
fcntl.lockf(f, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
while True:
    time.sleep(1)
' "$MNT/locked" "$T/locked" &
HOLDER=$!
held() {
	python3 -c '
import fcntl, sys
try:
    fcntl.lockf(open(sys.argv[1], "w"), fcntl.LOCK_EX | fcntl.LOCK_NB)
except BlockingIOError:
    sys.exit(0)
sys.exit(1)
' "$MNT/locked"
}

# a process holding open a file it wrote (1 MiB) and then unlinked,
# through every failover; on "$T/orphan.ask" it drops its cached pages,
# reads the file through its descriptor and opened again by
# /proc/self/fd, and answers in "$T/orphan.said"
python3 -c '
import hashlib, os, sys, time
path, t = sys.argv[1], sys.argv[2]
data = b"".join(hashlib.sha256(b"%d" % i).digest() for i in range(32768))
fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
os.write(fd, data)
os.fsync(fd)
os.unlink(path)
open(t + "/orphan.ready", "w").close()
while True:
    if os.path.exists(t + "/orphan.ask"):
        os.unlink(t + "/orphan.ask")
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        a = os.pread(fd, len(data) + 1, 0)
        with open("/proc/self/fd/%d" % fd, "rb") as f:
            b = f.read()
        said = "ok" if a == data and b == data else "bad %d %d" % (len(a), len(b))
        open(t + "/orphan.said.new", "w").write(said)
        os.rename(t + "/orphan.said.new", t + "/orphan.said")
    time.sleep(0.1)
' "$MNT/orphan" "$T" &
ORPHAN=$!
# what the holder says when asked
orphan_reads() {
	rm -f "$T/orphan.said"
	touch "$T/orphan.ask"
	wait_for 20 '[ -e "$T/orphan.said" ]' && cat "$T/orphan.said"
}

fsck_of() { "$CFS_BIN/cfs" fsck "$T/c/$1" 2>&1 | grep '^fsck:'; }

check_within 20 "the replicas elect a leader that serves" '[ -n "$(leader)" ]'
check_within 10 "a process holds a write lock" '[ -e "$T/locked" ] && held'
check_within 10 "a process holds open a file it unlinked: an open orphan" \
	'[ -e "$T/orphan.ready" ] &&
	 fsck_of "$(leader)" | grep -q " 1 open orphans, 0 problems"'
# cfs status --json: the leader and its three replicas, all answering
replicas_up() {
	cluster cfs status --json "$MDS" | python3 -c '
import json, sys
m = json.load(sys.stdin)["mds"]
print(sum(r["up"] for r in m["replicas"]),
      [r["address"] for r in m["replicas"] if r["role"] == "leader"][0])'
}
check_within 10 "cfs status --json: 3 replicas answering, one the leader" \
	'r=$(replicas_up) && [ "${r%% *}" = 3 ] && [ -n "${r#* }" ]'

# writer I: in wI, file fJ made holding "I.J", every third renamed to
# rJ, and at every fifth the one before removed; each operation noted in
# $T/okI (op, J, time) once it returned, a failed one in $T/failedI
writer() {
	local i=$1 j=0 d=$MNT/w$i prev
	mkdir -p "$d"
	note() { echo "$1 $2 $(date +%s%N)" >>"$T/ok$i"; }
	while [ ! -e "$T/stop" ]; do
		j=$((j + 1))
		if echo "$i.$j" >"$d/f$j" 2>>"$T/err$i"; then note c "$j"
		else echo "c $j" >>"$T/failed$i"; continue; fi
		if [ $((j % 3)) = 0 ]; then
			if mv "$d/f$j" "$d/r$j" 2>>"$T/err$i"; then note m "$j"
			else echo "m $j" >>"$T/failed$i"; fi
		fi
		if [ $((j % 5)) = 0 ]; then
			prev=f$((j - 1))
			[ $(((j - 1) % 3)) = 0 ] && prev=r$((j - 1))
			if rm "$d/$prev" 2>>"$T/err$i"; then note u $((j - 1))
			else echo "u $((j - 1))" >>"$T/failed$i"; fi
		fi
	done
}
for i in 1 2 3 4; do
	writer "$i" &
	echo $! >>"$T/writers"
done
done_by() { cat "$T"/ok* 2>/dev/null | wc -l; }
# the operations each writer did: "N1 N2 N3 N4"
each_done() { for i in 1 2 3 4; do cat "$T/ok$i" 2>/dev/null | wc -l; done | xargs; }
# whether every writer did more than in $1 ("N1 N2 N3 N4")
all_past() {
	local was=($1) now i
	now=($(each_done))
	for i in 0 1 2 3; do [ "${now[$i]}" -gt "${was[$i]}" ] || return 1; done
}

killed_ok=0 lock_kept=0
reclaims() { cat "$T"/c/logs/mds*.log | grep -c "reclaim window over"; }
for c in $(seq 1 "$CYCLES"); do
	old=$(leader)
	[ -n "$old" ] || { bad "cycle $c: no leader to kill"; break; }
	reclaimed=$(reclaims)
	cluster kill "$old"
	# the next kill waits for every writer to go on after this one
	# (counted once the old leader is dead): a pause measured is one
	# failover's, not two
	before=$(each_done)
	echo "$(date +%s.%N) cycle $c killed $old, writers at $before" >>"$T/cycles"
	# (the cheap test first: cfs status, a process and a handshake,
	# polled every 20 ms would take the CPU the failover needs)
	if wait_for 20 'all_past "$before" && [ -n "$(leader)" ] &&
			[ "$(leader)" != "$old" ]'; then
		echo "$(date +%s.%N) cycle $c: $(leader) serves, writers at" \
			"$(each_done)" >>"$T/cycles"
		killed_ok=$((killed_ok + 1))
		held && lock_kept=$((lock_kept + 1))
	else
		bad "cycle $c: no new leader serving the writers after $old died"
	fi
	cluster start "$old"
	# back in the group before the next kill: a failover while a
	# replica is still rejoining is two of three impaired (its election
	# can wait out a stale candidate's), not the one measured here
	k=${old#mds}
	wait_for 20 'follows "127.0.0.${k:-1}:7700"' ||
		bad "cycle $c: $old did not rejoin its replicas"
done
touch "$T/stop"
while read -r p; do wait "$p"; done <"$T/writers"
check "$CYCLES leaders SIGKILLed, each followed by a new one serving" \
	'[ "$killed_ok" = "$CYCLES" ]'
check "the lock is still held after every failover" \
	'[ "$lock_kept" = "$CYCLES" ]'
kill "$HOLDER"
wait "$HOLDER" 2>/dev/null
check_within 5 "... and let go when its holder ends" '! held'
# the last leader's window for clients to tell their opens has passed:
# the file unlinked while open is still there, whole
check_within 30 "the last leader's reclaim window ends" \
	'[ "$(reclaims)" -gt "$reclaimed" ]'
check "the file unlinked while open reads back whole after $CYCLES failovers" \
	'[ "$(orphan_reads)" = ok ]'
check "... and is still an open orphan on the leader's store" \
	'fsck_of "$(leader)" | grep -q " 1 open orphans, 0 problems"'
kill "$ORPHAN"
wait "$ORPHAN" 2>/dev/null
check_within 10 "... and freed once its holder closes it" \
	'fsck_of "$(leader)" | grep -q " 0 open orphans, 0 problems"'
check "no writer's operation failed" '! cat "$T"/failed* 2>/dev/null | grep -q .'
cat "$T"/err* 2>/dev/null | head -n 5

# the tree is what the operations that returned made: every file there
# with its bytes, nothing else
python3 - "$T" "$MNT" >"$T/tree" <<'EOF'
import sys, os
t, mnt = sys.argv[1], sys.argv[2]
wrong = []
for i in range(1, 5):
    want = {}
    for line in open(f"{t}/ok{i}"):
        op, j, _ = line.split()
        if op == "c": want[f"f{j}"] = f"{i}.{j}"
        elif op == "m": want[f"r{j}"] = want.pop(f"f{j}")
        else: want.pop(f"r{j}" if f"r{j}" in want else f"f{j}")
    d = f"{mnt}/w{i}"
    have = set(os.listdir(d))
    wrong += [f"w{i}/{n}: extra" for n in have - set(want)]
    for n, v in want.items():
        if n not in have: wrong.append(f"w{i}/{n}: missing")
        elif open(f"{d}/{n}").read().strip() != v: wrong.append(f"w{i}/{n}: bytes")
print(len(wrong), " ".join(wrong[:10]))
EOF
check "all $(done_by) operations that returned are in the tree, once ($(cat "$T/tree"))" \
	'[ "$(cut -d" " -f1 "$T/tree")" = 0 ] && [ "$(done_by)" -gt 100 ]'

# the pauses: per writer, the longest gap between two operations; and
# per failover, the longest gap of any writer across its kill
python3 - "$T" >"$T/pauses" <<'EOF'
import sys, glob
t = sys.argv[1]
gaps, spans = [], []
for f in glob.glob(t + "/ok*"):
    ts = [int(l.split()[2]) for l in open(f) if l.strip()]
    gaps += [(b - a) / 1e6 for a, b in zip(ts, ts[1:])]
    spans += list(zip(ts, ts[1:]))
kills = [float(l.split()[0]) * 1e9 for l in open(t + "/cycles") if "killed" in l]
per = sorted(max([(b - a) / 1e6 for a, b in spans if a <= k <= b] or [0])
             for k in kills)
gaps.sort(reverse=True)
print("longest pauses (ms):", " ".join("%.0f" % g for g in gaps[:8]))
if per:
    print("pause per failover (ms): min %.0f median %.0f p90 %.0f max %.0f"
          % (per[0], per[len(per) // 2], per[int(len(per) * 0.9)], per[-1]))
print(int(gaps[0]) if gaps else 0)
EOF
head -n -1 "$T/pauses"
check "the longest pause of a writer is under 5 s" \
	'[ "$(tail -n 1 "$T/pauses")" -lt 5000 ]'

# the replicas agree, once each has applied everything
check_within 20 "every replica's store is fsck-clean and the same" \
	'a=$(fsck_of mds) && [ -n "$a" ] && [ "$a" = "$(fsck_of mds2)" ] &&
	 [ "$a" = "$(fsck_of mds3)" ] && grep -q " 0 problems" <<<"$a"'

# two of three dead: no majority, so nothing is acknowledged ... A
# second mount asks each replica for 1 s (three attempts: 3 s a round)
# and waits for one to serve, as a hard NFS mount does; a third gives up
# after mds_wait=2 s
second_mount "$T/m2" -o mds_timeout=1000
second_mount "$T/m3" -o mds_timeout=1000,mds_wait=2
lead=$(leader)
others=$(for m in mds mds2 mds3; do [ "$m" = "$lead" ] || echo "$m"; done)
for m in $others; do cluster kill "$m"; done
( echo quorum >"$MNT/quorum" && touch "$T/quorum.done" ) &
qpid=$!
( echo m2 >"$T/m2/quorum2" && touch "$T/quorum2.done" ) 2>"$T/quorum2.err" &
q2pid=$!
( echo m3 >"$T/m3/quorum3" ) 2>"$T/quorum3.err" &
q3pid=$!
check "with two replicas dead a create waits (2 s)" \
	'! wait_for 2 "[ -e \"$T/quorum.done\" ]"'
check_within 20 "... a mount with mds_wait=2 gives up, saying why" \
	'! kill -0 "$q3pid" 2>/dev/null && [ -s "$T/quorum3.err" ]'
check "... one that asks each replica for 1 s still waits after two rounds (7 s)" \
	'! wait_for 5 "[ -e \"$T/quorum2.done\" ] || [ -s \"$T/quorum2.err\" ]"'
cluster start "$(head -n 1 <<<"$others")"
check_within 20 "... and both complete once one replica returns" \
	'[ -e "$T/quorum.done" ] && [ "$(cat "$MNT/quorum")" = quorum ] &&
	 [ -e "$T/quorum2.done" ] && [ "$(cat "$MNT/quorum2")" = m2 ]'
wait "$qpid" "$q2pid"
check_within 10 "cfs status says one MDS replica is not answering" \
	'health | grep -q "DEGRADED: 1 MDS replica not answering"' 
cluster start "$(tail -n 1 <<<"$others")"
check_within 20 "the returning replica catches up: all three the same" \
	'a=$(fsck_of mds) && [ "$a" = "$(fsck_of mds2)" ] &&
	 [ "$a" = "$(fsck_of mds3)" ]'
check_within 10 "... and cfs status says HEALTHY" 'health | grep -q HEALTHY'

# a node replaced for good: mds3 dies and leaves the group, a replica on
# node 4 joins it (cfs mds remove, add), and leads in its turn: the
# mount reaches it although its MDS address does not name node 4
check "cfs mds add of an address where no replica runs fails, saying why" \
	'out=$(cluster cfs mds add 127.0.0.9:7700 "$MDS" 2>&1); rc=$?
	 [ "$rc" = 1 ] && grep -q "did not catch up" <<<"$out"'
check_within 5 "... and leaves the group as it was: HEALTHY" \
	'health | grep -q HEALTHY'
check "cfs mds add of what is not an address is refused" \
	'! cluster cfs mds add bogus "$MDS" 2>/dev/null'
cluster kill mds3
check "cfs mds remove takes the dead replica out of the group" \
	'cluster cfs mds remove 127.0.0.3:7700 "$MDS"'
cluster start mds4
check "cfs mds add takes in a new one on node 4, once caught up" \
	'cluster cfs mds add 127.0.0.4:7700 "$MDS"'
members() {
	cluster cfs status --json "$MDS" | python3 -c '
import json, sys
m = json.load(sys.stdin)["mds"]["replicas"]
print(" ".join(sorted(r["address"] for r in m if r["up"])), len(m))'
}
check_within 10 "the group is 3 again, all answering (127.0.0.1,2,4)" \
	'[ "$(members)" = "127.0.0.1:7700 127.0.0.2:7700 127.0.0.4:7700 3" ] &&
	 health | grep -q HEALTHY'
# the removed replica started again (its store still names the old
# group) finds it was removed and stops
cluster start mds3
check_within 20 "a removed replica started again stops by itself, saying why" \
	'! kill -0 "$(cat "$T/c/pids/mds3.pid")" 2>/dev/null &&
	 grep -q "removed from the group" "$T/c/logs/mds3.log"'
check "... and the group stays as it was" \
	'[ "$(members)" = "127.0.0.1:7700 127.0.0.2:7700 127.0.0.4:7700 3" ]'
for c in 1 2 3 4; do
	l=$(leader)
	[ -z "$l" ] || [ "$l" = mds4 ] && break
	cluster kill "$l"
	wait_for 20 '[ -n "$(leader)" ] && [ "$(leader)" != "$l" ]'
	cluster start "$l"
done
check "the new replica leads after failovers" '[ "$(leader)" = mds4 ]'
check "... and the mount's files are served through it" \
	'echo replaced >"$MNT/replaced" && [ "$(cat "$MNT/replaced")" = replaced ]'
check_within 20 "its store is the others', fsck-clean" \
	'a=$(fsck_of mds4) && [ "$a" = "$(fsck_of mds)" ] &&
	 [ "$a" = "$(fsck_of mds2)" ] && grep -q " 0 problems" <<<"$a"'
check "... caught up from a snapshot (the log before it was dropped)" \
	'grep -q "metadata restored from a snapshot" "$T/c/logs/mds4.log"'
# whether replica $1 snapshotted and cut its log: Raft's closed segments
# are named FIRST-LAST, and none from entry 1 is left
log_cut() {
	ls "$T/c/$1/raft" | grep -q "^snapshot-" &&
		! ls "$T/c/$1/raft" | grep -q "^0*1-"
}
check "each replica's Raft log was cut behind a snapshot of its own" \
	'log_cut mds && log_cut mds2 && log_cut mds4'

# stores are not reinterpreted: a replica's started alone is refused
cluster stop mds2
out=$(timeout 10 "$CFS_BIN/cfs-mds" --listen 127.0.0.2:7790 \
	--data "$T/c/mds2" --insecure true 2>&1)
rc=$?
check "a replica's store started without --peers is refused, saying why" \
	'[ "$rc" = 1 ] && grep -q "is a replica.s.*--peers" <<<"$out"'

echo "test_mds_ha.sh: $PASS passed, $FAIL failed"

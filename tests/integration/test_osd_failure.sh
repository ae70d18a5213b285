#!/usr/bin/env bash
# One OSD killed with SIGKILL while files are read: every read still
# returns the right bytes from the other replicas; writes go on; the
# OSD is marked down; a corrupt block on a replica is never returned.
. "$(dirname "$0")/lib.sh"
CFS_DOWN_AFTER_MS=2000 cluster_up 3 7440

mkdir "$MNT/r"
for i in $(seq 1 12); do head -c $((i * 500000)) /dev/urandom >"$T/f$i"; cp "$T/f$i" "$MNT/r/f$i"; done

read_all() {
	local i
	for i in $(seq 1 12); do
		cmp -s "$T/f$i" "$MNT/r/f$i" || return 1
	done
}

cold_caches
# read in a loop in the background while an OSD dies
( fails=0; for n in 1 2 3 4 5 6; do cold_caches; read_all || fails=$((fails + 1)); done; echo $fails >"$T/fails" ) &
reader=$!
sleep 0.5
cluster kill osd2
wait $reader
check "reads during an OSD SIGKILL all returned the right bytes" '[ "$(cat "$T/fails")" = 0 ]'

for i in $(seq 1 30); do
	"$CFS_BIN/cfs" status "$MDS" | grep -q ' down ' && break
	sleep 0.2
done
check "dead OSD marked down in the map" '"$CFS_BIN/cfs" status "$MDS" | grep -q " down "'
head -c 3000000 /dev/urandom >"$T/w"
cp "$T/w" "$MNT/r/w"
cold_caches
check "writes succeed with one OSD down" 'same_file "$T/w" "$MNT/r/w"'
cold_caches
check "all files readable with one OSD down" 'read_all'

cluster start osd2
for i in $(seq 1 50); do
	[ "$("$CFS_BIN/cfs" status "$MDS" | grep -c ' up ')" = 3 ] && break
	sleep 0.2
done
check "restarted OSD back up" '[ "$("$CFS_BIN/cfs" status "$MDS" | grep -c " up ")" = 3 ]'
cold_caches
check "all files read right after the OSD returns" 'read_all'
check "file written while the OSD was down reads right after it returns" 'same_file "$T/w" "$MNT/r/w"'

# corrupt one block of the chunk on its primary and its second target:
# reads must still return the right bytes, from the third, and the
# primary, read first, logs what it found (a chunk file's data starts
# at 68 KiB: osd/store.h)
ino=$(stat -c %i "$MNT/r/f12")
chunk=$(printf '%016x.0' "$ino")
targets=$("$CFS_BIN/cfs" locate "$MDS" "$ino" 0)
echo "     f12's chunk: $targets"
for node in $(tr ' ' '\n' <<<"${targets#*:}" | grep -o 'node[0-9]*' | head -n 2); do
	printf 'CORRUPT' | dd of="$(ls "$T"/c/osd"${node#node}"/chunks/*/"$chunk")" \
		bs=1 seek=$((68 * 1024 + 8192)) conv=notrunc status=none
done
cold_caches
check "corrupt replica blocks never returned" 'same_file "$T/f12" "$MNT/r/f12"'
check "the OSD that found corruption logged it" 'grep -q "crc mismatch" "$T"/c/logs/osd*.log'

finish

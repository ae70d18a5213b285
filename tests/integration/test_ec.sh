#!/usr/bin/env bash
# Erasure coding on a 6-node cluster: layouts set and inherited, files of
# every shape written as ec:4+2 and read back, two OSDs SIGKILLed at once
# while a large file is written and read and fsx runs, their shards
# rebuilt when they return, two others killed after that, a damaged
# shard never read, and shards removed with their file. Then healing on
# 7 nodes: a 7th OSD takes its share, one killed for good is taken out
# after out_after_s (8 s here) and its data rebuilt (cfs status HEALTHY),
# a third killed then loses nothing, what it held of files deleted or cut
# short while it was away collected when it returns (gc-grace-s 0 here),
# one taken back in, one drained (cfs osd out) and removed (cfs osd rm).
. "$(dirname "$0")/lib.sh"
CFS_DOWN_AFTER_MS=2000 CFS_OUT_AFTER_S=8 \
	CFS_OSD_FLAGS="--scrub-interval-s 4 --scrub-mbps 200 --gc-grace-s 0" \
	cluster_up 6 7510
layout() { cluster cfs layout "$@"; }

up_count() { "$CFS_BIN/cfs" status "$MDS" | grep -c ' up '; }
osd_id() { cat "$T/c/osd$1/osd_id"; }

check "a file made on a 6-domain cluster is ec:4+2 by default" \
	'touch "$MNT/d0" && [ "$(layout get "$MNT/d0")" = "$MNT/d0: ec:4+2" ]'
mkdir "$MNT/ec" "$MNT/rep"
check "a directory takes a layout" 'layout set "$MNT/ec" ec:4+2 && layout set "$MNT/rep" rep:3'
check "no OSD is taken out when too few failure domains would be left" \
	'! cluster cfs osd out "$(osd_id 1)" 2>/dev/null'
check "a nonsense layout is refused" '! layout set "$MNT/ec" ec:4+9 2>/dev/null'
mkdir "$MNT/ec/sub"
check "what is made in it inherits the layout" \
	'touch "$MNT/ec/sub/x" && [ "$(layout get "$MNT/ec/sub/x")" = "$MNT/ec/sub/x: ec:4+2" ]'
echo data >"$MNT/rep/full"
check "a file with data keeps its layout" '! layout set "$MNT/rep/full" ec:4+2 2>/dev/null'

# files of every shape: empty, a byte, partial blocks and units, whole
# stripes, and one crossing a 64 MiB chunk
sizes="0 1 4095 4097 1048575 1048577 4194304 5000001 70000000"
for s in $sizes; do
	head -c "$s" /dev/urandom >"$T/s$s"
	cp "$T/s$s" "$MNT/ec/s$s"
done
read_shapes() {
	local s
	for s in $sizes; do
		same_file "$T/s$s" "$MNT/ec/s$s" || return 1
	done
}
cold_caches
check "files of every shape read back as written" 'read_shapes'
ino=$(stat -c %i "$MNT/ec/s5000001")
shards=$(ls "$T"/c/osd*/chunks/*/"$(printf '%016x' "$ino")".* 2>/dev/null | wc -l)
check "an ec:4+2 chunk is six shards on six OSDs ($shards)" '[ "$shards" = 6 ]'
used=$(du -cb "$T"/c/osd*/chunks/*/"$(printf '%016x' "$(stat -c %i "$MNT/ec/s70000000")")".* | tail -n 1 | cut -f1)
check "a 70 MB file takes about 1.5 times its size ($used bytes)" \
	'[ "$used" -lt $((70000000 * 16 / 10)) ]'

# two OSDs killed at once while a large file is written and read back
# and fsx runs on its own file
head -c $((96 << 20)) /dev/urandom >"$T/big"
( cp "$T/big" "$MNT/ec/big" && cold_caches &&
  cmp "$T/big" "$MNT/ec/big" && echo ok >"$T/big.ok" ) >"$T/big.out" 2>&1 &
bg=$!
"$CFS_BIN/fsx" -n 3000 -s 11 -q "$MNT/ec/fsx" >"$T/fsx.out" 2>&1 &
fsx=$!
wait_for 10 '[ -s "$MNT/ec/big" ]'
cluster kill osd2
cluster kill osd5
wait $bg
check "a 96 MiB write and read-back with two OSDs killed at once" \
	'[ -s "$T/big.ok" ] || { cat "$T/big.out"; false; }'
wait $fsx
fsx_rc=$?
check "fsx with two OSDs killed under it ($(tail -n 1 "$T/fsx.out"))" '[ $fsx_rc = 0 ]'
cold_caches
check "every file reads right with two OSDs down" 'read_shapes'
head -c 3000000 /dev/urandom >"$T/w"
cp "$T/w" "$MNT/ec/w"
cold_caches
check "a file written with two OSDs down reads back" 'same_file "$T/w" "$MNT/ec/w"'

# back: their shards are rebuilt before they serve, so two others may go
cluster start osd2
cluster start osd5
check_within 30 "the two OSDs are back up" '[ "$(up_count)" = 6 ]'
check "the returning OSDs were sent their missing shards" \
	'grep -q "rebuilt shard" "$T"/c/logs/osd*.log'
# now one after the other, with a file being written across both
head -c $((40 << 20)) /dev/urandom >"$T/w2"
( cp "$T/w2" "$MNT/ec/w2" && echo ok >"$T/w2.ok" ) >"$T/w2.out" 2>&1 &
bg=$!
cluster kill osd1
wait_for 10 '[ "$(up_count)" = 5 ]'
cluster kill osd3
wait $bg
check "a 40 MiB write across two OSDs killed one after the other" \
	'[ -s "$T/w2.ok" ] || { cat "$T/w2.out"; false; }'
cold_caches
check "after the rebuild, two other OSDs killed: still nothing lost" \
	'read_shapes && same_file "$T/w" "$MNT/ec/w" && same_file "$T/big" "$MNT/ec/big" && same_file "$T/w2" "$MNT/ec/w2"'
cluster start osd1
cluster start osd3
check_within 30 "all six up again" '[ "$(up_count)" = 6 ]'

# damage one data shard of a file on disk (a shard file's bytes start at
# 68 KiB: osd/store.h): reads rebuild around it and never return it
ino=$(stat -c %i "$MNT/ec/s4194304")
f=$(ls "$T"/c/osd*/chunks/*/"$(printf '%016x' "$ino")".8* | head -n 1)
printf 'CORRUPT' | dd of="$f" bs=1 seek=$((68 * 1024 + 5000)) conv=notrunc status=none
cold_caches
check "a damaged shard is never read back" 'same_file "$T/s4194304" "$MNT/ec/s4194304"'
check_within 30 "the scrubber repairs the shard and logs it" \
	'grep -q "scrub repaired\" ino=$ino .* rc=0" "$T"/c/logs/osd*.log &&
	 ! dd if="$f" bs=1 skip=$((68 * 1024 + 5000)) count=7 status=none | grep -q CORRUPT'

# a seventh OSD: the positions it wins move to it (their old holders
# send them and drop theirs), nothing is lost, nothing is kept twice
mkdir -p "$T/c/osd7"
cluster start osd7
check_within 30 "a seventh OSD joins" '[ "$(up_count)" = 7 ]'
check_within 60 "shards move to it" \
	'[ "$(find "$T"/c/osd7/chunks -name "*.8*" | wc -l)" -gt 0 ]'
cold_caches
check "after the move every file reads right" \
	'read_shapes && same_file "$T/w" "$MNT/ec/w" && same_file "$T/big" "$MNT/ec/big"'
check_within 60 "moved shards are not kept twice (one file per shard)" \
	'[ -z "$(find "$T"/c/osd*/chunks -name "*.8*" -printf "%f\n" | sort | uniq -d)" ]'
echo appended >>"$MNT/ec/w"
echo appended >>"$T/w"
cold_caches
check "a file changed after the move reads right" 'same_file "$T/w" "$MNT/ec/w"'
# a file's shards go with it
gone=$(printf '%016x' "$(stat -c %i "$MNT/ec/s70000000")")
check "a 70 MB file has 12 shards (two chunks)" \
	'[ "$(find "$T"/c/osd*/chunks -name "$gone.*" | wc -l)" = 12 ]'
rm "$MNT/ec/s70000000"
check_within 30 "a removed file's shards are deleted on every OSD" \
	'[ "$(find "$T"/c/osd*/chunks -name "$gone.*" | wc -l)" = 0 ]'
sizes=${sizes% 70000000}
check_within 60 "cfs status says HEALTHY once the moves are done" \
	'health | grep -q HEALTHY'

# an OSD dies for good: DEGRADED, then out after out_after_s, its copies
# and shards rebuilt on the others (replicated ones too), HEALTHY again
head -c 20000000 /dev/urandom >"$T/r"
cp "$T/r" "$MNT/rep/r"
read_all() {
	read_shapes && same_file "$T/w" "$MNT/ec/w" &&
		same_file "$T/big" "$MNT/ec/big" && same_file "$T/r" "$MNT/rep/r"
}
# files deleted, and one cut short, while it is away: what it holds of
# them must not come back with it
mkdir "$MNT/ec/doomed" "$MNT/rep/doomed"
for i in $(seq 1 12); do
	head -c 300000 /dev/urandom >"$MNT/ec/doomed/$i"
	head -c 300000 /dev/urandom >"$MNT/rep/doomed/$i"
done
head -c 1000000 /dev/urandom >"$T/cut"
cp "$T/cut" "$MNT/ec/cut"
dd if=/dev/urandom of="$MNT/ec/cut" bs=1M count=1 seek=64 conv=notrunc status=none
doomed=$(for f in "$MNT"/{ec,rep}/doomed/*; do printf '%016x.* ' "$(stat -c %i "$f")"; done)
cut=$(printf '%016x' "$(stat -c %i "$MNT/ec/cut")")
# the chunk files of the doomed files and of the cut file's second chunk
held() {
	local n
	for n in $doomed "$cut.*1"; do find "$@" -name "$n"; done
}
check "the OSD to be lost holds copies and shards of them" \
	'[ "$(held "$T"/c/osd4/chunks | wc -l)" -ge 12 ]'
cluster kill osd4
check_within 10 "cfs status says DEGRADED while an OSD is down" \
	'health | grep -q DEGRADED'
# the leader logs it, whichever replica leads
check_within 30 "the dead OSD is taken out after out_after_s" \
	'grep -q "osd marked out\" osd=$(osd_id 4) " "$T"/c/logs/mds*.log'
check_within 90 "its data is rebuilt elsewhere: HEALTHY with 6 of 7 up" \
	'health | grep -q HEALTHY'
cold_caches
check "every file reads right after the rebuild" 'read_all'
raw=$(stat -f -c '%b * %S' "$T")
size=$(stat -f -c '%b * %S' "$MNT")
check "df shows the usable space: 6 OSDs' raw space less their 5% reserve, at ec:4+2's 4/6" \
	'[ $(( (size) * 100 / ((raw) * 4) )) -ge 93 ] && [ $(( (size) * 100 / ((raw) * 4) )) -le 97 ]'
cluster kill osd6
wait_for 10 '[ "$(up_count)" = 5 ]'
cold_caches
check "after the rebuild, a third OSD killed loses nothing" 'read_all'
rm -r "$MNT/ec/doomed" "$MNT/rep/doomed"
truncate -s 1000000 "$MNT/ec/cut"
cluster start osd6
cluster start osd4
check_within 30 "the killed OSDs come back (the one out stays out)" \
	'[ "$(up_count)" = 7 ] && cluster cfs status "$MDS" | grep -q "^$(osd_id 4) .* up *out "'
check "an OSD taken back in" 'cluster cfs osd in "$(osd_id 4)" >/dev/null'
check_within 90 "recovers, takes its share and the cluster is HEALTHY" \
	'[ "$(up_count)" = 7 ] && health | grep -q HEALTHY'
cold_caches
check "every file reads right with it back" 'read_all'
check_within 30 "what it held of files deleted (or cut short) meanwhile is removed everywhere" \
	'[ -z "$(held "$T"/c/osd*/chunks)" ] && grep -q "collected=[1-9]" "$T"/c/logs/osd4.log'
check "the cut file reads back as cut, and grows with zeros" \
	'same_file "$T/cut" "$MNT/ec/cut" && truncate -s 70000000 "$MNT/ec/cut" &&
	 truncate -s 70000000 "$T/cut" && same_file "$T/cut" "$MNT/ec/cut"'

# drain one (out while it runs), then remove it for good
check "an OSD is drained" 'cluster cfs osd out "$(osd_id 7)" >/dev/null'
check_within 90 "its data moves to the others and its space is freed" \
	'health | grep -q HEALTHY && [ -z "$(find "$T"/c/osd7/chunks -type f)" ]'
check "and removed for good" 'cluster cfs osd rm "$(osd_id 7)" >/dev/null'
check_within 10 "it leaves the map and stops serving" \
	'! cluster cfs status "$MDS" | grep -q "^$(osd_id 7) " &&
	 grep -q "removed from the cluster" "$T"/c/logs/osd7.log'
cold_caches
check "every file reads right after the removal" 'read_all'

finish

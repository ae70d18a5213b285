#!/usr/bin/env bash
# Metadata shards: 3 nodes, 2 shards (SHARDS_S=4: four; make soak runs
# both with longer model runs), each a Raft group of 3 replicas.
# New directories of the first three levels spread over both (an
# inode's number carries its shard), deeper ones stay with their parent; a rename, link or removal between directories of the two is a
# transaction of both shards, all or nothing; the randomized model test
# (4 processes: renames and links across directories of both shards)
# ends with the tree a local disk has; renames from one shard's
# directory to the other's while either shard's leader is SIGKILLed,
# again and again, leave every file in exactly one place and every
# rename that returned done; a leader killed at each step of a rename's
# two-phase commit (coordinator or participant) leaves it all done or
# not done. cfs fsck of both shards' stores, cfs status per shard, and
# a shard-1 file's data deleted from the OSDs with it. Seeds replay:
# MODEL_SEED=N.
. "$(dirname "$0")/lib.sh"
S=${SHARDS_S:-2}
CFS_MDS_FLAGS="--fault-file $T/fault" CFS_SHARDS=$S cluster_up 3 7780

SHARD1=${MDS//:7780/:7781}	# shard 1's group: the same nodes, port + 1
shard_of() { echo $(($(stat -c %i "$1") >> 48)); }
# one store of each shard (node 1's replicas), for cfs fsck
stores=("$T/c/mds")
for s in $(seq 1 $((S - 1))); do stores+=("$T/c/mds1.s$s"); done
# shard S's serving replica, as cfs-cluster names it (mdsK, mdsK.s1)
leader_of() {
	local a k
	if [ "$1" = 0 ]; then leader; return; fi
	a=$(cluster cfs status "$SHARD1" 2>/dev/null | awk '/^mds /{print $2}')
	k=${a##*.}
	k=${k%%:*}
	[ -n "$k" ] && echo "mds$k.s1"
}

for i in $(seq 1 32); do mkdir "$MNT/d$i"; done
spread=$(for i in $(seq 1 32); do shard_of "$MNT/d$i"; done | sort | uniq -c | tr -s ' \n' ' ')
check "new directories spread over all $S shards (count shard:$spread)" \
	'[ "$(for i in $(seq 1 32); do shard_of "$MNT/d$i"; done | sort -u | wc -l)" = "$S" ]'
# A: a directory of shard 0, B: one of shard 1
for i in $(seq 1 32); do
	case $(shard_of "$MNT/d$i") in 0) A=$MNT/d$i ;; 1) B=$MNT/d$i ;; esac
done
mkdir -p "$MNT/t/u/v/w/x/y"
check "below the first three levels, directories stay in their parent's shard" \
	'for d in w w/x w/x/y; do [ "$(shard_of "$MNT/t/u/v/$d")" = "$(shard_of "$MNT/t/u/v")" ] || exit 1; done'
check "a file made in a shard-1 directory is shard 1's" \
	'echo one >"$B/new" && [ "$(shard_of "$B/new")" = 1 ] && [ "$(cat "$B/new")" = one ]'

echo payload >"$A/f"
ino=$(stat -c %i "$A/f")
check "a rename across the shards keeps the inode and the bytes" \
	'mv "$A/f" "$B/f" && [ ! -e "$A/f" ] && [ "$(stat -c %i "$B/f")" = "$ino" ] &&
	 [ "$(cat "$B/f")" = payload ]'
check "a hard link across the shards counts two links" \
	'ln "$B/f" "$A/l" && [ "$(stat -c %h "$A/l")" = 2 ] && [ "$(stat -c %h "$B/f")" = 2 ]'
check "removing one name across the shards leaves the other" \
	'rm "$B/f" && [ "$(stat -c %h "$A/l")" = 1 ] && [ "$(cat "$A/l")" = payload ]'
check "removing the last name frees it" \
	'rm "$A/l" && [ ! -e "$A/l" ] && [ -z "$(ls "$A")" ]'
mkdir "$A/sub"
echo x >"$A/sub/x"
sub_shard=$(shard_of "$A/sub")
check "a directory moves across the shards with what it holds" \
	'mv "$A/sub" "$B/sub" && [ "$(cat "$B/sub/x")" = x ] &&
	 [ "$(stat -c %h "$B")" = 3 ] && [ "$(stat -c %h "$A")" = 2 ]'
check "its .. is its new parent" \
	'[ "$(stat -c %i "$B/sub/..")" = "$(stat -c %i "$B")" ]'
mkdir -p "$B/sub/deep/er"
check "a directory is not moved into itself across the shards (EINVAL)" \
	'! mv "$B/sub" "$B/sub/deep/er/" 2>"$T/mv.err" && grep -q "subdirectory of itself" "$T/mv.err"'
check "a directory that is not empty is not removed across the shards" \
	'! rmdir "$B/sub" 2>/dev/null && [ -e "$B/sub/x" ]'
check "rm -r across the shards removes everything (sub was shard $sub_shard)" \
	'rm -r "$B/sub" && [ ! -e "$B/sub" ] && [ "$(stat -c %h "$B")" = 2 ]'
check "tar of a tree spread over both shards reads back" \
	'mkdir -p "$T/src/a/b" "$T/src/c" && seq 1000 >"$T/src/a/b/n" && ln -s b "$T/src/a/s" &&
	 tar -C "$T/src" -cf - . | tar -C "$A" -xf - && diff -r "$T/src" "$A" >/dev/null'

# a second mount hears of changes in every shard (a change feed each)
second_mount "$T/m2"
M2B=$T/m2/${B#"$MNT"/}
touch "$B/probe"
wait_for 5 '[ -e "$M2B/probe" ]'	# its feeds are followed
[ -e "$M2B/seen" ]	# (a miss it may cache)
touch "$B/seen"
check_within 0.3 "another mount sees a name made in a shard-1 directory within 0.3 s" \
	'[ -e "$M2B/seen" ]'
stat -c %a "$M2B/seen" >/dev/null
chmod 600 "$B/seen"
check_within 0.3 "and a shard-1 inode's new mode (attribute timeout: 1 s)" \
	'[ "$(stat -c %a "$M2B/seen")" = 600 ]'
rm "$B/seen"
check_within 0.3 "and its removal" '[ ! -e "$M2B/seen" ]'

iused() { df -P -i "$MNT" | awk 'END {print $3}'; }
before=$(iused)
for i in $(seq 1 50); do : >"$B/n$i"; done
check "df -i counts the inodes of every shard ($before, then $(iused) after 50 in shard 1)" \
	'[ $(($(iused) - before)) = 50 ]'
rm -f "$B"/n*

check "cfs status names each shard's leader" \
	'cluster cfs status --json "$MDS" | python3 -c "
import json, sys
s = json.load(sys.stdin)[\"shards\"]
sys.exit(0 if len(s) == $S and all(x[\"leader\"] and len(x[\"replicas\"]) == 3 for x in s) else 1)"'
check_within 10 "cfs fsck of both shards' stores finds one consistent namespace" \
	'"$CFS_BIN/cfs" fsck "${stores[@]}" | tee "$T/fsck.out" | grep -q " 0 problems"'

# a shard-1 file's data goes from the OSDs with its last name
head -c 3000000 /dev/urandom >"$B/big"
big=$(printf '%016x' "$(stat -c %i "$B/big")")
check "a shard-1 file's chunks are on the OSDs" \
	'ls "$T"/c/osd*/chunks/*/"$big".* >/dev/null 2>&1'
rm "$B/big"
check_within 20 "and go once it is removed" \
	'! ls "$T"/c/osd*/chunks/*/"$big".* >/dev/null 2>&1'

# a leader killed at each step of a rename between the shards (A's
# shard coordinates, B's takes part): all done or not done
dead() { cluster status | awk '$NF == "dead" {print $1}'; }
for step in x-prepared x-decided x-finished x-part-prepared x-part-finished; do
	echo "$step" >"$A/f.$step"
	echo "$step" >"$T/fault"
	t0=$(date +%s%N)
	mv "$A/f.$step" "$B/f.$step" 2>"$T/mv.$step"
	rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	wait_for 5 '[ -n "$(dead)" ]'	# (a zombie until reaped)
	victim=$(dead)
	where=
	[ -e "$A/f.$step" ] && where+=A
	[ -e "$B/f.$step" ] && where+=B
	check "killed at $step ($victim; mv rc $rc after $ms ms): the file is in one place ($where)" \
		'[ ! -e "$T/fault" ] && [ -n "$victim" ] &&
		 { [ "$where" = B ] || { [ "$where" = A ] && [ $rc != 0 ]; }; }'
	for v in $victim; do cluster start "$v"; done
	check_within 30 "after $step, a rename between the shards goes through again" \
		'mv "$B/f.$step" "$A/f.$step" 2>/dev/null || mv "$A/f.$step" "$B/f.$step.2"'
done
check_within 30 "no transaction is left under way, and fsck is clean" \
	'"$CFS_BIN/cfs" fsck "${stores[@]}" >"$T/fsck.out" && ! grep -q "under way" "$T/fsck.out"'

# the randomized model, against a local directory
model_run "$MNT/m"
same=0
for k in 0 1 2 3; do cmp -s "$T/local.log.$k" "$MNT/m.log.$k" && same=$((same + 1)); done
check "model: every result as on a local disk ($same of 4 processes)" '[ "$same" = 4 ]'
check "model: the final trees are identical" \
	'cmp -s "$T/local.tree" "$T/mount.tree" || { diff "$T/local.tree" "$T/mount.tree" | head -n 20; false; }'

# renames from A to B, with either shard's leader killed under them
mkdir "$A/k" "$B/k"
files=120
moved_count() { if [ -e "$T/moved" ]; then wc -l <"$T/moved"; else echo 0; fi; }
for i in $(seq 1 "$files"); do echo "file $i" >"$A/k/$i"; done
( for i in $(seq 1 "$files"); do
	mv "$A/k/$i" "$B/k/$i" 2>>"$T/mv.log" && echo "$i" >>"$T/moved"
  done; echo done >"$T/mover.done" ) &
mover=$!
for round in 1 2 3 4; do
	wait_for 30 '[ "$(moved_count)" -ge $((round * 20)) ] || [ -e "$T/mover.done" ]'
	victim=$(leader_of $((round % 2)))
	[ -n "$victim" ] || continue
	echo "     killed $victim after $(moved_count) renames"
	cluster kill "$victim"
	wait_for 20 '[ -n "$(leader_of $((round % 2)))" ]'
	cluster start "$victim"
done
wait $mover
moved=$(wc -l <"$T/moved")
once=0 twice=0 lost=0 wrong=0
for i in $(seq 1 "$files"); do
	a=0 b=0
	[ -e "$A/k/$i" ] && a=1
	[ -e "$B/k/$i" ] && b=1
	case $a$b in 10|01) once=$((once + 1)) ;; 11) twice=$((twice + 1)) ;; 00) lost=$((lost + 1)) ;; esac
	f=$A/k/$i
	[ $b = 1 ] && f=$B/k/$i
	[ -e "$f" ] && [ "$(cat "$f")" != "file $i" ] && wrong=$((wrong + 1))
done
check "with leaders killed, every file is in exactly one place ($once once, $twice twice, $lost lost)" \
	'[ "$once" = "$files" ]'
check "every rename that returned done is done ($moved of $files returned)" \
	'while read -r i; do [ -e "$B/k/$i" ] || exit 1; done <"$T/moved"'
check "and every file holds its bytes" '[ "$wrong" = 0 ]'
cold_caches
check "a listing of names whose inodes are the other shard's shows each with its attributes" \
	'[ "$(ls -l "$B/k" | grep -c " root root ")" = "$(ls "$B/k" | wc -l)" ] &&
	 [ "$(ls "$B/k" | wc -l)" = "$((files - $(ls "$A/k" | wc -l)))" ]'
check "the renames that failed said why ($(sort "$T/mv.log" 2>/dev/null | uniq -c | head -n 3 | tr -s ' '))" \
	'[ "$moved" = "$files" ] || [ -s "$T/mv.log" ]'

finish

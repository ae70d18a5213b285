#!/usr/bin/env bash
# Two mounts of one cluster (two cfs-fuse processes) see each other's
# changes: data on close-to-open (a file closed on one is read whole by
# an open on the other), metadata within the attribute timeout (1 s by
# default), and at once with -o strict; fcntl and flock locks taken on
# one hold against the other. A mount answering lookups from a directory
# listing still sees its own changes at once.
. "$(dirname "$0")/lib.sh"
CFS_SESSION_TIMEOUT_MS=2000 cluster_up 2 7540

A=$MNT
second_mount "$T/b" -o no_uring	# A serves over io_uring where it can
B=$T/b

echo first >"$A/f"
check "B sees a file A created" '[ "$(cat "$B/f")" = first ]'
cat "$B/f" >/dev/null	# B caches size and pages
echo "second, longer content" >"$A/f"
check "close-to-open: B reads A's new content whole" '[ "$(cat "$B/f")" = "second, longer content" ]'
echo appended >>"$A/f"
check "close-to-open: B sees A's append" '[ "$(tail -n 1 "$B/f")" = appended ]'
# a small file's bytes are read along with its open: still close-to-open
printf 'a%.0s' $(seq 100) >"$A/small"
cat "$B/small" >/dev/null	# B caches its attributes
printf 'b%.0s' $(seq 100) >"$A/small"
check "close-to-open: B reads A's same-size rewrite of a small file" \
	'[ "$(cat "$B/small")" = "$(printf "b%.0s" $(seq 100))" ]'
printf 'c%.0s' $(seq 150) >>"$A/small"
check "close-to-open: B reads a small file A grew, whole" \
	'[ "$(wc -c <"$B/small")" = 250 ] && [ "$(tail -c 1 "$B/small")" = c ]'
head -c 3000000 /dev/urandom >"$T/big"
cp "$T/big" "$A/big"
check "B reads A's 3 MB file byte for byte" 'cmp -s "$T/big" "$B/big"'
# B keeps cached pages only while size and mtime are unchanged: a rewrite
# of the same size is caught by the mtime
head -c 3000000 /dev/urandom >"$T/big2"
cp "$T/big2" "$A/big"
check "close-to-open: B reads A's same-size rewrite, not its cached pages" 'cmp -s "$T/big2" "$B/big"'
# the reread is served with no read reaching cfs-fuse: from the kernel's
# pages (kept across opens while the file is unchanged), or, once the
# file is whole in B's data cache, by the kernel from that copy (FUSE
# passthrough, whose pages fincore cannot see)
pt_opens() { "$CFS_BIN/cfs" cache status "$B" | awk '$1 == "passthrough_opens:" { print $2 }'; }
pt0=$(pt_opens)
check "B's reread of the unchanged file is served from its page cache or by passthrough" \
	'[ "$(fincore --bytes --noheadings --output RES "$B/big")" -ge 3000000 ] ||
	 { cmp -s "$T/big2" "$B/big" && [ "$(pt_opens)" -gt "$pt0" ]; }'
# a file B holds open: its pages go once B sees the new attributes
exec 7<"$B/big"
head -c 4096 <&7 >/dev/null	# cached on B, file still open
head -c 3000000 /dev/urandom >"$T/big3"
cp "$T/big3" "$A/big"
check_within 2 "an open file's stale pages are dropped once B sees the change" \
	'stat "$B/big" >/dev/null && fd7_reads_as "$T/big3"'
exec 7<&-
stat "$B/f" >/dev/null
chmod 600 "$A/f"
check_within 1.2 "B sees A's chmod within the attribute timeout" '[ "$(stat -c %a "$B/f")" = 600 ]'
# a read's atime (relatime) is sent in the background: B sees it within
# the keepalive period plus the attribute timeout, while A keeps the file
# open
touch -a -d 2001-01-01 "$A/f"
stat "$B/f" >/dev/null
exec 7<"$A/f"
head -c 1 <&7 >/dev/null
check "A sees its own read's atime at once" '[ "$(stat -c %X "$A/f")" -gt 1000000000 ]'
check_within 2.2 "B sees A's read's atime while A holds the file open" \
	'[ "$(stat -c %X "$B/f")" = "$(stat -c %X "$A/f")" ]'
exec 7<&-
# a missing name is cached like a present one: for the entry timeout on
# other mounts, and not at all on the mount that creates it
stat "$B/later" 2>/dev/null
stat "$A/later" 2>/dev/null
echo here >"$A/later"
check "A's own create replaces its cached missing name at once" '[ "$(cat "$A/later")" = here ]'
check_within 1.2 "B sees a name it had found missing once the entry timeout passed" '[ "$(cat "$B/later")" = here ]'
mv "$A/f" "$A/g"
check_within 1.2 "B sees A's rename within the entry timeout" '[ -e "$B/g" ] && [ ! -e "$B/f" ]'
rm "$A/g"
check_within 1.2 "B sees A's unlink" '[ ! -e "$B/g" ]'
# listings are cached by B's kernel and dropped when the mtime moves
mkdir "$A/l" && touch "$A/l/one"
ls "$B/l" >/dev/null
touch "$A/l/two"
check_within 1.2 "B's listing shows A's new entry after the attribute timeout" \
	'[ "$(ls "$B/l" | tr "\n" " ")" = "one two " ]'
rm "$A/l/one"
check_within 1.2 "... and drops A's removed one" '[ "$(ls "$B/l" | tr "\n" " ")" = "two " ]'
touch "$B/l/three"
check "B's own change shows in its listing at once" \
	'[ "$(ls "$B/l" | tr "\n" " ")" = "three two " ]'

# locks are the cluster's: they hold across mounts
P=$CFS_BIN/posix_cases
head -c 1000 /dev/zero >"$A/lk"
"$P" --hold "$A/lk" 0 100 3 >"$T/hold" &
holder=$!
check_within 2 "fcntl lock on A: B's overlapping F_SETLK gets EAGAIN" 'grep -q "lock = EAGAIN" <("$P" --try "$B/lk" 50 10)'
check "fcntl lock on A: B locks a disjoint range" 'grep -q "lock = ok" <("$P" --try "$B/lk" 200 10)'
start=$(date +%s.%N)
check "fcntl lock on A: B's F_SETLKW waits, then is granted" 'grep -q "lock = ok" <("$P" --wait "$B/lk" 0 10)'
waited=$(echo "$(date +%s.%N) - $start" | bc)
check "... after A's holder let go (waited ${waited}s)" '[ "$(echo "$waited > 1.5" | bc)" = 1 ]'
wait $holder
flock "$A/lk" sleep 2 &
holder=$!
check_within 1.5 "flock on A: B's flock -n fails" '! flock -n "$B/lk" true'
wait $holder
check "flock released on A: B's flock -n succeeds" 'flock -n "$B/lk" true'

# a client that dies holding a lock and an unlinked open file: once its
# session times out, the lock is free and the file's inode is gone
second_mount "$T/k"
K=$T/k
kpid=$MOUNT_PID
echo doomed >"$K/held"
( exec 9<"$K/held"; rm "$K/held"; exec sleep 60 ) &
holder1=$!
flock "$K/lk3" sleep 60 &
holder2=$!
check_within 3 "flock through the doomed mount holds against A" '! flock -n "$A/lk3" true'
check_within 3 "its unlinked open file is an orphan meanwhile" '"$CFS_BIN/cfs" fsck "$T/c/mds" | grep -q " 1 open orphans, 0 problems"'
kill -9 "$kpid"
fusermount3 -u -z "$K" 2>/dev/null
check_within 8 "the dead client's flock is released after its session expires" 'flock -n "$A/lk3" true'
check_within 8 "the dead client's unlinked open file is freed" '"$CFS_BIN/cfs" fsck "$T/c/mds" | grep -q " 0 open orphans, 0 problems"'
# the holders and their children (flock runs sleep as a child)
pkill -9 -P "$holder2" 2>/dev/null
kill -9 "$holder1" "$holder2" 2>/dev/null
wait "$holder1" "$holder2" 2>/dev/null

second_mount "$T/s" -o strict
S=$T/s
touch "$S/x"
stat "$S/x" >/dev/null
chmod 640 "$A/x"
check "strict: a chmod on A is seen by S at once" '[ "$(stat -c %a "$S/x")" = 640 ]'
mv "$A/x" "$A/y"
check "strict: a rename on A is seen by S at once" '[ -e "$S/y" ] && [ ! -e "$S/x" ]'
ls "$S" >/dev/null
touch "$A/z"
check "strict: a listing on S shows A's new entry at once" \
	'ls "$S" | grep -qx z'
stat "$S/w" 2>/dev/null
touch "$A/w"
check "strict: a name S found missing is there once A creates it" '[ -e "$S/w" ]'

# Many lookups in one directory list it, and later lookups are answered
# from the listing; this mount's own changes since must show through it.
# The kernel's caches are dropped so that each stat asks the mount again;
# long timeouts keep the listing alive meanwhile.
second_mount "$T/l" -o attr_timeout=30,entry_timeout=30
L=$T/l
mkdir "$L/dl"
for i in $(seq 1 40); do echo "$i" >"$L/dl/f$i"; done
drop_kernel_caches() { sync; echo 2 >/proc/sys/vm/drop_caches; }
drop_kernel_caches
stat "$L"/dl/f* >/dev/null
ctime9=$(stat -c %z "$L/dl/f9")
chmod 600 "$L/dl/f1"
echo more >>"$L/dl/f2"
rm "$L/dl/f3"
mv "$L/dl/f4" "$L/dl/g4"
mv "$L/dl/f6" "$L/dl/f7"
echo new >"$L/dl/n1"
ln "$L/dl/f5" "$L/dl/h5"
mkdir "$L/dl/sub"
truncate -s 100 "$L/dl/f8"
setfattr -n user.k -v v "$L/dl/f9"
drop_kernel_caches
check "listed: a chmod shows" '[ "$(stat -c %a "$L/dl/f1")" = 600 ]'
check "listed: an append shows" '[ "$(stat -c %s "$L/dl/f2")" = 7 ]'
check "listed: an unlinked name is gone" '[ ! -e "$L/dl/f3" ]'
check "listed: a renamed file is under its new name only" \
	'[ ! -e "$L/dl/f4" ] && [ "$(cat "$L/dl/g4")" = 4 ]'
check "listed: a rename over a name shows the moved file" \
	'[ ! -e "$L/dl/f6" ] && [ "$(cat "$L/dl/f7")" = 6 ]'
check "listed: a new file shows" '[ "$(cat "$L/dl/n1")" = new ]'
check "listed: a hard link shows, and both names count it" \
	'[ "$(stat -c %h "$L/dl/h5")" = 2 ] && [ "$(stat -c %h "$L/dl/f5")" = 2 ]'
check "listed: a new subdirectory shows, and its parent counts it" \
	'[ -d "$L/dl/sub" ] && [ "$(stat -c %h "$L/dl")" = 3 ]'
check "listed: a truncate shows" '[ "$(stat -c %s "$L/dl/f8")" = 100 ]'
check "listed: an xattr change shows (its ctime)" '[ "$(stat -c %z "$L/dl/f9")" != "$ctime9" ]'
check "listed: unchanged files read as written" '[ "$(cat "$L/dl/f40")" = 40 ]'
# a listing fresh from the lookups answers readdir too, with this mount's
# changes at once
drop_kernel_caches
stat "$L"/dl/* >/dev/null
check "listed: readdir from the listing names what the MDS has" \
	'[ "$(ls "$L/dl" | sort | tr "\n" " ")" = "$(ls "$A/dl" | sort | tr "\n" " ")" ]'
touch "$L/dl/n2"
check "listed: ... and a name this mount adds at once" 'ls "$L/dl" | grep -qx n2'
rm "$L/dl/n2"
check "listed: ... and not one it removed" '! ls "$L/dl" | grep -qx n2'
# the listing keeps the MDS's order through this mount's own creates and
# removals (their replies carry the new names' cookies), so readdir from
# it stays exact
drop_kernel_caches
stat "$L"/dl/* >/dev/null
for i in 1 2 3 4 5; do echo "$i" >"$L/dl/m$i"; done
rm "$L/dl/m2" "$L/dl/f11"
ls -f "$L/dl" >"$T/listed"
check "listed: after creates and removals readdir names what the MDS has" \
	'[ "$(sort "$T/listed" | tr "\n" " ")" = "$(ls -f "$A/dl" | sort | tr "\n" " ")" ]'
check "listed: ... each name once" '[ -z "$(sort "$T/listed" | uniq -d)" ]'
# attributes asked of an open file (getattr) are answered from memory too
exec 8<"$L/dl/f10"
echo grown >>"$L/dl/f10"
check "an open file's attributes show this mount's append" '[ "$(stat -L -c %s /proc/self/fd/8)" = 9 ]'
chmod 604 "$L/dl/f10"
check "... and its chmod" '[ "$(stat -L -c %a /proc/self/fd/8)" = 604 ]'
exec 8<&-

finish

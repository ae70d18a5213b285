#!/usr/bin/env bash
# 10,000 files in one directory: created, listed, stat'ed, removed. Then
# 16 processes writing small files at once, which keeps every OSD busy as
# a primary and as a replica at the same time.
. "$(dirname "$0")/lib.sh"
cluster_up 3 7420

mkdir "$MNT/d"
for i in $(seq 1 10000); do : >"$MNT/d/file-$i"; done
check "10,000 entries listed" '[ "$(ls -f "$MNT/d" | grep -c "^file-")" = 10000 ]'
check "every name listed once" '[ "$(ls -f "$MNT/d" | grep "^file-" | sort -u | wc -l)" = 10000 ]'
check "a file looked up by name" '[ -f "$MNT/d/file-7777" ]'
check "directory size in entries via find" '[ "$(find "$MNT/d" -type f | wc -l)" = 10000 ]'
rm -rf "$MNT/d"
check "all removed" '[ ! -e "$MNT/d" ]'
check "root is empty again" '[ -z "$(ls -A "$MNT")" ]'

mkdir "$MNT/c"
out=$("$CFS_BIN/benchfiles" small "$MNT/c" 3200 16 30 2>&1)
rc=$?
check "16 writers of 4 KiB files at once: every create, write, close and unlink succeeds ($out)" \
	'[ "$rc" -eq 0 ] && grep -q "^creates=" <<<"$out"'
check "... and none of them is left behind" '[ -z "$(ls -A "$MNT/c")" ]'

finish

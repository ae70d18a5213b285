#!/usr/bin/env bash
# 10,000 files in one directory: created, listed, stat'ed, removed.
. "$(dirname "$0")/lib.sh"
cluster_up 3 7420

mkdir "$MNT/d"
for i in $(seq 1 10000); do : >"$MNT/d/file-$i"; done
check "10,000 entries listed" [ "$(ls -f "$MNT/d" | grep -c '^file-')" = 10000 ]
check "every name listed once" [ "$(ls -f "$MNT/d" | grep '^file-' | sort -u | wc -l)" = 10000 ]
check "a file looked up by name" [ -f "$MNT/d/file-7777" ]
check "directory size in entries via find" [ "$(find "$MNT/d" -type f | wc -l)" = 10000 ]
rm -rf "$MNT/d"
check "all removed" [ ! -e "$MNT/d" ]
check "root is empty again" [ -z "$(ls -A "$MNT")" ]

finish

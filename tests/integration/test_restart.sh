#!/usr/bin/env bash
# Nothing lost when daemons stop: the data of every file is intact after
# stopping and restarting every daemon, and after killing every daemon
# with SIGKILL and starting them again.
. "$(dirname "$0")/lib.sh"
cluster_up 3 7430

mkdir "$MNT/data"
for i in $(seq 1 20); do
	head -c $((i * 99991)) /dev/urandom >"$MNT/data/f$i"
done
mkdir -p "$MNT/data/sub/deeper"
ln -s ../f1 "$MNT/data/sub/link"
(cd "$MNT/data" && find . -type f -exec sha256sum {} + | sort -k2) >"$T/sums"

verify() {
	(cd "$MNT/data" && find . -type f -exec sha256sum {} + | sort -k2) >"$T/sums2" &&
		cmp -s "$T/sums" "$T/sums2"
}

cluster down
cluster up --nodes 3 --port-base 7430 >/dev/null
check "files intact after a clean restart of every daemon" verify
check "symlink intact after restart" [ "$(readlink "$MNT/data/sub/link")" = ../f1 ]

for d in fuse osd1 osd2 osd3 mds; do cluster kill "$d"; done
cluster up --nodes 3 --port-base 7430 >/dev/null
check "files intact after SIGKILL of every daemon" verify
head -c 12345 /dev/urandom >"$T/new"
cp "$T/new" "$MNT/data/new"
check "cluster writes again after the crash" same_file "$T/new" "$MNT/data/new"

finish

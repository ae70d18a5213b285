#!/usr/bin/env bash
# Nothing lost when daemons stop: the data of every file is intact after
# stopping and restarting every daemon, after killing every daemon with
# SIGKILL and starting them again, and after the OSDs die one after
# another (each marked down before the next) and then the MDS (its three
# replicas): the last
# OSD to go down holds what was written meanwhile, comes up first, and
# the others catch up from it.
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
check "files intact after a clean restart of every daemon" 'verify'
check "symlink intact after restart" '[ "$(readlink "$MNT/data/sub/link")" = ../f1 ]'

for d in fuse osd1 osd2 osd3 mds mds2 mds3; do cluster kill "$d"; done
cluster up --nodes 3 --port-base 7430 >/dev/null
check "files intact after SIGKILL of every daemon" 'verify'
head -c 12345 /dev/urandom >"$T/new"
cp "$T/new" "$MNT/data/new"
check "cluster writes again after the crash" 'same_file "$T/new" "$MNT/data/new"'
(cd "$MNT/data" && find . -type f -exec sha256sum {} + | sort -k2) >"$T/sums"

downs() { "$CFS_BIN/cfs" status "$MDS" | grep -c ' down '; }
kill_marked_down() {	# kill_marked_down OSD COUNT: SIGKILL, wait for the map
	local i
	cluster kill "$1"
	for i in $(seq 1 100); do
		[ "$(downs)" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
check "osd1 marked down after SIGKILL" 'kill_marked_down osd1 1'
head -c 2345678 /dev/urandom >"$T/late"
cp "$T/late" "$MNT/data/late"
check "written while osd1 is down" 'same_file "$T/late" "$MNT/data/late"'
(cd "$MNT/data" && find . -type f -exec sha256sum {} + | sort -k2) >"$T/sums"
check "osd2 marked down after SIGKILL" 'kill_marked_down osd2 2'
check "osd3 marked down after SIGKILL" 'kill_marked_down osd3 3'
cluster kill fuse
for d in mds mds2 mds3; do cluster kill "$d"; done
restart() { cluster up --nodes 3 --port-base 7430 >/dev/null; }
check "every OSD up again after a staggered outage" 'restart'
cold_caches
check "files intact after a staggered outage" 'verify'
check "file written while osd1 was down intact" 'same_file "$T/late" "$MNT/data/late"'

finish

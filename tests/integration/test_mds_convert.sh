#!/usr/bin/env bash
# A lone MDS's store becomes a replica group's, losing nothing: started
# as one of three it is refused, saying how to convert it; started with
# --peers naming itself alone it logs the store and serves it; two
# replicas join (cfs mds add) and, the converting MDS killed, serve the
# same tree.
. "$(dirname "$0")/lib.sh"
CFS_MDS_REPLICAS=1 cluster_up 3 7760
P=7760

# the lone MDS's tree: sources, a hard link, a symlink, modes, xattrs
cp -a "$ROOT/mds" "$MNT/src"
ln "$MNT/src/README.md" "$MNT/hard"
ln -s src/replica.c "$MNT/sym"
mkdir -m 700 "$MNT/private"
setfattr -n user.k -v v1 "$MNT/src/mds.h"
head -c 3000000 /dev/urandom >"$MNT/data"
# what a user sees of it: names, types, sizes, modes, links, contents
tree() {
	( cd "$MNT" && find . -mindepth 1 \
		-printf '%p %y %s %m %n %l\n' | sort &&
	  find . -type f -exec md5sum {} + | sort -k 2 &&
	  getfattr -n user.k src/mds.h 2>&1 )
}
tree >"$T/before"

# mds_run K [FLAGS...]: node K's MDS on its data directory, tracked in
# the cluster's pids (so that down stops it)
mds_run() {
	local k=$1 name=mds
	shift
	[ "$k" = 1 ] || name=mds$k
	mkdir -p "$T/c/$name"
	"$CFS_BIN/cfs-mds" --listen "127.0.0.$k:$P" --data "$T/c/$name" \
		--token "$T/c/tokens/mds.token" --encrypt true "$@" \
		>>"$T/c/logs/$name.log" 2>&1 &
	echo $! >"$T/c/pids/$name.pid"
}
cluster stop mds
out=$(timeout 10 "$CFS_BIN/cfs-mds" --listen "127.0.0.1:$P" \
	--data "$T/c/mds" --token "$T/c/tokens/mds.token" \
	--peers "127.0.0.1:$P,127.0.0.2:$P,127.0.0.3:$P" 2>&1)
rc=$?
check "started as one of three replicas, a lone MDS's store is refused, saying how to convert it" \
	'[ "$rc" = 1 ] && grep -q "naming only its own address" <<<"$out" &&
	 grep -q "cfs mds add" <<<"$out"'

mds_run 1 --peers "127.0.0.1:$P"
check_within 20 "with --peers naming itself it converts the store and serves it" \
	'grep -q "store is the group.s now" "$T/c/logs/mds.log" &&
	 tree >"$T/after" && cmp -s "$T/before" "$T/after"'
echo changed >"$MNT/after-convert"

mds_run 2 --peers "127.0.0.1:$P" --join true
mds_run 3 --peers "127.0.0.1:$P" --join true
check "cfs mds add takes in two replicas" \
	'cluster cfs mds add "127.0.0.2:$P" "$MDS" &&
	 cluster cfs mds add "127.0.0.3:$P" "$MDS"'
fsck_of() { "$CFS_BIN/cfs" fsck "$T/c/$1" 2>&1 | grep '^fsck:'; }
check_within 20 "the three stores are the same, fsck-clean" \
	'a=$(fsck_of mds) && [ "$a" = "$(fsck_of mds2)" ] &&
	 [ "$a" = "$(fsck_of mds3)" ] && grep -q " 0 problems" <<<"$a"'

cluster kill mds
check_within 30 "the converting MDS killed, the others serve the same tree" \
	'tree >"$T/after" && cmp -s "$T/before" <(grep -v after-convert "$T/after") &&
	 [ "$(cat "$MNT/after-convert")" = changed ]'
check "... and take changes" \
	'echo more >"$MNT/more" && [ "$(cat "$MNT/more")" = more ]'

echo "test_mds_convert.sh: $PASS passed, $FAIL failed"

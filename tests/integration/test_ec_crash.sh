#!/usr/bin/env bash
# Torn stripes: the primary of an ec:4+2 chunk SIGKILLs itself at each
# step of a partial-stripe overwrite (fault points in osd/ec.c, armed by
# CFS_FAULT): before the parity is computed; with the change sent to too
# few shards (3 of 6); on K shards, its own among them (both never
# acknowledged: undone); before the acknowledgement. Each twice: the writer
# retries (its fsync succeeds on the next primary, which settles the
# stripe once the dead one is back), or the writer is SIGKILLed too (the
# change was never acknowledged: the stripe settles on the old bytes or
# the new, all of them). Every byte reads back, and reads with two other
# OSDs down agree (every shard of the stripe is consistent). At the end
# the cluster is HEALTHY and fsck clean. CRASH_SEED=N replays the
# offsets; make test runs five of the eight cases, CRASH_ALL=1 all.
. "$(dirname "$0")/lib.sh"
CFS_DOWN_AFTER_MS=2000 cluster_up 6 7480

alive() { kill -0 "$(cat "$T/c/pids/osd$1.pid")" 2>/dev/null; }
# the node of the acting primary (first up position) of chunk 0
primary_node() {
	cluster cfs layout get "$MNT/ec/f" |
		sed -n 's/^chunk 0: [^ ]*=osd[0-9]*@node\([0-9]*\)\/up.*/\1/p'
}
# the nodes of two data shards other than the primary's
two_others() {
	cluster cfs layout get "$MNT/ec/f" | sed -n 's/^chunk 0: //p' |
		tr ' ' '\n' | sed -n '2,3s/.*@node\([0-9]*\)\/.*/\1/p'
}

mkdir "$MNT/ec"
cluster cfs layout set "$MNT/ec" ec:4+2
head -c $((12 << 20)) /dev/urandom >"$T/model"
cp "$T/model" "$MNT/ec/f"
check_within 30 "the cluster is HEALTHY with the file written" \
	'health | grep -q HEALTHY'

seed=${CRASH_SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
echo "     overwrite offsets from seed $seed"
RANDOM=$seed
# make test: each point once (the writer retrying, and killed where it
# matters most); CRASH_ALL=1 (make soak) every point both ways
cases="ec-before-parity:retries ec-between-shards:retries
	ec-between-shards:dies ec-after-k-shards:dies ec-before-ack:retries"
[ -n "${CRASH_ALL:-}" ] && cases=$(for p in ec-before-parity \
	ec-between-shards ec-after-k-shards ec-before-ack; do
	echo "$p:retries $p:dies"; done)
for c in $cases; do
	point=${c%:*} writer=${c#*:}
	what="$point, the writer $writer"
	k=$(primary_node)
	[ -n "$k" ] || { bad "$what: chunk 0 has an acting primary"; break; }
	cluster kill "osd$k"
	CFS_FAULT=$point cluster start "osd$k"
	check_within 30 "$what: osd$k (the primary) back, armed" \
		'health | grep -q HEALTHY && [ "$(primary_node)" = "$k" ]'
	# a partial-stripe overwrite within the first chunk, not aligned
	off=$(( (RANDOM * 32768 + RANDOM) % ((12 << 20) - 20000) ))
	head -c 10000 /dev/urandom >"$T/patch"
	cp "$T/model" "$T/old"
	dd if="$T/patch" of="$T/model" bs=10000 seek="$off" oflag=seek_bytes \
		conv=notrunc status=none
	( dd if="$T/patch" of="$MNT/ec/f" bs=10000 seek="$off" \
		oflag=seek_bytes conv=notrunc,fsync status=none &&
	  echo ok >"$T/dd.ok" ) >"$T/dd.out" 2>&1 &
	dd_pid=$!
	check_within 30 "$what: the primary died there" \
		'! alive "$k" && grep -q "point=$point" "$T/c/logs/osd$k.log"'
	if [ $writer = dies ]; then
		# nothing retries the change: the stripe is settled without it
		cluster kill fuse
		wait "$dd_pid"
		cluster start "osd$k"
		cluster start fuse
	else
		cluster start "osd$k"
		wait "$dd_pid"
		check "$what: the write and its fsync succeeded (on the next primary)" \
			'[ -s "$T/dd.ok" ] || { cat "$T/dd.out"; false; }'
	fi
	rm -f "$T/dd.ok"
	check_within 60 "$what: HEALTHY again" 'health | grep -q HEALTHY'
	cold_caches
	if [ $writer = dies ] && same_file "$T/old" "$MNT/ec/f"; then
		cp "$T/old" "$T/model"	# never acknowledged: rolled back
		echo "     (rolled back)"
	fi
	check "$what: every byte reads back" 'same_file "$T/model" "$MNT/ec/f"'
	set -- $(two_others)
	cluster kill "osd$1"
	cluster kill "osd$2"
	cold_caches
	check "$what: and again with osd$1 and osd$2 down (parity agrees)" \
		'same_file "$T/model" "$MNT/ec/f"'
	cluster start "osd$1"
	cluster start "osd$2"
	check_within 60 "$what: all back, HEALTHY" 'health | grep -q HEALTHY'
done
check "the stripe torn on too few shards was rolled back" \
	'grep -q "torn stripe: a change never acknowledged undone" "$T"/c/logs/osd*.log'
check "fsck finds the namespace consistent" \
	'"$CFS_BIN/cfs" fsck "$T/c/mds" >"$T/fsck.out" || { cat "$T/fsck.out"; false; }'
finish

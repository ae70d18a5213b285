#!/usr/bin/env bash
# make soak only (not test_*: make test runs one such cycle in test_ec):
# on 6 nodes, an ec:4+2 file of 96 MiB is written while two OSDs are
# SIGKILLed at once, again and again (EC_KILL_CYCLES, 10): every write
# that cp reported done reads back byte for byte, with the two down and
# again once they are back and the cluster is HEALTHY. Which two, and
# when, come from EC_KILL_SEED (printed, to replay a failure).
. "$(dirname "$0")/lib.sh"
CFS_DOWN_AFTER_MS=2000 cluster_up 6 7740
CYCLES=${EC_KILL_CYCLES:-10}
seed=${EC_KILL_SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
echo "     seed $seed"
RANDOM=$seed

up_count() { "$CFS_BIN/cfs" status "$MDS" | grep -c ' up '; }
# every file written so far (cycles 1..$1) reads back
all_read() {
	local k
	for k in $(seq 1 "$1"); do
		cmp "$T/big" "$MNT/ec/big$k" || return 1
	done
}
mkdir "$MNT/ec"
cluster cfs layout set "$MNT/ec" ec:4+2
head -c $((96 << 20)) /dev/urandom >"$T/big"
for c in $(seq 1 "$CYCLES"); do
	a=$((RANDOM % 6 + 1))
	b=$(((a + RANDOM % 5) % 6 + 1))
	delay=$((RANDOM % 20))	# tenths of a second into the write
	( cp "$T/big" "$MNT/ec/big$c" && echo ok >"$T/big$c.ok" ) \
		>"$T/big$c.out" 2>&1 &
	bg=$!
	wait_for 10 '[ -s "$MNT/ec/big$c" ]'
	sleep "$((delay / 10)).$((delay % 10))"
	cluster kill "osd$a"
	cluster kill "osd$b"
	wait "$bg"
	check "cycle $c: 96 MiB written with osd$a and osd$b killed ${delay}00 ms in" \
		'[ -s "$T/big$c.ok" ] || { cat "$T/big$c.out"; false; }'
	cold_caches
	check "cycle $c: ... reads back with them down" \
		'cmp "$T/big" "$MNT/ec/big$c"'
	cluster start "osd$a"
	cluster start "osd$b"
	check_within 60 "cycle $c: HEALTHY once they are back" \
		'[ "$(up_count)" = 6 ] && health | grep -q HEALTHY'
	cold_caches
	check "cycle $c: every file so far reads back" \
		'all_read "$c"'
done
echo "soak_ec_kills.sh: $PASS passed, $FAIL failed"

#!/usr/bin/env bash
# The MDS's change feed: a mount lets the kernel keep names and
# attributes for the cache lease (30 s) while the MDS tells it of other
# mounts' changes as they commit. So a change made on one mount shows on
# another well within the attribute timeout (1 s), which alone would
# have served the old answer; and a mount that loses the feed takes back
# what the kernel held rather than serve it stale.
. "$(dirname "$0")/lib.sh"
cluster_up 2 7570
A=$MNT
B=$T/b
PROXY_PORT=7579

# B reaches the MDS through a forwarder the test can freeze, like a link
# that stops carrying packets
python3 "$ROOT/tests/integration/tcp_proxy.py" $PROXY_PORT "$MDS" &
proxy=$!
stop_b() {
	fusermount3 -u -z "$B" 2>/dev/null
	[ -n "${fuse_b:-}" ] && kill "$fuse_b" 2>/dev/null
	kill -CONT "$proxy" 2>/dev/null
	kill "$proxy" 2>/dev/null
}
trap 'stop_b; cleanup' EXIT
wait_for 5 '(: </dev/tcp/127.0.0.1/$PROXY_PORT) 2>/dev/null' || bad "the forwarder did not listen"
mkdir -p "$B"
# (mds_wait=5: a call through the frozen link gives up after its first
# round, 15 s, so that the stat killed below ends)
"$CFS_BIN/cfs-fuse" 127.0.0.1:$PROXY_PORT "$B" -f -o no_uring,mds_wait=5 -o "token=$CLIENT_TOKEN,cache_dir=$B.cache" \
	>>"$T/fuse_b.log" 2>&1 &
fuse_b=$!
for _ in $(seq 1 100); do
	awk -v m="$B" '$2 == m { f = 1 } END { exit !f }' /proc/self/mounts && break
	sleep 0.1
done
check "B mounted through the forwarder" 'mountpoint -q "$B"'
# B follows the feed once a change on A shows on B within 0.3 s, twice
# in a row (the attribute timeout alone shows one within 1 s)
echo p >"$A/probe"
probe_mode=600
probe() {
	probe_mode=$((probe_mode == 600 ? 644 : 600))
	chmod "$probe_mode" "$A/probe"
	wait_for 0.3 '[ "$(stat -c %a "$B/probe" 2>/dev/null)" = "$probe_mode" ]'
}
check_within 5 "B follows the feed" 'probe && probe'

mode_b() { stat -c %a "$B/$1" 2>/dev/null; }

echo x >"$A/f"
check "B sees A's file" '[ "$(mode_b f)" = 644 ]'
chmod 600 "$A/f"
check_within 0.3 "B sees A's chmod within 0.3 s (attribute timeout: 1 s)" '[ "$(mode_b f)" = 600 ]'

check "B finds no g" '[ -z "$(mode_b g)" ]'
echo y >"$A/g"
check_within 0.3 "B sees a name A added within 0.3 s, though it had found it missing" \
	'[ "$(mode_b g)" = 644 ]'

rm "$A/g"
check_within 0.3 "B sees A's removal within 0.3 s" '[ -z "$(mode_b g)" ]'

mkdir "$A/d"
echo z >"$A/d/h"
ls "$B/d" >/dev/null	# B caches the listing
mv "$A/d/h" "$A/d/h2"
check_within 0.3 "B lists A's rename within 0.3 s" '[ "$(ls "$B/d")" = h2 ]'

echo 12345 >"$A/f"
check_within 0.3 "B sees A's new size within 0.3 s" '[ "$(stat -c %s "$B/f")" = 6 ]'
check "... and reads the new bytes" '[ "$(cat "$B/f")" = 12345 ]'

# the link to B freezes: B's feed stops, and what B's kernel held goes
echo v >"$A/m"
check "B sees m before the freeze" '[ "$(mode_b m)" = 644 ]'
kill -STOP "$proxy"
wait_for 3 'grep -q "change feed lost" "$T/fuse_b.log"'
chmod 640 "$A/m"
seen=$(timeout 2 stat -c %a "$B/m" 2>/dev/null)
check "with its link frozen, B does not serve m's old mode (got '${seen}')" \
	'[ "$seen" != 644 ]'
check "B said it lost the feed" 'grep -q "change feed lost" "$T/fuse_b.log"'
kill -CONT "$proxy"
check_within 15 "the link back, B sees the new mode" '[ "$(mode_b m)" = 640 ]'
chmod 604 "$A/m"
check_within 0.5 "... and follows the feed again (a chmod within 0.5 s)" '[ "$(mode_b m)" = 604 ]'

finish

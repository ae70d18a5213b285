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
sleep 0.3
mkdir -p "$B"
"$CFS_BIN/cfs-fuse" 127.0.0.1:$PROXY_PORT "$B" -f -o no_uring >>"$T/fuse_b.log" 2>&1 &
fuse_b=$!
for _ in $(seq 1 100); do
	awk -v m="$B" '$2 == m { f = 1 } END { exit !f }' /proc/self/mounts && break
	sleep 0.1
done
check "B mounted through the forwarder" mountpoint -q "$B"
sleep 0.5	# B follows the feed

mode_b() { stat -c %a "$B/$1" 2>/dev/null; }

echo x >"$A/f"
check "B sees A's file" [ "$(mode_b f)" = 644 ]
chmod 600 "$A/f"
sleep 0.3
check "B sees A's chmod within 0.3 s (attribute timeout: 1 s)" [ "$(mode_b f)" = 600 ]

check "B finds no g" [ -z "$(mode_b g)" ]
echo y >"$A/g"
sleep 0.3
check "B sees a name A added within 0.3 s, though it had found it missing" \
	[ "$(mode_b g)" = 644 ]

rm "$A/g"
sleep 0.3
check "B sees A's removal within 0.3 s" [ -z "$(mode_b g)" ]

mkdir "$A/d"
echo z >"$A/d/h"
ls "$B/d" >/dev/null	# B caches the listing
mv "$A/d/h" "$A/d/h2"
sleep 0.3
check "B lists A's rename within 0.3 s" [ "$(ls "$B/d")" = h2 ]

echo 12345 >"$A/f"
sleep 0.3
check "B sees A's new size within 0.3 s" [ "$(stat -c %s "$B/f")" = 6 ]
check "... and reads the new bytes" [ "$(cat "$B/f")" = 12345 ]

# the link to B freezes: B's feed stops, and what B's kernel held goes
echo v >"$A/m"
check "B sees m before the freeze" [ "$(mode_b m)" = 644 ]
kill -STOP "$proxy"
sleep 1.2
chmod 640 "$A/m"
seen=$(timeout 2 stat -c %a "$B/m" 2>/dev/null)
check "with its link frozen, B does not serve m's old mode (got '${seen}')" \
	[ "$seen" != 644 ]
check "B said it lost the feed" grep -q "change feed lost" "$T/fuse_b.log"
kill -CONT "$proxy"
ok_after=
for _ in $(seq 1 60); do
	[ "$(mode_b m)" = 640 ] && { ok_after=1; break; }
	sleep 0.25
done
check "the link back, B sees the new mode" [ -n "$ok_after" ]
chmod 604 "$A/m"
sleep 0.5
check "... and follows the feed again (a chmod within 0.5 s)" [ "$(mode_b m)" = 604 ]

finish

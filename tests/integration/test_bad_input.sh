#!/usr/bin/env bash
# Bad input gets a clear error and loses nothing: an unreachable MDS, an
# invalid config, garbage on the RPC port, a dead OSD under a write.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/m"
start=$(date +%s)
out=$("$CFS_BIN/cfs-fuse" 127.0.0.1:1 "$T/m" -f -o "insecure,cache_dir=$T/m.cache" 2>&1)
rc=$?
took=$(($(date +%s) - start))
check "cfs-fuse with an unreachable MDS exits non-zero" '[ "$rc" -ne 0 ]'
check "... within 10 s (took ${took}s)" '[ "$took" -le 10 ]'
check "... saying why" 'grep -q "cannot reach the MDS at 127.0.0.1:1" <<<"$out"'
check "... and mounts nothing" '! mountpoint -q "$T/m"'

out=$("$CFS_BIN/cfs-mds" --data "$T/x" --wrokers 3 2>&1)
check "unknown config key is named" 'grep -qF "unknown config key '\''wrokers'\''" <<<"$out"'
out=$("$CFS_BIN/cfs-osd" --workers 0 2>&1)
check "out-of-range value is named" 'grep -qF "'\''workers'\'': 0 is outside" <<<"$out"'
echo '{"listen": 5}' >"$T/bad.json"
out=$("$CFS_BIN/cfs-mds" --config "$T/bad.json" 2>&1)
check "wrong type in config file is named" 'grep -qF "'\''listen'\'': wrong type" <<<"$out"'

cluster_up 3 7450
echo data >"$MNT/keep"
# garbage bytes at the MDS and an OSD port: they must keep serving
for port in 7450 7550; do
	host=127.0.0.1
	[ $port = 7550 ] && host=127.0.0.2
	# in subshells: the daemon hangs up on garbage, and the SIGPIPE of
	# the next write must not end this script
	( head -c 5000 /dev/urandom >/dev/tcp/$host/$port ) 2>/dev/null || true
	( printf 'GET / HTTP/1.0\r\n\r\n' >/dev/tcp/$host/$port ) 2>/dev/null || true
done
sleep 0.5
check "MDS still serving after garbage" '[ "$(cat "$MNT/keep")" = data ]'
check "all daemons alive after garbage" 'for p in "$T"/c/pids/*.pid; do kill -0 "$(cat "$p")" || false; done'
echo more >"$MNT/keep2"
check "OSDs still serving after garbage" '[ "$(cat "$MNT/keep2")" = more ]'

# a write toward a dead OSD finishes (after the map marks it down) rather
# than hanging
cluster kill osd1
start=$(date +%s)
head -c 5000000 /dev/urandom >"$T/w"
timeout 60 cp "$T/w" "$MNT/w"
rc=$?
took=$(($(date +%s) - start))
check "write with a dead OSD completes (took ${took}s)" '[ "$rc" = 0 ]'
check "... and reads back" 'same_file "$T/w" "$MNT/w"'

finish

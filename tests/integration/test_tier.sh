#!/usr/bin/env bash
# Tiering to S3 (cfs-tierd, common/objstore.c, mds/tier.c) against a real
# S3 server (npm's s3rver, started here on loopback):
# - the signature v4 signer: AWS's published GET Object example gives
#   AWS's signature; PUT, ranged GET and DELETE as objreq sends them are
#   signed exactly as botocore (Debian's python3-botocore) signs them;
# - a tree of small and large files, `cfs tier flush`: every piece the
#   MDS records reads back from the bucket (ranged GETs) equal to the
#   file's bytes at its place; every object is at most 64 MiB; small
#   files are packed (far fewer PUTs than files);
# - the store stopped (SIGSTOP): writes go on at once, the flush waits
#   and says why; resumed, the backlog drains; the same with the store
#   SIGKILLed and started again on its data;
# - eviction: `cfs tier evict DIR` frees the OSDs' flash; evicted files
#   read back right (ranged GETs); a write into an evicted chunk keeps the
#   bytes around it; the changed file is tiered anew with every copy made
#   whole first; with an OSD killed the other copies read right; past its
#   high watermark tierd evicts files itself;
# - a blob mostly dead (15 of 20 files deleted): the rest is packed anew
#   and the blob deleted;
# - tierd SIGKILLed between a PUT and its commit: nothing points at the
#   blob; restarted, it tiers the files and deletes the blob;
# - files deleted: their blobs are DELETEd;
# - only PUT, GET and DELETE ever reached the server (its request log).
. "$(dirname "$0")/lib.sh"

S3PORT=7851 CAPPORT=7852
PY=/usr/bin/python3	# Debian's, with botocore
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
OBJ=$CFS_BIN/objreq

# ---- the signer ----
"$PY" "$ROOT/tests/integration/s3capture.py" "$CAPPORT" "$T/captured" "$T/cap.ready" &
wait_for 10 '[ -e "$T/cap.ready" ]' || echo "     the capture server did not start"
# AWS's example (Signature Version 4, "GET Object"): examplebucket,
# /test.txt, Range bytes=0-9, 20130524T000000Z
AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE \
AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY \
"$OBJ" --date 20130524T000000Z \
	--connect-to "examplebucket.s3.amazonaws.com:80:127.0.0.1:$CAPPORT" \
	"s3://examplebucket?endpoint=http://s3.amazonaws.com&style=virtual" \
	get test.txt 0 10 >/dev/null 2>&1
check "AWS's published GET Object example: the same signature" \
	'grep -q "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41" "$T/captured"'
: >"$T/captured"
head -c 100000 /dev/urandom >"$T/body"
U="s3://bucket/some/prefix?endpoint=http://127.0.0.1:$CAPPORT&region=eu-west-3"
"$OBJ" "$U" put blobs/00000000000000a1 "$T/body" 2>/dev/null
"$OBJ" "$U" get blobs/00000000000000a1 4096 65536 >/dev/null 2>&1
"$OBJ" "$U" delete blobs/00000000000000a1 2>/dev/null
"$OBJ" --date 20261207T120000Z "$U" put k "$T/body" 2>/dev/null
check "PUT, ranged GET and DELETE: signed as botocore signs them" \
	'[ "$(wc -l <"$T/captured")" = 4 ] && "$PY" "$ROOT/tests/integration/s3capture.py" --check "$T/captured" S3RVER S3RVER eu-west-3'

# ---- s3rver, and a cluster tiering to it ----
S3DIR=$T/s3
mkdir -p "$S3DIR"
node "$ROOT/tests/s3rver/serve.js" "$S3DIR" 127.0.0.1 "$S3PORT" tier "$T/requests" \
	>"$T/s3rver.log" 2>&1 &
S3PID=$!
wait_for 20 'grep -q listening "$T/s3rver.log"' || { cat "$T/s3rver.log"; echo "FAIL: s3rver did not start"; exit 1; }
URL="s3://tier/c1?endpoint=http://127.0.0.1:$S3PORT"
export CFS_TIERD_FLAGS="--min-age-s 3600 --interval-ms 200 --timeout-ms 5000"
UP_ARGS=(--tier "$URL")
cluster_up 3 7830
cfs() { cluster cfs "$@"; }
status_of() { cfs tier status | sed -n "s/^$1: *//p"; }

mkdir -p "$MNT/tree/small" "$MNT/tree/big"
for i in $(seq 1 300); do
	head -c $((RANDOM % 8192 + 1)) /dev/urandom >"$MNT/tree/small/f$i"
done
head -c 150000000 /dev/urandom >"$MNT/tree/big/one"
head -c 3000000 /dev/urandom >"$MNT/tree/big/two"
truncate -s 100M "$MNT/tree/big/sparse"
printf 'end' | dd of="$MNT/tree/big/sparse" bs=1 seek=99999997 conv=notrunc status=none
check "cfs tier flush: every closed file is in the store" \
	'cfs tier flush --timeout 120 >/dev/null'
check "the MDS counts all 303 files as tiered" \
	'[ "$(status_of tiered | cut -d" " -f1)" = 303 ]'

# every piece read back from the bucket equals the file's bytes there
pieces_match() {	# FILE: each piece `cfs tier where` gives, fetched
	local f=$1 key off len crc at n=0
	cfs tier where "$f" >"$T/where" || return 1
	while read -r key off len crc at; do
		"$OBJ" "$URL" get "$key" "$off" "$len" 2>/dev/null >"$T/piece" || return 1
		cmp -s "$T/piece" <(tail -c +$((at + 1)) "$f" | head -c "$len") ||
			{ echo "     $f: piece at $at differs"; return 1; }
		n=$((n + 1))
	done <"$T/where"
	[ "$n" -gt 0 ]
}
all_small_match() {
	local i
	for i in $(seq 1 300 | shuf -n 40 --random-source=<(yes)); do
		pieces_match "$MNT/tree/small/f$i" || return 1
	done
}
check "40 small files: the pieces in the bucket are their bytes" 'all_small_match'
check "a 150 MB file: every piece (1 MiB at most) in the bucket is its bytes, all of it" \
	'pieces_match "$MNT/tree/big/one" && [ "$(awk "{ s += \$3 } END { print s }" "$T/where")" = 150000000 ]'
check "a sparse 100 MB file: only its data is stored" \
	'pieces_match "$MNT/tree/big/sparse" && [ "$(wc -l <"$T/where")" -le 2 ]'
check "every object in the bucket is at most 64 MiB" \
	'[ -z "$(find "$S3DIR" -type f -size +65536k)" ]'
puts=$(grep -c '^PUT ' "$T/requests")
check "small files are packed: $puts PUTs for 303 files" '[ "$puts" -le 8 ]'
# large files back to back share blobs: each commit takes a blob only
# with every file in it
mkdir -p "$MNT/chain"
for i in 1 2 3; do head -c 100000000 /dev/urandom >"$MNT/chain/f$i"; done
check "three 100 MB files in one pass: all tiered" \
	'cfs tier flush --timeout 120 >/dev/null && [ "$(status_of tiered | cut -d" " -f1)" = 306 ]'
check "... every piece of the last one is its bytes" \
	'pieces_match "$MNT/chain/f3" && [ "$(awk "{ s += \$3 } END { print s }" "$T/where")" = 100000000 ]'
rm -rf "$MNT/chain"

# ---- a stopped store: writers go on, the flush waits and says why ----
kill -STOP "$S3PID"
t0=$(date +%s%N)
for i in $(seq 1 50); do head -c 20000 /dev/urandom >"$MNT/tree/small/late$i"; done
sync_ms=$((($(date +%s%N) - t0) / 1000000))
check "50 writes while the store is stopped take no time from it (${sync_ms} ms)" \
	'[ "$sync_ms" -lt 5000 ]'
check "a flush meanwhile is not done, and says so" \
	'! cfs tier flush --timeout 8 2>"$T/flush.err" && grep -q "not done" "$T/flush.err"'
check_within 90 "cfs tier status shows the store's trouble (a request timed out)" \
	'cfs tier status | grep -q "^last error: .*Connection timed out"'
kill -CONT "$S3PID"
check "the store back: the backlog drains (flush)" \
	'cfs tier flush --timeout 120 >/dev/null'
check "the late files are in the store" \
	'pieces_match "$MNT/tree/small/late7" && pieces_match "$MNT/tree/small/late50"'

# ---- a dead store (SIGKILL), then back on the same data ----
start_s3() {
	node "$ROOT/tests/s3rver/serve.js" "$S3DIR" 127.0.0.1 "$S3PORT" tier \
		"$T/requests" >"$T/s3rver.log" 2>&1 &
	S3PID=$!
	wait_for 20 'grep -q listening "$T/s3rver.log"'
}
kill -KILL "$S3PID"
wait "$S3PID" 2>/dev/null
mkdir -p "$MNT/dead"
for i in $(seq 1 20); do head -c 30000 /dev/urandom >"$MNT/dead/f$i"; done
check "with the store dead, writes work and a flush says it is not done" \
	'[ "$(cat "$MNT/dead/f20" | wc -c)" = 30000 ] && ! cfs tier flush --timeout 5 2>/dev/null'
check "the store back: the backlog drains" 'start_s3 && cfs tier flush --timeout 120 >/dev/null'
check "... the files written meanwhile are in it, and the ones before still are" \
	'pieces_match "$MNT/dead/f1" && pieces_match "$MNT/dead/f20" && pieces_match "$MNT/tree/small/late7"'

# ---- repacking: a blob mostly dead is packed anew, then deleted ----
mkdir -p "$MNT/r"
for i in $(seq 1 20); do head -c 50000 /dev/urandom >"$MNT/r/f$i"; done
cfs tier flush --timeout 60 >/dev/null
blob_of() { cfs tier where "$1" | awk 'NR == 1 { print $1 }'; }
old=$(blob_of "$MNT/r/f20")
check "20 small files share one blob ($old)" \
	'[ "$(blob_of "$MNT/r/f1")" = "$old" ] && [ "$(blob_of "$MNT/r/f19")" = "$old" ]'
rm -f "$MNT"/r/f{1..15}
cfs tier flush --timeout 60 >/dev/null
check_within 30 "15 of them deleted: the other 5 are repacked into a new blob" \
	'[ "$(blob_of "$MNT/r/f16")" != "$old" ] && [ "$(blob_of "$MNT/r/f20")" != "$old" ]'
check "... whose pieces are their bytes" \
	'pieces_match "$MNT/r/f16" && pieces_match "$MNT/r/f20"'
check_within 30 "... and the old blob is deleted" \
	'grep -q "^DELETE /tier/c1/$old " "$T/requests"'

# ---- tierd SIGKILLed between its PUT and its commit ----
cluster stop tierd
mkdir -p "$MNT/k"
for i in 1 2 3; do head -c $((i * 300000)) /dev/urandom >"$MNT/k/f$i"; done
CFS_FAULT=tier-after-put cluster start tierd
cfs tier flush --timeout 10 >/dev/null 2>&1
check_within 20 "tierd killed itself right after storing a blob (CFS_FAULT)" \
	'! kill -0 "$(cat "$T/c/pids/tierd.pid")" 2>/dev/null'
left=$(awk '$1 == "PUT" { k = $2 } END { print k }' "$T/requests")
check "the blob it stored is referenced by nothing: the files are not tiered" \
	'! cfs tier where "$MNT/k/f1" >/dev/null 2>&1'
cluster start tierd
check "restarted, tierd tiers the files" \
	'cfs tier flush --timeout 60 >/dev/null && pieces_match "$MNT/k/f1" && pieces_match "$MNT/k/f3"'
check_within 20 "... and deletes the blob its dead run left ($left)" \
	'grep -q "^DELETE $left " "$T/requests"'

# ---- eviction: flash copies dropped, bytes read back from the bucket ----
mkdir -p "$MNT/ev"
head -c 70000000 /dev/urandom >"$T/ev.big"	# two chunks
cp "$T/ev.big" "$MNT/ev/big"
for i in $(seq 1 20); do
	head -c $((RANDOM * 10 + 1)) /dev/urandom >"$T/ev.s$i"
	cp "$T/ev.s$i" "$MNT/ev/s$i"
done
cfs tier flush --timeout 120 >/dev/null
osd_kb() { du -sk "$T"/c/osd*/chunks | awk '{ s += $1 } END { print s }'; }
kb0=$(osd_kb)
gets0=$(grep -c '^GET ' "$T/requests")
check "cfs tier evict of a directory evicts every file in it" \
	'cfs tier evict "$MNT/ev" | grep -q "^evicted 21 files"'
kb1=$(osd_kb)
check "the OSDs' flash is freed: three copies of 70 MB ($kb0 KiB -> $kb1 KiB)" \
	'[ "$kb1" -lt $((kb0 - 3 * 65000)) ]'
evicted_all() {
	local i
	same_file "$T/ev.big" "$MNT/ev/big" || return 1
	for i in $(seq 1 20); do same_file "$T/ev.s$i" "$MNT/ev/s$i" || return 1; done
}
cold_caches
check "every evicted file reads back right" 'evicted_all'
check "... its bytes came from the bucket (ranged GETs)" \
	'[ "$(grep -c "^GET " "$T/requests")" -gt "$gets0" ]'
# a change to an evicted file: made on the bytes brought back
cfs tier evict "$MNT/ev" >/dev/null
printf 'changed!' | dd of="$MNT/ev/big" bs=1 seek=$((65 << 20)) conv=notrunc status=none
printf 'changed!' | dd of="$T/ev.big" bs=1 seek=$((65 << 20)) conv=notrunc status=none
cold_caches
check "a write into an evicted chunk keeps the bytes around it" \
	'same_file "$T/ev.big" "$MNT/ev/big"'
check "the changed file is tiered anew: every copy whole first, then new pieces" \
	'cfs tier flush --timeout 120 >/dev/null && pieces_match "$MNT/ev/big"'
big_ino=$(printf '%016x' "$(stat -c %i "$MNT/ev/big")")
check "no copy of it is left evicted" \
	'[ -z "$(ls "$T"/c/osd*/evicted/ | grep "^$big_ino\.")" ]'
# the replicas' copies: evicted, then read with the primary gone
cfs tier evict "$MNT/ev" >/dev/null
cluster kill osd1
cold_caches
check "with an OSD killed, the other copies of evicted files read right" \
	'evicted_all'
cluster start osd1
check_within 60 "the OSD is back" '[ "$(cluster cfs status "$MDS" | awk "/ of .* OSDs up/ {print \$1}")" = 3 ]'

# ---- past the high watermark, tierd evicts by itself ----
cluster stop tierd
mkdir -p "$MNT/w"
for i in 1 2 3; do
	head -c 2000000 /dev/urandom >"$T/w$i"
	cp "$T/w$i" "$MNT/w/f$i"
done
CFS_TIERD_FLAGS="$CFS_TIERD_FLAGS --high-watermark-pct 0 --low-watermark-pct 0" \
	cluster start tierd
cfs tier flush --timeout 60 >/dev/null
w_evicted() {
	local i ino
	for i in 1 2 3; do
		ino=$(printf '%016x' "$(stat -c %i "$MNT/w/f$i")")
		[ "$(ls "$T"/c/osd*/evicted/ | grep -c "^$ino\.")" = 3 ] || return 1
	done
}
check_within 30 "past its high watermark tierd evicts tiered files itself (every copy)" 'w_evicted'
cold_caches
check "... and they read back right" \
	'same_file "$T/w1" "$MNT/w/f1" && same_file "$T/w2" "$MNT/w/f2" && same_file "$T/w3" "$MNT/w/f3"'
cluster stop tierd
cluster start tierd

# ---- deletes: blobs nothing points into are deleted ----
rm -rf "$MNT/tree" "$MNT/ev" "$MNT/k" "$MNT/w" "$MNT/r" "$MNT/dead"
check_within 60 "every file deleted: every blob deleted from the bucket" \
	'[ "$(status_of blobs | cut -d" " -f1)" = 0 ] && [ -z "$(find "$S3DIR" -type f -name "*_S3rver_object")" ]'
check "only PUT, GET and DELETE reached the store" \
	'[ -z "$(awk "\$1 != \"PUT\" && \$1 != \"GET\" && \$1 != \"DELETE\"" "$T/requests")" ] && grep -q "^DELETE " "$T/requests"'
kill "$S3PID" 2>/dev/null
finish

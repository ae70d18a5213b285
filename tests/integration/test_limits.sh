#!/usr/bin/env bash
# Limits: paths deeper than 100 levels, a 16 GiB sparse file, statfs
# figures that move with usage, a directory of 100,000 entries listed
# while entries are added and removed, and full OSDs: ENOSPC to the
# writer and nothing else damaged.
. "$(dirname "$0")/lib.sh"

# OSD data on small tmpfs file systems, so that they fill up
for k in 1 2 3; do
	mkdir -p "$T/c/osd$k"
	mount -t tmpfs -o size=64m tmpfs "$T/c/osd$k"
done
trap 'cleanup_all' EXIT
cleanup_all() {
	"$CLUSTER" down --dir "$T/c" >/dev/null 2>&1
	for k in 1 2 3; do umount "$T/c/osd$k" 2>/dev/null; done
	rm -rf "$T"
}
# one MDS: 100,000 creates through three replicas take minutes more of
# make test (test_mds_ha covers the replicas)
CFS_MDS_REPLICAS=1 cluster_up 3 7560

d=$MNT
for i in $(seq 1 120); do d=$d/l$i; done
mkdir -p "$d"
echo deep >"$d/f"
check "a path 120 levels deep" '[ "$(cat "$d/f")" = deep ]'

printf 'Z' | dd of="$MNT/sparse16g" bs=1 seek=$((16 << 30)) conv=notrunc status=none
check "16 GiB sparse file: size" '[ "$(stat -c %s "$MNT/sparse16g")" = $(((16 << 30) + 1)) ]'
check "16 GiB sparse file: last byte" '[ "$(tail -c 1 "$MNT/sparse16g")" = Z ]'
: >"$MNT/empty"
check "0-byte file" '[ "$(stat -c %s "$MNT/empty")" = 0 ] && [ -z "$(cat "$MNT/empty")" ]'

free_before=$(stat -f -c %a "$MNT")
head -c 20000000 /dev/urandom >"$MNT/space"
sync
# statfs figures come from the OSDs' heartbeats (every second)
check_within 6 "statfs free space falls as data is written" '[ "$(stat -f -c %a "$MNT")" -lt "$free_before" ]'
rm "$MNT/space"
# the MDS purges a deleted file's chunks in the background (about 1 s)
check_within 10 "deleting gives the space back (purge)" '[ "$(stat -f -c %a "$MNT")" -gt "$((free_before - 256))" ]'

# full OSDs: the writer gets ENOSPC, earlier files stay intact
head -c 5000000 /dev/urandom >"$T/keep"
cp "$T/keep" "$MNT/keep"
out=$(head -c 200000000 /dev/zero 2>/dev/null | tr '\0' 'x' | dd of="$MNT/fill" bs=1M iflag=fullblock status=none 2>&1)
check "writing past a full OSD fails with ENOSPC ($out)" 'grep -q "No space left on device" <<<"$out"'
cold_caches
check "files written before are intact" 'cmp -s "$T/keep" "$MNT/keep"'
# full: less free than one write-back extent (8 MiB), which an OSD takes
# whole or refuses
check_within 6 "statfs shows the OSDs full (under 2,048 blocks free)" '[ "$(stat -f -c %a "$MNT")" -lt 2048 ]'
# what is left on each: its 5% reserve (3.2 MiB), of which replicas'
# forwarded writes may take half
left=$(df --output=avail "$T"/c/osd1 "$T"/c/osd2 "$T"/c/osd3 | tail -n 3 | sort -n | head -n 1)
check "full for clients, each OSD keeps at least half its reserve ($left KiB)" '[ "$left" -ge 1536 ]'
full_free=$(stat -f -c %a "$MNT")
rm -f "$MNT/fill"
check_within 10 "deleting frees the space (purge)" '[ "$(stat -f -c %a "$MNT")" -gt "$((full_free + 1000))" ]'
check "the cluster writes again once space is freed" 'echo ok >"$MNT/after" && [ "$(cat "$MNT/after")" = ok ]'

# 100,000 entries; list them while others are added and removed
mkdir "$MNT/big"
for p in 0 1 2 3; do
	( for i in $(seq $((p * 25000 + 1)) $(((p + 1) * 25000))); do : >"$MNT/big/e$i"; done ) &
done
wait
check "100,000 entries listed" '[ "$(ls -f "$MNT/big" | grep -c "^e")" = 100000 ]'
( for i in $(seq 1 3000); do : >"$MNT/big/new$i"; rm -f "$MNT/big/e$((i * 7))"; done ) &
churn=$!
ls -f "$MNT/big" >"$T/listing"
wait $churn
check "readdir during churn: no name twice" '[ -z "$(sort "$T/listing" | uniq -d)" ]'
# names present throughout: e<N> never removed (N not a multiple of 7 up to 21000)
missing=0
for i in $(seq 1 100000); do
	if [ $((i % 7)) != 0 ] || [ "$i" -gt 21000 ]; then echo "e$i"; fi
done | sort >"$T/throughout"
sort "$T/listing" >"$T/listing.sorted"
missing=$(comm -23 "$T/throughout" "$T/listing.sorted" | wc -l)
check "readdir during churn: nothing present throughout missed ($missing)" '[ "$missing" = 0 ]'

finish

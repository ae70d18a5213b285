#!/usr/bin/env bash
# The client data cache (cfs-fuse -o cache_dir, libcfs cache.c) and FUSE
# passthrough (clients/fuse/passthrough.c): a file read twice is read the
# second time by the kernel from the cache (the mount's counters say so)
# with the right bytes; other mounts' changes are seen on the next open,
# and by a file held open; this mount's own writes reach readers of the
# copy; a copy corrupted on disk is caught by its CRC and read again; a
# full cache evicts and keeps working; a remount reuses the cache; the
# daemon serves the cache itself without passthrough.
. "$(dirname "$0")/lib.sh"
cluster_up 3 7800

A=$MNT
second_mount "$T/b" -o no_uring
B=$T/b
cfs() { "$CFS_BIN/cfs" "$@"; }
# stat KEY PATH: a figure of the mount PATH is on (cfs cache status)
stat_of() { cfs cache status "$2" | awk -v k="$1:" '$1 == k { print $2 }'; }
# read PATH whole, as a new open, and compare with EXPECTED
reads_as() { same_file "$2" "$1"; }

check "cache and passthrough are on by default (cfs-cluster's mount)" \
	'[ "$(stat_of cache "$A")" = on ] && [ "$(stat_of passthrough "$A")" = on ]'

# ---- read twice: the second time through passthrough ----
head -c 3000000 /dev/urandom >"$T/one"
cp "$T/one" "$B/one"	# written elsewhere: A has no pages of it
pt0=$(stat_of passthrough_opens "$A")
check "first read on A: right bytes" 'reads_as "$A/one" "$T/one"'
check "the first read filled A's cache with the whole file" \
	'[ "$(stat_of file_cached_bytes "$A/one")" = 3000000 ]'
check "second read on A: right bytes" 'reads_as "$A/one" "$T/one"'
check "second read on A was served by passthrough" \
	'[ "$(stat_of passthrough_opens "$A")" -gt "$pt0" ]'
check "mmap of a passthrough file reads the same bytes" \
	'python3 -c "import mmap,sys; f=open(sys.argv[1],\"rb\"); m=mmap.mmap(f.fileno(),0,prot=mmap.PROT_READ); sys.exit(m[:] != open(sys.argv[2],\"rb\").read())" "$A/one" "$T/one"'

# ---- another mount's change: the next open reads the new bytes ----
head -c 3000000 /dev/urandom >"$T/one2"	# the same size: mtime tells
cp "$T/one2" "$B/one"
check "after B rewrote it, A's next open reads B's bytes" 'reads_as "$A/one" "$T/one2"'
check "... and again (cached anew, passthrough)" 'reads_as "$A/one" "$T/one2"'
printf 'tail' >>"$B/one"
cat "$T/one2" >"$T/one3"; printf 'tail' >>"$T/one3"
check "after B appended, A reads the longer file" 'reads_as "$A/one" "$T/one3"'

# ---- a file held open through passthrough sees other mounts' changes ----
reads_as "$A/one" "$T/one3" && reads_as "$A/one" "$T/one3"	# cached, held next
exec 7<"$A/one"
check "A holds the file open through passthrough" \
	'[ "$(stat_of file_passthrough_opens "$A/one")" -ge 1 ]'
head -c 3000000 /dev/urandom >"$T/one4"
cp "$T/one4" "$B/one"
check_within 5 "the open file on A reads B's new bytes (the copy is refreshed)" \
	'stat "$A/one" >/dev/null && fd7_reads_as "$T/one4"'
check "a new open on A meanwhile reads them too" 'reads_as "$A/one" "$T/one4"'

# ---- this mount's writes while the kernel reads the copy ----
printf 'ours' | dd of="$A/one" bs=1 seek=1000 conv=notrunc status=none
python3 -c "
import sys; b = bytearray(open(sys.argv[1], 'rb').read()); b[1000:1004] = b'ours'
open(sys.argv[2], 'wb').write(b)" "$T/one4" "$T/one5"
check "A's own write is seen by the file it holds open" 'fd7_reads_as "$T/one5"'
check "... and by B" 'reads_as "$B/one" "$T/one5"'
# a shared writable mapping by a writing open while the kernel reads the
# copy: the kernel maps the copy, and what it wrote reaches the cluster
map_write() {
	python3 -c '
import mmap, sys
with open(sys.argv[1], "r+b") as f:
	m = mmap.mmap(f.fileno(), 0)
	m[10:14] = b"MAP1"
	m[2000000:2000004] = b"MAP2"
	m.flush()
	m.close()
b = bytearray(open(sys.argv[2], "rb").read())
b[10:14] = b"MAP1"; b[2000000:2000004] = b"MAP2"
open(sys.argv[3], "wb").write(b)' "$A/one" "$T/one5" "$T/one5m"
}
check "a shared writable mapping on A while A reads the file through passthrough" 'map_write'
check "... what it wrote reaches B" 'reads_as "$B/one" "$T/one5m"'
check "... and the file A holds open" 'fd7_reads_as "$T/one5m"'
cp "$T/one5m" "$T/one5"
exec 7<&-
check "A reads its write after the last close" 'reads_as "$A/one" "$T/one5"'
truncate -s 100 "$A/one"
head -c 100 "$T/one5" >"$T/one6"
check "A's truncate: A and B read the first 100 bytes" \
	'reads_as "$A/one" "$T/one6" && reads_as "$B/one" "$T/one6"'

# ---- corruption on disk: caught by the CRC, read again, never returned ----
head -c 2000000 /dev/urandom >"$T/two"
cp "$T/two" "$B/two"
reads_as "$A/two" "$T/two" >/dev/null
ino=$(stat -c %i "$A/two")
data=$(printf '%s/c/cache/%s/%016x.data' "$T" "$(ls "$T/c/cache")" "$ino")
check "the copy is on disk as $(basename "$data")" '[ -s "$data" ]'
bad0=$(stat_of corrupt_blocks "$A")
printf 'XXXXXXXX' | dd of="$data" bs=1 seek=70000 conv=notrunc status=none
check "a corrupted copy: A still reads the right bytes" 'reads_as "$A/two" "$T/two"'
check "the bad block was counted" '[ "$(stat_of corrupt_blocks "$A")" -gt "$bad0" ]'
check "the block was read again from the OSDs into the copy" \
	'reads_as "$A/two" "$T/two" && cmp -s "$data" "$T/two"'
# the daemon's own reads check every block too (no passthrough on B)
check "cfs cache warm on B reads two into B's cache" \
	'cfs cache warm "$B/two" 2>/dev/null && [ "$(stat_of file_cached_bytes "$B/two")" = 2000000 ]'
umount_b() { fusermount3 -u "$B" && wait_for 10 '! kill -0 "$MOUNT_PID" 2>/dev/null'; }
check "B unmounts" 'umount_b'
second_mount "$T/b" -o no_uring,no_passthrough
check "B: passthrough off by option" '[ "$(stat_of passthrough "$B")" = off ]'
echo 3 >/proc/sys/vm/drop_caches
check "B (remounted) reads one" 'reads_as "$B/one" "$T/one6"'
check "B's copy of two from before the remount is reused" \
	'[ "$(stat_of file_cached_bytes "$B/two")" = 2000000 ]'
h0=$(stat_of hits "$B")
echo 3 >/proc/sys/vm/drop_caches
check "B reads two from its cache" 'reads_as "$B/two" "$T/two"'
check "... served by cfs-fuse from the cache (hits)" '[ "$(stat_of hits "$B")" -gt "$h0" ]'
bdata=$(printf '%s/b.cache/%s/%016x.data' "$T" "$(ls "$T/b.cache")" "$ino")
printf 'YYYYYYYY' | dd of="$bdata" bs=1 seek=1000 conv=notrunc status=none
echo 3 >/proc/sys/vm/drop_caches
bad0=$(stat_of corrupt_blocks "$B")
check "B: a corrupted copy read by cfs-fuse returns the right bytes" 'reads_as "$B/two" "$T/two"'
check "B: the bad block was counted" '[ "$(stat_of corrupt_blocks "$B")" -gt "$bad0" ]'

# ---- remount: A's cache survives, checked, and serves by passthrough ----
pt0=$(stat_of passthrough_opens "$A")
cluster stop fuse >/dev/null
cluster start fuse >/dev/null
check "A is mounted again" 'mounted "$A"'
check "after the remount, A reads two right" 'reads_as "$A/two" "$T/two"'
check "... through passthrough from the copy the last mount left" \
	'[ "$(stat_of passthrough_opens "$A")" -ge 1 ]'

# ---- a full cache evicts and keeps working ----
check "B unmounts again" 'umount_b'
rm -rf "$T/b.cache"
second_mount "$T/b" -o no_uring,cache_size=4M
for i in $(seq 1 10); do head -c 1000000 /dev/urandom >"$T/e$i"; cp "$T/e$i" "$A/e$i"; done
ok_all=1
for round in 1 2; do
	for i in $(seq 1 10); do reads_as "$B/e$i" "$T/e$i" || ok_all=0; done
done
check "10 files of 1 MB through a 4 MiB cache, twice: every byte right" '[ "$ok_all" = 1 ]'
check "the cache stayed within its size" '[ "$(stat_of used_bytes "$B")" -le $((4 << 20)) ]'
check "and evicted to stay there" '[ "$(stat_of evicted "$B")" -gt 0 ]'

# ---- cfs cache drop and warm ----
cfs cache drop "$A/two"
check "cfs cache drop forgets the file's copy" '[ "$(stat_of file_cached_bytes "$A/two")" = 0 ]'
mkdir -p "$A/w/x"
for i in 1 2 3; do head -c 300000 /dev/urandom >"$A/w/x/f$i"; done
cfs cache drop "$A"
check "cfs cache drop of the mount forgets every copy" '[ "$(stat_of entries "$A")" = 0 ]'
check "cfs cache warm reads a tree in" 'cfs cache warm "$A/w" 2>"$T/warm.out"'
check "... with a progress line" 'grep -q "100% .* 3 files" "$T/warm.out"'
check "... and every file is whole in the cache" \
	'for i in 1 2 3; do [ "$(stat_of file_cached_bytes "$A/w/x/f$i")" = 300000 ] || exit 1; done'

# ---- passthrough switched off and on, on a running mount ----
cat "$A/w/x/f1" >/dev/null
pt0=$(stat_of passthrough_opens "$A")
check "cfs cache passthrough off" 'cfs cache passthrough off "$A" && [ "$(stat_of passthrough "$A")" = off ]'
check "with it off, a cached file reads right" 'cat "$A/w/x/f1" >/dev/null && reads_as "$A/w/x/f1" "$A/w/x/f1"'
check "... and no copy was handed to the kernel" '[ "$(stat_of passthrough_opens "$A")" = "$pt0" ]'
check "cfs cache passthrough on: the next open is one" \
	'cfs cache passthrough on "$A" && cat "$A/w/x/f1" >/dev/null && [ "$(stat_of passthrough_opens "$A")" -gt "$pt0" ]'
check "cfs cache with a bad word is refused" '! cfs cache passthrough maybe "$A" 2>/dev/null'

# ---- the mount works as a file system with the cache in the way ----
tar -C "$ROOT" -cf "$T/src.tar" common clients
mkdir "$A/src" && tar -C "$A/src" -xf "$T/src.tar"
check "tar of a source tree out of A equals the original (cold, then from the cache)" \
	'diff -r "$ROOT/common" "$A/src/common" >/dev/null && diff -r "$ROOT/clients" "$A/src/clients" >/dev/null'
check "... and again" 'diff -r "$ROOT/clients" "$A/src/clients" >/dev/null'
check "B sees the same tree" 'diff -r "$ROOT/clients" "$B/src/clients" >/dev/null'
finish

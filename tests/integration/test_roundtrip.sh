#!/usr/bin/env bash
# Bytes read back equal bytes written, at every size that matters (block,
# request and chunk boundaries, up to 1 GiB), sparse files past 4 GiB,
# overwrites, appends, truncation, unlink of open files, and a copy of
# /usr/include compared with diff.
. "$(dirname "$0")/lib.sh"
cluster_up 3 7410

for size in 0 1 4095 4096 4097 1048575 1048577 67108867 209715200; do
	head -c "$size" /dev/urandom >"$T/src"
	cp "$T/src" "$MNT/f$size"
	check "round trip of $size bytes" 'same_file "$T/src" "$MNT/f$size"'
done

# 1 GiB of random data, compared by sha256 after dropping the page cache
head -c 1073741824 /dev/urandom >"$T/big"
want=$(sha256sum <"$T/big")
cp "$T/big" "$MNT/big"
cold_caches
check "1 GiB round trip (sha256)" '[ "$(sha256sum <"$MNT/big")" = "$want" ]'
rm -f "$T/big" "$MNT/big"

# sparse: a byte past 5 GiB, zeros in the hole, right size
printf 'X' | dd of="$MNT/sparse" bs=1 seek=$((5 << 30)) conv=notrunc status=none
check "sparse file size past 4 GiB" '[ "$(stat -c %s "$MNT/sparse")" = $(((5 << 30) + 1)) ]'
check "hole reads as zeros" '[ "$(dd if="$MNT/sparse" bs=1M skip=4095 count=1 status=none | tr -d "\0" | wc -c)" = 0 ]'
check "byte past 5 GiB reads back" '[ "$(tail -c 1 "$MNT/sparse")" = X ]'

# overwrite in the middle, unaligned
head -c 100000 /dev/urandom >"$T/o"
cp "$T/o" "$MNT/o"
printf 'hello' | dd of="$T/o" bs=1 seek=12345 conv=notrunc status=none
printf 'hello' | dd of="$MNT/o" bs=1 seek=12345 conv=notrunc status=none
check "unaligned overwrite" 'same_file "$T/o" "$MNT/o"'

# appends from two writers, one after the other
: >"$MNT/log"
for i in $(seq 1 50); do echo "line $i" >>"$MNT/log"; done
check "O_APPEND keeps every line" '[ "$(wc -l <"$MNT/log")" = 50 ]'

# truncate down then up: the tail reads as zeros, not old data
head -c 200000 /dev/urandom >"$MNT/t"
truncate -s 1000 "$MNT/t"
truncate -s 300000 "$MNT/t"
check "truncate down then up reads zeros" '[ "$(tail -c 299000 "$MNT/t" | tr -d "\0" | wc -c)" = 0 ]'
check "truncate keeps the head" '[ "$(stat -c %s "$MNT/t")" = 300000 ]'

# O_EXCL on an existing file fails
check "O_EXCL fails on an existing file" '! (set -o noclobber; echo x >"$MNT/t") 2>/dev/null'

# unlink while open: still readable through the descriptor
head -c 3000000 /dev/urandom >"$T/u"
cp "$T/u" "$MNT/u"
exec 3<"$MNT/u"
rm "$MNT/u"
check "unlinked file gone from the namespace" '[ ! -e "$MNT/u" ]'
check "unlinked open file still reads" 'cmp -s "$T/u" /dev/fd/3'
exec 3<&-

# the acceptance copy: /usr/include, compared with diff (links not followed:
# relative links that leave the tree dangle in any copy, on any disk)
cp -a /usr/include "$MNT/"
check "cp -a /usr/include then diff -r" 'diff -r --no-dereference /usr/include "$MNT/include"'

finish

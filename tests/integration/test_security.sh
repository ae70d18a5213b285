#!/usr/bin/env bash
# No one in without a token of this cluster: mounts with no token, a
# changed one, another cluster's, an expired or a revoked one are refused
# with a clear error and nothing mounted (a revoked token's live mount is
# cut off); an OSD started with a client's token
# does not start; a client forging OSD requests for a file it cannot
# open gets EACCES (capabilities); a subtree token reaches nothing
# outside its subtree; a read-only token changes nothing, even with the
# kernel's -o rw; a squash token makes root nobody; names and xattr
# values crossing the wire to the MDS, and file bytes to an OSD, are not
# in the captured bytes; the bytes of earlier connections (their
# handshakes and frames) sent again change nothing, and the MDS keeps
# serving.
. "$(dirname "$0")/lib.sh"
cluster_up 2 7590
CL=$T/c/cluster
CFS=$CFS_BIN/cfs

# refused_mount NAME TOKEN_OPTION... : the mount fails at once, names why
refused_mount() {
	local name=$1 dir=$T/m$RANDOM out rc
	shift
	mkdir -p "$dir"
	out=$(timeout 20 "$CFS_BIN/cfs-fuse" "$MDS" "$dir" -f -o "cache_dir=$dir.cache" "$@" 2>&1)
	rc=$?
	check "$name: cfs-fuse exits non-zero (rc $rc)" '[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]'
	check "$name: nothing is mounted" '! mounted "$dir"'
	echo "$out" | tail -n 2 | sed 's/^/     /'
	LAST_OUT=$out
}

refused_mount "no token"
check "... saying a token is needed" 'grep -q "a join token is needed" <<<"$LAST_OUT"'

sed 's/^cfs1\.ey/cfs1.eZ/' "$CLIENT_TOKEN" >"$T/changed.token"
refused_mount "a changed token" -o "token=$T/changed.token"
check "... naming the token and what is wrong" 'grep -q "token $T/changed.token: " <<<"$LAST_OUT"'

"$CFS" init --dir "$T/other" --mds "$MDS" >/dev/null
"$CFS" token create --dir "$T/other" --role client >"$T/other.token"
refused_mount "another cluster's token" -o "token=$T/other.token"
check "... the MDS logged why" 'grep -q "refused a peer.*a token of another cluster" "$T/c/logs/mds.log"'

"$CFS" token create --dir "$CL" --role client --ttl 1s >"$T/short.token"
expires=$(($(date +%s) + 2))
wait_for 5 '[ "$(date +%s)" -ge "$expires" ]'
refused_mount "an expired token" -o "token=$T/short.token"
check "... the MDS logged why" 'grep -q "refused a peer.*an expired token" "$T/c/logs/mds.log"'

# revocation: a token in use, revoked, is cut off at once; a mount with
# it is refused, also after the MDS restarts (it keeps the list)
"$CFS" token create --dir "$CL" --role client >"$T/rv.token"
rv_id=$("$CFS" token list --dir "$CL" | tail -n 1 | awk '{print $1}')
second_mount "$T/rv" -o "token=$T/rv.token" || bad "the mount to revoke did not come up"
echo kept >"$MNT/rv-file"
check "before revocation the token's mount reads" '[ "$(cat "$T/rv/rv-file")" = kept ]'
out=$("$CFS" token revoke --dir "$CL" "$rv_id" 2>&1)
check "cfs token revoke tells the MDS ($out)" 'grep -q "token $rv_id revoked: the MDS at $MDS refuses it now" <<<"$out"'
check "cfs token list says REVOKED" '"$CFS" token list --dir "$CL" | grep -q "^$rv_id .*REVOKED"'
echo new >"$MNT/rv-new"
check_within 10 "the live mount is cut off: a new name is not found through it" '! cat "$T/rv/rv-new" 2>/dev/null'
check "... the MDS logged the revoked token" 'grep -q "refused a peer.*token $rv_id is revoked" "$T/c/logs/mds.log"'
refused_mount "a revoked token" -o "token=$T/rv.token"
check "... the client says the server refused it as revoked" 'grep -q "token $rv_id is revoked" <<<"$LAST_OUT"'
cluster kill mds >/dev/null
cluster start mds >/dev/null
wait_for 20 '"$CFS" status "$MDS" >/dev/null 2>&1' || bad "the MDS did not come back"
refused_mount "a revoked token, after the MDS restarted" -o "token=$T/rv.token"
check "the cluster map carries the revocation" '"$CFS" status "$MDS" | grep -q "revoked tokens: $rv_id"'
out=$(CFS_TOKEN=$CLIENT_TOKEN "$CFS" token revoke --dir "$CL" "$rv_id" 2>&1)
check "a client token cannot revoke ($out)" '! CFS_TOKEN=$CLIENT_TOKEN "$CFS" token revoke --dir "$CL" "$rv_id" >/dev/null 2>&1 && grep -q "did not take it: Permission denied" <<<"$out"'

refused_mount "an OSD's token for a mount" -o "token=$T/c/tokens/osd.token"
check "... a client joins with a client's token" 'grep -q "token of role osd" <<<"$LAST_OUT"'

out=$("$CFS_BIN/cfs-osd" --listen 127.0.0.9:7690 --mds "$MDS" --data "$T/osd9" \
	--token "$CLIENT_TOKEN" 2>&1)
rc=$?
check "an OSD started with a client's token does not start (rc $rc)" '[ "$rc" = 2 ]'
check "... saying so" 'grep -q "a token of role client, not osd" <<<"$out"'
check "... and the cluster still has its 2 OSDs" '[ "$("$CFS" status "$MDS" | grep -c " up ")" = 2 ]'

# a read-only token: every change refused by the MDS and the OSDs
# themselves (-o rw keeps the kernel from refusing first)
echo before >"$MNT/ro-file"
mkdir "$MNT/ro-dir"
"$CFS" token create --dir "$CL" --role client --ro >"$T/ro.token"
second_mount "$T/ro" -o "token=$T/ro.token" -o rw || bad "the read-only mount did not come up"
erofs() {	# erofs NAME COMMAND...: fails with "Read-only file system"
	local out rc
	out=$("${@:2}" 2>&1)
	rc=$?
	check "read-only token: $1 fails with EROFS" '[ "$rc" -ne 0 ] && grep -q "Read-only file system" <<<"$out"'
}
check "read-only token: reading works" '[ "$(cat "$T/ro/ro-file")" = before ]'
erofs "create" touch "$T/ro/new"
erofs "write" sh -c "echo x >>'$T/ro/ro-file'"
erofs "truncate" truncate -s 0 "$T/ro/ro-file"
erofs "mkdir" mkdir "$T/ro/d2"
erofs "rmdir" rmdir "$T/ro/ro-dir"
erofs "unlink" rm -f "$T/ro/ro-file"
erofs "rename" mv "$T/ro/ro-file" "$T/ro/moved"
erofs "chmod" chmod 600 "$T/ro/ro-file"
erofs "setxattr" setfattr -n user.x -v y "$T/ro/ro-file"
erofs "link" ln "$T/ro/ro-file" "$T/ro/hard"
erofs "symlink" ln -s ro-file "$T/ro/soft"
check "read-only token: the file is as it was" '[ "$(cat "$MNT/ro-file")" = before ]'
second_mount "$T/ro2" -o "token=$T/ro.token" || bad "the read-only mount did not come up"
check "read-only token without -o rw: mounted read-only" 'grep -q " $T/ro2 fuse.cfs ro," /proc/mounts'

# root squash: root through a squash token is nobody
"$CFS" token create --dir "$CL" --role client --squash >"$T/squash.token"
second_mount "$T/sq" -o "token=$T/squash.token" || bad "the squash mount did not come up"
echo mine >"$MNT/root-only" && chmod 600 "$MNT/root-only"
check "squash: root cannot read a root-only file" '! cat "$T/sq/root-only" 2>/dev/null'
mkdir -m 1777 "$MNT/pub"
check "squash: root creates files as nobody" 'touch "$T/sq/pub/f" && [ "$(stat -c %u:%g "$MNT/pub/f")" = 65534:65534 ]'
second_mount "$T/rs" -o root_squash || bad "the -o root_squash mount did not come up"
check "-o root_squash: root cannot read a root-only file" '! cat "$T/rs/root-only" 2>/dev/null'
check "-o root_squash: root creates files as nobody" 'touch "$T/rs/pub/g" && [ "$(stat -c %u:%g "$MNT/pub/g")" = 65534:65534 ]'

# capabilities: a client with a good token, forging OSD requests by hand
# for a file it may not open (tests/tools/forge.c), gets EACCES each time
echo root-bytes >"$MNT/cap-target" && chmod 600 "$MNT/cap-target"
echo mine >"$MNT/cap-own" && chmod 644 "$MNT/cap-own"
out=$("$CFS_BIN/forge" "$CLIENT_TOKEN" "$MDS" 1000:1000 \
	"$(stat -c %i "$MNT/cap-own")" "$(stat -c %i "$MNT/cap-target")" 2>&1)
echo "$out" | sed 's/^/     /'
for a in open-target cap-target no-cap other-file-cap altered-cap read-cap-write osd-only-gone; do
	check "forged: $a gets EACCES" 'grep -qx "$a rc=-13" <<<"$out"'
done
check "forged: the same requests with a real capability work (own-read)" 'grep -qx "own-read rc=0" <<<"$out"'
check "... the OSDs logged the refusals" 'grep -q "refused a data request.*a capability for another file" "$T"/c/logs/osd*.log'
check "... and both files are as they were" '[ "$(cat "$MNT/cap-target")" = root-bytes ] && [ "$(cat "$MNT/cap-own")" = mine ]'

# a subtree token: its mount's root is the subtree, and nothing outside
# is within its reach, even by inode number
mkdir -p "$MNT/proj/sub" && echo inside >"$MNT/proj/sub/in" && echo outside >"$MNT/out-file"
chmod 666 "$MNT/proj/sub/in" "$MNT/out-file"
"$CFS" token create --dir "$CL" --role client --subtree /proj >"$T/subtree.token"
second_mount "$T/st" -o "token=$T/subtree.token" || bad "the subtree mount did not come up"
check "subtree: the mount's root is the subtree" '[ "$(ls "$T/st")" = sub ] && [ "$(cat "$T/st/sub/in")" = inside ]'
check "subtree: what it makes lands in the subtree" 'echo made >"$T/st/sub/new" && [ "$(cat "$MNT/proj/sub/new")" = made ]'
check "subtree: a rename within it works" 'mv "$T/st/sub/new" "$T/st/moved" && [ "$(cat "$MNT/proj/moved")" = made ]'
out=$("$CFS_BIN/forge" "$T/subtree.token" "$MDS" 0:0 \
	"$(stat -c %i "$MNT/proj/sub/in")" "$(stat -c %i "$MNT/out-file")" 2>&1)
echo "$out" | sed 's/^/     /'
check "subtree: a file outside, by its inode number, even as root: EACCES" 'grep -qx "open-target rc=-13" <<<"$out" && grep -qx "cap-target rc=-13" <<<"$out"'
check "subtree: a file inside, by its inode number, opens" 'grep -qx "own-read rc=0" <<<"$out"'
check "... the file outside is as it was" '[ "$(cat "$MNT/out-file")" = outside ]'

# the wire, seen through a capturing forwarder in front of the MDS
PROXY_PORT=7595
mkdir -p "$T/wire"
python3 "$ROOT/tests/integration/tcp_proxy.py" $PROXY_PORT "$MDS" "$T/wire" &
proxy=$!
trap 'kill "$proxy" 2>/dev/null; cleanup' EXIT
wait_for 5 '(: </dev/tcp/127.0.0.1/$PROXY_PORT) 2>/dev/null' || bad "the forwarder did not listen"
mkdir -p "$T/w"
"$CFS_BIN/cfs-fuse" 127.0.0.1:$PROXY_PORT "$T/w" -f -o "token=$CLIENT_TOKEN,cache_dir=$T/w.cache" \
	>>"$T/fuse_w.log" 2>&1 &
w=$!
echo "$w $T/w" >>"$T/mounts"
wait_for 10 'mounted "$T/w"' || bad "the mount through the forwarder did not come up"
name=quarterly-salaries-ZQX7
value=the-password-is-KJH4
echo data >"$T/w/$name"
setfattr -n user.note -v "$value" "$T/w/$name"
ln -s "target-$value" "$T/w/link-$name"
check "the mount through the forwarder works" '[ "$(getfattr --only-values -n user.note "$T/w/$name")" = "$value" ]'
mkdir "$T/w/replay-me" && rmdir "$T/w/replay-me"
fusermount3 -u "$T/w"
wait_for 10 '! kill -0 "$w" 2>/dev/null'
check "bytes went over the wire ($(cat "$T"/wire/* | wc -c))" '[ "$(cat "$T"/wire/* | wc -c)" -gt 1000 ]'
check "no file name in them" '! grep -qa "$name" "$T"/wire/*'
check "no xattr value or link target in them" '! grep -qa "$value" "$T"/wire/*'

# the wire to an OSD: a third OSD joins behind a capturing forwarder (it
# advertises the forwarder's address), so the copies it takes cross it,
# from the client or forwarded by a primary
OSD_PROXY=7596
mkdir -p "$T/wire-osd"
python3 "$ROOT/tests/integration/tcp_proxy.py" $OSD_PROXY 127.0.0.3:7690 "$T/wire-osd" &
oproxy=$!
"$CFS_BIN/cfs-osd" --listen 127.0.0.3:7690 --advertise 127.0.0.1:$OSD_PROXY \
	--mds "$MDS" --token "$T/c/tokens/osd.token" --data "$T/osd3" \
	--node node3 >>"$T/osd3.log" 2>&1 &
osd3=$!
trap 'kill "$proxy" "$oproxy" "$osd3" 2>/dev/null; cleanup' EXIT
check_within 30 "a third OSD joined through its forwarder" '[ "$("$CFS" status "$MDS" | grep -c " up ")" = 3 ]'
for i in 1 2 3 4 5 6 7 8; do
	yes "ledger-entry-PQ83-$i" | head -c 300000 >"$MNT/ledger-$i"
done
sync "$MNT"/ledger-*
check "file bytes crossed the OSD's forwarder ($(cat "$T"/wire-osd/* | wc -c))" '[ "$(cat "$T"/wire-osd/* | wc -c)" -gt 300000 ]'
check "no file content in them" '! grep -qa "ledger-entry-PQ83" "$T"/wire-osd/*'
check "... and the files read back" '[ "$(head -n 1 "$MNT/ledger-8")" = ledger-entry-PQ83-8 ]'

# every captured connection, sent again as it was: to the MDS, and to
# the OSD behind the forwarder (its chunks must not change)
replay() {	# replay CAPTURE_DIR HOST PORT
	python3 - "$@" <<'EOF'
import glob, socket, sys
for f in sorted(glob.glob(sys.argv[1] + "/*.up")):
    s = socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=5)
    try:
        s.sendall(open(f, "rb").read())
        while s.recv(65536):
            pass
    except OSError:
        pass
    s.close()
EOF
}
refused_before=$(grep -c "refused a peer" "$T/c/logs/mds.log")
replay "$T/wire" 127.0.0.1 "${MDS#*:}"
check "replayed connections are refused and logged" '[ "$(grep -c "refused a peer" "$T/c/logs/mds.log")" -gt "$refused_before" ]'
check "... as not finishing the handshake" 'grep -q "the handshake did not finish" "$T/c/logs/mds.log"'
check "nothing they asked for was done (replay-me stays gone)" '[ ! -e "$MNT/replay-me" ]'
check "the MDS serves on" 'mkdir "$MNT/after" && [ -d "$MNT/after" ]'
check "... and the file made through the forwarder is there, once" '[ "$(ls "$MNT" | grep -c "^$name\$")" = 1 ]'
for i in 1 2 3 4 5 6 7 8; do
	echo "overwritten-$i" >"$MNT/ledger-$i"	# what a replayed write would undo
done
sync "$MNT"/ledger-*
replay "$T/wire-osd" 127.0.0.3 7690
check "replayed OSD connections are refused and logged" 'grep -q "refused a peer.*the handshake did not finish" "$T/osd3.log"'
second_mount "$T/fresh" || bad "a fresh mount did not come up"
check "... no replayed write landed: every file holds its last content, read afresh" 'for i in 1 2 3 4 5 6 7 8; do [ "$(cat "$T/fresh/ledger-$i")" = "overwritten-$i" ] || exit 1; done'
check "the OSD serves on" '[ "$("$CFS" status "$MDS" | grep -c " up ")" = 3 ]'

finish

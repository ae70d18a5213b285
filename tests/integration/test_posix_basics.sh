#!/usr/bin/env bash
# POSIX through the mount: special files, times (nanoseconds, UTIME_OMIT),
# chmod/chown, xattrs, rename flags, and permission checks made by the MDS
# for a user that is not root.
. "$(dirname "$0")/lib.sh"
cluster_up 2 7470

cd "$MNT" || exit 1
mkfifo fifo
check "mkfifo makes a fifo" '[ -p fifo ]'
mknod chr c 1 3
check "mknod makes a character device (root)" '[ "$(stat -c "%F %t,%T" chr)" = "character special file 1,3" ]'
python3 -c 'import socket; s=socket.socket(socket.AF_UNIX); s.bind("sock")' 2>/dev/null &&
	check "bind makes a socket" '[ -S sock ]'

touch f
touch -d '2001-02-03 04:05:06.123456789' f
check "mtime keeps nanoseconds" '[ "$(stat -c %y f)" = "2001-02-03 04:05:06.123456789 +0000" ]'
touch -a -d '2002-01-01 00:00:00' f
check "touch -a leaves mtime alone (UTIME_OMIT)" '[ "$(stat -c %y f)" = "2001-02-03 04:05:06.123456789 +0000" ]'
before=$(stat -c %Z f)
sleep 1.1
chmod 640 f
check "chmod sets the mode" '[ "$(stat -c %a f)" = 640 ]'
check "chmod moves ctime" '[ "$(stat -c %Z f)" -gt "$before" ]'
chown 1234:5678 f
check "chown sets owner and group" '[ "$(stat -c %u:%g f)" = 1234:5678 ]'

setfattr -n user.color -v blue f
check "xattr set and read back" '[ "$(getfattr --only-values -n user.color f)" = blue ]'
check "missing xattr is ENODATA" '[[ $(getfattr -n user.none f 2>&1) == *"No such attribute"* ]]'
setfattr -x user.color f
check "xattr removed" '! getfattr -n user.color f 2>/dev/null | grep -q color'

echo one >a; echo two >b
check "rename --noreplace refuses an existing target" 'mv --no-clobber -T a b 2>/dev/null; [ "$(cat b)" = two ]'
mv -T a b
check "rename replaces the target" '[ "$(cat b)" = one ]'

mkdir -m 0700 private
echo secret >private/s
mkdir -m 1777 shared
echo mine >shared/roots
check "non-root cannot enter a 0700 directory" '! runuser -u nobody -- cat "$MNT/private/s" 2>/dev/null'
check "non-root cannot create in a 0755 directory" '! runuser -u nobody -- touch "$MNT/nope" 2>/dev/null'
check "non-root creates in a sticky 1777 directory" 'runuser -u nobody -- touch "$MNT/shared/theirs"'
check "... owned by them" '[ "$(stat -c %U shared/theirs)" = nobody ]'
check "non-root cannot remove root's file in a sticky directory" \
	'! runuser -u nobody -- rm -f "$MNT/shared/roots" 2>/dev/null && [ -e "$MNT/shared/roots" ]'
check "non-root cannot chmod root's file" '! runuser -u nobody -- chmod 777 "$MNT/b" 2>/dev/null'

# the default mount (made by root) serves every user: in a world-writable
# directory another user creates, writes, lists and reads back
mkdir -m 1777 world
chmod 1777 world
as_nobody() { runuser -u nobody -- "$@"; }
check "another user creates and writes a file on the default mount" \
	'as_nobody sh -c "echo hello >\"$MNT/world/n1\" && cp /etc/services \"$MNT/world/n2\""'
check "... lists them" '[ "$(as_nobody ls "$MNT/world" | tr "\n" " ")" = "n1 n2 " ]'
check "... and reads them back" \
	'[ "$(as_nobody cat "$MNT/world/n1")" = hello ] && as_nobody cmp -s /etc/services "$MNT/world/n2"'
check "... owned by them" '[ "$(stat -c %U world/n1)" = nobody ]'
second_mount "$T/rootonly" -o no_allow_other || bad "the no_allow_other mount did not come up"
check "-o no_allow_other: root still reads the mount" '[ "$(cat "$T/rootonly/world/n1")" = hello ]'
check "-o no_allow_other: another user is refused" '! as_nobody ls "$T/rootonly" 2>/dev/null'

mkdir -p d1/d2
check "directory link counts" '[ "$(stat -c %h d1)" = 3 ]'
check "rmdir of a non-empty directory fails" '! rmdir d1 2>/dev/null'
check "statfs reports sizes" '[ "$(stat -f -c %b .)" -gt 0 ]'
# writes in pieces, seeking back and forth (as assemblers and linkers
# write objects), into a new file and into an old one whose bytes between
# the pieces must stay: the same bytes as on a local disk
scatter() {	# scatter FILE: the same writes on any file system
	python3 - "$1" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
for off, n in [(464, 12), (64, 130), (224, 96), (480, 72), (320, 144),
               (0, 64), (648, 768), (200000, 10), (150000, 7), (5000, 3)]:
    os.pwrite(fd, bytes((off + i) % 251 for i in range(n)), off)
os.close(fd)
PY
}
scatter "$T/new.local"
scatter new.cfs
check "scattered writes into a new file read back as on a local disk" 'cmp "$T/new.local" new.cfs'
head -c 300000 /dev/urandom >"$T/old.local"
cp "$T/old.local" old.cfs
scatter "$T/old.local"
scatter old.cfs
check "scattered writes into an old file keep the bytes between them" 'cmp "$T/old.local" old.cfs'
# many small writes in flight at once, batched per chunk into one OSD
# write each: random offsets over three chunks, some in the same block
randwrites() {	# randwrites FILE: the same seeded writes on any file system
	python3 - "$1" <<'PY'
import os, random, sys
r = random.Random(7)
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
for i in range(3000):
    off = r.randrange(150 << 20)
    if i % 3 == 0:
        off = (64 << 20) * r.randrange(1, 3) - r.randrange(6000)
    n = r.randrange(1, 9000)
    os.pwrite(fd, bytes([i % 251]) * n, off)
os.fsync(fd)
os.close(fd)
PY
}
randwrites "$T/rand.local"
randwrites rand.cfs
check "3,000 random writes over three chunks read back as on a local disk" 'cmp "$T/rand.local" rand.cfs'
cd /
finish

#!/usr/bin/env bash
# Partitions inside a site: three nodes and a client, each in a network
# namespace of its own on one bridge (CFS_NETNS), links cut with `ip link
# set down`. A leader cut off from its followers steps down and one of
# the majority serves the writer; a client on the cut-off side gets
# nothing acknowledged meanwhile (no split brain), and once the link is
# back its create completes through the new leader, the old leader
# following with the same store. A client cut off from every replica
# only waits, and goes on when its link returns. Every operation that
# returned is in the tree, none failed, and the replicas end identical.
. "$(dirname "$0")/lib.sh"

P=cfs$$x
netns_up "$P" 3 || { bad "cannot make network namespaces"; finish; exit; }
CFS_NETNS=$P cluster_up 3 7720
fsck_of() { "$CFS_BIN/cfs" fsck "$T/c/$1" 2>&1 | grep '^fsck:'; }
node_of() { if [ "$1" = mds ]; then echo 1; else echo "${1#mds}"; fi; }
steps_down() { grep -c "mds no longer leads" "$T/c/logs/$1.log"; }

check_within 20 "the replicas elect a leader that serves" '[ -n "$(leader)" ]'

# the writer: $MNT/w/fJ holding J, each noted in $T/ok (J, time) once
# its open, write and close returned, a failed one in $T/failed (errno)
mkdir -p "$MNT/w"
python3 -c '
import os, sys, time
d, t = sys.argv[1], sys.argv[2]
j = 0
while not os.path.exists(t + "/stop"):
    j += 1
    try:
        fd = os.open("%s/f%d" % (d, j), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, b"%d\n" % j)
        finally:
            os.close(fd)
    except OSError as e:
        open(t + "/failed", "a").write("f%d %s\n" % (j, e))
        continue
    with open(t + "/ok", "a") as f:
        f.write("%d %d\n" % (j, time.time_ns()))
' "$MNT/w" "$T" &
WRITER=$!
done_by() { cat "$T/ok" 2>/dev/null | wc -l; }
check_within 10 "the writer makes files" '[ "$(done_by)" -gt 5 ]'

# a second client on the leader's node: cut off with it
old=$(leader)
k=$(node_of "$old")
MOUNT_NETNS=$P$k second_mount "$T/m2"
check "a client on the leader's node ($old) mounts" 'mounted "$T/m2"'
downs=$(steps_down "$old") before=$(done_by)
link_down "$k"
( echo minority >"$T/m2/minority" && touch "$T/minority.ok" ) &
MINORITY=$!
check_within 15 "with the leader ($old) cut off, another leads and the writer goes on" \
	'l=$(leader) && [ -n "$l" ] && [ "$l" != "$old" ] &&
	 [ "$(done_by)" -gt "$((before + 5))" ]'
check_within 5 "the cut-off leader steps down" \
	'[ "$(steps_down "$old")" -gt "$downs" ]'
check "its side's create is not acknowledged (no split brain)" \
	'[ ! -e "$T/minority.ok" ] && [ ! -e "$MNT/minority" ]'
link_up "$k"
check_within 25 "the link back: that create completes through the new leader" \
	'[ -e "$T/minority.ok" ] && [ "$(cat "$MNT/minority")" = minority ]'
wait "$MINORITY"
# (the stores are compared once the writer stops, below)
check_within 20 "... and the old leader follows, caught up" \
	'follows "10.77.0.$k:7720"'

# the client cut off from every replica: it waits, then goes on
link_down c
before=$(done_by)	# (counted once cut: at most one op was past it)
check "with the client cut off, the writer waits (3 s)" \
	'! wait_for 3 "[ \"\$(done_by)\" -gt $((before + 1)) ]"'
link_up c
check_within 20 "... and goes on once its link is back" \
	'[ "$(done_by)" -gt "$((before + 5))" ]'

touch "$T/stop"
wait "$WRITER"
check "no operation failed ($(head -n 3 "$T/failed" 2>/dev/null))" \
	'[ ! -s "$T/failed" ]'
missing=$(while read -r j _; do
	got=$(od -An -c "$MNT/w/f$j" 2>&1 | tr -s ' ')
	[ "$got" = "$(echo "$j" | od -An -c | tr -s ' ')" ] || echo "f$j:$got"
done <"$T/ok" | head -n 5 | tr '\n' ' ')
check "all $(done_by) files whose write returned are there, whole ($missing)" \
	'[ -z "$missing" ] && [ "$(done_by)" -gt 20 ]'
check_within 20 "every replica's store is fsck-clean and the same" \
	'a=$(fsck_of mds) && [ "$a" = "$(fsck_of mds2)" ] &&
	 [ "$a" = "$(fsck_of mds3)" ] && grep -q " 0 problems" <<<"$a"'
finish

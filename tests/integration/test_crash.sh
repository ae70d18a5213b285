#!/usr/bin/env bash
# Crash safety with real SIGKILLs during a running workload: of the MDS,
# of the primary OSD of the file being written, of a replica OSD, and of
# cfs-fuse itself (remounted afterwards). Every file whose write returned
# from fsync is intact afterwards, and cfs fsck finds the namespace
# consistent. Prints how long each crash held the workload up.
. "$(dirname "$0")/lib.sh"
CFS_DOWN_AFTER_MS=2000 cluster_up 3 7530

# writer N: file after file (fsync'd, then renamed into place), each
# recorded with its checksum only once that succeeded; runs until stopped
writer() {
	local i=0 f dev
	mkdir -p "$MNT/w"
	dev=$(stat -c %d "$MNT/w")	# only files on the mount count
	while [ ! -e "$T/stop" ]; do
		i=$((i + 1))
		f=$T/src.$((i % 4))
		[ -e "$f" ] || head -c $((i % 4 * 300000 + 4097)) /dev/urandom >"$f"
		if dd if="$f" of="$MNT/w/tmp$i" bs=64k conv=fsync status=none 2>/dev/null &&
			mv "$MNT/w/tmp$i" "$MNT/w/f$i" 2>/dev/null &&
			[ "$(stat -c %d "$MNT/w/f$i" 2>/dev/null)" = "$dev" ]; then
			echo "f$i $(sha256sum <"$f" | cut -c1-64) $(date +%s.%N)" >>"$T/done"
		fi
	done
}

intact() {
	local name sum t bad=0
	while read -r name sum t; do
		[ "$(sha256sum <"$MNT/w/$name" 2>/dev/null | cut -c1-64)" = "$sum" ] ||
			{ echo "     $name lost or changed"; bad=$((bad + 1)); }
	done <"$T/done"
	[ "$bad" = 0 ]
}

fsck_clean() {
	"$CFS_BIN/cfs" fsck "$T/c/mds" >"$T/fsck" 2>&1 || { cat "$T/fsck"; return 1; }
}

# crash VICTIM LABEL: kill during the workload, restart, measure the stall
crash() {
	local victim=$1 label=$2 killed restarted resumed
	rm -f "$T/stop"
	writer &
	local w=$!
	sleep 1.5
	killed=$(date +%s.%N)
	cluster kill "$victim"
	if [ "$victim" = fuse ]; then
		touch "$T/stop"
		wait $w
		cluster start fuse
		rm -f "$T/stop"
		writer &
		w=$!
	else
		sleep 0.5
		cluster start "$victim"
	fi
	restarted=$(date +%s.%N)
	# wait for the workload to complete files again after the restart
	after_restart() {
		awk -v k="$restarted" '$3 > k { n++ } END { print n + 0 }' "$T/done"
	}
	for _ in $(seq 1 600); do
		[ "$(after_restart)" -gt 2 ] && break
		sleep 0.1
	done
	resumed=$(after_restart)
	touch "$T/stop"
	wait $w
	if [ "$resumed" -gt 2 ]; then
		echo "     $label: longest stall between fsync'd files" \
			"$(awk -v k="$killed" 'p && $3 > k - 5 { g = $3 - p; if (g > m) m = g } { p = $3 } END { printf "%.2f", m }' "$T/done") s"
		ok "$label: workload resumed"
	else
		bad "$label: workload never resumed"
	fi
	check "$label: every fsync'd file intact ($(wc -l <"$T/done") files)" 'intact'
	check "$label: cfs fsck finds the namespace consistent" 'fsck_clean'
}

: >"$T/done"
crash mds "SIGKILL of the MDS"

# the primary and a replica of the chunk the writer rewrites next
probe=$MNT/w/probe
head -c 100000 /dev/urandom >"$probe"
targets=$("$CFS_BIN/cfs" locate "$MDS" "$(stat -c %i "$probe")" 0)
primary=$(sed -n 's/.* \(node[0-9]*\)(primary).*/\1/p' <<<"$targets")
replica=$(tr ' ' '\n' <<<"${targets#*:}" | grep -v primary | grep node | head -n 1)
echo "     probe chunk: $targets"
crash_file() {	# like crash, but the writer keeps rewriting the probe file
	local victim=$1 label=$2 i=0 fails=0 last now gap longest=0
	head -c 777777 /dev/urandom >"$T/p"
	( sleep 0.5; cluster kill "$victim" ) &
	last=$(date +%s.%N)
	while [ $i -lt 40 ]; do
		i=$((i + 1))
		dd if="$T/p" of="$probe" bs=64k conv=fsync status=none 2>/dev/null ||
			fails=$((fails + 1))
		now=$(date +%s.%N)
		gap=$(echo "$now - $last" | bc)
		[ "$(echo "$gap > $longest" | bc)" = 1 ] && longest=$gap
		last=$now
	done
	wait
	echo "     $label: longest stall of the rewrite loop $longest s"
	check "$label: no rewrite failed ($fails)" '[ "$fails" = 0 ]'
	check "$label: rewritten file intact" 'cmp -s "$T/p" "$probe"'
	cluster start "$victim"
	check "$label: fsync'd files intact after it returns" 'intact'
}
crash_file "osd${primary#node}" "SIGKILL of the file's primary OSD ($primary)"
crash_file "osd${replica#node}" "SIGKILL of a replica OSD ($replica)"

crash fuse "SIGKILL of cfs-fuse (remounted)"
check "final fsck clean" 'fsck_clean'

finish

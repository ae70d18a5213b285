#!/usr/bin/env bash
# The POSIX conformance cases (tests/posix/posix_cases.c) run twice: on a
# local directory of the same machine and on a ClaudeFS mount. Each case
# passes when its two transcripts are identical; a difference fails it
# and prints both.
. "$(dirname "$0")/lib.sh"
cluster_up 2 7460

local_dir=$(mktemp -d /var/tmp/cfs-posix.XXXXXX)
chmod 755 "$local_dir"
trap 'rm -rf "$local_dir"; cleanup' EXIT
mkdir "$MNT/p" && chmod 755 "$MNT/p"
"$CFS_BIN/posix_cases" "$local_dir" >"$T/local" 2>&1
"$CFS_BIN/posix_cases" "$MNT/p" >"$T/mount" 2>&1

for c in $(cut -d: -f1 "$T/local" | uniq); do
	grep "^$c:" "$T/local" >"$T/l.$c"
	grep "^$c:" "$T/mount" >"$T/m.$c"
	if cmp -s "$T/l.$c" "$T/m.$c"; then
		ok "posix case '$c' ($(wc -l <"$T/l.$c") steps) as on a local disk"
	else
		bad "posix case '$c' differs from a local disk (< local, > ClaudeFS):"
		diff "$T/l.$c" "$T/m.$c" | sed 's/^/     /'
	fi
done
check "every step ran on the mount" '[ "$(wc -l <"$T/mount")" = "$(wc -l <"$T/local")" ]'

# O_TMPFILE: supported, or refused cleanly with EOPNOTSUPP
"$CFS_BIN/posix_cases" --tmpfile "$MNT/p" >"$T/tmpfile" 2>&1
check "O_TMPFILE supported or EOPNOTSUPP ($(cat "$T/tmpfile"))" 'grep -qx "supported\|EOPNOTSUPP" "$T/tmpfile"'

finish

#!/usr/bin/env bash
# The randomized model test: the same seeded random sequences of namespace
# and data operations from several processes (tests/posix/model.c), once on
# a local directory and once on the mount. Every operation's result and the
# final trees (content, modes, links, xattrs) must be the same. The seed is
# printed so that any failure replays: MODEL_SEED=N test_model.sh
. "$(dirname "$0")/lib.sh"
cluster_up 3 7550

MODEL_OPS=${MODEL_OPS:-400} model_run "$MNT/m"

for k in $(seq 0 $((MODEL_PROCS - 1))); do
	if cmp -s "$T/local.log.$k" "$MNT/m.log.$k"; then
		ok "process $k: all results as on a local disk"
	else
		bad "process $k: results differ (< local, > ClaudeFS):"
		diff "$T/local.log.$k" "$MNT/m.log.$k" | head -n 20 | sed 's/^/     /'
	fi
done
if cmp -s "$T/local.tree" "$T/mount.tree"; then
	ok "final trees identical ($(wc -l <"$T/local.tree") entries)"
else
	bad "final trees differ (< local, > ClaudeFS):"
	diff "$T/local.tree" "$T/mount.tree" | head -n 40 | sed 's/^/     /'
fi
check "cfs fsck finds the namespace consistent" '"$CFS_BIN/cfs" fsck "$T/c/mds"'

finish

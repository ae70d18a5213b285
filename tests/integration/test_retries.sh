#!/usr/bin/env bash
# Request retries are safe: with the MDS dropping every third reply to a
# create, rename, unlink (or any other non-idempotent call) after doing
# it, the client's retry under the same request id is answered from the
# reply cache, and every call succeeds exactly once.
. "$(dirname "$0")/lib.sh"
export CFS_FAULT_DROP_REPLY_EVERY=3
cluster_up 2 7520 -o mds_timeout=300
unset CFS_FAULT_DROP_REPLY_EVERY

errs=0
mkdir "$MNT/d" || errs=$((errs + 1))
for i in $(seq 1 20); do
	echo "$i" >"$MNT/d/f$i" || errs=$((errs + 1))
done
for i in $(seq 1 20); do
	mv "$MNT/d/f$i" "$MNT/d/g$i" || errs=$((errs + 1))
done
for i in $(seq 1 10); do
	rm "$MNT/d/g$i" || errs=$((errs + 1))
done
check "every create, rename and unlink succeeded ($errs errors)" '[ "$errs" = 0 ]'
check "renamed files hold their data" '[ "$(cat "$MNT/d/g15")" = 15 ]'
check "nothing left under the old names" '[ -z "$(ls "$MNT/d" | grep "^f")" ]'
check "exactly the files not removed remain" '[ "$(ls "$MNT/d" | sort -V | tr "\n" " ")" = "g11 g12 g13 g14 g15 g16 g17 g18 g19 g20 " ]'
drops=$(grep -c 'reply dropped' "$T/c/logs/mds.log")
check "replies were really dropped ($drops)" '[ "$drops" -ge 20 ]'

finish

#!/usr/bin/env bash
# stuck_workers.sh - work that never finishes does not hang the host: a
# driver whose work item re-queues itself forever (tests/redteam/
# workitem_requeue) still lets `ntsim` finish its scenario and shut down;
# the never-ending work is reported once as a stuck wait, and a traced run
# ends with a complete trace (its END record).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
O=${O:-build}
case_dir=tests/redteam/workitem_requeue
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
timeout 60 "$O/bin/obtrace" record -o "$tmp/t.obt" -- "$O/bin/ntsim" --stuck-ms 200 \
    -L "$O/$case_dir" -L "$O/tests/redteam" "$case_dir/scenario.ntsim" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 0 ] || { echo "FAIL: ntsim exited $rc (124 = hung)"; cat "$tmp/out" "$tmp/err"; exit 1; }
grep -q '^\*\*\* STUCK WAIT: .*work items that never finish' "$tmp/err" ||
    { echo "FAIL: no stuck-wait report for the never-ending work item"; cat "$tmp/err"; exit 1; }
"$O/bin/obtrace" dump "$tmp/t.obt" | grep -q ' END ' || { echo "FAIL: the trace has no END record"; exit 1; }
echo "PASS: never-ending work reported, run and trace complete"

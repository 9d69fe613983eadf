#!/usr/bin/env bash
# Every scenario and red-team host program holds its expectations when all
# asynchronous work is slow: NTSIM_ASYNC_DELAY_MS makes libntsim sleep where
# a work item starts, where the I/O manager releases a work item's device
# after its routine returned, and where a PnP request nobody waits for
# runs. A scenario that reads state owed to such work without `wait-idle`
# passes by luck on a fast machine and fails now and then on a loaded one;
# here it fails every time, with the line that lacks `wait-idle`.
# Samples, conformance scenarios and red-team cases (scenarios and hosts).
# First, that the check can fail: clean_hybrid_link without its wait-idle
# fails with the hint naming it, and a bad delay value is reported.
cd "$(dirname "$0")/../.." || exit 1
O=${O:-build}
NTSIM=$O/bin/ntsim
[ -x "$NTSIM" ] || { echo "SKIP: $NTSIM is not built"; exit 77; }
export NTSIM_ASYNC_DELAY_MS=${NTSIM_ASYNC_DELAY_MS:-20}

failed=() count=0
out=$(mktemp)

# settles NAME COMMAND...: runs one scenario or host; it must exit 0.
settles() {
    local name=$1; shift
    count=$((count + 1))
    if "$@" >"$out" 2>&1; then
        echo "ok: $name"
    else
        echo "FAIL: $name: exit $? with every asynchronous step delayed ${NTSIM_ASYNC_DELAY_MS} ms"
        grep -E 'expectation failed|error' "$out" | head -n 5 | sed 's/^/    /'
        failed+=("$name")
    fi
}

# The delay works and a missing `wait-idle` is named: the red-team case
# clean_hybrid_link without its wait-idle must fail, saying so.
nowait=$(mktemp --suffix=.ntsim)
trap 'rm -f "$out" "$nowait"' EXIT
grep -v '^wait-idle$' tests/redteam/clean_hybrid_link/scenario.ntsim >"$nowait"
count=$((count + 1))
"$NTSIM" -L "$O/tests/redteam/clean_hybrid_link" -L "$O/tests/redteam" "$nowait" >"$out" 2>&1
rc=$?
if [ $rc -eq 1 ] && grep -q 'expectation failed: expect image rthub unmapped.*`wait-idle` before this line waits for it' "$out"; then
    echo "ok: a scenario without its wait-idle fails and is told so"
else
    echo "FAIL: clean_hybrid_link without wait-idle: exit $rc (expected 1 and the wait-idle hint)"
    sed 's/^/    /' "$out" | tail -n 5
    failed+=("no-wait-idle")
fi
# A bad value is named in one line and ignored.
if NTSIM_ASYNC_DELAY_MS=soon "$NTSIM" -L "$O/samples/legacy_clean" -L "$O/samples" samples/legacy_clean/scenario.ntsim \
        >"$out" 2>&1 && grep -q "NTSIM_ASYNC_DELAY_MS='soon' is not a number of milliseconds" "$out"; then
    echo "ok: a bad NTSIM_ASYNC_DELAY_MS is named and ignored"
else
    echo "FAIL: NTSIM_ASYNC_DELAY_MS=soon was not reported, or the scenario failed"
    failed+=("bad-delay")
fi
count=$((count + 1))

for scenario in samples/*/scenario.ntsim tests/conformance/*/scenario.ntsim tests/redteam/*/scenario.ntsim; do
    [ -f "$scenario" ] || continue
    dir=$(dirname "$scenario")
    settles "$dir" "$NTSIM" -L "$O/$dir" -L "$O/$(dirname "$dir")" "$scenario"
done
for host in tests/redteam/*/host.c; do
    [ -f "$host" ] || continue
    dir=$(dirname "$host")
    settles "$dir" "$O/$dir/host" "$O/tests/redteam"
done

if [ $count -eq 0 ]; then echo "FAIL: no scenario found"; exit 1; fi
echo "${#failed[@]} of $count scenarios and hosts failed with asynchronous work delayed"
[ ${#failed[@]} -eq 0 ]

#!/usr/bin/env bash
# Every scenario and red-team host program holds its expectations when all
# asynchronous work is slow: NTSIM_ASYNC_DELAY_MS makes libntsim sleep where
# a work item starts, where the I/O manager releases a work item's device
# after its routine returned, and where a PnP request nobody waits for
# runs. A scenario that reads state owed to such work without `wait-idle`
# passes by luck on a fast machine and fails now and then on a loaded one;
# here it fails every time, with the line that lacks `wait-idle`.
# Samples, conformance scenarios and red-team cases (scenarios and hosts).
cd "$(dirname "$0")/../.." || exit 1
O=${O:-build}
NTSIM=$O/bin/ntsim
[ -x "$NTSIM" ] || { echo "SKIP: $NTSIM is not built"; exit 77; }
export NTSIM_ASYNC_DELAY_MS=${NTSIM_ASYNC_DELAY_MS:-20}

failed=() count=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

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

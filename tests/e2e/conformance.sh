#!/usr/bin/env bash
# Runs every conformance scenario, tests/conformance/NAME/scenario.ntsim: drivers
# written straight from the WDK documentation, with `expect` lines stating what
# Windows does (nt-semantics.md). Each runs with the real `ntsim` of the build in
# $O (default build), searching $O/tests/conformance/NAME and then
# $O/tests/conformance (so a scenario can name a sibling's image as
# forward/fwd_lower.so). A scenario passes when ntsim exits 0 (every expectation
# held) and, if tests/conformance/NAME/expected.out exists, the transcript -
# including the bytes each IOCTL returned - matches it exactly. Every scenario
# runs; the script fails if any of them failed.
cd "$(dirname "$0")/../.." || exit 1
O=${O:-build}
NTSIM=$O/bin/ntsim

[ -x "$NTSIM" ] || { echo "FAIL: $NTSIM is not built (run make O=$O)" >&2; exit 1; }

failed=()
count=0
for scenario in tests/conformance/*/scenario.ntsim; do
    [ -f "$scenario" ] || continue
    dir=$(dirname "$scenario")
    name=$(basename "$dir")
    count=$((count + 1))
    echo "== conformance/$name"
    out=$(mktemp) err=$(mktemp)
    "$NTSIM" -L "$O/tests/conformance/$name" -L "$O/tests/conformance" "$scenario" >"$out" 2>"$err"
    rc=$?
    cat "$out"
    cat "$err" >&2
    if [ $rc -ne 0 ]; then
        echo "FAIL: conformance/$name: ntsim exited $rc (0 = every expectation held)" >&2
        failed+=("$name")
    elif [ -f "$dir/expected.out" ] && ! diff -u "$dir/expected.out" "$out" >&2; then
        echo "FAIL: conformance/$name: transcript differs from $dir/expected.out" >&2
        failed+=("$name")
    else
        echo "PASS: conformance/$name"
    fi
    rm -f "$out" "$err"
done

[ $count -gt 0 ] || { echo "FAIL: no tests/conformance/*/scenario.ntsim found" >&2; exit 1; }
if [ ${#failed[@]} -gt 0 ]; then
    echo "FAIL: ${#failed[@]} of $count conformance scenarios failed: ${failed[*]}" >&2
    exit 1
fi
echo "PASS: all $count conformance scenarios"

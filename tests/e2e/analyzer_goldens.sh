#!/usr/bin/env bash
# Golden verdicts of the real samples: records each samples/<name>/scenario.ntsim
# with `obtrace record -- $O/bin/ntsim ...`, then compares `obtrace report`
# (text and JSON) and its exit code byte for byte with samples/<name>/verdict.txt,
# verdict.json and exit. OBTRACE_REGEN_GOLDENS=1 writes those files instead.
# Every sample's trace must also dump cleanly (`obtrace dump` exits 0) and hold
# its END record, or the bug check that stopped the simulation.
# Skips (77) while ntsim, the tracer or the analyzer is not built, or when no
# sample has a golden yet.
cd "$(dirname "$0")/../.." || exit 1
O=${O:-build}
OBTRACE=$O/bin/obtrace NTSIM=$O/bin/ntsim
regen=${OBTRACE_REGEN_GOLDENS:-0}

for f in "$OBTRACE" "$NTSIM" "$O/lib/libobtrace.so" "$O/lib/libntsim.so"; do
    [ -e "$f" ] || { echo "SKIP: $f is not built"; exit 77; }
done
if [ "$regen" != 1 ] && ! ls samples/*/verdict.txt >/dev/null 2>&1; then
    echo "SKIP: no sample has a golden verdict yet (OBTRACE_REGEN_GOLDENS=1 writes them)"
    exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0 checked=0
for scn in samples/*/scenario.ntsim; do
    name=$(basename "$(dirname "$scn")")
    dir=samples/$name
    [ "$regen" = 1 ] || [ -f "$dir/verdict.txt" ] || continue
    trace=$tmp/$name.obt
    "$OBTRACE" record -o "$trace" -- "$NTSIM" -L "$O/samples/$name" -L "$O/samples" "$scn" \
        >"$tmp/$name.record.log" 2>&1
    if [ ! -f "$trace" ]; then
        echo "FAIL: $name: no trace recorded"; cat "$tmp/$name.record.log"; failed=$((failed + 1)); continue
    fi
    if ! "$OBTRACE" dump "$trace" >"$tmp/dump.txt" 2>&1 || ! grep -Eq ' (END |EVENT op=BUGCHECK )' "$tmp/dump.txt"; then
        echo "FAIL: $name: obtrace dump failed, or the trace has neither its END record nor a bug check"
        tail -n 3 "$tmp/dump.txt"
        failed=$((failed + 1))
    fi
    "$OBTRACE" report "$trace" >"$tmp/verdict.txt" 2>/dev/null
    echo $? >"$tmp/exit"
    "$OBTRACE" report --format json "$trace" >"$tmp/verdict.json" 2>/dev/null
    if [ "$regen" = 1 ]; then
        cp "$tmp/verdict.txt" "$tmp/verdict.json" "$tmp/exit" "$dir/"
        echo "wrote $dir/verdict.txt, verdict.json, exit ($(cat "$tmp/exit"))"
        continue
    fi
    checked=$((checked + 1))
    for g in verdict.txt verdict.json exit; do
        [ -f "$dir/$g" ] || continue
        if ! diff -u "$dir/$g" "$tmp/$g"; then
            echo "FAIL: $name: $g differs from $dir/$g"
            failed=$((failed + 1))
        fi
    done
done
[ "$regen" = 1 ] && exit 0
echo "$checked samples checked, $failed differences"
[ $failed -eq 0 ]

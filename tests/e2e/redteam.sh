#!/usr/bin/env bash
# Red-team cases: drivers written blind against the analyzer, each with a
# planted fault (tests/redteam/<case>/: driver sources, scenario.ntsim or a
# C host program host.c, and an `expect` file). Records every case with
# `obtrace record -- $O/bin/ntsim` (every scenario expectation must hold) or
# `obtrace record -- $O/<case>/host` (exit 0: the host's own checks held),
# then checks `obtrace report`:
#   IMAGE FINDING-ID [WHERE]...       a finding with that id for that image
#                                     (its own verdict, or an after-verdict
#                                     finding naming it), whose lines show
#                                     every WHERE given (FILE:LINE or a function name);
#   IMAGE !text WORDS...              the image's findings never say WORDS;
#   clean                             exit 0 and "no findings".
# A case with findings must exit 1; the JSON report must carry the same ids
# and exit code. A case with a `known-gap` file (what the analyzer does not
# explain yet) is not run, and listed as a known gap.
# Directories without scenario.ntsim or host.c (common/) only
# hold shared drivers. Skips (77) while ntsim, the tracer or the analyzer is not built.
cd "$(dirname "$0")/../.." || exit 1
O=${O:-build}
OBTRACE=$O/bin/obtrace NTSIM=$O/bin/ntsim
for f in "$OBTRACE" "$NTSIM" "$O/lib/libobtrace.so" "$O/lib/libntsim.so"; do
    [ -e "$f" ] || { echo "SKIP: $f is not built"; exit 77; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=() cases=0 checks=0 gaps=0

# Splits a text verdict into finding blocks, one a line:
# IMAGE \t ID \t TEXT (the block's lines joined by " | "). IMAGE is empty for
# findings printed after the verdicts (they name their image in the text).
split_blocks() {
    awk '
        function flush() { if (id != "") print img "\t" id "\t" text; id = ""; text = "" }
        /^image /   { flush(); img = $2; next }
        /^\[/       { flush(); img = ""; id = $1; gsub(/[][]/, "", id); text = $0; next }
        /^  \[/     { flush(); id = $1; gsub(/[][]/, "", id); text = $0; next }
        /^no findings/ { flush(); next }
                    { if (id != "") text = text " | " $0 }
        END         { flush() }
    ' "$1"
}

# check_line CASE BLOCKS-FILE LINE...: one expectation; prints FAIL lines, returns 1 on failure.
check_line() {
    local name=$1 blocks=$2 img=$3 id=$4; shift 4
    if [ "$id" = "!text" ]; then
        if awk -F'\t' -v img="$img" '$1 == img || ($1 == "" && index($3, img))' "$blocks" | grep -qF -- "$*"; then
            echo "FAIL: $name: a finding of $img says '$*'"; return 1
        fi
        return 0
    fi
    local matching
    matching=$(awk -F'\t' -v img="$img" -v id="$id" '$2 == id && ($1 == img || ($1 == "" && index($3, img)))' "$blocks")
    if [ -z "$matching" ]; then
        echo "FAIL: $name: no [$id] finding for $img"; return 1
    fi
    local want
    for want in "$@"; do
        if ! grep -qE "(^|[^0-9A-Za-z_])${want//./\\.}([^0-9]|$)" <<<"$matching"; then
            echo "FAIL: $name: the [$id] finding for $img does not show $want"; return 1
        fi
    done
    return 0
}

for dir in tests/redteam/*/; do
    dir=${dir%/} name=$(basename "$dir")
    # A case runs its C host program when it has one (host.c, built as
    # $O/<dir>/host; its argument is the red-team image root; exit 0 = the
    # host's own checks held), else its scenario.
    if [ -e "$dir/host.c" ]; then
        run=("$O/$dir/host" "$O/tests/redteam")
    elif [ -e "$dir/scenario.ntsim" ]; then
        run=("$NTSIM" -L "$O/$dir" -L "$O/tests/redteam" "$dir/scenario.ntsim")
    else
        continue
    fi
    if [ -e "$dir/known-gap" ]; then
        echo "GAP: $name: $(head -n 1 "$dir/known-gap")"; gaps=$((gaps + 1)); continue
    fi
    cases=$((cases + 1))
    trace=$tmp/$name.obt
    if ! "$OBTRACE" record -o "$trace" -- "${run[@]}" >"$tmp/$name.ntsim.log" 2>&1; then
        echo "FAIL: $name: the case did not run as Windows would"; tail -n 5 "$tmp/$name.ntsim.log"
        failed+=("$name"); continue
    fi
    "$OBTRACE" report "$trace" >"$tmp/$name.txt" 2>&1
    rc=$?
    "$OBTRACE" report --format json "$trace" >"$tmp/$name.json" 2>/dev/null
    jrc=$?
    split_blocks "$tmp/$name.txt" >"$tmp/$name.blocks"
    bad=0
    if grep -qx clean "$dir/expect"; then
        checks=$((checks + 1))
        if [ $rc -ne 0 ] || ! grep -q '^no findings' "$tmp/$name.txt"; then
            echo "FAIL: $name: a clean case got a verdict (exit $rc)"; bad=1
        fi
    else
        checks=$((checks + 1))
        [ $rc -eq 1 ] || { echo "FAIL: $name: exit $rc, expected 1 (findings)"; bad=1; }
        while read -r -a words; do
            [ ${#words[@]} -ge 2 ] || continue
            checks=$((checks + 1))
            check_line "$name" "$tmp/$name.blocks" "${words[@]}" || bad=1
            if [ "${words[1]}" != "!text" ] && ! grep -q "\"id\": \"${words[1]}\"" "$tmp/$name.json"; then
                echo "FAIL: $name: the JSON report has no ${words[1]} finding"; bad=1
            fi
        done <"$dir/expect"
    fi
    [ $jrc -eq $rc ] || { echo "FAIL: $name: JSON exit $jrc, text exit $rc"; bad=1; }
    if [ $bad -ne 0 ]; then
        failed+=("$name"); sed 's/^/    /' "$tmp/$name.txt"
    else
        echo "ok: $name"
    fi
done

# the failing cases again, last, where a CI log's tail shows them
[ ${#failed[@]} -eq 0 ] || echo "wrong: ${failed[*]}"
echo "$((cases - ${#failed[@]}))/$cases red-team cases right ($checks checks, $gaps known gaps)"
[ $cases -gt 0 ] || { echo "SKIP: no red-team case"; exit 77; }
[ ${#failed[@]} -eq 0 ]

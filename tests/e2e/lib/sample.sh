# sample.sh - helpers for the end-to-end sample tests (sourced, not run).
#
# run_sample NAME runs samples/NAME/scenario.ntsim with the real `ntsim`
# of the build in $O (default build), searching the sample's own built
# images first and then the built samples directory (for images shared
# between a sample and its clean twin). It passes when ntsim exits 0
# (every expectation held) and, if samples/NAME/expected.out exists, the
# transcript matches it exactly.

O=${O:-build}
NTSIM=$O/bin/ntsim

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

require_ntsim() {
    [ -x "$NTSIM" ] || fail "$NTSIM is not built (run make O=$O)"
}

run_sample() {
    local name=$1 out err rc
    require_ntsim
    out=$(mktemp) err=$(mktemp)
    "$NTSIM" -L "$O/samples/$name" -L "$O/samples" "samples/$name/scenario.ntsim" >"$out" 2>"$err"
    rc=$?
    cat "$out"
    cat "$err" >&2
    if [ $rc -ne 0 ]; then
        rm -f "$out" "$err"
        fail "ntsim exited $rc on samples/$name/scenario.ntsim (0 = every expectation held)"
    fi
    if [ -f "samples/$name/expected.out" ] && ! diff -u "samples/$name/expected.out" "$out" >&2; then
        rm -f "$out" "$err"
        fail "transcript of samples/$name differs from samples/$name/expected.out"
    fi
    rm -f "$out" "$err"
    echo "PASS: sample $name"
}

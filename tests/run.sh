#!/usr/bin/env bash
# Runs every test and prints one summary line: "N passed, N failed[, N skipped]".
#
# Unit tests are Check programs (tests/unit/*.c built into $O/tests/unit/):
# each test case counts once, read from the TAP log Check writes. End-to-end
# tests are shell scripts (tests/e2e/*.sh): exit 0 passes, 77 skips, anything
# else fails. Failing output is kept in $O/test-logs/.
set -uo pipefail
cd "$(dirname "$0")/.."
O=${O:-build}
export O
logs=$O/test-logs
rm -rf "$logs"; mkdir -p "$logs"
pass=0 fail=0 skip=0
failed=()

# Under ASan a preloaded library needs the ASan runtime first in LD_PRELOAD.
if [ -n "${SANITIZE:-}" ]; then
    OBTRACE_TEST_PRELOAD_PREFIX=$(${CC:-cc} -print-file-name=libasan.so)
    export OBTRACE_TEST_PRELOAD_PREFIX
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=0}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fi

for t in "$O"/tests/unit/*; do
    [ -x "$t" ] && [ -f "$t" ] || continue
    case "$t" in *.o|*.d) continue;; esac
    name=$(basename "$t")
    tap=$logs/$name.tap
    CK_TAP_LOG_FILE_NAME=$tap CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-60} \
        "$t" >"$logs/$name.log" 2>&1
    rc=$?
    ok=$(grep -c '^ok ' "$tap" 2>/dev/null); ok=${ok:-0}
    bad=$(grep -c '^not ok ' "$tap" 2>/dev/null); bad=${bad:-0}
    if [ "$ok" -eq 0 ] && [ "$bad" -eq 0 ]; then bad=1; fi   # crashed before any result
    if [ $rc -ne 0 ] && [ "$bad" -eq 0 ]; then bad=1; fi
    pass=$((pass + ok)); fail=$((fail + bad))
    if [ "$bad" -gt 0 ]; then
        failed+=("$name")
        grep '^not ok ' "$tap" 2>/dev/null | sed "s/^/  $name: /"
    fi
done

for t in tests/e2e/*.sh; do
    [ -f "$t" ] || continue
    name=$(basename "$t" .sh)
    bash "$t" >"$logs/e2e-$name.log" 2>&1
    rc=$?
    if [ $rc -eq 0 ]; then pass=$((pass + 1))
    elif [ $rc -eq 77 ]; then skip=$((skip + 1))
    else
        fail=$((fail + 1)); failed+=("e2e/$name")
        echo "  e2e/$name: FAILED (exit $rc); its first FAIL lines and last lines ($logs/e2e-$name.log):"
        grep -m 5 '^FAIL' "$logs/e2e-$name.log" | sed 's/^/    /'
        echo "    ..."
        tail -n 15 "$logs/e2e-$name.log" | sed 's/^/    /'
    fi
done

[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
if [ $skip -gt 0 ]; then
    echo "$pass passed, $fail failed, $skip skipped"
else
    echo "$pass passed, $fail failed"
fi
[ $fail -eq 0 ]

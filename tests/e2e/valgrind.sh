#!/usr/bin/env bash
# valgrind.sh - the simulation, the tracer and the analyzer under valgrind's
# memcheck: a legacy and two PnP samples run by `ntsim` (traced, so the
# preloaded tracer runs under memcheck too), then `obtrace report` and
# `obtrace history` on the traces. Any memcheck error fails the test; leaks
# are checked for the analyzer (definite leaks fail), not for the simulation,
# whose leaked handles and objects are what the samples are about.
# Skipped (77) without valgrind or in a sanitizer build (they do not mix).
set -uo pipefail
cd "$(dirname "$0")/../.."
O=${O:-build}
[ -z "${SANITIZE:-}" ] || { echo "SKIP: sanitizer build"; exit 77; }
command -v valgrind >/dev/null || { echo "SKIP: valgrind is not installed"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
vg=(valgrind -q --error-exitcode=99 --suppressions=tests/valgrind.supp)
status=0

for name in legacy_clean handle_leak pnp_filter_disable bus_children; do
    trace=$tmp/$name.obt
    # obtrace record itself runs natively; memcheck runs the traced ntsim
    # with libobtrace preloaded.
    LD_PRELOAD="$PWD/$O/lib/libobtrace.so" OBTRACE_OUTPUT="$trace" \
        "${vg[@]}" --leak-check=no "$O/bin/ntsim" -L "$O/samples/$name" -L "$O/samples" \
        "samples/$name/scenario.ntsim" >"$tmp/$name.out" 2>"$tmp/$name.err"
    rc=$?
    if [ $rc -ne 0 ]; then
        echo "FAIL: ntsim on samples/$name under memcheck exited $rc"; cat "$tmp/$name.err"; status=1; continue
    fi
    "${vg[@]}" --leak-check=full --errors-for-leak-kinds=definite "$O/bin/obtrace" report "$trace" \
        >"$tmp/$name.report" 2>"$tmp/$name.rerr"
    rc=$?
    if [ $rc -ne 0 ] && [ $rc -ne 1 ]; then
        echo "FAIL: obtrace report on samples/$name under memcheck exited $rc"; cat "$tmp/$name.rerr"; status=1; continue
    fi
    echo "PASS: $name (ntsim traced, report exit $rc)"
done

"${vg[@]}" --leak-check=full --errors-for-leak-kinds=definite "$O/bin/obtrace" history "$tmp/handle_leak.obt" \
    '\Device\HandleLeak' >"$tmp/history.out" 2>"$tmp/history.err"
rc=$?
if [ $rc -ne 0 ]; then
    echo "FAIL: obtrace history under memcheck exited $rc"; cat "$tmp/history.err"; status=1
else
    echo "PASS: history"
fi
exit $status

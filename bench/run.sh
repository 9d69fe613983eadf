#!/usr/bin/env bash
# Runs every benchmark suite: each executable bench/<part>_*.sh (tracer_*,
# analyzer_*, ...) in name order, with O set to the build directory. A
# suite prints its own table of measured values and ratios next to their
# targets; nothing here asserts a timing. Add a suite by adding a script.
set -uo pipefail
cd "$(dirname "$0")/.."
export O=${O:-build}
status=0
for suite in bench/*_*.sh; do
    [ -f "$suite" ] || continue
    echo "== $(basename "$suite" .sh)"
    bash "$suite" || { echo "  (suite failed: exit $?)"; status=1; }
    echo
done
exit $status

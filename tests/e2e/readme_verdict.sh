#!/usr/bin/env bash
# readme_verdict.sh - the verdict README.md shows for `make demo` is the one
# obtrace gives: the indented block that starts with "image device_ref_leak.so"
# must equal samples/device_ref_leak/verdict.txt (the golden the e2e suite
# checks against the real tracer), so the README cannot drift.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
shown=$(awk '/^    image device_ref_leak\.so /{on=1} on && !/^    /{exit} on{sub(/^    /, ""); print}' README.md)
[ -n "$shown" ] || { echo "FAIL: README.md shows no device_ref_leak verdict"; exit 1; }
if ! diff -u samples/device_ref_leak/verdict.txt <(printf '%s\n' "$shown"); then
    echo "FAIL: README.md's verdict differs from samples/device_ref_leak/verdict.txt"
    exit 1
fi
echo "PASS: README verdict matches the golden"

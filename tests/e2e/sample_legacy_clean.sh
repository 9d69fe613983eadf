#!/usr/bin/env bash
# Runs samples/legacy_clean/scenario.ntsim with ntsim: every expectation must hold and
# the transcript must match samples/legacy_clean/expected.out.
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/lib/sample.sh
run_sample legacy_clean

#!/usr/bin/env bash
# Runs samples/device_ref_leak/scenario.ntsim with ntsim: every expectation must hold and
# the transcript must match samples/device_ref_leak/expected.out.
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/lib/sample.sh
run_sample device_ref_leak

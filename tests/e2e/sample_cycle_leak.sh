#!/usr/bin/env bash
# Runs samples/cycle_leak/scenario.ntsim with ntsim: every expectation must hold.
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/lib/sample.sh
run_sample cycle_leak

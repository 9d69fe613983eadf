#!/usr/bin/env bash
# Runs samples/workitem_unload_fixed/scenario.ntsim with ntsim: every expectation must hold.
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/lib/sample.sh
run_sample workitem_unload_fixed

#!/usr/bin/env bash
# Runs samples/bus_remlock_deadlock/scenario.ntsim with ntsim: every expectation must hold.
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/lib/sample.sh
run_sample bus_remlock_deadlock

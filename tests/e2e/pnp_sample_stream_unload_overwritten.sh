#!/usr/bin/env bash
# Runs samples/stream_unload_overwritten/scenario.ntsim with ntsim: every expectation must hold.
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/lib/sample.sh
run_sample stream_unload_overwritten

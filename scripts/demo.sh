#!/usr/bin/env bash
# make demo: runs the device_ref_leak sample scenario with the simulated
# kernel and prints what happened - each action, and the final state of
# the driver image (DriverUnload called, yet the image still mapped).
# The tracer and analyzer will turn this into a recorded trace and a
# verdict; until then the scenario's own transcript is the demo.
set -uo pipefail
cd "$(dirname "$0")/.."
O=${O:-build}
sample=device_ref_leak

echo "== samples/$sample: $(cat "samples/$sample/README")"
echo
"$O/bin/ntsim" -L "$O/samples/$sample" -L "$O/samples" "samples/$sample/scenario.ntsim"

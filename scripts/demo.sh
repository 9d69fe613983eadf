#!/usr/bin/env bash
# make demo: what a newcomer sees first. Records the device_ref_leak sample
# (an IOCTL that leaks a tagged reference on the driver's own device) with
# the real tracer, shows the scenario's transcript briefly, then the verdict
# obtrace gives for it: which line of the driver to change. O is the build
# directory (default build).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
O=${O:-build}
sample=device_ref_leak
trace=$(mktemp --suffix=.obt)
log=$(mktemp)
trap 'rm -f "$trace" "$log"' EXIT

echo "== samples/$sample"
fold -s -w 100 "samples/$sample/README" | sed 's/^/   /'
echo
echo "== the scenario, run by the simulated kernel under the tracer"
echo "   $O/bin/obtrace record -o $sample.obt -- $O/bin/ntsim samples/$sample/scenario.ntsim"
"$O/bin/obtrace" record -o "$trace" -- "$O/bin/ntsim" -L "$O/samples/$sample" -L "$O/samples" \
    "samples/$sample/scenario.ntsim" >"$log" 2>&1
rc=$?
# the actions and what they returned; the expectation lines only as a count
grep -v '^expect ' "$log" | grep -v '^obtrace: trace written' | grep -v '^final state:' | grep -v '^  ' | sed 's/^/   /'
[ $rc -eq 0 ] || echo "   (ntsim exited $rc)"
echo
echo "== the verdict: obtrace report $sample.obt"
"$O/bin/obtrace" report "$trace"
echo "   (exit $?: 0 nothing to report, 1 findings, 2 incomplete trace)"

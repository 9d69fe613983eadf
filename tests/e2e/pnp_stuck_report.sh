#!/usr/bin/env bash
# The remove-lock deadlock of samples/bus_remlock_deadlock must be REPORTED
# (who waits, which acquisition is still held and where it was taken), not
# hang: ntsim finishes and stderr names the wait and the acquisition site.
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/lib/sample.sh
require_ntsim
err=$(mktemp)
trap 'rm -f "$err"' EXIT
timeout 60 "$NTSIM" -L "$O/samples/bus_remlock_deadlock" -L "$O/samples" samples/bus_remlock_deadlock/scenario.ntsim \
    >/dev/null 2>"$err" || fail "ntsim failed on bus_remlock_deadlock"
grep -q 'STUCK WAIT.*IoReleaseRemoveLockAndWait' "$err" || fail "no stuck remove-lock wait reported"
grep -q 'acquired at samples/bus_remlock_deadlock/childfn_deadlock.c:' "$err" || fail "the held acquisition's site is not named"
grep -q 'driver \\Driver\\childfn' "$err" || fail "the waiting driver is not named"
echo "PASS: stuck remove-lock wait reported"

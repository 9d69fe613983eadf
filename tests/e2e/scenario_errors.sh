#!/usr/bin/env bash
# Bad scenarios and bad command lines: ntsim must print exactly one clear
# line (`file:line: message` for a scenario) and exit 2 (scenario error) or
# 64 (usage), never crash. Parse errors are found before the simulation
# starts, so none of these runs a driver.
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/lib/sample.sh
require_ntsim

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

# expect_error WANT_RC WANT_STDERR_LINE --|--ran ntsim arguments...
# (`--ran`: the scenario started, so a transcript on stdout is expected.)
expect_error() {
    local want_rc=$1 want=$2 ran=$3 rc err
    shift 3
    "$NTSIM" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    err=$(cat "$tmp/err")
    if [ $rc -ne "$want_rc" ] || [ "$err" != "$want" ] || { [ "$ran" != --ran ] && [ -s "$tmp/out" ]; }; then
        echo "FAIL: ntsim $*" >&2
        echo "  want exit $want_rc, stderr: $want" >&2
        echo "  got  exit $rc, stderr: $err" >&2
        [ -s "$tmp/out" ] && echo "  and stdout: $(head -c 300 "$tmp/out")" >&2
        failures=$((failures + 1))
    else
        echo "ok: $want"
    fi
}

# scenario NAME LINE... writes $tmp/NAME.ntsim
scenario() {
    local name=$1
    shift
    printf '%s\n' "$@" >"$tmp/$name.ntsim"
}

touch "$tmp/drv.so"

scenario unknown_verb "# a comment" "install svc drv.so" "instal svc drv.so"
expect_error 2 "$tmp/unknown_verb.ntsim:3: unknown verb 'instal' (verbs: install start stop open close ioctl sleep wait-idle hardware plug unplug disable enable eject power notify-handle expect)" \
    -- "$tmp/unknown_verb.ntsim"

scenario unknown_power_state "power doze"
expect_error 2 "$tmp/unknown_power_state.ntsim:1: unknown power state 'doze' (one of: sleep hibernate wake)" \
    -- "$tmp/unknown_power_state.ntsim"

scenario missing_argument "install svc drv.so" "start"
expect_error 2 "$tmp/missing_argument.ntsim:2: missing SERVICE (usage: start SERVICE [expect STATUS])" \
    -- "$tmp/missing_argument.ntsim"

scenario missing_clause_value "install svc drv.so" "start svc expect"
expect_error 2 "$tmp/missing_clause_value.ntsim:2: missing STATUS after 'expect' (usage: start SERVICE [expect STATUS])" \
    -- "$tmp/missing_clause_value.ntsim"

scenario extra_argument "install svc drv.so" "stop svc now"
expect_error 2 "$tmp/extra_argument.ntsim:2: unexpected 'now' (usage: stop SERVICE [expect STATUS])" \
    -- "$tmp/extra_argument.ntsim"

scenario unknown_status "install svc drv.so" "start svc expect STATUS_SUCESS"
expect_error 2 "$tmp/unknown_status.ntsim:2: unknown status 'STATUS_SUCESS' (a STATUS_ name of ntstatus.h, or 0x hex)" \
    -- "$tmp/unknown_status.ntsim"

scenario missing_image "install svc nope.so"
expect_error 2 "$tmp/missing_image.ntsim:1: image 'nope.so' not found (searched: $tmp; add -L DIR)" \
    -- "$tmp/missing_image.ntsim"

scenario unknown_service "install svc drv.so" "start svx"
expect_error 2 "$tmp/unknown_service.ntsim:2: unknown service 'svx' (no earlier 'install' line names it)" \
    -- "$tmp/unknown_service.ntsim"

scenario unknown_handle "install svc drv.so" "close app"
expect_error 2 "$tmp/unknown_handle.ntsim:2: unknown handle 'app' (no earlier 'open' line names it)" \
    -- "$tmp/unknown_handle.ntsim"

scenario unknown_expectation "expect imag svc mapped"
expect_error 2 "$tmp/unknown_expectation.ntsim:1: unknown expectation 'imag' (one of: image refs absent devices driver-refs pool bugcheck devnode veto)" \
    -- "$tmp/unknown_expectation.ntsim"

scenario unknown_state "install svc drv.so" "expect image svc gone"
expect_error 2 "$tmp/unknown_state.ntsim:2: unknown image state 'gone' (one of: mapped unmapped unload-called unload-not-called loaded unload-pending resident-after-unload not-loaded pnp legacy)" \
    -- "$tmp/unknown_state.ntsim"

scenario bad_number "install svc drv.so" "expect devices svc two"
expect_error 2 "$tmp/bad_number.ntsim:2: N must be a number (decimal or 0x hex, at most 32 bits), not 'two'" \
    -- "$tmp/bad_number.ntsim"

scenario bad_ctl_code "install svc drv.so" "open app \\\\.\\X" "ioctl app CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED)"
expect_error 2 "$tmp/bad_ctl_code.ntsim:3: CTL_CODE needs 4 arguments: DeviceType,Function,Method,Access" \
    -- "$tmp/bad_ctl_code.ntsim"

scenario bad_data "install svc drv.so" "open app \\\\.\\X" "ioctl app 0x222000 in 0x123"
expect_error 2 "$tmp/bad_data.ntsim:3: DATA 0x... needs an even number of hex digits (whole bytes)" \
    -- "$tmp/bad_data.ntsim"

scenario unterminated_quote "install svc drv.so" "open app \\\\.\\X" "ioctl app 0x222000 in \"abc"
expect_error 2 "$tmp/unterminated_quote.ntsim:3: unterminated quoted text" -- "$tmp/unterminated_quote.ntsim"

scenario dangling_bugcheck "install svc drv.so" "expect bugcheck REFERENCE_BY_POINTER"
expect_error 2 "$tmp/dangling_bugcheck.ntsim:2: expect bugcheck is not followed by an action" \
    -- "$tmp/dangling_bugcheck.ntsim"

scenario after_bugcheck "install svc drv.so" "expect bugcheck 0x18" "start svc" "stop svc"
expect_error 2 "$tmp/after_bugcheck.ntsim:4: nothing runs after line 3's expected bug check; move this line before it" \
    -- "$tmp/after_bugcheck.ntsim"

expect_error 2 "$tmp/missing.ntsim: cannot open scenario: No such file or directory" -- "$tmp/missing.ntsim"

# A run-time scenario error stops the run (the transcript so far is printed).
scenario runtime_error "open app \\\\.\\NoSuchDevice" "close app" "sleep 1"
expect_error 2 "$tmp/runtime_error.ntsim:2: handle 'app' is not open (its open failed)" --ran "$tmp/runtime_error.ntsim"
grep -qx 'open app \\\\.\\NoSuchDevice -> STATUS_OBJECT_NAME_NOT_FOUND' "$tmp/out" ||
    { echo "FAIL: runtime_error transcript: $(cat "$tmp/out")" >&2; failures=$((failures + 1)); }

# Command-line errors: exit 64.
expect_error 64 "ntsim: no scenario file given (try ntsim --help)" --
expect_error 64 "ntsim: unknown option '--frobnicate' (try ntsim --help)" -- --frobnicate "$tmp/x.ntsim"
expect_error 64 "ntsim: -L needs an argument (try ntsim --help)" -- -L
expect_error 64 "ntsim: --stuck-ms wants milliseconds (1 to 3600000), not 'soon' (try ntsim --help)" \
    -- --stuck-ms soon "$tmp/x.ntsim"
expect_error 64 "ntsim: one scenario file at a time; 'b.ntsim' is one too many (try ntsim --help)" \
    -- a.ntsim b.ntsim

# --help documents the language and exits 0.
"$NTSIM" --help >"$tmp/help" 2>&1 || { echo "FAIL: ntsim --help exited $?" >&2; failures=$((failures + 1)); }
grep -q '^  ioctl NAME CODE \[in DATA\] \[out N\] \[expect STATUS\]$' "$tmp/help" ||
    { echo "FAIL: ntsim --help does not list the ioctl verb" >&2; failures=$((failures + 1)); }

[ $failures -eq 0 ] || fail "$failures case(s) failed"
echo "PASS: scenario errors"

#!/usr/bin/env bash
# obtrace record reports the traces the tracer wrote, exactly: each
# "trace written to PATH" line names a file that exists and that
# `obtrace dump` reads, and every trace the run wrote has its line. Covers
# a target taken by a regular file (at -o: a stale trace, removed, the name
# used; at OBTRACE_OUTPUT: kept, the tracer writes NAME.1.obt) and by a
# symlink (kept: NAME.1.obt), an exec'd image (a second trace of the same
# pid), a forked child (its own trace), a relative pattern (printed
# relative) and the default name. Skips (77) until the obtrace command and
# the tracer's test programs are built.
set -uo pipefail
cd "$(dirname "$0")/../.."
O=${O:-build}
obtrace=$(realpath "$O/bin/obtrace" 2>/dev/null)
tracee=$(realpath "$O/tests/tracer/tracee" 2>/dev/null)
[ -x "$obtrace" ] && [ -x "$tracee" ] && [ -f "$O/lib/libobtrace.so" ] || exit 77
tmp=$(mktemp -d /tmp/obt-record-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

fail() { echo "FAIL: $*"; [ -f "$tmp/err" ] && cat "$tmp/err"; exit 1; }

# record EXPECTED_STATUS ARGS...: runs obtrace record, stderr to $tmp/err.
record() {
    local want=$1; shift
    "$obtrace" record "$@" 2>"$tmp/err"
    local rc=$?
    [ $rc -eq "$want" ] || fail "obtrace record $* exited $rc, not $want"
}

# printed: the paths of the "trace written to" lines, one per line.
printed() {
    sed -n 's/^obtrace: trace written to \(.*\) ([0-9]* events.*)$/\1/p' "$tmp/err"
}

# expect_traces PATH...: the lines name exactly these paths, in this order,
# and each is a trace obtrace dump reads (paths relative to $PWD).
expect_traces() {
    local want got
    want=$(printf '%s\n' "$@")
    got=$(printed)
    [ "$got" = "$want" ] || fail "printed paths: '$got', expected '$want'"
    for p in "$@"; do
        [ -f "$p" ] || fail "$p does not exist"
        "$obtrace" dump "$p" >"$tmp/dump" 2>&1 || fail "obtrace dump $p failed: $(head -3 "$tmp/dump")"
        grep -q '^seq=[0-9]* tid=[0-9]* END ' "$tmp/dump" || fail "$p has no END record"
    done
}

# A stale trace (a regular file) at a fixed -o path is removed: the name is used.
echo stale >"$tmp/t.obt"
record 0 -o "$tmp/t.obt" -- "$tracee" refs 5
expect_traces "$tmp/t.obt"
grep -q "trace written to $tmp/t.obt (12 events)" "$tmp/err" || fail "event count"

# A name taken by a symlink is left alone: the tracer writes t2.1.obt, and record says so.
echo keep >"$tmp/keep"
ln -s "$tmp/keep" "$tmp/t2.obt"
record 0 -o "$tmp/t2.obt" -- "$tracee" refs 5
expect_traces "$tmp/t2.1.obt"
[ "$(cat "$tmp/keep")" = keep ] || fail "the symlink's target was written"

# A regular file at OBTRACE_OUTPUT (no -o: record removes nothing) is kept: env.1.obt.
echo mine >"$tmp/env.obt"
OBTRACE_OUTPUT=$tmp/env.obt record 0 -- "$tracee" refs 5
expect_traces "$tmp/env.1.obt"
[ "$(cat "$tmp/env.obt")" = mine ] || fail "the file at OBTRACE_OUTPUT was written"

# exec: the first image's trace, then the new image's under the same pid.
record 0 -o "$tmp/e.obt" -- "$tracee" exec 10
expect_traces "$tmp/e.obt" "$tmp/e.1.obt"

# fork: the program's trace, then its child's (the child prints its pid).
record 0 -o "$tmp/f-%p.obt" -- "$tracee" fork 5 >"$tmp/out"
child=$(sed -n 's/^child \([0-9]*\)$/\1/p' "$tmp/out")
mapfile -t forked < <(printed)
[ ${#forked[@]} -eq 2 ] || fail "fork: ${#forked[@]} traces listed, not 2"
expect_traces "${forked[@]}"
[ "${forked[1]}" = "$tmp/f-$child.obt" ] || fail "fork: the child's trace is not ${forked[1]}"
parent=${forked[0]#"$tmp/f-"}; parent=${parent%.obt}
"$obtrace" dump "${forked[1]}" | head -1 | grep -q "flags=0x0001 .* pid=$child ppid=$parent " || fail "fork: child header"
[ "$(ls "$tmp"/f-*.obt | sort)" = "$(printf '%s\n' "${forked[@]}" | sort)" ] || fail "fork: files and lines differ"

# The program's exit status is passed on, its trace still listed.
record 64 -o "$tmp/b.obt" -- "$tracee" bogus
expect_traces "$tmp/b.obt"

# A relative pattern is printed relative; the default name is obtrace-PID.obt.
mkdir "$tmp/cwd"
(cd "$tmp/cwd" && "$obtrace" record -o rel.obt -- "$tracee" refs 1 2>"$tmp/err") || fail "relative -o"
(cd "$tmp/cwd" && expect_traces rel.obt) || exit 1
(cd "$tmp/cwd" && "$obtrace" record -- "$tracee" refs 1 2>"$tmp/err") || fail "default output"
(cd "$tmp/cwd" && expect_traces obtrace-*.obt) || exit 1
printed | grep -qx 'obtrace-[0-9]*\.obt' || fail "default name: $(printed)"

# A program that never loads libntsim: no trace, said so.
record 0 -o "$tmp/none.obt" -- /bin/true
grep -q 'obtrace: no trace written (/bin/true did not load libntsim)' "$tmp/err" || fail "no-trace line"
[ -z "$(printed)" ] || fail "a trace listed for /bin/true"
echo ok

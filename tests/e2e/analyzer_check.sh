#!/usr/bin/env bash
# obtrace check records the program and every process of it that traces,
# reports on the program's own trace and gates on all of them: a sample
# with findings exits with its golden code, prints its golden verdict and
# keeps its trace (a valid one); a forking program gets its child's trace
# analyzed too (named on stderr), clean traces are deleted with their
# directory; a program that never loads libntsim is no trace (exit 2).
# Skips (77) until ntsim, the tracer, its test programs and obtrace are built.
set -uo pipefail
cd "$(dirname "$0")/../.."
O=${O:-build}
obtrace=$O/bin/obtrace ntsim=$O/bin/ntsim tracee=$O/tests/tracer/tracee
for f in "$obtrace" "$ntsim" "$tracee" "$O/lib/libobtrace.so"; do [ -x "$f" ] || [ -f "$f" ] || exit 77; done
tmp=$(mktemp -d /tmp/obt-check-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export TMPDIR=$tmp/t
mkdir -p "$TMPDIR"

fail() { echo "FAIL: $*"; cat "$tmp/err" 2>/dev/null; exit 1; }

name=bus_child_leak
"$obtrace" check -- "$ntsim" -L "$O/samples/$name" -L "$O/samples" "samples/$name/scenario.ntsim" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" -eq "$(cat "samples/$name/exit")" ] || fail "$name: exit $rc, not $(cat "samples/$name/exit")"
grep -qxF "$(sed -n 2p "samples/$name/verdict.txt")" "$tmp/out" || fail "$name: the golden verdict is not printed"
kept=$(sed -n 's/^obtrace check: trace kept at //p' "$tmp/err")
[ -n "$kept" ] && [ "$(echo "$kept" | wc -l)" -eq 1 ] || fail "$name: not one kept trace"
"$obtrace" dump "$kept" >/dev/null || fail "$name: the kept trace $kept does not read"

rm -rf "${TMPDIR:?}"/*
"$obtrace" check -- "$tracee" fork 3 >"$tmp/out" 2>"$tmp/err" || fail "fork: exit $?, not 0"
grep -q '^obtrace check: also recorded .*: clean' "$tmp/err" || fail "fork: the child's trace is not named"
[ -z "$(ls -A "$TMPDIR")" ] || fail "fork: clean traces or their directory left behind: $(ls -AR "$TMPDIR")"

"$obtrace" check -- /bin/true >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" -eq 2 ] || fail "a program without libntsim: exit $rc, not 2"
grep -q 'no trace was recorded' "$tmp/err" || fail "a program without libntsim: no message"
echo ok

#!/usr/bin/env bash
# obtrace record + obtrace dump on a sample trace: the tracer's tracee
# (tests/tracer/tracee.c, on the libntsim stand-in) makes 5 reference /
# dereference pairs; the dump must show exactly those events with their
# counts, the object, stacks and the END record. Skips (77) until the
# obtrace command and the tracer's test programs are built.
set -uo pipefail
cd "$(dirname "$0")/../.."
O=${O:-build}
obtrace=$O/bin/obtrace
tracee=$O/tests/tracer/tracee
[ -x "$obtrace" ] && [ -x "$tracee" ] && [ -f "$O/lib/libobtrace.so" ] || exit 77
tmp=$(mktemp -d /tmp/obt-dump-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

"$obtrace" record -o "$tmp/t.obt" -- "$tracee" refs 5 2>"$tmp/err" || { cat "$tmp/err"; exit 1; }
grep -q "obtrace: trace written to $tmp/t.obt (12 events)" "$tmp/err" || { cat "$tmp/err"; exit 1; }
"$obtrace" dump "$tmp/t.obt" >"$tmp/dump" || { echo "dump failed"; exit 1; }
fail() { echo "FAIL: $*"; cat "$tmp/dump"; exit 1; }
[ "$(grep -c 'EVENT op=OBJ_REF ' "$tmp/dump")" -eq 5 ] || fail "5 OBJ_REF events"
[ "$(grep -c 'EVENT op=OBJ_REF .*count=2 ' "$tmp/dump")" -eq 5 ] || fail "OBJ_REF count=2"
[ "$(grep -c 'EVENT op=OBJ_DEREF ' "$tmp/dump")" -eq 6 ] || fail "6 OBJ_DEREF events"
grep -q 'EVENT op=OBJ_DEREF .*count=0 ' "$tmp/dump" || fail "final dereference to 0"
grep -q 'EVENT op=OBJ_CREATE type=Device obj=1 count=1 ' "$tmp/dump" || fail "creation"
grep -q 'OBJECT id=1 type=Device .*name="\\Device\\Tracee"' "$tmp/dump" || fail "object record"
grep -q 'MODULE_LOAD .*path=".*/tracee"' "$tmp/dump" || fail "program module"
grep -q 'END events=12 dropped=0' "$tmp/dump" || fail "END record"
echo ok

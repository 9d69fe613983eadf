#!/usr/bin/env bash
# obtrace history on a KMDF object: records samples/kmdf_tag_leak with the
# real tracer, finds its WDFDEVICE (the WDF_CREATE of kind 3) in the dump,
# and checks the whole history and its per-tag balance: the framework's
# untagged references balance, the driver's 'Proc' reference is over by
# one, and its line is the WdfObjectReferenceWithTag of the sample. Also
# counts the WDF events of both twins exactly: the five objects (driver,
# device, queue, two requests) are created, cleaned up and deleted in
# both; in the leak the WDFDEVICE and the WDFDRIVER it holds are never
# destroyed, and their two framework dereferences never happen. Skips
# (77) until the obtrace command, the tracer and the sample are built.
set -uo pipefail
cd "$(dirname "$0")/../.."
O=${O:-build}
[ -x "$O/bin/obtrace" ] && [ -x "$O/bin/ntsim" ] && [ -f "$O/lib/libobtrace.so" ] &&
    [ -f "$O/samples/kmdf_tag_leak/kmdf_tag_leak.so" ] && [ -f "$O/samples/kmdf_tag_leak_fixed/kmdf_tag_leak_fixed.so" ] || exit 77
tmp=$(mktemp -d /tmp/obt-kmdf-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$O/bin/obtrace" record -o "$tmp/t.obt" -- "$O/bin/ntsim" -L "$O/samples/kmdf_tag_leak" -L "$O/samples" \
    samples/kmdf_tag_leak/scenario.ntsim >"$tmp/rec.log" 2>&1 || fail "recording failed: $(tail -3 "$tmp/rec.log")"
id=$("$O/bin/obtrace" dump "$tmp/t.obt" | sed -n 's/.* op=WDF_CREATE type=WdfObject obj=\([0-9]*\) .* arg=0x3 .*/\1/p' | head -1)
[ -n "$id" ] || fail "no WDFDEVICE created in the trace"
"$O/bin/obtrace" history "$tmp/t.obt" "#$id" >"$tmp/h.txt" 2>"$tmp/h.err" || fail "history exited $?: $(cat "$tmp/h.err")"
footer=$(sed -n '/^Object:/,$p' "$tmp/h.txt")
want="Object: WDFDEVICE (unnamed) (WdfObject #$id)
References: 3, Dereferences 2
Tag: Dflt References: 2 Dereferences: 2
Tag: Proc References: 1 Dereferences: 0 Over reference by: 1"
[ "$footer" = "$want" ] || fail "history footer differs:
$footer
--- want:
$want"
grep -q '^[0-9]* *[0-9]* *+1 *Proc *3 *WDF_REF *kmdf_tag_leak.c:[0-9]*  LeakStartProcessing' "$tmp/h.txt" ||
    fail "no WDF_REF line of the 'Proc' reference: $(cat "$tmp/h.txt")"
grep -q ' WDF_DELETE ' "$tmp/h.txt" || fail "no WDF_DELETE line"
# wdf_counts TRACE: "OP COUNT" per WDF op, sorted.
wdf_counts() {
    "$O/bin/obtrace" dump "$1" | grep -o 'op=WDF_[A-Z_]*' | sort | uniq -c | awk '{print $2, $1}' | tr '\n' ' '
}
got=$(wdf_counts "$tmp/t.obt")
want="op=WDF_CLEANUP 5 op=WDF_CREATE 5 op=WDF_DELETE 5 op=WDF_DEREF 3 op=WDF_DESTROY 3 op=WDF_REF 5 "
[ "$got" = "$want" ] || fail "kmdf_tag_leak WDF events: $got, want $want"
"$O/bin/obtrace" record -o "$tmp/f.obt" -- "$O/bin/ntsim" -L "$O/samples/kmdf_tag_leak_fixed" -L "$O/samples" \
    samples/kmdf_tag_leak_fixed/scenario.ntsim >"$tmp/rec.log" 2>&1 || fail "recording the twin failed"
got=$(wdf_counts "$tmp/f.obt")
want="op=WDF_CLEANUP 5 op=WDF_CREATE 5 op=WDF_DELETE 5 op=WDF_DEREF 5 op=WDF_DESTROY 5 op=WDF_REF 5 "
[ "$got" = "$want" ] || fail "kmdf_tag_leak_fixed WDF events: $got, want $want"
echo "PASS: kmdf history of WDFDEVICE #$id, WDF event counts of both twins"

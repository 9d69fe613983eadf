#!/usr/bin/env bash
# libobtrace on the PnP samples: records samples with `obtrace record` and
# checks the PnP-level events in `obtrace dump` (doc/trace-format.md §5.4):
#   pnp_app_keep          HOST_ACTION marks, PNP_EVENT / PNP_IRP_DONE per
#                         PnP IRP, DEVNODE_STATE, and the application VETO
#   iface_noop            INTERFACE_QUERY with the no-op flag and the
#                         INTERFACE_FUNCS in libntsim.so
#   iface_counted         INTERFACE_QUERY without it, functions in the exporter
#   bus_remlock_deadlock  IRP_MN_REMOVE_DEVICE sent to the child stack, the
#                         remove-lock wait that never returns, no completion
# Lines are compared on their stable parts (tests/e2e/lib/trace_events.awk).
# Skips (77) until ntsim, the samples and obtrace are built.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
O=${O:-build}
obtrace=$O/bin/obtrace
ntsim=$O/bin/ntsim
[ -x "$obtrace" ] && [ -x "$ntsim" ] && [ -f "$O/lib/libobtrace.so" ] || exit 77
for s in pnp_filter_stop iface_noop iface_counted bus_remlock_deadlock; do
    [ -d "$O/samples/$s" ] || exit 77
done
tmp=$(mktemp -d /tmp/obt-pnp-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failed=0

# record NAME: traces samples/NAME/scenario.ntsim into $tmp/NAME.events (all events, normalized).
record() {
    local name=$1
    if ! "$obtrace" record -o "$tmp/$name.obt" -- "$ntsim" -L "$O/samples/$name" -L "$O/samples" \
        "samples/$name/scenario.ntsim" >"$tmp/$name.out" 2>&1; then
        echo "FAIL: $name: the scenario failed under the tracer"
        cat "$tmp/$name.out"
        return 1
    fi
    "$obtrace" dump "$tmp/$name.obt" >"$tmp/$name.dump" || return 1
    awk -f tests/e2e/lib/trace_events.awk "$tmp/$name.dump" >"$tmp/$name.events"
}

# expect NAME LINE...: each LINE is an event line of NAME's trace, in this order (others may come between).
expect() {
    local name=$1 line n=0
    shift
    for line in "$@"; do
        local found
        found=$(WANT=$line awk -v from="$n" 'NR > from && $0 == ENVIRON["WANT"] { print NR; exit }' "$tmp/$name.events")
        if [ -z "$found" ]; then
            echo "FAIL: $name: no event line (after line $n): $line"
            failed=1
            return 1
        fi
        n=$found
    done
}

# absent NAME LINE: LINE is no event line of NAME's trace.
absent() {
    if grep -qxF "$2" "$tmp/$1.events"; then
        echo "FAIL: $1: unexpected event line: $2"
        failed=1
    fi
}

PDO='"\Device\00000001"'
record pnp_app_keep || exit 1
expect pnp_app_keep \
    'HOST_ACTION obj=- arg="plug TOASTER ROOT\TOASTER\0000" string="samples/pnp_app_keep/scenario.ntsim:9"' \
    "DEVNODE_STATE obj=$PDO arg=0x301 string=\"ROOT\\TOASTER\\0000\" arg2=0x300" \
    "PNP_EVENT obj=@\"\\Driver\\toaster\" obj2=$PDO arg=0x0" \
    "PNP_EVENT obj=$PDO obj2=$PDO arg=0x0" \
    "PNP_IRP_DONE obj=$PDO status=0x00000000 arg=0x0" \
    "DEVNODE_STATE obj=$PDO arg=0x308 string=\"ROOT\\TOASTER\\0000\" arg2=0x307" \
    'HOST_ACTION obj=- arg="disable ROOT\TOASTER\0000" string="samples/pnp_app_keep/scenario.ntsim:14"' \
    "DEVNODE_STATE obj=$PDO arg=0x310 string=\"ROOT\\TOASTER\\0000\" arg2=0x308" \
    "PNP_EVENT obj=@\"\\Driver\\toaster\" obj2=$PDO arg=0x1" \
    "PNP_IRP_DONE obj=$PDO status=0x00000000 arg=0x1" \
    "VETO obj=$PDO obj2=$PDO arg=0x5 string=\"ROOT\\TOASTER\\0000\"" \
    "PNP_EVENT obj=$PDO obj2=$PDO arg=0x3" \
    "DEVNODE_STATE obj=$PDO arg=0x308 string=\"ROOT\\TOASTER\\0000\" arg2=0x310"
absent pnp_app_keep "PNP_EVENT obj=$PDO obj2=$PDO arg=0x2"
# Expectation lines are not announced.
if grep -q '^HOST_ACTION .*arg="expect' "$tmp/pnp_app_keep.events"; then
    echo "FAIL: pnp_app_keep: an expectation was announced as a host action"
    failed=1
fi

GUID='"{5D2A6BE4-1C3E-4E5A-9B1F-3C2D7A9E0F11}"'
CALC='@"\Driver\calc"'
record iface_noop || exit 1
expect iface_noop \
    "INTERFACE_QUERY obj=$CALC status=0x00000000 obj2=$CALC arg=0x1 irp=Irp string=$GUID arg2=<calc_importer.so>" \
    "INTERFACE_FUNCS obj=$CALC obj2=$CALC arg=<libntsim.so> string=$GUID arg2=<libntsim.so>"
[ "$(grep -c '^INTERFACE_QUERY ' "$tmp/iface_noop.events")" = 1 ] ||
    { echo "FAIL: iface_noop: not exactly one INTERFACE_QUERY"; failed=1; }

record iface_counted || exit 1
expect iface_counted \
    "INTERFACE_QUERY obj=$CALC status=0x00000000 obj2=$CALC arg=0x0 irp=Irp string=$GUID arg2=<calc_importer.so>" \
    "INTERFACE_FUNCS obj=$CALC obj2=$CALC arg=<calc_exporter_counted.so> string=$GUID arg2=<calc_exporter_counted.so>"

CHILD='"\Device\00000002"'
record bus_remlock_deadlock || exit 1
expect bus_remlock_deadlock \
    "DEVNODE_STATE obj=$CHILD arg=0x302 string=\"BUS\\TOASTERCHILD\\01\" arg2=0x301" \
    "PNP_EVENT obj=@\"\\Driver\\childfn\" obj2=$CHILD arg=0x2" \
    "PNP_EVENT obj=$CHILD obj2=$CHILD arg=0x2" \
    'REMLOCK_WAIT obj=@"" obj2=Irp arg=ADDR pre'
# The REMOVE never came back: no completion, and the wait has no end.
absent bus_remlock_deadlock "PNP_IRP_DONE obj=$CHILD status=0x00000000 arg=0x2"
tail -n +"$(grep -n '^REMLOCK_WAIT ' "$tmp/bus_remlock_deadlock.events" | tail -1 | cut -d: -f1)" \
    "$tmp/bus_remlock_deadlock.events" | grep -q '^WAIT_END ' &&
    { echo "FAIL: bus_remlock_deadlock: the remove-lock wait has a WAIT_END"; failed=1; }

[ $failed = 0 ] || exit 1
echo ok

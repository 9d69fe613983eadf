#!/usr/bin/env bash
# libobtrace's cause-pinning fields (doc/trace-format.md §5.4), checked on
# `obtrace dump` with the ids as written, each relation exactly:
#   iface_counted  REMLOCK_INIT (tag, watermark/minutes, owner device in obj2
#                  and in the lock's OBJECT record, image); fresh Irp ids at
#                  every IRP_ALLOC; the importer's IRP_MN_QUERY_INTERFACE:
#                  INTERFACE_QUERY arg >> 32 = the IRP of the requester's
#                  IRP_CALL (same device, 0x1b08), acquired under the remove
#                  lock with that IRP as tag (obj2), completed (obj2), freed
#                  (IRP_FREE); the VETO blames the FDO whose driver completed
#                  IRP_MN_QUERY_REMOVE_DEVICE with STATUS_UNSUCCESSFUL;
#                  DRIVER_ENTRY arg2 = the image's DriverEntry (nm + load base)
#   tdrv_irps      IRP_BUILD of IoBuildSynchronousFsdRequest after its nested
#                  IRP_ALLOC, IoInitializeIrp's IRP_ALLOC (arg2 = 1), and
#                  IRP_CALL returning STATUS_PENDING for a pended IOCTL
# Skips (77) until ntsim, the sample, the test driver and obtrace are built.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
O=${O:-build}
obtrace=$O/bin/obtrace
ntsim=$O/bin/ntsim
[ -x "$obtrace" ] && [ -x "$ntsim" ] && [ -f "$O/lib/libobtrace.so" ] || exit 77
[ -d "$O/samples/iface_counted" ] && [ -f "$O/tests/drivers/tdrv_irps.so" ] || exit 77
command -v nm >/dev/null || exit 77
tmp=$(mktemp -d /tmp/obt-fields-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failed=0

# record NAME SCENARIO SEARCHDIR...: traces SCENARIO into $tmp/NAME.dump.
record() {
    local name=$1 scenario=$2 dirs=()
    shift 2
    for d in "$@"; do dirs+=(-L "$d"); done
    if ! "$obtrace" record -o "$tmp/$name.obt" -- "$ntsim" "${dirs[@]}" "$scenario" >"$tmp/$name.out" 2>&1; then
        echo "FAIL: $name: the scenario failed under the tracer"
        cat "$tmp/$name.out"
        return 1
    fi
    "$obtrace" dump "$tmp/$name.obt" >"$tmp/$name.dump"
}

# check NAME AWK-PROGRAM: runs the checks over NAME's dump; they print "FAIL: ..." lines.
# The library below gives: ev[i, key] for the i-th EVENT (keys op, obj, obj2, arg, arg2, tag,
# status, string, count, seq), nev; otype/oname/oowner/oimage[id] of the last OBJECT record;
# str[id]; first_use[id] = index of the first event naming id (obj or obj2); mbase[path basename].
check() {
    awk -v name="$1" '
        function field(line, key,    i, n, f) {
            n = split(line, f, " ")
            for (i = 1; i <= n; i++) if (index(f[i], key "=") == 1) return substr(f[i], length(key) + 2)
            return ""
        }
        function quoted(line, key,    i) { i = index(line, key "="); return substr(line, i + length(key) + 1) }
        function fail(msg) { print "FAIL: " name ": " msg; bad = 1 }
        function hex(s,    i, v) {
            s = tolower(s); sub(/^0x/, "", s); v = 0
            for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
            return v
        }
        function find(op, key, value, from,    i) {
            for (i = from + 1; i <= nev; i++) if (ev[i, "op"] == op && ev[i, key] == value) return i
            return 0
        }
        / OBJECT id=/ {
            id = field($0, "id"); otype[id] = field($0, "type"); oowner[id] = field($0, "owner")
            oimage[id] = field($0, "image"); oname[id] = quoted($0, "name"); if (!(id in odef)) odef[id] = nev
            next
        }
        / STRING id=/ { str[field($0, "id")] = quoted($0, "text"); next }
        / MODULE_LOAD / {
            p = quoted($0, "path"); gsub(/"/, "", p); sub(/.*\//, "", p); mbase[p] = field($0, "base")
            minst[p] = field($0, "instance"); next
        }
        / EVENT op=/ {
            nev++
            n = split("op obj obj2 arg arg2 tag status string count seq", k, " ")
            for (j = 1; j <= n; j++) ev[nev, k[j]] = field($0, k[j])
            if (ev[nev, "obj"] != 0 && !(ev[nev, "obj"] in first_use)) first_use[ev[nev, "obj"]] = nev
            if (ev[nev, "obj2"] != "" && !(ev[nev, "obj2"] in first_use)) first_use[ev[nev, "obj2"]] = nev
        }
        '"$2"'
        END { exit bad }
    ' "$tmp/$1.dump" || failed=1
}

record iface_counted samples/iface_counted/scenario.ntsim "$O/samples/iface_counted" "$O/samples" || exit 1
ENTRY_OFFSET=$(nm -D --defined-only "$O/samples/iface_counted/calc_exporter_counted.so" |
    awk '$3 == "DriverEntry" { print $1 }')
export ENTRY_OFFSET
check iface_counted '
END {
    # every IRP_ALLOC names a fresh Irp: defined right there, named by no earlier event
    for (i = 1; i <= nev; i++) if (ev[i, "op"] == "IRP_ALLOC") {
        nalloc++; irp = ev[i, "obj"]
        if (otype[irp] != "Irp" || first_use[irp] != i) fail("IRP_ALLOC " i " is not a fresh Irp id: " irp)
    }
    if (nalloc < 10) fail("only " nalloc " IRP_ALLOC events")

    # the remove lock, its owner device and the calc FDO
    for (i = 1; i <= nev; i++) if (ev[i, "op"] == "REMLOCK_INIT") { ninit++; init = i }
    if (ninit != 1) fail(ninit " REMLOCK_INIT events, not 1")
    lock = ev[init, "obj"]; fdo = ev[init, "obj2"]
    for (id in oname) if (oname[id] == "\"\\Driver\\calc\"" && otype[id] == "Driver") calc = id
    if (ev[init, "tag"] != "Calc" || ev[init, "arg"] != "0x100000064" || ev[init, "count"] != 1)
        fail("REMLOCK_INIT tag/arg/count: " ev[init, "tag"] " " ev[init, "arg"] " " ev[init, "count"])
    if (otype[lock] != "RemoveLock" || oowner[lock] != fdo || oimage[lock] != minst["calc_exporter_counted.so"])
        fail("lock OBJECT: type " otype[lock] " owner " oowner[lock] " image " oimage[lock])
    if (otype[fdo] != "Device" || oowner[fdo] != calc || oname[fdo] != "\"\"")
        fail("lock owner " fdo " is not the calc FDO")

    # the importer s query: INTERFACE_QUERY -> its IRP -> the requester s IRP_CALL
    q = find("INTERFACE_QUERY", "status", "0x00000000", 0)
    irp = int(hex(ev[q, "arg"]) / 4294967296)
    if (!q || !irp || otype[irp] != "Irp") fail("INTERFACE_QUERY without its IRP: " ev[q, "arg"])
    if (ev[q, "arg"] != sprintf("0x%x00000000", irp)) fail("INTERFACE_QUERY flags: " ev[q, "arg"])
    a = find("IRP_ALLOC", "obj", irp, 0); acq = find("REMLOCK_ACQUIRE", "obj2", irp, a)
    done = find("IRP_COMPLETE", "obj2", irp, acq); call = find("IRP_CALL", "obj2", irp, q)
    free_ = find("IRP_FREE", "obj", irp, call)
    if (!a || a > q) fail("no IRP_ALLOC of the query IRP before the query")
    if (!acq || ev[acq, "obj"] != lock || acq > q) fail("no remove-lock acquisition tagged with the query IRP")
    if (!done || ev[done, "arg"] != "0x1b08" || ev[done, "obj"] != fdo) fail("no IRP_COMPLETE of the query IRP")
    if (!call || ev[call, "obj"] != ev[q, "obj"] || ev[call, "arg"] != "0x1b08" || ev[call, "status"] != "0x00000000")
        fail("no requester IRP_CALL for the query IRP")
    if (!free_) fail("no IRP_FREE of the query IRP")
    if (find("IRP_CALL", "obj2", irp, free_)) fail("the freed IRP id is used again")

    # the veto: blamed on the FDO that failed IRP_MN_QUERY_REMOVE_DEVICE
    v = find("VETO", "arg", "0x6", 0)
    failq = find("IRP_COMPLETE", "arg", "0x1b01", 0)
    while (failq && ev[failq, "status"] == "0x00000000") failq = find("IRP_COMPLETE", "arg", "0x1b01", failq)
    if (!v || ev[v, "obj"] != fdo || oname[ev[v, "obj2"]] != "\"\\Device\\00000001\"" ||
        str[ev[v, "string"]] != "\"ROOT\\CALC\\0000\"")
        fail("VETO obj " ev[v, "obj"] " obj2 " ev[v, "obj2"] " (want the calc FDO " fdo ")")
    if (!failq || failq > v || ev[failq, "obj"] != fdo || ev[failq, "status"] != "0xc0000001")
        fail("no failed IRP_MN_QUERY_REMOVE_DEVICE completion by the FDO before the VETO")

    # DriverEntry of calc: load base + the symbol value
    e = find("DRIVER_ENTRY", "obj", calc, 0)
    if (!e || hex(ev[e, "arg2"]) != hex(mbase["calc_exporter_counted.so"]) + hex(ENVIRON["ENTRY_OFFSET"]))
        fail("DRIVER_ENTRY arg2 " ev[e, "arg2"] ", want base " mbase["calc_exporter_counted.so"] " + " ENVIRON["ENTRY_OFFSET"])
}'

cat >"$tmp/irps.ntsim" <<'SCN'
install irps tdrv_irps.so
start irps expect STATUS_SUCCESS
open app \\.\TdIrps expect STATUS_SUCCESS
ioctl app CTL_CODE(FILE_DEVICE_UNKNOWN, 0x803, METHOD_BUFFERED, FILE_ANY_ACCESS) expect STATUS_SUCCESS
close app expect STATUS_SUCCESS
stop irps expect STATUS_SUCCESS
SCN
record irps "$tmp/irps.ntsim" "$O/tests/drivers" || exit 1
check irps '
END {
    for (id in oname) if (oname[id] == "\"\\Device\\TdIrps\"") dev = id
    b = find("IRP_BUILD", "obj2", dev, 0); irp = ev[b, "obj"]
    if (!b || ev[b, "arg"] != "0x900" || ev[b, "arg2"] != "0x0" || ev[b, "status"] != "")
        fail("IRP_BUILD of the flush: " ev[b, "arg"] " " ev[b, "arg2"] " " ev[b, "status"])
    a = find("IRP_ALLOC", "obj", irp, 0)
    if (!a || a > b || ev[a, "arg"] != "0x1" || ev[a, "arg2"] != "" || otype[irp] != "Irp")
        fail("IRP_BUILD without its nested IRP_ALLOC")
    c = find("IRP_CALL", "obj2", irp, b)
    if (!c || ev[c, "obj"] != dev || ev[c, "arg"] != "0x900" || ev[c, "status"] != "0x00000000")
        fail("no IRP_CALL of the built flush")
    if (!find("IRP_COMPLETE", "obj2", irp, a)) fail("no IRP_COMPLETE of the built flush")

    own = find("IRP_ALLOC", "arg2", "0x1", 0); irp2 = ev[own, "obj"]
    if (!own || ev[own, "arg"] != "0x1" || first_use[irp2] != own || irp2 == irp)
        fail("IoInitializeIrp: no fresh IRP_ALLOC with arg2 0x1")
    c2 = find("IRP_CALL", "obj2", irp2, own)
    if (!c2 || ev[c2, "arg"] != "0x900" || ev[c2, "status"] != "0x00000000") fail("no IRP_CALL of the pool IRP")

    p = find("IRP_CALL", "status", "0x00000103", 0); irp3 = ev[p, "obj2"]
    if (!p || ev[p, "obj"] != dev || ev[p, "arg"] != "0xe00" || otype[irp3] != "Irp")
        fail("no IRP_CALL returning STATUS_PENDING for the pended IOCTL")
    if (!find("IRP_COMPLETE", "obj2", irp3, find("IRP_ALLOC", "obj", irp3, 0)))
        fail("the pended IRP has no IRP_COMPLETE")
}'

[ $failed = 0 ] || exit 1
echo ok

#!/usr/bin/env bash
# wdk-toaster.sh SAMPLES: builds the WDK 7.1 toaster WDM samples, unmodified,
# from the sample tree SAMPLES (the directory holding general/toaster/wdm),
# runs them under the tracer with the scenarios of scripts/wdk-toaster/, and
# checks the verdicts: no finding for the samples as they are, and for each
# one-line change of doc/wdk-samples.md the finding that names the changed
# line. The samples' code stays where it is: only objects are written, to
# $O/wdk-toaster (O is the build directory, default build).
# Exit 0 when every verdict is the expected one, 1 otherwise, 2 on bad use.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
O=${O:-$root/build}
[ $# -eq 1 ] || { echo "usage: $0 WDK_SAMPLES_DIR (the directory holding general/toaster/wdm)" >&2; exit 2; }
W=$1/general/toaster/wdm
[ -d "$W/bus" ] && [ -d "$W/toastmon" ] || { echo "$0: $W is not the WDK 7.1 toaster WDM tree" >&2; exit 2; }
[ -x "$O/bin/obtrace" ] && [ -f "$O/lib/libntsim.so" ] || { echo "$0: build first (make)" >&2; exit 2; }
out=$O/wdk-toaster
mkdir -p "$out/src"

# The sources name headers with another case than their files have (toaster.h, toastmon.h).
inc=$out/inc
mkdir -p "$inc"
ln -sf "$W/func/shared/toaster.H" "$inc/toaster.h"
ln -sf "$W/toastmon/toastmon.H" "$inc/toastmon.h"

CFLAGS_WDK=(-std=gnu11 -g -O1 -fPIC -fno-omit-frame-pointer -fno-optimize-sibling-calls -fshort-wchar
            -fms-extensions -Wno-multichar -include "$here/wdk-toaster/compat.h" -I"$root/include/ntsim"
            -I"$inc" -I"$W/inc" -I"$W/func/shared")

# image NAME [-DDEFINE...] SOURCE...: one driver image from the sources given.
image() {
    local name=$1 defines=() sources=()
    shift
    for a in "$@"; do case $a in -D*) defines+=("$a") ;; *) sources+=("$a") ;; esac; done
    cc "${CFLAGS_WDK[@]}" "${defines[@]}" -I"$(dirname "${sources[0]}")" -x c "${sources[@]}" -shared \
        -o "$out/$name.so" -L"$O/lib" -lntsim -Wl,--no-undefined -Wl,-rpath,"$O/lib" ||
        { echo "FAIL: $name.so does not build" >&2; exit 1; }
}

# mutant NAME FILE LINE TEXT: a copy of FILE with line LINE replaced by TEXT, in $out/src/NAME/.
mutant() {
    local dir=$out/src/$1
    mkdir -p "$dir"
    cp "$(dirname "$2")"/* "$dir"/ 2>/dev/null
    awk -v n="$3" -v t="$4" 'NR == n { print t; next } { print }' "$2" >"$dir/$(basename "$2")"
    echo "$dir/$(basename "$2")"
}

image busenum "$W/bus/busenum.c" "$W/bus/buspdo.c" "$W/bus/pnp.c" "$W/bus/power.c" "$W/bus/Wmi.c"
image featured1 "$W/func/featured1/toaster.C" "$W/func/featured1/POWER.C" "$W/func/featured1/wmi.c"
image incomplete1 "$W/func/incomplete1/incomplete1.c"
image filter -DIOCTL_INTERFACE=1 -DDEVICE_UPPER=1 "$W/filter/filter.c"
image toastmon "$W/toastmon/toastmon.c" "$W/toastmon/wmi.c"

# The one-line changes, found by their text so that the line numbers are the tree's own.
# line_of FILE TEXT [first|last]: the line number of TEXT's first (or last) occurrence in FILE.
line_of() { grep -n -F -- "$2" "$1" | { [ "${3:-first}" = last ] && tail -1 || head -1; } | cut -d: -f1; }
# the delete in FilterDeleteControlObject (the first one is FilterCreateControlObject's error path)
cdo_line=$(line_of "$W/filter/filter.c" "IoDeleteDevice(ControlDeviceObject);" last)
unreg_line=$(line_of "$W/toastmon/toastmon.c" "IoUnregisterPlugPlayNotification(deviceExtension->NotificationHandle);")
open_line=$(line_of "$W/toastmon/toastmon.c" "&List->TargetDeviceObject);")
[ -n "$cdo_line" ] && [ -n "$unreg_line" ] && [ -n "$open_line" ] ||
    { echo "FAIL: the lines to change are not in this tree" >&2; exit 1; }
image filter_nocdodelete -DIOCTL_INTERFACE=1 -DDEVICE_UPPER=1 \
    "$(mutant nocdodelete "$W/filter/filter.c" "$cdo_line" "        ; /* IoDeleteDevice(ControlDeviceObject); dropped */")"
m=$(mutant nounregister "$W/toastmon/toastmon.c" "$unreg_line" "        ; /* IoUnregisterPlugPlayNotification dropped */")
image toastmon_nounregister "$m" "$(dirname "$m")/wmi.c"
m=$(mutant fileref "$W/toastmon/toastmon.c" "$open_line" \
    "                                      &List->TargetDeviceObject); ObReferenceObject(List->FileObject);")
image toastmon_fileref "$m" "$(dirname "$m")/wmi.c"

failed=0
# verdict NAME SCENARIO SED EXIT PATTERN: records SCENARIO (with the image swap SED), expects
# `obtrace report` to exit EXIT and, when PATTERN is given, to print a line matching it.
verdict() {
    local name=$1 scenario=$2 swap=$3 want=$4 pattern=$5 trace=$out/$1.obt
    sed "$swap" "$here/wdk-toaster/$scenario" >"$out/$name.ntsim"
    "$O/bin/obtrace" record -o "$trace" -- "$O/bin/ntsim" -L "$out" "$out/$name.ntsim" >"$out/$name.out" 2>&1
    "$O/bin/obtrace" report "$trace" >"$out/$name.report" 2>&1
    local rc=$?
    if [ $rc -ne "$want" ] || { [ -n "$pattern" ] && ! grep -q -- "$pattern" "$out/$name.report"; }; then
        echo "FAIL: $name: obtrace report exited $rc (want $want)${pattern:+, looking for '$pattern'}:"
        sed 's/^/  /' "$out/$name.report"
        failed=1
    else
        echo "ok: $name: $(grep -m1 -E '^(no findings|image )' "$out/$name.report")"
        [ -n "$pattern" ] && grep -m1 -- "$pattern" "$out/$name.report" | sed 's/^/      /'
    fi
}

verdict featured1 featured1.ntsim "" 0 ""
verdict incomplete1 incomplete1.ntsim "" 0 ""
verdict nocdodelete featured1.ntsim "s/filter filter.so/filter filter_nocdodelete.so/" 1 "\[undeleted-device\] control device"
verdict nounregister featured1.ntsim "s/toastmon toastmon.so/toastmon toastmon_nounregister.so/" 1 \
    "registered  toastmon.c:[0-9]*  ToastMon_AddDevice"
verdict fileref featured1.ntsim "s/toastmon toastmon.so/toastmon toastmon_fileref.so/" 1 \
    "toastmon.c:$open_line  ToastMon_OpenTargetDevice"
exit $failed

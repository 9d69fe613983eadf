#!/usr/bin/env bash
# libobtrace on the real libntsim: records the legacy_clean sample with
# `obtrace record` and checks that (1) the scenario still passes under the
# tracer, (2) the trace is complete, and (3) references the framework takes
# on its own behalf are traced: the driver object's reference taken inside
# IoCreateDevice (a device referencing its driver) has a stack whose first
# frame lies in libntsim.so; (4) each device IoCreateDevice made has
# exactly two OBJECT records up to its DEV_CREATE: its ObCreateObject's,
# without a driver, and the refresh naming its driver. Skips (77) until
# ntsim, the sample and obtrace are built.
set -uo pipefail
cd "$(dirname "$0")/../.."
O=${O:-build}
obtrace=$O/bin/obtrace
ntsim=$O/bin/ntsim
[ -x "$obtrace" ] && [ -x "$ntsim" ] && [ -f "$O/samples/legacy_clean/legacy_clean.so" ] || exit 77
tmp=$(mktemp -d /tmp/obt-fw-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

"$obtrace" record -o "$tmp/t.obt" -- "$ntsim" -L "$O/samples/legacy_clean" samples/legacy_clean/scenario.ntsim \
    >"$tmp/out" 2>"$tmp/err" || { echo "scenario failed under the tracer"; cat "$tmp/out" "$tmp/err"; exit 1; }
grep -q "trace written to $tmp/t.obt ([0-9]* events)" "$tmp/err" || { cat "$tmp/err"; exit 1; }
"$obtrace" dump "$tmp/t.obt" >"$tmp/dump" || exit 1
grep -q '^seq=[0-9]* tid=[0-9]* END ' "$tmp/dump" || { echo "no END record"; exit 1; }

# The first device creation, and the driver object's references between its
# OBJ_CREATE and its DEV_CREATE: one of them must come from inside libntsim.
awk '
    function hex(s,    i, v) {
        s = tolower(s); sub(/^0x/, "", s); v = 0
        for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
        return v
    }
    /MODULE_LOAD/ && /libntsim\.so"/ {
        for (i = 1; i <= NF; i++) {
            if ($i ~ /^start=/) lo = hex(substr($i, 7))
            if ($i ~ /^end=/) hi = hex(substr($i, 5))
        }
    }
    / STACK id=/ {
        for (i = 1; i <= NF; i++) {
            if ($i ~ /^id=/) id = substr($i, 4)
            if ($i ~ /^frames=/) { split(substr($i, 8), f, ","); first[id] = hex(f[1]) }
        }
    }
    / EVENT op=DEV_CREATE / { created = 1 }
    / EVENT op=OBJ_REF / && !created && / type=Driver / {
        for (i = 1; i <= NF; i++) if ($i ~ /^stack=/) s = substr($i, 7)
        if (first[s] >= lo && first[s] < hi) found = 1
    }
    END { if (!lo) { print "no libntsim module record"; exit 1 }
          if (!found) { print "no framework-internal reference on the driver object"; exit 1 } }
' "$tmp/dump" || { cat "$tmp/dump" | head -60; exit 1; }

awk '
    function field(name,    i) { for (i = 1; i <= NF; i++) if (index($i, name "=") == 1) return substr($i, length(name) + 2); return "" }
    / OBJECT id=/ { id = field("id"); n[id]++; if (n[id] == 1) first_owner[id] = field("owner"); last_owner[id] = field("owner") }
    / EVENT op=DEV_CREATE / {
        id = field("obj"); devices++
        if (n[id] != 2 || first_owner[id] != 0 || last_owner[id] != field("obj2")) {
            printf "device %s: %d OBJECT records before DEV_CREATE (owners %s, %s), expected 2 (0, %s)\n", id, n[id], first_owner[id], last_owner[id], field("obj2")
            bad = 1
        }
    }
    END { if (!devices) { print "no DEV_CREATE event"; exit 1 } exit bad }
' "$tmp/dump" || exit 1
echo ok

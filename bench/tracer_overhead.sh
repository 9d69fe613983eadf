#!/usr/bin/env bash
# The tracer's cost per event, measured side by side in one run (medians of
# $RUNS runs each): the workload is bench/tracer_bench.c, a ~25-frame call
# chain across two shared objects ending in ObfReferenceObject +
# ObfDereferenceObject (2 events per iteration), with one stack repeated or
# 2048 stacks alternating. Tracer costs are the traced time minus the
# untraced time of the same workload. Uses the real libntsim when
# $O/bench/tracer_bench exists, else the tracer tests' stand-in.
set -uo pipefail
O=${O:-build}
RUNS=${RUNS:-5}
ITERS=${ITERS:-200000}
bin=$O/bench/tracer_bench
[ -x "$bin" ] || bin=$O/bench/tracer_bench_fake
lib=$(realpath "$O/lib/libobtrace.so")
[ -x "$bin" ] && [ -f "$lib" ] || { echo "  tracer benchmark not built"; exit 1; }
tmp=$(mktemp -d /tmp/obt-bench-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }

# measure KEY FIELD [VAR=VALUE...] -- ARGS...: median of FIELD over RUNS runs
measure() {
    local field=$1; shift
    local envs=()
    while [ "$1" != "--" ]; do envs+=("$1"); shift; done
    shift
    for _ in $(seq "$RUNS"); do
        env "${envs[@]}" "$bin" "$@" | field "$field"
        rm -f "$tmp"/t-*.obt
    done | median
}

traced() { measure ns_per_event LD_PRELOAD="$lib" OBTRACE_OUTPUT="$tmp/t-%p.obt" OBTRACE_UNWIND="$1" -- ref "$2" 1 "$ITERS"; }

base1=$(measure ns_per_event X=1 -- ref 1 1 "$ITERS")
base2k=$(measure ns_per_event X=1 -- ref 2048 1 "$ITERS")
fp1=$(traced fp 1);      fp2k=$(traced fp 2048)
auto1=$(traced auto 1);  auto2k=$(traced auto 2048)
dw1=$(traced dwarf 1)
unw=$(measure ns_per_event X=1 -- unw 1 1 "$ITERS")
fpwalk=$(measure ns_per_event X=1 -- fp 1 1 "$ITERS")
malloc0=$(measure ns_per_event X=1 -- malloc 1 1 "$ITERS")
if command -v heaptrack >/dev/null; then
    heap=$(for _ in $(seq "$RUNS"); do
        (cd "$tmp" && heaptrack -o "$tmp/h" "$(realpath "$OLDPWD/$bin")" malloc 1 1 "$ITERS" 2>/dev/null) | field ns_per_event
        rm -f "$tmp"/h*
    done | median)
else
    heap=nan
fi
# trace size: one traced run, file bytes per event
LD_PRELOAD="$lib" OBTRACE_OUTPUT="$tmp/size-%p.obt" OBTRACE_UNWIND=auto "$bin" ref 1 1 "$ITERS" >/dev/null
size_bytes=$(stat -c %s "$tmp"/size-*.obt)
size_events=$((ITERS * 2 + 2 * 4096 + 1))
# threads: events/s with 1 and 2 threads (fp mode)
eps1=$(measure events_per_sec LD_PRELOAD="$lib" OBTRACE_OUTPUT="$tmp/t-%p.obt" OBTRACE_UNWIND=fp -- ref 1 1 "$ITERS")
eps2=$(measure events_per_sec LD_PRELOAD="$lib" OBTRACE_OUTPUT="$tmp/t-%p.obt" OBTRACE_UNWIND=fp -- ref 1 2 "$ITERS")

awk -v b1="$base1" -v b2k="$base2k" -v fp1="$fp1" -v fp2k="$fp2k" -v a1="$auto1" -v a2k="$auto2k" \
    -v dw1="$dw1" -v unw="$unw" -v fpw="$fpwalk" -v m0="$malloc0" -v heap="$heap" \
    -v sb="$size_bytes" -v se="$size_events" -v e1="$eps1" -v e2="$eps2" -v bin="$(basename "$bin")" 'BEGIN {
    printf "  workload %s, medians of %s runs (ns per event, per thread)\n", bin, ENVIRON["RUNS"] ? ENVIRON["RUNS"] : 5
    printf "  %-44s %10s %10s  %s\n", "measure", "ns/event", "measured", "target"
    printf "  %-44s %10.1f\n", "untraced call (repeated stack)", b1
    printf "  %-44s %10.1f\n", "untraced call (2048 stacks)", b2k
    printf "  %-44s %10.1f %10.1f  <= 80 ns added\n", "fp mode, repeated stack", fp1, fp1 - b1
    printf "  %-44s %10.1f %10.1f  <= 150 ns added\n", "fp mode, 2048 stacks", fp2k, fp2k - b2k
    printf "  %-44s %10.1f %10.1f  <= 80 ns added\n", "auto mode, repeated stack", a1, a1 - b1
    printf "  %-44s %10.1f %10.1f  <= 150 ns added\n", "auto mode, 2048 stacks", a2k, a2k - b2k
    printf "  %-44s %10.1f %9.2fx  <= 1.25x one unw_backtrace\n", "dwarf mode, repeated stack", dw1, (dw1 - b1) / unw
    printf "  %-44s %10.1f\n", "one bare unw_backtrace, 32 frames", unw
    printf "  %-44s %10.1f %9.2fx  (fp walk 5-9x cheaper)\n", "one bare frame-pointer walk, 32 frames", fpw, unw / fpw
    printf "  %-44s %10.1f\n", "malloc twin, untraced", m0
    if (heap == "nan") printf "  %-44s %10s\n", "malloc twin under heaptrack", "n/a"
    else printf "  %-44s %10.1f %9.2fx  >= 3x tracer (auto) cost\n", "malloc twin under heaptrack", heap, (heap - m0) / (a1 - b1)
    printf "  %-44s %10s %10.1f  < 32 bytes/event\n", "trace size, repeated stacks", "", sb / se
    printf "  %-44s %10s %9.2fx  >= 1.8x\n", "2 threads vs 1 thread, events/s (fp)", "", e2 / e1
}'

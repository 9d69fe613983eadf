#!/usr/bin/env bash
# The tracer's cost per event, measured side by side in one run: every
# configuration below runs once per round, rounds are repeated $RUNS times
# (interleaved, so a load change on the machine hits all of them alike) and
# each row is the median over the rounds. The workload is
# bench/tracer_bench.c: a ~25-frame call chain across two shared objects
# ending in ObfReferenceObject + ObfDereferenceObject (2 events per
# iteration), with one stack repeated or 2048 stacks alternating; every
# thread warms up on its own stack before its measured loop.
#
# What the rows mean (ns per event = CPU time of the whole process, tracer
# helper thread included, during the measured loop / events; unlike wall
# time it does not count time the machine gave to other work):
#   untraced        the same workload without the tracer
#   fp/auto         traced; "added" = traced - untraced, per event
#   dwarf           added cost per event / one bare unw_backtrace, where the
#                   bare unw_backtrace is the "unw" leaf minus the "none"
#                   leaf (the chain alone), i.e. the unwinder call by itself
#   fp walk         the same for a bare 32-frame frame-pointer walk
#   heaptrack       heaptrack on the malloc + free twin at the same depth:
#                   added ns per heaptrack event (malloc or free) / added ns
#                   per tracer event (auto mode, repeated stack); CPU time
#                   of the traced process (heaptrack_interpret, a separate
#                   process, is not counted: this favours heaptrack), and
#                   the same ratio from wall times
#   ... all processes   the same ratio from the CPU time of the whole run of
#                   every process it started, reaped children included
#                   (RUSAGE_CHILDREN of a launching subshell, bash's times):
#                   heaptrack_interpret counts; a run of 5*ITERS minus a run
#                   of 0 iterations, per lifetime call that adds, so start-up
#                   and exit cancel out; minus the untraced runs' the same way
#   trace size      file bytes / lifetime calls the run made (warm-up included)
#   threads         events/s with 2 threads / 1 thread, each thread doing
#                   the same work (ITERS iterations, each on its own
#                   object); shown untraced and traced on libntsim (whose
#                   reference path takes no lock: one compare-and-swap on
#                   the object's count) and traced on the tracer tests'
#                   lock-free libntsim stand-in, which isolates the tracer's
#                   own scaling
# Uses the real libntsim when $O/bench/tracer_bench exists, else the stand-in.
# OBTRACE_LIB=path measures another build of libobtrace.so (e.g. a baseline).
set -uo pipefail
O=${O:-build}
RUNS=${RUNS:-5}
ITERS=${ITERS:-200000}
bin=$O/bench/tracer_bench
[ -x "$bin" ] || bin=$O/bench/tracer_bench_fake
fake=$O/bench/tracer_bench_fake
lib=$(realpath "${OBTRACE_LIB:-$O/lib/libobtrace.so}")
[ -x "$bin" ] && [ -f "$lib" ] || { echo "  tracer benchmark not built"; exit 1; }
[ -x "$fake" ] || fake=
ns=cpu_ns_per_event
tmp=$(mktemp -d /tmp/obt-bench-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

median() { sort -g | awk '{a[NR]=$1} END {if (!NR) print "nan"; else print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
field() { sed -n "s/.*\(^\| \)$1=\([0-9.]*\).*/\2/p"; }

# one NAME FIELD BIN [VAR=VALUE...] -- ARGS...: runs once, appends FIELD to $tmp/v.NAME
one() {
    local name=$1 fld=$2 prog=$3; shift 3
    local envs=()
    while [ "$1" != "--" ]; do envs+=("$1"); shift; done
    shift
    env "${envs[@]}" "$prog" "$@" | field "$fld" >>"$tmp/v.$name"
    rm -f "$tmp"/t-*.obt
}
tenv() { echo LD_PRELOAD="$lib" OBTRACE_OUTPUT="$tmp/t-%p.obt" OBTRACE_UNWIND="$1"; }

# cpu_calls CMD...: "CPU-seconds calls" of one run of CMD, the CPU of every
# process it started (user + system, reaped children included: bash's times)
cpu_calls() {
    local t
    t=$( ("$@" >"$tmp/wout" 2>/dev/null; times) | tail -1 |
        awk '{n = 0; for (i = 1; i <= 2; i++) {split($i, a, /[ms]/); n += a[1] * 60 + a[2]}; print n}')
    echo "$t $(field calls <"$tmp/wout")"
    rm -f "$tmp"/t-*.obt "$tmp"/h*
}

# whole NAME CMD...: CPU ns per lifetime call of CMD 5*ITERS minus CMD 0 (start-up,
# warm-up and exit cancel out; child processes count), appended to $tmp/v.NAME
whole() {
    local name=$1; shift
    echo "$(cpu_calls "$@" $((ITERS * 5))) $(cpu_calls "$@" 0)" |
        awk '{if ($2 > $4) print ($1 - $3) * 1e9 / ($2 - $4)}' >>"$tmp/v.$name"
}

heaptrack_one() {
    command -v heaptrack >/dev/null || return 0
    local prog
    prog=$(realpath "$bin")
    (cd "$tmp" && heaptrack -o "$tmp/h" "$prog" malloc 1 1 "$ITERS" 2>/dev/null) >"$tmp/hout"
    field $ns <"$tmp/hout" >>"$tmp/v.heap"
    field ns_per_event <"$tmp/hout" >>"$tmp/v.heapw"
    rm -f "$tmp"/h*
    (cd "$tmp" && whole heapall heaptrack -o "$tmp/h" "$prog" malloc 1 1)
    whole malloc0all "$bin" malloc 1 1
    whole auto1all env $(tenv auto) "$bin" ref 1 1
    whole base1all "$bin" ref 1 1
}

size_one() {
    LD_PRELOAD="$lib" OBTRACE_OUTPUT="$tmp/size-%p.obt" OBTRACE_UNWIND=auto "$bin" ref 1 1 "$ITERS" |
        field calls >"$tmp/calls"
    echo "$(stat -c %s "$tmp"/size-*.obt) $(cat "$tmp/calls")" | awk '{print $1 / $2}' >>"$tmp/v.size"
    rm -f "$tmp"/size-*.obt
}

round() {
    one base1 $ns "$bin" X=1 -- ref 1 1 "$ITERS"
    one base2k $ns "$bin" X=1 -- ref 2048 1 "$ITERS"
    one fp1 $ns "$bin" $(tenv fp) -- ref 1 1 "$ITERS"
    one fp2k $ns "$bin" $(tenv fp) -- ref 2048 1 "$ITERS"
    one auto1 $ns "$bin" $(tenv auto) -- ref 1 1 "$ITERS"
    one auto2k $ns "$bin" $(tenv auto) -- ref 2048 1 "$ITERS"
    one dw1 $ns "$bin" $(tenv dwarf) -- ref 1 1 "$ITERS"
    one chain $ns "$bin" X=1 -- none 1 1 "$ITERS"
    one unw $ns "$bin" X=1 -- unw 1 1 "$ITERS"
    one fpwalk $ns "$bin" X=1 -- fp 1 1 "$ITERS"
    one malloc0 $ns "$bin" X=1 -- malloc 1 1 "$ITERS"
    one malloc0w ns_per_event "$bin" X=1 -- malloc 1 1 "$ITERS"
    one auto1w ns_per_event "$bin" $(tenv auto) -- ref 1 1 "$ITERS"
    one base1w ns_per_event "$bin" X=1 -- ref 1 1 "$ITERS"
    heaptrack_one
    size_one
    one ue1 events_per_sec "$bin" X=1 -- ref 1 1 "$ITERS"
    one ue2 events_per_sec "$bin" X=1 -- ref 1 2 "$ITERS"
    one e1 events_per_sec "$bin" $(tenv fp) -- ref 1 1 "$ITERS"
    one e2 events_per_sec "$bin" $(tenv fp) -- ref 1 2 "$ITERS"
    if [ -n "$fake" ]; then
        one fe1 events_per_sec "$fake" $(tenv fp) -- ref 1 1 "$ITERS"
        one fe2 events_per_sec "$fake" $(tenv fp) -- ref 1 2 "$ITERS"
        one fue1 events_per_sec "$fake" X=1 -- ref 1 1 "$ITERS"
        one fue2 events_per_sec "$fake" X=1 -- ref 1 2 "$ITERS"
    fi
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for _ in $(seq "$RUNS"); do round; done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

m() { [ -f "$tmp/v.$1" ] && median <"$tmp/v.$1" || echo nan; }
awk -v b1="$(m base1)" -v b2k="$(m base2k)" -v fp1="$(m fp1)" -v fp2k="$(m fp2k)" -v a1="$(m auto1)" \
    -v a2k="$(m auto2k)" -v dw1="$(m dw1)" -v chain="$(m chain)" -v unw="$(m unw)" -v fpw="$(m fpwalk)" \
    -v m0="$(m malloc0)" -v heap="$(m heap)" -v m0w="$(m malloc0w)" -v heapw="$(m heapw)" \
    -v a1w="$(m auto1w)" -v b1w="$(m base1w)" -v heapall="$(m heapall)" -v m0all="$(m malloc0all)" \
    -v a1all="$(m auto1all)" -v b1all="$(m base1all)" -v size="$(m size)" -v ue1="$(m ue1)" -v ue2="$(m ue2)" \
    -v e1="$(m e1)" -v e2="$(m e2)" -v fe1="$(m fe1)" -v fe2="$(m fe2)" -v fue1="$(m fue1)" -v fue2="$(m fue2)" \
    -v bin="$(basename "$bin")" -v runs="$RUNS" -v iters="$ITERS" -v l0="$load_before" -v l1="$load_after" 'BEGIN {
    printf "  workload %s, %s iterations, medians of %s interleaved rounds; load average %s -> %s\n", bin, iters, runs, l0, l1
    printf "  %-46s %10s %10s  %s\n", "measure", "ns/event", "measured", "target"
    printf "  %-46s %10.1f\n", "untraced call (repeated stack)", b1
    printf "  %-46s %10.1f\n", "untraced call (2048 stacks)", b2k
    printf "  %-46s %10.1f %10.1f  <= 80 ns added\n", "fp mode, repeated stack", fp1, fp1 - b1
    printf "  %-46s %10.1f %10.1f  <= 150 ns added\n", "fp mode, 2048 stacks", fp2k, fp2k - b2k
    printf "  %-46s %10.1f %10.1f  <= 80 ns added\n", "auto mode, repeated stack", a1, a1 - b1
    printf "  %-46s %10.1f %10.1f  <= 150 ns added\n", "auto mode, 2048 stacks", a2k, a2k - b2k
    bare_unw = unw - chain; bare_fp = fpw - chain
    printf "  %-46s %10.1f %9.2fx  <= 1.25x one unw_backtrace\n", "dwarf mode, repeated stack", dw1, (dw1 - b1) / bare_unw
    printf "  %-46s %10.1f\n", "the chain alone (per iteration)", chain
    printf "  %-46s %10.1f\n", "one bare unw_backtrace, 32 frames", bare_unw
    printf "  %-46s %10.1f %9.2fx  (fp walk 5-9x cheaper)\n", "one bare frame-pointer walk, 32 frames", bare_fp, bare_unw / bare_fp
    printf "  %-46s %10.1f\n", "malloc twin, untraced", m0
    if (heap == "nan") printf "  %-46s %10s\n", "malloc twin under heaptrack", "n/a"
    else {
        printf "  %-46s %10.1f %9.2fx  >= 3x tracer (auto) cost\n", "malloc twin under heaptrack", heap, (heap - m0) / (a1 - b1)
        printf "  %-46s %10.1f %9.2fx\n", "  the same in wall time", heapw, (heapw - m0w) / (a1w - b1w)
        if (heapall != "nan")
            printf "  %-46s %10.1f %9.2fx  (tracer %.1f added)\n", "  the same, CPU of all processes, whole run", heapall,
                   (heapall - m0all) / (a1all - b1all), a1all - b1all
    }
    printf "  %-46s %10s %10.1f  < 32 bytes/event\n", "trace size, repeated stacks", "", size
    printf "  %-46s %10s %9.2fx\n", "2 threads vs 1, events/s, untraced (libntsim)", "", ue2 / ue1
    printf "  %-46s %10s %9.2fx\n", "2 threads vs 1, events/s, fp (libntsim)", "", e2 / e1
    if (fe1 != "nan") {
        printf "  %-46s %10s %9.2fx\n", "2 threads vs 1, events/s, untraced (stand-in)", "", fue2 / fue1
        printf "  %-46s %10s %9.2fx  >= 1.8x\n", "2 threads vs 1, events/s, fp (stand-in)", "", fe2 / fe1
    }
}'

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
# What the rows mean. Every traced cost is shown twice:
#   event path      CPU time of the workload threads alone during their
#                   measured loops / events: what the traced code itself pays
#   process         CPU time of the whole process over the same span / events:
#                   the event path plus any other thread's (the tracer has
#                   none of its own now: each writer copies its full staging
#                   chunk into the file itself)
# Rows:
#   untraced        the same workload without the tracer
#   fp/auto         traced; "added" = traced - untraced, per event
#   dwarf           added cost per event / one bare unw_backtrace, where the
#                   bare unw_backtrace is the "unw" leaf minus the "none"
#                   leaf (the chain alone), i.e. the unwinder call by itself;
#                   a repeated stack is recalled without unwinding, 2048
#                   stacks in turn never are: both are shown
#   fp walk         the same for a bare 32-frame frame-pointer walk
#   heaptrack       heaptrack on the malloc + free twin at the same depth:
#                   added ns per heaptrack event (malloc or free) / added ns
#                   per tracer event (auto mode, repeated stack), both from
#                   the CPU of the traced process (all its threads;
#                   heaptrack_interpret, a separate process, is not counted:
#                   this favours heaptrack), and the same ratio from wall times
#   ... all processes   the same ratio from the CPU time of the whole run of
#                   every process it started, reaped children included
#                   (RUSAGE_CHILDREN of a launching subshell, bash's times):
#                   heaptrack_interpret counts; a run of 5*ITERS minus a run
#                   of 0 iterations, per lifetime call that adds, so start-up
#                   and exit cancel out; minus the untraced runs' the same way
#   uftrace         uftrace recording the same two library calls through the
#                   program's PLT, no stacks (its recorder is a separate
#                   process, not counted): added ns per call / the tracer's
#                   (auto); the target is > 1x, cheaper with stacks than
#                   uftrace without
#   ltrace          ltrace -f on the same calls, LTRACE_ITERS iterations (it
#                   stops the program at each call): wall ns per call / the
#                   tracer's added wall ns (auto); target >= 1000x
#   floor           the same calls recorded by a minimal recorder built from
#                   the tracer's own parts (tracer_bench floor: the tracer's
#                   frame-pointer walk, its intern table, a 28-byte record
#                   into a private buffer written with write(2)): the limit
#                   of an in-process recorder on this machine; fp and auto
#                   added are shown as ratios to its added cost, measured
#                   in the same round, so the distance reads alike on any
#                   machine (target <= 1.3x)
#   trace size      file bytes / lifetime calls the run made (warm-up included)
#   threads         events/s with 2 threads / 1 thread, each thread doing
#                   the same work (4*ITERS iterations, each on its own
#                   object), shown untraced and traced on libntsim (whose
#                   reference path takes no lock: one compare-and-swap on
#                   the object's count) and on the tracer tests' lock-free
#                   libntsim stand-in, which isolates the tracer's own
#                   scaling; then the traced scaling over the untraced one.
#                   The runs are pinned to the first two CPUs this script
#                   may use: 2 threads one on each, and 1 thread once on
#                   each, their mean the 1-thread rate. A VM's two CPUs can
#                   differ in speed by a fifth (here 34 against 28 M
#                   events/s, untraced), so an unpinned 1-thread run
#                   measured whichever CPU the scheduler picked, and the
#                   ratio of two such runs was that lottery: it ranged
#                   from 0.6 to 1.5 a set, bimodal. The scaling is the
#                   median over RUNS*TREPS sets of the six runs taken back
#                   to back. For the same reason every other row runs on
#                   the first CPU (the "all processes" runs, which start
#                   several programs, run where the scheduler puts them):
#                   a ratio of two rows is the ratio on one CPU.
# Uses the real libntsim when $O/bench/tracer_bench exists, else the stand-in.
# OBTRACE_LIB=path measures another build of libobtrace.so (e.g. a baseline).
set -uo pipefail
O=${O:-build}
RUNS=${RUNS:-5}
ITERS=${ITERS:-200000}
TITERS=$((ITERS * 4)) # the thread rows: long enough that a scheduling hiccup is a small part of a run
TREPS=${TREPS:-3}     # thread rows per round: their scaling is the median over RUNS*TREPS back-to-back sets
# The thread rows' CPUs: the first two of this process's (cpu_a,cpu_b), or only one CPU
cpus=$(awk -F'\t' '/^Cpus_allowed_list/ {
    n = split($2, r, ",")
    for (i = 1; i <= n && c < 2; i++) {
        split(r[i], b, "-"); hi = b[2] == "" ? b[1] : b[2]
        for (x = b[1] + 0; x <= hi + 0 && c < 2; x++) { o = o (c ? "," : "") x; c++ }
    }
    print o }' /proc/self/status)
# Every other row runs on cpu_a. They are passed unquoted: CPU numbers, and no argument when empty.
cpu_a=${cpus%%,*} cpu_b=${cpus##*,}
LTRACE_ITERS=${LTRACE_ITERS:-1000}
bin=$O/bench/tracer_bench
[ -x "$bin" ] || bin=$O/bench/tracer_bench_fake
fake=$O/bench/tracer_bench_fake
lib=$(realpath "${OBTRACE_LIB:-$O/lib/libobtrace.so}")
[ -x "$bin" ] && [ -f "$lib" ] || { echo "  tracer benchmark not built"; exit 1; }
[ -x "$fake" ] || fake=
tmp=$(mktemp -d /tmp/obt-bench-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

median() { sort -g | awk '{a[NR]=$1} END {if (!NR) print "nan"; else print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
field() { sed -n "s/.*\(^\| \)$1=\([0-9.]*\).*/\2/p"; }

# one NAME BIN [VAR=VALUE...] -- ARGS...: runs once, appends its result line to $tmp/l.NAME
one() {
    local name=$1 prog=$2; shift 2
    local envs=()
    while [ "$1" != "--" ]; do envs+=("$1"); shift; done
    shift
    env "${envs[@]}" "$prog" "$@" >>"$tmp/l.$name"
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
# warm-up and exit cancel out; child processes count), appended to $tmp/l.NAME
whole() {
    local name=$1; shift
    echo "$(cpu_calls "$@" $((ITERS * 5))) $(cpu_calls "$@" 0)" |
        awk '{if ($2 > $4) print "whole=" ($1 - $3) * 1e9 / ($2 - $4)}' >>"$tmp/l.$name"
}

heaptrack_one() {
    command -v heaptrack >/dev/null || return 0
    local prog
    prog=$(realpath "$bin")
    (cd "$tmp" && heaptrack -o "$tmp/h" "$prog" malloc 1 1 "$ITERS" $cpu_a 2>/dev/null) >>"$tmp/l.heap"
    rm -f "$tmp"/h*
    (cd "$tmp" && whole heapall heaptrack -o "$tmp/h" "$prog" malloc 1 1)
    whole malloc0all "$bin" malloc 1 1
    whole auto1all env $(tenv auto) "$bin" ref 1 1
    whole base1all "$bin" ref 1 1
}

# uftrace recording the same workload's library calls (ObfReferenceObject and
# ObfDereferenceObject through the program's PLT), without stacks
uftrace_one() {
    command -v uftrace >/dev/null || return 0
    uftrace record --force -d "$tmp/u" "$bin" ref 1 1 "$ITERS" $cpu_a 2>/dev/null >>"$tmp/l.uftrace"
    rm -rf "$tmp/u"
}

# ltrace on the same calls: LTRACE_ITERS iterations (it stops the program twice a call)
ltrace_one() {
    command -v ltrace >/dev/null || return 0
    ltrace -f -o /dev/null -e 'ObfReferenceObject+ObfDereferenceObject' "$bin" ref 1 1 "$LTRACE_ITERS" \
        2>/dev/null >>"$tmp/l.ltrace"
}

size_one() {
    LD_PRELOAD="$lib" OBTRACE_OUTPUT="$tmp/size-%p.obt" OBTRACE_UNWIND=auto "$bin" ref 1 1 "$ITERS" $cpu_a |
        field calls >"$tmp/calls"
    echo "$(stat -c %s "$tmp"/size-*.obt) $(cat "$tmp/calls")" | awk '{print "size=" $1 / $2}' >>"$tmp/l.size"
    rm -f "$tmp"/size-*.obt
}

round() {
    one base1 "$bin" X=1 -- ref 1 1 "$ITERS" $cpu_a
    one base2k "$bin" X=1 -- ref 2048 1 "$ITERS" $cpu_a
    one fp1 "$bin" $(tenv fp) -- ref 1 1 "$ITERS" $cpu_a
    one fp2k "$bin" $(tenv fp) -- ref 2048 1 "$ITERS" $cpu_a
    one auto1 "$bin" $(tenv auto) -- ref 1 1 "$ITERS" $cpu_a
    one auto2k "$bin" $(tenv auto) -- ref 2048 1 "$ITERS" $cpu_a
    one dw1 "$bin" $(tenv dwarf) -- ref 1 1 "$ITERS" $cpu_a
    one dw2k "$bin" $(tenv dwarf) -- ref 2048 1 "$ITERS" $cpu_a
    one floor1 "$bin" X=1 -- floor 1 1 "$ITERS" $cpu_a
    one floor2k "$bin" X=1 -- floor 2048 1 "$ITERS" $cpu_a
    one chain "$bin" X=1 -- none 1 1 "$ITERS" $cpu_a
    one unw "$bin" X=1 -- unw 1 1 "$ITERS" $cpu_a
    one fpwalk "$bin" X=1 -- fp 1 1 "$ITERS" $cpu_a
    one malloc0 "$bin" X=1 -- malloc 1 1 "$ITERS" $cpu_a
    heaptrack_one
    uftrace_one
    ltrace_one
    size_one
    for _ in $(seq "$TREPS"); do thread_set; done
}

# One set of the thread rows, back to back: untraced and traced, 1 thread on
# cpu_a, 1 on cpu_b, 2 threads one on each.
thread_set() {
    thread_runs t "$bin" X=1
    thread_runs fpt "$bin" $(tenv fp)
    if [ -n "$fake" ]; then
        thread_runs fake "$fake" X=1
        thread_runs fakefp "$fake" $(tenv fp)
    fi
}
# thread_runs NAME BIN VAR=VALUE...: NAME1a, NAME1b and NAME2 of one set
thread_runs() {
    local name=$1 prog=$2; shift 2
    one "${name}1a" "$prog" "$@" -- ref 1 1 "$TITERS" $cpu_a
    one "${name}1b" "$prog" "$@" -- ref 1 1 "$TITERS" $cpu_b
    one "${name}2" "$prog" "$@" -- ref 1 2 "$TITERS" $cpus
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for _ in $(seq "$RUNS"); do round; done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# m NAME FIELD: the median of FIELD over NAME's runs
m() { [ -f "$tmp/l.$1" ] && field "$2" <"$tmp/l.$1" | median || echo nan; }
# scaling U T: the median over the thread sets of T's scaling / U's, in events/s, where a
# scaling is 2 threads / the mean of 1 thread on each CPU; each set's six runs are back to
# back, so a slow spell of the machine hits one set, not a ratio's parts
scaling() {
    [ -f "$tmp/l.$1"2 ] || { echo nan; return; }
    for n in "$1"1a "$1"1b "$1"2 "$2"1a "$2"1b "$2"2; do field events_per_sec <"$tmp/l.$n" >"$tmp/c.$n"; done
    paste "$tmp/c.$1"1a "$tmp/c.$1"1b "$tmp/c.$1"2 "$tmp/c.$2"1a "$tmp/c.$2"1b "$tmp/c.$2"2 |
        awk '{print (2 * $6 / ($4 + $5)) / (2 * $3 / ($1 + $2))}' | median
}
# v NAME: NAME's medians as awk variables NAME_t (event path), NAME_p (process), NAME_w (wall), NAME_e (events/s)
v() {
    echo -v "$1_t=$(m "$1" thread_cpu_ns_per_event)" -v "$1_p=$(m "$1" cpu_ns_per_event)" \
        -v "$1_w=$(m "$1" ns_per_event)" -v "$1_e=$(m "$1" events_per_sec)"
}
# shellcheck disable=SC2046
awk $(for n in base1 base2k fp1 fp2k auto1 auto2k dw1 dw2k floor1 floor2k chain unw fpwalk malloc0 heap uftrace ltrace \
    t1a t1b t2 fpt1a fpt1b fpt2 fake1a fake1b fake2 fakefp1a fakefp1b fakefp2; do v $n; done) \
    -v heapall="$(m heapall whole)" -v m0all="$(m malloc0all whole)" -v a1all="$(m auto1all whole)" \
    -v b1all="$(m base1all whole)" -v size="$(m size size)" \
    -v scale_sim="$(scaling t fpt)" -v scale_fake="$(scaling fake fakefp)" -v treps="$TREPS" -v cpus="$cpus" \
    -v bin="$(basename "$bin")" -v runs="$RUNS" -v iters="$ITERS" -v l0="$load_before" -v l1="$load_after" '
function row(label, t, p, target) { printf "  %-44s %11.1f %11.1f  %s\n", label, t, p, target }
function ratio(label, t, p, target) { printf "  %-44s %10.2fx %10.2fx  %s\n", label, t, p, target }
function scale(one_a, one_b, two) { return 2 * two / (one_a + one_b) }
BEGIN {
    printf "  workload %s, %s iterations, medians of %s interleaved rounds (thread rows: %s sets a round); load average %s -> %s\n",
           bin, iters, runs, treps, l0, l1
    printf "  ns per event; event path = CPU of the traced threads, process = CPU of the whole process\n"
    printf "  %-44s %11s %11s  %s\n", "measure", "event path", "process", "target"
    row("untraced call (repeated stack)", base1_t, base1_p, "")
    row("untraced call (2048 stacks)", base2k_t, base2k_p, "")
    row("fp mode, repeated stack, added", fp1_t - base1_t, fp1_p - base1_p, "<= 80 ns")
    row("fp mode, 2048 stacks, added", fp2k_t - base2k_t, fp2k_p - base2k_p, "<= 150 ns")
    row("auto mode, repeated stack, added", auto1_t - base1_t, auto1_p - base1_p, "<= 80 ns")
    row("auto mode, 2048 stacks, added", auto2k_t - base2k_t, auto2k_p - base2k_p, "<= 150 ns")
    row("dwarf mode, repeated stack, added", dw1_t - base1_t, dw1_p - base1_p, "")
    row("dwarf mode, 2048 stacks, added", dw2k_t - base2k_t, dw2k_p - base2k_p, "")
    row("floor recorder, repeated stack, added", floor1_t - base1_t, floor1_p - base1_p, "")
    row("floor recorder, 2048 stacks, added", floor2k_t - base2k_t, floor2k_p - base2k_p, "")
    ratio("fp added / floor added, repeated stack", (fp1_t - base1_t) / (floor1_t - base1_t),
          (fp1_p - base1_p) / (floor1_p - base1_p), "<= 1.3x")
    ratio("auto added / floor added, repeated stack", (auto1_t - base1_t) / (floor1_t - base1_t),
          (auto1_p - base1_p) / (floor1_p - base1_p), "<= 1.3x")
    ratio("fp added / floor added, 2048 stacks", (fp2k_t - base2k_t) / (floor2k_t - base2k_t),
          (fp2k_p - base2k_p) / (floor2k_p - base2k_p), "")
    bare_unw = unw_t - chain_t; bare_fp = fpwalk_t - chain_t
    ratio("dwarf added / one bare unw_backtrace", (dw1_t - base1_t) / bare_unw, (dw1_p - base1_p) / bare_unw, "<= 1.25x")
    ratio("  the same, 2048 stacks (nothing recalled)", (dw2k_t - base2k_t) / bare_unw, (dw2k_p - base2k_p) / bare_unw, "")
    row("the chain alone (per iteration)", chain_t, chain_p, "")
    row("one bare unw_backtrace, 32 frames", bare_unw, unw_p - chain_p, "")
    row("one bare frame-pointer walk, 32 frames", bare_fp, fpwalk_p - chain_p, "")
    ratio("unw_backtrace / frame-pointer walk", bare_unw / bare_fp, (unw_p - chain_p) / (fpwalk_p - chain_p), "(5-9x)")
    row("malloc twin, untraced", malloc0_t, malloc0_p, "")
    if (heap_p == "nan") printf "  %-44s %11s\n", "malloc twin under heaptrack", "n/a"
    else {
        row("malloc twin under heaptrack", heap_t, heap_p, "")
        printf "  %-44s %11s %10.2fx  >= 3x tracer (auto) cost\n", "heaptrack added / tracer added", "",
               (heap_p - malloc0_p) / (auto1_p - base1_p)
        printf "  %-44s %11s %10.2fx\n", "  the same in wall time", "", (heap_w - malloc0_w) / (auto1_w - base1_w)
        if (heapall != "nan")
            printf "  %-44s %11s %10.2fx  (tracer %.1f ns added)\n", "  the same, CPU of all processes, whole run", "",
                   (heapall - m0all) / (a1all - b1all), a1all - b1all
    }
    if (uftrace_p == "nan") printf "  %-44s %11s\n", "uftrace, same calls, no stacks", "n/a"
    else {
        row("uftrace, same calls, no stacks, added", uftrace_t - base1_t, uftrace_p - base1_p, "")
        ratio("uftrace added / tracer (auto) added", (uftrace_t - base1_t) / (auto1_t - base1_t),
              (uftrace_p - base1_p) / (auto1_p - base1_p), "> 1x (cheaper with stacks)")
    }
    if (ltrace_w == "nan") printf "  %-44s %11s\n", "ltrace, same calls", "n/a"
    else printf "  %-44s %11.0f %10.0fx  >= 1000x (wall)\n", "ltrace, same calls, wall, / tracer (auto)", ltrace_w,
                (ltrace_w - base1_w) / (auto1_w - base1_w)
    printf "  %-44s %11s %11.1f  < 32 bytes/event\n", "trace size, repeated stacks", "", size
    printf "  thread rows on CPUs %s; 1 thread = the mean of a run on each\n", cpus
    printf "  %-44s %11s %10.2fx\n", "2 threads / 1, events/s, untraced (libntsim)", "", scale(t1a_e, t1b_e, t2_e)
    printf "  %-44s %11s %10.2fx  >= 1.8x\n", "2 threads / 1, events/s, fp (libntsim)", "", scale(fpt1a_e, fpt1b_e, fpt2_e)
    printf "  %-44s %11s %10.2fx  >= 0.95x\n", "  fp scaling / untraced scaling (libntsim)", "", scale_sim
    if (fake2_e != "nan") {
        printf "  %-44s %11s %10.2fx\n", "2 threads / 1, events/s, untraced (stand-in)", "", scale(fake1a_e, fake1b_e, fake2_e)
        printf "  %-44s %11s %10.2fx  >= 1.8x\n", "2 threads / 1, events/s, fp (stand-in)", "", scale(fakefp1a_e, fakefp1b_e, fakefp2_e)
        printf "  %-44s %11s %10.2fx  >= 0.95x\n", "  fp scaling / untraced scaling (stand-in)", "", scale_fake
    }
}'

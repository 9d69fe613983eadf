#!/usr/bin/env bash
# Analyzer benchmarks (bench/analyzer_throughput.c): report throughput
# without symbolization on a synthetic trace, peak memory against the
# trace size, and symbolized addresses per second. OBTRACE_BENCH_EVENTS
# sets the trace size (default 50 million events, about 1.3 GiB in $TMPDIR;
# the file is removed afterwards).
set -uo pipefail
O=${O:-build}
exec "$O/bench/analyzer_throughput" "$@" | sed 's/^/  /'

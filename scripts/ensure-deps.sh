#!/usr/bin/env bash
# Makes sure the Debian packages the build needs are installed: installs
# them when running as root, otherwise prints the exact command to run.
# `ensure-deps.sh bench` also installs the peers the tracer benchmark
# measures side by side (heaptrack, uftrace, ltrace); without them their
# rows read n/a.
set -euo pipefail
pkgs=(build-essential pkg-config libunwind-dev libdw-dev libelf-dev libjson-c-dev check)
[ "${1:-}" = bench ] && pkgs+=(heaptrack uftrace ltrace)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
    echo "installing: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq "${missing[@]}" >&2
else
    echo "missing packages: ${missing[*]}" >&2
    echo "run: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi

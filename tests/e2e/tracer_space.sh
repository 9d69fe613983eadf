#!/usr/bin/env bash
# The file system refusing the trace space never kills the traced program.
# On a 512 KiB tmpfs (a full disk) and under a 256 KiB file-size limit
# (ulimit -f: a quota the kernel enforces with SIGXFSZ), the tracee makes
# 100000 reference pairs, far more than fits: it must exit 0 as untraced,
# the header must say the trace was cut short, and `obtrace report` must
# exit 2 naming why, while the events that fit are still read. Needs a
# tmpfs mount (as root, or in a user namespace); skips (77) without one,
# and until the obtrace command and the tracer's test programs are built.
set -uo pipefail
cd "$(dirname "$0")/../.."
O=${O:-build}
obtrace=$(realpath "$O/bin/obtrace" 2>/dev/null)
tracee=$(realpath "$O/tests/tracer/tracee" 2>/dev/null)
lib=$(realpath "$O/lib/libobtrace.so" 2>/dev/null)
[ -x "$obtrace" ] && [ -x "$tracee" ] && [ -f "$lib" ] || exit 77

fail() { echo "FAIL: $*"; for f in "$tmp"/err*; do [ -f "$f" ] && sed 's/^/  /' "$f"; done; exit 1; }

# traced_run TRACE: the tracee under the tracer with only OBTRACE_* set (after the ASan runtime
# under sanitizers, see tests/run.sh); its exit status.
traced_run() {
    LD_PRELOAD="${OBTRACE_TEST_PRELOAD_PREFIX:+$OBTRACE_TEST_PRELOAD_PREFIX:}$lib" OBTRACE_OUTPUT="$1" "$tracee" refs 100000 >"$tmp/out" 2>"$tmp/err.run"
}

# expect_cut_short TRACE ERRNO_TEXT: exit 2 from report, the reason named, the first events kept.
expect_cut_short() {
    local trace=$1 why=$2 rc
    "$obtrace" report "$trace" >"$tmp/report" 2>"$tmp/err.report"
    rc=$?
    [ $rc -eq 2 ] || fail "obtrace report exited $rc, not 2"
    grep -q "^obtrace: $trace: the file system refused the trace more space ($why); the events after that were lost;" \
        "$tmp/err.report" || fail "report's error line does not name the refusal ($why)"
    grep -q "trace-incomplete.*the file system refused the trace more space ($why)" "$tmp/report" ||
        fail "no trace-incomplete finding naming the refusal"
    "$obtrace" dump "$trace" >"$tmp/dump" 2>"$tmp/err.dump" || fail "dump of the cut trace failed"
    grep -q '^header .* flags=0x0002 ' "$tmp/dump" || fail "header flag OBT_FILE_OUT_OF_SPACE not set"
    local refs
    refs=$(grep -c 'EVENT op=OBJ_REF ' "$tmp/dump")
    [ "$refs" -gt 1000 ] && [ "$refs" -lt 100000 ] || fail "$refs references recorded: not the part that fit"
}


tmp=$(mktemp -d /tmp/obt-space-XXXXXX)
trap 'umount "$tmp/fs" 2>/dev/null; rm -rf "$tmp"' EXIT

# A full disk: a 512 KiB tmpfs, mounted where we may (root, or a user namespace).
mkdir -p "$tmp/fs"
if mount -t tmpfs -o size=512k tmpfs "$tmp/fs" 2>/dev/null; then
    traced_run "$tmp/fs/t.obt"
    rc=$?
    [ $rc -eq 0 ] || fail "the tracee exited $rc on a full file system"
    expect_cut_short "$tmp/fs/t.obt" "No space left on device"
    umount "$tmp/fs"
else
    echo "SKIP: no tmpfs mount here: the full-disk case is not run"
    skipped=1
fi

# A file-size limit: the kernel raises SIGXFSZ past it, which would kill the tracee.
(ulimit -f 256 && traced_run "$tmp/t.obt")
rc=$?
[ $rc -eq 0 ] || fail "the tracee exited $rc under a file-size limit"
expect_cut_short "$tmp/t.obt" "File too large"
[ "${skipped:-0}" = 1 ] && exit 77
echo ok

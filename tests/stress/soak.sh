#!/usr/bin/env bash
# soak.sh - crash soak: a writer and a reader over one segment, each killed
# with SIGKILL at random moments and restarted, the writer sometimes stopped
# (SIGSTOP) past the stale threshold; then everything is checked.
# Usage: soak.sh SECONDS BUILD-DIR     (make stress runs it for 10 minutes)
set -euo pipefail

seconds=$1
build=$2
here=$(cd "$(dirname "$0")" && pwd)
PATH="$build/bin:$PATH"
seg="soak-$$"
work=$(mktemp -d "${TMPDIR:-/tmp}/eshm-soak.XXXXXX")
writer=
reader=
cleanup() {
    for p in $writer $reader; do kill -KILL "$p" 2>/dev/null || true; done
    eshm-clean --force "$seg" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

epoch=0
start_writer() {
    epoch=$((epoch + 1))
    "$build/tests/soak-writer" "$seg" "$epoch" "$work/progress-$epoch" 2>>"$work/writer.err" &
    writer=$!
}
start_reader() {
    echo "#restart" >>"$work/out"
    # -u: one message per write(2), released after it: a kill repeats at most one.
    # A writer killed and restarted is waited for (--retries x 100 ms).
    eshm-recv -u --retries 600 "$seg" >>"$work/out" 2>>"$work/reader.err" &
    reader=$!
}
rand() { echo $((RANDOM % $1)); }
nap() { sleep "0.$(printf '%03d' $((RANDOM % 1000)))"; }

start_writer
start_reader
end=$((SECONDS + seconds))
wkills=0 rkills=0 stops=0 stale_seen=0
while ((SECONDS < end)); do
    nap
    case $(rand 7) in
    0 | 1 | 2)
        kill -KILL "$writer"
        wait "$writer" 2>/dev/null || true
        wkills=$((wkills + 1))
        start_writer
        ;;
    3 | 4 | 5)
        kill -KILL "$reader"
        wait "$reader" 2>/dev/null || true
        rkills=$((rkills + 1))
        start_reader
        ;;
    6)
        # stopped past the stale threshold (100 ms): stale, never taken
        # over, never removed; the stream goes on after SIGCONT
        kill -STOP "$writer"
        stops=$((stops + 1))
        for _ in $(seq 1 100); do
            # --check exits 1 when it finds a problem: that is the point here
            problems=$(eshm-stat --check "$seg" || true)
            if grep -q "writer.*is stale" <<<"$problems"; then
                stale_seen=$((stale_seen + 1))
                break
            fi
            sleep 0.02
        done
        [ -e "/dev/shm/eshm_$seg" ] || { echo "segment removed while its writer was stopped"; exit 1; }
        kill -CONT "$writer"
        ;;
    esac
done

# the end: the writer finishes properly, the reader drains and stops at the
# mark. A writer started a moment ago may not have its SIGTERM handler yet:
# wait until it has committed something.
until [ -s "$work/progress-$epoch" ]; do sleep 0.01; done
kill -TERM "$writer"
status=0
wait "$writer" || status=$?
[ "$status" -eq 0 ] || { echo "the last writer failed ($status)"; cat "$work/writer.err"; exit 1; }
# the reader ends at the mark; one still running after a minute is a
# failure to report, not a hang to wait out
alive() { [ -e "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
for _ in $(seq 1 6000); do alive "$reader" || break; sleep 0.01; done
alive "$reader" && { echo "the last reader did not end at the end mark"; eshm-stat "$seg"; exit 1; }
wait "$reader" || status=$?
[ "$status" -eq 0 ] || { echo "the last reader failed ($status)"; cat "$work/reader.err"; exit 1; }
writer=""
reader=""

left=no
[ -e "/dev/shm/eshm_$seg" ] && left=yes
echo "soak: $seconds s, writer kills $wkills, reader kills $rkills, stops $stops (seen stale: $stale_seen), segment left: $left"
python3 "$here/verify.py" "$work/out" "$work"
[ "$left" = no ] && [ "$stale_seen" -eq "$stops" ]

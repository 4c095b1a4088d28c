#!/usr/bin/env bash
# soak.sh - crash soak: four writers and a reader over one channel, each
# killed with SIGKILL at random moments and restarted (some writers killed
# by the library's test hook between a claim and its commit), a writer
# sometimes stopped (SIGSTOP) past the stale threshold; then everything is
# checked: each writer's messages whole, in its order, none lost.
# Usage: soak.sh SECONDS BUILD-DIR     (make stress runs it for 10 minutes)
set -euo pipefail

seconds=$1
build=$2
here=$(cd "$(dirname "$0")" && pwd)
PATH="$build/bin:$PATH"
seg="soak-$$"
work=$(mktemp -d "${TMPDIR:-/tmp}/eshm-soak.XXXXXX")
NW=4
declare -a wepoch
writers=()
reader=
cleanup() {
    for p in "${writers[@]}" $reader; do kill -KILL "$p" 2>/dev/null || true; done
    eshm-clean --force "$seg" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

epoch=0
hooks=0
# start_writer K: a new writer (a new epoch) in slot K; one in three is set
# to die (SIGKILL, from the test hook) holding its Nth claim
start_writer() {
    epoch=$((epoch + 1))
    local kill_at=
    if ((RANDOM % 3 == 0)); then
        kill_at=$((1 + RANDOM % 3000))
        hooks=$((hooks + 1))
    fi
    ESHM_TEST_KILL_AT=$kill_at "$build/tests/soak-writer" "$seg" "$epoch" "$work/progress-$epoch" \
        2>>"$work/writer.err" &
    writers[$1]=$!
    wepoch[$1]=$epoch
}
start_reader() {
    echo "#restart" >>"$work/out"
    # -u: one message per write(2), released after it: a kill repeats at most one.
    # A writer killed and restarted is waited for (--retries x 100 ms).
    eshm-recv -u --retries 600 "$seg" >>"$work/out" 2>>"$work/reader.err" &
    reader=$!
}
rand() { echo $((RANDOM % $1)); }
# running, not a zombie waiting to be reaped
alive() { [ -e "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
nap() { sleep "0.$(printf '%03d' $((RANDOM % 1000)))"; }

# bash reports each job SIGKILL ended ("Killed") on its stderr: those of
# this shell go aside until the summary (the tools' own go to their files)
exec 3>&2 2>>"$work/jobs.err"
for ((k = 0; k < NW; k++)); do start_writer "$k"; done
start_reader
end=$((SECONDS + seconds))
wkills=0 rkills=0 stops=0 stale_seen=0 selfkills=0
while ((SECONDS < end)); do
    nap
    # writers the hook killed come back too
    for ((k = 0; k < NW; k++)); do
        if ! alive "${writers[$k]}"; then
            wait "${writers[$k]}" 2>/dev/null || true
            selfkills=$((selfkills + 1))
            start_writer "$k"
        fi
    done
    k=$(rand $NW)
    case $(rand 7) in
    0 | 1 | 2)
        kill -KILL "${writers[$k]}" 2>/dev/null || true
        wait "${writers[$k]}" 2>/dev/null || true
        wkills=$((wkills + 1))
        start_writer "$k"
        ;;
    3 | 4 | 5)
        kill -KILL "$reader"
        wait "$reader" 2>/dev/null || true
        rkills=$((rkills + 1))
        start_reader
        ;;
    6)
        # stopped past the stale threshold (100 ms): stale, never taken
        # over, never removed; the stream goes on after SIGCONT. Only a
        # writer that is attached (it committed something): one stopped
        # before it attached has no slot to look stale in
        [ -s "$work/progress-${wepoch[$k]}" ] || continue
        kill -STOP "${writers[$k]}" 2>/dev/null || continue
        # not one the hook killed: a zombie takes the signal and never
        # looks stale (the hook acts before SIGSTOP lands, or not at all)
        alive "${writers[$k]}" || continue
        stops=$((stops + 1))
        for _ in $(seq 1 100); do
            # --check exits 1 when it finds a problem: that is the point here
            problems=$(eshm-stat --check "$seg" || true)
            if grep -q "writer.*pid ${writers[$k]}) is stale" <<<"$problems"; then
                stale_seen=$((stale_seen + 1))
                break
            fi
            sleep 0.02
        done
        [ -e "/dev/shm/eshm_$seg" ] || { echo "segment removed while a writer was stopped"; exit 1; }
        kill -CONT "${writers[$k]}"
        ;;
    esac
done

# the end: the writers finish properly (a writer started a moment ago may
# not have its SIGTERM handler yet: wait until it has committed something;
# one the hook killed meanwhile is simply gone). Writers died attached, so
# the stream is lost; one last writer, alone on the channel, starts a new
# stream and ends it: then the reader drains and stops.
for ((k = 0; k < NW; k++)); do
    while alive "${writers[$k]}" && [ ! -s "$work/progress-${wepoch[$k]}" ]; do
        sleep 0.01
    done
    kill -TERM "${writers[$k]}" 2>/dev/null || true
    status=0
    wait "${writers[$k]}" 2>/dev/null || status=$?
    [ "$status" -eq 0 ] || [ "$status" -eq 137 ] ||
        { echo "a last writer failed ($status)"; cat "$work/writer.err"; exit 1; }
done
writers=()
epoch=$((epoch + 1))
"$build/tests/soak-writer" "$seg" "$epoch" "$work/progress-$epoch" 2>>"$work/writer.err" &
last=$!
until [ -s "$work/progress-$epoch" ]; do sleep 0.01; done
kill -TERM "$last"
status=0
wait "$last" || status=$?
[ "$status" -eq 0 ] || { echo "the last writer failed ($status)"; cat "$work/writer.err"; exit 1; }
# the reader ends at the end of stream; one still running after a minute
# is a failure to report, not a hang to wait out
for _ in $(seq 1 6000); do alive "$reader" || break; sleep 0.01; done
alive "$reader" && { echo "the last reader did not end at the end of stream"; eshm-stat "$seg"; exit 1; }
wait "$reader" || status=$?
[ "$status" -eq 0 ] || { echo "the last reader failed ($status)"; cat "$work/reader.err"; exit 1; }
reader=""

exec 2>&3 3>&-
left=no
[ -e "/dev/shm/eshm_$seg" ] && left=yes
echo "soak: $seconds s, $NW writers: kills $wkills, killed by the hook inside a claim $selfkills (of $hooks set), reader kills $rkills, stops $stops (seen stale: $stale_seen), segment left: $left"
python3 "$here/verify.py" "$work/out" "$work"
[ "$left" = no ] && [ "$stale_seen" -eq "$stops" ]

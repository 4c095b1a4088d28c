#!/usr/bin/env bash
# soak-groups.sh - crash soak of many readers: four writers and two consumer
# groups of two readers each on one channel, writers and readers killed
# with SIGKILL at random moments and restarted; then each group's output
# is checked: every committed message delivered to the group, none
# corrupted, repeats only for killed readers (one each: -u releases each
# message once written).
# Usage: soak-groups.sh SECONDS BUILD-DIR   (make stress runs it longer)
set -euo pipefail

seconds=$1
build=$2
here=$(cd "$(dirname "$0")" && pwd)
PATH="$build/bin:$PATH"
seg="soakg-$$"
work=$(mktemp -d "${TMPDIR:-/tmp}/eshm-soakg.XXXXXX")
NW=4
GROUPS_=(g1 g2)
RPG=2
writers=()
declare -A readers=()
cleanup() {
    for p in "${writers[@]}" "${readers[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    eshm-clean --force "$seg" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

epoch=0
start_writer() {
    epoch=$((epoch + 1))
    "$build/tests/soak-writer" "$seg" "$epoch" "$work/progress-$epoch" 2>>"$work/writer.err" &
    writers[$1]=$!
}
# start_reader GROUP K: reader K of GROUP, appending to its own file
start_reader() {
    echo "#restart" >>"$work/out.$1.$2"
    eshm-recv -u --keep --group "$1" --retries 600 "$seg" >>"$work/out.$1.$2" \
        2>>"$work/reader.err" &
    readers[$1.$2]=$!
}
rand() { echo $((RANDOM % $1)); }
alive() { [ -e "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
nap() { sleep "0.$(printf '%03d' $((RANDOM % 1000)))"; }

exec 3>&2 2>>"$work/jobs.err"
# the groups exist before the first message, so that each gets them all
for g in "${GROUPS_[@]}"; do
    for ((r = 0; r < RPG; r++)); do start_reader "$g" "$r"; done
done
until [ "$(eshm-stat --json "$seg" 2>/dev/null | grep -o '"live": [0-9]*' | awk '{s += $2} END {print s + 0}')" -ge $((${#GROUPS_[@]} * RPG)) ]; do
    sleep 0.01
done
for ((k = 0; k < NW; k++)); do start_writer "$k"; done
end=$((SECONDS + seconds))
wkills=0 rkills=0
while ((SECONDS < end)); do
    nap
    if (($(rand 2))); then
        k=$(rand $NW)
        kill -KILL "${writers[$k]}" 2>/dev/null || true
        wait "${writers[$k]}" 2>/dev/null || true
        wkills=$((wkills + 1))
        start_writer "$k"
    else
        g=${GROUPS_[$(rand ${#GROUPS_[@]})]}
        r=$(rand $RPG)
        kill -KILL "${readers[$g.$r]}" 2>/dev/null || true
        wait "${readers[$g.$r]}" 2>/dev/null || true
        rkills=$((rkills + 1))
        start_reader "$g" "$r"
    fi
done

# the end: the writers finish; one last writer, alone, ends the stream;
# then every reader of both groups drains and ends
for ((k = 0; k < NW; k++)); do
    while alive "${writers[$k]}" && [ ! -s "$work/progress-$((epoch - NW + 1 + k))" ]; do
        sleep 0.01
    done
    kill -TERM "${writers[$k]}" 2>/dev/null || true
    wait "${writers[$k]}" 2>/dev/null || true
done
writers=()
epoch=$((epoch + 1))
"$build/tests/soak-writer" "$seg" "$epoch" "$work/progress-$epoch" 2>>"$work/writer.err" &
last=$!
until [ -s "$work/progress-$epoch" ]; do sleep 0.01; done
kill -TERM "$last"
status=0
wait "$last" || status=$?
[ "$status" -eq 0 ] || { echo "the last writer failed ($status)" >&3; exit 1; }
for key in "${!readers[@]}"; do
    for _ in $(seq 1 6000); do alive "${readers[$key]}" || break; sleep 0.01; done
    if alive "${readers[$key]}"; then
        echo "reader $key did not end at the end of stream" >&3
        eshm-stat "$seg" >&3
        exit 1
    fi
    status=0
    wait "${readers[$key]}" || status=$?
    [ "$status" -eq 0 ] || { echo "reader $key failed ($status)" >&3; cat "$work/reader.err" >&3; exit 1; }
done
readers=()
exec 2>&3 3>&-
echo "soak-groups: $seconds s, $NW writers, ${#GROUPS_[@]} groups of $RPG readers: writer kills $wkills, reader kills $rkills"
python3 "$here/verify-groups.py" "$work" "${GROUPS_[@]}"

#!/usr/bin/env bats
# Descriptors for poll(2) (eshm_fileno): what the tools see of a poller's
# FIFO in /dev/shm, what a killed poller leaves and eshm-clean removes,
# and the filters waking a poller.

load helpers

B="${ESHM_BUILD:-$BATS_TEST_DIRNAME/../build}"

# poller_fns: bash functions for a private_shm script:
#   poller NAME VAR   a Python reader of segment NAME that made its
#                     descriptor and waits to be ended by pid: sets VAR to
#                     its pid and VAR_PATH to its FIFO's path
# If the script fails first, its exit ends them.
poller_fns() {
    printf 'PY=%q\nLIB=%q\n' "$BATS_TEST_DIRNAME/../python" "$B/libeshm.so"
    cat <<'EOF'
POLLERS=()
trap 'kill "${POLLERS[@]}" 2>/dev/null || true' EXIT
poller() {
    local out=/dev/shm/poller-$1 i
    PYTHONPATH=$PY ESHM_LIBRARY=$LIB python3 -c '
import eshm, os, signal, sys
ch = eshm.ESHM(sys.argv[1], role="slave", ends="read")
signal.signal(signal.SIGTERM, lambda *a: (ch.close(), sys.exit(0)))
print(os.readlink("/proc/self/fd/%d" % ch.fileno()), flush=True)
while True:
    signal.pause()' "$1" >"$out" &
    POLLERS+=($!)
    printf -v "$2" %s $!
    for ((i = 0; i < 500; i++)); do
        [ -s "$out" ] && break
        sleep 0.01
    done
    read -r "$2_PATH" <"$out"
    rm "$out"
}
EOF
}

@test "a poller's descriptor is a FIFO named for its pid, gone when it closes, never listed" {
    run -0 --separate-stderr private_shm "$(poller_fns)"'
        poller q A
        echo "$A $A_PATH"
        stat -c "%F %a" "$A_PATH"
        eshm-stat --json | python3 -c "import json, sys; d = json.load(sys.stdin); print([s[\"name\"] for s in d[\"segments\"]], d[\"leftovers\"])"
        eshm-stat --check
        eshm-clean -v
        [ -p "$A_PATH" ]
        kill -TERM "$A"; wait "$A"
        ls -A /dev/shm'
    read -r pid path <<<"${lines[0]}"
    [[ "$path" == "/dev/shm/.eshm-poll.$pid."* ]]
    [ "${lines[1]}" = "fifo 600" ]
    [ "${lines[2]}" = "['q'] []" ]
    [ "${#lines[@]}" -eq 3 ]
    [ "${stderr_lines[0]}" = "eshm-clean: q: kept: segment q has a live holder (pid $pid)" ]
    [ "${stderr_lines[1]}" = "eshm-clean: $path: kept: $path is the descriptor of pid $pid, which polls" ]
}

@test "eshm-clean removes the descriptor of a killed poller, never a live poller's; eshm-stat --check reports it" {
    run -0 --separate-stderr private_shm "$(poller_fns)"'
        poller live A
        poller dead B
        kill -KILL "$B"; wait "$B" || true
        echo "$B $B_PATH $A_PATH"
        eshm-stat --check || echo "check: $?"
        eshm-stat | grep -c "POLL: left by pid $B, which died; eshm-clean removes it"
        eshm-clean --dry-run
        [ -p "$B_PATH" ]
        eshm-clean
        [ ! -e "$B_PATH" ] && [ -p "$A_PATH" ]
        eshm-stat --check && echo "check: 0"
        kill -TERM "$A"; wait "$A" || true'
    read -r bpid bpath apath <<<"${lines[0]}"
    [[ "$bpath" == "/dev/shm/.eshm-poll.$bpid."* ]]
    # (the segment it read has a dead reader: a problem of its own)
    [ "${lines[1]}" = "dead: a reader of channel m2s (pid $bpid) died without detaching" ]
    [ "${lines[2]}" = "$bpath: descriptor left by pid $bpid, which died polling; eshm-clean removes it" ]
    [ "${lines[3]}" = "check: 1" ]
    [ "${lines[4]}" = 1 ]
    [ "${lines[5]}" = "would remove dead (empty)" ]
    [ "${lines[6]}" = "would remove $bpath (descriptor of pid $bpid, which died polling)" ]
    [ "${lines[7]}" = "removed dead (empty)" ]
    [ "${lines[8]}" = "removed $bpath (descriptor of pid $bpid, which died polling)" ]
    [ "${lines[9]}" = "check: 0" ]
    [ "${#lines[@]}" -eq 10 ]
    [[ "$apath" == /dev/shm/.eshm-poll.* ]]
}

@test "eshm-send's commits and end of stream wake a Python poller waiting in select" {
    mkfifo "$TMP/in"
    bg_sh "exec eshm-send --no-create --retries 100 -c 4K $SEG <$TMP/in"
    sender=$BG_PID
    # the input comes in bursts with pauses: the poller finds the channel
    # empty, and the sender a full channel, again and again
    bg_sh "for i in \$(seq 0 19); do seq \$((i * 1000 + 1)) \$((i * 1000 + 1000)); sleep 0.01; done >$TMP/in"
    run -0 py '
import select
n = 0
with eshm.ESHM(sys.argv[1], role="slave", ends="read", capacity=4096) as ch:
    fd, empty = ch.fileno(), 0
    while True:
        try:
            batch = ch.read_many(timeout=0)
        except eshm.EndOfStream:
            break
        if not batch:
            empty += 1
            r, _, _ = select.select([fd], [], [], 20)
            assert r, "no wakeup within 20 s after %d messages" % n
        for m in batch:
            n += 1
            assert m == str(n).encode(), (m, n)
print(n, empty > 1)' "$SEG"
    [ "$output" = "20000 True" ]
    wait_exit "$sender"
    [ "$EXIT_STATUS" -eq 0 ]
    seg_gone
}

py() {
    PYTHONPATH="$BATS_TEST_DIRNAME/../python" ESHM_LIBRARY="$B/libeshm.so" python3 -c "import eshm, sys, os
$1" "${@:2}"
}

#!/usr/bin/env bats
# Many writers on one channel (segment format 2, DESIGN 9): fan-in that
# loses nothing, whole messages, each writer's order, the end-of-stream
# rule, raw streams and exclusive writers, writers killed mid-claim.

load helpers

# start_writers N: N eshm-send attached and idle, reading one FIFO that
# fd 4 holds open; their pids in WRITERS
start_writers() {
    mkfifo "$TMP/in"
    WRITERS=()
    local i
    for ((i = 0; i < $1; i++)); do
        # 4>&-: no writer may hold the FIFO's write end, or none sees its end
        bg_sh "exec eshm-send -v $SEG <$TMP/in 2>$TMP/err.$i 4>&-"
        WRITERS+=("$BG_PID")
        [ "$i" -eq 0 ] && exec 4>"$TMP/in"
    done
    for ((i = 0; i < $1; i++)); do
        wait_until 10 grep -q "writing channel m2s" "$TMP/err.$i"
    done
}

@test "eight overlapping cron jobs: all exit 0, one eshm-recv prints all eight" {
    local pids=() i
    for i in $(seq 1 8); do
        bg_sh "echo 'job $i' | exec eshm-send $SEG"
        pids+=("$BG_PID")
    done
    for i in "${pids[@]}"; do
        wait_exit "$i"
        [ "$EXIT_STATUS" -eq 0 ]
    done
    run -0 eshm-recv "$SEG"
    [ "$(sort <<<"$output")" = "$(seq 1 8 | sed 's/^/job /' | sort)" ]
    seg_gone
}

@test "writers interleave only between messages, each one's in its order" {
    local pids=() i
    for i in 1 2 3 4; do
        bg_sh "seq -f 'w$i %g' 1 20000 | exec eshm-send -v -c 64K $SEG 2>$TMP/err.$i"
        pids+=("$BG_PID")
    done
    # all attached first (the ring fills and they wait): a writer that came
    # after the reader had ended the others' stream would wait for good
    for i in 1 2 3 4; do
        wait_until 10 grep -q "writing channel m2s" "$TMP/err.$i"
    done
    eshm-recv "$SEG" >"$TMP/out"
    for i in "${pids[@]}"; do
        wait_exit "$i"
        [ "$EXIT_STATUS" -eq 0 ]
    done
    [ "$(wc -l <"$TMP/out")" -eq 80000 ]
    for i in 1 2 3 4; do
        [ "$(grep "^w$i " "$TMP/out" | cut -d' ' -f2)" = "$(seq 1 20000)" ]
    done
    # nothing torn: every line is one writer's whole line
    [ "$(grep -cvE '^w[1-4] [0-9]+$' "$TMP/out")" -eq 0 ]
}

@test "the reader ends only when no writer is attached, and then at once" {
    start_writers 1
    bg_sh "exec eshm-recv $SEG >$TMP/out 2>$TMP/rerr 4>&-"
    reader=$BG_PID
    echo early | eshm-send "$SEG"
    wait_until 5 grep -qx early "$TMP/out"
    # a writer that finished does not end the stream while another is attached
    alive "$reader"
    exec 4>&-
    wait_exit "${WRITERS[0]}"
    [ "$EXIT_STATUS" -eq 0 ]
    wait_exit "$reader"
    [ "$EXIT_STATUS" -eq 0 ]
    [ "$(cat "$TMP/out")" = early ]
    seg_gone
}

@test "64 writers attach; the 65th gets an error naming the limit" {
    start_writers 64
    run -1 --separate-stderr eshm-send "$SEG" <<<"one too many"
    [ "$stderr" = "eshm-send: $SEG: channel m2s of $SEG has 64 live writers, the most it takes" ]
    run -0 eshm-stat --json "$SEG"
    [ "$(json 'len([w for w in d["segments"][0]["channels"]["m2s"]["writers"] if w["state"] == "alive"])' <<<"$output")" -eq 64 ]
    echo last >&4
    exec 4>&-
    for p in "${WRITERS[@]}"; do
        wait_exit "$p"
        [ "$EXIT_STATUS" -eq 0 ]
    done
    run -0 eshm-recv "$SEG"
    [ "$output" = last ]
}

@test "a writer killed between claim and commit blocks nobody; --check flags its claim" {
    start_writers 1
    # a test hook: the sender kills itself (SIGKILL) holding its first claim
    run -137 bash -c 'seq 1 3 | ESHM_TEST_KILL_AT=1 exec eshm-send "$1"' _ "$SEG"
    run -1 eshm-stat --check "$SEG"
    [[ "$output" == "$SEG: a writer of channel m2s (pid "*") died holding a claim of "*" bytes it never committed; readers skip it, and its stream is lost" ]]
    seq 100 199 | eshm-send "$SEG"
    exec 4>&-
    wait_exit "${WRITERS[0]}"
    [ "$EXIT_STATUS" -eq 0 ]
    # all that was committed, after the dead claim; then: writer lost
    run -1 --separate-stderr eshm-recv --retries 1 "$SEG"
    [ "$output" = "$(seq 100 199)" ]
    [[ "$stderr" == *"writer lost"* ]]
}

@test "a sole writer killed inside its reservation: the next stream goes past it" {
    run -137 bash -c 'seq 1 3 | ESHM_TEST_KILL_AT=1 exec eshm-send "$1"' _ "$SEG"
    run -0 eshm-stat --json "$SEG"
    [ "$(json 'd["segments"][0]["channels"]["m2s"]["writers"][0]["claimed"] > 0' <<<"$output")" = True ]
    seq 100 199 | eshm-send "$SEG"
    run -0 --separate-stderr eshm-recv "$SEG"
    [ "$output" = "$(seq 100 199)" ]
    seg_gone
}

@test "a raw writer has the channel to itself; --wait-turn waits for it" {
    start_writers 1
    run -1 --separate-stderr eshm-send --raw "$SEG" <<<"raw"
    [[ "$stderr" == *"a raw stream needs the channel to itself (--wait-turn waits for its turn)"* ]]
    bg_sh "exec 4>&-; printf 'raw bytes' | exec eshm-send --raw --wait-turn $SEG"
    rawpid=$BG_PID
    echo line >&4
    exec 4>&-
    wait_exit "${WRITERS[0]}"
    [ "$EXIT_STATUS" -eq 0 ]
    wait_exit "$rawpid"
    [ "$EXIT_STATUS" -eq 0 ]
    run -0 eshm-recv --raw "$SEG"
    [ "$output" = "lineraw bytes" ]
}

@test "a writer that meets a raw stream waits its turn, bounded by --timeout" {
    mkfifo "$TMP/raw"
    bg_sh "exec eshm-send --raw -v $SEG <$TMP/raw 2>$TMP/rawerr"
    rawpid=$BG_PID
    exec 4>"$TMP/raw"
    wait_until 5 grep -q "writing channel m2s" "$TMP/rawerr"
    run -124 --separate-stderr eshm-send --timeout 200ms "$SEG" <<<"line"
    [[ "$stderr" == *"is written by a raw stream (pid $rawpid); gave up waiting for its turn after 200 ms" ]]
    bg_sh "exec 4>&-; echo after | exec eshm-send $SEG"
    late=$BG_PID
    printf 'abc' >&4
    exec 4>&-
    wait_exit "$rawpid"
    wait_exit "$late"
    [ "$EXIT_STATUS" -eq 0 ]
    run -0 eshm-recv --raw "$SEG"
    [ "$output" = "abcafter" ]
}

@test "a raw writer with --wait-turn waits for another raw stream to end" {
    mkfifo "$TMP/raw"
    bg_sh "exec eshm-send --raw -v $SEG <$TMP/raw 2>$TMP/rawerr"
    first=$BG_PID
    exec 4>"$TMP/raw"
    wait_until 5 grep -q "writing channel m2s" "$TMP/rawerr"
    run -1 --separate-stderr eshm-send --raw "$SEG" <<<"refused"
    bg_sh "exec 4>&-; printf second | exec eshm-send --raw --wait-turn $SEG"
    second=$BG_PID
    printf first >&4
    exec 4>&-
    wait_exit "$first"
    [ "$EXIT_STATUS" -eq 0 ]
    wait_exit "$second"
    [ "$EXIT_STATUS" -eq 0 ]
    run -0 eshm-recv --raw "$SEG"
    [ "$output" = firstsecond ]
}

#!/usr/bin/env bats
# eshm-recv: options, exit codes, output framing, counts, timeouts, signals.

load helpers

@test "eshm-recv --help prints usage on stdout and exits 0" {
    run -0 --separate-stderr eshm-recv --help
    [[ "$output" == "Usage: eshm-recv [options] NAME"* ]]
    [[ "$output" == *"--follow"* ]]
    [ -z "$stderr" ]
}

@test "eshm-recv --version names the tool and the version" {
    run -0 eshm-recv --version
    [[ "$output" =~ ^eshm-recv\ \(eshm\)\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
}

@test "eshm-recv rejects an unknown option, a missing NAME and bad values with status 2" {
    run -2 --separate-stderr eshm-recv --bogus "$SEG"
    [[ "$stderr" == *"Try 'eshm-recv --help'."* ]]
    run -2 --separate-stderr eshm-recv
    [[ "$stderr" == *"missing segment NAME"* ]]
    run -2 eshm-recv -n 0 "$SEG"
    run -2 eshm-recv -n 3x "$SEG"
    run -2 eshm-recv -n -1 "$SEG"
    run -2 eshm-recv -t soon "$SEG"
    run -2 eshm-recv --role nobody "$SEG"
    run -2 eshm-recv -c 0 "$SEG"
    run -2 eshm-recv .bad
    seg_gone
}

@test "eshm-recv ends with 0 at end of stream" {
    seq 1 3 | eshm-send "$SEG"
    run -0 eshm-recv "$SEG"
    [ "$output" = "$(seq 1 3)" ]
    seg_gone
}

@test "eshm-recv -n takes exactly N messages and leaves the rest in the channel" {
    seq 1 10 | eshm-send "$SEG"
    run -0 eshm-recv -n 3 "$SEG"
    [ "$output" = "$(seq 1 3)" ]
    run -0 eshm-recv --count 3 "$SEG"
    [ "$output" = "$(seq 4 6)" ]
    seg_exists
    run -0 eshm-recv "$SEG"
    [ "$output" = "$(seq 7 10)" ]
    seg_gone
}

@test "eshm-recv -n 1 peeks one NUL record at a time" {
    printf 'a b\0c\0' | eshm-send -0 "$SEG"
    eshm-recv -n 1 "$SEG" >"$TMP/one"
    printf 'a b\0' | cmp - "$TMP/one"
    eshm-recv -n 1 "$SEG" >"$TMP/two"
    printf 'c\0' | cmp - "$TMP/two"
}

@test "eshm-recv --timeout exits 124 when nothing arrives" {
    run -124 --separate-stderr eshm-recv --timeout 150ms "$SEG"
    [ "$stderr" = "eshm-recv: $SEG: nothing arrived for 150 ms" ]
    seg_gone
    run -124 eshm-recv -t 0.1 "$SEG"
}

@test "eshm-recv --timeout counts from the last arrival, not from the start" {
    mkfifo "$TMP/in"
    bg_sh "exec eshm-send $SEG <$TMP/in"
    exec 4>"$TMP/in"
    echo first >&4
    run -124 --separate-stderr eshm-recv --timeout 300ms "$SEG"
    [ "$output" = first ]
    exec 4>&-
}

@test "eshm-recv output follows the writer's framing and can be overridden" {
    printf 'x\ny\n' | eshm-send "$SEG"
    eshm-recv -0 "$SEG" >"$TMP/nul"
    printf 'x\0y\0' | cmp - "$TMP/nul"
    printf 'x\ny\n' | eshm-send "$SEG"
    eshm-recv --raw "$SEG" >"$TMP/raw"
    printf 'xy' | cmp - "$TMP/raw"
    printf 'p\0q\0' | eshm-send -0 "$SEG"
    eshm-recv --lines "$SEG" >"$TMP/lines"
    printf 'p\nq\n' | cmp - "$TMP/lines"
    printf 'chunk' | eshm-send --raw "$SEG"
    eshm-recv --lines "$SEG" >"$TMP/rawlines"
    printf 'chunk\n' | cmp - "$TMP/rawlines"
}

@test "eshm-recv --follow goes on across end-of-stream marks and writers" {
    bg_sh "exec eshm-recv --follow $SEG >$TMP/out"
    reader=$BG_PID
    seq 1 3 | eshm-send "$SEG"
    wait_until 5 lines_at_least "$TMP/out" 3
    seq 4 6 | eshm-send "$SEG"
    wait_until 5 lines_at_least "$TMP/out" 6
    alive "$reader"
    kill -TERM "$reader"
    wait_exit "$reader"
    [ "$EXIT_STATUS" -eq 143 ]
    [ "$(cat "$TMP/out")" = "$(seq 1 6)" ]
    seg_gone
}

@test "eshm-recv with no writer yet waits for one, as cat waits on a FIFO" {
    bg_sh "exec eshm-recv -v $SEG >$TMP/out 2>$TMP/err"
    reader=$BG_PID
    wait_until 5 grep -q "writer none" "$TMP/err"
    alive "$reader"
    echo late | eshm-send "$SEG"
    wait_exit "$reader"
    [ "$EXIT_STATUS" -eq 0 ]
    [ "$(cat "$TMP/out")" = late ]
}

@test "eshm-recv --no-create gives up after --retries with status 1" {
    run -1 --separate-stderr eshm-recv --no-create --retries 2 "$SEG"
    [ "$stderr" = "eshm-recv: $SEG: no segment $SEG (waited 2 x 100 ms)" ]
    seg_gone
}

@test "eshm-recv --no-create picks up a segment that appears while it waits" {
    bg_sh "exec eshm-recv --no-create --retries 100 $SEG >$TMP/out"
    reader=$BG_PID
    seq 1 4 | eshm-send "$SEG"
    wait_exit "$reader"
    [ "$EXIT_STATUS" -eq 0 ]
    [ "$(cat "$TMP/out")" = "$(seq 1 4)" ]
}

@test "eshm-recv --exclusive is refused beside another reader, and refuses others" {
    bg_sh "exec eshm-recv -v $SEG >$TMP/out 2>$TMP/err"
    first=$BG_PID
    wait_until 5 grep -q "reading channel" "$TMP/err"
    run -1 --separate-stderr eshm-recv --exclusive "$SEG"
    [ "$stderr" = "eshm-recv: $SEG: channel m2s of $SEG already has a live reader (pid $first)" ]
    kill "$first"
    wait_exit "$first"
    bg_sh "exec eshm-recv -v --exclusive $SEG >$TMP/out 2>$TMP/err2"
    only=$BG_PID
    wait_until 5 grep -q "reading channel" "$TMP/err2"
    run -1 --separate-stderr eshm-recv "$SEG"
    [ "$stderr" = "eshm-recv: $SEG: channel m2s of $SEG already has a live reader (pid $only)" ]
}

@test "eshm-recv --takeover takes the end of a stopped reader, which then fails" {
    bg_sh "exec eshm-recv -v --stale 50ms $SEG >$TMP/out1 2>$TMP/err1"
    first=$BG_PID
    wait_until 5 grep -q "reading channel" "$TMP/err1"
    kill -STOP "$first"
    # stopped but alive: an exclusive reader is refused, named stale,
    # with the way out
    wait_until 5 bash -c "! eshm-recv --exclusive -t 1ms $SEG 2>&1 | grep -q live"
    run -1 --separate-stderr eshm-recv --exclusive "$SEG"
    [[ "$stderr" == *"stale reader (pid $first); --takeover takes it"* ]]
    echo taken | eshm-send "$SEG"
    run -0 eshm-recv --takeover "$SEG"
    [ "$output" = taken ]
    kill -CONT "$first"
    wait_exit "$first"
    [ "$EXIT_STATUS" -eq 1 ]
    grep -q "taken over by pid" "$TMP/err1"
}

@test "eshm-recv --role master reads the s2m channel" {
    echo back | eshm-send --role slave "$SEG"
    run -0 eshm-recv --role master "$SEG"
    [ "$output" = back ]
}

@test "eshm-recv creates the segment with its own --capacity, --mode and --keep" {
    run -124 eshm-recv -c 64K --mode 0660 --keep -t 50ms "$SEG"
    [ "$(stat -c %a "$(seg_path "$SEG")")" = 660 ]
    # a format-2 header (60 KiB: the slots of 2 x 144 holders, 2 x 16
    # groups, 2 x 64 readers' batches, samples of the claim over time) and
    # two rings
    [ "$(stat -c %s "$(seg_path "$SEG")")" = $((61440 + 2 * 65536)) ]
}

@test "eshm-recv --progress and --verbose report on stderr, data alone on stdout" {
    seq 1 500 | eshm-send "$SEG"
    eshm-recv -p -v "$SEG" >"$TMP/out" 2>"$TMP/err"
    [ "$(cat "$TMP/out")" = "$(seq 1 500)" ]
    grep -q "attached to segment, reading channel m2s; writer none" "$TMP/err"
    grep -q "500 messages" "$TMP/err"
    grep -q "end of stream" "$TMP/err"
}

@test "eshm-recv ended by SIGTERM detaches cleanly and dies of the signal" {
    bg_sh "exec eshm-recv -v $SEG >$TMP/out 2>$TMP/err"
    reader=$BG_PID
    wait_until 5 grep -q "reading channel" "$TMP/err"
    kill -TERM "$reader"
    wait_exit "$reader"
    [ "$EXIT_STATUS" -eq 143 ]
    # it was the last holder and nothing was pending
    seg_gone
}

@test "eshm-recv ended by SIGINT keeps what it has not written" {
    seq 1 5 | eshm-send --keep "$SEG"
    bg_sh "exec eshm-recv -v -n 2 $SEG >$TMP/out 2>$TMP/err"
    wait_exit "$BG_PID"
    [ "$EXIT_STATUS" -eq 0 ]
    bg_sh "exec eshm-recv -v --follow $SEG >$TMP/out2 2>$TMP/err2"
    reader=$BG_PID
    wait_until 5 lines_at_least "$TMP/out2" 3
    kill -INT "$reader"
    wait_exit "$reader"
    [ "$EXIT_STATUS" -eq 130 ]
    [ "$(cat "$TMP/out" "$TMP/out2")" = "$(seq 1 5)" ]
}

@test "eshm-recv whose output is closed dies of SIGPIPE and keeps the unwritten rest" {
    seq 1 100000 | eshm-send "$SEG"
    run -0 bash -c "set -o pipefail; eshm-recv $SEG | head -n 1; echo \"status \${PIPESTATUS[0]}\""
    [ "${lines[0]}" = 1 ]
    [ "${lines[1]}" = "status 141" ]
    # nothing is lost after the point where the pipe closed
    eshm-recv "$SEG" >"$TMP/rest"
    first=$(head -n 1 "$TMP/rest")
    [ "$first" -gt 1 ]
    [ "$(cat "$TMP/rest")" = "$(seq "$first" 100000)" ]
}

@test "eshm-recv -u writes one message at a time" {
    seq 1 1000 | eshm-send "$SEG"
    run -0 eshm-recv -u "$SEG"
    [ "$output" = "$(seq 1 1000)" ]
}

@test "eshm-recv refuses a garbage file in place of the segment with a clear error" {
    printf 'garbage' >"$(seg_path "$SEG")"
    run -1 --separate-stderr eshm-recv "$SEG"
    [[ "$stderr" == "eshm-recv: $SEG: "*"is not an eshm segment"* ]]
    [ "$(cat "$(seg_path "$SEG")")" = garbage ]
}

@test "eshm-recv fails with 1 and 'writer lost' when its writer dies and none comes back" {
    mkfifo "$TMP/in"
    bg_sh "exec eshm-send -v $SEG <$TMP/in 2>$TMP/err"
    writer=$BG_PID
    exec 4>"$TMP/in"
    printf '1\n2\n3\npartial' >&4
    bg_sh "exec eshm-recv --retries 3 $SEG >$TMP/out 2>$TMP/rerr"
    reader=$BG_PID
    wait_until 5 lines_at_least "$TMP/out" 3
    kill -KILL "$writer"
    wait_exit "$writer"
    exec 4>&-
    wait_exit "$reader"
    [ "$EXIT_STATUS" -eq 1 ]
    grep -q "writer lost" "$TMP/rerr"
    # whole messages only: the unfinished line was never published
    [ "$(cat "$TMP/out")" = "$(seq 1 3)" ]
}

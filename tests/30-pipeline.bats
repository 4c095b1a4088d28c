#!/usr/bin/env bats
# eshm-send and eshm-recv together: start order, bulk data, crashes of either side.

load helpers

# check_sequence N FILE...: the files, concatenated, hold 1..N in order,
# where numbers may repeat only as one run right after a restart; prints the
# number of repeated lines. A torn last line of a killed reader's output
# (the process died inside write(2)) is dropped first.
check_sequence() {
    local n=$1
    shift
    local f all="$TMP/all"
    : >"$all"
    for f in "$@"; do
        if [ -s "$f" ] && [ "$(tail -c 1 "$f" | od -An -c | tr -d ' ')" != '\n' ]; then
            head -n "$(wc -l <"$f")" "$f" >>"$all"
        else
            cat "$f" >>"$all"
        fi
    done
    awk -v n="$n" '
        BEGIN { want = 1; dups = 0; runs = 0; inrun = 0 }
        $0 == want { want++; inrun = 0; next }
        $0 + 0 < want { dups++; if (!inrun) { runs++; inrun = 1 }; next }
        { printf "gap: expected %d, got %s\n", want, $0; exit 1 }
        END {
            if (want != n + 1) { printf "ended at %d of %d\n", want - 1, n; exit 1 }
            if (runs > 1) { printf "%d runs of repeats\n", runs; exit 1 }
            print dups
        }' "$all"
}

@test "a million lines arrive intact when the sender starts first" {
    bg_sh "seq 1 1000000 | exec eshm-send $SEG"
    sender=$BG_PID
    wait_until 5 seg_exists
    eshm-recv "$SEG" | cmp - <(seq 1 1000000)
    wait_exit "$sender"
    [ "$EXIT_STATUS" -eq 0 ]
    seg_gone
}

@test "a million lines arrive intact when the receiver starts first" {
    bg_sh "exec eshm-recv $SEG >$TMP/out"
    reader=$BG_PID
    wait_until 5 seg_exists
    seq 1 1000000 | eshm-send "$SEG"
    wait_exit "$reader"
    [ "$EXIT_STATUS" -eq 0 ]
    seq 1 1000000 | cmp - "$TMP/out"
    seg_gone
}

@test "data sent before the receiver exists waits for it in the segment" {
    seq 1 50000 | eshm-send "$SEG"
    seg_exists
    run -0 eshm-recv "$SEG"
    [ "$output" = "$(seq 1 50000)" ]
    seg_gone
}

@test "64 MiB of random bytes round-trip byte-identical with --raw" {
    head -c 64M /dev/urandom >"$TMP/in"
    bg_sh "exec eshm-send --raw $SEG <$TMP/in"
    sender=$BG_PID
    eshm-recv "$SEG" >"$TMP/out"
    wait_exit "$sender"
    [ "$EXIT_STATUS" -eq 0 ]
    cmp "$TMP/in" "$TMP/out"
    seg_gone
}

@test "long lines across many reads and ring wraps arrive whole" {
    # lines of up to 300 KiB in a 1 MiB ring, written in pipe-sized pieces
    awk 'BEGIN { srand(7); for (i = 1; i <= 400; i++) { n = int(rand() * 300000);
         s = sprintf("%d:", i); while (length(s) < n) s = s "abcdefghij"; print s } }' >"$TMP/in"
    bg_sh "cat $TMP/in | exec eshm-send $SEG"
    eshm-recv "$SEG" >"$TMP/out"
    cmp "$TMP/in" "$TMP/out"
}

@test "a writer killed with SIGKILL mid-stream leaves only whole messages" {
    bg_sh "exec eshm-recv --retries 2 $SEG >$TMP/out 2>$TMP/err"
    reader=$BG_PID
    wait_until 5 seg_exists
    # an endless stream of numbered lines, killed while it flows
    mkfifo "$TMP/in"
    bg_sh "exec seq 1 100000000 >$TMP/in"
    bg_sh "exec eshm-send $SEG <$TMP/in"
    writer=$BG_PID
    wait_until 10 bytes_at_least "$TMP/out" 5000000
    kill -KILL "$writer"
    wait_exit "$reader"
    [ "$EXIT_STATUS" -eq 1 ]
    grep -q "writer lost" "$TMP/err"
    # every line whole and in order, the output ending with a newline
    [ "$(tail -c 1 "$TMP/out" | od -An -c | tr -d ' ')" = '\n' ]
    n=$(wc -l <"$TMP/out")
    [ "$n" -gt 100000 ]
    cmp "$TMP/out" <(seq 1 "$n")
}

# Kill the reader while it is blocked writing to a pipe we stop reading
# from, restart it, and check nothing was lost. Prints the repeat count.
reader_kill_restart() {
    local opts=$1
    mkfifo "$TMP/pipe"
    bg_sh "seq 1 300000 | exec eshm-send $SEG"
    sender=$BG_PID
    bg_sh "exec eshm-recv $opts $SEG >$TMP/pipe"
    reader=$BG_PID
    exec 5<"$TMP/pipe"
    head -c 200000 <&5 >"$TMP/out1"
    # its next write blocks on the full pipe: it is mid-stream
    kill -KILL "$reader"
    wait_exit "$reader"
    cat <&5 >>"$TMP/out1"
    exec 5<&-
    [ "$(wc -l <"$TMP/out1")" -lt 300000 ]
    eshm-recv "$opts" "$SEG" >"$TMP/out2"
    wait_exit "$sender"
    [ "$EXIT_STATUS" -eq 0 ]
    check_sequence 300000 "$TMP/out1" "$TMP/out2"
}

@test "a reader killed with SIGKILL and restarted loses nothing" {
    run -0 reader_kill_restart --lines
    echo "repeated lines: $output" >&3
    # repeats are at most the batch that was being written when it died
    [ "$output" -lt 300000 ]
    seg_gone
}

@test "a reader killed with SIGKILL in -u mode repeats at most one message" {
    run -0 reader_kill_restart -u
    echo "repeated lines: $output" >&3
    [ "$output" -le 1 ]
    seg_gone
}

# delivered N: the reader has released N messages of channel m2s
delivered() {
    eshm-stat --json "$SEG" | grep -q "\"msgs_out\": $1,"
}

@test "a reader killed after the last message and restarted once the writer has left sees the end" {
    mkfifo "$TMP/in"
    bg_sh "exec eshm-send $SEG <$TMP/in"
    sender=$BG_PID
    exec 4>"$TMP/in"
    printf 'a\nb\n' >&4
    bg_sh "exec eshm-recv $SEG >$TMP/out1"
    reader=$BG_PID
    wait_until 5 delivered 2
    kill -KILL "$reader"
    wait_exit "$reader"
    exec 4>&-
    wait_exit "$sender"
    [ "$EXIT_STATUS" -eq 0 ]
    # the end mark keeps the segment for the reader that died before it
    seg_exists
    run -0 --separate-stderr eshm-recv --timeout 5s "$SEG"
    [ -z "$output" ]
    [ "$(cat "$TMP/out1")" = "$(printf 'a\nb')" ]
    seg_gone
}

@test "two pipelines in both directions share one segment" {
    bg_sh "seq 1 1000 | exec eshm-send $SEG"
    bg_sh "seq 5001 6000 | exec eshm-send --role slave $SEG"
    run -0 eshm-recv "$SEG"
    [ "$output" = "$(seq 1 1000)" ]
    run -0 eshm-recv --role master "$SEG"
    [ "$output" = "$(seq 5001 6000)" ]
    seg_gone
}

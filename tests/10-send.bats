#!/usr/bin/env bats
# eshm-send: options, exit codes, framing, signals, permissions.

load helpers

@test "eshm-send --help prints usage on stdout and exits 0" {
    run -0 --separate-stderr eshm-send --help
    [[ "$output" == "Usage: eshm-send [options] NAME"* ]]
    [[ "$output" == *"--capacity SIZE"* ]]
    [ -z "$stderr" ]
}

@test "eshm-send --version names the tool and the version" {
    run -0 eshm-send --version
    [[ "$output" =~ ^eshm-send\ \(eshm\)\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
    run -0 eshm-send -V
}

@test "eshm-send rejects an unknown option with status 2 and a hint" {
    run -2 --separate-stderr eshm-send --bogus "$SEG"
    [[ "$stderr" == *"Try 'eshm-send --help'."* ]]
    seg_gone
}

@test "eshm-send without a NAME is a usage error" {
    run -2 --separate-stderr eshm-send
    [[ "$stderr" == *"missing segment NAME"* ]]
    run -2 eshm-send "$SEG" extra
}

@test "eshm-send refuses invalid names and says what a valid one is" {
    for bad in .hidden -dash 'a/b' 'sp ace' "$(printf 'x%.0s' {1..201})"; do
        run -2 --separate-stderr eshm-send -- "$bad" </dev/null
        [[ "$stderr" == *"invalid segment name"*"1-200 characters"* ]]
    done
}

@test "eshm-send rejects bad sizes, durations, modes and roles with status 2" {
    run -2 --separate-stderr eshm-send -c 12Q "$SEG"
    [[ "$stderr" == *"invalid size for --capacity: '12Q'"* ]]
    run -2 eshm-send -c 1K "$SEG"
    run -2 eshm-send -c 3G "$SEG"
    run -2 --separate-stderr eshm-send -t 5x "$SEG"
    [[ "$stderr" == *"invalid duration for --timeout"* ]]
    run -2 eshm-send -t '' "$SEG"
    run -2 eshm-send --mode 0999 "$SEG"
    run -2 eshm-send --mode 01777 "$SEG"
    run -2 eshm-send --role boss "$SEG"
    run -2 eshm-send --retries -1 "$SEG"
    run -2 eshm-send --heartbeat 0 "$SEG"
    run -2 eshm-send --heartbeat 10ms --stale 5ms "$SEG"
    seg_gone
}

@test "eshm-send queues lines that a later eshm-recv gets, then the segment goes" {
    seq 1 1000 | eshm-send "$SEG"
    seg_exists
    run -0 eshm-recv "$SEG"
    [ "$output" = "$(seq 1 1000)" ]
    seg_gone
}

@test "eshm-send of empty input marks end of stream for a later reader" {
    eshm-send "$SEG" </dev/null
    seg_exists
    run -0 eshm-recv --timeout 5 "$SEG"
    [ -z "$output" ]
    seg_gone
}

@test "eshm-send sends a last line without a newline as a message" {
    printf 'a\nb' | eshm-send "$SEG"
    run -0 eshm-recv "$SEG"
    [ "$output" = "$(printf 'a\nb')" ]
}

@test "eshm-send -0 sends NUL-terminated records that come out as they went in" {
    printf 'one\0two words\0' | eshm-send -0 "$SEG"
    eshm-recv "$SEG" >"$TMP/out"
    printf 'one\0two words\0' | cmp - "$TMP/out"
    printf 'a\0b\0' | eshm-send --null "$SEG"
    run -0 eshm-recv --lines "$SEG"
    [ "$output" = "$(printf 'a\nb')" ]
}

@test "eshm-send --raw carries bytes exactly, including NULs and no final newline" {
    head -c 100000 /dev/urandom >"$TMP/in"
    eshm-send --raw "$SEG" <"$TMP/in"
    eshm-recv "$SEG" >"$TMP/out"
    cmp "$TMP/in" "$TMP/out"
}

@test "eshm-send --lines after -0 takes the last framing given" {
    printf 'x\ny\n' | eshm-send -0 --lines "$SEG"
    run -0 eshm-recv "$SEG"
    [ "$output" = "$(printf 'x\ny')" ]
}

@test "eshm-send creates the segment with mode 0600 whatever the umask" {
    (umask 000 && eshm-send --keep "$SEG" </dev/null)
    [ "$(stat -c %a "$(seg_path "$SEG")")" = 600 ]
}

@test "eshm-send --mode sets the permissions exactly" {
    (umask 077 && eshm-send --keep --mode 0640 "$SEG" </dev/null)
    [ "$(stat -c %a "$(seg_path "$SEG")")" = 640 ]
    # and a later default opener refuses the wider segment, saying how to accept it
    run -1 --separate-stderr eshm-recv "$SEG"
    [[ "$stderr" == *"has mode 0640, wider than the 0600 asked for"*"--mode 0640"* ]]
    run -0 eshm-recv --mode 0640 "$SEG"
}

@test "eshm-send refuses a symbolic link in place of the segment" {
    echo secret >"$TMP/target"
    ln -s "$TMP/target" "$(seg_path "$SEG")"
    run -1 --separate-stderr eshm-send "$SEG" <<<"data"
    [[ "$stderr" == "eshm-send: $SEG: "*"is a symbolic link; refusing to follow it" ]]
    [ "$(cat "$TMP/target")" = secret ]
    [ -L "$(seg_path "$SEG")" ]
}

@test "eshm-send refuses a garbage file in place of the segment with a clear error" {
    echo "not a segment at all, just some bytes" >"$(seg_path "$SEG")"
    chmod 600 "$(seg_path "$SEG")"
    run -1 --separate-stderr eshm-send "$SEG" <<<"data"
    [[ "$stderr" == "eshm-send: $SEG: "*"not an eshm segment"* ]]
    head -c 8192 /dev/urandom >"$(seg_path "$SEG")"
    run -1 --separate-stderr eshm-send "$SEG" <<<"data"
    [[ "$stderr" == *"not an eshm segment"* ]]
}

@test "an --exclusive eshm-send refuses other writers, naming its pid" {
    mkfifo "$TMP/in"
    bg_sh "exec eshm-send --exclusive -v $SEG <$TMP/in 2>$TMP/err1"
    first=$BG_PID
    exec 4>"$TMP/in"
    wait_until 5 grep -q "writing channel m2s" "$TMP/err1"
    run -1 --separate-stderr eshm-send "$SEG" <<<"second"
    [ "$stderr" = "eshm-send: $SEG: channel m2s of $SEG already has a live writer (pid $first)" ]
    run -1 --separate-stderr eshm-send --exclusive "$SEG" <<<"third"
    [ "$stderr" = "eshm-send: $SEG: channel m2s of $SEG already has a live writer (pid $first)" ]
    echo first >&4
    exec 4>&-
    wait_exit "$first"
    [ "$EXIT_STATUS" -eq 0 ]
    run -0 eshm-recv "$SEG"
    [ "$output" = first ]
}

@test "--exclusive is refused while a sharing writer is attached" {
    mkfifo "$TMP/in"
    bg_sh "exec eshm-send -v $SEG <$TMP/in 2>$TMP/err1"
    first=$BG_PID
    exec 4>"$TMP/in"
    wait_until 5 grep -q "writing channel m2s" "$TMP/err1"
    run -1 --separate-stderr eshm-send --exclusive "$SEG" <<<"second"
    [ "$stderr" = "eshm-send: $SEG: channel m2s of $SEG already has a live writer (pid $first)" ]
    exec 4>&-
    wait_exit "$first"
    [ "$EXIT_STATUS" -eq 0 ]
}

@test "eshm-send --role slave writes the s2m channel" {
    echo reply | eshm-send --role slave "$SEG"
    run -124 eshm-recv --timeout 100ms "$SEG"
    run -0 eshm-recv --role master "$SEG"
    [ "$output" = reply ]
    seg_gone
}

@test "eshm-send --timeout gives up with 124 when the channel stays full" {
    run -124 --separate-stderr eshm-send -c 4K --timeout 200ms "$SEG" < <(seq 1 100000)
    [[ "$stderr" == *"stayed full"* ]]
    # what was committed stays; the stream is not complete, so a reader
    # gets it all and then a lost writer, not an end of stream
    run -1 --separate-stderr eshm-recv --retries 2 "$SEG"
    [ "${lines[0]}" = 1 ]
    [ "$output" = "$(seq 1 "${#lines[@]}")" ]
    [[ "$stderr" == *"writer lost"* ]]
}

@test "eshm-send names both sizes and the fix when a line exceeds the channel" {
    { echo before; head -c 5000 /dev/zero | tr '\0' x; echo; echo after; } >"$TMP/in"
    # known as soon as the line passes the limit: no reader needed
    run -1 --separate-stderr eshm-send -c 4K "$SEG" <"$TMP/in"
    [[ "$stderr" == *"a line of 5000 bytes exceeds the 4080 bytes a message may have in a 4096-byte channel"*"-c/--capacity"* ]]
    # what came before stays committed; the writer failed, so the reader
    # sees a lost writer after it
    run -1 --separate-stderr eshm-recv --retries 2 "$SEG"
    [ "$output" = before ]
    [[ "$stderr" == *"writer lost"* ]]
}

@test "eshm-send --no-create waits for the segment, then fails clearly" {
    run -1 --separate-stderr eshm-send --no-create --retries 3 "$SEG" <<<"x"
    [[ "$stderr" == "eshm-send: $SEG: no segment $SEG (waited 3 x 100 ms)" ]]
    seg_gone
}

@test "eshm-send --no-create attaches once a reader has created the segment" {
    bg_sh "exec eshm-recv $SEG >$TMP/out"
    reader=$BG_PID
    wait_until 5 seg_exists
    seq 1 5 | eshm-send --no-create "$SEG"
    wait_exit "$reader"
    [ "$EXIT_STATUS" -eq 0 ]
    [ "$(cat "$TMP/out")" = "$(seq 1 5)" ]
    seg_gone
}

@test "eshm-send --keep leaves the segment after everything is delivered" {
    seq 3 | eshm-send --keep "$SEG"
    run -0 eshm-recv "$SEG"
    [ "$output" = "$(seq 3)" ]
    seg_exists
}

@test "eshm-send --wait returns only when the reader has taken everything" {
    bg_sh "seq 1 10 | exec eshm-send --wait $SEG"
    sender=$BG_PID
    wait_until 5 seg_exists
    run -0 eshm-recv --no-create -n 4 "$SEG"
    [ "$output" = "$(seq 1 4)" ]
    # six messages and the end mark are still undelivered
    alive "$sender"
    run -0 eshm-recv "$SEG"
    [ "$output" = "$(seq 5 10)" ]
    wait_exit "$sender"
    [ "$EXIT_STATUS" -eq 0 ]
}

@test "eshm-send --progress and --verbose report on stderr only" {
    seq 1 1000 | eshm-send --progress --verbose "$SEG" >"$TMP/out" 2>"$TMP/err"
    [ ! -s "$TMP/out" ]
    grep -q "created segment, writing channel m2s" "$TMP/err"
    grep -q "eshm-send: .* 1000 messages, .*/s" "$TMP/err"
    grep -q "sent 3893 bytes in 1000 messages" "$TMP/err"
    eshm-recv "$SEG" >/dev/null
}

@test "eshm-send ended by SIGTERM commits whole lines, leaves the stream unended and dies of the signal" {
    mkfifo "$TMP/in"
    bg_sh "exec eshm-send -v --heartbeat 2ms --stale 1s $SEG <$TMP/in 2>$TMP/err"
    sender=$BG_PID
    exec 4>"$TMP/in"
    printf 'one\ntwo\nthr' >&4
    wait_until 5 grep -q "writing channel" "$TMP/err"
    run -0 eshm-recv -n 2 "$SEG"
    [ "$output" = "$(printf 'one\ntwo')" ]
    kill -TERM "$sender"
    wait_exit "$sender"
    exec 4>&-
    [ "$EXIT_STATUS" -eq 143 ]
    grep -q "3 bytes of an unfinished last line were not sent" "$TMP/err"
    # interrupted input is not a finished stream: the reader, even one that
    # comes later, sees a lost writer, never a torn "thr"
    run -1 --separate-stderr eshm-recv --retries 2 "$SEG"
    [ -z "$output" ]
    [[ "$stderr" == *"writer lost"* ]]
    seg_gone
}

@test "eshm-send ended by SIGINT and SIGHUP also re-raises the signal" {
    for sig in INT HUP; do
        mkfifo "$TMP/in-$sig"
        bg_sh "exec eshm-send -v $SEG-$sig <$TMP/in-$sig 2>$TMP/err-$sig"
        pid=$BG_PID
        exec 4>"$TMP/in-$sig"
        wait_until 5 grep -q "writing channel" "$TMP/err-$sig"
        kill -"$sig" "$pid"
        wait_exit "$pid"
        exec 4>&-
        [ "$EXIT_STATUS" -eq $((128 + $(kill -l "$sig"))) ]
        run -1 --separate-stderr eshm-recv --retries 2 "$SEG-$sig"
        [ -z "$output" ]
        [[ "$stderr" == *"writer lost"* ]]
    done
}

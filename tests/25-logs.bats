#!/usr/bin/env bats
# -v's lines of state changes (who joins, is lost, stalls, is taken over),
# their time or the journal's, and -q, which hushes warnings, never errors.

load helpers

# The time before each -v line: local, ISO 8601, milliseconds, UTC offset.
TS='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}[+-][0-9]{4}'

# said FILE REGEX: FILE has a line matching REGEX (extended), whole
said() {
    grep -qxE -- "$2" "$1"
}

# count FILE STRING: how many lines of FILE hold STRING
count() {
    grep -cF -- "$2" "$1" || true
}

@test "eshm-recv -v -f says when a writer joins and when it is killed, after the time" {
    bg_sh "exec eshm-recv -v -f $SEG >$TMP/out 2>$TMP/err"
    reader=$BG_PID
    wait_until 5 grep -q "reading channel" "$TMP/err"
    mkfifo "$TMP/in"
    bg_sh "exec eshm-send $SEG <$TMP/in"
    writer=$BG_PID
    exec 4>"$TMP/in"
    echo one >&4
    wait_until 5 said "$TMP/err" "$TS eshm-recv: $SEG: writer $writer joined"
    wait_until 5 lines_at_least "$TMP/out" 1
    kill -KILL "$writer"
    wait_exit "$writer"
    [ "$EXIT_STATUS" -eq 137 ]
    exec 4>&-
    wait_until 5 said "$TMP/err" "$TS eshm-recv: $SEG: writer $writer lost"
    # once each, and the reader goes on (--follow)
    [ "$(count "$TMP/err" "writer $writer joined")" -eq 1 ]
    [ "$(count "$TMP/err" "writer $writer lost")" -eq 1 ]
    alive "$reader"
    [ "$(cat "$TMP/out")" = one ]
}

@test "eshm-recv -v says when a writer ends its stream, and the end of the stream once" {
    bg_sh "exec eshm-recv -v -f $SEG >$TMP/out 2>$TMP/err"
    reader=$BG_PID
    wait_until 5 grep -q "reading channel" "$TMP/err"
    mkfifo "$TMP/in"
    bg_sh "exec eshm-send $SEG <$TMP/in"
    writer=$BG_PID
    exec 4>"$TMP/in"
    wait_until 5 said "$TMP/err" "$TS eshm-recv: $SEG: writer $writer joined"
    echo last >&4
    exec 4>&-
    wait_exit "$writer"
    [ "$EXIT_STATUS" -eq 0 ]
    wait_until 5 said "$TMP/err" "$TS eshm-recv: $SEG: writer $writer ended its stream"
    wait_until 5 said "$TMP/err" "$TS eshm-recv: $SEG: end of stream"
    [ "$(cat "$TMP/out")" = last ]
    [ "$(count "$TMP/err" "end of stream")" -eq 1 ]
    [ "$(count "$TMP/err" "writer $writer lost")" -eq 0 ]
    kill -TERM "$reader"
    wait_exit "$reader"
    [ "$EXIT_STATUS" -eq 143 ]
}

@test "with stderr the journal (JOURNAL_STREAM names it), -v lines carry no time" {
    : >"$TMP/err"
    journal=$(stat -c '%d:%i' "$TMP/err")
    bg_sh "JOURNAL_STREAM=$journal exec eshm-recv -v -f $SEG >$TMP/out 2>>$TMP/err"
    wait_until 5 grep -q "reading channel" "$TMP/err"
    mkfifo "$TMP/in"
    bg_sh "exec eshm-send $SEG <$TMP/in"
    writer=$BG_PID
    exec 4>"$TMP/in"
    wait_until 5 said "$TMP/err" "eshm-recv: $SEG: writer $writer joined"
    kill -KILL "$writer"
    wait_exit "$writer"
    exec 4>&-
    wait_until 5 said "$TMP/err" "eshm-recv: $SEG: writer $writer lost"
    said "$TMP/err" "eshm-recv: $SEG: created segment, reading channel m2s; writer none"
    run grep -cE "^$TS" "$TMP/err"
    [ "$output" = 0 ]
    # the variable is inherited: stderr elsewhere gets the time again
    run -124 --separate-stderr env JOURNAL_STREAM="$journal" eshm-recv -v -t 50ms "$SEG-x"
    [[ "${stderr_lines[0]}" =~ ^$TS\ eshm-recv:\ $SEG-x:\ created\ segment ]]
    [ "${stderr_lines[1]}" = "eshm-recv: $SEG-x: nothing arrived for 50 ms" ]
}

@test "eshm-send -v says when a reader joins, leaves and is killed, naming a group" {
    mkfifo "$TMP/in"
    bg_sh "exec eshm-send -v $SEG <$TMP/in 2>$TMP/err"
    writer=$BG_PID
    exec 4>"$TMP/in"
    wait_until 5 grep -q "writing channel" "$TMP/err"
    bg_sh "exec eshm-recv -f $SEG >$TMP/out 4>&-"
    reader=$BG_PID
    wait_until 5 said "$TMP/err" "$TS eshm-send: $SEG: reader $reader joined"
    bg_sh "exec eshm-recv -f --group audit $SEG >$TMP/audit 4>&-"
    auditor=$BG_PID
    wait_until 5 said "$TMP/err" "$TS eshm-send: $SEG: reader $auditor joined \(group audit\)"
    echo hello >&4
    wait_until 5 lines_at_least "$TMP/out" 1
    kill -KILL "$reader"
    wait_exit "$reader"
    wait_until 5 said "$TMP/err" "$TS eshm-send: $SEG: reader $reader lost"
    kill -TERM "$auditor"
    wait_exit "$auditor"
    [ "$EXIT_STATUS" -eq 143 ]
    wait_until 5 said "$TMP/err" "$TS eshm-send: $SEG: reader $auditor left \(group audit\)"
    exec 4>&-
    wait_exit "$writer"
    [ "$EXIT_STATUS" -eq 0 ]
    [ "$(count "$TMP/err" "reader $reader ")" -eq 2 ]
}

@test "eshm-send -v says at attach whether a reader is there already" {
    mkfifo "$TMP/in"
    bg_sh "exec eshm-send -v $SEG <$TMP/in 2>$TMP/err"
    writer=$BG_PID
    exec 4>"$TMP/in"
    wait_until 5 grep -q "writing channel m2s .*; reader none$" "$TMP/err"
    exec 4>&-
    wait_exit "$writer"
    bg_sh "exec eshm-recv -v -f $SEG >$TMP/out 2>$TMP/rerr"
    reader=$BG_PID
    wait_until 5 grep -q "reading channel" "$TMP/rerr"
    echo hello | eshm-send -v "$SEG" 2>"$TMP/err2"
    grep -q "attached to segment, writing channel m2s .*; reader alive$" "$TMP/err2"
    wait_until 5 lines_at_least "$TMP/out" 1
    kill -TERM "$reader"
    wait_exit "$reader"
}

@test "-v says when a reader stalls, comes back, and is taken over, and who took it" {
    mkfifo "$TMP/in"
    bg_sh "exec eshm-send -v $SEG <$TMP/in 2>$TMP/err"
    writer=$BG_PID
    exec 4>"$TMP/in"
    # the reader after the writer: one there before it is no news to it
    wait_until 5 grep -q "writing channel" "$TMP/err"
    bg_sh "exec eshm-recv -f --stale 50ms $SEG >$TMP/out1 2>$TMP/err1 4>&-"
    first=$BG_PID
    wait_until 5 said "$TMP/err" "$TS eshm-send: $SEG: reader $first joined"
    kill -STOP "$first"
    wait_until 5 said "$TMP/err" "$TS eshm-send: $SEG: reader $first stale \(no heartbeat for [0-9]+ ms\)"
    kill -CONT "$first"
    wait_until 5 said "$TMP/err" "$TS eshm-send: $SEG: reader $first back"
    kill -STOP "$first"
    wait_until 5 bash -c "eshm-stat $SEG | grep -q stale"
    bg_sh "exec eshm-recv -v -f --takeover $SEG >$TMP/out2 2>$TMP/err2 4>&-"
    second=$BG_PID
    wait_until 5 said "$TMP/err2" "$TS eshm-recv: $SEG: reader $first taken over by $second \(this process\)"
    wait_until 5 said "$TMP/err" "$TS eshm-send: $SEG: reader $first taken over by $second"
    kill -CONT "$first"
    wait_exit "$first"
    [ "$EXIT_STATUS" -eq 1 ]
    grep -q "the reader end of channel m2s of $SEG was taken over by pid $second" "$TMP/err1"
    # the taker is no new reader to the writer
    [ "$(count "$TMP/err" "reader $second ")" -eq 0 ]
    [ "$(count "$TMP/err" "by $second")" -eq 1 ]
    exec 4>&-
    wait_exit "$writer"
}

@test "eshm-recv --exec -v tells of writers while a job runs" {
    mkfifo "$TMP/gate" "$TMP/in"
    bg_sh "exec eshm-recv -v -f --exec 'cat $TMP/gate >/dev/null' $SEG 2>$TMP/err"
    runner=$BG_PID
    wait_until 5 grep -q "reading channel" "$TMP/err"
    bg_sh "exec eshm-send $SEG <$TMP/in"
    writer=$BG_PID
    exec 4>"$TMP/in"
    echo job >&4
    wait_until 5 said "$TMP/err" "$TS eshm-recv: $SEG: writer $writer joined"
    # its one job waits at the gate: the runner waits for the job
    wait_until 5 bash -c "pgrep -P $runner >/dev/null"
    kill -KILL "$writer"
    wait_exit "$writer"
    exec 4>&-
    wait_until 5 said "$TMP/err" "$TS eshm-recv: $SEG: writer $writer lost"
    exec 5>"$TMP/gate"
    exec 5>&-
    kill -TERM "$runner"
    wait_exit "$runner"
    [ "$EXIT_STATUS" -eq 143 ]
}

@test "-q hushes eshm-send's warning about an unfinished line it did not send" {
    for quiet in '' -q; do
        mkfifo "$TMP/in$quiet"
        bg_sh "exec eshm-send $quiet $SEG <$TMP/in$quiet 2>$TMP/err$quiet"
        writer=$BG_PID
        exec 4>"$TMP/in$quiet"
        printf 'whole\npart' >&4
        wait_until 5 bash -c "eshm-stat --json $SEG | grep -q '\"msgs_in\": 1,'"
        kill -TERM "$writer"
        wait_exit "$writer"
        exec 4>&-
        [ "$EXIT_STATUS" -eq 143 ]
        run -0 eshm-recv --retries 0 -n 1 "$SEG"
        [ "$output" = whole ]
        seg_gone
    done
    [ "$(cat "$TMP/err")" = "eshm-send: $SEG: 4 bytes of an unfinished last line were not sent" ]
    [ ! -s "$TMP/err-q" ]
}

@test "-q hushes eshm-clean's warning about an invalid file in a sweep, not its errors" {
    run -0 --separate-stderr private_shm '
        echo junk >/dev/shm/eshm_junk
        eshm-clean
        echo ---
        eshm-clean -q
        echo ---
        eshm-clean -q nothing || echo "status $?"'
    [ "${lines[*]}" = "--- --- status 1" ]
    [ "${#stderr_lines[@]}" -eq 2 ]
    [[ "${stderr_lines[0]}" == "eshm-clean: junk: /dev/shm/eshm_junk is not a valid segment"*"; 'eshm-clean --force junk' removes it" ]]
    [ "${stderr_lines[1]}" = "eshm-clean: nothing: no segment nothing" ]
}

@test "-q keeps errors and exit statuses as they are" {
    run -1 --separate-stderr eshm-recv -q --no-create --retries 1 "$SEG"
    [ "$stderr" = "eshm-recv: $SEG: no segment $SEG (waited 1 x 100 ms)" ]
    run -124 --separate-stderr eshm-recv --quiet -t 50ms "$SEG"
    [ "$stderr" = "eshm-recv: $SEG: nothing arrived for 50 ms" ]
    run -1 --separate-stderr bash -c 'exec eshm-send -q "$1" <&-' _ "$SEG"
    [ "$stderr" = "eshm-send: $SEG: standard input is closed" ]
    run -1 --separate-stderr eshm-clean --quiet "$SEG"
    [ "$stderr" = "eshm-clean: $SEG: no segment $SEG" ]
    seg_gone
}

@test "-v with -q is a usage error in every tool that has both" {
    local tool
    for tool in eshm-send eshm-recv eshm-clean; do
        run -2 --separate-stderr "$tool" -v -q "$SEG" </dev/null
        [ "$stderr" = "$tool: --verbose and --quiet: one or the other"$'\n'"Try '$tool --help'." ]
        run -2 "$tool" --quiet --verbose "$SEG" </dev/null
    done
    seg_gone
}

#!/usr/bin/env bats
# Looking without taking (DESIGN 9): taps see messages as they pass and
# never hold a writer up; peek prints what is pending and leaves it.

load helpers

# m2s_json EXPR: EXPR on channel m2s of $SEG as eshm-stat --json gives it (c)
m2s_json() {
    eshm-stat --json "$SEG" | json "(lambda c: $1)(d['segments'][0]['channels']['m2s'])"
}

# start_tap OPTS...: an eshm-recv --tap -v OPTS on $SEG, attached; its pid in
# TAP, its output in $TMP/tap.out, its stderr in $TMP/tap.err
start_tap() {
    bg_sh "exec eshm-recv --tap -v $* $SEG >$TMP/tap.out 2>$TMP/tap.err"
    TAP=$BG_PID
    wait_until 10 grep -q "tapping channel" "$TMP/tap.err"
}

@test "a tap prints what passes, in the writer's framing, and the reader still gets all of it" {
    eshm-recv --keep -t 10ms "$SEG" || [ $? -eq 124 ]
    start_tap
    seq 1 1000 | eshm-send "$SEG"
    [ "$(eshm-recv "$SEG" | wc -l)" -eq 1000 ]
    wait_exit "$TAP"
    [ "$EXIT_STATUS" -eq 0 ]
    seq 1 1000 | cmp - "$TMP/tap.out"
    grep -q "tap missed nothing" "$TMP/tap.err"
}

# crc_lines FROM TO: lines FROM..TO-1 that carry their own checksum
crc_lines() {
    python3 -c '
import sys, zlib
for i in range(int(sys.argv[1]), int(sys.argv[2])):
    body = ("%d:" % i) + "x" * (i % 50)
    print("%s %08x" % (body, zlib.crc32(body.encode())))' "$@"
}

# send_through FILE: FILE through eshm-send to an eshm-recv, which must get
# all of it
@test "a tap asks the kernel for 100 us scheduler slices, keeping its nice value; a reader does not" {
    grep -q '^se.slice ' /proc/self/sched || skip "this kernel does not show a thread's slice (/proc/PID/sched has no se.slice)"
    eshm-recv --keep -t 10ms "$SEG" || [ $? -eq 124 ]
    bg_sh "exec nice -n 3 eshm-recv --tap -v -f $SEG >/dev/null 2>$TMP/tap.err"
    TAP=$BG_PID
    wait_until 10 grep -q "tapping channel" "$TMP/tap.err"
    [ "$(awk '$1 == "se.slice" { print $3 }' "/proc/$TAP/sched")" = 100000 ]
    [ "$(ps -o ni= -p "$TAP" | tr -d ' ')" = 3 ]
    bg_sh "exec eshm-recv -v -f $SEG >/dev/null 2>$TMP/reader.err"
    local reader=$BG_PID
    wait_until 10 grep -q "reading channel" "$TMP/reader.err"
    [ "$(awk '$1 == "se.slice" { print $3 }' "/proc/$reader/sched")" != 100000 ]
}

send_through() {
    bg_sh "exec eshm-recv $SEG >$TMP/got"
    local reader=$BG_PID
    eshm-send "$SEG" <"$1"
    wait_exit "$reader"
    [ "$EXIT_STATUS" -eq 0 ]
    cmp "$1" "$TMP/got"
}

@test "a stopped tap never holds a writer up; resumed, it says what it missed and prints nothing torn" {
    eshm-recv --keep -c 64K -t 10ms "$SEG" || [ $? -eq 124 ]
    start_tap -f
    crc_lines 0 1000 >"$TMP/sent"
    send_through "$TMP/sent"
    wait_until 10 lines_at_least "$TMP/tap.out" 1000
    # stopped, while 16 times its ring goes through a reader
    kill -STOP "$TAP"
    crc_lines 1000 21000 >"$TMP/sent"
    send_through "$TMP/sent"
    kill -CONT "$TAP"
    # it skipped what was written over, and eshm-stat says so
    wait_until 10 sh -c "eshm-stat --json $SEG | grep -q '\"missed_bytes\": [1-9]'"
    [ "$(m2s_json 'c["taps"][0]["missed_msgs"] > 0')" = True ]
    # running, while as much goes through as fast as the reader takes it
    crc_lines 21000 41000 >"$TMP/sent"
    send_through "$TMP/sent"
    kill -TERM "$TAP"
    wait_exit "$TAP"
    grep -q "tap missed about [0-9]* messages ([1-9][0-9]* bytes)" "$TMP/tap.err"
    # whatever it printed is whole, each line as sent, in order
    python3 - "$TMP/tap.out" <<'PY'
import sys, zlib
last = -1
for line in open(sys.argv[1]):
    body, crc = line.rstrip("\n").rsplit(" ", 1)
    assert "%08x" % zlib.crc32(body.encode()) == crc, line
    i = int(body.split(":")[0])
    assert i > last, (i, last)
    last = i
PY
}

@test "a channel takes 16 taps, the 17th is refused naming the limit, and taps leave with their process" {
    eshm-recv --keep -t 10ms "$SEG" || [ $? -eq 124 ]
    local pids=() i
    for i in $(seq 1 16); do
        bg_sh "exec eshm-recv --tap -v -f $SEG >/dev/null 2>$TMP/err.$i"
        pids+=("$BG_PID")
    done
    for i in $(seq 1 16); do
        wait_until 10 grep -q "tapping channel" "$TMP/err.$i"
    done
    run -1 eshm-recv --tap "$SEG"
    [[ "$output" == *"has 16 taps, the most it takes"* ]]
    [ "$(m2s_json 'len(c["taps"])')" -eq 16 ]
    kill -KILL "${pids[0]}"
    wait_exit "${pids[0]}"
    # a dead tap's slot is taken again
    start_tap -t 10ms
    wait_exit "$TAP"
    [ "$EXIT_STATUS" -eq 124 ]
    for i in "${pids[@]:1}"; do
        kill -TERM "$i"
        wait_exit "$i"
    done
    [ "$(m2s_json 'len(c["taps"])')" -eq 0 ]
}

@test "a tap ends at the end of the stream, or with -n, or at its --timeout" {
    eshm-recv --keep -t 10ms "$SEG" || [ $? -eq 124 ]
    start_tap -n 3
    seq 1 10 | eshm-send "$SEG"
    wait_exit "$TAP"
    [ "$EXIT_STATUS" -eq 0 ]
    [ "$(cat "$TMP/tap.out")" = "$(seq 1 3)" ]
    run -124 eshm-recv --tap -t 50ms "$SEG"
    [ "$(eshm-recv "$SEG" | wc -l)" -eq 10 ]
}

@test "peek prints what is pending for a group, or the oldest held for any, and leaves it all" {
    eshm-recv --keep --group audit -t 10ms "$SEG" || [ $? -eq 124 ]
    seq 1 5 | eshm-send "$SEG"
    [ "$(eshm-recv --group - -n 2 "$SEG")" = "$(seq 1 2)" ]
    # the unnamed group has 3 to 5 left, audit all five
    [ "$(eshm-recv --peek "$SEG")" = "$(seq 1 5)" ]
    [ "$(eshm-recv --peek --group - "$SEG")" = "$(seq 3 5)" ]
    [ "$(eshm-recv --peek --group audit -n 2 "$SEG")" = "$(seq 1 2)" ]
    [ "$(eshm-recv --peek --group audit "$SEG")" = "$(seq 1 5)" ]
    run -1 eshm-recv --peek --group nosuch "$SEG"
    [[ "$output" == *"no consumer group nosuch"* ]]
    # and nothing was taken
    [ "$(eshm-recv --group audit "$SEG")" = "$(seq 1 5)" ]
    [ "$(eshm-recv --group - "$SEG")" = "$(seq 3 5)" ]
}

@test "peek opens read-only: it works on a segment it may only read, and never creates one" {
    [ "$(id -u)" -eq 0 ] || skip "needs root to act as another user"
    command -v setpriv >/dev/null
    seq 1 3 | eshm-send --keep --mode 0644 "$SEG"
    run -0 setpriv --reuid=nobody --regid=nogroup --clear-groups eshm-recv --peek "$SEG"
    [ "$output" = "$(seq 1 3)" ]
    # a reader may not: it would take them
    run -1 setpriv --reuid=nobody --regid=nogroup --clear-groups eshm-recv -t 10ms "$SEG"
    run -1 eshm-recv --peek "$SEG-none"
    [[ "$output" == *"no segment $SEG-none"* ]]
    [ ! -e "$(seg_path "$SEG-none")" ]
}

@test "--tap and --peek refuse what would take or hold: usage errors" {
    run -2 eshm-recv --tap --peek "$SEG"
    run -2 eshm-recv --tap --exec cat "$SEG"
    run -2 eshm-recv --tap --group g "$SEG"
    run -2 eshm-recv --peek --follow "$SEG"
    run -2 eshm-recv --peek --exclusive "$SEG"
    [ ! -e "$(seg_path "$SEG")" ]
}

@test "a recording (--tap --timestamps) replays the same messages, in order, in its framing" {
    eshm-recv --keep -t 10ms "$SEG" || [ $? -eq 124 ]
    bg_sh "exec eshm-recv --tap --timestamps -n 1000 $SEG >$TMP/q.rec"
    local rec=$BG_PID
    wait_until 10 sh -c "eshm-stat --json $SEG | grep -q '\"taps\": \[{'"
    # lines, an empty one among them
    { seq 1 500; echo; seq 502 1000; } >"$TMP/sent"
    eshm-send "$SEG" <"$TMP/sent"
    eshm-recv "$SEG" >/dev/null
    wait_exit "$rec"
    [ "$EXIT_STATUS" -eq 0 ]
    [ "$(head -n 1 "$TMP/q.rec")" = "eshm-rec 1 line" ]
    # each message: "SECONDS.NANOSECONDS LENGTH", the message, a newline
    sed -n 2p "$TMP/q.rec" | grep -Eq '^[0-9]+\.[0-9]{9} 1$'
    eshm-send --replay --speed 0 "$SEG-2" <"$TMP/q.rec"
    eshm-recv "$SEG-2" | cmp - "$TMP/sent"
}

@test "a recording of NUL-terminated records and of a raw stream replays byte for byte" {
    eshm-recv --keep -c 4M -t 10ms "$SEG" || [ $? -eq 124 ]
    bg_sh "exec eshm-recv --tap --timestamps -n 3 $SEG >$TMP/nul.rec"
    local rec=$BG_PID
    wait_until 10 sh -c "eshm-stat --json $SEG | grep -q '\"taps\": \[{'"
    printf 'a\nb\0\0c c\0' >"$TMP/nul"
    eshm-send -0 "$SEG" <"$TMP/nul"
    eshm-recv -0 "$SEG" >/dev/null
    wait_exit "$rec"
    [ "$(head -n 1 "$TMP/nul.rec")" = "eshm-rec 1 null" ]
    eshm-send --replay "$SEG-2" <"$TMP/nul.rec"
    eshm-recv -0 "$SEG-2" | cmp - "$TMP/nul"
    head -c 1000000 /dev/urandom >"$TMP/raw"
    bg_sh "exec eshm-recv --tap --timestamps $SEG >$TMP/raw.rec"
    rec=$BG_PID
    wait_until 10 sh -c "eshm-stat --json $SEG | grep -q '\"taps\": \[{'"
    eshm-send --raw "$SEG" <"$TMP/raw"
    eshm-recv "$SEG" >/dev/null
    wait_exit "$rec"
    grep -aq "^eshm-rec 1 raw$" "$TMP/raw.rec"
    eshm-send --replay "$SEG-3" <"$TMP/raw.rec"
    eshm-recv "$SEG-3" | cmp - "$TMP/raw"
}

@test "a replay keeps the recording's spacing, scaled by --speed" {
    printf 'eshm-rec 1 line\n100.000000000 3\none\n100.600000000 3\ntwo\n' >"$TMP/r.rec"
    local t0 t1
    t0=$(date +%s%N)
    eshm-send --replay "$SEG" <"$TMP/r.rec"
    t1=$(date +%s%N)
    [ $(((t1 - t0) / 1000000)) -ge 600 ]
    t0=$(date +%s%N)
    eshm-send --replay --speed 2 "$SEG" <"$TMP/r.rec"
    t1=$(date +%s%N)
    [ $(((t1 - t0) / 1000000)) -ge 300 ]
    [ "$(eshm-recv "$SEG" | tr '\n' ' ')" = "one two one two " ]
}

@test "a replay refuses what is not a recording, saying where, and conflicting options" {
    run -1 eshm-send --replay "$SEG" <<<"one"
    [[ "$output" == *"not a recording of eshm-recv --timestamps"* ]]
    run -1 eshm-send --replay "$SEG-2" < <(printf 'eshm-rec 1 line\n1.000000000 9\nshort\n')
    [[ "$output" == *"ends inside the message of line 2"* ]]
    run -1 eshm-send --replay "$SEG-3" < <(printf 'eshm-rec 1 line\nnot a time\n')
    [[ "$output" == *"line 2 of the recording is not 'SECONDS.NANOSECONDS LENGTH'"* ]]
    run -2 eshm-send --replay --raw "$SEG"
    run -2 eshm-send --speed 2 "$SEG"
    run -2 eshm-send --replay --speed fast "$SEG"
    run -2 eshm-recv --timestamps --lines "$SEG"
}

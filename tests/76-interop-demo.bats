#!/usr/bin/env bats
# eshm-demo (examples/eshm-demo.c), the original guide's demo, with the Python
# examples: its interop Tests 1-3 as the guide runs them, and the demo's own
# manners (options, reconnection, signals, install). make interop runs this.

load helpers

DEMO="${ESHM_BUILD:-$BATS_TEST_DIRNAME/../build}/examples/eshm-demo"
EXAMPLES="$BATS_TEST_DIRNAME/../python/examples"

# done_within SECONDS PID: wait for a tracked background process to end,
# failing the test if it has not within SECONDS; sets EXIT_STATUS
done_within() {
    wait_until "$1" ended "$2"
    wait_exit "$2"
}

ended() {
    ! alive "$1"
}

# lines_of FORMAT TEXT COUNT EXTRA: for each message "TEXT #I", I from 0 to
# COUNT-1, a line of FORMAT with its length plus EXTRA bytes (1: the NUL a C
# string is sent with) and the message
lines_of() {
    local format=$1 text=$2 count=$3 extra=$4 i m
    for ((i = 0; i < count; i++)); do
        m="$text #$i"
        printf "$format\n" $((${#m} + extra)) "$m"
    done
}

# numbered FORMAT COUNT: FORMAT for 0 .. COUNT-1, one line each
numbered() {
    local i
    for ((i = 0; i < $2; i++)); do
        printf "$1\n" "$i"
    done
}

# no_nul FILE: FILE holds no NUL byte
no_nul() {
    [ "$(tr -cd '\000' <"$1" | wc -c)" -eq 0 ]
}

@test "eshm-demo --help and --version" {
    run -0 "$DEMO" --help
    [ "${lines[0]}" = "Usage: eshm-demo [options] master|slave NAME" ]
    [[ "$output" == *"--interval MS"*"--count N"*"--quiet"*"--retries N"* ]]
    [[ "$output" == *"Exit status: 0 "* ]]
    [ "$(awk 'length > 80' <<<"$output")" = "" ]
    run -0 "$DEMO" -h
    run -0 "$DEMO" --version
    [[ "$output" =~ ^eshm-demo\ \(eshm\)\ [0-9.]+$ ]]
}

@test "eshm-demo rejects bad usage with status 2, saying what is wrong" {
    run -2 --separate-stderr "$DEMO" --bogus master "$SEG"
    [ "${stderr_lines[1]}" = "Try 'eshm-demo --help'." ]
    run -2 --separate-stderr "$DEMO"
    [ "${stderr_lines[0]}" = "eshm-demo: missing master|slave and NAME" ]
    run -2 --separate-stderr "$DEMO" master
    [ "${stderr_lines[0]}" = "eshm-demo: missing NAME" ]
    run -2 --separate-stderr "$DEMO" boss "$SEG"
    [ "${stderr_lines[0]}" = "eshm-demo: invalid role 'boss' (master or slave)" ]
    run -2 --separate-stderr "$DEMO" slave "$SEG" extra
    [ "${stderr_lines[0]}" = "eshm-demo: unexpected argument 'extra'" ]
    run -2 --separate-stderr "$DEMO" master bad/name
    [[ "${stderr_lines[0]}" == "eshm-demo: invalid segment name 'bad/name'"* ]]
    for bad in "-i 0" "-i 1.5" "-i x" "-n 0" "-n -1" "--retries=" "--retries 1k"; do
        read -ra args <<<"$bad"
        run -2 --separate-stderr "$DEMO" "${args[@]}" master "$SEG"
        [[ "${stderr_lines[0]}" == "eshm-demo: invalid number for "* ]]
    done
    seg_gone
}

@test "Test 1: the C master and the Python slave (simple_slave.py), as in the original guide" {
    bg_sh "exec $DEMO -n 50 master $SEG >$TMP/master.out 2>$TMP/master.err"
    master=$BG_PID
    # the guide starts the master first
    wait_until 10 grep -q '^\[MASTER\] Initialized with role: MASTER' "$TMP/master.out"
    run -0 timeout 60 python3 "$EXAMPLES/simple_slave.py" "$SEG"
    done_within 30 "$master"
    [ "$EXIT_STATUS" -eq 0 ]
    # the slave: every greeting, in order, 21 bytes for #0 (with the NUL of a
    # C string, not printed), each acknowledged; it ends at the master's end
    [ "${lines[0]}" = "=== ESHM Python Slave Example ===" ]
    [ "${lines[1]}" = "Initialized as SLAVE" ]
    [ "${lines[2]}" = "[SLAVE] Received (21 bytes): Hello from master #0" ]
    [ "$(grep '^\[SLAVE\] Received' <<<"$output")" = \
        "$(lines_of '[SLAVE] Received (%d bytes): %s' 'Hello from master' 50 1)" ]
    [ "$(grep '^\[SLAVE\] Sent' <<<"$output")" = \
        "$(numbered '[SLAVE] Sent: ACK from Python slave #%d' 50)" ]
    # the master: 50 greetings, their 50 acknowledgements in order
    head -n 3 "$TMP/master.out" >"$TMP/head"
    [ "$(cat "$TMP/head")" = "[MASTER] Starting master process on segment $SEG...
[MASTER] Initialized with role: MASTER (pid $master, created the segment)
[MASTER] Sending a message every 1 ms (1000 msg/sec)" ]
    [ "$(grep '^\[MASTER\] Sent' "$TMP/master.out")" = \
        "$(numbered '[MASTER] Sent: Hello from master #%d' 50)" ]
    [ "$(grep '^\[MASTER\] Received' "$TMP/master.out")" = \
        "$(numbered '[MASTER] Received: ACK from Python slave #%d' 50)" ]
    [[ "$(tail -n 1 "$TMP/master.out")" =~ ^\[MASTER\]\ Messages:\ sent=50,\ received=50,\ rate=[0-9]+\ msg/sec$ ]]
    [ ! -s "$TMP/master.err" ]
    seg_gone
}

@test "Test 2: the Python master (simple_master.py) and the C slave, as in the original guide" {
    bg_sh "exec python3 $EXAMPLES/simple_master.py $SEG 50 >$TMP/master.out 2>$TMP/master.err"
    master=$BG_PID
    wait_until 10 grep -q '^Initialized as MASTER' "$TMP/master.out"
    run -0 --separate-stderr timeout 60 "$DEMO" slave "$SEG"
    done_within 30 "$master"
    [ "$EXIT_STATUS" -eq 0 ]
    # the slave: 27 bytes for #0 (Python sends no NUL), each answered, in
    # order, until the master's end of stream
    [ "${lines[0]}" = "[SLAVE] Starting slave process on segment $SEG..." ]
    [[ "${lines[1]}" == "[SLAVE] Initialized with role: SLAVE (pid "*", attached to the segment)" ]]
    [ "$(grep '^\[SLAVE\] Received' <<<"$output" | head -n 1)" = \
        "[SLAVE] Received (27 bytes): Hello from Python master #0" ]
    [ "$(grep '^\[SLAVE\] Received' <<<"$output")" = \
        "$(lines_of '[SLAVE] Received (%d bytes): %s' 'Hello from Python master' 50 0)" ]
    [ "$(grep '^\[SLAVE\] Sent' <<<"$output")" = "$(numbered '[SLAVE] Sent: ACK from slave #%d' 50)" ]
    [ "${lines[-2]}" = "[SLAVE] The master ended its stream" ]
    [[ "${lines[-1]}" =~ ^\[SLAVE\]\ Messages:\ sent=50,\ received=50,\ rate=[0-9]+\ msg/sec$ ]]
    [ -z "$stderr" ]
    # the master: each acknowledgement, printed without the C string's NUL
    [ "$(grep '^\[MASTER\] Received' "$TMP/master.out")" = \
        "$(numbered '[MASTER] Received: ACK from slave #%d' 50)" ]
    no_nul "$TMP/master.out"
    [ ! -s "$TMP/master.err" ]
    seg_gone
}

@test "Test 3: the C master at 1000 msg/s and performance_test.py's slave: nothing lost" {
    bg_sh "exec $DEMO -q -n 1000 master $SEG >$TMP/master.out 2>$TMP/master.err"
    master=$BG_PID
    wait_until 10 grep -q '^\[MASTER\] Initialized' "$TMP/master.out"
    # as the guide runs it; the slave ends at the master's end of stream
    run -0 timeout 60 python3 "$EXAMPLES/performance_test.py" slave "$SEG" 2000
    [[ "$output" =~ ^\[SLAVE\]\ Messages:\ received=1000,\ rate=[0-9]+\ msg/sec$ ]]
    # the master needs no reply from a slave that only reads
    done_within 30 "$master"
    [ "$EXIT_STATUS" -eq 0 ]
    grep -qx '\[MASTER\] Sending a message every 1 ms (1000 msg/sec)' "$TMP/master.out"
    # -q: statistics only; a steady rate: 1000 messages take 999 ms at least
    run -1 grep -c 'Sent:\|Received:' "$TMP/master.out"
    last=$(tail -n 1 "$TMP/master.out")
    [[ "$last" =~ ^\[MASTER\]\ Messages:\ sent=1000,\ received=0,\ rate=([0-9]+)\ msg/sec$ ]]
    [ "${BASH_REMATCH[1]}" -ge 1 ]
    [ "${BASH_REMATCH[1]}" -le 1001 ]
    [ ! -s "$TMP/master.err" ]
    seg_gone
}

@test "the C master and the C slave: every greeting and every acknowledgement, in order" {
    bg_sh "exec $DEMO slave $SEG >$TMP/slave.out 2>$TMP/slave.err"
    slave=$BG_PID
    # started second, the master attaches to the slave's segment
    wait_until 10 seg_exists
    run -0 --separate-stderr timeout 60 "$DEMO" -n 300 master "$SEG"
    done_within 30 "$slave"
    [ "$EXIT_STATUS" -eq 0 ]
    [[ "${lines[1]}" == *"attached to the segment)" ]]
    [ "$(grep '^\[MASTER\] Received' <<<"$output")" = \
        "$(numbered '[MASTER] Received: ACK from slave #%d' 300)" ]
    grep -q "^\[MASTER\] Slave connected (pid $slave)$" <<<"$output"
    [ "$(grep '^\[SLAVE\] Received' "$TMP/slave.out")" = \
        "$(lines_of '[SLAVE] Received (%d bytes): %s' 'Hello from master' 300 1)" ]
    [ "$(tail -n 2 "$TMP/slave.out" | head -n 1)" = "[SLAVE] The master ended its stream" ]
    [ ! -s "$TMP/slave.err" ]
    seg_gone
}

@test "the slave says its master died and goes on with a new master" {
    bg_sh "exec $DEMO -i 5 master $SEG >$TMP/m1.out"
    m1=$BG_PID
    bg_sh "exec $DEMO --retries 100 slave $SEG >$TMP/slave.out 2>$TMP/slave.err"
    slave=$BG_PID
    wait_until 10 grep -q 'Hello from master #3$' "$TMP/slave.out"
    kill -KILL "$m1"
    done_within 10 "$m1"
    wait_until 10 grep -q "^\[SLAVE\] Master (pid $m1) is gone without ending its stream: waiting for it to reconnect (100 retries of 100 ms)$" \
        "$TMP/slave.out"
    bg_sh "exec $DEMO -i 5 -n 20 master $SEG >$TMP/m2.out"
    m2=$BG_PID
    done_within 30 "$m2"
    [ "$EXIT_STATUS" -eq 0 ]
    done_within 30 "$slave"
    [ "$EXIT_STATUS" -eq 0 ]
    # the new master's greetings, all of them, after the slave said so
    sed -n "/^\[SLAVE\] Master reconnected (pid $m2)$/,\$p" "$TMP/slave.out" >"$TMP/after"
    [ "$(grep '^\[SLAVE\] Received' "$TMP/after")" = \
        "$(lines_of '[SLAVE] Received (%d bytes): %s' 'Hello from master' 20 1)" ]
    grep -qx '\[SLAVE\] The master ended its stream' "$TMP/after"
    [ ! -s "$TMP/slave.err" ]
}

@test "the master says its slave died, goes on with a new one, and ends cleanly on SIGTERM" {
    bg_sh "exec $DEMO -i 5 --retries 100 master $SEG >$TMP/master.out 2>$TMP/master.err"
    master=$BG_PID
    bg_sh "exec $DEMO slave $SEG >$TMP/s1.out"
    s1=$BG_PID
    wait_until 10 grep -q 'Received: ACK from slave #3$' "$TMP/master.out"
    kill -KILL "$s1"
    done_within 10 "$s1"
    wait_until 10 grep -q "^\[MASTER\] Slave (pid $s1) is gone without ending its stream" \
        "$TMP/master.out"
    bg_sh "exec $DEMO slave $SEG >$TMP/s2.out"
    s2=$BG_PID
    wait_until 10 grep -q "^\[MASTER\] Slave reconnected (pid $s2)$" "$TMP/master.out"
    wait_until 10 grep -q "^\[SLAVE\] Sent: ACK from slave #3$" "$TMP/s2.out"
    # SIGTERM: the slave ends its stream, and the master waits for another
    kill -TERM "$s2"
    done_within 10 "$s2"
    [ "$EXIT_STATUS" -eq 0 ]
    [[ "$(tail -n 1 "$TMP/s2.out")" =~ ^\[SLAVE\]\ Messages:\ sent=[0-9]+,\ received=[0-9]+,\ rate=[0-9]+\ msg/sec$ ]]
    wait_until 10 grep -qx '\[MASTER\] The slave ended its stream' "$TMP/master.out"
    alive "$master"
    kill -TERM "$master"
    done_within 10 "$master"
    [ "$EXIT_STATUS" -eq 0 ]
    sed -n "/^\[MASTER\] Slave reconnected (pid $s2)$/,\$p" "$TMP/master.out" >"$TMP/after"
    grep -qx '\[MASTER\] Received: ACK from slave #0' "$TMP/after"
    [[ "$(tail -n 1 "$TMP/master.out")" =~ ^\[MASTER\]\ Messages:\ sent=[0-9]+,\ received=[0-9]+,\ rate=[0-9]+\ msg/sec$ ]]
    [ ! -s "$TMP/master.err" ]
}

@test "each side gives up (1) with 'writer lost' when its peer stays dead past --retries" {
    for role in master slave; do
        peer=slave
        [ "$role" = master ] || peer=master
        bg_sh "exec $DEMO --retries 3 $role $SEG-$role >$TMP/$role.out 2>$TMP/$role.err"
        side=$BG_PID
        bg_sh "exec $DEMO $peer $SEG-$role >/dev/null"
        other=$BG_PID
        wait_until 10 grep -q 'Received' "$TMP/$role.out"
        kill -KILL "$other"
        done_within 10 "$other"
        done_within 10 "$side"
        [ "$EXIT_STATUS" -eq 1 ]
        grep -q "is gone without ending its stream: waiting for it to reconnect (3 retries of 100 ms)$" \
            "$TMP/$role.out"
        [[ "$(cat "$TMP/$role.err")" == "eshm-demo: $SEG-$role: writer lost: "*"no new one came within 300 ms" ]]
        [[ "$(tail -n 1 "$TMP/$role.out")" == *"] Messages: sent="* ]]
    done
}

@test "SIGINT ends a slave still waiting for its master: status 0, statistics, segment removed" {
    bg_sh "exec $DEMO slave $SEG >$TMP/slave.out 2>$TMP/slave.err"
    slave=$BG_PID
    wait_until 10 grep -q '^\[SLAVE\] Initialized' "$TMP/slave.out"
    kill -INT "$slave"
    done_within 10 "$slave"
    [ "$EXIT_STATUS" -eq 0 ]
    [ "$(tail -n 1 "$TMP/slave.out")" = "[SLAVE] Messages: sent=0, received=0, rate=0 msg/sec" ]
    [ ! -s "$TMP/slave.err" ]
    seg_gone
}

@test "a second master is refused while the first one lives, with its pid" {
    bg_sh "exec $DEMO -q master $SEG >/dev/null"
    master=$BG_PID
    wait_until 10 seg_exists
    run -1 --separate-stderr "$DEMO" master "$SEG"
    [ "$stderr" = "eshm-demo: $SEG: channel m2s of $SEG already has a live writer (pid $master)" ]
}

@test "make install puts eshm-demo and its source with the documentation, not with the tools" {
    make_here install DESTDIR="$TMP/root" PREFIX=/usr
    [ -x "$TMP/root/usr/share/doc/eshm/examples/eshm-demo" ]
    cmp "$BATS_TEST_DIRNAME/../examples/eshm-demo.c" "$TMP/root/usr/share/doc/eshm/examples/eshm-demo.c"
    [ ! -e "$TMP/root/usr/bin/eshm-demo" ]
    make_here uninstall DESTDIR="$TMP/root" PREFIX=/usr
    run -0 ls -A "$TMP/root/usr/share/doc/eshm/examples"
    [ -z "$output" ]
}

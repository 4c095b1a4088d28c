#!/usr/bin/env bats
# Many readers (segment format 2, DESIGN 9): worker pools that share a
# group's messages and never lose one, groups as durable subscriptions,
# eshm-clean --group, the work runner (--exec), and what eshm-stat shows.

load helpers

# start_readers N OPTS...: N eshm-recv -v OPTS on $SEG, attached; their pids
# in READERS, their output in $TMP/out.I
start_readers() {
    local n=$1 i
    shift
    READERS=()
    for ((i = 0; i < n; i++)); do
        bg_sh "exec eshm-recv -v $* $SEG >$TMP/out.$i 2>$TMP/err.$i"
        READERS+=("$BG_PID")
    done
    for ((i = 0; i < n; i++)); do
        wait_until 10 grep -q "reading channel" "$TMP/err.$i"
    done
}

# busy_reader: set victim to a reader that wrote more than 10 lines
busy_reader() {
    local i
    for i in "${!READERS[@]}"; do
        if [ "$(wc -l <"$TMP/out.$i")" -gt 10 ]; then
            victim=$i
            return 0
        fi
    done
    return 1
}

# wait_readers: each reader of READERS exits 0
wait_readers() {
    local p
    for p in "${READERS[@]}"; do
        wait_exit "$p"
        [ "$EXIT_STATUS" -eq 0 ]
    done
}

@test "a pool of 4 readers shares 100,000 lines: each once, none lost, all end together" {
    start_readers 4
    seq 1 100000 | eshm-send "$SEG"
    wait_readers
    # disjoint and complete
    [ "$(cat "$TMP"/out.* | sort -n | uniq -d | wc -l)" -eq 0 ]
    [ "$(cat "$TMP"/out.* | sort -n | md5sum)" = "$(seq 1 100000 | md5sum)" ]
    seg_gone
}

@test "each reader of a pool gets each writer's lines in that writer's order" {
    start_readers 3 -u
    seq 1 30000 | sed 's/^/a /' | eshm-send "$SEG" &
    local w1=$!
    seq 1 30000 | sed 's/^/b /' | eshm-send "$SEG"
    wait "$w1"
    wait_readers
    local i
    for i in 0 1 2; do
        for w in a b; do
            grep "^$w " "$TMP/out.$i" | cut -d' ' -f2 >"$TMP/seq"
            sort -n -c "$TMP/seq"
        done
    done
    [ "$(cat "$TMP"/out.* | sort | uniq -d | wc -l)" -eq 0 ]
    [ "$(cat "$TMP"/out.* | wc -l)" -eq 60000 ]
}

@test "a pool member killed mid-stream: the others deliver everything, at most its unreleased message twice" {
    start_readers 4 -u
    mkfifo "$TMP/in"
    bg_sh "exec eshm-send $SEG <$TMP/in 4>&-"
    local writer=$BG_PID
    exec 4>"$TMP/in"
    seq 1 20000 >&4
    # the first reader seen busy is killed
    local victim=
    wait_until 10 busy_reader
    kill -KILL "${READERS[$victim]}"
    wait "${READERS[$victim]}" || true
    seq 20001 40000 >&4
    exec 4>&-
    wait_exit "$writer"
    [ "$EXIT_STATUS" -eq 0 ]
    unset "READERS[$victim]"
    wait_readers
    [ "$(cat "$TMP"/out.* | sort -n -u | md5sum)" = "$(seq 1 40000 | md5sum)" ]
    # -u releases each line once written: the killed one may have written
    # one it had not released yet
    [ "$(cat "$TMP"/out.* | sort -n | uniq -d | wc -l)" -le 1 ]
}

@test "-n N returns to the group what the reader took beyond N" {
    seq 1 1000 | eshm-send --keep "$SEG"
    run -0 eshm-recv -n 3 "$SEG"
    [ "$output" = "$(seq 1 3)" ]
    run -0 eshm-recv -n 2 "$SEG"
    [ "$output" = "$(seq 4 5)" ]
    run -0 eshm-recv "$SEG"
    [ "$output" = "$(seq 6 1000)" ]
}

@test "every group gets every message; a group keeps its place with no reader" {
    # the groups come first, then the data: each holds all of it
    eshm-recv --keep --group audit -t 10ms "$SEG" || [ $? -eq 124 ]
    eshm-recv --group billing -t 10ms "$SEG" || [ $? -eq 124 ]
    seq 1 100 | eshm-send "$SEG"
    run -0 eshm-recv --group audit -n 40 "$SEG"
    [ "$output" = "$(seq 1 40)" ]
    run -0 eshm-recv --group billing "$SEG"
    [ "$output" = "$(seq 1 100)" ]
    # audit's place was kept while it had no reader
    run -0 eshm-recv --group audit "$SEG"
    [ "$output" = "$(seq 41 100)" ]
    # a new group starts at the oldest message still held for any group:
    # none is, so it waits for new ones
    seq 101 102 | eshm-send "$SEG"
    run -0 eshm-recv --group late "$SEG"
    [ "$output" = "$(seq 101 102)" ]
    # (audit and billing still hold 101 and 102)
    run -0 eshm-recv --group - "$SEG"
    [ "$output" = "$(seq 101 102)" ]
}

@test "a new group starts at the release point: what another group still holds" {
    eshm-recv --keep --group a -t 10ms "$SEG" || [ $? -eq 124 ]
    # (one record each: groups start at a record)
    for i in $(seq 1 10); do echo "$i" | eshm-send "$SEG"; done
    run -0 eshm-recv --group b "$SEG"
    [ "$output" = "$(seq 1 10)" ]
    run -0 eshm-recv --group a -n 4 "$SEG"
    # a released 1-4: the oldest held for any group is now 5
    run -0 eshm-recv --group c "$SEG"
    [ "$output" = "$(seq 5 10)" ]
}

@test "space is freed only when every group released it" {
    eshm-recv --keep -c 8K --group fast -t 10ms "$SEG" || [ $? -eq 124 ]
    eshm-recv --group slow -t 10ms "$SEG" || [ $? -eq 124 ]
    # 8 KiB holds far less than 2000 lines: the writer waits for slow
    bg_sh "seq 1 2000 | exec eshm-send $SEG"
    local writer=$BG_PID
    run -124 eshm-recv --group fast -t 300ms "$SEG"
    # (ended by -t: fast got what there was room for, then nothing came)
    alive "$writer"
    run -0 eshm-recv --group slow "$SEG"
    [ "$output" = "$(seq 1 2000)" ]
    wait_exit "$writer"
    [ "$EXIT_STATUS" -eq 0 ]
}

@test "eshm-clean --group removes a group, not while it has a live reader" {
    eshm-recv --keep --group gone -t 10ms "$SEG" || [ $? -eq 124 ]
    eshm-recv --group kept -t 10ms "$SEG" || [ $? -eq 124 ]
    seq 1 5 | eshm-send "$SEG"
    bg_sh "exec eshm-recv -v -f --group kept $SEG >$TMP/out 2>$TMP/err"
    local reader=$BG_PID
    wait_until 5 grep -q "reading channel" "$TMP/err"
    run -1 --separate-stderr eshm-clean --group kept "$SEG"
    [ "$stderr" = "eshm-clean: $SEG: group kept of channel m2s of $SEG has a live reader (pid $reader)" ]
    run -0 eshm-clean -n --group gone "$SEG"
    [ "$output" = "would remove group gone of $SEG" ]
    run -0 eshm-clean --group gone "$SEG"
    [ "$output" = "removed group gone of $SEG" ]
    run -1 --separate-stderr eshm-clean --group gone "$SEG"
    [ "$stderr" = "eshm-clean: $SEG: segment $SEG has no consumer group gone" ]
    run -0 eshm-stat --json "$SEG"
    [[ "$output" != *'"name": "gone"'* ]]
    [[ "$output" == *'"name": "kept"'* ]]
    run -2 eshm-clean --group "bad name" "$SEG"
    run -2 eshm-clean --group kept
}

@test "runners share a queue: each takes no more jobs than it runs at once" {
    for i in 1 2 3 4 5 6; do echo "job$i" | eshm-send --keep "$SEG"; done
    local job="echo \$ESHM_SEGMENT >>$TMP/started.\$RUNNER; until [ -e $TMP/gate ]; do sleep 0.01; done"
    bg_sh "RUNNER=a exec eshm-recv -f --exec '$job' -j 2 $SEG 2>$TMP/err.a"
    local a=$BG_PID
    wait_until 10 lines_at_least "$TMP/started.a" 2
    # the first runner, alone at first, took only the two it runs: the
    # second one gets two of the four left
    bg_sh "RUNNER=b exec eshm-recv -f --exec '$job' -j 2 $SEG 2>$TMP/err.b"
    local b=$BG_PID
    wait_until 10 lines_at_least "$TMP/started.b" 2
    run -0 eshm-stat --json "$SEG"
    python3 - "$output" <<'PY'
import json, sys
c = json.loads(sys.argv[1])["segments"][0]["channels"]["m2s"]
held = sorted(r["held"] for r in c["readers"])
# a record of "jobN\n" takes 32 bytes: two each, none more
assert held == [64, 64], held
assert c["groups"][0]["backlog_msgs"] == 6, c["groups"]
PY
    touch "$TMP/gate"
    wait_until 10 sh -c "[ \$(cat $TMP/started.a $TMP/started.b | wc -l) -eq 6 ]"
    wait_until 10 sh -c "eshm-stat --json $SEG | grep -q '\"backlog_msgs\": 0'"
    kill -TERM "$a" "$b"
    wait_exit "$a"
    wait_exit "$b"
}

@test "eshm-stat shows each group with its readers and backlog, in the table and --json" {
    eshm-recv --keep --group audit -t 10ms "$SEG" || [ $? -eq 124 ]
    seq 1 7 | eshm-send "$SEG"
    start_readers 2 --group workers -f
    run -0 eshm-stat "$SEG"
    [[ "$output" == *"group audit: 0 readers, backlog 7 messages/14B"* ]]
    [[ "$output" == *"group workers: 2 readers, backlog 0 messages/0B"* ]]
    run -0 eshm-stat --json "$SEG"
    python3 - "$output" "${READERS[0]}" "${READERS[1]}" <<'PY'
import json, sys
d = json.loads(sys.argv[1])["segments"][0]["channels"]["m2s"]
groups = {g["name"]: g for g in d["groups"]}
assert groups["audit"]["backlog_msgs"] == 7 and groups["audit"]["live"] == 0, groups
assert groups["workers"]["live"] == 2, groups
pids = sorted(r["pid"] for r in d["readers"] if r["group"] == "workers")
assert pids == sorted(map(int, sys.argv[2:])), d["readers"]
PY
}

# oldest SEG [GROUP]: the age in ms of the oldest message channel m2s of
# SEG (or GROUP of it) has not released, as eshm-stat --json says
oldest() {
    eshm-stat --json "$1" | python3 -c '
import json, sys
c = json.load(sys.stdin)["segments"][0]["channels"]["m2s"]
if len(sys.argv) > 1:
    c = {g["name"]: g for g in c["groups"]}[sys.argv[1]]
print(c["oldest_age_ms"])' "${@:2}"
}

# older_than MS SEG [GROUP]: that age is at least MS
older_than() {
    [ "$(oldest "${@:2}")" -ge "$1" ]
}

@test "eshm-stat gives the age of the oldest message not released, per channel and group" {
    echo old | eshm-send --keep "$SEG"
    wait_until 10 older_than 1500 "$SEG"
    # a second writer's message is young, however long the channel was idle
    echo new | eshm-send "$SEG"
    older_than 1500 "$SEG"
    [ "$(eshm-recv -n 1 "$SEG")" = old ]
    [ "$(oldest "$SEG")" -lt 1500 ]
    [ "$(oldest "$SEG" -)" -lt 1500 ]
    [ "$(oldest "$SEG" -)" -ge 0 ]
    [ "$(eshm-recv -n 1 "$SEG")" = new ]
    [ "$(oldest "$SEG")" -eq -1 ]
    [ "$(oldest "$SEG" -)" -eq -1 ]
}

@test "eshm-stat shows the unnamed group's row while it has messages waiting, not when drained" {
    seq 1 3 | eshm-send --keep "$SEG"
    eshm-recv -n 1 "$SEG"
    run -0 eshm-stat "$SEG"
    [[ "$output" =~ "group -: 0 readers, backlog 2 messages/4B (oldest "[0-9]+m?s"), held" ]]
    eshm-recv "$SEG"
    seq 1 2 | eshm-send --keep "$SEG"
    eshm-recv "$SEG"
    run -0 eshm-stat "$SEG"
    [[ "$output" != *"group -"* ]]
}

@test "eshm-stat's group rows show the age of the oldest message" {
    eshm-recv --keep --group audit -t 10ms "$SEG" || [ $? -eq 124 ]
    echo job | eshm-send "$SEG"
    wait_until 10 older_than 1000 "$SEG" audit
    run -0 eshm-stat "$SEG"
    [[ "$output" =~ "group audit: 0 readers, backlog 1 messages/4B (oldest "[0-9]+s"), held 0B" ]]
}

@test "eshm-stat --check flags a dead reader that holds messages it took" {
    # lines of 4000 bytes: the reader blocks on a full pipe holding its batch
    python3 -c 'for i in range(1, 101): print(str(i) * (4000 // len(str(i))))' |
        eshm-send --keep "$SEG"
    bg_sh "exec eshm-recv -u $SEG | exec sleep 60"
    local pipeline=$BG_PID
    wait_until 5 bash -c "eshm-stat --json $SEG | grep -q '\"held\": [1-9]'"
    local reader
    reader=$(eshm-stat --json "$SEG" | python3 -c '
import json, sys
print(json.load(sys.stdin)["segments"][0]["channels"]["m2s"]["readers"][0]["pid"])')
    kill -KILL "$reader"
    wait_until 5 bash -c "eshm-stat --json $SEG | grep -q '\"state\": \"dead\"'"
    run -1 eshm-stat --check "$SEG"
    [[ "$output" == *"$SEG: a reader of channel m2s (pid $reader) died holding "*" bytes of messages it took and did not release"* ]]
    # the next reader of the group gets them
    run -0 eshm-recv "$SEG"
    [ "$(tail -1 <<<"$output" | cut -c1-3)" = 100 ]
    kill "$pipeline" 2>/dev/null || true
}

@test "eshm-recv --exec runs a job per message, N at once; failures go to NAME.failed" {
    seq 1 20 | eshm-send --keep "$SEG"
    run -1 --separate-stderr eshm-recv -j 4 --attempts 2 \
        --exec 'read x; [ $((x % 7)) != 0 ] || exit 3; echo "done $x $ESHM_ATTEMPT"' "$SEG"
    [ "$(sort -k2 -n <<<"$output")" = "$(seq 1 20 | grep -v -x -e 7 -e 14 | sed 's/.*/done & 1/')" ]
    [[ "$stderr" == *"job failed (exit status 3) 2 times: message moved to $SEG.failed"* ]]
    [[ "$stderr" == *"20 messages: 18 done, 2 moved to $SEG.failed after 2 attempts; 2 retries"* ]]
    run -0 eshm-recv "$SEG.failed"
    [ "$output" = "$(printf '7\n14')" ]
}

@test "eshm-recv --exec retries a failing job, exits 0 when every message succeeded" {
    printf 'a\nb\n' | eshm-send --keep "$SEG"
    # fails on the first attempt only
    run -0 --separate-stderr eshm-recv --exec 'read x; [ "$ESHM_ATTEMPT" -gt 1 ] && echo "$x"' "$SEG"
    [ "$output" = "$(printf 'a\nb')" ]
    [ ! -e "$(seg_path "$SEG.failed")" ]
}

@test "eshm-recv --exec with -n stops after N messages and leaves the rest" {
    seq 1 10 | eshm-send --keep "$SEG"
    # (one write per line: two jobs may run at once)
    run -0 eshm-recv -n 3 -j 2 --exec 'read -r x; echo "$x"' "$SEG"
    [ "$(sort -n <<<"$output")" = "$(seq 1 3)" ]
    run -0 eshm-recv "$SEG"
    [ "$output" = "$(seq 4 10)" ]
}

@test "a killed runner's unfinished jobs go back to the group; no job is lost" {
    seq 1 6 | eshm-send --keep "$SEG"
    # each job records that it started, then waits for $TMP/go
    bg_sh "exec eshm-recv -j 2 --exec 'read x; echo \$x >>$TMP/started; while [ ! -e $TMP/go ]; do sleep 0.01; done; echo \$x >>$TMP/done' $SEG"
    local runner=$BG_PID
    wait_until 5 bash -c "[ \"\$(cat $TMP/started 2>/dev/null | wc -l)\" = 2 ]"
    kill -KILL "$runner"
    wait "$runner" || true
    touch "$TMP/go"
    run -0 eshm-recv -j 2 --exec "read x; echo \$x >>$TMP/done" "$SEG"
    # all six done; the two the killed runner had started ran again
    [ "$(sort -n -u "$TMP/done")" = "$(seq 1 6)" ]
    [ "$(wc -l <"$TMP/done")" -le 8 ]
}

@test "eshm-recv --exec ended by SIGTERM stops its jobs and releases only what succeeded" {
    seq 1 4 | eshm-send --keep "$SEG"
    bg_sh "exec eshm-recv --exec 'read x; [ \$x = 1 ] || exec sleep 60' $SEG"
    local runner=$BG_PID
    wait_until 5 pgrep -P "$runner" -x sleep
    kill -TERM "$runner"
    wait_exit "$runner"
    [ "$EXIT_STATUS" -eq 143 ]
    run -0 eshm-recv "$SEG"
    [ "$output" = "$(seq 2 4)" ]
}

@test "--exec is refused with output options; NAME.failed must be a valid name" {
    run -2 --separate-stderr eshm-recv --exec cat --raw "$SEG"
    [[ "$stderr" == *"--exec hands each message to its command"* ]]
    run -2 --separate-stderr eshm-recv -j 2 "$SEG"
    [[ "$stderr" == *"--jobs and --attempts go with --exec"* ]]
    run -2 --separate-stderr eshm-recv --exec cat "$(printf 'n%.0s' $(seq 1 195))"
    [[ "$stderr" == *"with --exec, NAME has at most 193 characters"* ]]
    run -2 --separate-stderr eshm-recv --group "-x" "$SEG"
    [[ "$stderr" == *"invalid --group '-x'"* ]]
}

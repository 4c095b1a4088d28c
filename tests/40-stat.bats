#!/usr/bin/env bats
# eshm-stat: the table, --json, --check, --watch; strictly read-only.

load helpers

# a live writer of $SEG: eshm-send blocked reading a FIFO we hold open
start_writer() {
    mkfifo "$TMP/in"
    bg_sh "exec eshm-send -v $* $SEG <$TMP/in 2>$TMP/werr"
    WRITER=$BG_PID
    exec 4>"$TMP/in"
    wait_until 5 grep -q "writing channel" "$TMP/werr"
}

@test "eshm-stat --help and --version" {
    run -0 eshm-stat --help
    [[ "$output" == "Usage: eshm-stat [options] [NAME...]"* ]]
    run -0 eshm-stat --version
    [[ "$output" =~ ^eshm-stat\ \(eshm\)\ [0-9.]+$ ]]
}

@test "eshm-stat rejects bad usage with status 2" {
    run -2 --separate-stderr eshm-stat --bogus
    [[ "$stderr" == *"Try 'eshm-stat --help'."* ]]
    run -2 eshm-stat .bad
    run -2 eshm-stat --watch=0.01
    run -2 eshm-stat --watch=soon
    run -2 eshm-stat -n 3
    run -2 eshm-stat --watch -n 0
    run -2 eshm-stat --check --json
    run -2 eshm-stat --check --watch
}

@test "eshm-stat of a missing named segment says so and exits 1" {
    run -1 eshm-stat "$SEG"
    [[ "$output" == *"$SEG"*"no segment $SEG"* ]]
}

@test "eshm-stat shows holders, queued bytes and traffic of a live channel" {
    start_writer
    # one write(2) (bash's own printf writes line by line to a pipe), so
    # one read by the writer
    env printf 'one\ntwo\nthree\n' >&4
    wait_until 5 bash -c "eshm-stat --noheadings $SEG | grep -q ' 3/14B '"
    run -0 eshm-stat "$SEG"
    [[ "${lines[0]}" == NAME*CH*SIZE*MODE*OWNER*AGE*WRITER*READER*USED/CAP*IN*OUT*EOS*WAITS ]]
    # one read, so one record of 16 + 16 bytes (14, padded) for the three lines
    [[ "${lines[1]}" == "$SEG m2s "*" 0600 "*" $WRITER/alive "*" - "*" 32B/1.0M "*" 3/14B "*" 0/0B "* ]]
    [[ "${lines[2]}" == "$SEG s2m "* ]]
    run -0 eshm-stat --noheadings --bytes "$SEG"
    [[ "${lines[0]}" == *" 32/1048576 "*" 3/14 "* ]]
    [ "${#lines[@]}" -eq 2 ]
    exec 4>&-
}

@test "eshm-stat --json is one document on one line with the segment's state" {
    start_writer
    printf 'a\nbb\n' >&4
    bg_sh "exec eshm-recv -v -n 1 --follow $SEG >$TMP/out 2>$TMP/rerr"
    wait_until 5 lines_at_least "$TMP/out" 1
    # a reader has taken one message: now queued is "bb\n"
    wait_exit "$BG_PID"
    # the live writer publishes its counts with its heartbeat
    wait_until 5 bash -c "eshm-stat --noheadings $SEG | grep -q ' 2/5B '"
    run -0 bash -c "eshm-stat --json $SEG >$TMP/doc"
    [ "$(wc -l <"$TMP/doc")" -eq 1 ]
    [ "$(json 'd["version"]' <"$TMP/doc")" = 1 ]
    [ "$(json 'len(d["segments"])' <"$TMP/doc")" = 1 ]
    [ "$(json 'd["segments"][0]["name"]' <"$TMP/doc")" = "$SEG" ]
    [ "$(json 'd["segments"][0]["valid"]' <"$TMP/doc")" = True ]
    [ "$(json 'd["segments"][0]["mode"]' <"$TMP/doc")" = 0600 ]
    [ "$(json 'd["segments"][0]["live"]' <"$TMP/doc")" = True ]
    [ "$(json 'd["segments"][0]["pending"]' <"$TMP/doc")" = True ]
    m2s='d["segments"][0]["channels"]["m2s"]'
    [ "$(json "$m2s[\"writer\"][\"state\"]" <"$TMP/doc")" = alive ]
    [ "$(json "$m2s[\"writer\"][\"pid\"]" <"$TMP/doc")" = "$WRITER" ]
    [ "$(json "$m2s[\"reader\"][\"state\"]" <"$TMP/doc")" = none ]
    [ "$(json "$m2s[\"reader\"][\"generation\"]" <"$TMP/doc")" = 1 ]
    [ "$(json "$m2s[\"msgs_in\"]" <"$TMP/doc")" = 2 ]
    [ "$(json "$m2s[\"bytes_in\"]" <"$TMP/doc")" = 5 ]
    [ "$(json "$m2s[\"msgs_out\"]" <"$TMP/doc")" = 1 ]
    [ "$(json "$m2s[\"bytes_out\"]" <"$TMP/doc")" = 2 ]
    [ "$(json "$m2s[\"used\"]" <"$TMP/doc")" = 32 ]
    [ "$(json "$m2s[\"capacity\"]" <"$TMP/doc")" = 1048576 ]
    [ "$(json "$m2s[\"framing\"]" <"$TMP/doc")" = line ]
    [ "$(json "$m2s[\"eos\"]" <"$TMP/doc")" = False ]
    [ "$(json 'd["segments"][0]["channels"]["s2m"]["writer"]["state"]' <"$TMP/doc")" = none ]
    exec 4>&-
}

@test "eshm-stat reports a garbage file, a truncated segment and a symlink without failing" {
    echo junk >"$(seg_path "$SEG-junk")"
    seq 3 | eshm-send --keep "$SEG-cut"
    truncate -s 40 "$(seg_path "$SEG-cut")"
    ln -s /etc/passwd "$(seg_path "$SEG-link")"
    run -0 eshm-stat "$SEG-junk" "$SEG-cut" "$SEG-link"
    [[ "$output" == *"$SEG-junk "*"INVALID: not an eshm segment (5 bytes"* ]]
    [[ "$output" == *"$SEG-cut "*"INVALID: not an eshm segment (40 bytes"* ]]
    [[ "$output" == *"$SEG-link "*"INVALID: a symbolic link"* ]]
    eshm-stat --json "$SEG-junk" "$SEG-cut" "$SEG-link" >"$TMP/doc"
    [ "$(json '[s["valid"] for s in d["segments"]]' <"$TMP/doc")" = "[False, False, False]" ]
    run -1 eshm-stat --check "$SEG-junk"
    [[ "$output" == "$SEG-junk: not an eshm segment"* ]]
}

@test "eshm-stat never changes a segment, even one whose writer is dead" {
    start_writer
    printf 'x\n' >&4
    wait_until 5 bash -c "eshm-stat --noheadings $SEG | grep -q ' 1/2B '"
    kill -KILL "$WRITER"
    wait_exit "$WRITER"
    exec 4>&-
    before=$(sha256sum <"$(seg_path "$SEG")")
    run -0 eshm-stat "$SEG"
    [[ "$output" == *" $WRITER/dead "* ]]
    run -0 eshm-stat --json "$SEG"
    [ "$before" = "$(sha256sum <"$(seg_path "$SEG")")" ]
    # still there, still with its message for the next reader
    run -0 eshm-recv --retries 1 -n 1 "$SEG"
    [ "$output" = x ]
}

@test "eshm-stat --check turns 1 when a holder is killed and 0 when a new one takes over" {
    start_writer
    printf 'queued\n' >&4
    wait_until 5 bash -c "eshm-stat --noheadings $SEG | grep -q ' 1/7B '"
    run -0 eshm-stat --check "$SEG"
    [ -z "$output" ]
    kill -KILL "$WRITER"
    wait_exit "$WRITER"
    exec 4>&-
    run -1 eshm-stat --check "$SEG"
    [ "$output" = "$SEG: a writer of channel m2s (pid $WRITER) is lost: it died, failed or was interrupted without ending its stream" ]
    rm "$TMP/in"
    start_writer
    run -0 eshm-stat --check "$SEG"
    [ -z "$output" ]
    exec 4>&-
}

@test "eshm-stat --check reports a stopped holder as stale" {
    start_writer --stale 50ms
    kill -STOP "$WRITER"
    wait_until 5 bash -c "! eshm-stat --check $SEG >/dev/null"
    run -1 eshm-stat --check "$SEG"
    [[ "$output" == "$SEG: the writer of channel m2s (pid $WRITER) is stale: no heartbeat for "*" ms (threshold 50 ms)" ]]
    run -0 eshm-stat "$SEG"
    [[ "$output" == *" $WRITER/stale:"* ]]
    kill -CONT "$WRITER"
    wait_until 5 eshm-stat --check "$SEG"
    exec 4>&-
}

@test "eshm-stat --watch with a count prints that many tables, with rates after the first" {
    start_writer
    printf 'a\n' >&4
    run -0 eshm-stat --watch=0.2 --count 3 "$SEG"
    [ "$(grep -c '^NAME' <<<"$output")" -eq 3 ]
    [ "$(grep -c 'IN/S' <<<"$output")" -eq 2 ]
    run -0 eshm-stat -w0.1 -n 2 --json "$SEG"
    [ "${#lines[@]}" -eq 2 ]
    [ "$(tail -n 1 <<<"$output" | json 'sorted(d["segments"][0]["channels"]["m2s"]["rates"])')" = \
        "['bytes_in_per_s', 'bytes_out_per_s', 'msgs_in_per_s', 'msgs_out_per_s']" ]
    exec 4>&-
}

@test "eshm-stat --watch redraws in place on a terminal and stops on SIGINT" {
    start_writer
    bg_sh "exec script -qfec 'eshm-stat --watch=0.1 $SEG' $TMP/typescript >/dev/null"
    watcher=$BG_PID
    wait_until 5 bash -c "[ \$(grep -c 'every 0.1s' $TMP/typescript) -ge 2 ]"
    # clear-screen before each table: it redraws rather than scrolls
    grep -q $'\033\\[H\033\\[2J' "$TMP/typescript"
    kill -INT "$watcher"
    wait_exit "$watcher"
    exec 4>&-
}

@test "eshm-stat without NAME lists every segment in /dev/shm" {
    run -0 private_shm '
        seq 3 | eshm-send one
        eshm-send --keep two </dev/null
        echo junk >/dev/shm/eshm_three
        echo other >/dev/shm/not-ours
        eshm-stat --noheadings | cut -d" " -f1 | uniq
        eshm-stat --json | python3 -c "import json,sys; print(len(json.load(sys.stdin)[\"segments\"]))"
    '
    [ "${lines[*]}" = "one three two 3" ]
}

@test "eshm-stat of an empty /dev/shm prints the heading and an empty document" {
    run -0 private_shm 'eshm-stat; eshm-stat --json; eshm-stat --check'
    [[ "${lines[0]}" == NAME* ]]
    [ "${lines[1]}" = '{"version": 1, "segments": [], "leftovers": []}' ]
    [ "${#lines[@]}" -eq 2 ]
}

@test "eshm-stat shows unfinished segments, and --check reports one whose creator died" {
    run -0 --separate-stderr private_shm "$(leftover_fns)"'
        dead=$(dead_leftover 2097152)
        live_leftover 4096
        eshm-send --keep q </dev/null
        echo "$dead $LIVE_PATH"
        eshm-stat --noheadings
        eshm-stat --json
        if eshm-stat --check; then exit 3; fi
        eshm-stat --check q
        eshm-stat --json q
        [ -e "$dead" ] && [ -e "$LIVE_PATH" ] && echo "both still there"
        kill "$LIVE_PID"; wait "$LIVE_PID" || true'
    read -r dead live <<<"${lines[0]}"
    dpid=${dead#/dev/shm/.eshm-new.} dpid=${dpid%.1}
    lpid=${live#/dev/shm/.eshm-new.} lpid=${lpid%.1}
    # the table: the segment, then one row per unfinished segment (by path)
    [[ "${lines[1]}" == "q "*" m2s "* ]]
    [[ "${lines[2]}" == "q "*" s2m "* ]]
    row() { sed -n 4,5p <<<"$output" | awk -v n="$1" '$1 == n'; }
    [[ "$(row "${dead##*/}")" == "${dead##*/} -"*" 2.0M 0600 root "*" UNFINISHED: left by pid $dpid, which died; eshm-clean removes it" ]]
    [[ "$(row "${live##*/}")" == "${live##*/} -"*" 4.0K 0600 root "*" UNFINISHED: being created by pid $lpid" ]]
    [ "$(json '[(l["path"], l["creator_pid"], l["creator_alive"], l["size"], l["uid"], l["age_ms"] >= 0)
               for l in sorted(d["leftovers"], key=lambda l: l["creator_alive"])]' <<<"${lines[5]}")" = \
        "[('$dead', $dpid, False, 2097152, 0, True), ('$live', $lpid, True, 4096, 0, True)]" ]
    [ "$(json '[s["name"] for s in d["segments"]]' <<<"${lines[5]}")" = "['q']" ]
    # --check: only the one whose creator died is a problem
    [ "${lines[6]}" = "$dead: unfinished segment left by pid $dpid, which died (2.0 MiB); eshm-clean removes it" ]
    # with NAMEs, only those segments
    [ "$(json '"leftovers" in d' <<<"${lines[7]}")" = False ]
    [ "${lines[8]}" = "both still there" ]
    [ "${#lines[@]}" -eq 9 ]
}

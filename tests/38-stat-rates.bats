#!/usr/bin/env bats
# eshm-stat --watch: the rates of each consumer group, and --brief, a line per refresh.

load helpers

# start_traffic: on channel m2s of $SEG, a group audit with no reader, a
# reader of group workers and a writer of lines of 11 bytes
# ("0123456789\n"), at most 100 a second, one write(2) each, from a pacer
# through a FIFO; returns once the reader has some. The three run until
# teardown stops them by pid.
start_traffic() {
    eshm-recv --keep --group audit -t 10ms "$SEG" || [ $? -eq 124 ]
    bg_sh "exec eshm-recv -v -f --group workers $SEG >$TMP/out 2>$TMP/rerr"
    wait_until 5 grep -q "reading channel" "$TMP/rerr"
    mkfifo "$TMP/in"
    bg_sh "exec eshm-send $SEG <$TMP/in"
    # the sleep paces the lines; it synchronises nothing
    bg_sh "while :; do echo 0123456789; sleep 0.01; done >$TMP/in"
    wait_until 5 lines_at_least "$TMP/out" 10
}

@test "eshm-stat --brief needs exactly one NAME and goes with neither --json nor --check" {
    run -2 --separate-stderr eshm-stat --brief
    [ "${stderr_lines[0]}" = "eshm-stat: --brief needs exactly one NAME (0 given)" ]
    [ "${stderr_lines[1]}" = "Try 'eshm-stat --help'." ]
    run -2 --separate-stderr eshm-stat -w --brief "$SEG" "$SEG-2"
    [ "${stderr_lines[0]}" = "eshm-stat: --brief needs exactly one NAME (2 given)" ]
    run -2 --separate-stderr eshm-stat --brief --json "$SEG"
    [ "${stderr_lines[0]}" = "eshm-stat: --brief goes with neither --json nor --check" ]
    run -2 --separate-stderr eshm-stat --check --brief "$SEG"
    [ "${stderr_lines[0]}" = "eshm-stat: --brief goes with neither --json nor --check" ]
    run -2 eshm-stat --brief .bad
    run -0 eshm-stat --help
    [[ "$output" == *"--brief NAME"* ]]
}

@test "eshm-stat --watch --json gives each group the rate it released at from the second refresh on" {
    start_traffic
    run -0 eshm-stat -w0.5 -n 3 --json "$SEG"
    [ "${#lines[@]}" -eq 3 ]
    python3 - "${lines[@]}" <<'PY'
import json, sys
docs = [json.loads(l)["segments"][0]["channels"]["m2s"] for l in sys.argv[1:]]
first = {g["name"]: g for g in docs[0]["groups"]}
assert sorted(first) == ["audit", "workers"], first
assert all("rates" not in g for g in first.values()), first
for p, c in zip(docs, docs[1:]):
    groups = {g["name"]: g for g in c["groups"]}
    w, a = groups["workers"]["rates"], groups["audit"]["rates"]
    assert sorted(w) == ["bytes_out_per_s", "msgs_out_per_s"], w
    # at most 100 lines a second are written; counts lag by a heartbeat
    assert 0 < w["msgs_out_per_s"] <= 200, w
    # every message is 11 bytes: the bytes follow the messages
    assert abs(w["bytes_out_per_s"] - 11 * w["msgs_out_per_s"]) <= 1, w
    # released: msgs_in less the backlog, over the time the channel's
    # msgs_in_per_s was taken over
    was = {g["name"]: g for g in p["groups"]}["workers"]
    came = c["msgs_in"] - p["msgs_in"]
    out = came - (groups["workers"]["backlog_msgs"] - was["backlog_msgs"])
    assert abs(w["msgs_out_per_s"] - c["rates"]["msgs_in_per_s"] * out / came) <= 0.5, (w, c, p)
    # nobody reads audit: it releases nothing
    assert a == {"msgs_out_per_s": 0.0, "bytes_out_per_s": 0.0}, a
PY
}

@test "eshm-stat --watch gives no rates to a group new since the previous refresh, nor to one made again" {
    start_traffic
    bg_sh "exec eshm-stat -w0.5 -n 5 --json $SEG >$TMP/docs"
    local watcher=$BG_PID
    wait_until 5 lines_at_least "$TMP/docs" 1
    eshm-recv --group late -t 10ms "$SEG" >/dev/null || [ $? -eq 124 ]
    wait_until 5 lines_at_least "$TMP/docs" 2
    # audit has no reader: it may go, and come back as a new group
    eshm-clean --group audit "$SEG"
    eshm-recv --group audit -t 10ms "$SEG" >/dev/null || [ $? -eq 124 ]
    wait_exit "$watcher"
    [ "$EXIT_STATUS" -eq 0 ]
    python3 - "$TMP/docs" <<'PY'
import json, sys
docs = [json.loads(l)["segments"][0]["channels"]["m2s"] for l in open(sys.argv[1])]
assert len(docs) == 5, len(docs)
was = {}
for i, c in enumerate(docs):
    now = {g["name"]: g for g in c["groups"]}
    for name, g in now.items():
        before = was.get(name)
        again = before is not None and before["created_ns"] == g["created_ns"]
        assert ("rates" in g) == again, (i, name, g, before)
    was = now
# late came, and audit was made again, each before the last refresh
assert "late" in {g["name"] for g in docs[-2]["groups"]}
audits = [{g["name"]: g for g in c["groups"]}.get("audit") for c in docs]
assert audits[0]["created_ns"] != audits[-1]["created_ns"], audits
PY
}

@test "eshm-stat --watch adds each group's rates to its line in the table after the first refresh" {
    start_traffic
    run -0 eshm-stat -w0.5 -n 2 "$SEG"
    local first second
    first=$(sed -n '1,/^$/p' <<<"$output")
    second=$(sed -n '/^$/,$p' <<<"$output")
    [[ "$first" == *"group workers: 1 reader, backlog "*", held "* ]]
    [[ "$first" != *", out "* ]]
    [[ "$second" == *"group audit: 0 readers, backlog "*", held 0B, out 0/s 0B/s"* ]]
    [[ "$second" =~ "group workers: 1 reader, backlog "[^$'\n']*", held "[0-9.]+[BK]", out "[1-9][0-9]*"/s "[0-9.]+[BK]"/s" ]]
    run -0 eshm-stat -w0.5 -n 2 --bytes "$SEG"
    [[ "$output" =~ "group workers: 1 reader, backlog "[^$'\n']*", out "[1-9][0-9]*"/s "[1-9][0-9]*"/s" ]]
}

@test "eshm-stat -w --brief prints a line per refresh: rates from the second, use, oldest, groups" {
    start_traffic
    run -0 eshm-stat -w0.5 -n 3 --brief "$SEG"
    [ "${#lines[@]}" -eq 3 ]
    local age='([0-9]+(ms|s)|-)'
    local first="^$SEG m2s: in -/s -/s, out -/s -/s, used [1-9][0-9]*% of 1.0M, oldest $age, groups audit:-/s workers:-/s\$"
    [[ "${lines[0]}" =~ $first ]]
    local n='[0-9.]+[kM]?' b='[0-9.]+[BKM]'
    local line="^$SEG m2s: in $n/s $b/s, out $n/s $b/s, used [1-9][0-9]*% of 1.0M, oldest $age, groups audit:0/s workers:[1-9][0-9]*/s\$"
    [[ "${lines[1]}" =~ $line ]]
    [[ "${lines[2]}" =~ $line ]]
    # audit keeps every message: the oldest is as old as the traffic
    [[ "${lines[2]}" != *", oldest -,"* ]]
}

@test "eshm-stat --brief without --watch prints one line, with no rates; idle, invalid and missing segments too" {
    local age='[0-9]+(ms|s)'
    echo ping | eshm-send --keep "$SEG"
    # no reader yet, so no group
    run -0 eshm-stat --brief "$SEG"
    [[ "$output" =~ ^"$SEG m2s: in -/s -/s, out -/s -/s, used 1% of 1.0M, oldest "$age$ ]]
    run -0 eshm-stat --brief --bytes "$SEG"
    [[ "$output" =~ ^"$SEG m2s: in -/s -/s, out -/s -/s, used 1% of 1048576, oldest "$age$ ]]
    # both channels in use: s2m after " | "
    echo pong | eshm-send --role slave "$SEG"
    [ "$(eshm-recv -n 1 "$SEG")" = ping ]
    run -0 eshm-stat --brief "$SEG"
    [[ "$output" =~ ^"$SEG m2s: in -/s -/s, out -/s -/s, used 0% of 1.0M, oldest -, groups -:-/s | s2m: in -/s -/s, out -/s -/s, used 1% of 1.0M, oldest "$age$ ]]
    eshm-send --keep "$SEG-idle" </dev/null
    run -0 eshm-stat --brief "$SEG-idle"
    [ "$output" = "$SEG-idle: idle" ]
    echo junk >"$(seg_path "$SEG-junk")"
    run -0 eshm-stat --brief "$SEG-junk"
    [[ "$output" == "$SEG-junk: INVALID: not an eshm segment"* ]]
    run -1 eshm-stat --brief "$SEG-none"
    [ "$output" = "$SEG-none: no segment $SEG-none" ]
}

@test "eshm-stat -w --brief on a terminal adds lines and never clears the screen" {
    start_traffic
    run -0 script -qfec "eshm-stat -w0.1 -n 3 --brief $SEG" "$TMP/typescript"
    [ "$(grep -c "^$SEG m2s: in " "$TMP/typescript")" -eq 3 ]
    run -1 grep -q $'\033' "$TMP/typescript"
}

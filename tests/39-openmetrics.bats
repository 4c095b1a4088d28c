#!/usr/bin/env bats
# eshm-stat --openmetrics: the gauges and counters, for node_exporter's
# textfile collector, checked by promtool and by value.

load helpers

# well_formed: $TMP/prom passes promtool check metrics, which says
# nothing when all is well (CI installs promtool, from Debian's
# prometheus: its absence fails); each family has one HELP and one TYPE
# line, before its samples, which stand together; the last line is "# EOF".
well_formed() {
    if ! command -v promtool >/dev/null; then
        echo "promtool is missing: apt-get install -y prometheus"
        return 1
    fi
    local said status=0
    said=$(promtool check metrics <"$TMP/prom" 2>&1) || status=$?
    if [ "$status" -ne 0 ] || [ -n "$said" ]; then
        echo "promtool check metrics (status $status): $said"
        return 1
    fi
    awk '
        /^# (HELP|TYPE) / { seen[$2 " " $3]++; if (seen[$2 " " $3] > 1) bad = "twice: " $0; next }
        /^# EOF$/ { eof = NR; next }
        { name = $0; sub(/[{ ].*/, "", name)
          if (name != last && done[name]) bad = "apart: " $0
          if (!seen["HELP " name] || !seen["TYPE " name]) bad = "no HELP or TYPE before: " $0
          done[last] = 1; last = name }
        END { if (bad) { print bad; exit 1 } if (eof != NR) { print "no # EOF at the end"; exit 1 } }
    ' "$TMP/prom"
}

# sample NAME [LABELS]: the value of sample NAME{LABELS} (NAME without
# LABELS) in $TMP/prom, or nothing if there is none
sample() {
    local s=$1
    [ -z "${2-}" ] || s="$1{$2}"
    # through the environment: awk -v would undo the escapes of labels
    S=$s awk '{ s = ENVIRON["S"] } index($0, s " ") == 1 { print substr($0, length(s) + 2) }' \
        "$TMP/prom"
}

# has_samples: every line on stdin is a line of $TMP/prom; else say which
# are not
has_samples() {
    local missing status=0
    missing=$(grep -Fxv -f "$TMP/prom") || status=$?
    [ "$status" -ne 1 ] || return 0
    echo "not in the output: $missing"
    return 1
}

@test "eshm-stat --openmetrics goes with none of --json, --watch, --check and --brief" {
    local opt
    for opt in --json -w --watch=2 --check --brief; do
        run -2 --separate-stderr eshm-stat --openmetrics "$opt" "$SEG"
        [ "${stderr_lines[0]}" = "eshm-stat: --openmetrics goes with no --json, --watch, --check or --brief" ]
        [ "${stderr_lines[1]}" = "Try 'eshm-stat --help'." ]
    done
    run -2 eshm-stat --openmetrics .bad
    run -0 eshm-stat --help
    [[ "$output" == *"      --openmetrics "* ]]
}

@test "eshm-stat --openmetrics counts 3 lines sent while nobody reads: in, used, and the group's backlog" {
    eshm-recv --keep --group audit -t 10ms "$SEG" || [ $? -eq 124 ]
    seq 3 | eshm-send "$SEG"
    eshm-stat --openmetrics "$SEG" >"$TMP/prom"
    well_formed
    local m2s="segment=\"$SEG\",channel=\"m2s\"" s2m="segment=\"$SEG\",channel=\"s2m\""
    # one write(2) of seq's output, one record: 16 bytes of header, 6
    # padded to 16; counters typed as counters, under their names with _total
    has_samples <<EOF
eshm_segments 1
eshm_segment_valid{segment="$SEG"} 1
eshm_channel_messages_in_total{$m2s} 3
eshm_channel_bytes_in_total{$m2s} 6
eshm_channel_messages_out_total{$m2s} 0
eshm_channel_messages_in_total{$s2m} 0
eshm_channel_capacity_bytes{$m2s} 1048576
eshm_channel_used_bytes{$m2s} 32
eshm_group_backlog_messages{$m2s,group="audit"} 3
eshm_group_backlog_bytes{$m2s,group="audit"} 6
# TYPE eshm_channel_messages_in_total counter
# TYPE eshm_group_backlog_messages gauge
EOF
    # ages in seconds, in milliseconds' steps; none where nothing waits
    [[ "$(sample eshm_group_oldest_age_seconds "$m2s,group=\"audit\"")" =~ ^[0-9]+\.[0-9]{3}$ ]]
    [[ "$(sample eshm_channel_oldest_age_seconds "$m2s")" =~ ^[0-9]+\.[0-9]{3}$ ]]
    [ -z "$(sample eshm_channel_oldest_age_seconds "$s2m")" ]
    [[ "$(sample eshm_segment_age_seconds "segment=\"$SEG\"")" =~ ^[0-9]+\.[0-9]{3}$ ]]
    # nobody holds an end now
    [ "$(grep -c "^eshm_channel_holders{$m2s," "$TMP/prom")" -eq 9 ]
    [ -z "$(grep "^eshm_channel_holders{" "$TMP/prom" | grep -v ' 0$')" ]
    [ "$(tail -n 1 "$TMP/prom")" = "# EOF" ]
}

@test "eshm-stat --openmetrics of several segments with groups, a tap, a dead writer and a bad file passes promtool" {
    # a: groups audit (reads nothing) and - (took 2 of 5), a live tap
    eshm-recv --keep --group audit -t 10ms "$SEG-a" || [ $? -eq 124 ]
    eshm-recv -t 10ms "$SEG-a" || [ $? -eq 124 ]
    bg_sh "exec eshm-recv --tap -v -f $SEG-a >$TMP/tap.out 2>$TMP/tap.err"
    local tap=$BG_PID
    wait_until 10 grep -q "tapping channel" "$TMP/tap.err"
    seq 5 | eshm-send "$SEG-a"
    [ "$(eshm-recv -n 2 "$SEG-a")" = "$(seq 2)" ]
    wait_until 10 lines_at_least "$TMP/tap.out" 5
    # b: a writer killed while it held channel m2s
    mkfifo "$TMP/in"
    bg_sh "exec eshm-send -v $SEG-b <$TMP/in 2>$TMP/werr"
    local writer=$BG_PID
    exec 4>"$TMP/in"
    wait_until 5 grep -q "writing channel" "$TMP/werr"
    printf 'x\n' >&4
    wait_until 5 bash -c "eshm-stat --openmetrics $SEG-b |
        grep -qx 'eshm_channel_messages_in_total{segment=\"$SEG-b\",channel=\"m2s\"} 1'"
    kill -KILL "$writer"
    wait_exit "$writer"
    exec 4>&-
    # junk: not a segment; none: no such segment, so status 1
    echo junk >"$(seg_path "$SEG-junk")"
    run -1 --separate-stderr eshm-stat --openmetrics "$SEG-a" "$SEG-b" "$SEG-junk" "$SEG-none"
    printf '%s\n' "$output" >"$TMP/prom"
    [ -z "$stderr" ]
    well_formed

    local a="segment=\"$SEG-a\",channel=\"m2s\"" b="segment=\"$SEG-b\",channel=\"m2s\""
    # a: what each group has left, what was taken, the tap; b: the dead
    # writer, and its message still waiting
    has_samples <<EOF
eshm_segments 4
eshm_segment_valid{segment="$SEG-a"} 1
eshm_segment_valid{segment="$SEG-b"} 1
eshm_segment_valid{segment="$SEG-junk"} 0
eshm_segment_valid{segment="$SEG-none"} 0
eshm_segment_size_bytes{segment="$SEG-junk"} 5
eshm_channel_messages_in_total{$a} 5
eshm_channel_messages_out_total{$a} 2
eshm_group_backlog_messages{$a,group="-"} 3
eshm_group_backlog_messages{$a,group="audit"} 5
eshm_channel_holders{$a,role="tap",state="alive"} 1
eshm_channel_holders{$a,role="reader",state="alive"} 0
eshm_tap_missed_messages_total{$a,pid="$tap"} 0
eshm_tap_missed_bytes_total{$a,pid="$tap"} 0
eshm_channel_holders{$b,role="writer",state="dead"} 1
eshm_channel_holders{$b,role="writer",state="alive"} 0
eshm_channel_messages_in_total{$b} 1
EOF
    # none has no size, and neither junk nor none has channels
    [ -z "$(sample eshm_segment_size_bytes "segment=\"$SEG-none\"")" ]
    [ -z "$(grep -F "channel=" "$TMP/prom" | grep -F -e "$SEG-junk" -e "$SEG-none")" ]
    [[ "$(sample eshm_channel_oldest_age_seconds "$b")" =~ ^[0-9]+\.[0-9]{3}$ ]]
}

@test "eshm-stat --openmetrics counts a stopped writer as stale" {
    mkfifo "$TMP/in"
    bg_sh "exec eshm-send -v --stale 50ms $SEG <$TMP/in 2>$TMP/werr"
    local writer=$BG_PID
    exec 4>"$TMP/in"
    wait_until 5 grep -q "writing channel" "$TMP/werr"
    local m2s="segment=\"$SEG\",channel=\"m2s\""
    eshm-stat --openmetrics "$SEG" >"$TMP/prom"
    [ "$(sample eshm_channel_holders "$m2s,role=\"writer\",state=\"alive\"")" = 1 ]
    kill -STOP "$writer"
    wait_until 5 bash -c "! eshm-stat --check $SEG >/dev/null"
    eshm-stat --openmetrics "$SEG" >"$TMP/prom"
    [ "$(sample eshm_channel_holders "$m2s,role=\"writer\",state=\"stale\"")" = 1 ]
    [ "$(sample eshm_channel_holders "$m2s,role=\"writer\",state=\"alive\"")" = 0 ]
    kill -CONT "$writer"
    exec 4>&-
}

@test "eshm-stat --openmetrics escapes a quote, a backslash and a newline in a corrupt segment's group name" {
    eshm-recv --keep --group escapes -t 10ms "$SEG" || [ $? -eq 124 ]
    echo one | eshm-send "$SEG"
    # No valid group name has them: write them over the name in the file,
    # with a byte that is not UTF-8.
    python3 - "$(seg_path "$SEG")" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    data = f.read()
    assert data.count(b"escapes\0") == 1
    f.seek(data.index(b"escapes\0"))
    f.write(b'a"b\\c\n\xff\0')
PY
    eshm-stat --openmetrics "$SEG" >"$TMP/prom"
    well_formed
    [ "$(sample eshm_group_backlog_messages "segment=\"$SEG\",channel=\"m2s\",group=\"a\\\"b\\\\c\\n?\"")" = 1 ]
}

@test "eshm-stat --openmetrics without NAME counts every segment, and passes over those it may not read" {
    [ "$(id -u)" -eq 0 ] || skip "needs root to act as another user"
    command -v setpriv >/dev/null
    run -0 --separate-stderr private_shm '
        seq 3 | eshm-send one
        eshm-send --keep two </dev/null
        echo junk >/dev/shm/eshm_three
        echo other >/dev/shm/not-ours
        samples() { grep -e "^eshm_segments " -e "^eshm_segment_valid" -e "^# EOF"; }
        eshm-stat --openmetrics | samples
        as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
        as_nobody eshm-stat --openmetrics | samples
        out=$(as_nobody eshm-stat --openmetrics one) || echo "status $?"
        samples <<<"$out"'
    [ -z "$stderr" ]
    # root's sweep: every segment; nobody's: not root's segments (0600),
    # only the junk (0644); nobody's NAME: not passed over, not valid, 1
    [ "$output" = "$(cat <<'EOF'
eshm_segments 3
eshm_segment_valid{segment="one"} 1
eshm_segment_valid{segment="three"} 0
eshm_segment_valid{segment="two"} 1
# EOF
eshm_segments 1
eshm_segment_valid{segment="three"} 0
# EOF
status 1
eshm_segments 1
eshm_segment_valid{segment="one"} 0
# EOF
EOF
)" ]
}

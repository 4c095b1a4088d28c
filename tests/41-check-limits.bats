#!/usr/bin/env bats
# eshm-stat --check with thresholds: --max-age, --max-pending, --max-idle,
# --max-fill; each firing and not firing, and with the dead/stale checks.

load helpers

# oldest_ms: the age of the oldest message of channel m2s of $SEG, in ms
oldest_ms() {
    eshm-stat --json "$SEG" | json 'd["segments"][0]["channels"]["m2s"]["oldest_age_ms"]'
}

# older_than MS: whether the oldest message of $SEG waited longer than MS
older_than() {
    [ "$(oldest_ms)" -gt "$1" ]
}

# group_idle_ms GROUP: how long GROUP had messages waiting and released none
group_idle_ms() {
    eshm-stat --json "$SEG" |
        json "[g['idle_ms'] for g in d['segments'][0]['channels']['m2s']['groups'] if g['name'] == '$1'][0]"
}

idle_over() {
    [ "$(group_idle_ms "$1")" -gt "$2" ]
}

@test "--max-age fires once the oldest message waited longer, and not before" {
    seq 1 3 | eshm-send --keep "$SEG"
    run -0 eshm-stat --check --max-age 1h "$SEG"
    [ -z "$output" ]
    wait_until 5 older_than 300
    run -1 eshm-stat --check --max-age 200ms "$SEG"
    [ "${#lines[@]}" -eq 1 ]
    [[ "${lines[0]}" =~ ^$SEG:\ channel\ m2s,\ no\ consumer\ group\ yet:\ its\ oldest\ message\ has\ waited\ [0-9]+ms\ \(--max-age\ 200ms\)$ ]]
    # once a reader took them all, nothing waits: no age to cross
    eshm-recv --keep "$SEG" >/dev/null
    run -0 eshm-stat --check --max-age 1ms "$SEG"
    [ -z "$output" ]
}

@test "--max-age names each consumer group that is late, and only those" {
    eshm-recv --keep --group fast -t 1ms "$SEG" || true
    eshm-recv --keep --group slow -t 1ms "$SEG" || true
    seq 1 4 | eshm-send --keep "$SEG"
    eshm-recv --keep --group fast "$SEG" >/dev/null
    wait_until 5 older_than 300
    run -1 eshm-stat --check --max-age 200ms "$SEG"
    [ "${#lines[@]}" -eq 1 ]
    [[ "${lines[0]}" == "$SEG: channel m2s, group slow: its oldest message has waited "*" (--max-age 200ms)" ]]
}

@test "--max-pending counts messages when bare, bytes with a unit; over the limit only" {
    eshm-recv --keep --group g -t 1ms "$SEG" || true
    printf '%s\n' aaaa bbbb cccc dddd eeee | eshm-send --keep "$SEG"
    run -0 eshm-stat --check --max-pending 5 "$SEG"
    run -1 eshm-stat --check --max-pending 4 "$SEG"
    [ "$output" = "$SEG: channel m2s, group g: 5 messages waiting (--max-pending 4)" ]
    # 25 bytes of messages
    run -0 eshm-stat --check --max-pending 25B "$SEG"
    run -1 eshm-stat --check --max-pending 24B "$SEG"
    [ "$output" = "$SEG: channel m2s, group g: 25B of messages waiting (--max-pending 24B)" ]
    run -0 eshm-stat --check --max-pending 1K "$SEG"
}

@test "--max-idle fires for a group whose reader holds messages and releases none" {
    eshm-recv --keep --group workers -t 1ms "$SEG" || true
    seq 1 3 | eshm-send --keep "$SEG"
    # a worker stuck in its first job: alive, its heartbeat on time
    bg eshm-recv --keep --group workers -j 1 -f --exec 'exec sleep 60' "$SEG"
    wait_until 5 idle_over workers 500
    run -1 eshm-stat --check --max-idle 400ms "$SEG"
    [ "${#lines[@]}" -eq 1 ]
    [[ "${lines[0]}" =~ ^$SEG:\ channel\ m2s,\ group\ workers:\ no\ message\ released\ for\ [0-9]+ms\ while\ messages\ waited,\ 1\ reader\ \(--max-idle\ 400ms\)$ ]]
    run -0 eshm-stat --check --max-idle 1h "$SEG"
}

@test "--max-idle stays quiet while a slow reader keeps releasing" {
    eshm-recv --keep --group slow -t 1ms "$SEG" || true
    seq 1 400 | eshm-send --keep "$SEG"
    # one message every 20 ms: 8 s of backlog, and progress all along
    bg_sh "eshm-recv --keep --group slow -j 1 -f --exec 'sleep 0.02' $SEG"
    wait_until 5 older_than 1500
    run -0 eshm-stat --check --max-idle 1s "$SEG"
    [ -z "$output" ]
    run -1 eshm-stat --check --max-age 1s "$SEG"
}

@test "--max-fill fires past the given percentage of a ring" {
    head -c 3000 /dev/zero | tr '\0' x | fold -w 99 | eshm-send --keep -c 4K "$SEG"
    run -0 eshm-stat --check --max-fill 90 "$SEG"
    run -1 eshm-stat --check --max-fill 50% "$SEG"
    [[ "$output" =~ ^$SEG:\ channel\ m2s\ is\ [0-9]+%\ full:\ [0-9.]+K\ of\ 4.0K\ \(--max-fill\ 50%\)$ ]]
}

@test "thresholds add to the dead-holder check, a line per problem" {
    mkfifo "$TMP/in"
    bg_sh "exec eshm-send -v --keep $SEG <$TMP/in 2>$TMP/werr"
    local writer=$BG_PID
    exec 4>"$TMP/in"
    wait_until 5 grep -q "writing channel" "$TMP/werr"
    echo one >&4
    wait_until 5 older_than 0
    kill -KILL "$writer"
    exec 4>&-
    wait_until 5 older_than 300
    run -1 eshm-stat --check --max-age 200ms --max-pending 0 "$SEG"
    [ "${#lines[@]}" -eq 3 ]
    [[ "$output" == *"writer of channel m2s (pid $writer) is lost"* ]]
    [[ "$output" == *"its oldest message has waited"* ]]
    [[ "$output" == *"1 messages waiting (--max-pending 0)"* ]]
}

@test "a threshold implies --check; bad thresholds are usage errors" {
    seq 1 3 | eshm-send --keep "$SEG"
    run -1 eshm-stat --max-pending 2 "$SEG"
    [ "$output" = "$SEG: channel m2s, no consumer group yet: 3 messages waiting (--max-pending 2)" ]
    run -2 eshm-stat --max-fill 101 "$SEG"
    run -2 eshm-stat --max-fill x "$SEG"
    run -2 eshm-stat --max-age soon "$SEG"
    run -2 eshm-stat --max-idle -1s "$SEG"
    run -2 eshm-stat --max-pending 3Q "$SEG"
    run -2 eshm-stat --max-age 1s --json "$SEG"
    run -2 eshm-stat --max-age 1s --watch "$SEG"
}

@test "the table shows OLDEST, and --json each group's idle_ms" {
    seq 1 3 | eshm-send --keep "$SEG"
    wait_until 5 older_than 1000
    run -0 eshm-stat "$SEG"
    [[ "${lines[0]}" == *"USED/CAP OLDEST "* ]]
    [[ "${lines[1]}" =~ ^$SEG\ m2s\ .*\ [0-9]+s\ +3/6B ]]
    [[ "${lines[2]}" =~ ^$SEG\ s2m\ .*\ -\ +0/0B ]]
    eshm-recv -n 1 --keep "$SEG" >/dev/null
    run -0 bash -c "eshm-stat --json $SEG | python3 -c 'import json,sys; g = json.load(sys.stdin)[\"segments\"][0][\"channels\"][\"m2s\"][\"groups\"][0]; print(g[\"name\"], g[\"idle_ms\"] >= 0, g[\"idle_ms\"] <= g[\"oldest_age_ms\"])'"
    [ "$output" = "- True True" ]
}

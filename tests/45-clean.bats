#!/usr/bin/env bats
# eshm-clean: what it removes, what it never removes, and races with attachers.

load helpers

# a live holder of segment $1: eshm-recv waiting for data
hold() {
    bg_sh "exec eshm-recv -v $1 >/dev/null 2>$TMP/hold-$1"
    HOLDER=$BG_PID
    wait_until 5 grep -q "reading channel" "$TMP/hold-$1"
}

@test "eshm-clean --help and --version" {
    run -0 eshm-clean --help
    [[ "$output" == "Usage: eshm-clean [options] [NAME...]"* ]]
    run -0 eshm-clean -V
    [[ "$output" =~ ^eshm-clean\ \(eshm\)\ [0-9.]+$ ]]
}

@test "eshm-clean rejects bad usage with status 2" {
    run -2 --separate-stderr eshm-clean --bogus
    [[ "$stderr" == *"Try 'eshm-clean --help'."* ]]
    run -2 --separate-stderr eshm-clean --force
    [[ "$stderr" == *"--force needs the NAMEs"* ]]
    run -2 eshm-clean --older-than 1x "$SEG"
    run -2 eshm-clean --older-than '' "$SEG"
    run -2 eshm-clean -- -bad
}

@test "eshm-clean removes an empty orphan left by a crash" {
    hold "$SEG"
    kill -KILL "$HOLDER"
    wait_exit "$HOLDER"
    seg_exists
    run -0 --separate-stderr eshm-clean "$SEG"
    [ "$output" = "removed $SEG (empty)" ]
    seg_gone
}

@test "eshm-clean removes a named empty segment created with --keep" {
    eshm-send --keep "$SEG" </dev/null
    eshm-recv "$SEG"
    run -0 eshm-clean "$SEG"
    [ "$output" = "removed $SEG (empty)" ]
    seg_gone
}

@test "eshm-clean keeps an orphan with data, and removes it with --older-than" {
    seq 5 | eshm-send "$SEG"
    run -1 --separate-stderr eshm-clean "$SEG"
    [[ "$stderr" == "eshm-clean: $SEG: kept: segment $SEG holds undelivered data (idle "* ]]
    seg_exists
    run -1 eshm-clean --older-than 1h "$SEG"
    seg_exists
    run -0 --separate-stderr eshm-clean --older-than 0 "$SEG"
    [ "$output" = "removed $SEG (5 undelivered messages, 10 B, idle 0 s)" ]
    seg_gone
}

@test "eshm-clean never removes a segment with a live holder, even with --force" {
    hold "$SEG"
    for opts in "" "--older-than 0" "--force"; do
        # shellcheck disable=SC2086
        run -1 --separate-stderr eshm-clean $opts "$SEG"
        [ "$stderr" = "eshm-clean: $SEG: kept: segment $SEG has a live holder (pid $HOLDER)" ]
        [ -z "$output" ]
        seg_exists
    done
    # and the holder still works
    echo still | eshm-send "$SEG"
    wait_exit "$HOLDER"
    [ "$EXIT_STATUS" -eq 0 ]
}

@test "eshm-clean keeps a stopped holder's segment: stale is not dead" {
    bg_sh "exec eshm-recv -v --stale 10ms $SEG >/dev/null 2>$TMP/err"
    holder=$BG_PID
    wait_until 5 grep -q "reading channel" "$TMP/err"
    kill -STOP "$holder"
    run -1 eshm-clean --force "$SEG"
    seg_exists
    kill -CONT "$holder"
}

@test "eshm-clean keeps a garbage file, and removes it with --force" {
    echo junk >"$(seg_path "$SEG")"
    run -1 --separate-stderr eshm-clean "$SEG"
    [[ "$stderr" == *"not an eshm segment"*"'eshm-clean --force $SEG' removes it" ]]
    [ "$(cat "$(seg_path "$SEG")")" = junk ]
    run -0 eshm-clean --force "$SEG"
    [[ "$output" == "removed $SEG (not a valid segment: not an eshm segment"* ]]
    seg_gone
}

@test "eshm-clean --force removes a named segment whatever it holds" {
    seq 3 | eshm-send --keep "$SEG"
    run -0 eshm-clean --force "$SEG"
    [[ "$output" == "removed $SEG (3 undelivered messages"* ]]
    seg_gone
}

@test "eshm-clean removes a symbolic link only with --force, never its target" {
    echo precious >"$TMP/target"
    ln -s "$TMP/target" "$(seg_path "$SEG")"
    run -1 eshm-clean "$SEG"
    [ -L "$(seg_path "$SEG")" ]
    run -0 eshm-clean --force "$SEG"
    [ ! -e "$(seg_path "$SEG")" ] && [ ! -L "$(seg_path "$SEG")" ]
    [ "$(cat "$TMP/target")" = precious ]
}

@test "eshm-clean --dry-run says what it would remove and changes nothing" {
    seq 2 | eshm-send "$SEG-data"
    eshm-send --keep "$SEG-empty" </dev/null
    eshm-recv "$SEG-empty"
    echo junk >"$(seg_path "$SEG-junk")"
    sums=$(cat "$(seg_path "$SEG-data")" "$(seg_path "$SEG-empty")" | sha256sum)
    run -0 eshm-clean --dry-run "$SEG-empty"
    [ "$output" = "would remove $SEG-empty (empty)" ]
    run -0 eshm-clean -n --force "$SEG-data" "$SEG-junk"
    [[ "${lines[0]}" == "would remove $SEG-data (2 undelivered messages"* ]]
    [[ "${lines[1]}" == "would remove $SEG-junk (not a valid segment"* ]]
    seg_exists "$SEG-data" && seg_exists "$SEG-empty" && seg_exists "$SEG-junk"
    [ "$sums" = "$(cat "$(seg_path "$SEG-data")" "$(seg_path "$SEG-empty")" | sha256sum)" ]
    run -0 eshm-recv "$SEG-data"
    [ "$output" = "$(seq 2)" ]
}

@test "eshm-clean goes on past a failure and exits 1 at the end" {
    eshm-send --keep "$SEG-a" </dev/null
    eshm-recv "$SEG-a"
    eshm-send --keep "$SEG-c" </dev/null
    eshm-recv "$SEG-c"
    run -1 --separate-stderr eshm-clean "$SEG-a" "$SEG-missing" "$SEG-c"
    [ "${lines[0]}" = "removed $SEG-a (empty)" ]
    [ "${lines[1]}" = "removed $SEG-c (empty)" ]
    [[ "$stderr" == *"eshm-clean: $SEG-missing: no segment $SEG-missing"* ]]
}

@test "eshm-clean explains why it may not remove another user's segment" {
    [ "$(id -u)" -eq 0 ] || skip "needs root to act as another user"
    command -v setpriv >/dev/null
    # root's segment in the sticky /dev/shm; nobody may not remove it
    eshm-send --keep --mode 0666 "$SEG" </dev/null
    eshm-recv --mode 0666 "$SEG"
    run -1 --separate-stderr setpriv --reuid=nobody --regid=nogroup --clear-groups \
        eshm-clean "$SEG"
    [[ "$stderr" == *"cannot remove /dev/shm/eshm_$SEG: it belongs to uid 0 and /dev/shm is sticky, so only its owner may remove it"* ]]
    seg_exists
    # a dry run says the same instead of promising
    run -1 --separate-stderr setpriv --reuid=nobody --regid=nogroup --clear-groups \
        eshm-clean --dry-run "$SEG"
    [[ "$stderr" == *"only its owner may remove it"* ]]
    [ -z "$output" ]
    # and sweeps by another user leave what they may not read alone, quietly
    run -0 --separate-stderr private_shm '
        eshm-recv -v --retries 0 orphan 2>/dev/null & p=$!
        until [ -e /dev/shm/eshm_orphan ]; do sleep 0.01; done
        kill -KILL $p; wait $p || true
        as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
        as_nobody eshm-clean 2>&1
        as_nobody eshm-stat --check 2>&1
        ls /dev/shm'
    [ "$output" = eshm_orphan ]
}

@test "a sweep removes empty orphans and keeps everything else" {
    run -0 --separate-stderr private_shm '
        eshm-recv -v orphan 2>/tmp/orphan-$$ & crashed=$!          # empty orphan:
        until grep -q reading /tmp/orphan-$$; do sleep 0.01; done  # its holder
        kill -KILL $crashed; wait $crashed || true                 # crashed
        seq 3 | eshm-send queued                                  # undelivered data
        eshm-send --keep keepme </dev/null; eshm-recv keepme
        eshm-recv -v live >/dev/null 2>/tmp/live-$$ & live=$!     # live holder
        until grep -q reading /tmp/live-$$; do sleep 0.01; done
        echo junk >/dev/shm/eshm_junk
        eshm-clean -v
        echo ---
        ls /dev/shm
        kill $live; wait $live || true
        rm -f /tmp/live-$$ /tmp/orphan-$$
    '
    [ "${lines[0]}" = "removed orphan (empty)" ]
    [ "${lines[1]}" = --- ]
    [ "${lines[*]:2}" = "eshm_junk eshm_keepme eshm_live eshm_queued" ]
    [[ "$stderr" == *"eshm-clean: junk: /dev/shm/eshm_junk is not a valid segment"* ]]
    [[ "$stderr" == *"eshm-clean: keepme: kept: segment keepme was created to be kept"* ]]
    [[ "$stderr" == *"eshm-clean: live: kept: segment live has a live holder"* ]]
    [[ "$stderr" == *"eshm-clean: queued: kept: segment queued holds undelivered data"* ]]
}

@test "a sweep with --older-than also removes idle data and kept segments" {
    run -0 private_shm '
        seq 3 | eshm-send queued
        eshm-send --keep kept </dev/null; eshm-recv kept
        true | eshm-send ended
        eshm-clean --older-than 1h
        echo ---
        eshm-clean --older-than 0
        ls /dev/shm
    '
    [ "${lines[0]}" = --- ]
    [ "${lines[1]}" = "removed ended (an undelivered end-of-stream mark)" ]
    [ "${lines[2]}" = "removed kept (empty)" ]
    [[ "${lines[3]}" == "removed queued (3 undelivered messages"* ]]
    [ "${#lines[@]}" -eq 4 ]
}

@test "eshm-clean --force ignores --older-than; a named kept segment goes whatever its age" {
    seq 3 | eshm-send "$SEG-q"
    eshm-send --keep "$SEG-k" </dev/null
    eshm-recv "$SEG-k"
    run -0 eshm-clean --older-than 1h "$SEG-k"
    [ "$output" = "removed $SEG-k (empty)" ]
    run -0 eshm-clean --force --older-than 1h "$SEG-q"
    [[ "$output" == "removed $SEG-q (3 undelivered messages"* ]]
}

@test "eshm-clean refuses to remove a directory named like a segment" {
    mkdir "$(seg_path "$SEG")"
    run -1 --separate-stderr eshm-clean --force "$SEG"
    [[ "$stderr" == *"is not a regular file; not removing it"* ]]
    [ -d "$(seg_path "$SEG")" ]
    run -1 --separate-stderr eshm-clean --force -n "$SEG"
    rmdir "$(seg_path "$SEG")"
}

@test "eshm-clean racing attach and detach never removes a live segment nor loses data" {
    # an aggressive cleaner: --force removes anything without a live holder
    bg_sh "while :; do eshm-clean --force $SEG $SEG-live >/dev/null 2>&1; done"
    # a long-lived holder on another segment all along
    bg_sh "exec eshm-recv -f $SEG-live >$TMP/live.out"
    live=$BG_PID
    end=$((SECONDS + 4))
    i=0
    while ((SECONDS < end)); do
        i=$((i + 1))
        # the reader attaches first, so the segment always has a live holder
        # while data is in it: nothing may be removed, nothing lost
        bg_sh "exec eshm-recv -t 5 -n 1 $SEG >$TMP/got"
        r=$BG_PID
        echo "msg $i" | eshm-send --no-create --retries 50 "$SEG"
        echo "live $i" | eshm-send "$SEG-live"
        wait_exit "$r"
        [ "$EXIT_STATUS" -eq 0 ]
        [ "$(cat "$TMP/got")" = "msg $i" ]
    done
    echo "rounds: $i" >&3
    [ "$i" -gt 20 ]
    wait_until 5 lines_at_least "$TMP/live.out" "$i"
    [ "$(cat "$TMP/live.out")" = "$(for ((k = 1; k <= i; k++)); do echo "live $k"; done)" ]
    seg_exists "$SEG-live"
    alive "$live"
}

@test "a sweep removes unfinished segments whose creator died, never one being created" {
    run -0 --separate-stderr private_shm "$(leftover_fns)"'
        dead=$(dead_leftover 2097152)
        live_leftover 4096
        # old, but its creator holds its lock: still being created
        touch -d "2 minutes ago" "$LIVE_PATH"
        echo "$dead $LIVE_PATH"
        eshm-clean --dry-run
        [ -e "$dead" ]
        eshm-clean -v
        echo ---
        eshm-clean --verbose
        ls -A /dev/shm
        kill "$LIVE_PID"; wait "$LIVE_PID" || true'
    read -r dead live <<<"${lines[0]}"
    dpid=${dead#/dev/shm/.eshm-new.} dpid=${dpid%.1}
    lpid=${live#/dev/shm/.eshm-new.} lpid=${lpid%.1}
    [ "${lines[1]}" = "would remove $dead (unfinished segment of pid $dpid, which died, 2.0 MiB)" ]
    [ "${lines[2]}" = "removed $dead (unfinished segment of pid $dpid, which died, 2.0 MiB)" ]
    [ "${lines[3]}" = --- ]
    [ "${lines[4]}" = "${live##*/}" ]
    [ "${#lines[@]}" -eq 5 ]
    kept="eshm-clean: $live: kept: unfinished segment $live is being created by pid $lpid"
    [ "$stderr" = "$kept"$'\n'"$kept" ]
}

@test "a sweep by another user skips the unfinished segments it may not judge, quietly" {
    [ "$(id -u)" -eq 0 ] || skip "needs root to act as another user"
    command -v setpriv >/dev/null
    run -0 --separate-stderr private_shm "$(leftover_fns)"'
        dead=$(dead_leftover 4096)
        as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
        as_nobody eshm-clean
        as_nobody eshm-stat --check
        as_nobody eshm-clean -v 2>&1
        [ -e "$dead" ] && echo "$dead"'
    [ "${#lines[@]}" -eq 2 ]
    [ "${lines[0]}" = "eshm-clean: ${lines[1]}: cannot open ${lines[1]}: it belongs to uid 0, and we may not read it" ]
}

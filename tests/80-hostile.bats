#!/usr/bin/env bats
# Hostile peers and environments: a scribbler, truncation, a full /dev/shm,
# other users' segments. Nobody crashes, nobody gets in.

load helpers

BUILD="${ESHM_BUILD:-$BATS_TEST_DIRNAME/../build}"

# scribble_run BINDIR SEED: a stream between BINDIR's eshm-send and
# eshm-recv while the scribbler writes over the header for 2 s; both must
# end by themselves with 0, 1 or 124, never by a signal, with a reason
# when they fail, and with nothing from a sanitizer.
scribble_run() {
    local bin=$1 seed=$2
    mkfifo "$TMP/in"
    bg_sh "while [ ! -e $TMP/stop ]; do seq 1 1000; done >$TMP/in"
    bg_sh "exec $bin/eshm-send -t 3 $SEG <$TMP/in 2>$TMP/send.err"
    sender=$BG_PID
    bg_sh "exec $bin/eshm-recv -t 3 --retries 20 $SEG >$TMP/out 2>$TMP/recv.err"
    receiver=$BG_PID
    wait_until 10 bytes_at_least "$TMP/out" 100000
    "$BUILD/tests/scribble" "$SEG" 2 "$seed" >"$TMP/writes"
    touch "$TMP/stop"
    wait_until 30 bash -c "! kill -0 $sender 2>/dev/null && ! kill -0 $receiver 2>/dev/null"
    wait_exit "$sender"
    send_status=$EXIT_STATUS
    wait_exit "$receiver"
    recv_status=$EXIT_STATUS
    echo "writes $(cat "$TMP/writes"), eshm-send $send_status, eshm-recv $recv_status" >&3
    tail -n 1 "$TMP/send.err" "$TMP/recv.err" | sed 's/^/  /' >&3
    for s in $send_status $recv_status; do
        [[ $s == 0 || $s == 1 || $s == 124 ]]
    done
    if [ "$recv_status" -ne 0 ]; then [ -s "$TMP/recv.err" ]; fi
    if [ "$send_status" -ne 0 ]; then [ -s "$TMP/send.err" ]; fi
    ! grep -E "AddressSanitizer|runtime error|Segmentation|Bus error" "$TMP/send.err" "$TMP/recv.err"
}

@test "a peer scribbling over the header while data flows makes nobody crash" {
    scribble_run "$BUILD/bin" 1
}

@test "a peer scribbling over the header: no access outside the mapping under ASan" {
    scribble_run "$BUILD/asan/bin" 2
}

@test "a segment truncated under its holders: errors that say so, never SIGBUS" {
    mkfifo "$TMP/in"
    bg_sh "exec eshm-send -v $SEG <$TMP/in 2>$TMP/send.err"
    sender=$BG_PID
    exec 4>"$TMP/in"
    echo before >&4
    bg_sh "exec eshm-recv -v $SEG >$TMP/out 2>$TMP/recv.err"
    receiver=$BG_PID
    wait_until 5 lines_at_least "$TMP/out" 1
    truncate -s 0 "$(seg_path "$SEG")"
    echo after >&4
    exec 4>&-
    wait_exit "$sender"
    [ "$EXIT_STATUS" -eq 1 ]
    grep -q "segment $SEG was truncated under us" "$TMP/send.err"
    wait_exit "$receiver"
    [ "$EXIT_STATUS" -eq 1 ]
    grep -q "truncated" "$TMP/recv.err"
    # the last holder took the remains away: nothing usable was left
    seg_gone
}

@test "creating a segment in a full /dev/shm fails cleanly and leaves nothing" {
    run -1 --separate-stderr private_shm '
        # a tmpfs with room for less than one segment of 1M channels
        umount /dev/shm
        mount -t tmpfs -o size=1m,mode=1777 small /dev/shm
        eshm-send q </dev/null && exit 3
        ls -A /dev/shm
        exit 1'
    [[ "$stderr" == *"eshm-send: q: cannot create segment q: No space left on device"* ]]
    [ -z "$output" ]
}

@test "a nearly full /dev/shm: the segment that fits works, the next one fails cleanly" {
    run -0 --separate-stderr private_shm '
        umount /dev/shm
        mount -t tmpfs -o size=3m,mode=1777 small /dev/shm
        seq 3 | eshm-send first
        if seq 3 | eshm-send second; then exit 3; fi
        eshm-recv first
        ls -A /dev/shm'
    [ "$output" = "$(seq 3)" ]
    [[ "$stderr" == *"eshm-send: second: cannot create segment second: No space left on device"* ]]
}

# as UID:GID, with no supplementary groups
as() {
    local ids=$1
    shift
    setpriv --reuid="${ids%:*}" --regid="${ids#*:}" --clear-groups "$@"
}

needs_root() {
    if [ "$(id -u)" -ne 0 ]; then
        skip "acting as other users needs root (CI runs as root)"
    fi
}

@test "a segment squatted by another user is refused, whatever its mode" {
    needs_root
    # 0600 owned by someone else: not ours
    as 4241:4242 eshm-send --keep "$SEG-a" </dev/null
    run -1 --separate-stderr eshm-recv "$SEG-a"
    [[ "$stderr" == *"segment $SEG-a belongs to uid 4241, not to us (pass --mode to share segments between users)"* ]]
    # world-writable, not asked for: refused
    as 4241:4242 eshm-send --keep --mode 0666 "$SEG-b" </dev/null
    run -1 --separate-stderr eshm-recv "$SEG-b"
    [[ "$stderr" == *"segment $SEG-b has mode 0666, wider than the 0600 asked for"* ]]
    # and another user cannot read ours at all
    eshm-send --keep "$SEG-c" </dev/null
    run -1 --separate-stderr as 4241:4242 eshm-recv "$SEG-c"
    [[ "$stderr" == *"permission denied: /dev/shm/eshm_$SEG-c belongs to uid 0 with mode 0600"* ]]
}

@test "--mode 0660 shares a segment within a group, and only within it" {
    needs_root
    seq 1 100 | as 4241:4242 eshm-send --mode 0660 "$SEG"
    [ "$(stat -c '%a %u %g' "$(seg_path "$SEG")")" = "660 4241 4242" ]
    # someone outside the group: no
    run -1 --separate-stderr as 4243:4244 eshm-recv --mode 0660 "$SEG"
    [[ "$stderr" == *"permission denied"* ]]
    # a member who did not ask to share: refused, told how
    run -1 --separate-stderr as 4243:4242 eshm-recv "$SEG"
    [[ "$stderr" == *"wider than the 0600 asked for (pass --mode 0660"* ]]
    # a member who did: yes
    run -0 --separate-stderr as 4243:4242 eshm-recv --mode 0660 "$SEG"
    [ "$output" = "$(seq 1 100)" ]
    # the last holder was not the owner: /dev/shm is sticky, so the empty
    # segment stays for its owner (or eshm-clean) to remove, and it says so
    [[ "$stderr" == *"cannot remove the drained segment $SEG: it belongs to uid 4241 and /dev/shm is sticky"* ]]
    seg_exists
    run -0 as 4241:4242 eshm-clean "$SEG"
    [ "$output" = "removed $SEG (empty)" ]
}

# member UID CMD...: as user UID, whose primary group is UID (as where each
# user has a group of their own), and who is also in group 4242
member() {
    local uid=$1
    shift
    setpriv --reuid="$uid" --regid="$uid" --groups=4242 "$@"
}

@test "without --shm-group a segment has its creator's primary group, and a denied user is told so" {
    needs_root
    seq 3 | member 2001 eshm-send --mode 0660 "$SEG"
    [ "$(stat -c '%a %g' "$(seg_path "$SEG")")" = "660 2001" ]
    run -1 --separate-stderr member 2002 eshm-recv --mode 0660 "$SEG"
    [[ "$stderr" == *"permission denied: /dev/shm/eshm_$SEG belongs to uid 2001 with mode 0660 and gid 2001"* ]]
}

@test "--shm-group shares a segment between users whose primary groups differ, sender first" {
    needs_root
    seq 3 | member 2001 eshm-send --shm-group 4242 "$SEG"
    # the group asked for, and group bits without --mode
    [ "$(stat -c '%a %u %g' "$(seg_path "$SEG")")" = "660 2001 4242" ]
    run -0 --separate-stderr member 2002 eshm-recv --mode 0660 --shm-group 4242 "$SEG"
    [ "$output" = "$(seq 3)" ]
    # drained by a user who does not own it: /dev/shm is sticky, so it
    # stays for its owner, with a warning (status 0)
    [[ "$stderr" == *"cannot remove the drained segment $SEG: it belongs to uid 2001"* ]]
}

@test "a runner makes NAME.failed with the queue's --shm-group and --mode: another member reads the failed jobs" {
    needs_root
    seq 2 | member 2001 eshm-send --keep --shm-group 4242 "$SEG"
    run -1 --separate-stderr member 2001 eshm-recv --shm-group 4242 --attempts 1 --exec 'exit 3' "$SEG"
    [ "$(stat -c '%a %u %g' "$(seg_path "$SEG.failed")")" = "660 2001 4242" ]
    run -0 --separate-stderr member 2002 eshm-recv --mode 0660 --shm-group 4242 "$SEG.failed"
    [ "$output" = "$(seq 2)" ]
}

@test "--shm-group shares a segment between users whose primary groups differ, receiver first" {
    needs_root
    bg_sh "exec setpriv --reuid=2002 --regid=2002 --groups=4242 \
        eshm-recv --shm-group 4242 $SEG >$TMP/out 2>$TMP/err"
    receiver=$BG_PID
    wait_until 5 seg_exists
    [ "$(stat -c '%a %u %g' "$(seg_path "$SEG")")" = "660 2002 4242" ]
    seq 3 | member 2001 eshm-send --mode 0660 --shm-group 4242 "$SEG"
    wait_exit "$receiver"
    cat "$TMP/err"
    [ "$EXIT_STATUS" -eq 0 ]
    [ "$(cat "$TMP/out")" = "$(seq 3)" ]
}

@test "--shm-group of a group the creator is not in: an error that names it, and nothing left" {
    needs_root
    # in a /dev/shm of its own, to see that no temporary file is left either
    run -1 --separate-stderr private_shm '
        as() { setpriv --reuid=4241 --regid=4241 --clear-groups "$@"; }
        as eshm-send --shm-group 4242 q </dev/null && exit 3
        as eshm-recv --shm-group users q && exit 3
        ls -A /dev/shm
        exit 1'
    [ -z "$output" ]
    [[ "$stderr" == *"eshm-send: q: cannot create segment q with gid 4242: you are not a member of it"* ]]
    [[ "$stderr" == *"eshm-recv: q: cannot create segment q with group users (gid "*"): you are not a member of it"* ]]
}

@test "--shm-group refuses a segment of another group, naming both groups" {
    needs_root
    # root may give any group, by name
    seq 3 | eshm-send --shm-group users "$SEG"
    [ "$(stat -c '%a %G' "$(seg_path "$SEG")")" = "660 users" ]
    # a member of both groups can open it, and is told why not
    run -1 --separate-stderr setpriv --reuid=2002 --regid=2002 --groups=4242,users \
        eshm-recv --shm-group 4242 "$SEG"
    [[ "$stderr" == *"segment $SEG belongs to group users (gid "*"), not to gid 4242 as asked"* ]]
    # a member of 4242 only cannot even open it, and is told both too
    run -1 --separate-stderr member 2002 eshm-recv --shm-group 4242 "$SEG"
    [[ "$stderr" == *"permission denied: /dev/shm/eshm_$SEG belongs to uid 0 with mode 0660 and group users (gid "*"), not gid 4242 as asked"* ]]
    # untouched: it still delivers everything to those who ask for its group
    run -0 eshm-recv --shm-group users "$SEG"
    [ "$output" = "$(seq 3)" ]
    seg_gone
}

@test "--shm-group with an unknown group is a usage error that names it" {
    run -2 --separate-stderr eshm-send --shm-group "no-such-group-$SEG" "$SEG" </dev/null
    [ "${stderr_lines[0]}" = "eshm-send: unknown group 'no-such-group-$SEG' for --shm-group (a group name or number up to 2147483647)" ]
    [ "${stderr_lines[1]}" = "Try 'eshm-send --help'." ]
    run -2 --separate-stderr eshm-recv --shm-group 2147483648 "$SEG"
    [[ "$stderr" == *"unknown group '2147483648' for --shm-group"* ]]
    seg_gone
}

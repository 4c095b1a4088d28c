# helpers.bash - shared set-up for the Bats tests: unique names, temp dirs,
# processes tracked by pid, and waiting for conditions instead of sleeping.
# shellcheck shell=bash
# BG_PID and EXIT_STATUS are set here for the test files that load this one.
# shellcheck disable=SC2034

bats_require_minimum_version 1.5.0

# Each test gets its own segment name and temp dir, removed in teardown.
setup() {
    SEG="bt$$-${BATS_TEST_NUMBER}-${RANDOM}"
    TMP="$(mktemp -d "${BATS_RUN_TMPDIR:-/tmp}/eshm-test.XXXXXX")"
    PIDS=()
}

teardown() {
    local p
    for p in "${PIDS[@]}"; do
        kill -KILL "$p" 2>/dev/null || true
    done
    for p in "${PIDS[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    rm -f /dev/shm/eshm_"${SEG}" /dev/shm/eshm_"${SEG}"-* /dev/shm/eshm_"${SEG}".*
    rm -rf "$TMP"
}

# The C++ peer (tests/interop/peer.cpp), which make check builds and make
# all does not. need_peer, in a file's setup_file: fail at once, saying how
# to build it, rather than have the tests that start it wait in vain.
PEER="${ESHM_BUILD:-$BATS_TEST_DIRNAME/../build}/tests/interop-peer"
need_peer() {
    [ -x "$PEER" ] || {
        echo "$PEER is missing: make check builds it, or make build/tests/interop-peer" >&2
        return 1
    }
}

# seg_path NAME: the file of a segment
seg_path() {
    printf '/dev/shm/eshm_%s\n' "$1"
}

# bg CMD...: start CMD in the background, track it, set BG_PID.
# Use `bg_sh 'pipeline'` for pipelines and redirections.
bg() {
    "$@" &
    BG_PID=$!
    PIDS+=("$BG_PID")
}

bg_sh() {
    bash -c "$1" &
    BG_PID=$!
    PIDS+=("$BG_PID")
}

# wait_until SECONDS CMD...: poll CMD every 10 ms until it succeeds; fail
# the test if it does not within SECONDS.
wait_until() {
    local limit=$1
    shift
    local deadline=$((SECONDS + limit))
    until "$@"; do
        if ((SECONDS > deadline)); then
            echo "condition not met within ${limit}s: $*" >&2
            return 1
        fi
        sleep 0.01
    done
}

# wait_exit PID: wait for a tracked background process; sets EXIT_STATUS.
wait_exit() {
    EXIT_STATUS=0
    wait "$1" || EXIT_STATUS=$?
}

# alive PID: whether a process still runs (and is not a zombie)
alive() {
    [ -e "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null
}

# holder_is STATE END_PID: the segment's state as the library sees it is
# checked through eshm-stat when present; tests that predate it use the
# segment file's existence and the processes' output.
seg_exists() {
    [ -e "$(seg_path "${1:-$SEG}")" ]
}

seg_gone() {
    [ ! -e "$(seg_path "${1:-$SEG}")" ]
}

# file_size FILE
file_size() {
    stat -c %s "$1"
}

# lines_at_least FILE N: FILE has at least N lines
lines_at_least() {
    [ -e "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ]
}

# bytes_at_least FILE N
bytes_at_least() {
    [ -e "$1" ] && [ "$(stat -c %s "$1")" -ge "$2" ]
}

# private_shm SCRIPT: run a bash script with an empty /dev/shm of its own
# (a tmpfs in a private mount namespace), so that sweeps over /dev/shm see
# only what the script makes and never touch the machine's other segments.
# The script must end the processes it starts.
private_shm() {
    local ns=(unshare --mount --propagation private)
    [ "$(id -u)" -eq 0 ] || ns=(unshare --mount --map-root-user --propagation private)
    "${ns[@]}" bash -c 'mount -t tmpfs -o size=64m,mode=1777 eshm-test /dev/shm || exit 99
set -e
'"$1"
}

# make_here ARG...: this tree's Makefile on the build the tests use, as a
# make of its own even when make check runs the tests (for the install
# targets: into a temporary PREFIX or DESTDIR, never the system's, so
# without ldconfig unless an ARG sets LDCONFIG)
make_here() {
    env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
        make -s --no-print-directory -C "$BATS_TEST_DIRNAME/.." \
        B="${ESHM_BUILD:-$BATS_TEST_DIRNAME/../build}" LDCONFIG= "$@"
}

# json QUERY: evaluate a Python expression on the JSON document on stdin
# (bound to `d`), with a real parser; prints the result.
json() {
    python3 -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}

# leftover_fns: bash functions for a private_shm script that make what a
# process creating a segment leaves in /dev/shm, played by tests/leftover.py:
#   dead_leftover SIZE   its creator killed (SIGKILL); prints the file's path
#   live_leftover SIZE   its creator still running and holding the file's
#                        lock; sets LIVE_PID and LIVE_PATH. End it by pid;
#                        if the script fails first, its exit ends it
# Use as: private_shm "$(leftover_fns)"'script'
leftover_fns() {
    printf 'LEFTOVER=%q\n' "$BATS_TEST_DIRNAME/leftover.py"
    cat <<'EOF'
dead_leftover() {
    local pid path
    coproc DEAD { exec python3 "$LEFTOVER" "$1"; }
    pid=$DEAD_PID
    read -r path <&"${DEAD[0]}"
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null || true
    echo "$path"
}
live_leftover() {
    coproc CREATOR { exec python3 "$LEFTOVER" "$1"; }
    LIVE_PID=$CREATOR_PID
    trap 'kill "$LIVE_PID" 2>/dev/null || true' EXIT
    read -r LIVE_PATH <&"${CREATOR[0]}"
}
EOF
}

#!/usr/bin/env bats
# Short forms of make stress: the crash soak and the liveness facts.

load helpers

BUILD="${ESHM_BUILD:-$BATS_TEST_DIRNAME/../build}"

@test "a crash soak with random SIGKILLs and SIGSTOPs loses, corrupts and leaves nothing" {
    run bash "$BATS_TEST_DIRNAME/stress/soak.sh" 10 "$BUILD"
    echo "$output" >&3
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == *"segment left: no"* ]]
    [[ "${lines[1]}" == *", lost 0, corrupt 0,"* ]]
}

@test "a crash soak of two consumer groups of two readers loses nothing for either group" {
    run bash "$BATS_TEST_DIRNAME/stress/soak-groups.sh" 8 "$BUILD"
    echo "$output" >&3
    [ "$status" -eq 0 ]
    [[ "${lines[1]}" == *", lost 0, corrupt 0,"* ]]
    [[ "${lines[2]}" == *", lost 0, corrupt 0,"* ]]
}

@test "a holder killed with SIGKILL is seen dead, a live one never, even with every core busy" {
    run -0 "$BUILD/tests/liveness" 50 3
    echo "$output" >&3
    [[ "${lines[1]}" == *": 0 seen dead,"* ]]
}

#!/usr/bin/env bats
# 50-completions.bats - the bash and zsh completions offer what the tools' --help lists.

load helpers

COMPLETIONS="$BATS_TEST_DIRNAME/../completions"
TOOLS=(eshm-send eshm-recv eshm-stat eshm-clean eshm-bench)

# help_long_options TOOL: the long options TOOL --help lists, one a line,
# sorted the same way as offered_long_options. Only those that start a
# line of the option list count: the prose may name another tool's option
# ("created with --keep" in eshm-clean --help).
help_long_options() {
    "$1" --help | grep -oE -- '^ +(-[[:alnum:]], +)?--[a-z][a-z0-9-]*' |
        grep -oE -- '--[a-z][a-z0-9-]*' | LC_ALL=C sort -u
}

# offered_long_options: the long options in COMPREPLY, one a line.
offered_long_options() {
    printf '%s\n' "${COMPREPLY[@]}" | grep -- '^--' | LC_ALL=C sort -u
}

# complete_bash WORD...: call the function that bash would for the command
# line WORD... with the cursor at the end of the last WORD, with the
# arguments bash would give it; its offers land in COMPREPLY. The
# function is the one `complete -p` reports, so the test follows the
# registration rather than a name.
complete_bash() {
    local spec fn
    spec=$(complete -p "$1")
    [[ $spec =~ -F\ ([^ ]+) ]]
    fn=${BASH_REMATCH[1]}
    COMP_WORDS=("$@")
    COMP_CWORD=$(($# - 1))
    COMP_LINE="$*"
    COMP_POINT=${#COMP_LINE}
    COMPREPLY=()
    "$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
}

# offered WORD: whether COMPREPLY holds WORD
offered() {
    local w
    for w in "${COMPREPLY[@]}"; do
        [[ $w == "$1" ]] && return 0
    done
    echo "not offered: $1 (in: ${COMPREPLY[*]})"
    return 1
}

# not_offered WORD: the contrary, as a command of its own because `!`
# does not fail a Bats test
not_offered() {
    if offered "$1" >/dev/null; then
        echo "offered but should not be: $1 (in: ${COMPREPLY[*]})"
        return 1
    fi
}

@test "the bash completion offers every long option that --help lists" {
    source "$COMPLETIONS/bash/eshm"
    local tool missing
    for tool in "${TOOLS[@]}"; do
        [ -n "$(help_long_options "$tool")" ]
        complete_bash "$tool" --
        missing=$(LC_ALL=C comm -23 <(help_long_options "$tool") <(offered_long_options))
        echo "$tool: in --help but not offered: $missing"
        [ -z "$missing" ]
    done
}

@test "the bash completion offers no long option that --help does not list" {
    source "$COMPLETIONS/bash/eshm"
    local tool extra
    for tool in "${TOOLS[@]}"; do
        complete_bash "$tool" --
        [ "${#COMPREPLY[@]}" -gt 0 ]
        extra=$(LC_ALL=C comm -13 <(help_long_options "$tool") <(offered_long_options))
        echo "$tool: offered but not in --help: $extra"
        [ -z "$extra" ]
    done
}

@test "the zsh completion has an option spec for every long option that --help lists" {
    local tool opt
    for tool in "${TOOLS[@]}"; do
        for opt in $(help_long_options "$tool"); do
            # As an option spec, not merely in a description: the name
            # follows a quote, a brace, a comma or an exclusion list, and
            # precedes its description, its value or the end of a brace.
            echo "$tool: looking for $opt"
            grep -qE -- "[\"'{,)]$opt[]=+[,}]" "$COMPLETIONS/zsh/_eshm"
        done
    done
}

@test "the bash completion offers master and slave after --role, in the tools that have it" {
    source "$COMPLETIONS/bash/eshm"
    local tool with_role=0
    for tool in "${TOOLS[@]}"; do
        complete_bash "$tool" --role=s
        if ! help_long_options "$tool" | grep -qx -- --role; then
            echo "$tool has no --role"
            [ "${#COMPREPLY[@]}" -eq 0 ]
            continue
        fi
        with_role=$((with_role + 1))
        [ "${COMPREPLY[*]}" = "--role=slave" ]
        complete_bash "$tool" --role ''
        [ "${COMPREPLY[*]}" = "master slave" ]
        complete_bash "$tool" --role = m
        [ "${COMPREPLY[*]}" = "master" ]
    done
    [ "$with_role" -eq 2 ]
}

@test "the bash completion offers likely values for the options that take one" {
    source "$COMPLETIONS/bash/eshm"
    complete_bash eshm-send --mode ''
    [ "${COMPREPLY[*]}" = "0600 0640 0660 0666" ]
    complete_bash eshm-recv -c 1
    [ "${COMPREPLY[*]}" = "1M 16M" ]
    complete_bash eshm-recv -pc ''
    [ "${COMPREPLY[*]}" = "64K 1M 16M 256M" ]
    complete_bash eshm-send --timeout ''
    [ "${COMPREPLY[*]}" = "100ms 1s 5s 1m" ]
    complete_bash eshm-recv --stale = 1
    [ "${COMPREPLY[*]}" = "100ms 1s 1m" ]
    complete_bash eshm-recv -n ''
    [ "${#COMPREPLY[@]}" -eq 0 ]
    complete_bash eshm-stat --count ''
    [ "${#COMPREPLY[@]}" -eq 0 ]
    complete_bash eshm-clean --older-than ''
    [ "${COMPREPLY[*]}" = "10m 1h 24h" ]
    complete_bash eshm-clean -v --older-than = 1
    [ "${COMPREPLY[*]}" = "10m 1h" ]
    complete_bash eshm-clean --older-than=2
    [ "${COMPREPLY[*]}" = "--older-than=24h" ]
}

@test "the bash completion offers group names after --shm-group, in eshm-send and eshm-recv" {
    source "$COMPLETIONS/bash/eshm"
    complete_bash eshm-send --shm-group roo
    [ "${COMPREPLY[*]}" = "root" ]
    complete_bash eshm-recv -v --shm-group = roo
    [ "${COMPREPLY[*]}" = "root" ]
    complete_bash eshm-recv --shm-group=roo
    [ "${COMPREPLY[*]}" = "--shm-group=root" ]
    # the next word is the NAME again
    eshm-send --keep "$SEG" </dev/null
    complete_bash eshm-send --shm-group root "${SEG:0:5}"
    offered "$SEG"
}

@test "the bash completion offers intervals after --watch= only, as its value is optional" {
    source "$COMPLETIONS/bash/eshm"
    complete_bash eshm-stat --watch =
    [ "${COMPREPLY[*]}" = "1 2 5" ]
    complete_bash eshm-stat -j --watch = 2
    [ "${COMPREPLY[*]}" = "2" ]
    complete_bash eshm-stat --watch=
    [ "${COMPREPLY[*]}" = "--watch=1 --watch=2 --watch=5" ]
    # In "--watch 5", "-w 5" and "-jw 5" the 5 is an operand: a NAME.
    eshm-send --keep "$SEG" </dev/null
    complete_bash eshm-stat --watch "${SEG:0:5}"
    offered "$SEG"
    complete_bash eshm-stat -w "${SEG:0:5}"
    offered "$SEG"
    complete_bash eshm-stat -jw "${SEG:0:5}"
    offered "$SEG"
    # In "-wn", n is the value of -w, not -n waiting for its count.
    complete_bash eshm-stat -wn "${SEG:0:5}"
    offered "$SEG"
    # and after "--watch=2" too
    complete_bash eshm-stat --watch = 2 "${SEG:0:5}"
    offered "$SEG"
}

@test "the bash completion of -n follows the tool: a count in eshm-stat, --dry-run in eshm-clean" {
    source "$COMPLETIONS/bash/eshm"
    eshm-send --keep "$SEG" </dev/null
    complete_bash eshm-stat -n "${SEG:0:5}"
    [ "${#COMPREPLY[@]}" -eq 0 ]
    complete_bash eshm-clean -n "${SEG:0:5}"
    offered "$SEG"
    complete_bash eshm-clean -nv "${SEG:0:5}"
    offered "$SEG"
}

@test "the bash completion of eshm-bench offers the --case values after -c, and no operand" {
    source "$COMPLETIONS/bash/eshm"
    eshm-send --keep "$SEG" </dev/null
    # -c is --case here, not --capacity as in eshm-send and eshm-recv
    complete_bash eshm-bench -c ''
    [ "${COMPREPLY[*]}" = "throughput latency idle all" ]
    complete_bash eshm-bench --case = l
    [ "${COMPREPLY[*]}" = "latency" ]
    complete_bash eshm-bench -jc i
    [ "${COMPREPLY[*]}" = "idle" ]
    complete_bash eshm-bench --case=t
    [ "${COMPREPLY[*]}" = "--case=throughput" ]
    complete_bash eshm-send -c ''
    [ "${COMPREPLY[*]}" = "64K 1M 16M 256M" ]
    complete_bash eshm-bench --capacity ''
    [ "${COMPREPLY[*]}" = "64K 1M 16M" ]
    complete_bash eshm-bench -s 64
    [ "${COMPREPLY[*]}" = "64,1K,64K 64 64K" ]
    complete_bash eshm-bench --spin ''
    [ "${COMPREPLY[*]}" = "-1 0 10 50" ]
    complete_bash eshm-bench -r ''
    [ "${#COMPREPLY[@]}" -eq 0 ]
    # eshm-bench takes no operand: no segment, wherever the cursor is
    complete_bash eshm-bench ''
    [ "${#COMPREPLY[@]}" -eq 0 ]
    complete_bash eshm-bench "${SEG:0:5}"
    [ "${#COMPREPLY[@]}" -eq 0 ]
    complete_bash eshm-bench -c latency --spin -1 "${SEG:0:5}"
    [ "${#COMPREPLY[@]}" -eq 0 ]
    complete_bash eshm-bench -- "${SEG:0:5}"
    [ "${#COMPREPLY[@]}" -eq 0 ]
    # while the other tools offer it
    complete_bash eshm-recv "${SEG:0:5}"
    offered "$SEG"
}

# offers WORD...: print what complete_bash offers, one a line, so that
# `run` can call it without stopping the test when it fails
offers() {
    complete_bash "$@"
    if ((${#COMPREPLY[@]} > 0)); then
        printf '%s\n' "${COMPREPLY[@]}"
    fi
}

@test "the bash completion of the operand offers live segments and nothing else in /dev/shm" {
    source "$COMPLETIONS/bash/eshm"
    eshm-send --keep "$SEG" </dev/null
    seg_exists
    complete_bash eshm-send "${SEG:0:5}"
    offered "$SEG"
    complete_bash eshm-recv -v "${SEG:0:5}"
    offered "$SEG"

    # Completed with `run`, which does not stop the test, so that the file
    # is gone before any check can fail: teardown knows only of segments.
    touch "/dev/shm/notanseg-$SEG"
    local every_status not_a_segment_status
    local -a every not_a_segment
    run offers eshm-recv ''
    every_status=$status
    every=("${lines[@]}")
    run offers eshm-recv notanseg
    not_a_segment_status=$status
    not_a_segment=("${lines[@]}")
    rm "/dev/shm/notanseg-$SEG"

    [ "$every_status" -eq 0 ]
    [ "$not_a_segment_status" -eq 0 ]
    COMPREPLY=("${every[@]}")
    offered "$SEG"
    not_offered "notanseg-$SEG"
    not_offered "eshm_$SEG"
    local w
    for w in "${every[@]}"; do
        echo "offered: $w"
        [[ $w != */* && $w != eshm_* ]]
    done
    [ "${#not_a_segment[@]}" -eq 0 ]
}

@test "the bash completion of eshm-stat and eshm-clean offers several segments, for every operand" {
    source "$COMPLETIONS/bash/eshm"
    local s tool
    for s in a b c; do
        eshm-send --keep "$SEG-$s" </dev/null
    done
    for tool in eshm-stat eshm-clean; do
        complete_bash "$tool" "$SEG-"
        [ "${#COMPREPLY[@]}" -eq 3 ]
        offered "$SEG-a"
        offered "$SEG-b"
        offered "$SEG-c"
        complete_bash "$tool" "$SEG-a" "$SEG-"
        [ "${#COMPREPLY[@]}" -eq 3 ]
        complete_bash "$tool" "$SEG-a" "$SEG-b" "$SEG-"
        offered "$SEG-c"
        complete_bash "$tool" -- "$SEG-a" "$SEG-"
        offered "$SEG-b"
    done
    complete_bash eshm-stat -w2 --bytes "$SEG-a" -n 3 "$SEG-"
    [ "${#COMPREPLY[@]}" -eq 3 ]
    complete_bash eshm-clean --older-than 1h -v "$SEG-a" "$SEG-"
    [ "${#COMPREPLY[@]}" -eq 3 ]
}

@test "the bash completion offers no segment once NAME is given, and segments after --" {
    source "$COMPLETIONS/bash/eshm"
    eshm-send --keep "$SEG" </dev/null
    complete_bash eshm-recv "$SEG" "${SEG:0:5}"
    [ "${#COMPREPLY[@]}" -eq 0 ]
    complete_bash eshm-recv -n 5 -- "${SEG:0:5}"
    offered "$SEG"
}

# count_offers_with_failglob WORD...: complete_bash, then print how many
# offers it made, with the failglob a user may have on, under which a
# bare glob that matches nothing is an error.
count_offers_with_failglob() {
    shopt -s failglob
    complete_bash "$@"
    echo "${#COMPREPLY[@]}"
}

@test "the bash completion of the operand is empty and silent when no segment matches" {
    source "$COMPLETIONS/bash/eshm"
    run --separate-stderr count_offers_with_failglob eshm-recv "$SEG"
    [ "$status" -eq 0 ]
    [ "$output" = 0 ]
    [ -z "$stderr" ]
}

@test "the per-command bash files register the completion of every tool" {
    local tool i
    for tool in "${TOOLS[@]}"; do
        run bash -c 'cd / && f=$1 && shift && . "$f" && complete -p "$@"' _ \
            "$COMPLETIONS/bash/$tool" "${TOOLS[@]}"
        [ "$status" -eq 0 ]
        [ "${#lines[@]}" -eq "${#TOOLS[@]}" ]
        for i in "${!TOOLS[@]}"; do
            [ "${lines[i]}" = "complete -F _eshm ${TOOLS[i]}" ]
        done
    done
}

@test "the zsh completion parses" {
    if ! command -v zsh >/dev/null; then
        echo "zsh is missing: apt-get install -y zsh" >&2
        return 1
    fi
    run zsh -n "$COMPLETIONS/zsh/_eshm"
    [ "$status" -eq 0 ]
    [ -z "$output" ]
}

@test "shellcheck finds nothing in the bash completion" {
    run shellcheck -s bash "$COMPLETIONS"/bash/*
    echo "$output"
    [ "$status" -eq 0 ]
}

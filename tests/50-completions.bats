#!/usr/bin/env bats
# 50-completions.bats - the bash, zsh and fish completions offer what the tools' --help lists.

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

# need_fish: fail, saying what to install, when fish is missing
need_fish() {
    if ! command -v fish >/dev/null; then
        echo "fish is missing: apt-get install -y fish" >&2
        return 1
    fi
}

# complete_fish LINE: what fish offers for the command line LINE, with
# the cursor at its end, one a line (the word, a tab, its description).
# --no-config and a fish_complete_path of ours alone, so that fish loads
# these files by command name as it would installed, and no other.
complete_fish() {
    fish --no-config -c 'set fish_complete_path $argv[1]; complete -C $argv[2]' \
        "$COMPLETIONS/fish" "$1"
}

# fish_offers LINE: the words alone, sorted
fish_offers() {
    complete_fish "$1" | cut -f1 | LC_ALL=C sort
}

# help_short_options TOOL: the short options TOOL --help lists, one a line
help_short_options() {
    "$1" --help | grep -oE -- '^ +-[[:alnum:]],' | grep -oE -- '-[[:alnum:]]' | LC_ALL=C sort -u
}

# help_options TOOL: the long and short options TOOL --help lists, sorted
help_options() {
    { help_long_options "$1" && help_short_options "$1"; } | LC_ALL=C sort
}

# fish_options TOOL: the options fish offers after "TOOL -", one a line;
# "--watch=", offered for an option whose value is optional, is --watch
fish_options() {
    fish_offers "$1 -" | sed 's/=$//' | LC_ALL=C sort -u
}

@test "the fish completions parse" {
    need_fish
    local f
    for f in "$COMPLETIONS"/fish/*.fish; do
        run fish -n "$f"
        echo "$f: $output"
        [ "$status" -eq 0 ]
        [ -z "$output" ]
    done
    # one file per tool, named after it, as fish loads them
    run -0 ls "$COMPLETIONS/fish"
    [ "${lines[*]}" = "eshm-bench.fish eshm-clean.fish eshm-recv.fish eshm-send.fish eshm-stat.fish" ]
}

@test "the fish completion offers exactly the options that --help lists" {
    need_fish
    local tool missing extra
    for tool in "${TOOLS[@]}"; do
        fish_options "$tool" >"$TMP/offered"
        [ -s "$TMP/offered" ]
        missing=$(LC_ALL=C comm -23 <(help_options "$tool") "$TMP/offered")
        extra=$(LC_ALL=C comm -13 <(help_options "$tool") "$TMP/offered")
        echo "$tool: in --help but not offered: $missing"
        echo "$tool: offered but not in --help: $extra"
        [ -z "$missing" ]
        [ -z "$extra" ]
    done
}

@test "the fish completion offers live segments for NAME, and nothing else in /dev/shm" {
    need_fish
    eshm-send --keep "$SEG" </dev/null
    run -0 fish_offers "eshm-recv ${SEG:0:5}"
    COMPREPLY=("${lines[@]}")
    offered "$SEG"
    # with its description
    run -0 complete_fish "eshm-send $SEG"
    [ "$output" = "$SEG"$'\t'segment ]

    # As for bash: the file is gone before any check can fail.
    touch "/dev/shm/notanseg-$SEG"
    local every_status
    local -a every
    run fish_offers "eshm-recv "
    every_status=$status
    every=("${lines[@]}")
    rm "/dev/shm/notanseg-$SEG"
    [ "$every_status" -eq 0 ]
    COMPREPLY=("${every[@]}")
    offered "$SEG"
    not_offered "notanseg-$SEG"
    not_offered "eshm_$SEG"
    local w
    for w in "${every[@]}"; do
        [[ $w != */* && $w != eshm_* ]]
    done
}

@test "the fish completion offers one NAME to eshm-send and eshm-recv, any number to eshm-stat and eshm-clean, none to eshm-bench" {
    need_fish
    local s tool
    for s in a b; do
        eshm-send --keep "$SEG-$s" </dev/null
    done
    for tool in eshm-send eshm-recv; do
        run -0 fish_offers "$tool $SEG-"
        [ "${lines[*]}" = "$SEG-a $SEG-b" ]
        run -0 fish_offers "$tool $SEG-a $SEG-"
        [ -z "$output" ]
        # an option's value is not NAME; after --, NAME is still to come
        run -0 fish_offers "$tool -v --retries 5 $SEG-"
        [ "${lines[*]}" = "$SEG-a $SEG-b" ]
        run -0 fish_offers "$tool -c 1M -- $SEG-"
        [ "${lines[*]}" = "$SEG-a $SEG-b" ]
    done
    run -0 fish_offers "eshm-recv -n 5 --group audit $SEG-b $SEG-"
    [ -z "$output" ]
    for tool in eshm-stat eshm-clean; do
        run -0 fish_offers "$tool $SEG-a $SEG-"
        [ "${lines[*]}" = "$SEG-a $SEG-b" ]
    done
    run -0 fish_offers "eshm-clean --older-than 1h -v $SEG-a $SEG-"
    [ "${lines[*]}" = "$SEG-a $SEG-b" ]
    run -0 fish_offers "eshm-bench $SEG-"
    [ -z "$output" ]
    run -0 fish_offers "eshm-bench -c latency -- $SEG-"
    [ -z "$output" ]
}

@test "the fish completion of eshm-stat takes -w's value only attached, and -n's always" {
    need_fish
    eshm-send --keep "$SEG" </dev/null
    local line
    # In "--watch 5", "-w 5" and "-jw 5" the 5 would be a NAME, and in
    # "-wn" the n is the value of -w.
    for line in "--watch" "-w" "-jw" "-wn" "-w2 --bytes" "--watch=2" "-n 3"; do
        run -0 fish_offers "eshm-stat $line ${SEG:0:5}"
        COMPREPLY=("${lines[@]}")
        echo "eshm-stat $line"
        offered "$SEG"
    done
    for line in "-n" "-jn" "--count"; do
        run -0 fish_offers "eshm-stat $line ${SEG:0:5}"
        echo "eshm-stat $line: $output"
        [ -z "$output" ]
    done
    run -0 fish_offers "eshm-stat --watch="
    [ "${lines[*]}" = "--watch=1 --watch=2 --watch=5" ]
}

@test "the fish completion offers likely values for the options that take one" {
    need_fish
    run -0 fish_offers "eshm-send --mode "
    [ "${lines[*]}" = "0600 0640 0660 0666" ]
    run -0 fish_offers "eshm-recv -pc 1"
    [ "${lines[*]}" = "16M 1M" ]
    run -0 fish_offers "eshm-send --capacity=25"
    [ "${lines[*]}" = "--capacity=256M" ]
    run -0 fish_offers "eshm-recv --role "
    [ "${lines[*]}" = "master slave" ]
    run -0 fish_offers "eshm-send --timeout 1"
    [ "${lines[*]}" = "100ms 1m 1s" ]
    run -0 fish_offers "eshm-recv -n "
    [ -z "$output" ]
    run -0 fish_offers "eshm-clean --older-than "
    [ "${lines[*]}" = "10m 1h 24h" ]
    run -0 fish_offers "eshm-send --shm-group roo"
    [ "${lines[*]}" = root ]
    run -0 fish_offers "eshm-recv --shm-group=roo"
    [ "${lines[*]}" = --shm-group=root ]
    # a command to run, from PATH
    run -0 fish_offers "eshm-recv --exec eshm-sen"
    [ "${lines[*]}" = eshm-send ]
    # eshm-bench: -c is --case, not --capacity
    run -0 fish_offers "eshm-bench -c "
    [ "${lines[*]}" = "all idle latency throughput" ]
    run -0 fish_offers "eshm-bench -jc i"
    [ "${lines[*]}" = idle ]
    run -0 fish_offers "eshm-bench --capacity "
    [ "${lines[*]}" = "16M 1M 64K" ]
}

@test "the fish completion offers nothing, and says nothing, when no segment exists at all" {
    need_fish
    # in an empty /dev/shm of its own, where the glob matches nothing;
    # then with one segment there, to show that the completion was loaded
    run -0 --separate-stderr private_shm "$(declare -f complete_fish fish_offers)
        COMPLETIONS=$(printf %q "$COMPLETIONS")
        for tool in eshm-send eshm-recv eshm-stat eshm-clean; do
            fish_offers \"\$tool \"
        done
        echo ---
        eshm-send --keep only </dev/null
        for tool in eshm-send eshm-recv eshm-stat eshm-clean; do
            fish_offers \"\$tool \"
        done"
    echo "$stderr"
    [ "${lines[*]}" = "--- only only only only" ]
    [ -z "$stderr" ]
}

@test "fish finds the completions where make install puts them" {
    need_fish
    make_here install PREFIX="$TMP/prefix"
    # a fish of a user with no configuration, whose system's data is
    # in that prefix
    run -0 env HOME="$TMP" XDG_CONFIG_HOME="$TMP/config" XDG_DATA_HOME="$TMP/data" \
        XDG_DATA_DIRS="$TMP/prefix/share" fish -c 'complete -C "eshm-recv --gro"'
    [ "$output" = "--group"$'\t'"read in this consumer group" ]
}

@test "shellcheck finds nothing in the bash completion" {
    run shellcheck -s bash "$COMPLETIONS"/bash/*
    echo "$output"
    [ "$status" -eq 0 ]
}

#!/usr/bin/env bats
# libeshm's shape: its public face is eshm.h, and its files call each other
# in layers, never in a circle.

load helpers

B="${ESHM_BUILD:-$BATS_TEST_DIRNAME/../build}"
LIB="$BATS_TEST_DIRNAME/../lib"

@test "libeshm.so exports exactly the functions eshm.h declares" {
    nm -D --defined-only "$B/libeshm.so" | awk '$2 == "T" { sub(/@.*/, "", $3); print $3 }' |
        sort >"$TMP/exported"
    grep -oE '\beshm_[a-z_]+\(' "$LIB/eshm.h" | tr -d '(' | sort -u >"$TMP/declared"
    [ -s "$TMP/declared" ]
    run diff "$TMP/declared" "$TMP/exported"
    [ "$status" -eq 0 ] || {
        echo "< declared only, > exported only:" >&2
        echo "$output" >&2
        false
    }
}

@test "no two of libeshm's files call each other, directly or around a circle" {
    # who calls whom, file by file, from the objects' symbols
    declare -A home
    local o f s t
    for o in "$B"/lib/*.o; do
        f=$(basename "$o" .o)
        for s in $(nm --defined-only "$o" | awk '$2 ~ /^[TtDdBbRr]$/ { print $3 }'); do
            home[$s]=$f
        done
    done
    for o in "$B"/lib/*.o; do
        f=$(basename "$o" .o)
        for s in $(nm -u "$o" | awk '{ print $2 }'); do
            t=${home[$s]:-}
            if [ -n "$t" ] && [ "$t" != "$f" ]; then echo "$f $t"; fi
        done
    done | sort -u >"$TMP/calls"
    [ -s "$TMP/calls" ]
    # a sources file that no object comes from would hide a file: none
    for f in "$LIB"/*.c; do [ -e "$B/lib/$(basename "$f" .c).o" ]; done
    run tsort "$TMP/calls"
    [ "$status" -eq 0 ] || {
        cat "$TMP/calls" >&2
        false
    }
}

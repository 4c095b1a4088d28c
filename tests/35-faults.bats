#!/usr/bin/env bats
# Faults users hit, by kind, across the tools and the Python binding: closed
# standard descriptors, displaced holders, removed segments, lost writers,
# lines at and past the limit.

load helpers

# py CODE...: run Python with eshm importable from the source tree
py() {
    PYTHONPATH="$BATS_TEST_DIRNAME/../python" python3 -c "import eshm, sys, os
$1" "${@:2}"
}

# magic_ok NAME: the segment file still starts with eshm's magic
magic_ok() {
    [ "$(head -c 6 "$(seg_path "$1")")" = EESHM1 ]
}

# ------------------------------------------------------ closed descriptors

@test "eshm-recv with stdout closed fails clearly and takes nothing" {
    seq 5 | eshm-send "$SEG"
    run -1 --separate-stderr bash -c 'exec eshm-recv "$1" >&-' _ "$SEG"
    [ "$stderr" = "eshm-recv: $SEG: standard output is closed" ]
    run -0 eshm-recv "$SEG"
    [ "$output" = "$(seq 5)" ]
    seg_gone
}

@test "eshm-recv with stderr closed writes no diagnostics into the segment" {
    seq 3 | eshm-send "$SEG"
    eshm-recv -n 1 -v "$SEG" 2>&- >"$TMP/one"
    [ "$(cat "$TMP/one")" = 1 ]
    magic_ok "$SEG"
    run -0 eshm-recv "$SEG"
    [ "$output" = "$(seq 2 3)" ]
}

@test "eshm-send with stdin closed fails clearly and sends nothing" {
    run -1 --separate-stderr bash -c 'exec eshm-send "$1" <&-' _ "$SEG"
    [ "$stderr" = "eshm-send: $SEG: standard input is closed" ]
    seg_gone
}

@test "eshm-send with stderr closed still sends every line, and only them" {
    seq 100 | eshm-send -v -p "$SEG" 2>&-
    magic_ok "$SEG"
    run -0 eshm-recv "$SEG"
    [ "$output" = "$(seq 100)" ]
}

@test "eshm-stat, eshm-clean and eshm-bench with stdout closed fail and change nothing" {
    seq 2 | eshm-send "$SEG"
    run -1 --separate-stderr bash -c 'exec eshm-stat "$1" >&-' _ "$SEG"
    [ "$stderr" = "eshm-stat: standard output is closed" ]
    run -1 --separate-stderr bash -c 'exec eshm-clean --force "$1" >&-' _ "$SEG"
    [ "$stderr" = "eshm-clean: standard output is closed" ]
    seg_exists
    run -1 --separate-stderr bash -c 'exec eshm-bench -d 100ms -s 64 >&-' 
    [ "$stderr" = "eshm-bench: standard output is closed" ]
    run -0 eshm-recv "$SEG"
    [ "$output" = "$(seq 2)" ]
}

@test "a Python program with stderr closed never writes into its segment" {
    py '
os.close(2)  # a daemon that closed stderr
ch = eshm.ESHM(sys.argv[1], role="master", ends="write")
try:
    os.write(2, b"a diagnostic nobody reads\n")
except OSError:
    pass
ch.write(b"intact")
ch.close()' "$SEG" 2>&-
    magic_ok "$SEG"
    run -0 eshm-recv "$SEG"
    [ "$output" = intact ]
}

# ------------------------------------------------------ displaced holders

@test "a writer displaced by --takeover while stopped writes nothing when it resumes" {
    mkfifo "$TMP/in"
    bg_sh "exec eshm-send --exclusive --stale 50ms $SEG <$TMP/in 2>$TMP/old.err"
    old=$BG_PID
    exec 4>"$TMP/in"
    seq 1 1000 >&4
    wait_until 5 bash -c "eshm-stat --json $SEG | grep -q '\"msgs_in\": 1000'"
    kill -STOP "$old"
    wait_until 5 bash -c "eshm-stat $SEG | grep -q stale"
    seq 5001 5003 | eshm-send --exclusive --takeover "$SEG" &
    new=$!
    wait "$new"
    kill -CONT "$old"
    seq 2001 2010 >&4
    exec 4>&-
    wait_exit "$old"
    [ "$EXIT_STATUS" -eq 1 ]
    grep -q "the writer end of channel m2s of $SEG was taken over by pid $new" "$TMP/old.err"
    run -0 eshm-recv "$SEG"
    [ "$output" = "$(seq 1 1000; seq 5001 5003)" ]
}

# big_lines N: N lines of 40000 bytes and their number: two fill a pipe
big_lines() {
    local x i
    x=$(head -c 40000 /dev/zero | tr '\0' x)
    for ((i = 1; i <= $1; i++)); do printf '%s%d\n' "$x" "$i"; done
}

# blocked_writing PID: the process sleeps in a write to a full pipe
blocked_writing() {
    grep -q pipe_write "/proc/$1/wchan" 2>/dev/null
}

@test "a reader displaced by --takeover while stopped releases nothing when it resumes" {
    big_lines 5 >"$TMP/in"
    eshm-send "$SEG" <"$TMP/in"
    mkfifo "$TMP/out"
    bg_sh "exec eshm-recv -u --stale 50ms $SEG >$TMP/out 2>$TMP/old.err"
    old=$BG_PID
    exec 5<"$TMP/out"
    # line 1 fits the pipe, line 2 does not: the reader holds line 2,
    # written in part and not released
    wait_until 5 blocked_writing "$old"
    kill -STOP "$old"
    wait_until 5 bash -c "eshm-stat $SEG | grep -q stale"
    eshm-recv --takeover "$SEG" >"$TMP/new"
    sed -n '2,5p' "$TMP/in" | cmp - "$TMP/new"
    kill -CONT "$old"
    cat <&5 >/dev/null
    exec 5<&-
    wait_exit "$old"
    [ "$EXIT_STATUS" -eq 1 ]
    grep -q "the reader end of channel m2s of $SEG was taken over by pid" "$TMP/old.err"
}

# ------------------------------------------------------ removed segments

@test "a writer whose segment is removed says what was not delivered and exits 1" {
    mkfifo "$TMP/in"
    bg_sh "exec eshm-send $SEG <$TMP/in 2>$TMP/w.err"
    w=$BG_PID
    exec 4>"$TMP/in"
    seq 1 5 >&4
    wait_until 5 bash -c "eshm-stat --json $SEG | grep -q '\"msgs_in\": 5'"
    rm "$(seg_path "$SEG")"  # what logind's RemoveIPC=yes does at logout
    # a new reader gets a new, empty segment; the writer must not feed it
    run -124 eshm-recv -t 300ms "$SEG"
    seq 6 10 >&4
    exec 4>&-
    wait_exit "$w"
    [ "$EXIT_STATUS" -eq 1 ]
    grep -q "segment $SEG was removed or replaced while in use: .* messages (.* bytes) left in it were not delivered" "$TMP/w.err"
    seg_gone
}

@test "a reader waiting on a removed segment fails at once instead of waiting forever" {
    bg_sh "exec eshm-recv $SEG 2>$TMP/r.err"
    r=$BG_PID
    wait_until 5 seg_exists
    rm "$(seg_path "$SEG")"
    wait_exit "$r"
    [ "$EXIT_STATUS" -eq 1 ]
    grep -q "segment $SEG was removed or replaced while in use" "$TMP/r.err"
}

@test "a segment replaced under its holders is left alone by them" {
    mkfifo "$TMP/in"
    bg_sh "exec eshm-send $SEG <$TMP/in"
    w=$BG_PID
    exec 4>"$TMP/in"
    seq 1 3 >&4
    bg_sh "exec eshm-recv -u $SEG >$TMP/out 2>$TMP/r.err"
    r=$BG_PID
    wait_until 5 lines_at_least "$TMP/out" 3
    rm "$(seg_path "$SEG")"
    eshm-send --keep "$SEG" <<<"new"
    wait_exit "$r"
    [ "$EXIT_STATUS" -eq 1 ]
    grep -q "segment $SEG was removed or replaced while in use" "$TMP/r.err"
    # the old writer finishes into its own, removed file, never into the new
    seq 4 6 >&4
    exec 4>&-
    wait_exit "$w"
    [ "$(eshm-stat --json "$SEG" | json 'd["segments"][0]["channels"]["m2s"]["msgs_in"]')" = 1 ]
    run -0 eshm-recv "$SEG"
    [ "$output" = new ]
}

@test "eshm-recv -n leaving messages in a removed segment says they are lost" {
    big_lines 5 | eshm-send "$SEG"
    mkfifo "$TMP/out"
    bg_sh "exec eshm-recv -u -n 2 $SEG >$TMP/out 2>$TMP/r.err"
    r=$BG_PID
    exec 5<"$TMP/out"
    wait_until 5 blocked_writing "$r"
    rm "$(seg_path "$SEG")"
    cat <&5 >/dev/null
    exec 5<&-
    wait_exit "$r"
    [ "$EXIT_STATUS" -eq 1 ]
    grep -q "3 messages (120006 bytes) left in it were not delivered" "$TMP/r.err"
}

# ------------------------------------------------------ lost writers

@test "a writer ended by SIGTERM is a lost writer: the reader drains, then fails" {
    mkfifo "$TMP/in"
    bg_sh "exec eshm-send $SEG <$TMP/in"
    exec 4>"$TMP/in"
    seq 1 3 >&4
    wait_until 5 bash -c "eshm-stat --json $SEG | grep -q '\"msgs_in\": 3'"
    kill -TERM "$BG_PID"
    wait_exit "$BG_PID"
    exec 4>&-
    [ "$EXIT_STATUS" -eq 143 ]
    run -1 --separate-stderr eshm-recv --retries 3 "$SEG"
    [ "$output" = "$(seq 1 3)" ]
    [[ "$stderr" == *"writer lost: a writer of channel m2s of $SEG ended without ending its stream"* ]]
}

@test "a writer that failed on a long line is a lost writer, and what came before is kept" {
    { echo first; head -c 300000 /dev/zero | tr '\0' a; echo; } >"$TMP/in"
    run -1 --separate-stderr eshm-send -c 64K "$SEG" <"$TMP/in"
    [[ "$stderr" == *"a line of more than 65520 bytes exceeds the 65520 bytes a message may have in a 65536-byte channel; recreate the segment with a larger -c/--capacity"* ]]
    run -1 --separate-stderr eshm-recv --retries 2 "$SEG"
    [ "$output" = first ]
    [[ "$stderr" == *"writer lost"* ]]
}

@test "a line too long for the channel fails at once from a pipe, with no reader" {
    run -1 --separate-stderr bash -c "{ echo first; head -c 300000 /dev/zero | tr '\\0' a; echo; } | timeout 10 eshm-send -c 64K $SEG"
    [[ "$stderr" == *"a line of "*"bytes exceeds the 65520 bytes a message may have"*"-c/--capacity"* ]]
    run -1 --separate-stderr eshm-recv --retries 2 "$SEG"
    [ "$output" = first ]
}

@test "a NUL record too long for the channel fails at once too" {
    run -1 --separate-stderr bash -c "{ printf 'first\\0'; head -c 300000 /dev/zero | tr '\\0' a; printf '\\0'; } | timeout 10 eshm-send -0 -c 64K $SEG"
    [[ "$stderr" == *"a record of "*"bytes exceeds the 65520 bytes"* ]]
}

@test "a Python writer that raises inside its with block leaves the stream unended" {
    run -1 py '
with eshm.ESHM(sys.argv[1], role="master", ends="write") as ch:
    ch.write(b"partial")
    raise RuntimeError("the producer failed")' "$SEG"
    [[ "$output" == *"RuntimeError: the producer failed"* ]]
    run -1 --separate-stderr eshm-recv --retries 2 "$SEG"
    [ "$output" = partial ]
    [[ "$stderr" == *"writer lost"* ]]
}

@test "a Python writer that finishes its with block ends the stream; abandon() does not" {
    py '
with eshm.ESHM(sys.argv[1], role="master", ends="write") as ch:
    ch.write(b"whole")' "$SEG"
    run -0 eshm-recv "$SEG"
    [ "$output" = whole ]
    py '
ch = eshm.ESHM(sys.argv[1], role="master", ends="write")
ch.write(b"half")
ch.abandon()
ch.abandon()' "$SEG"
    run -1 eshm-recv --retries 2 "$SEG"
    [[ "${lines[0]}" = half ]]
}

@test "a C++ writer leaving its scope by an exception leaves the stream unended" {
    cat >"$TMP/throw.cpp" <<'EOF'
#include <eshm.h>
#include <cstdio>
#include <exception>
#include <stdexcept>
struct Channel {
	eshm_t *h = nullptr;
	int unwinding = std::uncaught_exceptions();
	explicit Channel(const char *n) {
		eshm_config c;
		eshm_config_init(&c);
		c.role = ESHM_ROLE_MASTER;
		c.ends = ESHM_END_WRITE;
		if (eshm_open(n, &c, &h, nullptr)) throw std::runtime_error("open");
	}
	~Channel() { eshm_detach(h, std::uncaught_exceptions() > unwinding ? ESHM_DETACH_LOST : 0, nullptr); }
};
int main(int, char **argv) {
	try {
		Channel ch(argv[1]);
		eshm_write(ch.h, "before", 6, 1000);
		throw std::runtime_error("failed");
	} catch (const std::exception &e) {
		std::puts(e.what());
	}
	return 0;
}
EOF
    c++ -std=c++17 -Wall -Wextra -Werror -I"$BATS_TEST_DIRNAME/../lib" -o "$TMP/throw" \
        "$TMP/throw.cpp" "$ESHM_BUILD/libeshm.a" -pthread
    run -0 "$TMP/throw" "$SEG"
    run -1 --separate-stderr eshm-recv --retries 2 "$SEG"
    [ "$output" = before ]
    [[ "$stderr" == *"writer lost"* ]]
}

# ------------------------------------------------------ lines at the limit

@test "a line of exactly the longest message length goes through, newline kept" {
    { head -c 4080 /dev/zero | tr '\0' x; echo; } >"$TMP/in"
    run -0 eshm-send -c 4K "$SEG" <"$TMP/in"
    eshm-recv "$SEG" >"$TMP/out"
    cmp "$TMP/in" "$TMP/out"
}

@test "a NUL record of exactly the longest message length goes through" {
    { head -c 4080 /dev/zero | tr '\0' x; printf '\0'; } >"$TMP/in"
    run -0 eshm-send -0 -c 4K "$SEG" <"$TMP/in"
    eshm-recv "$SEG" >"$TMP/out"
    cmp "$TMP/in" "$TMP/out"
}

@test "a longest line arriving in small pieces after other lines goes through" {
    bg_sh "exec eshm-recv -c 4K $SEG >$TMP/out"
    reader=$BG_PID
    { echo a; head -c 4080 /dev/zero | tr '\0' y; echo; echo b; } >"$TMP/in"
    # in pieces of 1 KiB, so the line grows in the ring over several reads
    python3 -c 'import os, sys, time
d = open(sys.argv[1], "rb").read()
for i in range(0, len(d), 1024):
    os.write(1, d[i:i + 1024])
    time.sleep(0.01)' "$TMP/in" | eshm-send -c 4K "$SEG"
    wait_exit "$reader"
    [ "$EXIT_STATUS" -eq 0 ]
    cmp "$TMP/in" "$TMP/out"
}

@test "eshm-send --wait --timeout says it waited for a reader to take the messages" {
    run -124 --separate-stderr eshm-send --wait -t 200ms "$SEG" < <(printf 'a\nb\nc\n')
    [ "$stderr" = "eshm-send: $SEG: 3 messages (6 bytes) still queued in channel m2s of $SEG after waiting 200 ms for a reader to take them: no reader is attached" ]
    # the stream itself was complete
    run -0 eshm-recv "$SEG"
    [ "$output" = "$(printf 'a\nb\nc')" ]
}

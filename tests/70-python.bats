#!/usr/bin/env bats
# Python (python/eshm.py) with the C tools and a C++ program, on the same segments.

load helpers

setup_file() { need_peer; }
EXAMPLES="$BATS_TEST_DIRNAME/../python/examples"

# py CODE...: run Python with eshm importable from the source tree
py() {
    PYTHONPATH="$BATS_TEST_DIRNAME/../python" python3 -c "import eshm, sys, os
$1" "${@:2}"
}

@test "the ctypes structures match the C layout of eshm.h" {
    cat >"$TMP/layout.c" <<'EOF'
#include <stddef.h>
#include <stdio.h>
#include "eshm.h"
#define P(t, f) printf(#t "." #f " %zu\n", offsetof(struct t, f))
int main(void) {
    printf("eshm_config %zu\neshm_error %zu\neshm_info %zu\neshm_channel_info %zu\neshm_end_info %zu\n"
           "eshm_group_info %zu\neshm_tap_info %zu\n",
           sizeof(struct eshm_config), sizeof(struct eshm_error), sizeof(struct eshm_info),
           sizeof(struct eshm_channel_info), sizeof(struct eshm_end_info),
           sizeof(struct eshm_group_info), sizeof(struct eshm_tap_info));
    P(eshm_config, flags); P(eshm_config, spin_us); P(eshm_config, interrupt);
    P(eshm_config, group); P(eshm_config, consumer_group); P(eshm_config, batch_msgs);
    P(eshm_channel_info, nreaders); P(eshm_channel_info, readers); P(eshm_channel_info, groups);
    P(eshm_end_info, group); P(eshm_end_info, held);
    P(eshm_group_info, backlog_msgs); P(eshm_group_info, returned); P(eshm_group_info, created_ns);
    P(eshm_group_info, oldest_age_ms); P(eshm_group_info, idle_ms); P(eshm_channel_info, oldest_age_ms);
    P(eshm_channel_info, ntaps); P(eshm_channel_info, taps); P(eshm_tap_info, missed_bytes);
    P(eshm_tap_info, behind_bytes);
    P(eshm_info, size); P(eshm_info, created_ns); P(eshm_info, idle_ms); P(eshm_info, chan);
    P(eshm_channel_info, framing); P(eshm_channel_info, writer); P(eshm_channel_info, reader);
    P(eshm_end_info, heartbeat_age_ms); P(eshm_end_info, stale_ms);
    return 0;
}
EOF
    cc -I"$BATS_TEST_DIRNAME/../lib" -o "$TMP/layout" "$TMP/layout.c"
    "$TMP/layout" >"$TMP/c.txt"
    py '
import ctypes as c
S = {"eshm_config": eshm._Config, "eshm_error": eshm._Error, "eshm_info": eshm._Info,
     "eshm_channel_info": eshm._ChannelInfo, "eshm_end_info": eshm._EndInfo,
     "eshm_group_info": eshm._GroupInfo, "eshm_tap_info": eshm._TapInfo}
for line in open(sys.argv[1]):
    what, n = line.split()
    if "." in what:
        t, f = what.split(".")
        got = getattr(S[t], f).offset
    else:
        got = c.sizeof(S[what])
    print(what, got)' "$TMP/c.txt" >"$TMP/py.txt"
    diff "$TMP/c.txt" "$TMP/py.txt"
}

@test "the codes, flags, roles, framings and states of eshm.py have the values of eshm.h" {
    # Python's constants as "C_NAME value" lines; EOF_ is ESHM_EOF, _KEEP is ESHM_KEEP
    py '
import re
lines = set()
for k, v in vars(eshm).items():
    if not isinstance(v, int) or isinstance(v, bool):
        continue
    if re.fullmatch(r"E[A-Z]+_?", k):
        lines.add("ESHM_%s %d" % (k.rstrip("_"), v))
    elif re.fullmatch(r"_[A-Z][A-Z_]*", k) and k != "_SLICE_MS":
        lines.add("%s %d" % ({"_EINTR": "-EINTR", "_EPERM": "-EPERM"}.get(k, "ESHM" + k), v))
for family, names in (("ROLE", eshm._ROLES), ("END", eshm._ENDS), ("FRAMING", eshm._FRAMINGS)):
    lines.update("ESHM_%s_%s %d" % (family, k.upper(), v) for k, v in names.items())
for family, values in (("ROLE", eshm._ROLE_NAMES), ("FRAMING", eshm._FRAMING_NAMES),
                       ("PEER", eshm._STATES)):
    lines.update("ESHM_%s_%s %d" % (family, k.upper(), v) for v, k in values.items())
print("\n".join(lines))' | LC_ALL=C sort >"$TMP/py.txt"
    # the same names, their values as the C compiler sees them
    {
        printf '#include <errno.h>\n#include <stdio.h>\n#include "eshm.h"\nint main(void) {\n'
        while read -r name _; do
            printf '    printf("%%s %%ld\\n", "%s", (long)(%s));\n' "$name" "$name"
        done <"$TMP/py.txt"
        printf '    return 0;\n}\n'
    } >"$TMP/consts.c"
    cc -I"$BATS_TEST_DIRNAME/../lib" -o "$TMP/consts" "$TMP/consts.c"
    "$TMP/consts" | LC_ALL=C sort >"$TMP/c.txt"
    diff "$TMP/c.txt" "$TMP/py.txt"
    # and none is missing: every code, role, end, framing and state that
    # eshm.h names (only the names come from the header, never the values)
    header="$BATS_TEST_DIRNAME/../lib/eshm.h"
    grep -ohE '\bESHM_(E[A-Z]+|(ROLE|END|FRAMING|PEER)_[A-Z]+)\b' "$header" |
        LC_ALL=C sort -u >"$TMP/h.txt"
    [ "$(wc -l <"$TMP/h.txt")" -ge 30 ]
    run -0 comm -23 "$TMP/h.txt" <(cut -d' ' -f1 "$TMP/py.txt")
    [ -z "$output" ]
}

@test "Python's inspect() and stats() give what eshm-stat --json shows, key for key" {
    mkfifo "$TMP/in"
    bg_sh "exec eshm-send -v --stale 10s $SEG <$TMP/in 2>$TMP/werr"
    exec 4>"$TMP/in"
    wait_until 5 grep -q "writing channel" "$TMP/werr"
    printf 'a\nbb\nccc\n' >&4
    wait_until 5 bash -c "eshm-stat --json $SEG | grep -q '\"msgs_in\": 3,'"
    run -0 eshm-recv -n 1 "$SEG"
    wait_until 5 bash -c "eshm-stat --json $SEG | grep -q '\"msgs_out\": 1,'"
    echo junk >"$(seg_path "$SEG-junk")"
    ln -s /etc/passwd "$(seg_path "$SEG-link")"
    run -0 py '
import json, subprocess
# these change between two looks; the rest must be equal
TIMES = ("age_ms", "idle_ms", "heartbeat_age_ms", "oldest_age_ms")

def same(c, p, at):
    assert type(c) is type(p), (at, c, p)
    if isinstance(c, dict):
        assert list(c) == list(p), (at, list(c), list(p))
        for k in c:
            same(c[k], p[k], at + "." + k)
    elif isinstance(c, list):
        assert len(c) == len(p), (at, c, p)
        for i, (a, b) in enumerate(zip(c, p)):
            same(a, b, "%s[%d]" % (at, i))
    elif at.rsplit(".", 1)[1] in TIMES:
        assert abs(c - p) <= 2000, (at, c, p)
    else:
        assert c == p, (at, c, p)

def stat(name):
    return json.loads(subprocess.check_output(["eshm-stat", "--json", name]))["segments"][0]

for name in sys.argv[1:]:
    st = stat(name)
    same(st, eshm.inspect(name), name)
    print(name, st["valid"], len(st))
with eshm.ESHM(sys.argv[1], role="slave", ends="read", create=False, stale_ms=10000) as h:
    same(stat(sys.argv[1]), h.stats(), "stats")
    print("stats", h.stats()["channels"]["m2s"]["reader"]["state"])' "$SEG" "$SEG-junk" "$SEG-link"
    [ "${lines[0]}" = "$SEG True 18" ]
    [ "${lines[1]}" = "$SEG-junk False 10" ]
    [ "${lines[2]}" = "$SEG-link False 10" ]
    [ "${lines[3]}" = "stats alive" ]
    exec 4>&-
}

@test "Python reads what eshm-send sends (C master, Python slave)" {
    seq 1 5000 | eshm-send "$SEG"
    run -0 py '
n = 0
with eshm.ESHM(sys.argv[1], role="slave") as ch:
    for m in ch:
        n += 1
        assert m == str(n).encode(), (m, n)
print(n)' "$SEG"
    [ "$output" = 5000 ]
    seg_gone
}

@test "eshm-recv reads what Python sends (Python master, C reader)" {
    py '
with eshm.ESHM(sys.argv[1], role="master") as ch:
    for i in range(1, 1001):
        ch.write(b"py %d" % i)
    ch.write_many([b"batch %d" % i for i in range(3)])' "$SEG"
    run -0 eshm-recv "$SEG"
    [ "${#lines[@]}" -eq 1003 ]
    [ "${lines[0]}" = "py 1" ]
    [ "${lines[999]}" = "py 1000" ]
    [ "${lines[1002]}" = "batch 2" ]
    seg_gone
}

@test "C++ master and Python slave do request and acknowledgement on one segment" {
    bg_sh "exec $PEER master $SEG 200 >$TMP/out"
    master=$BG_PID
    run -0 py '
with eshm.ESHM(sys.argv[1], role="slave") as ch:
    for m in ch:
        ch.write(b"ACK " + m)' "$SEG"
    wait_exit "$master"
    [ "$EXIT_STATUS" -eq 0 ]
    [ "$(cat "$TMP/out")" = "200 acknowledged" ]
    seg_gone
}

@test "Python master (simple_master.py) and C++ slave, as in the original guide" {
    bg_sh "exec $PEER slave $SEG"
    slave=$BG_PID
    run -0 python3 "$EXAMPLES/simple_master.py" "$SEG" 5
    [ "${lines[0]}" = "=== ESHM Python Master Example ===" ]
    [[ "$output" == *"[MASTER] Sent: Hello from Python master #4"* ]]
    [[ "$output" == *"[MASTER] Received: ACK Hello from Python master #4"* ]]
    wait_exit "$slave"
    [ "$EXIT_STATUS" -eq 0 ]
    seg_gone
}

@test "C master (eshm-send, eshm-recv) and Python slave (simple_slave.py)" {
    bg_sh "exec python3 $EXAMPLES/simple_slave.py $SEG >$TMP/slave.out"
    slave=$BG_PID
    printf 'one\ntwo\nthree\n' | eshm-send "$SEG"
    wait_exit "$slave"
    [ "$EXIT_STATUS" -eq 0 ]
    grep -q '^\[SLAVE\] Received (5 bytes): three$' "$TMP/slave.out"
    run -0 eshm-recv --role master "$SEG"
    [ "$output" = "$(printf 'ACK from Python slave #%d\n' 0 1 2)" ]
    seg_gone
}

@test "messages with NUL bytes and of zero length cross between Python and C++ both ways" {
    py '
with eshm.ESHM(sys.argv[1], role="master") as ch:
    for m in (b"", b"a\x00b", b"\x00", b"\x00" * 300, b"end"):
        ch.write(m)' "$SEG"
    run -0 "$PEER" dump "$SEG"
    [ "${lines[*]}" = "0: 3:610062 1:00 300:$(printf '00%.0s' {1..300}) 3:656e64" ]
    "$PEER" send "$SEG" - 00ff00 - 41
    run -0 py '
with eshm.ESHM(sys.argv[1], role="slave") as ch:
    print(list(ch))' "$SEG"
    [ "$output" = "[b'', b'\\x00\\xff\\x00', b'', b'A']" ]
}

@test "a Python reader goes on when its C writer is killed and another one starts" {
    mkfifo "$TMP/in1"
    bg_sh "exec eshm-send $SEG <$TMP/in1"
    writer=$BG_PID
    exec 4>"$TMP/in1"
    seq 1 3 >&4
    bg_sh "exec env PYTHONPATH=$BATS_TEST_DIRNAME/../python python3 -c '
import eshm, sys
with eshm.ESHM(sys.argv[1], role=\"slave\") as ch:
    for m in ch:
        print(m.decode(), flush=True)' $SEG >$TMP/got"
    reader=$BG_PID
    wait_until 10 lines_at_least "$TMP/got" 3
    kill -KILL "$writer"
    wait_exit "$writer"
    exec 4>&-
    seq 4 6 | eshm-send "$SEG"
    wait_exit "$reader"
    [ "$EXIT_STATUS" -eq 0 ]
    [ "$(cat "$TMP/got")" = "$(seq 1 6)" ]
    seg_gone
}

@test "Python sees end of stream, timeouts, peer state and its own counts" {
    run -0 py '
n = sys.argv[1]
a = eshm.ESHM(n, role="master")
b = eshm.ESHM(n, role="slave")
assert a.role == "master" and b.role == "slave"
assert b.read(timeout=0) is None
assert b.read(timeout=0.05) is None
assert a.peer_state() == "alive" and b.peer_state() == "alive"
a.write_many([b"x"] * 10)
assert b.read_many(max=4) == [b"x"] * 4
buf = bytearray(1)
assert b.readinto(buf) == 1 and buf == b"x"
st = a.stats()
assert st["channels"]["m2s"]["msgs_in"] == 10, st
a.close()
a.close()
assert len(list(b)) == 5
# the end mark is reported once; then a read waits for a new writer
assert b.read(timeout=0) is None
b.close()
assert not os.path.exists("/dev/shm/eshm_" + n)
try:
    a.write(b"y")
except ValueError as e:
    print("closed:", e)' "$SEG"
    [ "$output" = "closed: eshm: operation on a closed channel" ]
}

@test "Python library errors are exceptions that carry the library's message" {
    run -0 py '
for args in (("bad/name",), (sys.argv[1],), ):
    try:
        eshm.ESHM(*args, create=False, wait=0)
    except eshm.ESHMError as e:
        print(e.code, e)' "$SEG"
    [[ "${lines[0]}" == "-1008 invalid segment name 'bad/name'"* ]]
    [ "${lines[1]}" = "-1003 no segment $SEG (waited 0 x 100 ms)" ]
    eshm-recv -v "$SEG" >/dev/null 2>"$TMP/err" &
    PIDS+=($!)
    wait_until 5 grep -q reading "$TMP/err"
    run -0 py '
try:
    eshm.ESHM(sys.argv[1], role="slave", exclusive=True)
except eshm.ESHMError as e:
    print(e)' "$SEG"
    [[ "$output" == "channel m2s of $SEG already has a live reader (pid "* ]]
}

@test "Python's shm_group gives a new segment its group and mode 0660, and refuses another group" {
    run -0 py '
g = os.getegid()
with eshm.ESHM(sys.argv[1], role="master", shm_group=g) as ch:
    st = os.stat("/dev/shm/eshm_" + sys.argv[1])
    print(oct(st.st_mode & 0o7777), st.st_gid == g)
    try:
        eshm.ESHM(sys.argv[1], role="slave", shm_group=g + 1)
    except eshm.ESHMError as e:
        print(e.code, "as asked" in str(e))
for bad in ("no-such-group-" + sys.argv[1], -2, 2**31):
    try:
        eshm.ESHM(sys.argv[1], shm_group=bad)
    except ValueError as e:
        print(e)' "$SEG"
    [ "${lines[0]}" = "0o660 True" ]
    [ "${lines[1]}" = "-1011 True" ]
    [ "${lines[2]}" = "eshm: unknown group 'no-such-group-$SEG' for shm_group" ]
    [ "${lines[3]}" = "eshm: shm_group must be a gid from 0 to 2**31 - 1, not -2" ]
    [[ "${lines[4]}" == *"not 2147483648" ]]
    seg_gone
}

@test "Python peeks at what is pending without taking it, and taps what passes" {
    seq 1 5 | eshm-send --keep "$SEG"
    py '
name = sys.argv[1]
with eshm.ESHM(name, role="slave", ends="read", peek=True) as p:
    got = []
    try:
        while True:
            got.append(int(p.read(timeout=0)))
    except eshm.EndOfStream:
        pass
    assert got == [1, 2, 3, 4, 5], got
    assert p.tap_missed() == (0, 0)
t = eshm.ESHM(name, role="slave", ends="read", tap=True)
assert [x["pid"] for x in eshm.inspect(name)["channels"]["m2s"]["taps"]] == [os.getpid()]
with eshm.ESHM(name, role="master", ends="write") as w:
    w.write(b"six")
assert t.read(timeout=5) == b"six"
t.close()
try:
    eshm.ESHM(name, role="slave", ends="both", tap=True)
    raise SystemExit("a tap that writes was taken")
except eshm.ESHMError as e:
    assert e.code == eshm.EINVAL, e
' "$SEG"
    # nothing was taken: a reader gets them all
    [ "$(eshm-recv "$SEG" | tr '\n' ' ')" = "1 2 3 4 5 six " ]
}

@test "Python readers share a consumer group, every group gets every message, remove_group" {
    seq 1 200 | eshm-send --keep "$SEG"
    py '
name = sys.argv[1]
a = eshm.ESHM(name, role="slave", ends="read", group="workers")
b = eshm.ESHM(name, role="slave", ends="read", group="workers")
got = []
# each takes its own batches: together they get every message once, then
# each gets the end of the stream (eshm-send finished it)
ended = set()
while len(ended) < 2:
    for r in (a, b):
        if r in ended:
            continue
        try:
            m = r.read(timeout=0)
        except eshm.EndOfStream:
            ended.add(r)
            continue
        if m is not None:
            got.append(int(m))
assert sorted(got) == list(range(1, 201)), got[:10]
d = eshm.inspect(name)["channels"]["m2s"]
assert [g["name"] for g in d["groups"]] == ["workers"], d["groups"]
assert sorted(r["pid"] for r in d["readers"]) == [os.getpid()] * 2, d["readers"]
a.close(); b.close()
with eshm.ESHM(name, role="slave", ends="read", group="audit") as c:
    pass
try:
    eshm.ESHM(name, role="slave", ends="read", group="no good")
    raise SystemExit("a bad group name was taken")
except ValueError as e:
    assert "invalid consumer group" in str(e), e
assert eshm.remove_group(name, "audit") == 1
try:
    eshm.remove_group(name, "audit")
    raise SystemExit("removed twice")
except eshm.ESHMError as e:
    assert e.code == eshm.ENOGROUP, e
' "$SEG"
}

@test "asyncio runs two eshm channels and a socket pair in one loop, every message in order on each" {
    # channel a: eshm-send in another process to `async for`; channel b:
    # awrite to aread in this loop, on a ring small enough to fill (a
    # write that blocked the loop would stop the reader: a deadlock); and
    # a socket pair through asyncio streams, meanwhile
    bg_sh "seq 1 20000 | exec eshm-send --no-create --retries 100 $SEG-a"
    sender=$BG_PID
    run -0 py '
import asyncio, socket
N = 20000
name = sys.argv[1]
async def main():
    a = eshm.ESHM(name + "-a", role="slave", ends="read")
    bw = eshm.ESHM(name + "-b", role="master", ends="write", capacity=4096)
    br = eshm.ESHM(name + "-b", role="slave", ends="read")
    s1, s2 = socket.socketpair()
    waits = {"a": 0, "b": 0}

    async def read_a():
        n = 0
        async for m in a:
            n += 1
            assert m == str(n).encode(), (m, n)
        return n

    async def write_b():
        for i in range(N):
            await bw.awrite(b"b%d" % i)
        bw.close()
        return N

    async def read_b():
        n = 0
        try:
            while True:
                m = await br.aread(timeout=0)
                if m is None:
                    waits["b"] += 1
                    m = await br.aread()
                assert m == b"b%d" % n, (m, n)
                n += 1
        except eshm.EndOfStream:
            return n

    async def sock_write():
        r, w = await asyncio.open_connection(sock=s1)
        for i in range(N):
            w.write(b"s%d\n" % i)
            if i % 64 == 0:
                await w.drain()
        await w.drain()
        w.close()
        return N

    async def sock_read():
        r, w = await asyncio.open_connection(sock=s2)
        n = 0
        while line := await r.readline():
            assert line == b"s%d\n" % n, (line, n)
            n += 1
        w.close()
        return n

    got = await asyncio.wait_for(asyncio.gather(
        read_a(), write_b(), read_b(), sock_write(), sock_read()), 120)
    a.close()
    br.close()
    print(*got)
    print("b waited", waits["b"] > 0)
    st = eshm.inspect(name + "-b") if os.path.exists("/dev/shm/eshm_" + name + "-b") else None
    print("b gone", st is None)
asyncio.run(main())' "$SEG"
    [ "${lines[0]}" = "20000 20000 20000 20000 20000" ]
    [ "${lines[1]}" = "b waited True" ]
    [ "${lines[2]}" = "b gone True" ]
    wait_exit "$sender"
    [ "$EXIT_STATUS" -eq 0 ]
    seg_gone "$SEG-a"
}

@test "Python aread and awrite time out, see end of stream, and a closed channel wakes a waiting coroutine" {
    run -0 py '
import asyncio, time
name = sys.argv[1]
async def main():
    w = eshm.ESHM(name, role="master", ends="write", capacity=4096)
    r = eshm.ESHM(name, role="slave", ends="read")
    loop = asyncio.get_running_loop()
    t = loop.time()
    assert await r.aread(timeout=0) is None
    assert await r.aread(timeout=0.05) is None
    assert loop.time() - t >= 0.05
    assert r.fileno() == r.fileno() and r.fileno() != w.fileno_write()
    try:
        w.fileno()
    except eshm.ESHMError as e:
        print("write end only:", e.code == eshm.ENOEND)
    n = 0
    while True:
        try:
            await w.awrite(b"x" * 100, timeout=0)
        except eshm.ESHMError as e:
            assert e.code == eshm.ETIMEDOUT, e
            break
        n += 1
    try:
        await w.awrite(b"y", timeout=0.05)
    except eshm.ESHMError as e:
        print("full:", e)
    # a writer waiting for room is woken by a reader in the same loop
    async def drain():
        await asyncio.sleep(0.01)
        return [await r.aread() for _ in range(n)]
    _, got = await asyncio.gather(w.awrite(b"z"), drain())
    assert got == [b"x" * 100] * n
    assert await r.aread() == b"z"
    # two coroutines may not wait on one channel at once
    waiter = asyncio.ensure_future(r.aread())
    await asyncio.sleep(0.01)
    try:
        await r.aread()
    except RuntimeError as e:
        print("second:", "already waiting" in str(e))
    w.close()
    try:
        await waiter
    except eshm.EndOfStream:
        print("end of stream")
    # the end is reported once: a reader then waits for a new writer
    assert await r.aread(timeout=0.01) is None
    waiter = asyncio.ensure_future(r.aread())
    await asyncio.sleep(0.01)
    r.close()
    try:
        await waiter
    except ValueError as e:
        print("closed:", e)
asyncio.run(main())' "$SEG"
    [ "${lines[0]}" = "write end only: True" ]
    [ "${lines[1]}" = "full: channel m2s of $SEG is full" ]
    [ "${lines[2]}" = "second: True" ]
    [ "${lines[3]}" = "end of stream" ]
    [ "${lines[4]}" = "closed: eshm: operation on a closed channel" ]
    seg_gone
}

@test "without the library, importing eshm says where it looked" {
    run -1 env ESHM_LIBRARY=/nonexistent/libeshm.so PYTHONPATH="$BATS_TEST_DIRNAME/../python" \
        python3 -c "import eshm"
    [[ "$output" == *"ImportError: eshm: cannot find libeshm.so; looked in: /nonexistent/libeshm.so"* ]]
}

@test "performance_test.py measures either side against the tools" {
    bg_sh "exec python3 $EXAMPLES/performance_test.py slave $SEG >$TMP/slave.out"
    slave=$BG_PID
    run -0 python3 "$EXAMPLES/performance_test.py" master "$SEG" 20000
    [[ "$output" == "[MASTER] Messages: sent=20000 ("*" msg/sec)" ]]
    wait_exit "$slave"
    [ "$EXIT_STATUS" -eq 0 ]
    grep -q '^\[SLAVE\] Messages: received=20000, rate=' "$TMP/slave.out"
    run -0 python3 "$EXAMPLES/performance_test.py" compare --count 2000 --runs 1
    [[ "$output" == *"eshm   Python -> C, batched"* ]]
    [[ "$output" == *"os.pipe Python -> Python"*"1.00x"* ]]
    run -0 python3 "$EXAMPLES/performance_test.py" roundtrip --count 200 --runs 1
    [ "${lines[0]}" = "200 round trips of 64 bytes to a Python echo, 1 runs, interleaved" ]
    [[ "${lines[3]}" == "eshm   await awrite() + aread() "* ]]
    [[ "${lines[5]}" == "socket asyncio streams "* ]]
}

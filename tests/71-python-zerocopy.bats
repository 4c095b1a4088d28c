#!/usr/bin/env bats
# Python's zero-copy calls (ESHM.reserve, ESHM.peek) and numpy arrays through them.

load helpers

setup_file() { need_peer; }
EXAMPLES="$BATS_TEST_DIRNAME/../python/examples"

# py CODE...: run Python with eshm importable from the source tree
py() {
    PYTHONPATH="$BATS_TEST_DIRNAME/../python" "${PY:-python3}" -c "import eshm, sys, os, time
class Boom(Exception):
    pass
$1" "${@:2}"
}

# need_numpy: skip unless a Python with numpy is there, and set PY to it:
# python3 on PATH, else Debian's (a pyenv python3 does not see Debian's
# python3-numpy, which .ci/run installs)
need_numpy() {
    local p
    for p in python3 /usr/bin/python3; do
        if "$p" -c 'import numpy' 2>/dev/null; then
            PY=$p
            return 0
        fi
    done
    skip "numpy not installed"
}

@test "reserve writes messages in place that a C++ reader gets byte for byte" {
    py '
with eshm.ESHM(sys.argv[1], role="master", ends="write") as w:
    for m in (b"", b"a\x00b", b"\x00" * 300, b"end"):
        with w.reserve(len(m)) as buf:
            assert len(buf) == len(m) and buf.format == "B" and not buf.readonly, buf
            buf[:] = m' "$SEG"
    run -0 "$PEER" dump "$SEG"
    [ "${lines[*]}" = "0: 3:610062 300:$(printf '00%.0s' {1..300}) 3:656e64" ]
    seg_gone
}

@test "large messages written in place arrive whole, reserved in the ring or beside other writers" {
    run -0 py '
import random
rnd = random.Random(1)
name = sys.argv[1]
w = eshm.ESHM(name, role="master", ends="write", capacity=1 << 20)
r = eshm.ESHM(name, role="slave", ends="read")
msgs = [rnd.randbytes(n) for n in (1, 17, 4096, 65536, 300000)]

def round_trip(label):
    for i, m in enumerate(msgs):
        with w.reserve(len(m), timeout=5) as buf:
            buf[:] = m
        if i % 2:
            assert r.read(timeout=5) == m, (label, len(m))
        else:
            with r.peek(timeout=5) as view:
                assert view == m, (label, len(m))
    print(label, "ok")

round_trip("alone")      # reserved in the ring itself
other = eshm.ESHM(name, role="master", ends="write", eos_on_close=False)
round_trip("staged")     # another writer attached: in the handle, copied in at commit
other.close()
w.close()
assert list(r) == []
r.close()' "$SEG"
    [ "$output" = "$(printf 'alone ok\nstaged ok')" ]
    seg_gone
}

@test "a reservation left by an exception commits nothing and gives its room back at once" {
    run -0 py '
name = sys.argv[1]
w = eshm.ESHM(name, role="master", ends="write")
r = eshm.ESHM(name, role="slave", ends="read")
try:
    with w.reserve(1000) as buf:
        assert w.stats()["channels"]["m2s"]["writer"]["claimed"] > 0
        buf[:] = b"x" * 1000
        raise Boom()
except Boom:
    pass
m2s = w.stats()["channels"]["m2s"]
assert m2s["msgs_in"] == 0 and m2s["writer"]["claimed"] == 0, m2s
assert r.read(timeout=0) is None
# another writer commits after it: no claim of ours holds its message back
with eshm.ESHM(name, role="master", ends="write", eos_on_close=False) as other:
    other.write(b"other")
assert r.read(timeout=5) == b"other"
w.write(b"next")
w.close()
print(list(r))
r.close()' "$SEG"
    [ "$output" = "[b'next']" ]
    seg_gone
}

@test "a peek left by an exception keeps its message for the next read; one left normally takes it" {
    run -0 py '
name = sys.argv[1]
w = eshm.ESHM(name, role="master", ends="write")
r = eshm.ESHM(name, role="slave", ends="read")
w.write(b"one")
w.write(b"two")
try:
    with r.peek(timeout=5) as view:
        assert view == b"one" and view.readonly
        raise Boom()
except Boom:
    pass
with r.peek(timeout=0) as view:
    assert view == b"one"
assert r.read(timeout=0) == b"two"
w.write(b"three")
try:
    with r.peek(timeout=0) as view:
        raise Boom()
except Boom:
    pass
assert r.read(timeout=0) == b"three"
with r.peek(timeout=0) as view:
    assert view is None
w.write(b"four")
try:
    with r.peek(timeout=5) as view:
        raise Boom()
except Boom:
    pass
r.close()   # what it peeked and did not take goes back to its group
w.close()' "$SEG"
    run -0 eshm-recv "$SEG"
    [ "$output" = four ]
    seg_gone
}

@test "the memoryviews are unusable after the block, and nothing made from them may outlive it" {
    run -0 py '
import ctypes
name = sys.argv[1]
w = eshm.ESHM(name, role="master", ends="write")
r = eshm.ESHM(name, role="slave", ends="read")
with w.reserve(3) as buf:
    buf[:] = b"abc"
with r.peek(timeout=5) as view:
    try:
        view[0] = 1
        raise SystemExit("wrote into a peeked message")
    except TypeError:
        pass
try:
    with w.reserve(1) as raised:
        raise Boom()
except Boom:
    pass
for v in (buf, view, raised):
    for use in (lambda: v[0], lambda: bytes(v), lambda: len(v), lambda: memoryview(v),
                lambda: v.__setitem__(0, 1)):
        try:
            use()
            raise SystemExit("a view used after its block")
        except ValueError as e:
            last = e
print(last)
# a slice kept: nothing committed
try:
    with w.reserve(4) as buf:
        buf[:] = b"kept"
        part = buf[:2]
    raise SystemExit("committed with a slice alive")
except BufferError as e:
    print(e)
del part
# an export kept (ctypes here, a numpy array alike): nothing committed
try:
    with w.reserve(4) as buf:
        c = (ctypes.c_char * 4).from_buffer(buf)
    raise SystemExit("committed with an export alive")
except BufferError:
    pass
del c
assert r.read(timeout=0) is None
# a peek: the message is not taken, it stays for the next read
w.write(b"msg")
try:
    with r.peek(timeout=5) as view:
        kept = view.obj
    raise SystemExit("released with the memory reachable")
except BufferError as e:
    print(e)
del kept
assert r.read(timeout=0) == b"msg"
# when the block raised, its exception goes on, with a note
try:
    with w.reserve(2) as buf:
        part = buf[:]
        raise Boom()
except Boom as e:
    print(getattr(e, "__notes__", ["eshm: (notes come with Python 3.11)"])[0])
del part
w.close()
assert list(r) == []
r.close()' "$SEG"
    [ "${lines[0]}" = "operation forbidden on released memoryview object" ]
    [ "${lines[1]}" = "eshm: nothing committed: something made from the 4-byte reservation's memoryview (a slice, a numpy array...) outlived its with block" ]
    [ "${lines[2]}" = "eshm: message not released: something made from its memoryview (a slice, a numpy array...) outlived the with block" ]
    [[ "${lines[3]}" == "eshm: "* ]]
    seg_gone
}

@test "while a reservation or a peek is open, the calls that would end it raise RuntimeError" {
    run -0 py '
name = sys.argv[1]
w = eshm.ESHM(name, role="master", ends="write")
r = eshm.ESHM(name, role="slave", ends="read")

def refused(*calls):
    for call in calls:
        try:
            call()
            raise SystemExit("allowed: %r" % call)
        except RuntimeError as e:
            last = e
    return last

with w.reserve(1) as buf:
    print(refused(lambda: w.write(b"x"), lambda: w.write_many([b"x"]), w.eos,
                  lambda: w.reserve(1).__enter__()))
    buf[:] = b"k"
with r.peek(timeout=5) as view:
    print(refused(r.read, lambda: r.readinto(bytearray(8)), r.read_many, lambda: list(r),
                  lambda: r.peek().__enter__()))
    assert view == b"k"
assert r.read(timeout=0) is None
# closing the handle in the block ends the view first; the block cannot commit
try:
    with w.reserve(1) as buf:
        w.close()
        try:
            buf[0]
            raise SystemExit("a view outlived its handle")
        except ValueError:
            pass
    raise SystemExit("committed on a closed handle")
except ValueError as e:
    print(e)
assert list(r) == []
r.close()' "$SEG"
    [ "${lines[0]}" = "eshm: a reservation of this handle is open: leave its with block first" ]
    [ "${lines[1]}" = "eshm: a peek of this handle is open: leave its with block first" ]
    [ "${lines[2]}" = "eshm: operation on a closed channel" ]
    seg_gone
}

@test "reserve and peek wait in seconds as write and read do, and say why they fail" {
    run -0 py '
name = sys.argv[1]
w = eshm.ESHM(name, role="master", ends="write", capacity=4096)
r = eshm.ESHM(name, role="slave", ends="read")
m = w.max_message
with w.reserve(m) as buf:     # fills the channel
    buf[:] = bytes(m)
for t in (0, 0.05):
    t0 = time.monotonic()
    try:
        with w.reserve(1, timeout=t) as buf:
            raise SystemExit("reserved in a full channel")
    except eshm.ESHMError as e:
        assert e.code == eshm.ETIMEDOUT, e
        print(e)
    assert time.monotonic() - t0 >= t
try:
    with w.reserve(m + 1):
        pass
except eshm.ESHMError as e:
    assert e.code == eshm.EMSGSIZE, e
    print(e)
for bad in (lambda: w.reserve(-1), lambda: w.reserve(1, timeout=-1), lambda: r.peek(-1)):
    try:
        bad()
        raise SystemExit("a bad size or timeout taken")
    except ValueError:
        pass
assert len(r.read(timeout=0)) == m
t0 = time.monotonic()
with r.peek(timeout=0.05) as view:
    assert view is None
assert time.monotonic() - t0 >= 0.05
w.close()
try:
    with r.peek(timeout=5) as view:
        raise SystemExit("peeked past the end")
except eshm.EndOfStream as e:
    print(e)
r.close()' "$SEG"
    [ "${lines[0]}" = "channel m2s of $SEG is full" ]
    [ "${lines[1]}" = "channel m2s of $SEG stayed full" ]
    [ "${lines[2]}" = "a message of 4081 bytes exceeds the 4080 bytes a 4096-byte channel can carry" ]
    [ "${lines[3]}" = "end of stream" ]
    seg_gone
}

@test "numpy arrays of many dtypes and shapes cross exactly through numpy_arrays.py's functions" {
    need_numpy
    run -0 py '
sys.path.insert(0, sys.argv[2])
import numpy as np
import numpy_arrays as na
name = sys.argv[1]
w = eshm.ESHM(name, role="master", ends="write", capacity=1 << 22)
r = eshm.ESHM(name, role="slave", ends="read")
arrays = na.samples() + [
    np.arange(6, dtype=np.uint64).reshape(1, 2, 3, 1),
    np.full((1000, 100), np.nan),
    np.array([], dtype=">c16"),
    np.asfortranarray(np.arange(12.0).reshape(3, 4)),
    np.arange(1 << 18, dtype=np.float64).reshape(512, 512),   # 2 MiB
]
for a in arrays:
    na.send(w, a, timeout=5)
    b = na.receive(r, timeout=5)
    assert (b.dtype.str, b.shape) == (a.dtype.str, a.shape), (a.dtype, b.dtype, a.shape, b.shape)
    assert b.tobytes() == a.tobytes(), a.dtype
    assert b.flags.writeable and b.flags.owndata
# in place: read-only, over the message, inside the block
na.send(w, arrays[0])
with r.peek(timeout=5) as view:
    a = na.array_in(view)
    assert not a.flags.writeable and np.array_equal(a, arrays[0])
    del a
# an array kept past the block: BufferError, and the message stays
na.send(w, arrays[1])
try:
    with r.peek(timeout=5) as view:
        kept = na.array_in(view)
    raise SystemExit("released with an array alive")
except BufferError:
    pass
del kept
assert np.array_equal(na.receive(r, timeout=0), arrays[1])
# an array over a reservation kept past the block: nothing committed
try:
    with w.reserve(16) as buf:
        f = np.frombuffer(buf, np.float64)
        f[:] = 1
    raise SystemExit("committed with an array alive")
except BufferError:
    pass
del f
try:
    na.send(w, np.array([object()]))
except ValueError as e:
    print(e)
assert r.read(timeout=0) is None
w.close()
assert list(r) == []
r.close()
print(len(arrays), "arrays")' "$SEG" "$EXAMPLES"
    [ "${lines[0]}" = "numpy_arrays: only plain dtypes travel as a string, not object" ]
    [ "${lines[1]}" = "17 arrays" ]
    seg_gone
}

@test "numpy_arrays.py sends its arrays from one process to another" {
    need_numpy
    bg_sh "exec $PY $EXAMPLES/numpy_arrays.py recv $SEG >$TMP/got"
    reader=$BG_PID
    run -0 "$PY" "$EXAMPLES/numpy_arrays.py" send "$SEG"
    [ "${#lines[@]}" -eq 12 ]
    [ "${lines[0]}" = "<f8 (3, 4) crc32=f89907f0" ]
    printf '%s\n' "${lines[@]}" >"$TMP/sent"
    wait_exit "$reader"
    [ "$EXIT_STATUS" -eq 0 ]
    diff "$TMP/sent" "$TMP/got"
    seg_gone
    run -0 "$PY" "$EXAMPLES/numpy_arrays.py" demo "$SEG-demo"
    [ "${lines[-1]}" = "12 arrays sent and received exactly" ]
    seg_gone "$SEG-demo"
    run -2 "$PY" "$EXAMPLES/numpy_arrays.py" send
    [ "${lines[0]}" = "usage:" ]
}

@test "performance_test.py zerocopy measures arrays in place against write and read" {
    need_numpy
    run -0 "$PY" "$EXAMPLES/performance_test.py" zerocopy --count 20 --runs 1 --size 65536 \
        --capacity 1048576
    [ "${lines[0]}" = "20 float64 arrays of 65536 bytes, Python -> Python, 1048576-byte channel; median of 1 runs, interleaved" ]
    [[ "$output" == *"in place: reserve + copyto / peek "* ]]
    [[ "$output" == *"write(head + a.tobytes()) / read() "*" 1.00x "* ]]
    run -1 "$PY" "$EXAMPLES/performance_test.py" zerocopy --size 7
    [ "$output" = "performance_test.py: --size must be a positive multiple of 8 (float64)" ]
}

#!/usr/bin/env python3
"""numpy_arrays.py - numpy arrays through eshm, with no copy in between.

    python3 numpy_arrays.py [demo [NAME]]  a writer and a reader process, on segment NAME
    python3 numpy_arrays.py send NAME      send the sample arrays, then end the stream
    python3 numpy_arrays.py recv NAME      describe each array received, until the end

One message is one array: a small header (its dtype as numpy spells it,
such as "<f8", and its shape), then its bytes in C order. The writer copies
the array straight into the channel (ESHM.reserve), the reader looks at it
where it lies (ESHM.peek) and copies it out only to keep it: one copy in
all, where write(a.tobytes()) and read() make four.

send and recv print one line per array (dtype, shape, CRC-32 of its bytes),
so the two sides can be compared; demo (the default; NAME defaults to
numpy-arrays-PID) runs both, compares them, and exits 1 if they differ.
Needs numpy (Debian: apt-get install python3-numpy).
"""
import math
import os
import struct
import subprocess
import sys
import zlib

import numpy as np

import _path  # noqa: F401  (finds eshm.py in the source tree)
import eshm
from eshm import ESHM

# b"nd", the number of dimensions, the length of the dtype's string; the
# string; the shape as 64-bit counts; zeros up to a multiple of 16 bytes, so
# that the array's bytes are as aligned as the message (eshm aligns to 16)
_HEAD = struct.Struct("<2sBB")
_ALIGN = 16


def header(dtype, shape):
    """The header of an array of that dtype and shape, as bytes."""
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        raise ValueError("numpy_arrays: only plain dtypes travel as a string, not %s" % dtype)
    name = dtype.str.encode("ascii")
    head = _HEAD.pack(b"nd", len(shape), len(name)) + name + struct.pack(
        "<%dQ" % len(shape), *shape)
    return head + bytes(-len(head) % _ALIGN)


def parse(view):
    """(dtype, shape, offset of the array's bytes) of a message; ValueError
    if it is not an array as send() writes one."""
    if len(view) < _HEAD.size:
        raise ValueError("numpy_arrays: a message of %d bytes is no array" % len(view))
    magic, ndim, namelen = _HEAD.unpack_from(view)
    at = _HEAD.size + namelen
    end = at + 8 * ndim
    off = end + -end % _ALIGN
    if magic != b"nd" or off > len(view):
        raise ValueError("numpy_arrays: not an array message")
    dtype = np.dtype(bytes(view[_HEAD.size:at]).decode("ascii"))
    shape = struct.unpack_from("<%dQ" % ndim, view, at)
    if len(view) - off != math.prod(shape) * dtype.itemsize:
        raise ValueError("numpy_arrays: %d bytes for a %s array of shape %s"
                         % (len(view) - off, dtype, shape))
    return dtype, shape, off


def send(ch, array, timeout=None):
    """Send one array (anything np.asarray takes, in any memory order) as
    one message, copied once: from the array into the channel. Waits up to
    timeout seconds for room (None: as long as it takes); ESHMError
    (ETIMEDOUT) if there is none, (EMSGSIZE) if it can never fit."""
    a = np.asarray(array)
    head = header(a.dtype, a.shape)
    with ch.reserve(len(head) + a.nbytes, timeout) as buf:
        buf[:len(head)] = head
        if a.size:
            # an array over the reservation, written and dropped in one
            # statement: nothing made from buf outlives the block
            np.copyto(np.frombuffer(buf, a.dtype, offset=len(head)).reshape(a.shape), a,
                      casting="no")


def array_in(view):
    """The array in a message that ESHM.peek gave, where it lies: read-only,
    and valid only inside the peek's with block (del it before the block
    ends, or leaving the block raises BufferError)."""
    dtype, shape, off = parse(view)
    return np.frombuffer(view, dtype, count=math.prod(shape), offset=off).reshape(shape)


def receive(ch, timeout=None):
    """The next array, as a new array of its own (the one copy, out of the
    channel), or None if none came within timeout seconds. EndOfStream at
    the end of the stream."""
    with ch.peek(timeout) as view:
        if view is None:
            return None
        return array_in(view).copy()


# ------------------------------------------------------------ the script

def samples():
    """Arrays of several dtypes, shapes and memory orders."""
    rng = np.random.default_rng(7)
    return [
        np.arange(12, dtype=np.float64).reshape(3, 4),
        rng.integers(0, 256, size=(48, 64, 3), dtype=np.uint8),       # an image
        np.arange(-5, 5, dtype=">i4"),                                  # big-endian
        rng.standard_normal((4, 5)).astype(np.float32).T,               # Fortran order
        np.arange(40, dtype=np.int16)[::3],                             # strided
        (rng.standard_normal(6) + 1j * rng.standard_normal(6)).astype(np.complex64),
        np.array([[True, False], [False, True]]),
        np.array(["eshm", "zero", "copy"]),                             # <U4
        np.array([b"ab", b"\x00c"]),                                    # |S2, NULs
        np.arange("2024-01", "2024-04", dtype="datetime64[M]"),
        np.array(42, dtype=np.int64),                                   # 0-d
        np.zeros((0, 3), dtype=np.float16),                             # empty
    ]


def describe(a):
    return "%s %s crc32=%08x" % (a.dtype.str, a.shape, zlib.crc32(np.ascontiguousarray(a)))


def send_samples(name):
    with ESHM(name, role="master", ends="write", capacity=1 << 20) as ch:
        for a in samples():
            send(ch, a)
            print(describe(a), flush=True)


def recv_all(name):
    with ESHM(name, role="slave", ends="read") as ch:
        while True:
            try:
                with ch.peek() as view:
                    a = array_in(view)   # no copy: used where it lies...
                    line = describe(a)
                    del a                # ...and dropped before the block ends
            except eshm.EndOfStream:
                return
            print(line, flush=True)


def demo(name):
    reader = subprocess.Popen([sys.executable, os.path.abspath(__file__), "recv", name],
                              stdout=subprocess.PIPE, text=True)
    try:
        sent = []
        with ESHM(name, role="master", ends="write", capacity=1 << 20) as ch:
            for a in samples():
                send(ch, a)
                sent.append(describe(a))
        got = reader.communicate(timeout=60)[0].splitlines()
    finally:
        if reader.poll() is None:
            reader.kill()
            reader.wait()
    for line in got:
        print("received", line)
    if reader.returncode or got != sent:
        print("numpy_arrays.py: the reader got something else than was sent", file=sys.stderr)
        return 1
    print("%d arrays sent and received exactly" % len(sent))
    return 0


def main(argv):
    if len(argv) <= 3 and argv[1:2] in ([], ["demo"]):
        return demo(argv[2] if len(argv) == 3 else "numpy-arrays-%d" % os.getpid())
    if len(argv) == 3 and argv[1] in ("send", "recv"):
        (send_samples if argv[1] == "send" else recv_all)(argv[2])
        return 0
    print("usage:\n" + __doc__.split("\n\n")[1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except eshm.ESHMError as e:
        sys.exit("numpy_arrays.py: %s" % e)
    except KeyboardInterrupt:
        sys.exit(130)

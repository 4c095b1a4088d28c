#!/usr/bin/env python3
"""performance_test.py - messages per second from Python, against the C tools and pipes.

    python3 performance_test.py master NAME [COUNT] [--size N] [--batch]
    python3 performance_test.py slave NAME [COUNT] [--batch]
    python3 performance_test.py compare [--count N] [--runs R] [--size N]
    python3 performance_test.py zerocopy [--count N] [--runs R] [--size N] [--capacity N]
    python3 performance_test.py roundtrip [--count N] [--runs R] [--size N]

master sends COUNT messages of N bytes (default 100000 of 64) and marks the
end; slave receives until the end (or COUNT) and reports the rate. Either
side may be a C program instead: eshm-recv NAME >/dev/null as the reader,
eshm-send NAME <file as the writer. --batch uses write_many/read_many,
one library call per batch instead of per message.

compare measures, in one run, interleaved, the median of R runs each:
Python to Python, Python to C (eshm-recv), C (eshm-send) to Python, over
eshm per message and batched, and over os.pipe and multiprocessing.Pipe.

zerocopy measures numpy arrays of N bytes (default 1 MiB, float64) from
one Python process to another, interleaved, the median of R runs each: in
place (ESHM.reserve and ESHM.peek, as examples/numpy_arrays.py sends them)
against write(bytes) and read(), in MB/s and as a ratio. The channel holds
--capacity bytes (default 8 MiB). Needs numpy.

roundtrip measures, in one run, interleaved, the time of a round trip to
an echoing process: over eshm with blocking write() and read(), and with
await awrite() and await aread() in an asyncio loop (waiting on the
channel's descriptor, fileno()); for reference, over a Unix socket pair
with blocking send and recv, and with asyncio streams. The peer is the
same blocking Python echo for all; p50 and p99 of all round trips.
"""
import argparse
import asyncio
import socket
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import _path  # noqa: F401  (finds eshm.py in the source tree)
import eshm
from eshm import ESHM

HERE = os.path.dirname(os.path.abspath(__file__))


def tool(name):
    """eshm-send/eshm-recv of the source tree's build, else from PATH."""
    built = os.path.join(HERE, "..", "..", "build", "bin", name)
    if os.access(built, os.X_OK):
        return os.path.normpath(built)
    found = shutil.which(name)
    if not found:
        sys.exit("performance_test.py: %s not found (run make, or put it in PATH)" % name)
    return found


# ------------------------------------------------------------ the sides

def send(name, count, size, batch):
    msg = b"m" * size
    with ESHM(name, role="master", ends="write") as ch:
        if batch:
            chunk = [msg] * 256
            for _ in range(count // 256):
                ch.write_many(chunk)
            ch.write_many([msg] * (count % 256))
        else:
            write = ch.write
            for _ in range(count):
                write(msg)


def receive(name, count, batch):
    n = 0
    with ESHM(name, role="slave", ends="read") as ch:
        if batch:
            for _ in ch:
                n += 1
                if count and n >= count:
                    break
        else:
            read = ch.read
            try:
                while not count or n < count:
                    read()
                    n += 1
            except eshm.EndOfStream:
                pass
    return n


# ------------------------------------------------------------ compare

def timed(start_reader, start_writer):
    """Run a reader and a writer; seconds from the writer's start to both
    ending."""
    reader = start_reader()
    t0 = time.perf_counter()
    writer = start_writer()
    for p in (writer, reader):
        code = p.wait() if isinstance(p, subprocess.Popen) else _join(p)
        if code:
            raise RuntimeError("a side failed with status %s" % code)
    return time.perf_counter() - t0


def _join(p):
    p.join()
    return p.exitcode


def fork(fn, *args):
    p = multiprocessing.Process(target=fn, args=args)
    p.start()
    return p


def _recv_exact(name, count, batch):
    got = receive(name, 0, batch)
    if got != count:
        sys.exit("received %d of %d messages" % (got, count))


def py_to_py(count, size, batch):
    name = "perf-%d-%d" % (os.getpid(), time.monotonic_ns())
    return timed(lambda: fork(_recv_exact, name, count, batch),
                 lambda: fork(send, name, count, size, batch))


def py_to_c(count, size, batch):
    name = "perf-%d-%d" % (os.getpid(), time.monotonic_ns())
    return timed(lambda: subprocess.Popen([tool("eshm-recv"), name],
                                          stdout=subprocess.DEVNULL),
                 lambda: fork(send, name, count, size, batch))


def c_to_py(count, size, batch, lines):
    name = "perf-%d-%d" % (os.getpid(), time.monotonic_ns())
    return timed(lambda: fork(_recv_exact, name, count, batch),
                 lambda: subprocess.Popen([tool("eshm-send"), name], stdin=open(lines, "rb")))


def _pipe_reader(r, w, count, size):
    os.close(w)
    n = 0
    while n < count:
        if not os.read(r, size):
            break
        n += 1
    os._exit(0 if n == count else 1)


def os_pipe(count, size, _batch):
    r, w = os.pipe()
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        _pipe_reader(r, w, count, size)
    os.close(r)
    msg = b"m" * size
    write = os.write
    for _ in range(count):
        write(w, msg)
    os.close(w)
    _, status = os.waitpid(pid, 0)
    if status:
        raise RuntimeError("the pipe's reader failed")
    return time.perf_counter() - t0


def _mp_reader(conn, count):
    for _ in range(count):
        conn.recv_bytes()


def mp_pipe(count, size, _batch):
    a, b = multiprocessing.Pipe(duplex=False)
    t0 = time.perf_counter()
    p = fork(_mp_reader, a, count)
    msg = b"m" * size
    send_bytes = b.send_bytes
    for _ in range(count):
        send_bytes(msg)
    if _join(p):
        raise RuntimeError("the pipe's reader failed")
    return time.perf_counter() - t0


def compare(count, runs, size):
    with tempfile.NamedTemporaryFile("wb", suffix=".lines", delete=False) as f:
        line = b"m" * (size - 1) + b"\n"  # eshm-send: a line is a message
        f.write(line * count)
        lines = f.name
    rows = [
        ("eshm   Python -> Python", py_to_py, False),
        ("eshm   Python -> Python, batched", py_to_py, True),
        ("eshm   Python -> C (eshm-recv)", py_to_c, False),
        ("eshm   Python -> C, batched", py_to_c, True),
        ("eshm   C (eshm-send) -> Python", lambda c, s, b: c_to_py(c, s, b, lines), False),
        ("eshm   C -> Python, batched", lambda c, s, b: c_to_py(c, s, b, lines), True),
        ("os.pipe Python -> Python", os_pipe, False),
        ("multiprocessing.Pipe", mp_pipe, False),
    ]
    times = {label: [] for label, _, _ in rows}
    try:
        for r in range(runs):
            for label, fn, batch in rows:
                if sys.stderr.isatty():
                    print("\r\033[Krun %d/%d: %s" % (r + 1, runs, label), end="",
                          file=sys.stderr, flush=True)
                times[label].append(fn(count, size, batch))
    finally:
        os.unlink(lines)
    if sys.stderr.isatty():
        print("\r\033[K", end="", file=sys.stderr)
    base = count / statistics.median(times["os.pipe Python -> Python"])
    print("%d messages of %d bytes, median of %d runs, interleaved (C -> Python: "
          "%d-byte lines)\n" % (count, size, runs, size - 1))
    print("%-36s %12s %10s" % ("TRANSPORT", "MSGS/S", "VS OS.PIPE"))
    for label, _, _ in rows:
        rate = count / statistics.median(times[label])
        print("%-36s %12s %9.2fx" % (label, "{:,.0f}".format(rate), rate / base))


# ------------------------------------------------------------ zerocopy
#
# One writer and one reader process per run. The writer times from the
# reader's arrival to flush() returning, when the reader has taken every
# array: the transfer alone, not the processes' start. Each side does what
# a program moving arrays does: the writer has an array, the reader ends
# up with an array (and checks its last element).

ZC_ROWS = [
    # label, how the writer sends, how the reader receives
    ("in place: reserve + copyto / peek", "reserve", "peek"),
    ("in place, the reader copies it out", "reserve", "peek-copy"),
    ("write(head + a.tobytes()) / read()", "tobytes", "read"),
    ("write(b''.join((head, a.data))) / read()", "join", "read"),
]
# the plain way, and the one that makes the message with one copy fewer
ZC_PLAIN, ZC_JOIN = ZC_ROWS[2][0], ZC_ROWS[3][0]


def _zc_write(name, count, size, capacity, how, elapsed):
    import numpy as np
    import numpy_arrays as na
    a = np.arange(size // 8, dtype=np.float64)
    head = na.header(a.dtype, a.shape)
    with ESHM(name, role="master", ends="write", capacity=capacity) as ch:
        deadline = time.monotonic() + 10
        while ch.peer_state() != "alive":
            if time.monotonic() > deadline:
                sys.exit("performance_test.py: the reader did not come")
            time.sleep(0.001)
        t0 = time.perf_counter()
        if how == "reserve":
            for _ in range(count):
                na.send(ch, a)
        elif how == "tobytes":
            for _ in range(count):
                ch.write(head + a.tobytes())
        else:
            for _ in range(count):
                ch.write(b"".join((head, a.data)))
        ch.flush(timeout=600)
        elapsed.value = time.perf_counter() - t0


def _zc_read(name, count, size, capacity, how):
    import numpy_arrays as na
    last, n = size // 8 - 1, 0
    with ESHM(name, role="slave", ends="read", capacity=capacity) as ch:
        try:
            while True:
                if how == "peek":
                    with ch.peek() as view:
                        a = na.array_in(view)
                        ok = a[-1] == last
                        del a
                elif how == "peek-copy":
                    a = na.receive(ch)
                    ok = a[-1] == last
                else:
                    a = na.array_in(ch.read())
                    ok = a[-1] == last
                if not ok:
                    os._exit(3)
                n += 1
        except eshm.EndOfStream:
            pass
    os._exit(0 if n == count else 1)


def zerocopy_run(count, size, capacity, send_how, recv_how):
    name = "perf-zc-%d-%d" % (os.getpid(), time.monotonic_ns())
    elapsed = multiprocessing.Value("d", 0.0)
    reader = fork(_zc_read, name, count, size, capacity, recv_how)
    writer = fork(_zc_write, name, count, size, capacity, send_how, elapsed)
    for p in (writer, reader):
        if _join(p):
            raise RuntimeError("a side failed with status %s" % p.exitcode)
    return count * size / elapsed.value / 1e6


def zerocopy(count, runs, size, capacity):
    try:
        import numpy  # noqa: F401
    except ImportError:
        sys.exit("performance_test.py: zerocopy needs numpy (apt-get install python3-numpy)")
    if size % 8 or size <= 0:
        sys.exit("performance_test.py: --size must be a positive multiple of 8 (float64)")
    mbs = {label: [] for label, _, _ in ZC_ROWS}
    for r in range(runs):
        for label, send_how, recv_how in ZC_ROWS:
            if sys.stderr.isatty():
                print("\r\033[Krun %d/%d: %s" % (r + 1, runs, label), end="",
                      file=sys.stderr, flush=True)
            mbs[label].append(zerocopy_run(count, size, capacity, send_how, recv_how))
    if sys.stderr.isatty():
        print("\r\033[K", end="", file=sys.stderr)
    print("%d float64 arrays of %d bytes, Python -> Python, %d-byte channel; median of "
          "%d runs, interleaved\n" % (count, size, capacity, runs))
    med = {label: statistics.median(v) for label, v in mbs.items()}
    print("%-42s %7s %13s %9s %9s" % ("HOW", "MB/S", "(MIN-MAX)", "VS PLAIN", "VS JOIN"))
    for label, _, _ in ZC_ROWS:
        print("%-42s %7.0f %13s %8.2fx %8.2fx" % (
            label, med[label], "(%.0f-%.0f)" % (min(mbs[label]), max(mbs[label])),
            med[label] / med[ZC_PLAIN], med[label] / med[ZC_JOIN]))
    print("\nplain: %s; join: %s" % (ZC_PLAIN, ZC_JOIN))
# ------------------------------------------------------------ roundtrip

def _eshm_echo(name):
    with ESHM(name, role="slave") as ch:
        for m in ch:
            ch.write(m)


def _sock_echo(sock, other):
    other.close()  # (the parent's end, inherited: it must see its close)
    while True:
        m = sock.recv(65536)
        if not m:
            return
        sock.sendall(m)


def _eshm_pair():
    name = "perf-%d-%d" % (os.getpid(), time.monotonic_ns())
    ch = ESHM(name, role="master")
    return ch, fork(_eshm_echo, name)


def _sock_pair():
    a, b = socket.socketpair()
    p = fork(_sock_echo, b, a)
    b.close()
    return a, p


def rt_eshm(count, size):
    ch, peer = _eshm_pair()
    msg, out = b"m" * size, []
    write, read, now = ch.write, ch.read, time.perf_counter_ns
    for _ in range(count):
        t = now()
        write(msg)
        read()
        out.append(now() - t)
    ch.close()
    _join(peer)
    return out


def rt_eshm_async(count, size):
    ch, peer = _eshm_pair()
    msg, out = b"m" * size, []

    async def run():
        now = time.perf_counter_ns
        for _ in range(count):
            t = now()
            await ch.awrite(msg)
            await ch.aread()
            out.append(now() - t)
    asyncio.run(run())
    ch.close()
    _join(peer)
    return out


def rt_sock(count, size):
    sock, peer = _sock_pair()
    msg, out = b"m" * size, []
    now = time.perf_counter_ns
    for _ in range(count):
        t = now()
        sock.sendall(msg)
        got = 0
        while got < size:
            got += len(sock.recv(65536))
        out.append(now() - t)
    sock.close()
    _join(peer)
    return out


def rt_sock_async(count, size):
    sock, peer = _sock_pair()
    msg, out = b"m" * size, []

    async def run():
        r, w = await asyncio.open_connection(sock=sock)
        now = time.perf_counter_ns
        for _ in range(count):
            t = now()
            w.write(msg)
            await w.drain()
            await r.readexactly(size)
            out.append(now() - t)
        w.close()
    asyncio.run(run())
    sock.close()
    _join(peer)
    return out


def roundtrip(count, runs, size):
    rows = [
        ("eshm   blocking write() + read()", rt_eshm),
        ("eshm   await awrite() + aread()", rt_eshm_async),
        ("socket blocking sendall() + recv()", rt_sock),
        ("socket asyncio streams", rt_sock_async),
    ]
    times = {label: [] for label, _ in rows}
    for r in range(runs):
        for label, fn in rows:
            if sys.stderr.isatty():
                print("\r\033[Krun %d/%d: %s" % (r + 1, runs, label), end="",
                      file=sys.stderr, flush=True)
            times[label] += fn(count, size)
    if sys.stderr.isatty():
        print("\r\033[K", end="", file=sys.stderr)
    print("%d round trips of %d bytes to a Python echo, %d runs, interleaved\n"
          % (count, size, runs))
    print("%-36s %10s %10s %12s" % ("TRANSPORT", "P50 US", "P99 US", "ROUND TRIPS/S"))
    for label, _ in rows:
        t = sorted(times[label])
        p50, p99 = t[len(t) // 2], t[min(len(t) - 1, len(t) * 99 // 100)]
        print("%-36s %10.1f %10.1f %12s" % (label, p50 / 1000, p99 / 1000,
                                            "{:,.0f}".format(len(t) * 1e9 / sum(t))))


# ------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description="Messages per second through eshm from Python.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("master", help="send COUNT messages")
    m.add_argument("name")
    m.add_argument("count", nargs="?", type=int, default=100000)
    m.add_argument("--size", type=int, default=64)
    m.add_argument("--batch", action="store_true")
    s = sub.add_parser("slave", help="receive until the end of the stream, or COUNT")
    s.add_argument("name")
    s.add_argument("count", nargs="?", type=int, default=0)
    s.add_argument("--batch", action="store_true")
    c = sub.add_parser("compare", help="the table, against os.pipe and multiprocessing")
    c.add_argument("--count", type=int, default=200000)
    c.add_argument("--runs", type=int, default=3)
    c.add_argument("--size", type=int, default=64)
    z = sub.add_parser("zerocopy", help="numpy arrays in place against write and read")
    z.add_argument("--count", type=int, default=2000)
    z.add_argument("--runs", type=int, default=5)
    z.add_argument("--size", type=int, default=1 << 20)
    z.add_argument("--capacity", type=int, default=8 << 20)
    r = sub.add_parser("roundtrip", help="round trips, blocking and asyncio, against a socket")
    r.add_argument("--count", type=int, default=20000)
    r.add_argument("--runs", type=int, default=3)
    r.add_argument("--size", type=int, default=64)
    a = ap.parse_args()
    if a.cmd == "master":
        t0 = time.perf_counter()
        send(a.name, a.count, a.size, a.batch)
        t = time.perf_counter() - t0
        print("[MASTER] Messages: sent=%d (%.0f msg/sec)" % (a.count, a.count / t))
    elif a.cmd == "slave":
        t0 = time.perf_counter()
        n = receive(a.name, a.count, a.batch)
        t = time.perf_counter() - t0
        print("[SLAVE] Messages: received=%d, rate=%.0f msg/sec" % (n, n / t))
    elif a.cmd == "zerocopy":
        zerocopy(a.count, a.runs, a.size, a.capacity)
    elif a.cmd == "roundtrip":
        roundtrip(a.count, a.runs, a.size)
    else:
        compare(a.count, a.runs, a.size)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except eshm.ESHMError as e:
        sys.exit("performance_test.py: %s" % e)
    except KeyboardInterrupt:
        sys.exit(130)

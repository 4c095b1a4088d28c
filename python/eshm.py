"""eshm - lossless shared-memory channels between processes (ctypes over libeshm).

    from eshm import ESHM
    with ESHM("jobs", role="master") as ch:
        ch.write(b"hello")
        reply = ch.read(timeout=1.0)      # bytes, or None after 1 s

    # or in an asyncio event loop, beside sockets (no thread, no polling)
    async def serve():
        with ESHM("jobs", role="slave") as ch:
            async for msg in ch:          # until the writer ends its stream
                await ch.awrite(b"done " + msg)

Messages are bytes (any length up to the channel's limit, zero included,
NUL bytes included) and arrive whole, in order, exactly once. Large ones
go without a copy through memoryviews of the shared memory, valid inside
a `with` block only (ESHM.reserve and ESHM.peek; examples/numpy_arrays.py):

    with ch.reserve(len(data)) as buf:    # committed when the block ends
        buf[:] = data
    with ch.peek() as view:               # released when the block ends
        handle(view)

A segment is shared with the command-line tools and with C and C++
programs: see eshm(7) and libeshm(3).

Installing: `pip install ./python` (from the source tree) or `make install`
installs this module; it needs libeshm.so, which `make install` puts in
PREFIX/lib (and, as root, tells the loader about with ldconfig). From the
source tree, `PYTHONPATH=python` after `make` needs nothing installed.

The library is the first of these that loads (library_path says which):
  1. $ESHM_LIBRARY, the path of a libeshm.so; when set, nothing else;
  2. build/libeshm.so of the source tree, when this is its python/eshm.py;
  3. libeshm.so or libeshm.so.0 next to this module;
  4. libeshm.so.0 where the loader finds it (LD_LIBRARY_PATH, then what
     ldconfig knows of /etc/ld.so.conf's directories, then /lib, /usr/lib);
  5. PREFIX/lib/libeshm.so.0 beside PREFIX/lib/pythonX.Y/site-packages, where
     `make install PREFIX=...` put both, for a PREFIX the loader does not know.
Otherwise importing eshm raises ImportError, saying where it looked.
"""

import array
import asyncio
import ctypes
import grp
import operator
import os
import pwd
import time
import warnings
import weakref

__all__ = [
    "ESHM", "ESHMError", "EndOfStream", "inspect", "unlink", "segments",
    "library_path",
]

__version__ = "0.1.0"  # the Makefile's VERSION; pyproject.toml reads it from here

# ------------------------------------------------------------ the library

_SONAME = "libeshm.so.0"  # the ABI these declarations are written for


def _candidates():
    """Where to look, in the order of the module's docstring."""
    env = os.environ.get("ESHM_LIBRARY")
    if env:
        return [env]  # asked for explicitly: nothing else
    here = os.path.dirname(os.path.abspath(__file__))
    tree = os.path.exists(os.path.join(here, "..", "lib", "eshm.h"))
    paths = [os.path.join(here, "..", "build", "libeshm.so")] if tree else []
    paths += [os.path.join(here, "libeshm.so"), os.path.join(here, _SONAME), _SONAME]
    if not tree:
        # PREFIX/lib/pythonX.Y/site-packages/eshm.py: PREFIX/lib, and
        # PREFIX/lib when site-packages is under PREFIX/lib64
        paths.append(os.path.join(here, "..", "..", _SONAME))
        paths.append(os.path.join(here, "..", "..", "..", "lib", _SONAME))
    return paths


class _DlInfo(ctypes.Structure):
    _fields_ = [("fname", ctypes.c_char_p), ("fbase", ctypes.c_void_p),
                ("sname", ctypes.c_char_p), ("saddr", ctypes.c_void_p)]


def _loaded_from(lib, name):
    """The file the loader chose for a library loaded by name (dladdr)."""
    try:
        dladdr = ctypes.CDLL(None).dladdr
    except (OSError, AttributeError):  # glibc before 2.34 has it in libdl
        return name
    dladdr.argtypes = [ctypes.c_void_p, ctypes.POINTER(_DlInfo)]
    info = _DlInfo()
    if dladdr(ctypes.cast(lib.eshm_strerror, ctypes.c_void_p), ctypes.byref(info)) \
            and info.fname:
        return os.fsdecode(info.fname)
    return name


def _load():
    tried = []
    seen = set()
    for path in _candidates():
        if os.sep in path:
            path = os.path.normpath(path)
            if path in seen:
                continue
            seen.add(path)
            if not os.path.exists(path):
                tried.append(path)
                continue
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            if os.sep in path:
                tried.append("%s (%s)" % (path, e))
            else:
                env = os.environ.get("LD_LIBRARY_PATH")
                tried.append("%s through the loader (%s, ld.so.cache, /lib, /usr/lib)" % (
                    path, "LD_LIBRARY_PATH=" + env if env else "LD_LIBRARY_PATH unset"))
            continue
        where = path if os.sep in path else _loaded_from(lib, path)
        return where, lib, ctypes.PyDLL(path)
    if os.environ.get("ESHM_LIBRARY"):
        fix = "Set ESHM_LIBRARY to the path of libeshm.so, or unset it to look in the usual places."
    else:
        fix = ("Install it with `make install` (as root, which runs ldconfig), set "
               "ESHM_LIBRARY to its path (build/libeshm.so of a source tree after `make`), "
               "or add its directory to LD_LIBRARY_PATH.")
    raise ImportError("eshm: cannot find libeshm.so; looked in: %s. %s" % (", ".join(tried), fix))


library_path, _lib, _plib = _load()
# _lib releases the GIL during a call, for what may block; _plib keeps it,
# for non-blocking attempts, which then cost less (no GIL hand-off).

_c = ctypes
_vp, _sz, _int, _u32p = _c.c_void_p, _c.c_size_t, _c.c_int, _c.POINTER(_c.c_uint32)


class _Config(_c.Structure):
    _fields_ = [
        ("role", _c.c_int), ("ends", _c.c_uint), ("capacity", _c.c_size_t),
        ("mode", _c.c_uint), ("heartbeat_ms", _c.c_int),
        ("stale_threshold_ms", _c.c_int), ("max_retries", _c.c_int),
        ("retry_ms", _c.c_int), ("framing", _c.c_int), ("flags", _c.c_uint),
        ("spin_us", _c.c_int), ("interrupt", _c.c_void_p),
        ("group", _c.c_long), ("consumer_group", _c.c_char_p), ("batch_msgs", _c.c_uint),
    ]


class _Error(_c.Structure):
    _fields_ = [("code", _c.c_int), ("pid", _c.c_int), ("what", _c.c_char * 256)]


class _EndInfo(_c.Structure):
    _fields_ = [
        ("state", _c.c_int), ("pid", _c.c_int), ("start_time", _c.c_uint64),
        ("heartbeat_age_ms", _c.c_int64), ("generation", _c.c_uint64),
        ("stale_ms", _c.c_uint32), ("exclusive", _c.c_int), ("claimed", _c.c_uint32),
        ("group", _c.c_int), ("held", _c.c_uint64),
    ]


MAX_WRITERS = 64    # live writers a channel takes (ESHM_MAX_WRITERS)
MAX_READERS = 64    # live readers of a channel, all groups (ESHM_MAX_READERS)
MAX_GROUPS = 16     # consumer groups of a channel (ESHM_MAX_GROUPS)
MAX_TAPS = 16       # taps of a channel (ESHM_MAX_TAPS)
GROUP_NAME_MAX = 63  # bytes of a consumer group's name (ESHM_GROUP_NAME_MAX)


class _GroupInfo(_c.Structure):
    _fields_ = [
        ("name", _c.c_char * (GROUP_NAME_MAX + 1)), ("live", _c.c_int), ("dead", _c.c_int),
        ("backlog_msgs", _c.c_uint64), ("backlog_bytes", _c.c_uint64),
        ("held_bytes", _c.c_uint64), ("returned", _c.c_int), ("created_ns", _c.c_int64),
        ("oldest_age_ms", _c.c_int64), ("idle_ms", _c.c_int64),
    ]


class _TapInfo(_c.Structure):
    _fields_ = [
        ("end", _EndInfo), ("missed_msgs", _c.c_uint64), ("missed_bytes", _c.c_uint64),
        ("behind_bytes", _c.c_uint64),
    ]


class _ChannelInfo(_c.Structure):
    _fields_ = [
        ("capacity", _c.c_uint64), ("used", _c.c_uint64),
        ("msgs_in", _c.c_uint64), ("bytes_in", _c.c_uint64),
        ("msgs_out", _c.c_uint64), ("bytes_out", _c.c_uint64),
        ("waits_full", _c.c_uint64), ("waits_empty", _c.c_uint64),
        ("wakes", _c.c_uint64), ("oldest_age_ms", _c.c_int64),
        ("framing", _c.c_int), ("eos", _c.c_int),
        ("writer", _EndInfo), ("reader", _EndInfo),
        ("nwriters", _c.c_int), ("writers", _EndInfo * MAX_WRITERS),
        ("nreaders", _c.c_int), ("readers", _EndInfo * MAX_READERS),
        ("ngroups", _c.c_int), ("groups", _GroupInfo * MAX_GROUPS),
        ("ntaps", _c.c_int), ("taps", _TapInfo * MAX_TAPS),
    ]


class _Info(_c.Structure):
    _fields_ = [
        ("name", _c.c_char * 201), ("valid", _c.c_int), ("problem", _c.c_char * 256),
        ("size", _c.c_uint64), ("mode", _c.c_uint), ("uid", _c.c_uint32),
        ("gid", _c.c_uint32), ("created_ns", _c.c_int64), ("creator_pid", _c.c_int),
        ("keep", _c.c_int), ("idle_ms", _c.c_int64), ("pending", _c.c_int),
        ("live", _c.c_int), ("chan", _ChannelInfo * 2),
    ]


def _proto(lib, name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


_ssz = _c.c_ssize_t
_config_init = _proto(_lib, "eshm_config_init", None, _c.POINTER(_Config))
_open = _proto(_lib, "eshm_open", _int, _c.c_char_p, _c.POINTER(_Config), _c.POINTER(_vp),
               _c.POINTER(_Error))
_detach = _proto(_lib, "eshm_detach", _int, _vp, _c.c_uint, _c.POINTER(_Error))
_strerror = _proto(_lib, "eshm_strerror", _c.c_char_p, _int)
_errmsg = _proto(_lib, "eshm_errmsg", _c.c_char_p, _vp)
_role = _proto(_lib, "eshm_role", _int, _vp)
_capacity = _proto(_lib, "eshm_capacity", _sz, _vp)
_max_message = _proto(_lib, "eshm_max_message", _sz, _vp)
_eos = _proto(_lib, "eshm_eos", _int, _vp)
_flush = _proto(_lib, "eshm_flush", _int, _vp, _int)
_peer_state = _proto(_lib, "eshm_peer_state", _int, _vp)
_stats = _proto(_lib, "eshm_stats", _int, _vp, _c.POINTER(_Info))
_inspect = _proto(_lib, "eshm_inspect", _int, _c.c_char_p, _c.POINTER(_Info), _c.POINTER(_Error))
_unlink = _proto(_lib, "eshm_unlink", _int, _c.c_char_p, _c.c_uint, _c.c_int64,
                 _c.POINTER(_Info), _c.POINTER(_Error))
_list = _proto(_lib, "eshm_list", _ssz, _c.POINTER(_c.POINTER(_c.c_char_p)))
_list_free = _proto(_lib, "eshm_list_free", None, _c.POINTER(_c.c_char_p), _sz)
_segment_path = _proto(_lib, "eshm_segment_path", _int, _c.c_char_p, _c.c_char_p, _sz)
_framing_name = _proto(_lib, "eshm_framing_name", _c.c_char_p, _int)
_group_name_ok = _proto(_lib, "eshm_group_name_ok", _int, _c.c_char_p)
_group_remove = _proto(_lib, "eshm_group_remove", _int, _c.c_char_p, _c.c_char_p, _c.c_uint,
                       _c.POINTER(_Error))
_peer_state_name = _proto(_lib, "eshm_peer_state_name", _c.c_char_p, _int)
_tap_missed = _proto(_lib, "eshm_tap_missed", _int, _vp, _c.POINTER(_c.c_uint64),
                     _c.POINTER(_c.c_uint64))
# blocking (GIL released) and non-blocking (GIL kept) versions
_write = _proto(_lib, "eshm_write", _int, _vp, _c.c_char_p, _sz, _int)
_write_nb = _proto(_plib, "eshm_write", _int, _vp, _c.c_char_p, _sz, _int)
_read = _proto(_lib, "eshm_read", _ssz, _vp, _vp, _sz, _int)
_read_nb = _proto(_plib, "eshm_read", _ssz, _vp, _vp, _sz, _int)
_write_batch = _proto(_lib, "eshm_write_batch", _ssz, _vp, _vp, _u32p, _sz, _int)
_write_batch_nb = _proto(_plib, "eshm_write_batch", _ssz, _vp, _vp, _u32p, _sz, _int)
_read_batch = _proto(_lib, "eshm_read_batch", _ssz, _vp, _vp, _sz, _u32p, _sz, _int)
_read_batch_nb = _proto(_plib, "eshm_read_batch", _ssz, _vp, _vp, _sz, _u32p, _sz, _int)
# zero-copy: reserve() and peek()
_vpp, _szp = _c.POINTER(_vp), _c.POINTER(_sz)
_reserve = _proto(_lib, "eshm_reserve", _int, _vp, _sz, _vpp, _szp, _int)
_reserve_nb = _proto(_plib, "eshm_reserve", _int, _vp, _sz, _vpp, _szp, _int)
_commit = _proto(_lib, "eshm_commit", _int, _vp, _sz)  # may wait (another writer's room)
_peek = _proto(_lib, "eshm_peek", _int, _vp, _vpp, _szp, _int)
_peek_nb = _proto(_plib, "eshm_peek", _int, _vp, _vpp, _szp, _int)
_release = _proto(_plib, "eshm_release", _int, _vp)
_rewind = _proto(_plib, "eshm_rewind", None, _vp)
_fileno = _proto(_plib, "eshm_fileno", _int, _vp)
_fileno_write = _proto(_plib, "eshm_fileno_write", _int, _vp)
_unreserve = _proto(_plib, "eshm_unreserve", _int, _vp)
# spins up to 50 us: lets other threads run meanwhile
_spin = _proto(_lib, "eshm_spin", _int, _vp, _int, _sz)

# The error codes of eshm.h, the values of ESHMError.code: ESHM_EOF is
# EOF_, the others lose their ESHM_ prefix (ESHM_ETIMEDOUT is ETIMEDOUT).
# A code may also be a negated errno value, such as -errno.EPERM.
EOF_ = -1000         # end of stream: the writer finished
ETIMEDOUT = -1001    # the timeout expired
EBUSY = -1002        # the end already has a live holder
ENOSEG = -1003       # no such segment (and not allowed to create)
ECORRUPT = -1004     # the segment's contents are inconsistent
EMSGSIZE = -1005     # message larger than the channel allows
ETRUNC = -1006       # caller's buffer is smaller than the message
EWRITERLOST = -1007  # the writer died and no new one came
ENAME = -1008        # invalid segment name
ETAKEN = -1009       # this end was taken over by another process
ENOEND = -1010       # the handle does not hold the end needed
EMODE = -1011        # existing segment is more permissive than asked
ENOTSEG = -1012      # the file is not an eshm segment
EVERSION = -1013     # segment made by an incompatible version
EINVAL = -1014       # bad argument
EPENDING = -1015     # the segment still holds undelivered data
EREMOVED = -1016     # the segment's name was removed or replaced while in use
ETURN = -1017        # another writer's raw stream has the channel to itself
ENOGROUP = -1018     # no consumer group of that name
_EINTR, _EPERM = -4, -1
_DETACH_LOST = 1
_ROLES = {"auto": 0, "master": 1, "slave": 2}
_ROLE_NAMES = {1: "master", 2: "slave"}
_ENDS = {"both": 3, "write": 1, "read": 2}


def _library_names(name_of, last):
    """{value: name} of the library's names for 0, 1, 2... up to the first
    value that name_of gives `last` for."""
    names = {}
    for v in range(64):
        n = name_of(v)
        if n == last:
            break
        names[v] = n.decode()
    return names


_FRAMING_NAMES = _library_names(_framing_name, None)        # eshm_framing_name
_FRAMINGS = {k: v for v, k in _FRAMING_NAMES.items()}
_STATES = _library_names(_peer_state_name, b"?")            # eshm_peer_state_name
_NO_CREATE, _KEEP, _TAKEOVER, _NO_EOS, _EXCLUSIVE, _TAP, _PEEK = 1, 2, 4, 8, 32, 128, 256
_UNLINK_PENDING, _UNLINK_INVALID, _UNLINK_DRY_RUN, _UNLINK_KEPT = 1, 2, 4, 8

# Blocking waits happen in slices of this many ms, so that Python runs its
# signal handlers (a Ctrl-C becomes KeyboardInterrupt) at least this often.
_SLICE_MS = 100

# Which way a coroutine waits on a channel's descriptor (ESHM._waits).
_way_read, _way_write = 0, 1  # the two descriptors a coroutine may wait on
_END_WRITE, _END_READ = 1, 2  # ESHM_END_WRITE, ESHM_END_READ: eshm_spin's end


def _settle(fut, value):
    """Resolve fut with value unless it is resolved already (a descriptor's
    callback and a timer's race for it)."""
    if not fut.done():
        fut.set_result(value)


class ESHMError(Exception):
    """A libeshm failure: .code is the library's code (one of the E*
    constants of this module, such as ETIMEDOUT, or a negated errno value),
    str() says why."""

    def __init__(self, code, message=None):
        self.code = code
        if not message:
            message = _strerror(code).decode()
        super().__init__(message)


class EndOfStream(ESHMError, EOFError):
    """The writer marked the end of the stream (and everything before it was read)."""


def _ms(timeout):
    """Seconds (None: forever) to the library's milliseconds (-1: forever)."""
    if timeout is None:
        return -1
    if timeout < 0:
        raise ValueError("timeout must be None or >= 0 seconds")
    return int(timeout * 1000 + 0.999)


def _sliced(call, timeout):
    """Run call(ms) in slices until it returns something else than
    ETIMEDOUT or EINTR, or the timeout expires. Between slices Python runs
    its signal handlers."""
    ms = _ms(timeout)
    while True:
        step = _SLICE_MS if ms < 0 or ms > _SLICE_MS else ms
        r = call(step)
        if r not in (ETIMEDOUT, _EINTR):
            return r
        if ms >= 0:
            ms -= step
            if ms <= 0:
                return ETIMEDOUT


def _gid(group):
    """A group name (str) or gid (int, 0 to 2**31 - 1) as a gid; ValueError
    if there is no group of that name or the number is out of range."""
    if isinstance(group, int):
        if not 0 <= group <= 0x7fffffff:
            raise ValueError("eshm: shm_group must be a gid from 0 to 2**31 - 1, "
                             "not %d" % group)
        return group
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise ValueError("eshm: unknown group %r for shm_group" % group) from None


# The dicts of stats() and inspect(): the segment objects of eshm-stat
# --json, with the same keys in the same order and the same values (JSON's
# null is None), as eshm-stat(1) documents them under JSON OUTPUT; only the
# "rates" of --watch are not there. tests/70-python.bats compares the two.


def _path(name):
    buf = _c.create_string_buffer(256)
    return buf.value.decode() if _segment_path(name.encode(), buf, len(buf)) == 0 else None


def _user(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group(gid):
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _age_ms(created_ns):
    """Milliseconds since created_ns (CLOCK_REALTIME), 0 if it is not in the past."""
    now = time.time_ns()
    return 0 if created_ns <= 0 or created_ns > now else (now - created_ns) // 1000000


def _end_dict(e):
    return {
        "state": _peer_state_name(e.state).decode(), "pid": e.pid,
        "heartbeat_age_ms": e.heartbeat_age_ms, "generation": e.generation,
        "stale_ms": e.stale_ms, "exclusive": bool(e.exclusive), "claimed": e.claimed,
    }


def _reader_dict(e, groups):
    d = _end_dict(e)
    d["group"] = groups[e.group] if 0 <= e.group < len(groups) else None
    d["held"] = e.held
    return d


def _tap_dict(t):
    return {
        "pid": t.end.pid, "state": _peer_state_name(t.end.state).decode(),
        "heartbeat_age_ms": t.end.heartbeat_age_ms, "missed_msgs": t.missed_msgs,
        "missed_bytes": t.missed_bytes, "behind_bytes": t.behind_bytes,
    }


def _group_dict(g):
    return {
        "name": g.name.decode(), "live": g.live, "dead": g.dead,
        "backlog_msgs": g.backlog_msgs, "backlog_bytes": g.backlog_bytes,
        "held_bytes": g.held_bytes, "returned": g.returned, "created_ns": g.created_ns,
        "oldest_age_ms": g.oldest_age_ms, "idle_ms": g.idle_ms,
    }


def _info_dict(info):
    name = info.name.decode()
    d = {
        "name": name, "path": _path(name), "valid": bool(info.valid),
        "problem": None if info.valid else info.problem.decode(), "size": info.size,
        "mode": "%04o" % info.mode, "uid": info.uid, "user": _user(info.uid),
        "gid": info.gid, "group": _group(info.gid),
    }
    if not info.valid:
        return d
    d.update({
        "created_ns": info.created_ns, "age_ms": _age_ms(info.created_ns),
        "idle_ms": info.idle_ms, "creator_pid": info.creator_pid, "keep": bool(info.keep),
        "live": bool(info.live), "pending": bool(info.pending), "channels": {},
    })
    for i, ch in enumerate(("m2s", "s2m")):
        c = info.chan[i]
        framing = _framing_name(c.framing)
        d["channels"][ch] = {
            "capacity": c.capacity, "used": c.used, "msgs_in": c.msgs_in,
            "bytes_in": c.bytes_in, "msgs_out": c.msgs_out, "bytes_out": c.bytes_out,
            "waits_full": c.waits_full, "waits_empty": c.waits_empty, "wakes": c.wakes,
            "oldest_age_ms": c.oldest_age_ms,
            "framing": framing.decode() if framing else "unknown", "eos": bool(c.eos),
            "writer": _end_dict(c.writer), "reader": _end_dict(c.reader),
            "writers": [_end_dict(c.writers[k]) for k in range(min(c.nwriters, MAX_WRITERS))],
        }
        groups = [_group_dict(c.groups[k]) for k in range(min(c.ngroups, MAX_GROUPS))]
        names = [g["name"] for g in groups]
        d["channels"][ch]["readers"] = [
            _reader_dict(c.readers[k], names) for k in range(min(c.nreaders, MAX_READERS))]
        d["channels"][ch]["groups"] = groups
        d["channels"][ch]["taps"] = [_tap_dict(c.taps[k]) for k in range(min(c.ntaps, MAX_TAPS))]
    return d


# ------------------------------------------------------------ zero-copy
#
# reserve() and peek() lend a memoryview of memory that belongs to the
# library: the ring, mapped until close, and reused as soon as the message
# is committed and released. Python cannot take a memoryview back from who
# holds it, so the view is made over a ctypes array that nothing else
# references: once the view is released, a weak reference to the array
# tells whether anything made from the view (a slice, a numpy array, its
# .obj) can still reach the memory, and then the block refuses to commit or
# release (BufferError) rather than let that object see the memory reused.


def _ring_view(ptr, n, ctype, readonly):
    """A memoryview (format "B") of the n bytes at address ptr, over a
    ctypes array (of type ctype, at least n bytes: one type per handle, as
    ctypes keeps every array type it makes) that only the view references;
    and a weak reference to that array."""
    base = ctype.from_address(ptr or 0)
    with memoryview(base) as whole, whole.cast("B") as raw:
        view = raw[:n].toreadonly() if readonly else raw[:n]
    return view, weakref.ref(base)


def _revoke(view, ref):
    """Release view; whether the memory under it is still reachable (by a
    slice of it, an export such as a numpy array over it, or its .obj)."""
    try:
        view.release()
    except BufferError:
        return True
    return ref() is not None


def _kept(exc, what):
    """After a block that raised exc, with the view's memory still reachable:
    say so on the exception, which goes on (the frame's locals, an array
    over the view among them, often live until it is handled)."""
    if hasattr(exc, "add_note"):  # Python 3.11
        exc.add_note("eshm: " + what)


class _Reservation:
    """What ESHM.reserve() returns: enter it with `with`, see there."""

    __slots__ = ("_ch", "_size", "_timeout", "_held")

    def __init__(self, ch, size, timeout):
        size = operator.index(size)  # TypeError for a float, as slicing says
        if size < 0:
            raise ValueError("eshm: a reservation of %d bytes" % size)
        _ms(timeout)  # checked now, not at the first wait
        self._ch, self._size, self._timeout, self._held = ch, size, timeout, None

    def __enter__(self):
        ch, n = self._ch, self._size
        h = ch._writing()  # reservations do not nest
        ptr, avail = ch._zc_ptr, ch._zc_len
        pp, ap = _c.byref(ptr), _c.byref(avail)
        r = _reserve_nb(h, n, pp, ap, 0)
        if r == ETIMEDOUT and self._timeout != 0:
            r = _sliced(lambda ms: _reserve(h, n, pp, ap, ms), self._timeout)
        if r:
            ch._fail(r)
        self._held = ch._resv = _ring_view(ptr.value, n, ch._ring_type(n), False)
        return self._held[0]

    def __exit__(self, exc_type, exc, tb):
        ch, held, self._held = self._ch, self._held, None
        if held is None or ch._resv is not held:
            # the handle was closed in the block, which revoked the view
            if exc_type is None:
                ch._handle()
            return False
        ch._resv = None
        kept = _revoke(*held)
        h = ch._h
        if exc_type is None and not kept:
            r = _commit(h, self._size)
            if r:
                ch._fail(r)
            return False
        # Nothing to commit: the room goes back now (a reservation in the
        # ring held until the next reserve or write would hold back what
        # other writers commit after it).
        _unreserve(h)
        what = ("nothing committed: something made from the %d-byte reservation's "
                "memoryview (a slice, a numpy array...) outlived its with block"
                % self._size)
        if exc_type is None:
            raise BufferError("eshm: " + what)
        if kept:
            _kept(exc, what)
        return False


class _Peek:
    """What ESHM.peek() returns: enter it with `with`, see there."""

    __slots__ = ("_ch", "_timeout", "_held")

    def __init__(self, ch, timeout):
        _ms(timeout)
        self._ch, self._timeout, self._held = ch, timeout, None

    def __enter__(self):
        ch = self._ch
        h = ch._reading()  # peeks do not nest
        ptr, ln = ch._zc_ptr, ch._zc_len
        pp, lp = _c.byref(ptr), _c.byref(ln)
        r = _peek_nb(h, pp, lp, 0)
        if r == ETIMEDOUT and self._timeout != 0:
            r = _sliced(lambda ms: _peek(h, pp, lp, ms), self._timeout)
        if r == ETIMEDOUT:
            return None
        if r:
            ch._fail(r)
        n = ln.value
        self._held = ch._peeked = _ring_view(ptr.value, n, ch._ring_type(n), True)
        return self._held[0]

    def __exit__(self, exc_type, exc, tb):
        ch, held, self._held = self._ch, self._held, None
        if held is None or ch._peeked is not held:
            # timed out (the view was None), or the handle was closed in the block
            if exc_type is None and held is not None:
                ch._handle()
            return False
        ch._peeked = None
        kept = _revoke(*held)
        h = ch._h
        if exc_type is None and not kept:
            r = _release(h)
            if r:
                ch._fail(r)
            return False
        _rewind(h)  # the next read or peek starts at this message again
        what = ("message not released: something made from its memoryview (a slice, a "
                "numpy array...) outlived the with block")
        if exc_type is None:
            raise BufferError("eshm: " + what)
        if kept:
            _kept(exc, what)
        return False


class ESHM:
    """One process's side of segment `name`.

    role: "auto" (master if free, else slave), "master" (writes m2s, reads
    s2m) or "slave" (reads m2s, writes s2m). ends: "both", "write" or
    "read". capacity (bytes per channel), mode, keep and framing apply when
    this process creates the segment; create=False waits up to `wait`
    seconds for another process to create it instead.

    close() (or leaving a `with` block normally) marks the end of the
    stream written, unless eos_on_close=False: readers then finish. A
    writer that fails must not look finished: leaving the `with` block by
    an exception, abandon(), or a handle garbage-collected without close()
    detach as a lost writer instead (as if the process had died): readers
    get what was written, then wait for a new writer and fail with
    "writer lost".

    shm_group (a group name, or a gid from 0 to 2**31 - 1) is the group the
    segment gets when this process creates it, and the one an existing
    segment must have (else ESHMError with code -1011, ESHM_EMODE); mode
    then defaults to 0o660, as sharing within a group needs group bits.
    Creating needs membership of the group (root may give any), else
    ESHMError with code -errno.EPERM. An unknown group name, or a gid out
    of range, is a ValueError. None (the default): the creator's group,
    and any group when attaching.

    Writers share a channel (up to MAX_WRITERS live ones): each message
    arrives whole, each writer's in its order. With role "master" or
    "slave", exclusive=True holds the ends alone: refused (ESHMError,
    EBUSY) while another holder of an end lives, and refusing others
    meanwhile; role "auto" always is exclusive. A framing="raw" writer has
    the channel to itself: refused with EBUSY while other writers are
    attached, and a writer meeting a raw stream gets ETURN (try again when
    it ends).

    group names the consumer group this handle reads in (None: "-", the
    unnamed group). Readers of one group share the messages, each taking
    batches of whole records (a worker pool); every group gets every
    message. A message a reader took and did not release (read() releases
    at once) goes back to its group when the reader closes or dies, to be
    delivered again first. Several readers of a group need role "slave"
    (or "master") and ends="read": role "auto" is exclusive.

    batch (messages, default None: the library's choice, up to 64 while
    others share the group and 512 alone) is the most messages this
    reader takes from its group at once and holds unreleased: a small
    batch (1 for a worker that takes long per message) leaves the rest to
    the other readers of the group meanwhile.

    tap=True (with ends="read") reads as a tap: the messages committed
    after the open, as they pass, in no consumer group; it holds no space
    and never makes a writer wait, and when it falls behind it skips to
    the release point (tap_missed() says how much). peek=True (ends="read",
    create=False implied) reads what is pending without taking it: the
    file opened read-only, from the release point of `group` (None: the
    oldest message held for any group) to the claim position at the open,
    then EndOfStream. Both copy each record out once, checked whole.
    """

    def __init__(self, name, role="auto", ends="both", capacity=None, mode=None,
                 keep=False, create=True, wait=5.0, framing="message", takeover=False,
                 heartbeat_ms=None, stale_ms=None, spin_us=None, eos_on_close=True,
                 shm_group=None, exclusive=False, group=None, tap=False, peek=False,
                 batch=None):
        self._h = None
        self._resv = self._peeked = None  # the views reserve() and peek() lent
        cfg = _Config()
        _config_init(_c.byref(cfg))
        try:
            cfg.role = _ROLES[role] if isinstance(role, str) else int(role)
            cfg.ends = _ENDS[ends]
            cfg.framing = _FRAMINGS[framing]
        except KeyError as e:
            raise ValueError("eshm: unknown value %s" % e) from None
        if capacity is not None:
            cfg.capacity = capacity
        if shm_group is not None:
            cfg.group = _gid(shm_group)
            cfg.mode = 0o660
        if mode is not None:
            cfg.mode = mode
        if heartbeat_ms is not None:
            cfg.heartbeat_ms = heartbeat_ms
        if stale_ms is not None:
            cfg.stale_threshold_ms = stale_ms
        if spin_us is not None:
            cfg.spin_us = spin_us
        if not create:
            cfg.flags |= _NO_CREATE
            cfg.max_retries = max(0, int((wait or 0) * 1000 / cfg.retry_ms))
        if keep:
            cfg.flags |= _KEEP
        if takeover:
            cfg.flags |= _TAKEOVER
        if exclusive:
            cfg.flags |= _EXCLUSIVE
        if batch is not None:
            if not 0 <= int(batch) < 2**32:
                raise ValueError("eshm: batch must be from 0 to 2**32 - 1 messages")
            cfg.batch_msgs = int(batch)
        if tap:
            cfg.flags |= _TAP
        if peek:
            cfg.flags |= _PEEK | _NO_CREATE
        if not eos_on_close:
            cfg.flags |= _NO_EOS
        if group is not None:
            gname = group.encode() if isinstance(group, str) else bytes(group)
            if not _group_name_ok(gname):
                raise ValueError("eshm: invalid consumer group %r: '-' or 1 to %d letters, "
                                 "digits, '.', '_', '-', '@', ':' not starting with '-' or "
                                 "'.'" % (group, GROUP_NAME_MAX))
            cfg.consumer_group = gname  # (kept alive by gname until open returns)
        err = _Error()
        h = _vp()
        r = _open(name.encode() if isinstance(name, str) else name, _c.byref(cfg),
                  _c.byref(h), _c.byref(err))
        if r:
            raise ESHMError(r, err.what.decode() or None)
        self._h = h
        self.name = name
        self.role = _ROLE_NAMES.get(_role(h), "?")
        self.capacity = _capacity(h)
        self.max_message = _max_message(h)
        # one buffer for all reads: a message never exceeds the channel
        self._buf = _c.create_string_buffer(max(self.max_message, 1))
        self._view = memoryview(self._buf)
        self._lens = (_c.c_uint32 * 1024)()
        self._zc_ptr, self._zc_len = _vp(), _sz()
        self._ring_t = _c.c_ubyte * max(self.max_message, 1)
        # the coroutine waiting on each descriptor: (loop, fd, future) or None
        self._waits = [None, None]

    def _handle(self):
        if self._h is None:
            raise ValueError("eshm: operation on a closed channel")
        return self._h

    def _writing(self):
        """The handle, for a call that would end an open reservation."""
        if self._resv is not None:
            raise RuntimeError("eshm: a reservation of this handle is open: leave its "
                               "with block first")
        return self._handle()

    def _reading(self):
        """The handle, for a call that would release an open peek's message."""
        if self._peeked is not None:
            raise RuntimeError("eshm: a peek of this handle is open: leave its with "
                               "block first")
        return self._handle()

    def _ring_type(self, n):
        return self._ring_t if n <= self._ring_t._length_ else _c.c_ubyte * n

    def _fail(self, r):
        if r == EOF_:
            raise EndOfStream(r)
        raise ESHMError(r, _errmsg(self._h).decode() or None)

    # ---------------------------------------------------------- writing

    def write(self, data, timeout=None):
        """Send one message (bytes-like). Waits while the channel is full,
        up to timeout seconds (None: as long as it takes); raises
        ESHMError (code ETIMEDOUT) if it stays full."""
        h = self._writing()
        if not isinstance(data, bytes):
            data = bytes(data)
        n = len(data)
        r = _write_nb(h, data, n, 0)
        if r == ETIMEDOUT and timeout != 0:
            r = _sliced(lambda ms: _write(h, data, n, ms), timeout)
        if r:
            self._fail(r)

    def write_many(self, messages, timeout=None):
        """Send several messages with one library call per batch: much
        cheaper per message than write() from Python."""
        h = self._writing()
        msgs = [m if isinstance(m, bytes) else bytes(m) for m in messages]
        while msgs:
            data = b"".join(msgs)
            lens = array.array("I", map(len, msgs))
            lp = _c.cast(lens.buffer_info()[0], _u32p)
            r = _write_batch_nb(h, data, lp, len(msgs), 0)
            if r == ETIMEDOUT and timeout != 0:
                r = _sliced(lambda ms: _write_batch(h, data, lp, len(msgs), ms), timeout)
            if r < 0:
                self._fail(r)
            msgs = msgs[r:]

    def eos(self):
        """Mark the end of the stream now (close does it too)."""
        r = _eos(self._writing())
        if r:
            self._fail(r)

    def flush(self, timeout=None):
        """Wait until the reader has taken everything written so far."""
        h = self._handle()
        r = _sliced(lambda ms: _flush(h, ms), timeout)
        if r:
            self._fail(r)

    # ---------------------------------------------------------- reading

    def read(self, timeout=None):
        """The next message as bytes, or None if none came within timeout
        seconds (None: wait as long as it takes; 0: just look). Raises
        EndOfStream when the writer has finished and all was read."""
        h = self._reading()
        buf, cap = self._buf, len(self._buf)
        n = _read_nb(h, buf, cap, 0)
        if n == ETIMEDOUT and timeout != 0:
            n = _sliced(lambda ms: _read(h, buf, cap, ms), timeout)
        if n >= 0:
            return self._view[:n].tobytes()
        if n == ETIMEDOUT:
            return None
        self._fail(n)

    def readinto(self, buffer, timeout=None):
        """Read the next message straight into a writable buffer (bytearray,
        memoryview...); its length, or None on timeout. ESHMError (ETRUNC)
        if the buffer is too small, the message staying in place."""
        h = self._reading()
        cbuf = (_c.c_char * len(buffer)).from_buffer(buffer)
        cap = len(buffer)
        n = _read_nb(h, cbuf, cap, 0)
        if n == ETIMEDOUT and timeout != 0:
            n = _sliced(lambda ms: _read(h, cbuf, cap, ms), timeout)
        if n >= 0:
            return n
        if n == ETIMEDOUT:
            return None
        self._fail(n)

    def read_many(self, max=1024, timeout=None):
        """Up to max messages with one library call: waits (timeout) for
        the first, then takes what is already there. A list, empty on
        timeout; EndOfStream as read()."""
        h = self._reading()
        if max > len(self._lens):
            self._lens = (_c.c_uint32 * max)()
        buf, cap, lens = self._buf, len(self._buf), self._lens
        n = _read_batch_nb(h, buf, cap, lens, max, 0)
        if n == ETIMEDOUT and timeout != 0:
            n = _sliced(lambda ms: _read_batch(h, buf, cap, lens, max, ms), timeout)
        if n == ETIMEDOUT:
            return []
        if n < 0:
            self._fail(n)
        out, off, view = [], 0, self._view
        for i in range(n):
            ln = lens[i]
            out.append(view[off:off + ln].tobytes())
            off += ln
        return out

    def __iter__(self):
        """Every message until the end of the stream."""
        while True:
            try:
                batch = self.read_many()
            except EndOfStream:
                return
            yield from batch

    # ---------------------------------------------------------- zero-copy

    def reserve(self, size, timeout=None):
        """Write one message of `size` bytes in place, with no copy:

            with ch.reserve(len(data)) as buf:
                buf[:] = data    # or np.frombuffer(buf, dtype)[:] = array

        Entering the block waits for room for `size` bytes in the channel
        (eshm_reserve), up to timeout seconds (None: as long as it takes;
        0: not at all), and gives buf, a writable memoryview (format "B")
        of exactly `size` bytes: the message itself in the shared memory
        when this handle is the channel's only writer (with others, a
        buffer of the handle that the commit copies in, so that no claim
        holds them back while Python fills it; the commit then waits if
        another writer took the room meanwhile). Leaving the block normally
        commits the `size` bytes as one message (eshm_commit): fill all of
        them, as bytes left unwritten hold whatever was there before (old
        messages). Leaving it by an exception commits nothing: the room is
        given back at once, and readers get the next message as if this
        one had never been.

        Errors: reserve() raises ValueError for a negative size or timeout,
        TypeError for a size that is no integer. Entering raises ESHMError
        with code ETIMEDOUT if the channel stays full, EMSGSIZE if size
        exceeds max_message, or another code; ValueError on a closed
        handle; RuntimeError if a reservation of this handle is open
        already: they do not nest, and meanwhile write(), write_many() and
        eos() raise RuntimeError too. Leaving normally raises ESHMError if
        the commit fails, BufferError as below.

        Lifetime: buf is the library's memory, lent for the block. Leaving
        the block releases it: any later use raises ValueError. Nothing made
        from it may outlive the block (a slice, a numpy array over it,
        buf.obj): the memory becomes the reader's, then the next message's.
        Leaving normally with such an object alive commits nothing and
        raises BufferError; leaving by an exception, that exception goes on,
        with a note saying so. So copy into it without keeping a name for
        the array (`np.frombuffer(buf, dtype)[:] = a`, or np.copyto), or
        `del` the name before the block ends. A reservation not entered
        with `with` reserves nothing."""
        return _Reservation(self, size, timeout)

    def peek(self, timeout=None):
        """Read the next message in place, with no copy:

            with ch.peek(timeout=1.0) as view:
                if view is not None:
                    total = sum(view)    # or np.frombuffer(view, dtype).sum()

        Entering the block waits for the next message up to timeout seconds
        (None: as long as it takes; 0: just look) and gives view, a
        read-only memoryview (format "B") of exactly that message in the
        shared memory (eshm_peek), or None if none came in time, as read()
        returns. Leaving the block normally takes the message (eshm_release):
        its memory goes back to the writers. Leaving it by an exception
        leaves the message in place (eshm_rewind): the next read(), peek()
        or iteration of this handle gets it again, so a failing handler
        loses nothing and may see a message twice.

        Errors: peek() raises ValueError for a negative timeout. Entering
        raises EndOfStream when the writer has finished and everything was
        read, ESHMError for other failures, ValueError on a closed handle,
        RuntimeError if a peek of this handle is open already: they do not
        nest, and meanwhile read(), readinto(), read_many() and iteration
        raise RuntimeError too. Leaving normally raises ESHMError if the
        release fails, BufferError as below.

        Lifetime: view is the library's memory, lent for the block. Leaving
        the block releases it: any later use raises ValueError. Nothing made
        from it may outlive the block (a slice, a numpy array over it,
        view.obj), as writers reuse the memory once the message is taken:
        copy what must stay (bytes(view), np.frombuffer(view, dtype).copy()).
        Leaving normally with such an object alive does not take the
        message (it stays for the next read) and raises BufferError; leaving
        by an exception, that exception goes on, with a note saying so."""
        return _Peek(self, timeout)

    # ---------------------------------------------------------- asyncio

    def fileno(self):
        """The descriptor of the channel this handle reads, for select,
        poll, selectors or an event loop's add_reader: it polls readable
        when a read may have something (a message, the end of the stream,
        or a writer that detached without ending it). Edge-style: once
        readable, read with timeout=0 until that returns None (or
        read_many until []), which re-arms it; then wait on it again. It
        may poll readable with nothing to read (another reader took it):
        that read returns None and re-arms it, so no wakeup is lost.

        The same int each call; it belongs to the channel, which closes it:
        never close, read or write it. It is a FIFO, made at the first
        call, in /dev/shm (.eshm-poll.PID.N). ESHMError: ENOEND if this
        handle does not read in a consumer group (ends="write", a tap, a
        peek); a negated errno if the FIFO cannot be made."""
        fd = _fileno(self._handle())
        if fd < 0:
            self._fail(fd)
        return fd

    def fileno_write(self):
        """The descriptor of the channel this handle writes: it polls
        readable when readers may have made room after a write with
        timeout=0 found the channel full (which re-arms it); readable at
        first unless the channel is full. Readers make room known once a
        quarter of the channel is free, or all of it. Otherwise as
        fileno(); ESHMError(ENOEND) if this handle does not write."""
        fd = _fileno_write(self._handle())
        if fd < 0:
            self._fail(fd)
        return fd

    async def _ready(self, way, deadline):
        """Wait in the running loop until the descriptor of `way` polls
        readable (True) or the loop's clock passes deadline (False; None:
        never). One coroutine at a time per way."""
        fd = self.fileno() if way == _way_read else self.fileno_write()
        if self._waits[way] is not None:
            raise RuntimeError("eshm: another coroutine is already waiting to %s %r"
                               % ("read" if way == _way_read else "write", self))
        loop = asyncio.get_running_loop()
        timer = None
        if deadline is not None:
            left = deadline - loop.time()
            if left <= 0:
                return False
            fut = loop.create_future()
            timer = loop.call_later(left, _settle, fut, False)
        else:
            fut = loop.create_future()
        loop.add_reader(fd, _settle, fut, True)
        self._waits[way] = (loop, fd, fut)
        try:
            return await fut
        finally:
            if self._waits[way] is not None and self._waits[way][2] is fut:
                self._waits[way] = None
                loop.remove_reader(fd)
            if timer is not None:
                timer.cancel()

    @staticmethod
    def _deadline(timeout):
        """The running loop's clock after timeout seconds (None: never)."""
        if timeout is None:
            return None
        if timeout < 0:
            raise ValueError("timeout must be None or >= 0 seconds")
        return asyncio.get_running_loop().time() + timeout

    async def aread(self, timeout=None):
        """The next message as bytes, waiting in the running asyncio loop
        (other tasks run meanwhile) on fileno(): None if none came within
        timeout seconds (None: as long as it takes; 0: just look).
        EndOfStream when the writer has finished and all was read;
        ESHMError as read(). Unlike read(), it never gives up on a writer
        that was killed (ESHMError EWRITERLOST): it waits for a new one, as
        long as timeout allows; peer_state() says "dead" meanwhile. One
        coroutine at a time may wait to read a channel (RuntimeError).
        Before it waits on the descriptor it spins as read() does before it
        sleeps (up to 50 us, adaptive: see _spin), so that a quick peer's
        answer costs no round of the loop: the loop waits meanwhile."""
        h = self._handle()
        self.fileno()
        deadline = self._deadline(timeout)
        spun = timeout == 0
        while True:
            buf, cap = self._buf, len(self._buf)
            n = _read_nb(h, buf, cap, 0)
            if n >= 0:
                return self._view[:n].tobytes()
            if n != ETIMEDOUT:
                self._fail(n)
            if not spun:
                spun = True
                if self._spin(h, _END_READ, 0):
                    continue
            if timeout == 0 or not await self._ready(_way_read, deadline):
                return None
            spun = False
            h = self._handle()

    def _spin(self, h, end, size):
        """Before a coroutine waits on a descriptor, look for the peer's
        answer as a blocking read or write would before it sleeps: spin
        for up to 50 us (less as spins fail, not at all where it cannot
        pay: one CPU, more processes than CPUs) without sleeping; the loop
        waits meanwhile. True if data (room for size bytes) came."""
        r = _spin(h, end, size)
        if r < 0:
            self._fail(r)
        return r == 1

    async def aread_many(self, max=1024, timeout=None):
        """Up to max messages with one library call, as read_many(), waiting
        for the first as aread() does: a list, empty on timeout."""
        self.fileno()
        deadline = self._deadline(timeout)
        spun = timeout == 0
        while True:
            out = self.read_many(max, timeout=0)
            if out or timeout == 0:
                return out
            if not spun:
                spun = True
                if self._spin(self._handle(), _END_READ, 0):
                    continue
            if not await self._ready(_way_read, deadline):
                return out
            spun = False

    async def awrite(self, data, timeout=None):
        """Send one message (bytes-like), waiting in the running asyncio
        loop on fileno_write() while the channel is full, up to timeout
        seconds (None: as long as it takes; 0: only if there is room now).
        ESHMError (code ETIMEDOUT) if it stays full; others as write(). One
        coroutine at a time may wait to write a channel (RuntimeError)."""
        h = self._handle()
        if not isinstance(data, bytes):
            data = bytes(data)
        n = len(data)
        self.fileno_write()
        deadline = self._deadline(timeout)
        spun = timeout == 0
        while True:
            r = _write_nb(h, data, n, 0)
            if r == 0:
                return
            if r == ETIMEDOUT and not spun:
                spun = True
                if self._spin(h, _END_WRITE, n):
                    continue
            if r != ETIMEDOUT or timeout == 0 or not await self._ready(_way_write, deadline):
                self._fail(r)
            spun = False
            h = self._handle()

    def __aiter__(self):
        """`async for msg in ch`: every message until the end of the
        stream, as aread() gets them (batched: one library call per run of
        messages already there)."""
        return self._messages()

    async def _messages(self):
        while True:
            try:
                batch = await self.aread_many()
            except EndOfStream:
                return
            for msg in batch:
                yield msg

    def _unwait(self):
        """Wake the coroutines waiting on our descriptors, which are about
        to close: they see a closed channel (ValueError)."""
        for way, w in enumerate(self._waits):
            if w is None:
                continue
            loop, fd, fut = w
            self._waits[way] = None
            loop.remove_reader(fd)
            if not fut.done():
                fut.set_exception(ValueError("eshm: operation on a closed channel"))

    # ---------------------------------------------------------- the rest

    def tap_missed(self):
        """(messages, bytes) a tap or a peek skipped since it was opened,
        because it fell behind and what it had not read was written over:
        bytes exact (record bytes, headers included), messages about (from
        the writers' counts). ESHMError(ENOEND) for any other handle."""
        msgs, nbytes = _c.c_uint64(), _c.c_uint64()
        r = _tap_missed(self._handle(), _c.byref(msgs), _c.byref(nbytes))
        if r:
            self._fail(r)
        return msgs.value, nbytes.value

    def peer_state(self):
        """"none", "alive", "stale" or "dead": the other side of the channel
        this handle reads (or, if it only writes, of the one it writes)."""
        r = _peer_state(self._handle())
        if r < 0:
            self._fail(r)
        return _peer_state_name(r).decode()

    def stats(self):
        """The segment as eshm-stat --json shows it, as a dict: the same
        keys, values and types (null is None), as eshm-stat(1) lists them
        under JSON OUTPUT, less the "rates" of --watch. For example "mode"
        is a string of four octal digits such as "0600"; "size" is in
        bytes; "age_ms" (since creation) and "idle_ms" (since a holder was
        last seen) are milliseconds; "user" and "group" are the owner's
        names (or numbers, as strings, if they have none); "channels" has
        "m2s" and "s2m", each with its counts ("msgs_in", "bytes_in",
        "used" and "capacity" in bytes...), its "writer" and "reader"
        ends ("state", "pid", "heartbeat_age_ms", "claimed" in bytes...)
        and "writers", a list of every writer slot held, live or dead."""
        info = _Info()
        r = _stats(self._handle(), _c.byref(info))
        if r:
            self._fail(r)
        return _info_dict(info)

    def _detach(self, flags):
        if self._h is None:
            return
        if any(self._waits):
            self._unwait()
        # a view lent by reserve() or peek() must not outlive the mapping
        for name in ("_resv", "_peeked"):
            held = getattr(self, name)
            setattr(self, name, None)
            if held is not None and _revoke(*held):
                setattr(self, name, held)
                raise BufferError("eshm: not closed: something made from the memoryview of "
                                  "an open %s (a slice, a numpy array...) is still alive"
                                  % ("reservation" if name == "_resv" else "peek"))
        h, self._h = self._h, None
        err = _Error()
        r = _detach(h, flags, _c.byref(err))
        if r == _EPERM:
            # everything was delivered; only the empty file stays behind
            warnings.warn("eshm: " + err.what.decode(), RuntimeWarning, stacklevel=3)
        elif r:
            raise ESHMError(r, err.what.decode() or None)

    def close(self):
        """Mark the end of the stream written, release the ends, remove the
        segment if nobody holds it and nothing is pending. Idempotent.

        Raises ESHMError (code EREMOVED) if the segment was removed or
        replaced while in use (e.g. by systemd-logind's RemoveIPC) and
        messages were left in it that nobody can reach now; warns
        (RuntimeWarning) if the drained segment could not be removed
        because it belongs to another user and /dev/shm is sticky."""
        self._detach(0)

    def abandon(self):
        """Detach without ending the stream, as a writer that failed: what
        was written stays for the reader, who then sees a lost writer (and
        waits for a new one) instead of a finished stream. Idempotent;
        errors as close()."""
        self._detach(_DETACH_LOST)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abandon()

    def __del__(self):
        if getattr(self, "_h", None) is not None:
            warnings.warn("eshm: %r was never closed; its stream is left unended "
                          "(readers see a lost writer)" % self, ResourceWarning,
                          source=self)
            try:
                self.abandon()
            except Exception:
                pass

    def __repr__(self):
        state = "closed" if self._h is None else self.role
        return "ESHM(%r, %s)" % (self.name, state)


# ------------------------------------------------------ module functions


def inspect(name):
    """The segment `name`, read-only (never claims, blocks or changes it),
    as a dict; ESHMError if there is no such file. The dict is what
    `eshm-stat --json NAME` shows for it, as ESHM.stats() says; a file that
    is not a usable segment has "valid" False, "problem" saying why, and
    only the keys up to "group"."""
    info, err = _Info(), _Error()
    r = _inspect(name.encode(), _c.byref(info), _c.byref(err))
    if r:
        raise ESHMError(r, err.what.decode() or None)
    return _info_dict(info)


def unlink(name, pending=False, invalid=False, kept=True, min_idle=0.0, dry_run=False):
    """Remove segment `name` as eshm-clean does: never one with a live
    holder or being attached; with data only if pending=True and idle at
    least min_idle seconds; a file that is not a segment only if
    invalid=True."""
    flags = ((_UNLINK_PENDING if pending else 0) | (_UNLINK_INVALID if invalid else 0) |
             (_UNLINK_KEPT if kept else 0) | (_UNLINK_DRY_RUN if dry_run else 0))
    err = _Error()
    r = _unlink(name.encode(), flags, int(min_idle * 1000), None, _c.byref(err))
    if r:
        raise ESHMError(r, err.what.decode() or None)


def remove_group(name, group, dry_run=False):
    """Remove consumer group `group` from segment `name`, as
    `eshm-clean --group GROUP NAME` does: its place and what it did not
    release are forgotten. Returns how many channels had it (1 or 2).
    ESHMError: ENOGROUP (no such group), EBUSY (a reader of it lives), or
    as inspect()."""
    err = _Error()
    r = _group_remove(name.encode(), group.encode(), _UNLINK_DRY_RUN if dry_run else 0,
                      _c.byref(err))
    if r < 0:
        raise ESHMError(r, err.what.decode() or None)
    return r


def segments():
    """The names of the segments in /dev/shm, sorted."""
    names = _c.POINTER(_c.c_char_p)()
    n = _list(_c.byref(names))
    if n < 0:
        raise ESHMError(n)
    try:
        return [names[i].decode() for i in range(n)]
    finally:
        _list_free(names, n)

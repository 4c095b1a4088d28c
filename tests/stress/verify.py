#!/usr/bin/env python3
"""verify.py - check the crash soak's output: no message lost or corrupted,
each writer's (epoch's) messages in its order, writers interleaved only
between messages, repeats only right after a reader restart (at most one
each).

    verify.py OUTPUT PROGRESS-DIR

OUTPUT holds what the successive readers printed, each start marked by a
line "#restart"; PROGRESS-DIR holds progress-EPOCH files, the last
sequence each writer knew committed. Prints one summary line; exit 1 on
any violation."""
import binascii
import glob
import os
import sys


def main(out, pdir):
    progress = {}
    for p in glob.glob(os.path.join(pdir, "progress-*")):
        text = open(p).read().strip()
        progress[int(p.rsplit("-", 1)[1])] = int(text) if text else -1
    problems = []
    seen = {}          # epoch -> next expected sequence
    order = []         # epochs in the order they appeared
    last = None        # (epoch, seq) of the last good line
    restarts = repeats = torn = records = nbytes = lost = corrupt = 0
    after_restart = False
    # streamed, one line of lookahead: the output may be gigabytes
    with open(out, "rb") as f:
        lines = (raw.rstrip(b"\n") for raw in f)
        line = next(lines, None)
        i = 0
        while line is not None:
            nxt = next(lines, None)
            i += 1
            if line == b"#restart":
                restarts += 1
                after_restart = True
                line = nxt
                continue
            parts = line.split(b" ")
            ok = len(parts) in (3, 4)
            if ok:
                body, crc = line.rsplit(b" ", 1)
                ok = ("%08x" % binascii.crc32(body)).encode() == crc
            if not ok:
                # a reader killed inside write(2): its last line may be torn
                if nxt == b"#restart":
                    torn += 1
                else:
                    problems.append("line %d corrupt: %r" % (i, line[:80]))
                    corrupt += 1
                line = nxt
                continue
            e, s = int(parts[0]), int(parts[1])
            records += 1
            nbytes += len(line) + 1
            if after_restart and last == (e, s):
                repeats += 1            # re-delivered: written, not yet released
                after_restart = False
                line = nxt
                continue
            after_restart = False
            if e not in seen:
                order.append(e)
                seen[e] = 0
            if s != seen[e]:
                problems.append("line %d: epoch %d sequence %d, expected %d" % (i, e, s, seen[e]))
                lost += max(0, s - seen[e])
            seen[e] = s + 1
            last = (e, s)
            line = nxt
    for e, p in sorted(progress.items()):
        got = seen.get(e, 0) - 1
        # everything the writer knew committed arrived; at most one more
        if got < p or got > p + 1:
            problems.append("epoch %d: delivered up to %d, writer committed %d" % (e, got, p))
            lost += max(0, p - got)
    if repeats > restarts:
        problems.append("%d repeats for %d reader restarts" % (repeats, restarts))
    print("records %d, bytes %d, writers (epochs) %d, reader starts %d, lost %d, "
          "corrupt %d, repeated %d, torn lines %d" % (
              records, nbytes, len(progress), restarts, lost, corrupt, repeats, torn))
    for p in problems[:20]:
        print("PROBLEM:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))

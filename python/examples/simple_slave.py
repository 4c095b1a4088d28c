#!/usr/bin/env python3
"""simple_slave.py - answer each message from the master with an acknowledgement.

    python3 simple_slave.py NAME [COUNT]

Pairs with simple_master.py, or with any master: `eshm-send NAME` sends it
lines, `eshm-recv --role master NAME` reads the acknowledgements, and the
C demo's master (examples/eshm-demo.c) greets it as in the original guide.
Ends at the master's end of stream, or after COUNT messages.

A C program's strings may come with their terminating NUL (eshm-demo's do,
as the original demo's did): it counts in the length, but is not printed.
"""
import sys

import _path  # noqa: F401  (finds eshm.py in the source tree)
from eshm import ESHM, ESHMError


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__.strip().split("\n\n")[1])
    name = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) == 3 else None
    print("=== ESHM Python Slave Example ===")
    with ESHM(name, role="slave") as ch:
        print("Initialized as SLAVE", flush=True)
        for i, msg in enumerate(ch):
            text = msg.decode(errors="replace").rstrip("\0")
            print("[SLAVE] Received (%d bytes): %s" % (len(msg), text), flush=True)
            ack = b"ACK from Python slave #%d" % i
            ch.write(ack)
            print("[SLAVE] Sent: %s" % ack.decode(), flush=True)
            if count is not None and i + 1 >= count:
                break
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ESHMError as e:
        sys.exit("simple_slave.py: %s" % e)
    except KeyboardInterrupt:
        sys.exit(130)

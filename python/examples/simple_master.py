#!/usr/bin/env python3
"""simple_master.py - send numbered greetings as master, print the slave's acknowledgements.

    python3 simple_master.py NAME [COUNT]

Pairs with simple_slave.py, or with any slave: eshm-recv NAME reads the
greetings, `eshm-send --role slave NAME` can answer, and so does the C
demo's slave (examples/eshm-demo.c), whose strings end with a NUL as the
original demo's did (not printed). Exits 0 once every greeting was
acknowledged, 1 if an acknowledgement did not come within 5 s.
"""
import sys

import _path  # noqa: F401  (finds eshm.py in the source tree)
from eshm import ESHM, ESHMError, EndOfStream


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__.strip().split("\n\n")[1])
    name, count = sys.argv[1], int(sys.argv[2]) if len(sys.argv) == 3 else 10
    print("=== ESHM Python Master Example ===")
    with ESHM(name, role="master") as ch:
        print("Initialized as MASTER (%d-byte channels)" % ch.capacity, flush=True)
        for i in range(count):
            greeting = b"Hello from Python master #%d" % i
            ch.write(greeting)
            print("[MASTER] Sent: %s" % greeting.decode(), flush=True)
            try:
                ack = ch.read(timeout=5.0)
            except EndOfStream:
                print("[MASTER] the slave ended its stream", file=sys.stderr)
                return 1
            if ack is None:
                print("[MASTER] no acknowledgement within 5 s", file=sys.stderr)
                return 1
            text = ack.decode(errors="replace").rstrip("\0")
            print("[MASTER] Received: %s" % text, flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ESHMError as e:
        sys.exit("simple_master.py: %s" % e)
    except KeyboardInterrupt:
        sys.exit(130)

#!/usr/bin/env python3
"""leftover.py - play a process creating a segment: make /dev/shm/.eshm-new.PID.1
as libeshm does (exclusively, locked at once), SIZE bytes, print its path once
it is locked, then wait to be ended by pid: SIGKILL leaves what a creator
killed half-way leaves."""
import fcntl
import os
import signal
import sys

size = int(sys.argv[1]) if len(sys.argv) > 1 else 0
path = "/dev/shm/.eshm-new.%d.1" % os.getpid()
fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
if size:
    os.posix_fallocate(fd, 0, size)
print(path, flush=True)
while True:
    signal.pause()

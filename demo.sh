#!/bin/sh
# demo.sh - what eshm does, in half a minute: a consumer started before its
# producer, a million lines through a temporary segment, and the cleanup.
# Usage: sh demo.sh [BINDIR]   (make demo runs it with the fresh build)
set -eu

bin=${1:-build/bin}
PATH="$(cd "$bin" && pwd):$PATH"
export PATH
seg="demo-$$"
work=$(mktemp -d "${TMPDIR:-/tmp}/eshm-demo.XXXXXX")
reader=
cleanup() {
    [ -n "$reader" ] && kill "$reader" 2>/dev/null
    rm -rf "$work"
    # only if something went wrong: eshm removes a finished segment itself
    rm -f "/dev/shm/eshm_$seg"
}
trap cleanup EXIT INT TERM

if [ -t 1 ]; then
    say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
else
    say() { printf '\n%s\n' "$*"; }
fi

say "1. The consumer starts first and waits for a producer (like cat on a FIFO):"
echo "   \$ eshm-recv -v $seg | sha256sum"
eshm-recv -v "$seg" 2>"$work/recv.err" | sha256sum >"$work/recv.sum" &
reader=$!
while [ ! -e "/dev/shm/eshm_$seg" ]; do sleep 0.01; done
sed 's/^/   /' "$work/recv.err"
stat -c "   %A %U %s bytes %n" "/dev/shm/eshm_$seg"

say "2. The producer sends a million lines through the shared-memory segment:"
echo "   \$ seq 1 1000000 | eshm-send -v -p $seg"
seq 1 1000000 | eshm-send -v -p "$seg" 2>&1 | sed 's/^/   /'
wait "$reader"
reader=
sed '1d; s/^/   /' "$work/recv.err"

say "3. Every byte arrived, in order:"
expected=$(seq 1 1000000 | sha256sum)
echo "   sent:     $expected"
echo "   received: $(cat "$work/recv.sum")"
[ "$expected" = "$(cat "$work/recv.sum")" ]

say "4. Nothing pending and nobody attached, so the segment removed itself:"
if [ -e "/dev/shm/eshm_$seg" ]; then
    echo "   /dev/shm/eshm_$seg still exists: unexpected" >&2
    exit 1
fi
echo "   \$ ls /dev/shm/eshm_$seg"
echo "   ls: cannot access '/dev/shm/eshm_$seg': No such file or directory"

say "5. A queue, not a pipe: data sent before any reader exists waits for one."
printf '   $ printf '"'"'job %%s\\n'"'"' 1 2 3 | eshm-send %s; eshm-recv -n 2 %s; eshm-recv %s\n' "$seg" "$seg" "$seg"
printf 'job %s\n' 1 2 3 | eshm-send "$seg"
eshm-recv -n 2 "$seg" | sed 's/^/   first reader:  /'
eshm-recv "$seg" | sed 's/^/   second reader: /'

say "Done. Next: man eshm (man/eshm.7), eshm-send --help, eshm-recv --help."

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
live=
cleanup() {
    for p in $reader $live; do kill "$p" 2>/dev/null; done
    rm -rf "$work"
    # only what this demo made and did not clean up itself
    rm -f "/dev/shm/eshm_$seg" "/dev/shm/eshm_$seg-live" "/dev/shm/eshm_$seg-crashed" \
        "/dev/shm/eshm_$seg-junk"
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

say "6. What a crash leaves behind, and how to see it and clean it up."
echo "   A live pipeline, a crashed one (its writer killed with SIGKILL), a garbage file:"
eshm-recv "$seg-live" >/dev/null &
live=$!
mkfifo "$work/in"
eshm-send "$seg-crashed" <"$work/in" &
crashed=$!
exec 3>"$work/in"
printf 'lost? no: kept for the next reader\n' >&3
until eshm-stat --noheadings "$seg-crashed" 2>/dev/null | grep -q ' 1/'; do sleep 0.01; done
kill -KILL "$crashed"
wait "$crashed" 2>/dev/null || true
exec 3>&-
echo junk >"/dev/shm/eshm_$seg-junk"
until [ -e "/dev/shm/eshm_$seg-live" ]; do sleep 0.01; done
echo "   \$ eshm-stat $seg-live $seg-crashed $seg-junk"
eshm-stat "$seg-live" "$seg-crashed" "$seg-junk" | sed 's/^/   /'
echo "   \$ eshm-stat --check ...     # for cron and monitoring: one line per problem, exit 1"
eshm-stat --check "$seg-live" "$seg-crashed" "$seg-junk" | sed 's/^/   /' || true
echo "   \$ eshm-clean -v ...         # removes nothing here: live, undelivered data, not a segment"
eshm-clean -v "$seg-live" "$seg-crashed" "$seg-junk" 2>&1 | sed 's/^/   /' || true
echo "   \$ eshm-recv $seg-crashed     # the crashed writer's message is still there"
eshm-recv --retries 1 "$seg-crashed" 2>/dev/null | sed 's/^/   /' || true
echo "   \$ eshm-clean --force $seg-junk"
eshm-clean --force "$seg-junk" | sed 's/^/   /'
kill "$live"
wait "$live" 2>/dev/null || true
live=

say "Done. Next: man eshm (man/eshm.7), and --help of eshm-send, eshm-recv, eshm-stat, eshm-clean."

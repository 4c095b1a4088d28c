#!/bin/sh
# taps.sh - what taps cost a writer and a reader: a file through eshm-send
# and eshm-recv with no tap, with 4 stopped taps (SIGSTOP: they must cost
# nothing) and with 1 running tap (it competes for the CPU; what it missed
# is shown). Two files: DATAFILE (1 GiB, --raw, made once, as pipeline.sh
# makes it) and 2 Mi lines of 64 bytes. Interleaved runs, medians. Then
# the lines again with a running tap while a steady writer (pace, built
# beside the tools: pv -L sends in bursts at full speed; pace catches up
# by one 64 KiB piece at most) is held to half the rate the reader
# reached, the reader attached first, through a 1 MiB ring (about a
# millisecond of that traffic) and an 8 MiB one: what the tap missed.
# Usage: sh bench/taps.sh BINDIR DATAFILE [RUNS]
set -eu

bin=$1
data=$2
runs=${3:-5}
PATH="$(cd "$bin" && pwd):$PATH"
export PATH
work=$(mktemp -d "${TMPDIR:-/tmp}/eshm-taps.XXXXXX")
taps=""
cleanup() {
    for p in $taps; do kill -CONT "$p" 2>/dev/null || true; kill -TERM "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

if [ ! -f "$data" ]; then
    echo "making $data: 1 GiB of random bytes, once" >&2
    head -c 1073741824 /dev/urandom >"$data.tmp"
    mv "$data.tmp" "$data"
fi
python3 -c '
import sys
line = b"x" * 63 + b"\n"
sys.stdout.buffer.write(line * (2 * 1024 * 1024))' >"$work/lines"
cat "$data" "$work/lines" >/dev/null # into the page cache, for every run alike

now() { date +%s%N; }

# run KIND FILE RUN: FILE through a new segment with KIND (none, stopped,
# running) taps; prints nanoseconds, and for a running tap what it missed
# to $work/missed
run() {
    seg="bench-taps-$$-$3-$1-$(basename "$2")"
    opt=""
    [ "$2" = "$data" ] && opt=--raw
    eshm-recv --keep -c "${capacity:-1M}" -t 1ms "$seg" 2>/dev/null || true
    taps=""
    n=0
    case $1 in
    stopped) want=4 ;;
    running | halfrate) want=1 ;;
    *) want=0 ;;
    esac
    while [ "$n" -lt "$want" ]; do
        eshm-recv --tap -v -f "$seg" >/dev/null 2>"$work/tap.$n" &
        taps="$taps $!"
        until grep -q "tapping channel" "$work/tap.$n" 2>/dev/null; do sleep 0.001; done
        n=$((n + 1))
    done
    if [ "$1" = stopped ]; then
        for p in $taps; do kill -STOP "$p"; done
    fi
    t0=$(now)
    if [ -n "${limit:-}" ]; then
        # the reader first: a writer that starts alone fills the ring at
        # full speed, faster than half the reader's rate
        eshm-recv -v "$seg" >/dev/null 2>"$work/reader" &
        reader=$!
        until grep -q "reading channel" "$work/reader" 2>/dev/null; do sleep 0.001; done
        "$pace" -v "$limit" <"$2" 2>>"$work/pace-$capacity" | eshm-send $opt "$seg"
        wait "$reader"
    else
        eshm-send $opt "$seg" <"$2" &
        eshm-recv "$seg" >/dev/null
        wait $!
    fi
    t=$(($(now) - t0))
    for p in $taps; do
        kill -CONT "$p"
        kill -TERM "$p"
        wait "$p" 2>/dev/null || true
    done
    taps=""
    if [ "$1" = running ] || [ "$1" = halfrate ]; then
        sed -n 's/.*tap missed about \([0-9]*\) messages (\([0-9]*\) bytes).*/\1 \2/p;
                s/.*tap missed nothing.*/0 0/p' "$work/tap.0" >>"$work/missed-$1-$(basename "$2")"
    fi
    eshm-clean --force "$seg" >/dev/null 2>&1 || true
    echo "$t"
}

i=1
while [ "$i" -le "$runs" ]; do
    for f in "$data" "$work/lines"; do
        for k in none stopped running; do
            [ -t 2 ] && printf '\r\033[Ktaps: run %d/%d: %s %s' "$i" "$runs" "$(basename "$f")" "$k" >&2
            run "$k" "$f" "$i" >>"$work/times-$k-$(basename "$f")"
        done
    done
    i=$((i + 1))
done
[ -t 2 ] && printf '\r\033[K' >&2

median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
printf 'taps: a writer and a reader with no tap, 4 stopped taps, 1 running tap;\n'
printf 'median of %d runs, interleaved\n\n' "$runs"
printf '%-28s %10s %10s %12s\n' TRANSFER TAPS MEDIAN "VS NO TAP"
for f in "$data" "$work/lines"; do
    b=$(basename "$f")
    what="1 GiB --raw"
    [ "$b" = lines ] && what="2 Mi lines of 64 B"
    base=$(median "$work/times-none-$b")
    for k in none stopped running; do
        ns=$(median "$work/times-$k-$b")
        awk -v w="$what" -v k="$k" -v ns="$ns" -v base="$base" \
            'BEGIN { printf "%-28s %10s %9.3fs %11.2fx\n", w, k, ns / 1e9, base / ns }'
    done
    awk -v w="$what" '{ m += $1; b += $2; n++ }
        END { if (n) printf "%-28s running tap missed, per run: %d messages, %d bytes (mean)\n", w, m / n, b / n }' \
        "$work/missed-running-$b"
done

pace="$(cd "$bin" && pwd)/../bench/pace"
if [ ! -x "$pace" ]; then
    echo "$pace not built (make $(dirname "$bin")/bench/pace): the half-rate run is skipped"
    exit 0
fi
size=$(stat -c %s "$work/lines")
limit=$(awk -v s="$size" -v ns="$(median "$work/times-none-lines")" 'BEGIN { printf "%d", s / (ns / 1e9) / 2 }')
for capacity in 1M 8M; do
    i=1
    while [ "$i" -le "$runs" ]; do
        run halfrate "$work/lines" "$i" >>"$work/times-halfrate-lines"
        i=$((i + 1))
    done
    kept=$(sed -n 's/.*: \([0-9]*\) bytes\/s$/\1/p' "$work/pace-$capacity" | sort -n |
        awk '{ v[NR] = $1 } END { printf "%.0f-%.0f", v[1] / 1e6, v[NR] / 1e6 }')
    awk -v l="$limit" -v c="$capacity" -v kept="$kept" '{ m += $1; b += $2; n++; if ($2 == 0) z++ }
        END { printf "\n2 Mi lines of 64 B, the writer held to %.0f MB/s (half the reader rate; it kept %s), a %s ring:\n", l / 1e6, kept, c;
              printf "a running tap missed nothing in %d of %d runs (mean %d messages, %d bytes)\n", z, n, m / n, b / n }' \
        "$work/missed-halfrate-lines"
    rm -f "$work/missed-halfrate-lines"
done

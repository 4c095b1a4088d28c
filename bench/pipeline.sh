#!/bin/sh
# pipeline.sh - the filters against cat | cat, a FIFO and socat over a Unix
# socket: a 1 GiB file (made once) to /dev/null, interleaved runs, medians.
# Usage: sh bench/pipeline.sh BINDIR DATAFILE [RUNS]
set -eu

bin=$1
data=$2
runs=${3:-5}
PATH="$(cd "$bin" && pwd):$PATH"
export PATH
work=$(mktemp -d "${TMPDIR:-/tmp}/eshm-pipeline.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

if [ ! -f "$data" ]; then
    echo "making $data: 1 GiB of random bytes, once" >&2
    head -c 1073741824 /dev/urandom >"$data.tmp"
    mv "$data.tmp" "$data"
fi
size=$(stat -c %s "$data")
cat "$data" >/dev/null # into the page cache, for every method alike

methods="eshm cat fifo socat"
command -v socat >/dev/null || { echo "socat not installed: skipping it" >&2; methods="eshm cat fifo"; }

now() { date +%s%N; }

# run METHOD RUN: one copy of the file to /dev/null; prints nanoseconds
run() {
    t0=$(now)
    case $1 in
    eshm)
        seg="bench-pipe-$$-$2"
        eshm-send --raw "$seg" <"$data" &
        eshm-recv "$seg" >/dev/null
        wait
        ;;
    cat)
        # shellcheck disable=SC2002 # the pipeline being measured
        cat "$data" | cat >/dev/null
        ;;
    fifo)
        mkfifo "$work/fifo"
        cat "$data" >"$work/fifo" &
        cat "$work/fifo" >/dev/null
        wait
        rm -f "$work/fifo"
        ;;
    socat)
        sock="$work/sock"
        socat -u "UNIX-LISTEN:$sock" - >/dev/null &
        while [ ! -S "$sock" ]; do sleep 0.001; done
        socat -u - "UNIX-CONNECT:$sock" <"$data"
        wait
        rm -f "$sock"
        ;;
    esac
    echo $(($(now) - t0))
}

i=1
while [ "$i" -le "$runs" ]; do
    for m in $methods; do
        [ -t 2 ] && printf '\r\033[Kpipeline: run %d/%d: %s' "$i" "$runs" "$m" >&2
        run "$m" "$i" >>"$work/times-$m"
    done
    i=$((i + 1))
done
[ -t 2 ] && printf '\r\033[K' >&2

median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
cat_ns=$(median "$work/times-cat")
socat_ns=0
[ -f "$work/times-socat" ] && socat_ns=$(median "$work/times-socat")

printf 'pipeline: a %d MiB file to /dev/null, median of %d runs, interleaved\n\n' \
    $((size / 1048576)) "$runs"
printf '%-40s %9s %10s %11s %11s\n' PIPELINE MEDIAN GIB/S "VS CAT|CAT" "VS SOCAT"
for m in $methods; do
    ns=$(median "$work/times-$m")
    case $m in
    eshm) label="eshm-send --raw q <file & eshm-recv q" ;;
    cat) label="cat file | cat" ;;
    fifo) label="cat file >fifo & cat fifo" ;;
    socat) label="socat over a Unix socket" ;;
    esac
    awk -v l="$label" -v ns="$ns" -v sz="$size" -v c="$cat_ns" -v s="$socat_ns" 'BEGIN {
        printf "%-40s %8.3fs %10.2f %10.1fx", l, ns / 1e9, sz / 1073741824 / (ns / 1e9), c / ns
        if (s > 0) printf " %10.1fx", s / ns
        printf "\n" }'
done

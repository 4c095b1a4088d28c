#!/bin/sh
# format1.sh - one writer and one reader, this build against format 1 built
# from the last format-1 commit, interleaved: 64 B messages/s, 64 KiB
# bytes/s, 64 B round trip; medians and their ratios.
# Usage: format1.sh NEW-BENCH WORK-DIR [RUNS]   (make bench runs it)
set -eu
new=$1
work=$2
runs=${3:-5}
commit=b119427 # "Format the C sources with clang-format", the last of format 1
old=$work/format1/build/bin/eshm-bench
if [ ! -x "$old" ]; then
    if ! git cat-file -e "$commit^{commit}" 2>/dev/null; then
        echo "format1.sh: commit $commit is not in this clone (a shallow one?): skipped"
        exit 0
    fi
    rm -rf "$work/format1"
    mkdir -p "$work/format1"
    git archive "$commit" | tar -x -C "$work/format1"
    make -s -C "$work/format1" build/bin/eshm-bench >/dev/null
fi
out=$work/format1.runs
: >"$out"
i=0
while [ "$i" -lt "$runs" ]; do
    for b in old new; do
        bin=$old
        [ "$b" = new ] && bin=$new
        t=$("$bin" -c throughput -s 64,64K -d 1s -r 1 --json)
        l=$("$bin" -c latency -s 64 -d 1s -r 1 --json)
        printf '%s\t%s\t%s\n' "$b" "$t" "$l" >>"$out"
    done
    i=$((i + 1))
done
python3 - "$out" "$runs" <<'PY'
import json, statistics, sys
v = {"old": [], "new": []}
for line in open(sys.argv[1]):
    who, t, l = line.rstrip("\n").split("\t")
    t, l = json.loads(t), json.loads(l)
    e = {r["size"]: r for r in t["results"] if r["transport"] == "eshm"}
    rtt = [r for r in l["results"] if r["transport"] == "eshm"][0]["rtt_p50_ns"]
    v[who].append((e[64]["msgs_per_s"], e[65536]["bytes_per_s"], rtt))
print("one writer, one reader: format 2 (this build) against format 1, "
      "interleaved, medians of %s runs" % sys.argv[2])
print("%-22s %14s %14s %8s" % ("", "format 1", "format 2", "ratio"))
for i, (name, higher) in enumerate([("64 B messages/s", 1), ("64 KiB bytes/s", 1),
                                    ("64 B round trip, ns", 0)]):
    o = statistics.median(x[i] for x in v["old"])
    n = statistics.median(x[i] for x in v["new"])
    print("%-22s %14.4g %14.4g %7.2fx%s" % (name, o, n, n / o if higher else o / n,
                                            "" if higher else " (faster)"))
PY

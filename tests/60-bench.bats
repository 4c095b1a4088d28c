#!/usr/bin/env bats
# eshm-bench: options, output, and the temporary segment always removed.
# Short runs only: performance is measured by `make bench`, never asserted here.

load helpers

# no eshm-bench segment of this run is left in /dev/shm
no_bench_segments() {
    ! compgen -G "/dev/shm/eshm_eshm-bench-$1-*" >/dev/null
}

@test "eshm-bench --help and --version" {
    run -0 eshm-bench --help
    [[ "$output" == "Usage: eshm-bench [options]"* ]]
    [[ "$output" == *"--compare"* ]]
    run -0 eshm-bench --version
    [[ "$output" =~ ^eshm-bench\ \(eshm\)\ [0-9.]+$ ]]
}

@test "eshm-bench rejects bad usage with status 2" {
    run -2 --separate-stderr eshm-bench --bogus
    [[ "$stderr" == *"Try 'eshm-bench --help'."* ]]
    run -2 eshm-bench extra
    run -2 eshm-bench --case fastest
    run -2 eshm-bench -s 0
    run -2 eshm-bench -s 64,,1K
    run -2 eshm-bench -s 64,
    run -2 eshm-bench -s ,64
    run -2 eshm-bench -s 32M
    run -2 eshm-bench -d 1ms
    run -2 eshm-bench -r 0
    run -2 eshm-bench --cpus x
    run -2 eshm-bench --capacity 1K
}

@test "eshm-bench prints a throughput and a latency table" {
    run -0 eshm-bench -d 30ms -r 1 -s 64,1K
    [[ "$output" == *"THROUGHPUT"*"MSGS/S"* ]]
    [[ "$output" == *"LATENCY"*"RTT P50"* ]]
    [ "$(grep -c '^eshm ' <<<"$output")" -eq 4 ]
}

@test "eshm-bench --compare --json is one document with every transport" {
    bg_sh "exec eshm-bench --compare --json -d 30ms -r 1 -s 64,64K >$TMP/doc 2>$TMP/err"
    pid=$BG_PID
    wait_exit "$pid"
    [ "$EXIT_STATUS" -eq 0 ]
    [ "$(wc -l <"$TMP/doc")" -eq 1 ]
    json 'd["version"]' <"$TMP/doc"
    # every transport for each case and size; mq refuses 64K with a reason
    [ "$(json 'sorted({(r["case"], r["transport"]) for r in d["results"]})' <"$TMP/doc")" = \
        "[('latency', 'eshm'), ('latency', 'futex'), ('latency', 'mq'), ('latency', 'pipe'), ('latency', 'unix'), ('throughput', 'eshm'), ('throughput', 'mq'), ('throughput', 'pipe'), ('throughput', 'unix')]" ]
    [ "$(json '[r["size"] for r in d["results"] if r["transport"] == "pipe"]' <"$TMP/doc")" = "[64, 65536, 64, 65536]" ]
    [ "$(json 'all(r["msgs_per_s"] > 0 and abs(r["bytes_per_s"] - r["msgs_per_s"] * r["size"]) <= r["size"] for r in d["results"] if r["case"] == "throughput" and "skipped" not in r)' <"$TMP/doc")" = True ]
    [ "$(json 'all(0 < r["rtt_p50_ns"] <= r["rtt_p99_ns"] <= r["rtt_p999_ns"] <= r["rtt_max_ns"] for r in d["results"] if r["case"] == "latency" and "skipped" not in r)' <"$TMP/doc")" = True ]
    [ "$(json '[r for r in d["results"] if r["transport"] == "eshm" and r["case"] == "throughput"][0]["futex_calls_per_msg"] >= 0' <"$TMP/doc")" = True ]
    [[ "$(json '[r["skipped"] for r in d["results"] if r["transport"] == "mq" and r["size"] == 65536][0]' <"$TMP/doc")" == *"msgsize_max"* ]]
    no_bench_segments "$pid"
}

@test "eshm-bench --writers measures several writers into one reader" {
    run -0 eshm-bench --json --compare -c throughput -d 50ms -r 1 -s 64 --writers 3
    [ "$(json '{r["transport"]: ("skipped" in r, r["writers"], r["readers"]) for r in d["results"]}' <<<"$output")" = \
        "{'eshm': (False, 3, 1), 'pipe': (False, 3, 1), 'unix': (True, 3, 1), 'mq': (False, 3, 1)}" ]
}

@test "eshm-bench --readers shares one writer's messages among readers, --groups gives each group all" {
    run -0 eshm-bench --json --compare -c throughput -d 50ms -r 1 -s 64 --readers 3
    [ "$(json '{r["transport"]: ("skipped" in r, r["readers"], r["groups"]) for r in d["results"]}' <<<"$output")" = \
        "{'eshm': (False, 3, 1), 'pipe': (False, 3, 1), 'unix': (True, 3, 1), 'mq': (False, 3, 1)}" ]
    run -0 eshm-bench --json --compare -c throughput -d 50ms -r 1 -s 64 --readers 4 --groups 2
    [ "$(json '[r["transport"] for r in d["results"] if "skipped" not in r]' <<<"$output")" = "['eshm']" ]
    run -2 eshm-bench --readers 2 --groups 3
    run -2 eshm-bench --readers 2 --writers 2
    run -2 eshm-bench --readers 0
}

@test "eshm-bench measures an idle holder's CPU use" {
    run -0 eshm-bench --case idle -d 200ms --json
    [ "$(json 'd["results"][0]["case"]' <<<"$output")" = idle ]
    [ "$(json 'd["results"][0]["cpu_percent"] >= 0' <<<"$output")" = True ]
}

@test "eshm-bench pinned to one shared core does not spin and still completes" {
    run -0 eshm-bench --cpus 0,0 -c latency -d 30ms -r 1 -s 64 --json
    [ "$(json 'd["cpus"]' <<<"$output")" = "[0, 0]" ]
    [ "$(json 'd["results"][0]["rtt_p50_ns"] > 0' <<<"$output")" = True ]
}

@test "eshm-bench removes its segment when interrupted, and dies of the signal" {
    for sig in INT TERM; do
        bg_sh "exec eshm-bench -d 5s -r 1 -s 64 -c throughput >/dev/null 2>&1"
        pid=$BG_PID
        # interrupt it while a run holds a segment
        wait_until 5 compgen -G "/dev/shm/eshm_eshm-bench-$pid-*"
        kill -"$sig" "$pid"
        wait_exit "$pid"
        [ "$EXIT_STATUS" -eq $((128 + $(kill -l "$sig"))) ]
        no_bench_segments "$pid"
        # and its child is gone too
        ! pgrep -P "$pid" >/dev/null
    done
}

#!/usr/bin/env bats
# Between hosts (here, loopback): the filters composed with socat over TCP
# and with an MQTT broker (Mosquitto) through its command-line clients.

load helpers

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

listening() {
    ss -ltn "sport = :$1" | grep -q LISTEN
}

@test "two segments bridged over TCP with socat carry lines intact and in order" {
    command -v socat
    port=$(free_port)
    # host B: TCP into segment b
    bg_sh "socat -u TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr - | exec eshm-send $SEG-b"
    wait_until 5 listening "$port"
    # host A: segment a out over TCP
    bg_sh "eshm-recv $SEG-a | exec socat -u - TCP:127.0.0.1:$port"
    seq 1 200000 | eshm-send "$SEG-a"
    eshm-recv "$SEG-b" >"$TMP/out"
    seq 1 200000 | cmp - "$TMP/out"
    seg_gone "$SEG-a"
    seg_gone "$SEG-b"
}

@test "a raw byte stream crosses a socat TCP bridge byte for byte" {
    command -v socat
    port=$(free_port)
    head -c 8M /dev/urandom >"$TMP/in"
    bg_sh "socat -u TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr - | exec eshm-send --raw $SEG-b"
    wait_until 5 listening "$port"
    bg_sh "eshm-recv $SEG-a | exec socat -u - TCP:127.0.0.1:$port"
    # more than the rings and sockets hold: the sender runs alongside
    bg_sh "exec eshm-send --raw $SEG-a <$TMP/in"
    sender=$BG_PID
    eshm-recv "$SEG-b" >"$TMP/out"
    wait_exit "$sender"
    [ "$EXIT_STATUS" -eq 0 ]
    cmp "$TMP/in" "$TMP/out"
}

@test "two segments bridged through a Mosquitto broker carry lines intact and in order" {
    command -v mosquitto && command -v mosquitto_pub && command -v mosquitto_sub
    port=$(free_port)
    printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n' "$port" \
        >"$TMP/mosquitto.conf"
    bg mosquitto -c "$TMP/mosquitto.conf"
    wait_until 5 listening "$port"
    topic="eshm/test/$SEG"
    id="eshm-test-$SEG"
    # a persistent QoS 1 session: subscribed before anything is published,
    # the broker keeps the messages until the subscriber comes back for them
    mosquitto_sub -h 127.0.0.1 -p "$port" -i "$id" -c -q 1 -t "$topic" -E
    seq 1 2000 | eshm-send "$SEG-a"
    eshm-recv "$SEG-a" | mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -l -t "$topic"
    mosquitto_sub -h 127.0.0.1 -p "$port" -i "$id" -c -q 1 -t "$topic" -C 2000 |
        eshm-send "$SEG-b"
    run -0 eshm-recv "$SEG-b"
    [ "$output" = "$(seq 1 2000)" ]
}

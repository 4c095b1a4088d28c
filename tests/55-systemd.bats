#!/usr/bin/env bats
# 55-systemd.bats - the systemd units of contrib/systemd, as make install-systemd installs them.

load helpers

UNITS=(eshm-clean.service eshm-clean.timer eshm-worker@.service)

# install_prefix: install the tools, their man pages and the units into
# the prefix $TMP/prefix, as a user would into /usr/local; sets UNITDIR.
install_prefix() {
    make_here install install-systemd PREFIX="$TMP/prefix"
    UNITDIR="$TMP/prefix/lib/systemd/system"
}

# unit_command FILE: set CMD to the words of FILE's ExecStart= (there is
# one, and no quoting in it)
unit_command() {
    local line
    [ "$(grep -c '^ExecStart=' "$1")" -eq 1 ]
    line=$(grep '^ExecStart=' "$1")
    read -ra CMD <<<"${line#ExecStart=}"
}

@test "make install-systemd installs the units under DESTDIR and PREFIX, naming the tools there" {
    make_here install-systemd DESTDIR="$TMP/root" PREFIX=/opt/eshm
    local dir="$TMP/root/opt/eshm/lib/systemd/system" u
    run -0 ls "$dir"
    [ "${lines[*]}" = "${UNITS[*]}" ]
    for u in "${UNITS[@]}"; do
        [ "$(stat -c %a "$dir/$u")" = 644 ]
        run -1 grep -n @BINDIR@ "$dir/$u"
    done
    unit_command "$dir/eshm-clean.service"
    [ "${CMD[0]}" = /opt/eshm/bin/eshm-clean ]
    unit_command "$dir/eshm-worker@.service"
    [ "${CMD[0]}" = /opt/eshm/bin/eshm-recv ]

    make_here install-systemd DESTDIR="$TMP/root" PREFIX=/opt/eshm SYSTEMDUNITDIR=/etc/systemd/system
    run -0 ls "$TMP/root/etc/systemd/system"
    [ "${lines[*]}" = "${UNITS[*]}" ]
}

@test "make install installs no unit, and make uninstall removes those make install-systemd installed" {
    make_here install DESTDIR="$TMP/root" PREFIX=/usr
    [ -x "$TMP/root/usr/bin/eshm-recv" ]
    [ ! -e "$TMP/root/usr/lib/systemd" ]
    make_here install-systemd DESTDIR="$TMP/root" PREFIX=/usr
    make_here uninstall DESTDIR="$TMP/root" PREFIX=/usr
    run -0 ls -A "$TMP/root/usr/lib/systemd/system"
    [ -z "$output" ]
    [ ! -e "$TMP/root/usr/bin/eshm-recv" ]
    # and once more, with nothing left to remove
    make_here uninstall DESTDIR="$TMP/root" PREFIX=/usr
}

@test "systemd-analyze verify finds nothing to say about the units as installed" {
    command -v systemd-analyze >/dev/null ||
        skip "systemd-analyze is missing (apt-get install -y systemd)"
    install_prefix
    local u paths=()
    for u in "${UNITS[@]}"; do
        paths+=("$UNITDIR/$u")
    done
    # It checks that each ExecStart= program exists, hence the tools in
    # the same prefix; Documentation= is checked below, in that prefix
    # rather than with man(1) in the system's.
    run --separate-stderr systemd-analyze verify --man=no "${paths[@]}"
    echo "status $status"
    printf 'stdout: %s\n' "${lines[@]}"
    printf 'stderr: %s\n' "${stderr_lines[@]}"
    [ "$status" -eq 0 ]
    run -1 grep -i eshm <<<"$output"$'\n'"$stderr"

    local doc page section
    for u in "${UNITS[@]}"; do
        for doc in $(sed -n 's/^Documentation=//p' "$UNITDIR/$u"); do
            [[ $doc =~ ^man:([a-z-]+)\(([0-9])\)$ ]]
            page=${BASH_REMATCH[1]} section=${BASH_REMATCH[2]}
            echo "$u: $doc"
            [ -f "$TMP/prefix/share/man/man$section/$page.$section" ]
        done
    done
}

@test "the worker unit's command runs a command for each job of its queue, and stops cleanly on SIGTERM" {
    install_prefix
    unit_command "$UNITDIR/eshm-worker@.service"
    # what systemd would run for eshm-worker@$SEG.service, with
    # ESHM_EXEC and ESHM_JOBS from /etc/eshm/worker-$SEG.conf
    local w handler
    local -a cmd=()
    # (the message comes without its newline)
    handler="echo \"done \$(cat)\" >> $(printf %q "$TMP/done")"
    for w in "${CMD[@]}"; do
        case $w in
            '${ESHM_EXEC}') cmd+=("$handler") ;;
            '${ESHM_JOBS}') cmd+=(2) ;;
            *) cmd+=("${w//%i/$SEG}") ;;
        esac
    done
    [ "${cmd[0]}" = "$TMP/prefix/bin/eshm-recv" ]
    [ "${cmd[-1]}" = "$SEG" ]
    bg "${cmd[@]}"
    printf 'job %s\n' 1 2 3 4 5 | eshm-send "$SEG"
    wait_until 10 lines_at_least "$TMP/done" 5
    kill -TERM "$BG_PID"
    wait_exit "$BG_PID"
    # killed by SIGTERM (128+15): a clean stop to systemd, not restarted
    [ "$EXIT_STATUS" -eq 143 ]
    run -0 sort "$TMP/done"
    [ "${lines[*]}" = "done job 1 done job 2 done job 3 done job 4 done job 5" ]
}

@test "the cleaning unit's command removes an abandoned empty segment and keeps a queue and a live one" {
    install_prefix
    unit_command "$UNITDIR/eshm-clean.service"
    [ "${CMD[0]}" = "$TMP/prefix/bin/eshm-clean" ]
    # in a /dev/shm of its own, so that the sweep sees only these
    run -0 --separate-stderr private_shm "$(declare -p CMD TMP)"'
        eshm-recv -v orphan 2>"$TMP/orphan" & crashed=$!
        until grep -q reading "$TMP/orphan"; do sleep 0.01; done
        kill -KILL $crashed; wait $crashed || true   # its holder crashed
        seq 3 | eshm-send queued                      # messages for later
        eshm-recv -v live >/dev/null 2>"$TMP/live" & live=$!
        trap "kill $live" EXIT
        until grep -q reading "$TMP/live"; do sleep 0.01; done
        "${CMD[@]}"
        echo ---
        ls /dev/shm'
    [ "${lines[*]}" = "removed orphan (empty) --- eshm_live eshm_queued" ]
}

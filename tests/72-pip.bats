#!/usr/bin/env bats
# 72-pip.bats - pip install ./python, offline, and the installed module
# finding libeshm: at ESHM_LIBRARY, through the loader where make install
# put it, or saying where it looked.

load helpers

ROOT="$BATS_TEST_DIRNAME/.."
BUILD="${ESHM_BUILD:-$ROOT/build}"

# need_pip: set SYSPY to a Python with pip, setuptools and wheel: python3 on
# PATH, else Debian's (a pyenv python3 may lack them, and does not see
# Debian's python3-pip and python3-setuptools, which .ci/run installs); fail,
# saying what to install, when there is none
need_pip() {
    local p
    for p in python3 /usr/bin/python3; do
        if "$p" -c 'import importlib.util as u, sys
sys.exit(not all(u.find_spec(m) for m in ("pip", "setuptools", "wheel")))' 2>/dev/null; then
            SYSPY=$p
            return 0
        fi
    done
    echo "pip or setuptools is missing: apt-get install -y python3-venv python3-pip python3-setuptools" >&2
    return 1
}

# offline CMD...: run CMD in a network namespace of its own, with no network
offline() {
    local ns=(unshare --net)
    [ "$(id -u)" -eq 0 ] || ns=(unshare --net --map-root-user)
    "${ns[@]}" "$@"
}

# Once for the file (it is most of its time): a venv seeing the system's
# packages, and pip install ./python into it, offline, with no index and no
# pip configuration (the host's might name other places to find packages).
# The venv uses the system's pip: a pip of its own (ensurepip) costs 2.5 s
# more. The source is copied, as setuptools builds in the source folder,
# without what an earlier pip install ./python left there. The first test
# checks what pip said.
setup_file() {
    local v status=0
    VENV="$BATS_FILE_TMPDIR/venv"
    export VENV
    need_pip
    cp -r "$ROOT/python" "$BATS_FILE_TMPDIR/src"
    rm -rf "$BATS_FILE_TMPDIR/src/build" "$BATS_FILE_TMPDIR/src/"*.egg-info
    "$SYSPY" -m venv --without-pip --system-site-packages "$VENV"
    (
        for v in $(compgen -e); do
            [[ "$v" != PIP_* ]] || unset "$v"
        done
        export PIP_CONFIG_FILE=/dev/null
        offline "$VENV/bin/python" -m pip install --no-build-isolation --no-index \
            --disable-pip-version-check "$BATS_FILE_TMPDIR/src"
    ) >"$BATS_FILE_TMPDIR/pip.out" 2>&1 || status=$?
    echo "$status" >"$BATS_FILE_TMPDIR/pip.status"
}

# installed: fail, with what pip said, unless setup_file's pip install succeeded
installed() {
    if [ "$(cat "$BATS_FILE_TMPDIR/pip.status")" != 0 ]; then
        cat "$BATS_FILE_TMPDIR/pip.out" >&2
        return 1
    fi
}

# vpy CODE ARG...: run the venv's Python from an empty folder, so that only
# the installed eshm can be imported (PYTHONPATH is ignored)
vpy() {
    mkdir -p "$TMP/elsewhere"
    (cd "$TMP/elsewhere" && env -u PYTHONPATH "$VENV/bin/python" -c "$@")
}

@test "pip install ./python installs the module eshm offline, at the Makefile's version" {
    installed
    version=$(sed -n 's/^VERSION := //p' "$ROOT/Makefile")
    [ -n "$version" ]
    grep -q "^Successfully installed eshm-$version\$" "$BATS_FILE_TMPDIR/pip.out"
    # the module alone: no examples, no library
    run -0 "$VENV/bin/python" -m pip show -f eshm
    [[ "$output" == *"Location: $VENV/lib/"* ]]
    [ "$(printf '%s\n' "$output" | grep -cE '^  [^ ]+\.py$')" -eq 1 ]
    printf '%s\n' "$output" | grep -qx '  eshm.py'
    export ESHM_LIBRARY="$BUILD/libeshm.so"
    run -0 vpy 'import eshm, importlib.metadata as m
print(m.version("eshm"), eshm.__version__, m.metadata("eshm")["Requires-Python"])'
    [ "$output" = "$version $version >=3.9" ]
}

@test "the installed eshm finds the library at ESHM_LIBRARY, from any folder" {
    installed
    export ESHM_LIBRARY="$BUILD/libeshm.so"
    run -0 vpy 'import eshm; print(eshm.__file__); print(eshm.library_path)'
    [[ "${lines[0]}" == "$VENV/lib/"*"/eshm.py" ]]
    [ "${lines[1]}" = "$(realpath -s "$BUILD/libeshm.so")" ]
}

@test "the installed eshm finds libeshm.so.0 through LD_LIBRARY_PATH where make install put it" {
    installed
    make_here install DESTDIR="$TMP/root" PREFIX=/usr
    lib="$TMP/root/usr/lib"
    [ "$(readlink "$lib/libeshm.so")" = libeshm.so.0 ]
    readelf -d "$lib/libeshm.so.0" | grep -q 'SONAME.*\[libeshm\.so\.0\]'
    unset ESHM_LIBRARY
    export LD_LIBRARY_PATH="$lib"
    run -0 vpy 'import eshm; print(eshm.library_path)'
    [ "$output" = "$lib/libeshm.so.0" ]
}

@test "without ESHM_LIBRARY, and with the loader finding nothing, importing eshm says where it looked and what to do" {
    unset ESHM_LIBRARY LD_LIBRARY_PATH
    if "$VENV/bin/python" -c 'import ctypes; ctypes.CDLL("libeshm.so.0")' 2>/dev/null; then
        skip "this host's loader finds a libeshm.so.0 (make install was run): nothing to miss"
    fi
    installed
    run -1 vpy 'import eshm'
    last="${lines[${#lines[@]} - 1]}"
    [[ "$last" == "ImportError: eshm: cannot find libeshm.so; looked in: $VENV/lib/"* ]]
    [[ "$last" == *", libeshm.so.0 through the loader (LD_LIBRARY_PATH unset, ld.so.cache, /lib, /usr/lib), "* ]]
    [[ "$last" == *"$VENV/lib/libeshm.so.0. Install it with \`make install\`"* ]]
    [[ "$last" == *"set ESHM_LIBRARY to its path"* ]]
    [[ "$last" == *"add its directory to LD_LIBRARY_PATH." ]]
}

@test "make install runs ldconfig when it installs into this system as root, never into a DESTDIR" {
    printf '#!/bin/sh\necho ran >>"%s"\n' "$TMP/ldconfig.log" >"$TMP/ldconfig"
    chmod +x "$TMP/ldconfig"
    make_here install DESTDIR="$TMP/root" PREFIX=/usr LDCONFIG="$TMP/ldconfig"
    [ ! -e "$TMP/ldconfig.log" ]
    make_here install PREFIX="$TMP/prefix" LDCONFIG="$TMP/ldconfig"
    if [ "$(id -u)" -eq 0 ]; then
        [ "$(cat "$TMP/ldconfig.log")" = ran ]
    else
        [ ! -e "$TMP/ldconfig.log" ]
    fi
}

@test "the pip-installed eshm answers eshm-send and eshm-recv: a round trip" {
    installed
    export ESHM_LIBRARY="$BUILD/libeshm.so"
    # eshm-send -> Python slave -> eshm-recv --role master
    bg vpy 'import eshm, sys
with eshm.ESHM(sys.argv[1], role="slave") as ch:
    for m in ch:
        ch.write(b"ACK " + m)' "$SEG"
    slave=$BG_PID
    seq 1 100 | eshm-send "$SEG"
    wait_exit "$slave"
    [ "$EXIT_STATUS" -eq 0 ]
    run -0 eshm-recv --role master "$SEG"
    [ "$output" = "$(seq -f 'ACK %g' 1 100)" ]
    seg_gone
}

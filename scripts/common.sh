# Helpers shared by the scripts: sourced, not run.

# memcached (and ferrocache) refuse to run as root without -u.
user_flag=()
[ "$(id -u)" -eq 0 ] && user_flag=(-u root)

# A loopback port that was free a moment ago.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until something accepts connections on 127.0.0.1:$1 (up to 5 s).
wait_port() {
    for _ in $(seq 100); do
        python3 -c "import socket; socket.create_connection(('127.0.0.1', $1), 0.2)" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "error: nothing listens on port $1" >&2
    return 1
}

# memcached 1.6.45, the release ferrocache matches and the tests' oracle. Built once from the
# source in ../shared/reference (or $MEMCACHED_REFERENCE_DIR) into .reference/, and reused while
# it answers `-V` with 1.6.45. Prints the binary's path.
reference_memcached() {
    local root=${ROOT:-$PWD}
    local src=${MEMCACHED_REFERENCE_DIR:-$root/../shared/reference}
    local dest=$root/.reference
    if [ -x "$dest/memcached" ] && "$dest/memcached" -V 2>/dev/null | grep -q '^memcached 1.6.45$'; then
        echo "$dest/memcached"
        return 0
    fi
    [ -x "$src/build-memcached.sh" ] || {
        echo "error: memcached 1.6.45's source is not in $src (set MEMCACHED_REFERENCE_DIR)" >&2
        return 1
    }
    "$src/build-memcached.sh" "$dest" >&2 || return 1
    echo "$dest/memcached"
}

# For the benchmarks: memcached installed, release binaries built, an output folder.
bench_setup() {
    command -v memcached >/dev/null || { echo "install memcached first (apt-get install memcached)" >&2; exit 1; }
    cargo build --release --quiet -p ferrocache-server -p ferrocache-bench
    mkdir -p bench/out
}

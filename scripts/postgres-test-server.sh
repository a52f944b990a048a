#!/usr/bin/env bash
# A throwaway PostgreSQL for the tests of agentsight-store-postgres (Debian's `postgresql`).
#
#   scripts/postgres-test-server.sh start DIR PORT   # prints the connection URL
#   scripts/postgres-test-server.sh stop DIR [PORT]
#   scripts/postgres-test-server.sh resume DIR PORT  # starts a stopped server of DIR again
#
# `start` initializes a cluster in DIR/data (DIR must not hold one yet), starts it on
# 127.0.0.1:PORT with its socket in DIR and durability off (fsync, synchronous commit: test
# data only), creates the database `agentsight_test` and prints
# postgres://postgres@127.0.0.1:PORT/agentsight_test (trust authentication, loopback only).
# The tests read that URL from AGENTSIGHT_TEST_POSTGRES. `stop` stops the server; DIR stays, and
# `resume` starts it again with the same settings (the fault tests stop PostgreSQL under load).
# PostgreSQL refuses to run as root: as root the server runs as the `postgres` system user.
set -euo pipefail

usage() {
    echo "usage: $0 start DIR PORT | stop DIR [PORT] | resume DIR PORT" >&2
    exit 2
}

[ $# -ge 2 ] || usage
cmd="$1"
dir="$2"

bindir=""
for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ]; then
        bindir="$d"
        break
    fi
done
if [ -z "$bindir" ]; then
    if command -v initdb >/dev/null 2>&1; then
        bindir="$(dirname "$(command -v initdb)")"
    else
        echo "PostgreSQL's initdb is missing: apt-get install -y postgresql" >&2
        exit 1
    fi
fi

# Runs a PostgreSQL program as the server's user.
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# Starts the cluster of DIR/data on PORT.
pg_start() {
    as_pg "$bindir/pg_ctl" -D "$1/data" -l "$1/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $2 -k $1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >/dev/null || {
        cat "$1/server.log" >&2
        exit 1
    }
}

case "$cmd" in
start)
    [ $# -eq 3 ] || usage
    port="$3"
    case "$port" in
    '' | *[!0-9]*) echo "PORT must be a number: '$port'" >&2; exit 2 ;;
    esac
    if [ -e "$dir/data" ]; then
        echo "$dir/data exists: stop that server and remove it, or use another DIR" >&2
        exit 1
    fi
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres: "$dir"
        if ! runuser -u postgres -- test -w "$dir"; then
            echo "the postgres user cannot reach $dir (a parent directory is closed to it): use a DIR under /tmp" >&2
            exit 1
        fi
    fi
    as_pg "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --no-sync >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        exit 1
    }
    pg_start "$dir" "$port"
    as_pg "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres agentsight_test
    echo "postgres://postgres@127.0.0.1:$port/agentsight_test"
    ;;
resume)
    [ $# -eq 3 ] || usage
    [ -d "$dir/data" ] || { echo "$dir/data does not exist: use start" >&2; exit 1; }
    pg_start "$(cd "$dir" && pwd)" "$3"
    ;;
stop)
    [ $# -le 3 ] || usage
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_pg "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    fi
    ;;
*)
    usage
    ;;
esac

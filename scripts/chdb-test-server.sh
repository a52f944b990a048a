#!/usr/bin/env bash
# A throwaway "ClickHouse" on current ClickHouse: chdb (ClickHouse in process, from PyPI) behind
# scripts/chdb-http.py, which speaks the part of ClickHouse's HTTP interface the event store
# uses. The event store's contract suite runs against it as well as against Debian's
# clickhouse-server 18.16, so every statement is checked on both (docs/architecture.md,
# "ClickHouse versions").
#
#   URL=$(scripts/chdb-test-server.sh start DIR PORT)   # prints http://127.0.0.1:PORT/?database=agentsight_test
#   scripts/chdb-test-server.sh stop DIR
#
# The venv is ~/.cache/agentsight/venv-chdb (or $AGENTSIGHT_CHDB_VENV), made once by
# scripts/setup-pinned-venv.sh; chdb is fetched by name with pip's configured index.
set -euo pipefail
cd "$(dirname "$0")/.."

CHDB_VERSION="4.4.0"   # ClickHouse 26.9

cmd="${1:-}"
dir="${2:-}"
if [ -z "$cmd" ] || [ -z "$dir" ]; then
    echo "usage: $0 start DIR PORT | stop DIR" >&2
    exit 2
fi

case "$cmd" in
start)
    port="${3:?usage: $0 start DIR PORT}"
    VENV="$(scripts/setup-pinned-venv.sh chdb "$CHDB_VERSION" | tail -n 1)"
    mkdir -p "$dir/data"
    "$VENV/bin/python" scripts/chdb-http.py "$port" "$dir/data" >"$dir/url" 2>"$dir/log" &
    echo $! >"$dir/pid"
    for _ in $(seq 1 100); do
        if curl -sf "http://127.0.0.1:$port/ping" >/dev/null 2>&1; then
            echo "http://127.0.0.1:$port/?database=agentsight_test"
            exit 0
        fi
        if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
            cat "$dir/log" >&2
            echo "chdb-http.py exited" >&2
            exit 1
        fi
        sleep 0.2
    done
    cat "$dir/log" >&2
    echo "chdb-http.py did not answer on port $port" >&2
    exit 1
    ;;
stop)
    if [ -f "$dir/pid" ]; then
        kill "$(cat "$dir/pid")" 2>/dev/null || true
        rm -f "$dir/pid"
    fi
    ;;
*)
    echo "usage: $0 start DIR PORT | stop DIR" >&2
    exit 2
    ;;
esac

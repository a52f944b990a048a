#!/usr/bin/env bash
# Throwaway ClickHouse servers for the tests of agentsight-store-clickhouse (Debian's
# `clickhouse-server`, 18.16 or later).
#
#   scripts/clickhouse-test-server.sh start DIR PORT [SHARDS]   # prints the URL of shard 0
#   scripts/clickhouse-test-server.sh stop DIR
#
# `start` runs SHARDS servers (default 1, at most 10), each with a self-contained config in
# DIR/shardI (data, logs and users there, listening on 127.0.0.1 only): shard I answers HTTP on
# PORT+I, its native protocol on PORT+10+I and interserver traffic on PORT+20+I, so a shard's
# HTTP port is the port system.clusters lists for it minus 10. (Shards on one host need ports of
# their own: ClickHouse takes any loopback address with its own native port for itself.) Every config
# lists all shards as the cluster `agentsight` (remote_servers; no ZooKeeper) and takes the
# repository's deploy/clickhouse/{config.d,users.d}/agentsight-small.xml, the settings that keep
# an idle server small. The database `agentsight_test` is created on each shard, and
# http://127.0.0.1:PORT/?database=agentsight_test is printed: the tests read it from
# AGENTSIGHT_TEST_CLICKHOUSE (and find the other shards through system.clusters). `stop` stops
# every shard and waits for it to exit; DIR stays.
set -euo pipefail

usage() {
    echo "usage: $0 start DIR PORT [SHARDS] | stop DIR" >&2
    exit 2
}

[ $# -ge 2 ] || usage
cmd="$1"
dir="$2"
repo="$(cd "$(dirname "$0")/.." && pwd)"

server_bin() {
    if command -v clickhouse-server >/dev/null 2>&1; then
        command -v clickhouse-server
    else
        echo "clickhouse-server is missing: apt-get install -y clickhouse-server clickhouse-client" >&2
        exit 1
    fi
}

case "$cmd" in
start)
    [ $# -ge 3 ] && [ $# -le 4 ] || usage
    port="$3"
    shards="${4:-1}"
    case "$port" in
    '' | *[!0-9]*) echo "PORT must be a number: '$port'" >&2; exit 2 ;;
    esac
    case "$shards" in
    [1-9] | 10) ;;
    *) echo "SHARDS must be 1 to 10: '$shards'" >&2; exit 2 ;;
    esac
    bin="$(server_bin)"
    if [ -e "$dir/shard0" ]; then
        echo "$dir/shard0 exists: stop those servers and remove DIR, or use another DIR" >&2
        exit 1
    fi
    for ((i = 0; i < shards; i++)); do
        if curl -fsS -m 2 "http://127.0.0.1:$((port + i))/ping" >/dev/null 2>&1; then
            echo "a server already answers on 127.0.0.1:$((port + i)): choose another PORT" >&2
            exit 1
        fi
    done
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    cluster=""
    for ((i = 0; i < shards; i++)); do
        cluster+="<shard><replica><host>127.0.0.1</host><port>$((port + 10 + i))</port></replica></shard>"
    done
    for ((i = 0; i < shards; i++)); do
        s="$dir/shard$i"
        mkdir -p "$s/data" "$s/tmp" "$s/user_files" "$s/log" "$s/config.d" "$s/users.d"
        cp "$repo/deploy/clickhouse/config.d/agentsight-small.xml" "$s/config.d/"
        cp "$repo/deploy/clickhouse/users.d/agentsight-small.xml" "$s/users.d/"
        cat >"$s/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <logger><level>warning</level><log>$s/log/server.log</log><errorlog>$s/log/error.log</errorlog><size>10M</size><count>2</count></logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>$((port + i))</http_port>
    <tcp_port>$((port + 10 + i))</tcp_port>
    <interserver_http_port>$((port + 20 + i))</interserver_http_port>
    <interserver_http_host>127.0.0.1</interserver_http_host>
    <path>$s/data/</path>
    <tmp_path>$s/tmp/</tmp_path>
    <user_files_path>$s/user_files/</user_files_path>
    <format_schema_path>$s/format_schemas/</format_schema_path>
    <users_config>$s/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mark_cache_size>5368709120</mark_cache_size>
    <!-- As Debian's /etc/clickhouse-server/config.xml has them: agentsight-small.xml removes them. -->
    <query_log><database>system</database><table>query_log</table></query_log>
    <query_thread_log><database>system</database><table>query_thread_log</table></query_thread_log>
    <part_log><database>system</database><table>part_log</table></part_log>
    <remote_servers><agentsight>$cluster</agentsight></remote_servers>
</yandex>
XML
        cat >"$s/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
    <users><default><password></password><networks><ip>127.0.0.0/8</ip></networks><profile>default</profile><quota>default</quota></default></users>
    <quotas><default></default></quotas>
</yandex>
XML
        # The server writes no pid file unless it daemonizes: the shell records it (exec keeps the PID).
        (cd "$s" && exec "$bin" --config-file="$s/config.xml") </dev/null >"$s/log/stdout.log" 2>&1 &
        echo $! >"$s/server.pid"
    done
    for ((i = 0; i < shards; i++)); do
        url="http://127.0.0.1:$((port + i))/"
        for _ in $(seq 1 300); do
            if ! kill -0 "$(cat "$dir/shard$i/server.pid")" 2>/dev/null || [ "$(curl -fsS "${url}ping" 2>/dev/null)" = "Ok." ]; then
                break
            fi
            sleep 0.1
        done
        if ! kill -0 "$(cat "$dir/shard$i/server.pid")" 2>/dev/null || [ "$(curl -fsS "${url}ping" 2>/dev/null)" != "Ok." ]; then
            echo "ClickHouse shard $i did not answer on $url:" >&2
            tail -n 20 "$dir/shard$i/log/error.log" "$dir/shard$i/log/stdout.log" >&2 2>/dev/null || true
            exit 1
        fi
        curl -fsS --data-binary "CREATE DATABASE IF NOT EXISTS agentsight_test" "$url" >/dev/null
    done
    echo "http://127.0.0.1:$port/?database=agentsight_test"
    ;;
stop)
    [ $# -eq 2 ] || usage
    for pidfile in "$dir"/shard*/server.pid; do
        [ -f "$pidfile" ] || continue
        pid="$(cat "$pidfile")"
        if kill "$pid" 2>/dev/null; then
            for _ in $(seq 1 300); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
        fi
        rm -f "$pidfile"
    done
    ;;
*)
    usage
    ;;
esac

#!/usr/bin/env bash
# The metrics benchmark of docs/benchmarks.md, end to end:
#   1. builds the release binary;
#   2. fills a data dir with `agentsight demo` (once; reused while it exists);
#   3. starts `agentsight serve` on it and times the metrics index's load;
#   4. runs bench/metrics_bench.py: overview latency over 30 days without filters and with
#      every pair of filters, in UTC and America/New_York, the server's memory, and the same
#      overviews computed by DuckDB (from PyPI, in its own venv) over the same raw rows.
#
#   bench/run-metrics-bench.sh [--conversations 1000000] [--days 90] [--data-dir DIR]
#                              [--runs 20] [--duckdb-runs 5] [--no-duckdb]
#
# Environment: CARGO_TARGET_DIR (honoured). Results: stdout, and DIR/bench-results.json.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$repo/target}"
bin="$target/release/agentsight"
conversations=1000000
days=90
data_dir=""
runs=20
duck_runs=5
duck=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --conversations) conversations="$2"; shift 2 ;;
        --days) days="$2"; shift 2 ;;
        --data-dir) data_dir="$2"; shift 2 ;;
        --runs) runs="$2"; shift 2 ;;
        --duckdb-runs) duck_runs="$2"; shift 2 ;;
        --no-duckdb) duck=0; shift ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
data_dir="${data_dir:-$HOME/.cache/agentsight/bench-$conversations}"
geo="${AGENTSIGHT_GEO_DIR:-$repo/data/geo}" # where `serve` started in the repository reads it
log() { printf 'metrics-bench: %s\n' "$*" >&2; }

log "building the release binary"
(cd "$repo" && cargo build --release --locked -p agentsight) >&2
"$repo/scripts/fetch-geo.sh" --geo-dir "$geo" >&2 # nothing to do when the files are there

if [[ ! -f "$data_dir/agentsight.db" ]]; then
    log "filling $data_dir with $conversations demo conversations over $days days"
    start=$(date +%s)
    "$bin" demo --conversations "$conversations" --days "$days" --data-dir "$data_dir" --geo-dir "$geo" >&2
    log "demo data written in $(( $(date +%s) - start )) s"
fi
key="$("$bin" key create --agent demo --role read --data-dir "$data_dir" | tail -n 1 | tr -d '[:space:]')"

venv="$HOME/.cache/agentsight/venv-bench"
if [[ "$duck" == 1 ]] && ! "$venv/bin/python" -c 'import duckdb' 2>/dev/null; then
    log "installing duckdb into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check duckdb >&2
fi
python="python3"
[[ "$duck" == 1 ]] && python="$venv/bin/python"

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
server_log="$data_dir/server.log"
log "starting the server on 127.0.0.1:$port"
"$bin" serve --listen "127.0.0.1:$port" --data-dir "$data_dir" --geo-dir "$geo" >"$server_log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null && break
    sleep 0.1
done

echo "machine: nproc=$(nproc), cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), kernel=$(uname -r)"
echo "data: $data_dir ($(du -sh "$data_dir/agentsight.db" | cut -f1) database)"
extra=()
[[ "$duck" == 1 ]] && extra=(--duckdb --duckdb-runs "$duck_runs")
"$python" "$repo/bench/metrics_bench.py" --url "http://127.0.0.1:$port" --key "$key" \
    --db "$data_dir/agentsight.db" --pid "$pid" --runs "$runs" --json "$data_dir/bench-results.json" "${extra[@]}"
grep -o 'metrics index ready.*' "$server_log" | sed 's/\x1b\[[0-9;]*m//g' | tail -n 1

#!/usr/bin/env bash
# Benchmark a local AgentSight server with agentsight-loadgen.
#
# Builds release binaries, starts `agentsight serve` on a free loopback port
# with a throwaway data dir, creates an agent write key, runs
# `agentsight-loadgen --scenario both` (track = durable writes, healthz =
# HTTP ceiling), prints the results with the machine's nproc and CPU model,
# and stops the server with SIGTERM.
#
# Usage: crates/agentsight-loadgen/bench.sh [extra agentsight-loadgen args]
#   e.g. bench.sh --connections 32 --duration 10s --json
#        BENCH_SCENARIO=ingest bench.sh --connections 4 --duration 10s   (0.1.x span batches)
# Environment: CARGO_TARGET_DIR (honoured), BENCH_KEEP_DATA=1 keeps the data dir, BENCH_IO=0
# leaves out the bytes written (by default the load generator reads the server's /proc/PID/io),
# BENCH_SERVE_ARGS adds flags to `serve` (e.g. "--metrics-index=false"), BENCH_SCENARIO
# picks the loadgen scenario (default both), BENCH_SERVER_BIN runs that server binary
# instead of the one just built (for an A/B of two builds: copy each build's binary aside and
# alternate runs; the load generator is still the one built here). It also prints the CPU time
# the server used during the run, in all and by thread name (agentsight-writ is the writer,
# agentsight-http the HTTP workers; Linux cuts names at 15 characters): per request, a figure
# that holds when other work shares the machine.
# Exit status: that of agentsight-loadgen (non-zero when >1% errors), or 2
# when the server could not be built or started.

set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$repo_root/target}"
server_bin="${BENCH_SERVER_BIN:-$target_dir/release/agentsight}"
loadgen_bin="$target_dir/release/agentsight-loadgen"

log() { printf 'bench: %s\n' "$*" >&2; }

log "building release binaries"
(cd "$repo_root" && cargo build --release -p agentsight -p agentsight-loadgen) >&2 || {
    log "build failed"
    exit 2
}

data_dir="$(mktemp -d "${TMPDIR:-/tmp}/agentsight-bench.XXXXXX")"
server_pid=""
server_log="$data_dir/server.log"

# shellcheck disable=SC2317  # invoked via trap
cleanup() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        log "stopping server (pid $server_pid) with SIGTERM"
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$server_pid" 2>/dev/null; then
            log "server did not exit within 10s of SIGTERM; sending SIGKILL"
            kill -KILL "$server_pid" 2>/dev/null || true
        fi
        wait "$server_pid" 2>/dev/null || true
    fi
    if [[ "${BENCH_KEEP_DATA:-0}" == "1" ]]; then
        log "kept data dir $data_dir"
    else
        rm -rf "$data_dir"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Ask the kernel for a free loopback port (small race window, fine for a bench).
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null)" || port=""
if [[ -z "$port" ]]; then
    port=$(( 20000 + RANDOM % 20000 ))
fi
url="http://127.0.0.1:$port"

if [[ ! -x "$server_bin" ]]; then
    log "no server binary at $server_bin"
    exit 2
fi

log "creating agent key in $data_dir"
key="$("$server_bin" agent create bench-loadgen --data-dir "$data_dir" | tail -n 1 | tr -d '[:space:]')" || key=""
if [[ -z "$key" ]]; then
    log "could not create an agent key"
    exit 2
fi

read -r -a serve_args <<<"${BENCH_SERVE_ARGS:-}"
log "starting $server_bin serve --listen 127.0.0.1:$port ${serve_args[*]}"
"$server_bin" serve --listen "127.0.0.1:$port" --data-dir "$data_dir" "${serve_args[@]}" >"$server_log" 2>&1 &
server_pid=$!

# GET /healthz == 200? curl when present, else bash's /dev/tcp.
healthy() {
    if command -v curl >/dev/null 2>&1; then
        curl -fsS -o /dev/null --max-time 1 "$url/healthz" 2>/dev/null
        return
    fi
    local line
    exec 3<>"/dev/tcp/127.0.0.1/$port" 2>/dev/null || return 1
    printf 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' "$port" >&3
    IFS= read -r -t 1 line <&3 || line=""
    exec 3>&- 3<&-
    [[ "$line" == "HTTP/1."?" 200"* ]]
}

up=0
for _ in $(seq 1 150); do
    if ! kill -0 "$server_pid" 2>/dev/null; then
        break
    fi
    if healthy; then
        up=1
        break
    fi
    sleep 0.2
done
if [[ "$up" != "1" ]]; then
    log "server did not become healthy; last log lines:"
    tail -n 20 "$server_log" >&2 || true
    exit 2
fi

cpu_model="$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')"
[[ -n "$cpu_model" ]] || cpu_model="$(uname -m)"
# With --json, stdout stays one JSON object and the machine lines go to stderr.
info_fd=1
for arg in "$@"; do
    [[ "$arg" == "--json" ]] && info_fd=2
done
{
    echo "machine: nproc=$(nproc), cpu=$cpu_model, kernel=$(uname -r)"
    echo "server: $server_bin ($url, data dir on $(df -P "$data_dir" | awk 'NR==2 {print $1}'))"
    echo "note: load generator and server share the same $(nproc) CPU(s)"
    echo
} >&"$info_fd"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$server_pid/stat"; }
# One line per live thread of the server: "tid name utime+stime" (the name may hold spaces or
# parentheses, so the fields after it are counted from the last ')').
thread_ticks() {
    local f line tid name rest
    for f in /proc/"$server_pid"/task/*/stat; do
        line="$(cat "$f" 2>/dev/null)" || continue
        tid="${line%% *}"
        name="${line#*(}"
        name="${name%)*}"
        rest="${line##*) }"
        # rest starts at field 3 (state): utime and stime are its 12th and 13th fields.
        awk -v tid="$tid" -v name="${name// /_}" '{print tid, name, $12 + $13}' <<<"$rest"
    done
}
threads_before="$data_dir/threads.before"
threads_after="$data_dir/threads.after"
ticks_before="$(cpu_ticks)"
thread_ticks >"$threads_before"
status=0
# The bytes the server writes (its /proc/PID/io) per byte of request body, unless BENCH_IO=0.
io_args=()
[[ "${BENCH_IO:-1}" == "0" ]] || io_args=(--server-pid "$server_pid")
AGENTSIGHT_LOADGEN_KEY="$key" "$loadgen_bin" --url "$url" --scenario "${BENCH_SCENARIO:-both}" "${io_args[@]}" "$@" || status=$?
ticks_after="$(cpu_ticks)"
thread_ticks >"$threads_after"
hz="$(getconf CLK_TCK)"
{
    echo "server cpu during the run: $(awk -v a="$ticks_before" -v b="$ticks_after" -v hz="$hz" 'BEGIN {printf "%.2f", (b - a) / hz}') s"
    # By thread name, summed over the threads of that name (a thread that started during the
    # run counts from zero; one that ended during it is missing; one that used no CPU is left out).
    awk -v hz="$hz" '
        FNR == NR { before[$1] = $3; next }
        { delta[$2] += $3 - before[$1]; count[$2]++ }
        END {
            for (n in delta) {
                if (delta[n] == 0) continue
                printf "server cpu by thread: %-16s %7.2f s (%d thread%s)\n", n, delta[n] / hz, count[n], count[n] == 1 ? "" : "s"
            }
        }' "$threads_before" "$threads_after" | sort -k6,6 -rn
} >&"$info_fd"

if grep -qE 'panicked|ERROR' "$server_log"; then
    log "server log has errors or panics (first lines):"
    grep -E 'panicked|ERROR' "$server_log" | head -n 5 >&2 || true
fi
exit "$status"

"""Tracking ingest on the scale-out backend: two `agentsight serve` nodes on one PostgreSQL and
one ClickHouse (a server or a cluster), each driven by its own `agentsight-loadgen --scenario
track` at once (SDK 0.0.44 bodies, one message a request, 201 after ClickHouse took it).
Reports the messages per second of both nodes together, the latency, the errors and each
node's peak resident memory; with several `--build`s, the builds take turns round by round
(this machine is shared and noisy: compare within one run).

    python bench/scaleout_ingest.py --loadgen target/release/agentsight-loadgen \\
        --build before=/tmp/ab/old --build after=target/release/agentsight \\
        --postgres postgres://postgres@127.0.0.1:25432/bench \\
        --clickhouse 'http://127.0.0.1:25123/?database=bench' --cluster agentsight \\
        --shard 'http://127.0.0.1:25123/?database=bench' --shard 'http://127.0.0.1:25124/?database=bench' \\
        [--connections 512] [--conversations 2000] [--duration 20s] [--rounds 2] [--geo-dir DIR]

The operator's part (creating the databases) is done before: `scripts/postgres-test-server.sh`
and `scripts/clickhouse-test-server.sh start DIR PORT 2` make throwaway ones. Each round writes
to a fresh agent. Only loopback URLs are used (the load generator refuses others).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def store_flags(a) -> list[str]:
    flags = ["--postgres", a.postgres, "--clickhouse", a.clickhouse]
    if a.cluster:
        flags += ["--clickhouse-cluster", a.cluster]
        for s in a.shard:
            flags += ["--clickhouse-shard", s]
    return flags


def wait_up(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"the node on {port} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the node on {port} did not answer within {timeout} s")


def one_run(a, name: str, spec: str, round_no: int, log_dir: Path) -> dict:
    binary, *extra = spec.split()
    agent = f"bench-{name}-{round_no}-{int(time.time())}"
    out = subprocess.run([binary, "agent", "create", agent, *store_flags(a)], capture_output=True, text=True,
                         check=True)
    key = out.stdout.strip().splitlines()[-1]
    nodes = []
    for i in range(2):
        port = free_port()
        log = open(log_dir / f"{name}-{round_no}-node{i}.log", "w")
        proc = subprocess.Popen([binary, "serve", *store_flags(a), "--listen", f"127.0.0.1:{port}",
                                 "--max-connections", str(a.connections + 64),
                                 *(["--geo-dir", a.geo_dir] if a.geo_dir else []), *extra],
                                stdout=log, stderr=subprocess.STDOUT)
        nodes.append((port, proc))
    try:
        for port, proc in nodes:
            wait_up(port, proc)
        env = {**os.environ, "AGENTSIGHT_LOADGEN_KEY": key}
        gens = [
            subprocess.Popen([a.loadgen, "--url", f"http://127.0.0.1:{port}", "--scenario", "track",
                              "--connections", str(a.connections), "--conversations", str(a.conversations),
                              "--duration", a.duration, "--warmup", a.warmup, "--json",
                              *(["--rate", str(a.rate)] if a.rate else [])],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            for port, _ in nodes
        ]
        reports = [json.loads(g.communicate()[0])["track"] for g in gens]
        peaks = [peak_mb(proc.pid) for _, proc in nodes]
    finally:
        for _, proc in nodes:
            proc.terminate()
        for _, proc in nodes:
            proc.wait(timeout=60)
    return {
        "build": name,
        "round": round_no,
        "load_1min": round(os.getloadavg()[0], 1),
        "msgs_per_s": round(sum(r["req_per_sec"] for r in reports), 1),
        "per_node": [r["req_per_sec"] for r in reports],
        "errors": sum(r["errors"] for r in reports),
        "late": sum(r.get("late", 0) for r in reports),
        "error_kinds": [r["errors_by_kind"] for r in reports],
        "p50_ms": max(r["latency_ms"]["p50"] for r in reports),
        "p99_ms": max(r["latency_ms"]["p99"] for r in reports),
        "node_peak_rss_mb": peaks,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--loadgen", required=True)
    ap.add_argument("--build", action="append", required=True,
                    help="NAME=PATH of an agentsight binary, optionally followed by flags for its `serve`: "
                         "'slow=target/release/agentsight --clickhouse-batch-ms 200'")
    ap.add_argument("--postgres", required=True)
    ap.add_argument("--clickhouse", required=True)
    ap.add_argument("--cluster")
    ap.add_argument("--shard", action="append", default=[])
    ap.add_argument("--connections", type=int, default=512, help="per node")
    ap.add_argument("--conversations", type=int, default=2000, help="per node")
    ap.add_argument("--duration", default="20s")
    ap.add_argument("--warmup", default="3s")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--rate", type=int, help="per node: an open loop at this many messages a second "
                    "(--connections then only bounds the requests in flight)")
    ap.add_argument("--geo-dir", help="the nodes' geolocation files (their memory counts in the RSS)")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    builds = [b.split("=", 1) for b in a.build]
    log_dir = Path(tempfile.mkdtemp(prefix="scaleout-ingest-"))
    print(f"node logs in {log_dir}", flush=True)
    runs = []
    for r in range(1, a.rounds + 1):
        for name, path in builds:
            run = one_run(a, name, path, r, log_dir)
            runs.append(run)
            print(f"round {r} {name:10} {run['msgs_per_s']:9.1f} msgs/s  p50 {run['p50_ms']:7.1f} ms  "
                  f"p99 {run['p99_ms']:7.1f} ms  errors {run['errors']}  late {run['late']}  node peak RSS {run['node_peak_rss_mb']} MB  "
                  f"load {run['load_1min']}", flush=True)
    if a.json:
        a.json.write_text(json.dumps(runs, indent=2))
    if any(r["errors"] for r in runs):
        sys.exit(1)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Time from `agentsight serve` starting to its first metrics overview, with and without the
metrics index's snapshot file (`agentsight.index`), on an existing data dir.

Each run starts the server, polls GET /api/metrics/overview/ (the last 30 days, as the dashboard
asks) until it answers, and records the time from just before the process was spawned; then it
asks the same overview --queries more times (p50/p95), reads the server's resident memory, and
stops it with SIGTERM (timing the stop, which writes the snapshot). Modes, in the order given:

  full      the snapshot file is deleted first: every row is read
  snapshot  the file of the previous clean stop is read; nothing to replay
  replay    `agentsight demo --conversations N` writes into the data dir while the server runs
            (applied from the journal), then the server is killed with SIGKILL, so the next
            start reads the older snapshot and replays the journal after it

Every run's overview once the index is ready is compared with the previous run's (the same
numbers are expected; `replay` compares what the server answered after `demo` with what the
next start answers). Results as JSON lines on stdout.

    bench/restart_bench.py --bin target/release/agentsight --data-dir D --geo-dir G \
        --key READ_KEY --modes full,snapshot,full,snapshot
"""

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, key, timeout=120):
    req = urllib.request.Request(url, headers={"Authorization": f"Api-Key {key}", "Connection": "close"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def rss(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS", "VmHWM")):
                k, v = line.split(":")
                out[k] = int(v.split()[0]) // 1024
    return out


def serve(args, port, log):
    env = dict(os.environ, AGENTSIGHT_LOG="info")
    cmd = [args.bin, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", args.data_dir]
    if args.geo_dir:
        cmd += ["--geo-dir", args.geo_dir]
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=log, stderr=log, env=env)
    return p, t0


def first_overview(args, port, p, t0):
    url = f"http://127.0.0.1:{port}/api/metrics/overview/"
    while True:
        if p.poll() is not None:
            sys.exit(f"the server exited with {p.returncode}")
        try:
            o = get(url, args.key)
            return o, time.monotonic() - t0
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.02)


def log_fields(path, since):
    with open(path) as f:
        f.seek(since)
        text = f.read()
    out = {}
    m = re.search(r"metrics index ready.*", text)
    if m:
        for k in ("ms", "snapshot", "replayed", "entries", "conversations"):
            mm = re.search(rf"\b{k}=(\S+)", m.group(0))
            if mm:
                out[f"ready_{k}"] = mm.group(1)
    m = re.search(r"snapshot read, journal replayed.*", text)
    if m:
        mm = re.search(r"read_ms=(\d+)", m.group(0))
        out["snapshot_read_ms"] = int(mm.group(1)) if mm else None
    m = re.search(r"snapshot not used.*", text)
    if m:
        out["snapshot_not_used"] = m.group(0)[:200]
    for m in re.finditer(r"snapshot written.*", text):
        for k in ("bytes", "ms", "seq"):
            mm = re.search(rf"\b{k}=(\d+)", m.group(0))
            if mm:
                out[f"snapshot_written_{k}"] = int(mm.group(1))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--geo-dir")
    ap.add_argument("--key", required=True)
    ap.add_argument("--modes", default="full,snapshot,full,snapshot")
    ap.add_argument("--queries", type=int, default=20)
    ap.add_argument("--replay-conversations", type=int, default=20000)
    ap.add_argument("--log", default="/tmp/restart_bench.log")
    args = ap.parse_args()
    index = os.path.join(args.data_dir, "agentsight.index")
    previous = None
    log = open(args.log, "a")
    for mode in args.modes.split(","):
        if mode == "full" and os.path.exists(index):
            os.remove(index)
        port = free_port()
        since = os.path.getsize(args.log)
        p, t0 = serve(args, port, log)
        o, first_s = first_overview(args, port, p, t0)
        url = f"http://127.0.0.1:{port}/api/metrics/overview/"
        # The first answer may come from raw rows (a full load over 60 s); compare the index's.
        while get(f"http://127.0.0.1:{port}/api/metrics/status/", args.key)["phase"] != "ready":
            time.sleep(0.2)
        o = get(url, args.key)
        times = []
        for _ in range(args.queries):
            q0 = time.monotonic()
            get(url, args.key)
            times.append((time.monotonic() - q0) * 1000)
        status = get(f"http://127.0.0.1:{port}/api/metrics/status/", args.key)
        mem = rss(p.pid)
        row = {
            "mode": mode,
            "first_overview_s": round(first_s, 3),
            "p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(sorted(times)[int(len(times) * 0.95) - 1], 1),
            "rss_mb": mem.get("VmRSS"),
            "hwm_mb": mem.get("VmHWM"),
            "total_messages": o["total_messages"],
            "total_conversations": o["total_conversations"],
            "same_as_previous": None if previous is None else o == previous,
            "status": {k: status.get(k) for k in ("phase", "approx_bytes", "from_snapshot", "replayed_groups",
                                                   "full_loads", "journal_groups", "loads")},
        }
        if mode == "replay":
            d0 = time.monotonic()
            subprocess.run([args.bin, "demo", "--conversations", str(args.replay_conversations), "--seed", "11",
                            "--data-dir", args.data_dir] + (["--geo-dir", args.geo_dir] if args.geo_dir else []),
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            row["demo_s"] = round(time.monotonic() - d0, 1)
            a0 = time.monotonic()
            o = get(url, args.key)
            row["after_demo_overview_s"] = round(time.monotonic() - a0, 3)
            status = get(f"http://127.0.0.1:{port}/api/metrics/status/", args.key)
            row["after_demo_status"] = {k: status.get(k) for k in ("full_loads", "journal_groups", "loads")}
            row["after_demo_total_messages"] = o["total_messages"]
            p.send_signal(signal.SIGKILL)
            p.wait()
            row["stop"] = "SIGKILL"
        else:
            s0 = time.monotonic()
            p.send_signal(signal.SIGTERM)
            p.wait()
            row["stop"] = "SIGTERM"
            row["stop_s"] = round(time.monotonic() - s0, 2)
        log.flush()
        row.update(log_fields(args.log, since))
        previous = o
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Reads while ingest runs, and the bytes the server writes for it: A/B of server builds.

For each run: a fresh data dir, `agentsight serve` of one build (its own process), an agent key,
then `agentsight-loadgen --server-pid PID` with the scenario asked (span ingest or tracking):

  max    the closed loop (`--connections`, no rate): the build's maximum
  rate   an open loop at `--rate` requests per second (ingest: batches; track: messages) with a
         concurrent reader that gets the metrics overview and the conversation list every
         `--read-every` (the loadgen's `--read-every`), its p50/p99/max

and, in both, the bytes the server process wrote from the start of the load to `--io-settle`
after its end (`/proc/PID/io` `write_bytes`, by thread) per byte of request body it answered 201.
With `--fraction F` instead of `--rate`, first every build runs `max` `--max-runs` times
(alternating), and the rate is F times the median of the FIRST build's maxima (one rate for
every build, so their bytes and reads compare). Builds alternate in every round (A B, B A, ...).
One JSON object per run on stdout (the loadgen's report plus the build and the round), and a
summary on stderr: per build, median and range of each figure.

    bench/ingest_under_load.py --loadgen target/release/agentsight-loadgen \\
        --build before=/tmp/ab/before --build after=/tmp/ab/after \\
        --scenario ingest --fraction 0.8 --rounds 3 --duration 60s
"""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request


def free_port(lo, hi):
    for port in range(lo, hi + 1):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise SystemExit(f"no free port in {lo}-{hi}")


def healthy(url):
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


def seconds(text):
    text = text.strip()
    if text.endswith("ms"):
        return float(text[:-2]) / 1000
    if text.endswith("m"):
        return float(text[:-1]) * 60
    return float(text.rstrip("s"))


def one_run(args, name, binary, mode, rate, rnd):
    data = tempfile.mkdtemp(prefix="agentsight-iul.", dir=args.tmp)
    try:
        key = subprocess.run([binary, "agent", "create", "bench-loadgen", "--data-dir", data],
                             check=True, capture_output=True, text=True,
                             env=dict(os.environ, **args.envs.get(name, {}))).stdout.strip().splitlines()[-1].strip()
        port = free_port(args.port_from, args.port_to)
        url = f"http://127.0.0.1:{port}"
        log = open(os.path.join(data, "server.log"), "w")
        server = subprocess.Popen([binary, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data],
                                  stdout=log, stderr=subprocess.STDOUT,
                                  env=dict(os.environ, **args.envs.get(name, {})))
        try:
            for _ in range(300):
                if healthy(url) or server.poll() is not None:
                    break
                time.sleep(0.1)
            if not healthy(url):
                raise SystemExit(f"{name}: the server did not start (see {data}/server.log)")
            cmd = [args.loadgen, "--url", url, "--scenario", args.scenario, "--json",
                   "--server-pid", str(server.pid), "--io-settle", args.io_settle,
                   "--warmup", args.warmup, "--duration", args.duration]
            if args.scenario == "ingest":
                # The open loop sends rate x (warmup + window) batches: build that many (and a
                # margin), no more (building them takes a while); the closed loop --batches.
                need = args.batches if mode == "max" else int(rate * (seconds(args.warmup) + seconds(args.duration)) * 1.05) + 20
                cmd += ["--batches", str(need)]
            if mode == "rate":
                cmd += ["--rate", f"{rate:.3f}", "--connections", str(args.rate_connections),
                        "--read-every", args.read_every]
            else:
                cmd += ["--connections", str(args.connections)]
            load1 = os.getloadavg()[0]
            started = time.strftime("%H:%M:%S", time.gmtime())
            done = subprocess.run(cmd, capture_output=True, text=True,
                                  env=dict(os.environ, AGENTSIGHT_LOADGEN_KEY=key))
            if not done.stdout.strip():
                raise SystemExit(f"{name}: the load generator printed nothing: {done.stderr[-2000:]}")
            report = json.loads(done.stdout)
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            log.close()
        s = report[args.scenario]
        return {"build": name, "mode": mode, "round": rnd, "start_utc": started, "load1": load1,
                "rate_asked": rate, "passed": report["passed"], "failures": report["failures"], **s}
    finally:
        if not args.keep:
            shutil.rmtree(data, ignore_errors=True)


def summary(rows, builds):
    def rng(xs):
        xs = [x for x in xs if x is not None]
        if not xs:
            return "n/a"
        return f"{statistics.median(xs):,.2f} ({min(xs):,.2f}-{max(xs):,.2f})"

    for mode in ("max", "rate"):
        for name in builds:
            rs = [r for r in rows if r["build"] == name and r["mode"] == mode]
            if not rs:
                continue
            print(f"{mode} {name}: {len(rs)} runs", file=sys.stderr)
            print(f"  req/s                 {rng([r['req_per_sec'] for r in rs])}", file=sys.stderr)
            if rs[0].get("spans_per_sec") is not None:
                print(f"  spans/s               {rng([r['spans_per_sec'] for r in rs])}", file=sys.stderr)
            print(f"  write p99 ms          {rng([(r['latency_ms'] or {}).get('p99') for r in rs])}", file=sys.stderr)
            print(f"  written / body byte   {rng([r['io']['written_per_body_byte'] for r in rs])}", file=sys.stderr)
            threads = sorted({t for r in rs for t in r["io"]["by_thread"]})
            for t in threads:
                per = [r["io"]["by_thread"].get(t, 0) / max(r["io"]["body_bytes"], 1) for r in rs]
                print(f"    {t:<16}    {rng(per)}", file=sys.stderr)
            for path in sorted({p for r in rs for p in (r.get("reader") or {}).get("paths", {})}):
                ps = [r["reader"]["paths"][path] for r in rs if r.get("reader")]
                for q in ("p50", "p99", "max"):
                    print(f"  read {q:<4} ms {path:<32} {rng([(p['latency_ms'] or {}).get(q) for p in ps])}",
                          file=sys.stderr)


def main():
    # A stop (SIGTERM) unwinds, so every server started is stopped and its data dir removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--loadgen", required=True)
    ap.add_argument("--build", action="append", required=True, help="NAME=PATH of a server binary")
    ap.add_argument("--env", action="append", default=[],
                    help="NAME:VAR=VALUE: set VAR for the server of build NAME (repeatable)")
    ap.add_argument("--scenario", choices=("ingest", "track"), default="ingest")
    ap.add_argument("--rate", type=float, help="requests per second of the open loop")
    ap.add_argument("--fraction", type=float, help="rate = this times the first build's median maximum")
    ap.add_argument("--max-runs", type=int, default=1, help="closed-loop runs per build before the rate")
    ap.add_argument("--rounds", type=int, default=3, help="open-loop runs per build")
    ap.add_argument("--duration", default="60s")
    ap.add_argument("--warmup", default="2s")
    ap.add_argument("--io-settle", default="3s")
    ap.add_argument("--read-every", default="250ms")
    ap.add_argument("--connections", type=int, default=None, help="closed loop (ingest 4, track 64)")
    ap.add_argument("--rate-connections", type=int, default=None, help="open loop (ingest 16, track 128)")
    ap.add_argument("--batches", type=int, default=8000, help="ingest: batches built for a closed-loop run")
    ap.add_argument("--port-from", type=int, default=24000)
    ap.add_argument("--port-to", type=int, default=24999)
    ap.add_argument("--tmp", default=None, help="where the data dirs go (default $TMPDIR)")
    ap.add_argument("--keep", action="store_true", help="keep the data dirs")
    args = ap.parse_args()
    if args.connections is None:
        args.connections = 4 if args.scenario == "ingest" else 64
    if args.rate_connections is None:
        args.rate_connections = 16 if args.scenario == "ingest" else 128
    if (args.rate is None) == (args.fraction is None):
        ap.error("give exactly one of --rate and --fraction")
    builds = []
    for b in args.build:
        name, _, path = b.partition("=")
        if not path or not os.access(path, os.X_OK):
            ap.error(f"--build {b}: NAME=PATH of an executable")
        builds.append((name, path))
    envs = {}
    for e in args.env:
        name, _, kv = e.partition(":")
        var, _, value = kv.partition("=")
        if not var:
            ap.error(f"--env {e}: NAME:VAR=VALUE")
        envs.setdefault(name, {})[var] = value
    args.envs = envs
    rows = []

    def emit(row):
        rows.append(row)
        print(json.dumps(row), flush=True)
        io = row["io"]
        reads = (row.get("reader") or {}).get("paths", {})
        brief = ", ".join(f"{p} p99 {(v['latency_ms'] or {}).get('p99')}" for p, v in reads.items())
        print(f"[{row['start_utc']} load {row['load1']:.1f}] {row['mode']} {row['build']}: "
              f"{row['req_per_sec']:.1f} req/s, {io['written_per_body_byte']:.2f} B/B {brief}",
              file=sys.stderr, flush=True)

    rate = args.rate
    if rate is None:
        for i in range(args.max_runs):
            order = builds if i % 2 == 0 else builds[::-1]
            for name, path in order:
                emit(one_run(args, name, path, "max", None, i))
        first = [r["req_per_sec"] for r in rows if r["build"] == builds[0][0]]
        rate = args.fraction * statistics.median(first)
        print(f"rate: {args.fraction} x {statistics.median(first):.1f} = {rate:.1f} req/s", file=sys.stderr)
    for i in range(args.rounds):
        order = builds if i % 2 == 0 else builds[::-1]
        for name, path in order:
            emit(one_run(args, name, path, "rate", rate, i))
    summary(rows, [n for n, _ in builds])


if __name__ == "__main__":
    main()

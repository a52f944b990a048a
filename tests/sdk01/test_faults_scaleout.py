"""Scale-out under dependency faults: PostgreSQL stopped, a ClickHouse shard stopped, a node
killed with SIGKILL, all under load from the real SDKs 0.0.44 and 0.1.4 and from direct requests.

The test runs its own PostgreSQL (scripts/postgres-test-server.sh) and its own two-shard
ClickHouse (scripts/clickhouse-test-server.sh), so it can stop and start them. Two `agentsight
serve` nodes share them. Load:

* one thread per node POSTs `/api/track/` directly (a new conversation every 10 messages, so
  the PostgreSQL registry is needed all along) and reads the listing now and then, recording
  every answer;
* both SDKs send through a recording proxy that hands requests to the live nodes in turn and
  keeps every answer (an acknowledged write is a 200/201 the client saw).

Then, in turn: PostgreSQL is stopped for a few seconds, then ClickHouse shard 1 (the cluster's
second node: reads and inserts through the `Distributed` tables fail). During each, direct
requests are answered 503 with `Retry-After` and a JSON body naming the dependency (never a
500), `/readyz` is 503 naming it and `/healthz` stays 200; a node started while PostgreSQL is
down exits at once with an error naming PostgreSQL (the startup choice: fail clearly, let the
supervisor restart it). After each, both nodes take writes again and `/readyz` is 200, without
a restart. Last, node B is killed with SIGKILL under load: every request to node A keeps
succeeding. At the end, everything acknowledged (by either node, node B before it died
included) is in the store exactly once.

Figures (how long the 503s lasted, the time from a dependency's return to the first accepted
write) are printed, not asserted.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

import conftest as c01
import test_scaleout as so
from conftest import h

REPO = Path(__file__).resolve().parents[2]
PG_SCRIPT = REPO / "scripts" / "postgres-test-server.sh"
CH_SCRIPT = REPO / "scripts" / "clickhouse-test-server.sh"
OUTAGE_S = 4.0  # how long each dependency stays away (the test waits for 503s first)
DEPS = {"postgresql", "clickhouse"}


def _run(*args: str, timeout: float = 120) -> str:
    res = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, f"{' '.join(map(str, args))} exited {res.returncode}\n{res.stdout}\n{res.stderr}"
    return res.stdout.strip()


def _free_block(n: int) -> int:
    """A base port with n free ports above it (the ClickHouse script takes PORT..PORT+21)."""
    for _ in range(50):
        base = h.free_port()
        if base + n > 65000:
            continue
        ok = True
        for p in range(base, base + n):
            try:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
            except OSError:
                ok = False
                break
        if ok:
            return base
    pytest.fail("no block of free ports")


class OwnServers:
    """A PostgreSQL and a two-shard ClickHouse of this test's own, which it may stop."""

    def __init__(self) -> None:
        self.pg_dir = Path(tempfile.mkdtemp(prefix="faults-pg-", dir="/tmp"))
        self.pg_port = h.free_port()
        self.ch_dir = Path(tempfile.mkdtemp(prefix="faults-ch-", dir="/tmp"))
        self.ch_port = _free_block(22)
        self.pg_url = _run(PG_SCRIPT, "start", self.pg_dir, self.pg_port)
        self.ch_url = _run(CH_SCRIPT, "start", self.ch_dir, self.ch_port, "2").splitlines()[-1]

    def stop_pg(self) -> None:
        _run(PG_SCRIPT, "stop", self.pg_dir)

    def resume_pg(self) -> None:
        _run(PG_SCRIPT, "resume", self.pg_dir, self.pg_port)

    def _shard(self, i: int) -> Path:
        return self.ch_dir / f"shard{i}"

    def stop_shard(self, i: int) -> None:
        pid = int((self._shard(i) / "server.pid").read_text())
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        pytest.fail(f"ClickHouse shard {i} did not stop within 60 s of SIGTERM")

    def start_shard(self, i: int) -> None:
        """Starts shard i again as the script does (same config, the pid recorded for `stop`)."""
        s = self._shard(i)
        binary = shutil.which("clickhouse-server")
        assert binary, "clickhouse-server is missing"
        log = open(s / "log" / "stdout.log", "ab")
        proc = subprocess.Popen([binary, f"--config-file={s}/config.xml"], cwd=s, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        (s / "server.pid").write_text(str(proc.pid))
        url = f"http://127.0.0.1:{self.ch_port + i}/ping"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(url, timeout=1).text.strip() == "Ok.":
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        pytest.fail(f"ClickHouse shard {i} did not answer again within 60 s")

    def close(self) -> None:
        subprocess.run([str(CH_SCRIPT), "stop", str(self.ch_dir)], capture_output=True, timeout=120)
        subprocess.run([str(PG_SCRIPT), "stop", str(self.pg_dir)], capture_output=True, timeout=120)
        shutil.rmtree(self.ch_dir, ignore_errors=True)
        shutil.rmtree(self.pg_dir, ignore_errors=True)


class Answer:
    """One request and its answer, as a client saw it."""

    def __init__(self, at: float, node: int, method: str, path: str, status: int | None,
                 retry_after: str | None, body: bytes, request: bytes) -> None:
        self.at, self.node, self.method, self.path = at, node, method, path
        self.status, self.retry_after, self.body, self.request = status, retry_after, body, request

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def check_refusal(a: Answer, where: str) -> None:
    """A refusal while a dependency is away: 503, `Retry-After`, a JSON body naming it."""
    assert a.status == 503, f"{where}: {a.method} {a.path} answered {a.status}: {a.body[:300]!r}"
    assert a.retry_after and int(a.retry_after) >= 1, f"{where}: 503 without Retry-After: {a.body!r}"
    body = a.json()
    assert body and body.get("code") == "unavailable" and body.get("dependency") in DEPS, \
        f"{where}: 503 body does not name the dependency: {a.body!r}"


class Recorder:
    """A proxy handing each request to the next live node in turn, keeping every answer."""

    def __init__(self, nodes: list[so.Node]) -> None:
        self.nodes = nodes
        self.alive = [True] * len(nodes)
        self.count = 0
        self.answers: list[Answer] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _handle(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                with outer.lock:
                    live = [i for i, ok in enumerate(outer.alive) if ok]
                    i = live[outer.count % len(live)]
                    outer.count += 1
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "content-length", "connection")}
                status, retry_after, data, ctype = None, None, b"", None
                try:
                    with requests.Session() as s:
                        s.trust_env = False
                        r = s.request(self.command, outer.nodes[i].base_url + self.path, headers=headers,
                                      data=body, timeout=30)
                    status, retry_after, data = r.status_code, r.headers.get("Retry-After"), r.content
                    ctype = r.headers.get("Content-Type")
                except requests.RequestException as e:
                    data = json.dumps({"detail": f"proxy: {e}"}).encode()
                request = body
                if self.headers.get("Content-Encoding", "").lower() in ("gzip", "x-gzip"):
                    request = gzip.decompress(body)
                with outer.lock:
                    outer.answers.append(Answer(time.monotonic(), i, self.command, self.path.split("?")[0],
                                                status, retry_after, data, request))
                self.send_response(status or 502)
                self.send_header("Content-Type", ctype or "application/json")
                if retry_after:
                    self.send_header("Retry-After", retry_after)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()


class Writer(threading.Thread):
    """POSTs messages to one node directly (a new conversation every 10), reads the listing
    every 5th request, and records every answer."""

    def __init__(self, node: so.Node, index: int, key: str, tag: str) -> None:
        super().__init__(daemon=True)
        self.node, self.index, self.key, self.tag = node, index, key, tag
        self.answers: list[Answer] = []
        self.stop = threading.Event()
        self.seq = 0

    def run(self) -> None:
        s = requests.Session()
        s.trust_env = False
        hdrs = {"Authorization": f"Api-Key {self.key}", "Content-Type": "application/json"}
        while not self.stop.is_set():
            self.seq += 1
            if self.seq % 5 == 0:
                method, path, payload = "GET", "/api/conversations/", None
            else:
                content = f"{self.tag} direct {self.index} {self.seq}"
                payload = json.dumps({
                    "content": content, "sender": "user", "conversation": None, "metadata": {},
                    "conversation_id": f"{self.tag}-direct-{self.index}-{self.seq // 10}",
                    "timestamp": dt.datetime.now(dt.timezone.utc).isoformat()}).encode()
                method, path = "POST", "/api/track/"
            try:
                r = s.request(method, self.node.base_url + path, headers=hdrs, data=payload,
                              params={"page_size": 5} if method == "GET" else None, timeout=30)
                a = Answer(time.monotonic(), self.index, method, path, r.status_code, r.headers.get("Retry-After"),
                           r.content, payload or b"")
            except requests.RequestException as e:
                a = Answer(time.monotonic(), self.index, method, path, None, None, str(e).encode(), payload or b"")
            self.answers.append(a)
            time.sleep(0.03)

    def since(self, t: float) -> list[Answer]:
        return [a for a in list(self.answers) if a.at >= t]


SDK00_LOOP = """
from agentsight import conversation_tracker as t
i, errors = 0, 0
while not os.path.exists(P["stop"]):
    try:
        t.get_or_create_conversation(f'{P["tag"]}-s00-{i}', customer_id="faults")
        for j in range(3):
            t.track_human_message(f'{P["tag"]} s00 {i} {j} user')
            t.track_agent_message(f'{P["tag"]} s00 {i} {j} agent')
        errors += t.send_tracked_data()["summary"]["errors"]
    except Exception:
        errors += 1
    i += 1
    time.sleep(0.1)
emit({"conversations": i, "errors": errors})
"""

SDK01_LOOP = """
import agentsight
from agentsight import conversation, turn
assert agentsight.init(auto_instrument=False, export_interval_ms=200), "init refused the key"
i = 0
while not os.path.exists(P["stop"]):
    with conversation(f'{P["tag"]}-s01-{i}', customer_id="faults"):
        with turn():
            agentsight.user_message(f'{P["tag"]} s01 {i} user')
            agentsight.agent_message(f'{P["tag"]} s01 {i} agent')
    i += 1
    time.sleep(0.1)
agentsight.shutdown()
emit({"conversations": i})
"""


def wait_for(fn, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def readyz(node: so.Node) -> tuple[int, dict]:
    r = requests.get(node.base_url + "/readyz", timeout=30)
    return r.status_code, r.json()


def outage(name: str, dep: str, stop, start, writers: list[Writer], nodes: list[so.Node],
           during=None) -> dict:
    """Stops a dependency, checks the nodes refuse cleanly while it is away, starts it again and
    waits until both nodes take writes and are ready. Returns the figures."""
    t_stop = time.monotonic()
    stop()
    t_stopped = time.monotonic()
    # Every node refuses a direct request with a 503 naming the dependency.
    for w in writers:
        wait_for(lambda w=w: [a for a in w.since(t_stopped) if a.status == 503], f"a 503 from node {w.index} ({name})")
    for node in nodes:
        code, body = wait_for(lambda node=node: (lambda r: r if r[0] == 503 else None)(readyz(node)),
                              f"/readyz 503 on {node.base_url} ({name})")
        assert name.lower().split()[0] in json.dumps(body).lower(), f"/readyz does not name {name}: {body}"
        assert requests.get(node.base_url + "/healthz", timeout=30).status_code == 200
    if during:
        during()
    remaining = OUTAGE_S - (time.monotonic() - t_stopped)
    if remaining > 0:
        time.sleep(remaining)
    t_start = time.monotonic()
    start()
    t_back = time.monotonic()
    firsts = []
    for w in writers:
        ok = wait_for(lambda w=w: [a for a in w.since(t_back) if a.method == "POST" and a.status == 201],
                      f"an accepted write on node {w.index} after {name} came back")
        firsts.append(ok[0].at - t_back)
    for node in nodes:
        wait_for(lambda node=node: readyz(node)[0] == 200, f"/readyz 200 on {node.base_url} after {name}")
    refusals = [a for w in writers for a in w.since(t_stop) if a.at < t_back + max(firsts) and a.status != 200
                and a.status != 201]
    for a in refusals:
        check_refusal(a, name)
        assert a.json()["dependency"] == dep, f"{name}: the 503 names {a.json()['dependency']}"
    ends = [a.at for a in refusals]
    return {
        "outage_s": round(t_back - t_stopped, 1),
        "stop_took_s": round(t_stopped - t_stop, 1),
        "restart_took_s": round(t_back - t_start, 1),
        "refusals": len(refusals),
        "refusals_span_s": round(max(ends) - min(ends), 1) if ends else 0,
        "first_write_after_return_s": [round(x, 2) for x in firsts],
    }


def test_dependency_outages_and_a_killed_node_lose_nothing_acknowledged(tmp_path):
    binary = h.server_binary()
    assert binary.is_file(), f"build the release binary first: {binary}"
    py00 = c01.sdk_python00()
    if not py00:
        pytest.fail("AGENTSIGHT_SDK00_PYTHON must point at the python of the 0.0.44 venv; scripts/test.sh sets it")
    t0 = time.monotonic()
    servers = OwnServers()
    nodes: list[so.Node] = []
    recorder = None
    writers: list[Writer] = []
    sdk_threads: list[threading.Thread] = []
    stop_file = tmp_path / "stop"
    backends = None
    try:
        mp = pytest.MonkeyPatch()
        mp.setenv(so.PG_VAR, servers.pg_url)
        mp.setenv(so.CH_VAR, servers.ch_url)
        backends = so.Backends()
        mp.undo()
        key = h.last_nonempty_line(so._cli(binary, "agent", "create", "faults", *backends.flags()))
        for name in ("a", "b"):
            flags = [*backends.flags(), "--attachments-dir", str(tmp_path / f"attachments-{name}")]
            nodes.append(so.Node(binary, flags, tmp_path / f"node-{name}.log"))
        a, b = nodes
        pids = [n.proc.pid for n in nodes]
        recorder = Recorder(nodes)
        tag = uuid.uuid4().hex[:8]
        writers = [Writer(n, i, key, tag) for i, n in enumerate(nodes)]
        for w in writers:
            w.start()

        results: dict[str, object] = {}

        def sdk(label: str, py: str, code: str) -> None:
            work = tmp_path / f"sdk-{label}"
            work.mkdir()
            endpoint = so.Endpoint(recorder.url, key, nodes)
            results[label] = h.SdkRunner(endpoint, work, py).run(
                code, key=key, params={"tag": tag, "stop": str(stop_file)},
                env={"AGENTSIGHT_LOG_LEVEL": "WARNING"}, timeout=300)

        sdk_threads = [threading.Thread(target=sdk, args=("00", py00, SDK00_LOOP), daemon=True),
                       threading.Thread(target=sdk, args=("01", c01.sdk_python01(), SDK01_LOOP), daemon=True)]
        for t in sdk_threads:
            t.start()
        # Load flows through both nodes before the first fault.
        wait_for(lambda: all(len([x for x in w.answers if x.status == 201]) >= 10 for w in writers), "first writes")
        wait_for(lambda: len([x for x in recorder.answers if x.path == "/api/ingest/" and x.status == 201]) >= 2,
                 "first span batches")

        def start_while_pg_down() -> None:
            """A node started while PostgreSQL is down exits at once, naming it."""
            res = subprocess.run([str(binary), "serve", "--listen", f"127.0.0.1:{h.free_port()}",
                                  "--geo-dir", h.geo_dir(), *backends.flags()],
                                 capture_output=True, text=True, timeout=120, env=so._env())
            assert res.returncode != 0, "serve started although PostgreSQL is down"
            assert "PostgreSQL" in res.stderr + res.stdout, res.stderr[-2000:]

        figures = {
            "postgresql": outage("PostgreSQL", "postgresql", servers.stop_pg, servers.resume_pg, writers, nodes,
                                 during=start_while_pg_down),
            "clickhouse shard 1": outage("ClickHouse", "clickhouse", lambda: servers.stop_shard(1),
                                         lambda: servers.start_shard(1), writers, nodes),
        }

        # kill -9 of node B under load: node A keeps answering every request.
        time.sleep(1.0)
        with recorder.lock:
            recorder.alive[1] = False
        t_kill = time.monotonic()
        b.proc.send_signal(signal.SIGKILL)
        b.proc.wait()
        writers[1].stop.set()
        after_kill = wait_for(lambda: (lambda got: got if len(got) >= 40 else None)(writers[0].since(t_kill)),
                              "40 answers of node A after node B was killed")
        bad = [(x.method, x.status, x.body[:200]) for x in after_kill if x.status not in (200, 201)]
        assert not bad, f"node A failed requests after node B was killed: {bad[:5]}"

        stop_file.write_text("stop")
        for t in sdk_threads:
            t.join(timeout=120)
        assert set(results) == {"00", "01"}, f"an SDK run failed: {results}"
        for w in writers:
            w.stop.set()
            w.join(timeout=60)

        # Every answer a client saw from a node: 2xx, or 503 naming a dependency; never a 500.
        everything = [x for w in writers for x in w.answers] + list(recorder.answers)
        for x in everything:
            if x.status is None:
                continue  # no answer: node B was killed (its connections refused)
            if x.status >= 300:
                check_refusal(x, "load")
        lost = [x for x in everything if x.status is None and not (x.node == 1 and x.at >= t_kill - 1)]
        assert not lost, f"requests without an answer from a live node: {[(x.node, x.path, x.body) for x in lost[:5]]}"

        # What was acknowledged, by content.
        acked: dict[str, str] = {}  # content -> conversation_id
        for x in everything:
            if x.status not in (200, 201) or x.method != "POST":
                continue
            if x.path == "/api/track/":
                req = json.loads(x.request)
                acked[req["content"]] = req["conversation_id"]
            elif x.path == "/api/ingest/":
                for m in re.finditer(rf"{tag} s01 (\d+) (user|agent)", x.request.decode()):
                    acked[m.group(0)] = f"{tag}-s01-{m.group(1)}"
        killed_acks = [x for x in everything if x.node == 1 and x.method == "POST" and x.status in (200, 201)]
        kinds = {k: len([c for c in acked if f" {k} " in c]) for k in ("direct", "s00", "s01")}
        assert all(n >= 10 for n in kinds.values()), kinds

        # Read back from node A: each acknowledged message exactly once.
        stored: dict[str, int] = {}
        for cid in sorted(set(acked.values())):
            pk = a.get(key, "/api/conversations/lookup/", {"conversation_id": cid})["id"]
            for m in a.get(key, f"/api/conversations/{pk}/")["messages"]:
                if m.get("content"):
                    stored[m["content"]] = stored.get(m["content"], 0) + 1
        missing = [c for c in acked if stored.get(c, 0) == 0]
        doubled = [c for c, n in stored.items() if n > 1]
        assert not missing, f"{len(missing)} acknowledged messages are missing, e.g. {missing[:5]}"
        assert not doubled, f"messages stored more than once: {doubled[:5]}"
        # Node A was never restarted and is ready.
        assert a.proc.poll() is None and a.proc.pid == pids[0]
        assert readyz(a)[0] == 200
        statuses: dict[str, int] = {}
        for x in everything:
            statuses[str(x.status)] = statuses.get(str(x.status), 0) + 1
        print(f"\nfigures: {json.dumps(figures)}\nacknowledged messages {len(acked)} {kinds}, by node B before "
              f"its kill: {len(killed_acks)} requests; statuses seen {statuses}; SDK results {results}; "
              f"test took {time.monotonic() - t0:.0f} s")
    finally:
        stop_file.write_text("stop")
        for w in writers:
            w.stop.set()
        for t in sdk_threads:
            t.join(timeout=60)
        if recorder:
            recorder.close()
        for node in nodes:
            if node.proc.poll() is None:
                node.stop()
            else:
                node.log.close()
        if backends:
            try:
                backends.drop()
            except Exception:  # noqa: BLE001 - the servers go away below anyway
                pass
        servers.close()

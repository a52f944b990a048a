"""Scale-out end to end: the real binary on PostgreSQL and a two-shard ClickHouse cluster, two
`serve` nodes, the real SDKs 0.0.44 and 0.1.4, and the same sends against one SQLite node.

`agentsight agent create` makes the agent in PostgreSQL (`--postgres`, `--clickhouse`,
`--clickhouse-cluster`, `--clickhouse-shard`); two `agentsight serve` processes with the same
flags are the nodes. The SDKs send through a proxy that hands the requests to the two nodes in
turn (one request to A, the next to B), so a conversation created on one node gets its messages,
tools and spans through the other. Then every transcript and the overview metrics are read from
each node directly and must equal, field for field, what a SQLite `serve` answers for the same
sends: the same scenarios, run again by the same SDKs against it. A GenAI conversation exported
by the OpenTelemetry SDK to `POST /v1/traces` (tests/sdk01/test_otlp.py) is one of them.

"The same sends" is exact because each scenario runs on a clock of its own: the SDK's timestamp
function (0.0.44) or the clock OpenTelemetry stamps spans with (0.1.4) reads a time the scenario
advances explicitly, from a start the test fixes. So both runs send the same event times, and
the metrics that depend on them (bot response times, conversation durations, hours) must agree
exactly; only the server-made ids differ, and are left out of the comparison.

Needs AGENTSIGHT_TEST_POSTGRES and AGENTSIGHT_TEST_CLICKHOUSE (scripts/test.sh starts throwaway
servers and sets them) and fails without them. The test works in a PostgreSQL database and a
ClickHouse database (on every shard) of its own, dropped at the end.

Metrics for Prometheus: every node runs with `--prometheus-token`; after the comparison the
ingest outcomes of `GET /metrics` (accepted and rejected requests per plane and reason), summed
over the two scale-out nodes, must equal the SQLite node's for the same sends, and the nodes'
scrapes show the ClickHouse batcher's queues.

Attachments: after the comparison, 0.0.44 uploads files (base64 linked to a message, and
multipart standalone; one of 2.5 MiB, three 1 MiB chunks in PostgreSQL) through node A alone, and
node B lists them and downloads every one byte for byte: the bytes live in PostgreSQL, not on
the node that took them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests

import conftest as c01
from conftest import h
from test_otlp import export_otlp

PG_VAR = "AGENTSIGHT_TEST_POSTGRES"
CH_VAR = "AGENTSIGHT_TEST_CLICKHOUSE"
CLUSTER = "agentsight"  # the cluster scripts/clickhouse-test-server.sh configures
AGENT = "scaleout-main"


def _need(var: str, how: str) -> str:
    value = os.environ.get(var, "").strip()
    if not value:
        pytest.fail(f"{var} is not set: this test needs a throwaway server. Start one with {how} and "
                    f"export {var}=<the URL it prints> (scripts/test.sh does both)")
    return value


def _psql(url: str, sql: str) -> None:
    res = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, f"psql {sql!r}: {res.stderr}"


def _ch(url: str, sql: str) -> str:
    r = requests.post(url, data=sql.encode(), timeout=30)
    assert r.status_code == 200, f"ClickHouse {sql!r}: {r.text}"
    return r.text


def _env() -> dict:
    """The environment of the binary: none of the caller's AGENTSIGHT_* settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AGENTSIGHT_")}


def _cli(binary: Path, *args: str) -> str:
    res = subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=120, env=_env())
    assert res.returncode == 0, f"agentsight {' '.join(args)} exited {res.returncode}\n{res.stdout}\n{res.stderr}"
    return res.stdout


class Backends:
    """A PostgreSQL database and a ClickHouse database on every shard, of this test's own."""

    def __init__(self) -> None:
        pg = _need(PG_VAR, "`scripts/postgres-test-server.sh start \"$(mktemp -d)\" 54329`")
        ch = _need(CH_VAR, "`scripts/clickhouse-test-server.sh start \"$(mktemp -d)\" 18123 2`")
        self.name = f"so_{uuid.uuid4().hex[:12]}"
        self.admin = pg
        _psql(pg, f"CREATE DATABASE {self.name}")
        parts = urlsplit(pg)
        self.postgres = urlunsplit(parts._replace(path=f"/{self.name}"))
        base = ch.split("?")[0]
        rows = _ch(base, f"SELECT host_address, port FROM system.clusters WHERE cluster = '{CLUSTER}' "
                         "ORDER BY shard_num, replica_num").split("\n")
        # scripts/clickhouse-test-server.sh: a shard's HTTP port is its native port - 10.
        self.shards = [f"http://{host}:{int(port) - 10}/" for host, port in
                       (r.split("\t") for r in rows if r)]
        assert len(self.shards) == 2, f"expected the two-shard cluster '{CLUSTER}' at {ch}, got {self.shards}"
        for s in self.shards:
            _ch(s, f"CREATE DATABASE {self.name}")

    def flags(self) -> list[str]:
        flags = ["--postgres", self.postgres, "--clickhouse", f"{self.shards[0]}?database={self.name}",
                 "--clickhouse-cluster", CLUSTER]
        for s in self.shards:
            flags += ["--clickhouse-shard", f"{s}?database={self.name}"]
        return flags

    def drop(self) -> None:
        for s in self.shards:
            _ch(s, f"DROP DATABASE IF EXISTS {self.name}")
        _psql(self.admin, f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


class Node:
    """One `agentsight serve` process."""

    def __init__(self, binary: Path, flags: list[str], log_path: Path) -> None:
        self.port = h.free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            [str(binary), "serve", "--listen", f"127.0.0.1:{self.port}", "--geo-dir", h.geo_dir(), *flags],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=_env())
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if requests.get(self.base_url + "/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.proc.kill()
        pytest.fail(f"serve {' '.join(flags)} did not become healthy\n{self.log_tail()}")

    def log_tail(self, n: int = 60) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])

    def stop(self) -> None:
        self.proc.terminate()
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"serve did not stop within 30 s of SIGTERM\n{self.log_tail()}")
        self.log.close()
        assert rc == 0, f"serve exited {rc} after SIGTERM\n{self.log_tail()}"

    def get(self, key: str, path: str, params: dict | None = None) -> dict:
        r = requests.get(self.base_url + path, headers={"Authorization": f"Api-Key {key}"}, params=params,
                         timeout=30)
        assert r.status_code == 200, f"{self.base_url}{path} {params}: {r.status_code} {r.text}"
        return r.json()


class Alternate:
    """An HTTP proxy that hands each request to the next node in turn (A, B, A, …)."""

    def __init__(self, nodes: list[Node]) -> None:
        self.nodes = nodes
        self.count = 0
        self.per_node = [0] * len(nodes)
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
                    i = outer.count % len(outer.nodes)
                    outer.count += 1
                    outer.per_node[i] += 1
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "content-length", "connection")}
                with requests.Session() as s:
                    s.trust_env = False
                    r = s.request(self.command, outer.nodes[i].base_url + self.path, headers=headers, data=body,
                                  timeout=30, stream=True)
                    data = r.raw.read()  # as sent (no decoding)
                self.send_response(r.status_code)
                for k, v in r.headers.items():
                    if k.lower() in ("content-type", "content-encoding", "retry-after", "www-authenticate"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()


class Endpoint:
    """What the SDK runner needs of a server: where to send, the key, a log for failures."""

    def __init__(self, base_url: str, write_key: str, nodes: list[Node]) -> None:
        self.base_url, self.write_key, self.nodes = base_url, write_key, nodes

    def log_tail(self, n: int = 40) -> str:
        return "\n\n".join(f"--- {node.base_url}\n{node.log_tail(n)}" for node in self.nodes)


# 0.0.44 on the scenario's clock: every tracked item is stamped by `get_iso_timestamp`, which
# reads CLOCK; `tick(ms)` advances it (1 ms more per item, so no two items share an instant).
SDK00 = """
import datetime as _dt
from agentsight.client import main_client as _mc
CLOCK = [_dt.datetime.fromisoformat(P["t0"])]
def _stamp():
    CLOCK[0] += _dt.timedelta(milliseconds=1)
    return CLOCK[0].isoformat()
_mc.get_iso_timestamp = _stamp
def tick(ms):
    CLOCK[0] += _dt.timedelta(milliseconds=ms)

from agentsight import conversation_tracker as t
errors = 0
for i, (cid, kw, turns) in enumerate(P["conversations"]):
    t.get_or_create_conversation(cid, **kw)
    for kind, text, wait in turns:
        tick(wait)
        if kind == "user":
            t.track_human_message(text)
        elif kind == "agent":
            t.track_agent_message(text)
        elif kind == "tool":
            t.track_action(text, duration_ms=wait, tools_used={"n": i}, response="ok")
        elif kind == "tool_error":
            t.track_action(text, duration_ms=wait, error_msg="timed out")
        elif kind == "button":
            t.track_button(button_event="click", label=text, value=text)
    errors += t.send_tracked_data()["summary"]["errors"]
    tick(60_000)
emit({"errors": errors})
"""

# 0.1.4 on the scenario's clock: OpenTelemetry stamps spans and events with time.time_ns,
# replaced before anything imports it; `tick(ms)` advances it.
SDK01 = """
import time as _time
NS = [P["t0_ns"]]
_time.time_ns = lambda: NS[0]
def tick(ms):
    NS[0] += ms * 1_000_000

import agentsight
from agentsight import conversation, turn
ok = agentsight.init(auto_instrument=False, export_interval_ms=100)
assert ok, "agentsight.init() refused the key"

def tool(name, wait, fail):
    @agentsight.tool(name=name)
    def run():
        tick(wait)
        if fail:
            raise RuntimeError("timed out")
        return "ok"
    try:
        run()
    except RuntimeError:
        pass

for i, (cid, kw, turns) in enumerate(P["conversations"]):
    with conversation(cid, **kw):
        for group in turns:
            tick(5)
            with turn():
                for kind, text, wait in group:
                    tick(wait)
                    if kind == "user":
                        agentsight.user_message(text)
                    elif kind == "agent":
                        agentsight.agent_message(text)
                    elif kind in ("tool", "tool_error"):
                        tool(text, wait, kind == "tool_error")
                tick(1)
    tick(60_000)
agentsight.shutdown()
emit({"ok": True})
"""


def conversations00(tag: str) -> list:
    """Six 0.0.44 conversations: dimensions, tools (one failing), escalation, a button, feedback."""
    people = [
        ({"customer_id": "alice", "customer_ip_address": "8.8.8.8", "device": "mobile", "source": "WhatsApp",
          "language": "en", "environment": "production", "metadata": {"feedback": 5, "plan": "pro"}},
         [("user", "Where is my order?", 0), ("tool", "search_orders", 120), ("agent", "It ships tomorrow.", 900),
          ("user", "Thanks", 4000), ("agent", "You're welcome.", 700)]),
        ({"customer_id": "bob", "device": "desktop", "source": "web", "language": "de",
          "metadata": {"feedback": 1}},
         [("user", "Ich will einen Menschen", 0), ("tool", "fallback_to_human", 5), ("agent", "Einen Moment.", 300)]),
        ({"customer_id": "carol", "customer_ip_address": "81.2.69.142", "device": "tablet", "language": "en-GB"},
         [("user", "Reset my password", 0), ("tool_error", "reset_password", 2500),
          ("agent", "Sorry, that failed.", 3000), ("button", "try again", 9000), ("agent", "Retrying.", 1500)]),
        ({"customer_id": "alice", "source": "web", "environment": "production"},
         [("user", "Hello again", 0), ("agent", "Hi Alice!", 450)]),
        ({"customer_id": "dave", "device": "mobile", "source": "app", "language": "fr"},
         [("agent", "Bonjour ! Puis-je vous aider ?", 0), ("user", "Non merci", 20_000)]),
        ({"customer_id": "erin", "device": "desktop"}, []),
    ]
    return [[f"{tag}-00-{i}", kw, turns] for i, (kw, turns) in enumerate(people)]


def conversations01(tag: str) -> list:
    """Four 0.1.4 conversations of complete turns (messages, tools, a failing tool)."""
    people = [
        ({"customer_id": "frank", "customer_ip_address": "8.8.8.8", "device": "mobile", "source": "WhatsApp",
          "language": "en", "environment": "production", "metadata": {"feedback": 4, "plan": "free"}},
         [[("user", "Where is my order?", 0), ("tool", "search_orders", 150), ("agent", "Tomorrow.", 800)],
          [("user", "I want a human", 5000), ("tool", "fallback_to_human", 10), ("agent", "Connecting you.", 200)]]),
        ({"customer_id": "grace", "device": "desktop", "source": "web", "language": "es"},
         [[("user", "Hola", 0), ("agent", "¡Hola! ¿En qué puedo ayudar?", 1200)],
          [("user", "Cancelar pedido", 7000), ("tool_error", "cancel_order", 3000), ("agent", "No pude.", 400)]]),
        ({"customer_id": "alice", "device": "mobile", "metadata": {"feedback": 2}},
         [[("user", "Refund?", 0), ("agent", "Refund issued.", 2600)]]),
        ({"customer_id": "heidi", "source": "app"},
         [[("user", "ping", 0), ("agent", "pong", 50)], [("user", "ping again", 3000), ("agent", "pong", 60)]]),
    ]
    return [[f"{tag}-01-{i}", kw, turns] for i, (kw, turns) in enumerate(people)]


# Server-made identifiers and the times the servers received a row: they differ between the
# two runs by nature (ids are made by each store, receipt is wall-clock), so they are not compared.
IDS = {"id", "conversation", "message", "message_id", "conversation_pk", "trace_id", "span_id",
       "created_at", "updated_at"}


def strip_ids(value):
    """The value without server-made ids; floats to 6 decimals (an average summed in another
    order may differ in its last bits)."""
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: strip_ids(v) for k, v in value.items() if k not in IDS}
    if isinstance(value, list):
        return [strip_ids(v) for v in value]
    return value


def transcripts(node: Node, key: str, cids: list[str]) -> dict:
    out = {}
    for cid in cids:
        pk = node.get(key, "/api/conversations/lookup/", {"conversation_id": cid})["id"]
        out[cid] = strip_ids(node.get(key, f"/api/conversations/{pk}/"))
    return out


def listing(node: Node, key: str) -> list:
    page = node.get(key, "/api/conversations/", {"page_size": 100})
    return sorted((strip_ids(r) for r in page["results"]), key=lambda r: r["conversation_id"])


def overviews(node: Node, key: str, day: dt.date) -> dict:
    out = {}
    for tz in ("UTC", "America/New_York", "Asia/Kolkata"):
        params = {"from": (day - dt.timedelta(days=1)).isoformat(), "to": (day + dt.timedelta(days=1)).isoformat(),
                  "tz": tz}
        out[tz] = node.get(key, "/api/metrics/overview/", params)
        out[f"{tz} source=web"] = node.get(key, "/api/metrics/overview/", {**params, "source": "web"})
    for metric in ("messages", "avg_bot_response_time_ms", "tool_calls"):
        out[f"series {metric}"] = node.get(key, "/api/metrics/timeseries/", {
            "from": (day - dt.timedelta(days=1)).isoformat(), "to": (day + dt.timedelta(days=1)).isoformat(),
            "tz": "Asia/Kolkata", "metric": metric, "interval": "hour"})
    return strip_ids(out)


# 0.0.44 uploads through one node: a 2.5 MiB file linked to a message (base64) and a small
# standalone one (multipart); the bytes are made from a seed, the test makes the same.
SDK00_ATTACHMENTS = """
import base64, random
from agentsight import conversation_tracker as t
def blob(seed, n):
    return random.Random(seed).randbytes(n)
t.get_or_create_conversation(P["cid"])
t.track_human_message("see the log", attachments=[
    {"filename": "big.bin", "mime_type": "application/octet-stream",
     "data": base64.b64encode(blob(1, P["big"])).decode()}])
t.track_attachments([{"filename": "notes.txt", "mime_type": "text/plain", "data": blob(2, 1000)}],
                    sender="agent", mode="form_data")
r = t.send_tracked_data()
emit({"errors": r["summary"]["errors"], "attachments": r["summary"]["attachments"]})
"""


# Every node serves `GET /metrics` to this token (`serve --prometheus-token`).
SCRAPE_TOKEN = "scaleout-scrape-token-0123456789"


def scrape(node: Node) -> dict:
    """`GET /metrics` of a node, parsed: (name, frozenset of label pairs) → value."""
    r = requests.get(node.base_url + "/metrics", headers={"Authorization": f"Bearer {SCRAPE_TOKEN}"}, timeout=30)
    assert r.status_code == 200, f"{node.base_url}/metrics: {r.status_code} {r.text[:300]}"
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4"), r.headers
    out = {}
    for line in r.text.splitlines():
        if not line or line.startswith("#"):
            continue
        series, value = line.rsplit(" ", 1)
        name, _, rest = series.partition("{")
        labels = frozenset(tuple(p.split("=", 1)) for p in rest.rstrip("}").replace('"', "").split(",") if p)
        out[(name, labels)] = float(value)
    return out


def outcomes(samples: dict) -> dict:
    """The ingest outcomes of a scrape: (accepted|rejected, plane, reason) → count."""
    out = {}
    for (name, labels), v in samples.items():
        kind = {"agentsight_events_accepted_total": "accepted", "agentsight_events_rejected_total": "rejected"}
        if name in kind:
            d = dict(labels)
            out[(kind[name], d["plane"], d.get("reason", ""))] = v
    return out


def metrics_of_the_same_load(a: Node, b: Node, lite: Node) -> dict:
    """The two scale-out nodes together counted the ingest requests the SQLite node counted for
    the same sends, plane by plane; their scrapes show the ClickHouse batcher's queues."""
    sa, sb, sl = scrape(a), scrape(b), scrape(lite)
    both = outcomes(sa)
    for k, v in outcomes(sb).items():
        both[k] = both.get(k, 0) + v
    want = outcomes(sl)
    assert both == want, f"scale-out nodes {both} != sqlite {want}"
    for plane in ("tracking", "spans", "otlp"):
        assert want.get(("accepted", plane, ""), 0) > 0, f"no {plane} events accepted: {want}"
    for s in (sa, sb):
        assert s[("agentsight_metrics_engine_info", frozenset({("engine", "clickhouse"), ("phase", "ready")}))] == 1
        queue = frozenset({("queue", "messages")})
        assert s[("agentsight_store_queue_depth", queue)] == 0
        assert s[("agentsight_store_group_size_count", queue)] >= 1
        assert s[("agentsight_store_groups_failed_total", queue)] == 0
        assert not any(n.startswith("agentsight_projection_backlog") for n, _ in s), "ClickHouse has no backlog"
        assert s[("process_resident_memory_bytes", frozenset())] > 0
    assert sl[("agentsight_projection_backlog_batches", frozenset())] == 0
    assert sl[("agentsight_store_queue_depth", frozenset({("queue", "writer")}))] == 0
    return want


def attachments_cross_nodes(a: Node, b: Node, key: str, tmp_path: Path, py00: str, tag: str) -> None:
    """Files sent by 0.0.44 through node `a` download byte for byte through node `b`."""
    import random
    big = 2 * 1024 * 1024 + 512 * 1024
    want = {"big.bin": random.Random(1).randbytes(big), "notes.txt": random.Random(2).randbytes(1000)}
    cid = f"{tag}-attachments"
    work = tmp_path / "scenarios-attachments"
    work.mkdir()
    r = h.SdkRunner(Endpoint(a.base_url, key, [a]), work, py00).run(
        SDK00_ATTACHMENTS, key=key, params={"cid": cid, "big": big}, env={"AGENTSIGHT_LOG_LEVEL": "WARNING"})
    assert r["errors"] == 0, r
    pk = b.get(key, "/api/conversations/lookup/", {"conversation_id": cid})["id"]
    listing = b.get(key, f"/api/conversations/{pk}/attachments/")
    got = {att["filename"]: att for g in listing["messages"] for att in g["attachments"]}
    assert set(got) == set(want), listing
    for name, data in want.items():
        att = got[name]
        assert att["size_bytes"] == len(data), att
        res = requests.get(f"{b.base_url}/api/attachments/{att['id']}/download/",
                           headers={"Authorization": f"Api-Key {key}"}, timeout=30)
        assert res.status_code == 200, f"{name} through node B: {res.status_code} {res.text[:300]}"
        assert res.content == data, f"{name}: node B's bytes differ from what was sent to node A"


def test_two_scale_out_nodes_answer_what_one_sqlite_node_answers(tmp_path):
    binary = h.server_binary()
    assert binary.is_file(), f"build the release binary first: {binary}"
    py00 = c01.sdk_python00()
    if not py00:
        pytest.fail("AGENTSIGHT_SDK00_PYTHON must point at the python of the 0.0.44 venv; scripts/test.sh sets it")
    backends = Backends()
    nodes: list[Node] = []
    proxy = None
    try:
        so_key = h.last_nonempty_line(_cli(binary, "agent", "create", AGENT, *backends.flags()))
        data_dir = tmp_path / "sqlite"
        lite_key = h.last_nonempty_line(_cli(binary, "agent", "create", AGENT, "--data-dir", str(data_dir)))
        assert h.KEY_RE.match(so_key) and h.KEY_RE.match(lite_key)
        # The agent made by the CLI is the one every node serves.
        assert AGENT in _cli(binary, "agent", "list", *backends.flags())

        for name in ("a", "b"):
            nodes.append(Node(binary, [*backends.flags(), "--prometheus-token", SCRAPE_TOKEN],
                              tmp_path / f"node-{name}.log"))
        lite = Node(binary, ["--data-dir", str(data_dir), "--prometheus-token", SCRAPE_TOKEN],
                    tmp_path / "sqlite.log")
        nodes.append(lite)
        a, b = nodes[0], nodes[1]
        proxy = Alternate([a, b])

        tag = uuid.uuid4().hex[:8]
        otlp_cid = f"{tag}-otlp"
        start = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(hours=2)
        p00 = {"t0": start.isoformat(), "conversations": conversations00(tag)}
        p01 = {"t0_ns": int((start + dt.timedelta(minutes=30)).timestamp()) * 1_000_000_000,
               "conversations": conversations01(tag)}
        for endpoint, key, label in ((Endpoint(proxy.url, so_key, [a, b]), so_key, "scale-out"),
                                     (Endpoint(lite.base_url, lite_key, [lite]), lite_key, "sqlite")):
            work = tmp_path / f"scenarios-{label}"
            work.mkdir()
            r00 = h.SdkRunner(endpoint, work, py00).run(SDK00, key=key, params=p00,
                                                         env={"AGENTSIGHT_LOG_LEVEL": "WARNING"})
            assert r00 == {"errors": 0}, f"{label}: 0.0.44 sent with errors"
            h.SdkRunner(endpoint, work, c01.sdk_python01()).run(SDK01, key=key, params=p01,
                                                                env={"AGENTSIGHT_LOG_LEVEL": "WARNING"})
            # The OpenTelemetry exporter's GenAI conversation (tests/sdk01/test_otlp.py) over OTLP.
            sent = export_otlp(endpoint.base_url, key, otlp_cid, f"{tag}-otlp-user",
                               int((start + dt.timedelta(minutes=50)).timestamp()) * 1_000_000_000)
            assert sent["exports"] and all(sent["exports"]), f"{label}: OTLP export failed {sent}"
        # Both nodes took a share of the scale-out sends.
        assert min(proxy.per_node) >= 10, proxy.per_node

        cids = [c[0] for c in p00["conversations"] + p01["conversations"]] + [otlp_cid]
        want_transcripts = transcripts(lite, lite_key, cids)
        want_list = listing(lite, lite_key)
        want_overview = overviews(lite, lite_key, start.date())
        # The SQLite side holds what was sent (so an empty answer cannot pass).
        assert len(want_list) == len(cids), [r["conversation_id"] for r in want_list]
        assert want_overview["UTC"]["total_messages"] > 20, want_overview["UTC"]
        assert want_overview["UTC"]["bot_responses"] > 5, want_overview["UTC"]
        assert want_overview["UTC"]["human_escalation"]["conversations"] == 2, want_overview["UTC"]
        assert {t["name"] for t in want_overview["UTC"]["tools"]} >= {"search_orders", "cancel_order"}
        assert [c for c in cids if not want_transcripts[c]["messages"]] == [f"{tag}-00-5"]

        for node in (a, b):
            got = transcripts(node, so_key, cids)
            for cid in cids:
                assert got[cid] == want_transcripts[cid], f"{node.base_url}: transcript of {cid}"
            assert listing(node, so_key) == want_list, f"{node.base_url}: listing"
            got_overview = overviews(node, so_key, start.date())
            for k in want_overview:
                assert got_overview[k] == want_overview[k], f"{node.base_url}: overview {k}"
        counted = metrics_of_the_same_load(a, b, lite)
        attachments_cross_nodes(a, b, so_key, tmp_path, py00, tag)
        print(f"sends per node {proxy.per_node}; {len(cids)} conversations, "
              f"{want_overview['UTC']['total_messages']} messages, {want_overview['UTC']['bot_responses']} bot "
              f"responses averaging {want_overview['UTC']['avg_bot_response_time_ms']} ms: equal on both nodes; "
              f"ingest requests counted by /metrics, the same on both sides: {counted}")
    finally:
        if proxy:
            proxy.close()
        for node in nodes:
            node.stop()
        backends.drop()

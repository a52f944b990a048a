"""What the chaos and disk-full tests share: a recording proxy that knows what the server
acknowledged, the SDK load, and the check of the stored data against the acknowledgements.

The real SDKs hide the server's answers (0.0.44 keeps a summary, 0.1.4 exports in the
background), so the SDK processes talk to `RecordingProxy`, which forwards each request to the
server and records its body and the status the server gave: a 2xx is an acknowledgement. When
the server dies under a request the proxy answers nothing and closes the connection, so the SDK
sees what it would see without a proxy (a network error) and retries as it would.

`verify` reads everything back through the server's API and compares:

* every acknowledged 0.0.44 conversation upsert has its conversation, stored once;
* every acknowledged 0.0.44 message (`POST /api/track/`) is in its conversation's transcript;
* every span of an acknowledged 0.1.4 batch is in the archive (`GET /api/spans/`), and each
  acknowledged turn's two messages were projected into the transcript;
* nothing is stored twice: no span id twice in a conversation, no message content twice in a
  transcript (each conversation's messages are distinct by construction), no conversation id
  twice in the listing.

A 0.0.44 message has no idempotency key: when the server commits it and dies before its answer
leaves, the SDK's retry (on the network error) stores it again. `verify` tells such a duplicate
(an unanswered attempt whose identical body was sent again) from any other, and reports both;
the callers decide what they allow.
"""

from __future__ import annotations

import gzip
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

import pytest
import requests

import conftest as c01
from conftest import h
from test_restart import ACTIVATE, Restarting

# --------------------------------------------------------------------------- the proxy


@dataclass
class Record:
    method: str
    path: str
    body: bytes
    encoding: str | None
    # The server's status, or None when it answered nothing (it died under the request).
    status: int | None
    started: float
    headers: dict = field(default_factory=dict)
    answer: bytes = b""

    @property
    def acked(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def json(self):
        data = gzip.decompress(self.body) if (self.encoding or "").lower() == "gzip" else self.body
        return json.loads(data)


@dataclass
class Trigger:
    """Calls `fire` `delay` seconds after the next request of `when`: "ingest" (a span batch
    reached the proxy: fire while the server handles it) or "acked" (the server answered a span
    batch 201: fire while it projects the batch)."""

    when: str
    delay: float
    fire: Callable[[], None]
    # The request it fired on (its status: None when the kill cut it off).
    record: "Record | None" = None


class RecordingProxy:
    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.records: list[Record] = []
        self.lock = threading.Lock()
        self.trigger: Trigger | None = None
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _handle(self):
                proxy._handle(self)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def arm(self, trigger: Trigger) -> None:
        with self.lock:
            self.trigger = trigger

    def disarm(self) -> None:
        with self.lock:
            self.trigger = None

    def _take(self, when: str) -> Trigger | None:
        with self.lock:
            t = self.trigger
            if t is not None and t.when == when:
                self.trigger = None
                return t
            return None

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        n = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(n) if n else b""
        ingest = h.command == "POST" and h.path.startswith("/api/ingest/")
        rec = Record(h.command, h.path, body, h.headers.get("Content-Encoding"), None, time.time())
        if ingest and (t := self._take("ingest")):
            t.record = rec
            threading.Timer(t.delay, t.fire).start()
        headers = {k: v for k, v in h.headers.items() if k.lower() not in ("host", "connection", "keep-alive")}
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=120)
            try:
                conn.request(h.command, h.path, body=body, headers=headers)
                resp = conn.getresponse()
                answer = resp.read()
                status = resp.status
                out = {k: v for k, v in resp.getheaders()
                       if k.lower() in ("content-type", "retry-after", "www-authenticate", "content-encoding")}
            finally:
                conn.close()
        except (OSError, http.client.HTTPException):
            # The server died under the request: answer nothing, as the server itself would.
            with self.lock:
                self.records.append(rec)
            h.close_connection = True
            return
        rec.status, rec.headers, rec.answer = status, out, answer
        if ingest and status == 201 and (t := self._take("acked")):
            threading.Timer(t.delay, t.fire).start()
        with self.lock:
            self.records.append(rec)
        h.send_response(status)
        for k, v in out.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(answer)))
        h.end_headers()
        h.wfile.write(answer)

    def snapshot(self) -> list[Record]:
        with self.lock:
            return list(self.records)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# --------------------------------------------------------------------------- the SDK load

# One 0.0.44 process: conversations of a question, an answer and (every third) an action,
# each item a POST of its own, until told to stop.
SDK00_LOAD = """
import os, time
from agentsight import conversation_tracker as t
sent, gave_up = 0, 0
i = 0
while i < P["limit"] and not os.path.exists(P["stop"]):
    cid = f'{P["prefix"]}-{i:05d}'
    try:
        t.get_or_create_conversation(cid)
        t.track_human_message(f"q {cid}")
        if i % 3 == 0:
            t.track_action("lookup", duration_ms=3, tools_used={"n": i})
        t.track_agent_message(f"a {cid}")
        gave_up += t.send_tracked_data()["summary"]["errors"]
    except Exception:
        gave_up += 1
    sent += 1
    i += 1
    time.sleep(P["pause"])
emit({"sent": sent, "gave_up": gave_up})
"""

# One 0.1.4 process: conversations of one turn (a question, a tool call, an answer), exported
# in batches every 100 ms by the SDK's background exporter.
SDK01_LOAD = """
import os, time
start()

@agentsight.tool(name="lookup")
def lookup(n):
    return {"n": n}

sent = 0
i = 0
while i < P["limit"] and not os.path.exists(P["stop"]):
    cid = f'{P["prefix"]}-{i:05d}'
    with conversation(cid):
        with turn():
            agentsight.user_message(f"q {cid}")
            lookup(i)
            agentsight.agent_message(f"a {cid}")
    sent += 1
    i += 1
    time.sleep(P["pause"])
agentsight.shutdown()
emit({"sent": sent})
"""


# --------------------------------------------------------------------------- the server and the load


class Killable(Restarting):
    """A socket-activated server that can be SIGKILLed and started without waiting."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.kill_lock = threading.Lock()
        self.killed = threading.Event()

    def kill(self) -> None:
        """SIGKILL the running process (from any thread; once per process)."""
        with self.kill_lock:
            if self.proc is not None and self.proc.poll() is None and not self.killed.is_set():
                self.proc.send_signal(signal.SIGKILL)
                self.killed.set()

    def reap(self) -> int:
        assert self.proc is not None
        rc = self.proc.wait(timeout=60)
        self.killed.clear()
        return rc

    def start_only(self) -> None:
        """Starts a process on the socket without waiting for it to answer."""
        n = len(self.logs)
        self.log_path = self.log_dir / f"serve-{n}.log"
        self.logs.append(self.log_path)
        serve = [str(self.binary), "serve", "--data-dir", str(self.data_dir), "--geo-dir", h.geo_dir()]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LISTEN_", "AGENTSIGHT_"))}
        assert self.sock is not None
        fd = self.sock.fileno()
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([sys.executable, "-c", ACTIVATE, str(fd), *serve], pass_fds=(fd,),
                                         stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)


def agents(binary: Path, data_dir: Path) -> tuple[str, str]:
    key00 = h._cli_key(binary, "agent", "create", "chaos-00x", "--data-dir", str(data_dir))
    key01 = h._cli_key(binary, "agent", "create", "chaos-01x", "--data-dir", str(data_dir))
    return key00, key01


def load(server: "Killable", proxy: RecordingProxy, tmp: Path, key00: str, key01: str, tag: str,
          stop: Path, limit: int):
    py00 = c01.sdk_python00()
    if not py00:
        pytest.fail("AGENTSIGHT_SDK00_PYTHON must point at the python of the 0.0.44 venv "
                    "(scripts/setup-sdk-venv.sh 0.0.44); scripts/test.sh sets it")
    work = tmp / "sdk"
    work.mkdir(exist_ok=True)
    srv = h.Server(server.proc, proxy.url, server.data_dir, server.log_path, key00, key00, key01, server.binary)
    run00 = h.SdkRunner(srv, work, py00)
    run01 = c01.Runner01(srv, work, c01.sdk_python01())
    env = {"AGENTSIGHT_LOG_LEVEL": "WARNING"}
    common = {"stop": str(stop), "limit": limit, "pause": 0.02}
    results: dict = {}

    def run(name, fn):
        try:
            results[name] = fn()
        except BaseException as e:  # noqa: BLE001 - pytest.fail raises a BaseException
            results[name] = e

    threads = [
        threading.Thread(target=run, args=("0.0.44", lambda: run00.run(
            SDK00_LOAD, key=key00, env=env, timeout=3600, params={**common, "prefix": f"{tag}-00x"}))),
        threading.Thread(target=run, args=("0.1.4", lambda: run01.run(
            SDK01_LOAD, key=key01, env=env, timeout=3600, params={**common, "prefix": f"{tag}-01x"}))),
    ]
    for t in threads:
        t.start()
    return threads, results


def finish(threads, results) -> dict:
    for t in threads:
        t.join(timeout=600)
        assert not t.is_alive(), f"the {t.name} SDK process did not finish"
    for r in results.values():
        if isinstance(r, BaseException):
            raise r
    return results


def check_files(binary: Path, data_dir: Path) -> str:
    res = subprocess.run([str(binary), "check", "--data-dir", str(data_dir), "--geo-dir", h.geo_dir()],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, f"agentsight check found damage:\n{res.stdout}\n{res.stderr}"
    return res.stdout



# --------------------------------------------------------------------------- reading back


def _session(key: str) -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    s.headers["Authorization"] = f"Api-Key {key}"
    return s


def _get(s: requests.Session, url: str, params: dict | None = None) -> dict:
    r = s.get(url, params=params, timeout=120)
    assert r.status_code == 200, f"GET {url} {params or ''} -> {r.status_code}: {r.text[:500]}"
    return r.json()


def stored_conversations(base_url: str, key: str) -> tuple[dict[str, int], list[str]]:
    """Every conversation of the agent: conversation id -> pk, and the ids listed twice."""
    s = _session(key)
    ids: dict[str, int] = {}
    twice: list[str] = []
    page = 1
    while True:
        body = _get(s, base_url + "/api/conversations/", {"page": page, "page_size": 100})
        for row in body["results"]:
            if row["conversation_id"] in ids:
                twice.append(row["conversation_id"])
            ids[row["conversation_id"]] = row["id"]
        if not body.get("next"):
            return ids, twice
        page += 1


def transcripts(base_url: str, key: str, pks) -> dict[int, list[tuple[str, str]]]:
    s = _session(key)
    return {pk: [(m["sender"], m["content"]) for m in _get(s, base_url + f"/api/conversations/{pk}/")["messages"]]
            for pk in pks}


def stored_span_ids(base_url: str, key: str, cid: str) -> list[str]:
    s = _session(key)
    out: list[str] = []
    page = 1
    while True:
        body = _get(s, base_url + "/api/spans/",
                    {"conversation_id": cid, "payload": "false", "page": page, "page_size": 100})
        out.extend(r["span_id"] for r in body["results"])
        if not body.get("next"):
            return out
        page += 1


# --------------------------------------------------------------------------- the comparison


@dataclass
class Verdict:
    acked_conversations00: int = 0
    acked_messages00: int = 0
    acked_batches01: int = 0
    acked_spans01: int = 0
    acked_turns01: int = 0
    unanswered: int = 0
    missing: list = field(default_factory=list)
    duplicated: list = field(default_factory=list)
    # 0.0.44 messages and actions sent again after an attempt the server never answered: the
    # re-sends the server must store once (docs/sdk-protocol.md).
    resent00: int = 0

    def summary(self) -> dict:
        return {
            "acknowledged": {"conversations_00x": self.acked_conversations00, "messages_00x": self.acked_messages00,
                             "batches_01x": self.acked_batches01, "spans_01x": self.acked_spans01,
                             "turns_01x": self.acked_turns01},
            "unanswered_requests": self.unanswered,
            "missing": len(self.missing), "duplicated": len(self.duplicated),
            "resent_after_no_answer_00x": self.resent00,
        }


def _entry(doc: dict) -> str:
    """The transcript entry a 0.0.44 message or action POST makes."""
    return f"Action {doc['action_name']} performed" if "action_name" in doc else doc["content"]


def verify(records: list[Record], base_url: str, key00: str, key01: str) -> Verdict:
    v = Verdict()
    v.unanswered = sum(1 for r in records if r.status is None)
    # ---- 0.0.44: conversations and messages
    ids00, twice00 = stored_conversations(base_url, key00)
    v.duplicated += [f"0.0.44 conversation {c} listed twice" for c in twice00]
    acked_cids: set[str] = set()
    # Transcript entries: a message (`/api/track/`) is its content, an action
    # (`/api/action_logs/`) "Action <name> performed"; each (conversation, entry) is distinct.
    acked_entries: list[tuple[object, str, str]] = []  # (pk or None, conversation_id, entry)
    attempts: dict[bytes, list[Record]] = {}
    entry_routes = ("/api/track/", "/api/action_logs/")
    for r in records:
        route = r.path.split("?")[0]
        if r.method != "POST" or route not in ("/api/conversations/", *entry_routes):
            continue
        if route in entry_routes:
            attempts.setdefault(r.body, []).append(r)
        if not r.acked:
            continue
        doc = r.json()
        if route == "/api/conversations/":
            acked_cids.add(doc["conversation_id"])
        else:
            acked_entries.append((doc.get("conversation"), doc.get("conversation_id"), _entry(doc)))
    v.acked_conversations00, v.acked_messages00 = len(acked_cids), len(acked_entries)
    v.missing += [f"0.0.44 conversation {c}" for c in sorted(acked_cids - set(ids00))]
    texts00 = transcripts(base_url, key00, sorted(set(ids00.values())))
    for pk_or_none, cid, entry in acked_entries:
        pk = pk_or_none if isinstance(pk_or_none, int) else ids00.get(cid)
        if entry not in [c for _, c in texts00.get(pk, [])]:
            v.missing.append(f"0.0.44 entry {entry!r} (conversation {pk})")
    # Entries sent again after an attempt the server never answered (each must be stored once).
    v.resent00 = sum(1 for tries in attempts.values() if len(tries) > 1 and any(t.status is None for t in tries))
    for pk, entries in texts00.items():
        seen: dict[str, int] = {}
        for _, content in entries:
            seen[content] = seen.get(content, 0) + 1
        for content, n in seen.items():
            if n > 1:
                v.duplicated.append(f"0.0.44 {content!r} stored {n} times (conversation {pk})")
    # ---- 0.1.4: span batches
    acked_spans: dict[str, set[str]] = {}
    acked_turns: set[str] = set()
    for r in records:
        if not (r.method == "POST" and r.path.startswith("/api/ingest/") and r.acked):
            continue
        v.acked_batches01 += 1
        for block in r.json()["conversations"]:
            cid = block["conversation_id"]
            for span in block["spans"]:
                acked_spans.setdefault(cid, set()).add(span["span_id"])
                v.acked_spans01 += 1
                if span.get("kind") == "turn":
                    acked_turns.add(cid)
    v.acked_turns01 = len(acked_turns)
    ids01, twice01 = stored_conversations(base_url, key01)
    v.duplicated += [f"0.1.4 conversation {c} listed twice" for c in twice01]
    for cid, span_ids in sorted(acked_spans.items()):
        got = stored_span_ids(base_url, key01, cid)
        for sid in sorted(span_ids - set(got)):
            v.missing.append(f"0.1.4 span {sid} of {cid}")
        if len(got) != len(set(got)):
            v.duplicated.append(f"0.1.4 spans of {cid} stored twice: {sorted(got)}")
    texts01 = transcripts(base_url, key01, sorted(set(ids01.values())))
    by_cid = {cid: texts01[pk] for cid, pk in ids01.items()}
    for cid in sorted(acked_turns):
        entries = [c for _, c in by_cid.get(cid, [])]
        for want in (f"q {cid}", f"a {cid}"):
            n = entries.count(want)
            if n == 0:
                v.missing.append(f"0.1.4 message {want!r}")
            elif n > 1:
                v.duplicated.append(f"0.1.4 message {want!r} projected {n} times")
    for cid, entries in by_cid.items():
        contents = [c for _, c in entries]
        if cid not in acked_turns and len(contents) != len(set(contents)):
            v.duplicated.append(f"0.1.4 {cid}: an entry twice: {contents}")
    return v

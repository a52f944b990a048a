"""Harness for driving the real AgentSight Python SDK 0.1.4 against our server.

It reuses the 0.0.44 suite's server and scenario runner (tests/sdk/conftest.py, loaded under
another module name) and adds what 0.1.x needs:

* `server01`: one `agentsight serve` for the session, with agents made by the CLI (`sdk01-main`
  with write and read keys, a custom environment `staging`, and `sdk01-other`).
* `proxy`: a recording HTTP proxy in front of the server. It forwards everything, records
  each request (method, path, headers, body size) and can be told to answer the next ingest
  POSTs itself (a 500 *after* forwarding, a 400, a 429) or to strip `capabilities` from
  `/api/me/`: the knobs of Part C behaviours 13 and 14, with the real server behind.
* `openai_standin`: a tiny OpenAI-compatible HTTP server (chat completions and embeddings)
  that answers with fixed usage figures, so the real `openai` package, instrumented by the
  SDK, produces the llm spans.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("sdk00_harness", HERE.parent / "sdk" / "conftest.py")
h = importlib.util.module_from_spec(_spec)
sys.modules["sdk00_harness"] = h
assert _spec.loader is not None
_spec.loader.exec_module(h)

SDK_VERSION = "0.1.4"
new_cid = h.new_cid  # fixtures re-exported for this suite
run_tag = h.run_tag

PREAMBLE_01 = '''
import agentsight
from agentsight import conversation, turn

def start(**kw):
    kw.setdefault("auto_instrument", False)
    kw.setdefault("export_interval_ms", 100)
    ok = agentsight.init(**kw)
    assert ok, "agentsight.init() refused the key"
    return ok
'''


def sdk_python01() -> str:
    return os.environ.get("AGENTSIGHT_SDK01_PYTHON") or sys.executable


def sdk_python00() -> str | None:
    """The 0.0.44 interpreter, for the cross-SDK test (scripts/test.sh sets it)."""
    return os.environ.get("AGENTSIGHT_SDK00_PYTHON")


def _version_of(py: str) -> str:
    probe = "from importlib import metadata; print(metadata.version('agentsight'))"
    res = subprocess.run([py, "-c", probe], capture_output=True, text=True, timeout=60)
    return h.last_nonempty_line(res.stdout) if res.returncode == 0 else res.stderr.strip()


@pytest.fixture(scope="session")
def server01(tmp_path_factory):
    binary = h.server_binary()
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        pytest.fail(f"agentsight server binary not found at {binary}; build it with `cargo build --release`")
    got = _version_of(sdk_python01())
    if got != SDK_VERSION:
        pytest.fail(f"{sdk_python01()} must have agentsight=={SDK_VERSION} (got {got!r}); "
                    f"run `scripts/setup-sdk-venv.sh {SDK_VERSION}` and use its python")
    data_dir = tmp_path_factory.mktemp("agentsight01-data")
    log_dir = tmp_path_factory.mktemp("agentsight01-log")
    write_key = h._cli_key(binary, "agent", "create", "sdk01-main", "--data-dir", str(data_dir))
    read_key = h._cli_key(binary, "key", "create", "--agent", "sdk01-main", "--role", "read", "--data-dir", str(data_dir))
    other_key = h._cli_key(binary, "agent", "create", "sdk01-other", "--data-dir", str(data_dir))
    h._cli(binary, "agent", "env", "sdk01-main", "--add", "staging", "--data-dir", str(data_dir))
    port = h.free_port()
    log_path = log_dir / f"serve-{port}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(binary), "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", str(data_dir),
             "--geo-dir", h.geo_dir()],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=str(log_dir))
    srv = h.Server(proc, f"http://127.0.0.1:{port}", data_dir, log_path, write_key, read_key, other_key, binary)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if srv.session.get(srv.base_url + "/healthz", timeout=2).status_code == 200:
                break
        except requests.RequestException:
            pass
        time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail(f"server did not become healthy\n{srv.log_tail()}")
    if proc.poll() is not None:
        pytest.fail(f"server exited early\n{srv.log_tail()}")
    yield srv
    proc.terminate()
    try:
        rc = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"server did not exit within 10 s of SIGTERM\n{srv.log_tail()}")
    assert rc == 0, f"server exited with {rc} after SIGTERM\n{srv.log_tail()}"


# --------------------------------------------------------------------------- proxy


@dataclass
class Seen:
    method: str
    path: str
    headers: dict
    body_len: int
    status: int


@dataclass
class ProxyState:
    upstream: str
    seen: list = field(default_factory=list)
    # Answers to give to the next ingest POSTs, in order: ("forward-then", status) forwards the
    # request and answers `status` instead; ("answer", status, body, headers) answers alone.
    ingest_plan: list = field(default_factory=list)
    strip_capabilities: bool = False
    # One-shot answers for any route: (method, path prefix, status, body, headers).
    plan_any: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ingests(self) -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if s.method == "POST" and s.path.startswith("/api/ingest/")]

    def reset(self) -> None:
        with self.lock:
            self.seen.clear()
            self.ingest_plan.clear()
            self.plan_any.clear()
            self.strip_capabilities = False


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: ProxyState

    def log_message(self, *a):  # quiet
        pass

    def _forward(self, body: bytes) -> tuple[int, dict, bytes]:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length", "connection")}
        with requests.Session() as s:
            s.trust_env = False
            r = s.request(self.command, self.state.upstream + self.path, headers=headers, data=body, timeout=30)
        out_headers = {k: v for k, v in r.headers.items()
                       if k.lower() in ("content-type", "retry-after", "www-authenticate")}
        return r.status_code, out_headers, r.content

    def _handle(self) -> None:
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        st = self.state
        plan = None
        is_ingest = self.command == "POST" and self.path.startswith("/api/ingest/")
        with st.lock:
            if is_ingest and st.ingest_plan:
                plan = st.ingest_plan.pop(0)
            for i, (m, prefix, status, rbody, rheaders) in enumerate(st.plan_any):
                if plan is None and m == self.command and self.path.startswith(prefix):
                    plan = ("answer", status, rbody, rheaders)
                    st.plan_any.pop(i)
                    break
        if plan and plan[0] == "answer":
            status, rbody, rheaders = plan[1], plan[2].encode(), dict(plan[3])
            rheaders.setdefault("Content-Type", "application/json")
        else:
            status, rheaders, rbody = self._forward(body)
            if plan and plan[0] == "forward-then":
                status, rbody, rheaders = plan[1], b'{"detail": "proxy says no"}', {"Content-Type": "application/json"}
            if self.path.startswith("/api/me/") and st.strip_capabilities and status == 200:
                doc = json.loads(rbody)
                doc["capabilities"] = []
                rbody = json.dumps(doc).encode()
        with st.lock:
            st.seen.append(Seen(self.command, self.path, dict(self.headers.items()), len(body), status))
        self.send_response(status)
        for k, v in rheaders.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(rbody)))
        self.end_headers()
        self.wfile.write(rbody)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _handle


@pytest.fixture(scope="session")
def proxy_server(server01):
    state = ProxyState(server01.base_url)
    handler = type("Handler", (_ProxyHandler,), {"state": state})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield state, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture
def proxy(proxy_server):
    state, url = proxy_server
    state.reset()
    state.url = url
    yield state
    state.reset()


# --------------------------------------------------------------------------- openai stand-in

USAGE = {"prompt_tokens": 120, "completion_tokens": 45, "total_tokens": 165,
         "prompt_tokens_details": {"cached_tokens": 40, "audio_tokens": 0},
         "completion_tokens_details": {"reasoning_tokens": 10, "audio_tokens": 0}}


class _OpenAIHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    calls: list

    def log_message(self, *a):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        req = json.loads(self.rfile.read(n) or b"{}")
        self.calls.append({"path": self.path, "body": req})
        model = req.get("model", "gpt-4o-mini")
        if self.path.endswith("/chat/completions"):
            doc = {"id": "chatcmpl-standin", "object": "chat.completion", "created": int(time.time()),
                   "model": f"{model}-2024-07-18" if model == "gpt-4o-mini" else model,
                   "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                                "message": {"role": "assistant", "content": "It ships tomorrow.", "refusal": None}}],
                   "usage": USAGE}
        elif self.path.endswith("/embeddings"):
            doc = {"object": "list", "model": model,
                   "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2, 0.3]}],
                   "usage": {"prompt_tokens": 8, "total_tokens": 8}}
        else:
            doc = {"error": {"message": f"no route {self.path}"}}
        body = json.dumps(doc).encode()
        self.send_response(200 if "error" not in doc else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="session")
def openai_standin():
    calls: list = []
    handler = type("OpenAIHandler", (_OpenAIHandler,), {"calls": calls})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield {"url": f"http://127.0.0.1:{httpd.server_address[1]}/v1", "calls": calls}
    httpd.shutdown()


# --------------------------------------------------------------------------- runners


class Runner01(h.SdkRunner):
    """Runs 0.1.4 scenarios: the 0.0.x preamble plus `start()`; endpoint may be the proxy."""

    def run(self, code: str, *, endpoint: str | None = None, env: dict | None = None, **kw) -> Any:
        env = dict(env or {})
        if endpoint:
            env["AGENTSIGHT_API_ENDPOINT"] = endpoint
        env.setdefault("AGENTSIGHT_LOG_LEVEL", "DEBUG")
        return super().run(PREAMBLE_01 + "\n" + __import__("textwrap").dedent(code), env=env, **kw)


@pytest.fixture(scope="session")
def sdk01(server01, tmp_path_factory) -> Runner01:
    return Runner01(server01, tmp_path_factory.mktemp("sdk01-scenarios"), sdk_python01())


@pytest.fixture(scope="session")
def sdk00(server01, tmp_path_factory):
    py = sdk_python00()
    if not py:
        pytest.fail("AGENTSIGHT_SDK00_PYTHON must point at the python of the 0.0.44 venv "
                    "(scripts/setup-sdk-venv.sh 0.0.44); scripts/test.sh sets it")
    got = _version_of(py)
    if got != "0.0.44":
        pytest.fail(f"{py} must have agentsight==0.0.44 (got {got!r})")
    return h.SdkRunner(server01, tmp_path_factory.mktemp("sdk00-scenarios"), py)


def wait_for(fn, timeout: float = 10.0, what: str = "condition"):
    """Polls `fn` until it returns a truthy value (ingest is asynchronous in the SDK)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}; last value {last!r}")


def gunzip_ok(data: bytes) -> bytes:
    return gzip.decompress(data)

"""Harness for driving the real AgentSight Python SDK 0.0.44 against our server.

One `agentsight serve` process is started for the whole session, on a free
loopback port, with a fresh data dir. Agents and keys are created with the CLI
before the server starts. Every SDK scenario runs in its own Python subprocess
(0.0.44 builds process-global singletons at import time), from an empty temp dir
(no `.env`), with only the AGENTSIGHT_* variables the scenario needs. The
scenario prints one JSON document on its last stdout line; tests parse it and
then check what the server's read API returns.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
SDK_VERSION = "0.0.44"
KEY_RE = re.compile(r"^ags_[0-9a-f]{32}_[0-9a-f]{6}$")
HTTP_TIMEOUT = 15

# Variables the 0.0.x/0.1.x SDKs read; none may leak from the caller's shell.
SCRUBBED_ENV_PREFIX = "AGENTSIGHT_"


# --------------------------------------------------------------------------- paths


def server_binary() -> Path:
    explicit = os.environ.get("AGENTSIGHT_BIN")
    if explicit:
        return Path(explicit)
    target = os.environ.get("CARGO_TARGET_DIR")
    if target:
        return Path(target) / "release" / "agentsight"
    return REPO / "target" / "release" / "agentsight"


def sdk_python() -> str:
    return os.environ.get("AGENTSIGHT_SDK_PYTHON") or sys.executable


# --------------------------------------------------------------------------- helpers


def parse_ts(value: str) -> datetime:
    """Parse an ISO 8601 timestamp; a value without an offset is UTC."""
    assert isinstance(value, str) and value, f"not a timestamp: {value!r}"
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt


def assert_utc_z(value: Any, what: str) -> None:
    assert isinstance(value, str) and value.endswith("Z"), f"{what} should be ISO 8601 UTC ending in Z, got {value!r}"
    parse_ts(value)


def assert_same_instant(server_value: str, sdk_value: str, what: str, tolerance_ms: float = 1.0) -> None:
    """The server may keep fewer fractional digits than the SDK's microseconds."""
    a, b = parse_ts(server_value), parse_ts(sdk_value)
    delta = abs((a - b).total_seconds()) * 1000
    assert delta <= tolerance_ms, f"{what}: server has {server_value}, SDK sent {sdk_value} ({delta:.3f} ms apart)"


def last_nonempty_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def assert_field_error(resp: requests.Response, field_name: str, statuses=(400,)) -> dict:
    """A DRF-shaped 4xx that names `field_name`.

    A 400 must be the field map `{"field": ["msg", ...]}` (the SDK joins the
    messages with ', '.join, so they must be strings). Any other 4xx may
    instead name the field inside `detail`.
    """
    assert resp.status_code in statuses, f"expected {statuses}, got {resp.status_code}: {resp.text[:500]}"
    body = resp.json()
    assert isinstance(body, dict), f"error body must be a JSON object, got {resp.text[:500]}"
    if field_name in body:
        msgs = body[field_name]
        assert isinstance(msgs, list) and msgs and all(isinstance(m, str) for m in msgs), (
            f"'{field_name}' errors must be a non-empty list of strings: {body}"
        )
    else:
        assert resp.status_code != 400, f"400 body must be keyed by the field '{field_name}': {body}"
        assert field_name in str(body.get("detail", "")).lower(), f"4xx body does not name '{field_name}': {body}"
    return body


# --------------------------------------------------------------------------- server


@dataclass
class Server:
    proc: subprocess.Popen
    base_url: str
    data_dir: Path
    log_path: Path
    write_key: str
    read_key: str
    other_key: str
    bin: Path
    session: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self) -> None:
        self.session.trust_env = False  # never route loopback through a proxy

    # raw HTTP -----------------------------------------------------------------
    def request(self, method: str, path: str, key: str | None | bool = True, **kw) -> requests.Response:
        """One request on its own connection, so that a connection the server drops after
        one test's refused request cannot fail the next test (that behaviour has its
        own test: test_raw_inputs.test_refused_post_keeps_connection_usable)."""
        headers = dict(kw.pop("headers", {}) or {})
        if key is True:
            key = self.write_key
        if key:
            headers.setdefault("Authorization", f"Api-Key {key}")
        kw.setdefault("timeout", HTTP_TIMEOUT)
        with requests.Session() as s:
            s.trust_env = False  # never route loopback through a proxy
            return s.request(method, self.base_url + path, headers=headers, **kw)

    def get(self, path: str, **kw) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw) -> requests.Response:
        return self.request("POST", path, **kw)

    def get_json(self, path: str, key: str | bool = True, params: dict | None = None) -> Any:
        r = self.get(path, key=key, params=params)
        assert r.status_code == 200, f"GET {path} {params or ''} -> {r.status_code}: {r.text[:1000]}"
        return r.json()

    # read API -----------------------------------------------------------------
    def list_conversations(self, key: str | bool = True, **params) -> dict:
        q = {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in params.items()}
        body = self.get_json("/api/conversations/", key=key, params=q)
        assert isinstance(body, dict) and isinstance(body.get("results"), list), body
        return body

    def rows(self, conversation_id: str, key: str | bool = True, include_deleted: bool = True) -> list[dict]:
        """Every conversation row the agent has for this string id."""
        body = self.list_conversations(key=key, conversation_id=conversation_id, include_deleted=include_deleted)
        rows = [r for r in body["results"] if r.get("conversation_id") == conversation_id]
        assert body["count"] == len(body["results"]), f"list count disagrees with results: {body}"
        return rows

    def one(self, conversation_id: str, key: str | bool = True) -> dict:
        rows = self.rows(conversation_id, key=key)
        assert len(rows) == 1, f"expected exactly one row for {conversation_id!r}, got {rows}"
        return rows[0]

    def lookup(self, conversation_id: str, key: str | bool = True) -> int:
        body = self.get_json("/api/conversations/lookup/", key=key, params={"conversation_id": conversation_id})
        pk = body.get("id")
        assert isinstance(pk, int) and not isinstance(pk, bool) and pk > 0, f"lookup id must be a positive int: {body}"
        assert body.get("conversation_id") == conversation_id, body
        return pk

    def detail(self, pk: int, key: str | bool = True) -> dict:
        body = self.get_json(f"/api/conversations/{pk}/", key=key)
        assert body.get("id") == pk, body
        assert isinstance(body.get("messages"), list), body
        return body

    def attachments(self, pk: int, key: str | bool = True) -> dict:
        return self.get_json(f"/api/conversations/{pk}/attachments/", key=key)

    def log_tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no server log)"


def _cli(binary: Path, *args: str) -> str:
    cmd = [str(binary), *args]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`{' '.join(cmd)}` did not finish within 60 s")
    if res.returncode != 0:
        pytest.fail(f"`{' '.join(cmd)}` exited {res.returncode}\nstdout:\n{res.stdout}\nstderr:\n{res.stderr}")
    return res.stdout


def _cli_key(binary: Path, *args: str) -> str:
    out = _cli(binary, *args)
    key = last_nonempty_line(out)
    if not KEY_RE.match(key):
        pytest.fail(f"`agentsight {' '.join(args)}`: last stdout line is not a key: {key!r}\nstdout:\n{out}")
    return key


def _check_sdk_python() -> None:
    py = sdk_python()
    probe = "from importlib import metadata; print(metadata.version('agentsight'))"
    res = subprocess.run([py, "-c", probe], capture_output=True, text=True, timeout=60)
    version = last_nonempty_line(res.stdout)
    if res.returncode != 0 or version != SDK_VERSION:
        pytest.fail(
            f"{py} must have agentsight=={SDK_VERSION} installed (got {version or res.stderr.strip()!r}); "
            f"create the venv with scripts/setup-sdk-venv.sh and run pytest with its python"
        )


def geo_dir() -> str:
    """The DB-IP files (`scripts/fetch-geo.sh` puts them in the repository's data/geo, where
    `agentsight serve` started there reads them); the metrics tests need them."""
    return os.environ.get("AGENTSIGHT_GEO_DIR") or str(Path(__file__).resolve().parents[2] / "data" / "geo")


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Server:
    binary = server_binary()
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        pytest.fail(
            f"agentsight server binary not found at {binary}; build it with `cargo build --release` "
            f"or point AGENTSIGHT_BIN at it",
            pytrace=False,
        )
    _check_sdk_python()

    data_dir = tmp_path_factory.mktemp("agentsight-data")
    log_dir = tmp_path_factory.mktemp("agentsight-log")
    write_key = _cli_key(binary, "agent", "create", "sdk-main", "--data-dir", str(data_dir))
    read_key = _cli_key(binary, "key", "create", "--agent", "sdk-main", "--role", "read", "--data-dir", str(data_dir))
    other_key = _cli_key(binary, "agent", "create", "sdk-other", "--data-dir", str(data_dir))
    assert len({write_key, read_key, other_key}) == 3, "the CLI handed out the same key twice"

    proc = None
    for _attempt in range(3):
        port = free_port()
        log_path = log_dir / f"serve-{port}.log"
        log = open(log_path, "wb")
        proc = subprocess.Popen(
            [str(binary), "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", str(data_dir),
             "--geo-dir", geo_dir()],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=str(log_dir),
        )
        log.close()
        srv = Server(proc, f"http://127.0.0.1:{port}", data_dir, log_path, write_key, read_key, other_key, binary)
        deadline = time.monotonic() + 30
        up = False
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if srv.session.get(srv.base_url + "/healthz", timeout=2).status_code == 200:
                    up = True
                    break
            except requests.RequestException:
                pass
            time.sleep(0.1)
        if up:
            break
        if proc.poll() is None:
            proc.kill()
            proc.wait()
            pytest.fail(f"server did not answer GET /healthz with 200 within 30 s\n{srv.log_tail()}")
        if "in use" not in srv.log_tail().lower():  # lost a port race: try another port
            pytest.fail(f"server exited with {proc.returncode} before becoming healthy\n{srv.log_tail()}")
    else:
        pytest.fail(f"server could not bind a port after 3 attempts\n{srv.log_tail()}")

    yield srv

    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"server did not exit within 10 s of SIGTERM\n{srv.log_tail()}")
    assert rc == 0, f"server exited with {rc} after SIGTERM (expected 0)\n{srv.log_tail()}"


# --------------------------------------------------------------------------- SDK runner

SCENARIO_PREAMBLE = '''
import base64, json, os, sys, time, traceback
P = json.loads(os.environ.get("SCENARIO_PARAMS") or "{}")

def emit(obj):
    print(json.dumps(obj, default=str))
    sys.stdout.flush()

def exc_info(e):
    return {
        "type": type(e).__name__,
        "mro": [c.__name__ for c in type(e).__mro__],
        "status_code": getattr(e, "status_code", None),
        "response_data": getattr(e, "response_data", None),
        "message": str(e),
    }

def capture(fn, *args, **kwargs):
    """Run an SDK call, returning {"ok": True, "value": ...} or {"ok": False, "error": {...}}."""
    try:
        return {"ok": True, "value": fn(*args, **kwargs)}
    except Exception as e:  # noqa: BLE001 - we report every exception type to the test
        return {"ok": False, "error": exc_info(e)}

def pause():
    """Keep tracked items at distinct milliseconds so event-time order is unambiguous."""
    time.sleep(0.015)
'''


@dataclass
class SdkRunner:
    server: Server
    workdir: Path
    python: str
    counter: int = 0

    def run(self, code: str, *, key: str | None = None, env: dict[str, str] | None = None,
            params: dict | None = None, timeout: float = 120) -> Any:
        """Run `code` (after SCENARIO_PREAMBLE) in a fresh SDK process; return its last-line JSON."""
        self.counter += 1
        run_dir = Path(tempfile.mkdtemp(prefix=f"scenario{self.counter:03d}-", dir=self.workdir))
        assert not (run_dir / ".env").exists()
        script = run_dir / "scenario.py"
        script.write_text(SCENARIO_PREAMBLE + "\n" + textwrap.dedent(code))

        child_env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED_ENV_PREFIX)}
        for k in ("PYTHONPATH", "PYTHONSTARTUP", "PYTHONHOME"):
            child_env.pop(k, None)
        child_env.update({
            "AGENTSIGHT_API_ENDPOINT": self.server.base_url,
            "AGENTSIGHT_API_KEY": key or self.server.write_key,
            "AGENTSIGHT_LOG_LEVEL": "DEBUG",
            "SCENARIO_PARAMS": json.dumps(params or {}),
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
        })
        for k in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
            child_env.pop(k, None)
        child_env.update(env or {})

        try:
            res = subprocess.run([self.python, str(script)], cwd=str(run_dir), env=child_env,
                                 capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            pytest.fail(f"SDK scenario timed out after {timeout} s\nscript: {script}\n"
                        f"stdout:\n{e.stdout}\nstderr:\n{e.stderr}\nserver log:\n{self.server.log_tail()}")
        (run_dir / "stdout.txt").write_text(res.stdout)
        (run_dir / "stderr.txt").write_text(res.stderr)
        line = last_nonempty_line(res.stdout)
        try:
            result = json.loads(line)
        except ValueError:
            result = None
        if res.returncode != 0 or result is None:
            pytest.fail(
                f"SDK scenario failed (exit {res.returncode})\nscript: {script}\n"
                f"stdout:\n{res.stdout[-4000:]}\nstderr:\n{res.stderr[-8000:]}\nserver log:\n{self.server.log_tail()}"
            )
        return result


@pytest.fixture(scope="session")
def sdk(server, tmp_path_factory) -> SdkRunner:
    return SdkRunner(server, tmp_path_factory.mktemp("sdk-scenarios"), sdk_python())


@pytest.fixture(scope="session")
def run_tag() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture
def new_cid(run_tag, request):
    """new_cid("flow") -> a conversation id unique to this run and test."""
    seen: set[str] = set()
    digest = hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:6]
    test = re.sub(r"[^a-z0-9]+", "-", request.node.originalname.lower()).strip("-")[:40] + "-" + digest

    def make(label: str = "c") -> str:
        cid = f"{test}-{label}-{run_tag}"
        assert cid not in seen, f"conversation id {cid} used twice in one test"
        seen.add(cid)
        return cid

    return make

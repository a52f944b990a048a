"""The shipped reverse proxy config (deploy/nginx.conf) in front of the release binary.

Debian's nginx runs as a child of this module (not a daemon) with its own prefix on loopback
ports, serving the repository's deploy/nginx.conf with only its ports, certificate paths and
upstream templated in, plus `proxy_bind 127.0.0.2` so that the server (started with
`--trusted-proxy 127.0.0.2`) believes exactly the proxy, while requests made straight to the
server from 127.0.0.1 stay untrusted. A throwaway CA made with the openssl CLI signs the
certificate; clients are pointed at it (REQUESTS_CA_BUNDLE / SSL_CERT_FILE for the SDKs).

Shown over https through nginx: http redirects to https; sign-in sets a Secure session cookie
that works; a live-feed event (server-sent events) passes through while the stream stays open;
both real SDKs (0.0.44 and 0.1.4) send through it and the data is stored; an attachment at the
server's default size limit fits nginx's body limit; the client address the server sees is
the one nginx reports. And X-Forwarded-* sent straight to the server are ignored.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from conftest import Runner01, h, sdk_python00, sdk_python01

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "deploy" / "nginx.conf"
PROXY_ADDR = "127.0.0.2"  # the address nginx connects to the server from (proxy_bind)
ADMIN = ("admin@example.com", "admin-password-1")
IO_TIMEOUT = 20  # seconds any one read may block before the test fails


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    if not found:
        pytest.fail("Debian's nginx is missing: apt-get install -y nginx (scripts/test.sh does)", pytrace=False)
    return found


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=60, **kw)
    if res.returncode != 0:
        pytest.fail(f"`{' '.join(cmd)}` exited {res.returncode}\n{res.stdout}\n{res.stderr}")
    return res


def make_certificate(d: Path) -> tuple[Path, Path, Path]:
    """A CA and a certificate for 127.0.0.1 and localhost signed by it: (ca, cert, key)."""
    ca_key, ca, key, csr, cert = d / "ca.key", d / "ca.pem", d / "server.key", d / "server.csr", d / "server.pem"
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", str(ca_key), "-out", str(ca), "-days", "2", "-subj", "/CN=agentsight test CA",
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", str(key), "-out", str(csr), "-subj", "/CN=127.0.0.1"])
    ext = d / "server.ext"
    ext.write_text("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                   "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n"
                   "authorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n")
    run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
         "-out", str(cert), "-days", "2", "-extfile", str(ext)])
    return ca, cert, key


def templated(shipped: str, *, upstream: int, http_port: int, https_port: int, cert: Path, key: Path) -> str:
    """The shipped server blocks with this machine's ports and certificate. Every replaced line
    must be there exactly as often as expected: a change to the shipped file fails here
    instead of testing something else."""
    swaps = [
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream};", 1),
        ("listen 80;", f"listen 127.0.0.1:{http_port};", 1),
        ("listen [::]:80;", "", 1),
        ("listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;", 1),
        ("listen [::]:443 ssl;", "", 1),
        ("/etc/letsencrypt/live/agentsight.example.com/fullchain.pem", str(cert), 1),
        ("/etc/letsencrypt/live/agentsight.example.com/privkey.pem", str(key), 1),
        ("proxy_http_version 1.1;", f"proxy_http_version 1.1;\n    proxy_bind {PROXY_ADDR};", 1),
    ]
    text = shipped
    for old, new, count in swaps:
        found = text.count(old)
        assert found == count, f"deploy/nginx.conf has {found} × {old!r}, the test expects {count}"
        text = text.replace(old, new)
    return text


def main_config(prefix: Path, servers: Path) -> str:
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must read the temp dirs below
    temp = "\n".join(f"    {k}_temp_path {prefix / k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return (f"{user}worker_processes 1;\ndaemon off;\npid {prefix / 'nginx.pid'};\n"
            f"error_log {prefix / 'error.log'} info;\nevents {{ worker_connections 128; }}\n"
            f"http {{\n    access_log {prefix / 'access.log'};\n{temp}\n    include {servers};\n}}\n")


def wait_for_port(port: int, proc: subprocess.Popen, what: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    pytest.fail(f"{what} did not open port {port} (exit {proc.poll()})\n{tail}")


def stop(proc: subprocess.Popen, sig=signal.SIGTERM) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            return proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail(f"pid {proc.pid} did not stop within 10 s")
    return proc.returncode


@dataclass
class Edge:
    direct: str  # http://127.0.0.1:<server port>
    https: str  # https://127.0.0.1:<nginx https port>
    http: str  # http://127.0.0.1:<nginx http port>
    ca: Path
    srv: h.Server  # base_url = the https URL: what the SDK runners send to
    agent_id: int
    server_log: Path

    def session(self) -> requests.Session:
        s = requests.Session()
        s.trust_env = False
        s.verify = str(self.ca)
        return s

    def log_lines(self) -> list[dict]:
        out = []
        for line in self.server_log.read_text(errors="replace").splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out


@pytest.fixture(scope="module")
def edge(tmp_path_factory):
    binary = h.server_binary()
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        pytest.fail(f"agentsight server binary not found at {binary}; build it with `cargo build --release`")
    nginx = nginx_binary()
    work = tmp_path_factory.mktemp("deploy-nginx")
    ca, cert, key = make_certificate(work)
    data = work / "data"
    write_key = h._cli_key(binary, "agent", "create", "deploy-main", "--data-dir", str(data))
    read_key = h._cli_key(binary, "key", "create", "--agent", "deploy-main", "--role", "read", "--data-dir", str(data))
    other_key = h._cli_key(binary, "agent", "create", "deploy-other", "--data-dir", str(data))
    listed = h._cli(binary, "agent", "list", "--data-dir", str(data))
    agent_id = int(next(re.match(r"\s*(\d+)", ln).group(1) for ln in listed.splitlines() if "deploy-main" in ln))
    res = subprocess.run([str(binary), "user", "create", ADMIN[0], "--role", "admin", "--password-stdin",
                          "--data-dir", str(data)], input=ADMIN[1] + "\n", capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr

    port, http_port, https_port = h.free_port(), h.free_port(), h.free_port()
    server_log = work / "serve.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTSIGHT_")}
    env["AGENTSIGHT_LOG"] = "info,agentsight_server=debug"  # refused requests are logged with the client
    with open(server_log, "wb") as log:
        server = subprocess.Popen(
            [str(binary), "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", str(data), "--geo-dir", h.geo_dir(),
             "--trusted-proxy", PROXY_ADDR, "--log-format", "json"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=str(work), env=env)
    nginx_proc = None
    try:
        wait_for_port(port, server, "agentsight serve", server_log)
        prefix = work / "nginx"
        prefix.mkdir()
        servers = prefix / "agentsight.conf"
        servers.write_text(templated(SHIPPED.read_text(), upstream=port, http_port=http_port,
                                     https_port=https_port, cert=cert, key=key))
        conf = prefix / "nginx.conf"
        conf.write_text(main_config(prefix, servers))
        base = [nginx, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
        run(base + ["-t", "-q"])
        nginx_proc = subprocess.Popen(base, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
        wait_for_port(https_port, nginx_proc, "nginx", prefix / "error.log")
        https = f"https://127.0.0.1:{https_port}"
        srv = h.Server(server, https, data, server_log, write_key, read_key, other_key, binary)
        yield Edge(f"http://127.0.0.1:{port}", https, f"http://127.0.0.1:{http_port}", ca, srv, agent_id, server_log)
    finally:
        if nginx_proc is not None:
            stop(nginx_proc, signal.SIGQUIT)  # nginx's graceful stop
        rc = stop(server)
    assert rc == 0, f"server exited with {rc}\n{server_log.read_text(errors='replace')[-3000:]}"


def sign_in(s: requests.Session, base: str, **kw) -> requests.Response:
    return s.post(f"{base}/api/auth/login/", json={"email": ADMIN[0], "password": ADMIN[1]},
                  timeout=IO_TIMEOUT, **kw)


def cookie_attributes(r: requests.Response) -> list[str]:
    raw = [v for k, v in r.raw.headers.items() if k.lower() == "set-cookie"]
    session = [v for v in raw if v.startswith("agentsight_session=")]
    assert len(session) == 1, raw
    return [a.strip().lower() for a in session[0].split(";")[1:]]


def sdk_env(edge: Edge) -> dict:
    return {"REQUESTS_CA_BUNDLE": str(edge.ca), "SSL_CERT_FILE": str(edge.ca)}


def stored(edge: Edge, cid: str) -> dict:
    """The conversation's transcript, read straight from the server with the read key."""
    with requests.Session() as s:
        s.trust_env = False
        auth = {"Authorization": f"Api-Key {edge.srv.read_key}"}
        r = s.get(f"{edge.direct}/api/conversations/lookup/", params={"conversation_id": cid}, headers=auth,
                  timeout=IO_TIMEOUT)
        assert r.status_code == 200, r.text
        r = s.get(f"{edge.direct}/api/conversations/{r.json()['id']}/", headers=auth, timeout=IO_TIMEOUT)
        assert r.status_code == 200, r.text
        return r.json()


def test_plain_http_is_redirected_to_https(edge):
    with edge.session() as s:
        r = s.get(f"{edge.http}/api/auth/state/?x=1", allow_redirects=False, timeout=IO_TIMEOUT)
    assert r.status_code == 301
    assert r.headers["Location"] == "https://127.0.0.1/api/auth/state/?x=1"


def test_the_dashboard_signs_in_over_https_with_a_secure_cookie(edge):
    with edge.session() as s:
        page = s.get(f"{edge.https}/", timeout=IO_TIMEOUT)
        assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
        r = sign_in(s, edge.https)
        assert r.status_code == 200, r.text
        attrs = cookie_attributes(r)
        assert "secure" in attrs and "httponly" in attrs, attrs
        me = s.get(f"{edge.https}/api/auth/me/", timeout=IO_TIMEOUT)
        assert me.status_code == 200 and me.json()["user"]["email"] == ADMIN[0], me.text
        csrf = me.json()["csrf_token"]
        out = s.post(f"{edge.https}/api/auth/logout/", headers={"X-CSRF-Token": csrf}, timeout=IO_TIMEOUT)
        assert out.status_code == 200
        assert "secure" in cookie_attributes(out)


def test_forwarded_headers_sent_straight_to_the_server_are_ignored(edge):
    spoof = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example", "X-Forwarded-For": "203.0.113.7"}
    with requests.Session() as s:
        s.trust_env = False
        r = sign_in(s, edge.direct, headers=spoof)
        assert r.status_code == 200, r.text
        assert "secure" not in cookie_attributes(r), "a spoofed X-Forwarded-Proto made the cookie Secure"
        for _ in range(2):  # two conversations, so that the listing has a next page
            edge_cid = f"deploy-links-{time.monotonic_ns()}"
            r = s.post(f"{edge.direct}/api/conversations/", json={"conversation_id": edge_cid},
                       headers={"Authorization": f"Api-Key {edge.srv.write_key}"}, timeout=IO_TIMEOUT)
            assert r.status_code in (200, 201), r.text
        key = {"Authorization": f"Api-Key {edge.srv.read_key}"}
        page = s.get(f"{edge.direct}/api/conversations/?page_size=1", headers={**key, **spoof}, timeout=IO_TIMEOUT)
        assert page.json()["next"].startswith(f"{edge.direct}/api/conversations/"), page.json()["next"]
    with edge.session() as s:
        page = s.get(f"{edge.https}/api/conversations/?page_size=1", headers=key, timeout=IO_TIMEOUT)
        assert page.json()["next"].startswith("https://127.0.0.1/api/conversations/"), page.json()["next"]


def test_the_client_address_is_the_one_nginx_reports(edge):
    """A refused request is logged with the client: through nginx, from 127.0.0.3 with a made-up
    X-Forwarded-For, it is 127.0.0.3 (nginx appends the peer it saw; what the client wrote in
    front is not believed); straight to the server with a made-up header, 127.0.0.1."""
    ctx = ssl.create_default_context(cafile=str(edge.ca))
    port = int(edge.https.rsplit(":", 1)[1])
    conn = http.client.HTTPSConnection("127.0.0.1", port, source_address=("127.0.0.3", 0), context=ctx,
                                       timeout=IO_TIMEOUT)
    conn.request("GET", "/api/conversations/?via=nginx", headers={"X-Forwarded-For": "203.0.113.5", "Authorization": "Api-Key nope"})
    assert conn.getresponse().status == 401
    conn.close()
    with requests.Session() as s:
        s.trust_env = False
        r = s.get(f"{edge.direct}/api/conversations/?via=direct", headers={"X-Forwarded-For": "203.0.113.6", "Authorization": "Api-Key nope"},
                  timeout=IO_TIMEOUT)
        assert r.status_code == 401

    # The log names the path without its query: the last two refused GETs of the path are
    # these two, in order (this module's server serves nothing else at the time).
    deadline = time.monotonic() + IO_TIMEOUT
    while True:
        refused = [e for e in edge.log_lines() if e.get("message") == "request refused"
                   and e.get("path") == "/api/conversations/" and e.get("status") == 401]
        if len(refused) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert [e.get("client") for e in refused[-2:]] == ["127.0.0.3", "127.0.0.1"], refused


def sse_events(stream):
    """The server-sent events of `stream`, one dict (`event`, `data`) at a time, as they come."""
    buf = ""
    for chunk in stream.iter_content(chunk_size=None):
        buf += chunk.decode()
        while "\n\n" in buf:
            block, buf = buf.split("\n\n", 1)
            name = next((ln[6:].strip() for ln in block.splitlines() if ln.startswith("event:")), None)
            data = "\n".join(ln[5:].strip() for ln in block.splitlines() if ln.startswith("data:"))
            yield {"event": name, "data": json.loads(data) if data else None}


def read_events(events, want: str, until=lambda data: True) -> list[dict]:
    """Reads `events` until one named `want` whose data satisfies `until`; returns every event
    read. A read that waits IO_TIMEOUT seconds for data fails the test."""
    seen = []
    for e in events:
        seen.append(e)
        if e["event"] == want and until(e["data"]):
            return seen
    pytest.fail(f"the stream ended before a '{want}' event: {seen}")


def test_a_live_update_passes_through_nginx_and_the_sdk_0044_sends_through_it(edge, tmp_path, run_tag):
    py00 = sdk_python00()
    if not py00:
        pytest.fail("AGENTSIGHT_SDK00_PYTHON must point at the python of the 0.0.44 venv; scripts/test.sh sets it")
    cid = f"deploy-sdk00-{run_tag}"
    with edge.session() as s:
        assert sign_in(s, edge.https).status_code == 200
        with s.get(f"{edge.https}/api/dash/live/", params={"agent": edge.agent_id}, stream=True,
                   timeout=IO_TIMEOUT, headers={"Accept": "text/event-stream"}) as feed:
            assert feed.status_code == 200, feed.text
            assert feed.headers["Content-Type"].startswith("text/event-stream")
            events = sse_events(feed)
            first = read_events(events, "live")
            assert first[-1]["data"] is not None
            runner = h.SdkRunner(edge.srv, tmp_path, py00)
            out = runner.run(f'''
from agentsight import conversation_tracker as tracker
tracker.get_or_create_conversation({cid!r}, customer_id="u-1", device="desktop", source="web", language="en")
tracker.track_human_message("Where is my order?")
tracker.track_agent_message("It ships tomorrow.")
emit(capture(tracker.send_tracked_data))
''', env=sdk_env(edge))
            assert out["ok"], out
            # The stream stays open: the update the SDK's writes cause reaches this client
            # through nginx while the connection is still the same (the read fails after
            # IO_TIMEOUT seconds without data otherwise).
            # Updates are coalesced (at most one a second): the messages may come in a second one.
            seen = read_events(events, "update", lambda d: d["messages"] >= 1)
            assert all(e["data"]["agent_id"] == edge.agent_id for e in seen if e["event"] == "update"), seen
    t = stored(edge, cid)
    assert [m["content"] for m in t["messages"]] == ["Where is my order?", "It ships tomorrow."], t


def test_the_sdk_014_sends_spans_through_nginx(edge, tmp_path, run_tag):
    cid = f"deploy-sdk01-{run_tag}"
    runner = Runner01(edge.srv, tmp_path, sdk_python01())
    out = runner.run(f'''
start()
with conversation({cid!r}, customer_id="u-2", device="mobile", source="web", language="en"):
    with turn():
        agentsight.user_message("Is it raining?")
        agentsight.agent_message("Not yet.")
agentsight.shutdown()
emit({{"ok": True}})
''', endpoint=edge.https, env=sdk_env(edge))
    assert out["ok"]
    deadline = time.monotonic() + IO_TIMEOUT
    while True:  # the spans are projected right after the batch is acknowledged
        try:
            t = stored(edge, cid)
            if len(t["messages"]) == 2:
                break
        except AssertionError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"the 0.1.4 conversation was not stored\n{edge.srv.log_tail()}")
        time.sleep(0.1)
    assert [m["content"] for m in t["messages"]] == ["Is it raining?", "Not yet."], t


def test_an_attachment_at_the_default_size_limit_fits_through_nginx(edge, run_tag):
    limit = 20 * 1024 * 1024  # --max-attachment-bytes' default (agentsight-core limits.rs)
    help_text = run([str(edge.srv.bin), "serve", "--help"]).stdout
    assert f"[default: {limit}]" in help_text, "the default attachment limit changed: update deploy/nginx.conf"
    auth = {"Authorization": f"Api-Key {edge.srv.write_key}"}
    cid = f"deploy-attach-{run_tag}"
    with edge.session() as s:
        r = s.post(f"{edge.https}/api/conversations/", json={"conversation_id": cid}, headers=auth,
                   timeout=IO_TIMEOUT)
        assert r.status_code == 201, r.text
        body = json.dumps({
            "timestamp": "2026-01-01T00:00:00Z", "mode": "base64", "sender": "end_user", "conversation_id": cid,
            "conversation": r.json()["id"], "metadata": {},
            "attachments": [{"filename": "big.bin", "mime_type": "application/octet-stream",
                             "data": base64.b64encode(os.urandom(limit)).decode()}]})
        r = s.post(f"{edge.https}/api/attachments/", data=body, timeout=60,
                   headers={**auth, "Content-Type": "application/json"})
    assert r.status_code == 201, r.text[:500]

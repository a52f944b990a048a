"""Alerts and scheduled reports on a multi-node deployment go out once, not once per node.

Two `agentsight serve` nodes on one PostgreSQL database and a two-shard ClickHouse cluster (as
tests/sdk01/test_scaleout.py), both doing notify rounds every second. An escalation-rate rule
fires on conversations tracked by the real SDK 0.0.44 through node A; a weekly report schedule
is made through node B's settings API and dated back (psql), so its latest week is owed. A
webhook receiver here (it checks the signature) and aiosmtpd (AGENTSIGHT_AIOSMTPD_PYTHON, plain
SMTP, a maildir) count what arrives: one firing notice, one report mail per recipient, however
many rounds both nodes run. Then the node holding the `alerts` lease is killed (SIGKILL), the
rule's threshold is raised through the other node, and that node, having taken the rounds
over, sends exactly one resolved notice.

Needs AGENTSIGHT_TEST_POSTGRES, AGENTSIGHT_TEST_CLICKHOUSE and AGENTSIGHT_AIOSMTPD_PYTHON
(scripts/test.sh sets them) and fails without them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import mailbox
import os
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from conftest import h, wait_for
from test_scaleout import Backends, Node, _cli, _env, _psql

AGENT = "notify-two-nodes"
SECRET = "a-webhook-signing-secret-0123"
ADMIN = ("admin@example.com", "admin-password-1")

SDK00 = """
from agentsight import conversation_tracker as t
t.get_or_create_conversation(P["cid"], customer_id=P["cid"])
t.track_human_message("I need a person")
if P["escalate"]:
    t.track_action("contact_human", duration_ms=5, tools_used={})
t.track_agent_message("One moment.")
emit(t.send_tracked_data()["summary"])
"""


class Hook:
    """A webhook receiver that keeps every body whose signature is right (and counts the rest)."""

    def __init__(self) -> None:
        self.got: list[dict] = []
        self.bad = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                ts = self.headers.get("X-AgentSight-Timestamp", "")
                want = "sha256=" + hmac.new(SECRET.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
                if hmac.compare_digest(want, self.headers.get("X-AgentSight-Signature", "")):
                    outer.got.append(json.loads(body))
                else:
                    outer.bad += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def states(self) -> list[str]:
        return [b["agentsight"]["state"] for b in self.got]


class Smtp:
    """aiosmtpd on a free port, plain SMTP, every message in a maildir."""

    def __init__(self, dir: Path) -> None:
        python = os.environ.get("AGENTSIGHT_AIOSMTPD_PYTHON", "").strip()
        if not python:
            pytest.fail("AGENTSIGHT_AIOSMTPD_PYTHON is not set: run scripts/setup-pinned-venv.sh aiosmtpd 1.4.6 and set it to "
                        "<venv>/bin/python (scripts/test.sh does both)")
        self.port = h.free_port()
        self.maildir = dir / "mail"
        self.proc = subprocess.Popen([python, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{self.port}",
                                      "-c", "aiosmtpd.handlers.Mailbox", str(self.maildir)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def up():
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                return False

        wait_for(up, 20, "aiosmtpd to accept connections")

    def messages(self) -> list:
        if not (self.maildir / "new").is_dir():
            return []
        return list(mailbox.Maildir(str(self.maildir), create=False))

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


def _session(node: Node) -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    r = s.post(node.base_url + "/api/auth/login/", json={"email": ADMIN[0], "password": ADMIN[1]}, timeout=30)
    assert r.status_code == 200, r.text
    s.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    # The nodes have an https --public-url, so the cookie is Secure: sent here over plain HTTP by hand.
    s.headers["Cookie"] = r.headers["Set-Cookie"].split(";")[0]
    return s


def test_two_nodes_send_each_alert_and_report_once(tmp_path, sdk00):
    binary = h.server_binary()
    assert binary.is_file(), f"build the release binary first: {binary}"
    backends = Backends()
    smtp = Smtp(tmp_path)
    hook = Hook()
    nodes: list[Node] = []
    try:
        flags = backends.flags()
        key = h.last_nonempty_line(_cli(binary, "agent", "create", AGENT, *flags))
        res = subprocess.run([str(binary), "user", "create", ADMIN[0], "--role", "admin", "--password-stdin", *flags],
                             input=ADMIN[1] + "\n", capture_output=True, text=True, timeout=60, env=_env())
        assert res.returncode == 0, res.stderr
        _cli(binary, "notify", "smtp", "set", "--host", "127.0.0.1", "--port", str(smtp.port), "--security", "none",
             "--from", "reports@stats.example.com", *flags)
        res = subprocess.run([str(binary), "notify", "target", "add-webhook", "--name", "ops", "--url", hook.url,
                              "--secret-stdin", *flags],
                             input=SECRET + "\n", capture_output=True, text=True, timeout=60, env=_env())
        assert res.returncode == 0, res.stderr
        _cli(binary, "alert", "create", "--agent", AGENT, "--kind", "escalation_rate", "--threshold", "0.3",
             "--window-hours", "24", *flags)

        rounds = ["--alert-interval", "1", "--notify-retry-base", "1", "--public-url", "https://stats.example.com"]
        for name in ("a", "b"):
            nodes.append(Node(binary, [*flags, *rounds], tmp_path / f"node-{name}.log"))
        a, b = nodes

        # Half of today's conversations escalate, tracked by the real SDK 0.0.44 through node A.
        for i in range(4):
            sdk00.run(SDK00, key=key, env={"AGENTSIGHT_API_ENDPOINT": a.base_url},
                      params={"cid": f"esc-{i}", "escalate": i % 2 == 0})
        wait_for(lambda: "firing" in hook.states(), 60, "the firing notice")

        # A weekly report made through node B's settings, dated back ten days: its week is owed.
        admin = _session(b)
        r = admin.get(b.base_url + "/api/dash/agents/", timeout=30)
        assert r.status_code == 200, r.text
        agents = r.json()
        agent_id = next(x["id"] for x in agents if x["name"] == AGENT)
        r = admin.post(b.base_url + f"/api/dash/agents/{agent_id}/reports/", timeout=30,
                       json={"cadence": "weekly", "weekday": "monday", "hour": 0, "time_zone": "UTC",
                             "recipients": ["client@example.com", "boss@example.com"]})
        assert r.status_code == 201, r.text
        schedule = r.json()["id"]
        ten_days_ago = int((time.time() - 10 * 86400) * 1_000_000)
        _psql(backends.postgres, f"UPDATE report_schedules SET active_since = {ten_days_ago} WHERE id = {schedule}")
        wait_for(lambda: len(smtp.messages()) >= 2, 60, "two report mails")

        # Both nodes go on with a round a second: nothing more arrives.
        time.sleep(6)
        mails = smtp.messages()
        assert len(mails) == 2, [(m["X-RcptTo"], m["Subject"]) for m in mails]
        assert sorted(m["X-RcptTo"] for m in mails) == ["boss@example.com", "client@example.com"]
        ids = {m["Message-ID"] for m in mails}
        assert len(ids) == 1 and next(iter(ids)).startswith(f"<report-{schedule}-"), ids
        assert hook.states() == ["firing"], hook.got
        assert hook.bad == 0
        sends = admin.get(b.base_url + "/api/settings/notify/sends/", timeout=30).json()
        assert sorted(x["source"] for x in sends) == ["alert", "report", "report"], sends
        record = admin.get(b.base_url + f"/api/dash/reports/{schedule}/sends/", timeout=30).json()
        assert [x["state"] for x in record] == ["sent"], record

        # The node doing the rounds dies; the other takes them over within three intervals and
        # resolves the rule (threshold raised above the rate) once.
        holder = subprocess.run(["psql", "-X", "-A", "-t", backends.postgres, "-c",
                                 "SELECT holder FROM leases WHERE name = 'alerts'"],
                                capture_output=True, text=True, timeout=30).stdout.strip()
        lead = next(n for n in nodes if holder.startswith(f"{n.proc.pid}-"))
        other = b if lead is a else a
        lead.proc.kill()
        lead.proc.wait()
        admin = _session(other)
        rule = admin.get(other.base_url + "/api/settings/alerts/rules/", timeout=30).json()[0]
        r = admin.put(other.base_url + f"/api/settings/alerts/rules/{rule['id']}/", timeout=30,
                      json={"agent": agent_id, "kind": "escalation_rate", "threshold": 0.9, "window_hours": 24})
        assert r.status_code == 200, r.text
        wait_for(lambda: "resolved" in hook.states(), 60, "the resolved notice from the other node")
        time.sleep(4)
        assert hook.states() == ["firing", "resolved"], hook.got
        assert len(smtp.messages()) == 2
    finally:
        for n in nodes:
            if n.proc.poll() is None:
                n.proc.kill()
                n.proc.wait()
        smtp.stop()
        hook.server.shutdown()
        backends.drop()

"""Restarts under load lose nothing: the server restarted three times while both real SDKs
(0.0.44 and 0.1.4, one process each) send a steady stream of distinct conversations, and
afterwards every conversation each SDK process sent is stored once, with its two messages.

The test acts as systemd does with deploy/agentsight.socket: it holds the listening socket
itself and starts each server process with that socket as fd 3, LISTEN_FDS=1 and LISTEN_PID
set to the process's own pid. A restart is SIGTERM (the server drains: requests in flight are
answered, then it exits 0), a pause standing for a slow start (an upgrade that migrates, a
cold machine), then a new process on the same socket. Connections made meanwhile wait in the
socket's queue, which the test keeps open, and are answered by the next process.

Why this fails without socket activation (and on a server that does not drain): a client that
finds no listener gets "connection refused" at once, and the SDKs give up after three quick
tries (0.1.4: 0.5 s + 2 s; 0.0.44: 1 s + 2 s), dropping the conversation. The pause between
two processes here (RESTART_PAUSE_S) is longer than either budget, so the same load and the
same restarts with a plain `--listen` lose conversations: the second test shows it, which is
what makes the first one's "none missing" meaningful. A server that cut requests in flight
instead of answering them would make the 0.0.44 client send them again (duplicates) or give
up on them (missing); both are counted.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

import conftest as c01
from conftest import h

RESTARTS = 3
# Load sent before each restart, and the pause between one process's exit and the next one's
# start: longer than the SDKs' retry budgets (about 3 s), far shorter than their 15 s request
# timeout.
LOAD_BEFORE_RESTART_S = 1.5
RESTART_PAUSE_S = 4.0
# Each SDK process stops by itself after this many conversations, or when told to.
MAX_CONVERSATIONS = 3000

SDK00_LOAD = """
import os, time
from agentsight import conversation_tracker as t
sent, failed, times = [], [], []
i = 0
while i < P["limit"] and not os.path.exists(P["stop"]):
    cid = f'{P["prefix"]}-{i:05d}'
    sent.append(cid)
    t0 = time.time()
    try:
        t.get_or_create_conversation(cid)
        t.track_human_message(f"q {cid}")
        t.track_agent_message(f"a {cid}")
        if t.send_tracked_data()["summary"]["errors"]:
            failed.append(cid)
    except Exception as e:  # the SDK gave up on this conversation
        failed.append(cid)
    times.append((t0, time.time()))
    i += 1
    time.sleep(P["pause"])
emit({"sent": sent, "failed": failed, "times": times})
"""

SDK01_LOAD = """
import os, time
start()
sent, times = [], []
i = 0
while i < P["limit"] and not os.path.exists(P["stop"]):
    cid = f'{P["prefix"]}-{i:05d}'
    t0 = time.time()
    with conversation(cid):
        with turn():
            agentsight.user_message(f"q {cid}")
            agentsight.agent_message(f"a {cid}")
    sent.append(cid)
    times.append((t0, time.time()))
    i += 1
    time.sleep(P["pause"])
agentsight.shutdown()
emit({"sent": sent, "failed": [], "times": times})
"""

# Runs `argv[2:]` with the socket `argv[1]` as fd 3 and the variables of systemd's socket
# activation, as systemd starts a socket-activated service (exec keeps the pid).
ACTIVATE = """
import os, sys
fd = int(sys.argv[1])
if fd != 3:
    os.dup2(fd, 3)
    os.close(fd)
os.set_inheritable(3, True)
os.environ["LISTEN_FDS"] = "1"
os.environ["LISTEN_PID"] = str(os.getpid())
os.execv(sys.argv[2], sys.argv[2:])
"""


class Restarting:
    """One data dir served by one process at a time, restarted by SIGTERM; either on a socket
    the test holds (socket activation) or with `--listen` on a fixed port."""

    def __init__(self, binary: Path, data_dir: Path, log_dir: Path, activated: bool):
        self.binary, self.data_dir, self.log_dir, self.activated = binary, data_dir, log_dir, activated
        self.sock: socket.socket | None = None
        if activated:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.bind(("127.0.0.1", 0))
            self.sock.listen(512)
            port = self.sock.getsockname()[1]
        else:
            port = h.free_port()
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen | None = None
        self.log_path: Path | None = None
        self.logs: list[Path] = []

    def start(self) -> None:
        n = len(self.logs)
        self.log_path = self.log_dir / f"serve-{n}.log"
        self.logs.append(self.log_path)
        serve = [str(self.binary), "serve", "--data-dir", str(self.data_dir), "--geo-dir", h.geo_dir()]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LISTEN_", "AGENTSIGHT_"))}
        with open(self.log_path, "wb") as log:
            if self.activated:
                assert self.sock is not None
                fd = self.sock.fileno()
                self.proc = subprocess.Popen([sys.executable, "-c", ACTIVATE, str(fd), *serve], pass_fds=(fd,),
                                             stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
            else:
                self.proc = subprocess.Popen([*serve, "--listen", f"127.0.0.1:{self.port}"], stdout=log,
                                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        # With socket activation the connection always opens (the test holds the socket) and
        # the request waits for the process; without, retry until it listens.
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(self.base_url + "/healthz", timeout=30).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"server {n} did not become healthy\n{self.log_tail()}")
            time.sleep(0.05)

    def stop(self) -> str:
        """SIGTERM; the process must exit 0 having drained. Its log."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"server did not exit within 60 s of SIGTERM\n{self.log_tail()}")
        log = self.log_tail(400)
        assert rc == 0, f"server exited with {rc} after SIGTERM\n{log}"
        return log

    def log_tail(self, n: int = 60) -> str:
        if self.log_path is None:
            return "(no server log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.sock is not None:
            self.sock.close()


def _run_in_thread(fn, results: dict, name: str) -> threading.Thread:
    def target():
        try:
            results[name] = fn()
        except BaseException as e:  # noqa: BLE001 - pytest.fail raises a BaseException
            results[name] = e

    t = threading.Thread(target=target, name=name, daemon=True)
    t.start()
    return t


def _stored(server: Restarting, key: str) -> dict[str, list[tuple[str, str]]]:
    """Every conversation the agent has, by conversation id, with its messages (a conversation
    id stored twice fails here)."""
    s = requests.Session()
    s.trust_env = False
    s.headers["Authorization"] = f"Api-Key {key}"
    ids: dict[str, int] = {}
    page = 1
    while True:
        r = s.get(server.base_url + "/api/conversations/", params={"page": page, "page_size": 100}, timeout=60)
        assert r.status_code == 200, r.text
        body = r.json()
        for row in body["results"]:
            assert row["conversation_id"] not in ids, f"{row['conversation_id']} stored twice"
            ids[row["conversation_id"]] = row["id"]
        if not body.get("next"):
            break
        page += 1
    out = {}
    for cid, pk in ids.items():
        r = s.get(server.base_url + f"/api/conversations/{pk}/", timeout=60)
        assert r.status_code == 200, r.text
        out[cid] = [(m["sender"], m["content"]) for m in r.json()["messages"]]
    return out


def _restart_under_load(binary: Path, tmp: Path, activated: bool) -> dict:
    """Runs both SDKs' load across RESTARTS restarts; what each sent, what is stored, the
    logs of the stopped processes."""
    py00 = c01.sdk_python00()
    if not py00:
        pytest.fail("AGENTSIGHT_SDK00_PYTHON must point at the python of the 0.0.44 venv "
                    "(scripts/setup-sdk-venv.sh 0.0.44); scripts/test.sh sets it")
    data_dir, log_dir, work = tmp / "data", tmp / "log", tmp / "sdk"
    for d in (log_dir, work):
        d.mkdir()
    key00 = h._cli_key(binary, "agent", "create", "restart-00x", "--data-dir", str(data_dir))
    key01 = h._cli_key(binary, "agent", "create", "restart-01x", "--data-dir", str(data_dir))
    server = Restarting(binary, data_dir, log_dir, activated)
    stopped_logs: list[str] = []
    try:
        server.start()
        srv = h.Server(server.proc, server.base_url, data_dir, server.log_path, key00, key00, key01, binary)
        run00 = h.SdkRunner(srv, work, py00)
        run01 = c01.Runner01(srv, work, c01.sdk_python01())
        stop_file = tmp / "stop"
        tag = "sa" if activated else "plain"
        common = {"stop": str(stop_file), "limit": MAX_CONVERSATIONS, "pause": 0.02}
        results: dict = {}
        env = {"AGENTSIGHT_LOG_LEVEL": "WARNING"}
        threads = [
            _run_in_thread(lambda: run00.run(SDK00_LOAD, key=key00, env=env, timeout=600,
                                             params={**common, "prefix": f"{tag}-00x"}), results, "0.0.44"),
            _run_in_thread(lambda: run01.run(SDK01_LOAD, key=key01, env=env, timeout=600,
                                             params={**common, "prefix": f"{tag}-01x"}), results, "0.1.4"),
        ]
        outages = []  # (SIGTERM sent, next process answering), wall clock as the SDKs record it
        for _ in range(RESTARTS):
            time.sleep(LOAD_BEFORE_RESTART_S)
            down = time.time()
            stopped_logs.append(server.stop())
            time.sleep(RESTART_PAUSE_S)
            server.start()
            outages.append((down, time.time()))
        time.sleep(LOAD_BEFORE_RESTART_S)
        stop_file.write_text("stop")
        for t in threads:
            t.join(timeout=600)
            assert not t.is_alive(), f"the {t.name} SDK process did not finish"
        for name, r in results.items():
            if isinstance(r, BaseException):
                raise r
        stored = {"0.0.44": _stored(server, key00), "0.1.4": _stored(server, key01)}
        stopped_logs.append(server.stop())
        return {"sent": results, "stored": stored, "logs": stopped_logs, "server": server, "outages": outages}
    finally:
        server.close()


def _missing_and_wrong(sent: list[str], stored: dict[str, list]) -> tuple[list[str], list[str]]:
    missing = [cid for cid in sent if cid not in stored]
    wrong = [cid for cid in sent if cid in stored and stored[cid] != [("end_user", f"q {cid}"), ("agent", f"a {cid}")]]
    return missing, wrong


def test_restarts_on_a_passed_socket_under_load_from_both_sdks_lose_nothing(tmp_path):
    binary = h.server_binary()
    run = _restart_under_load(binary, tmp_path, activated=True)
    report = {}
    for sdk in ("0.0.44", "0.1.4"):
        sent, stored = run["sent"][sdk]["sent"], run["stored"][sdk]
        missing, wrong = _missing_and_wrong(sent, stored)
        report[sdk] = {"sent": len(sent), "stored": len(stored), "missing": len(missing), "wrong": len(wrong),
                       "sdk_gave_up": len(run["sent"][sdk]["failed"])}
    print(f"\nrestarts: {RESTARTS}, each with a {RESTART_PAUSE_S} s pause; {json.dumps(report)}")
    for sdk in ("0.0.44", "0.1.4"):
        sent, failed = run["sent"][sdk]["sent"], run["sent"][sdk]["failed"]
        stored = run["stored"][sdk]
        missing, wrong = _missing_and_wrong(sent, stored)
        # Every restart caught this SDK sending: a conversation was being sent (0.0.44) or
        # made (0.1.4, exported every 100 ms) between the SIGTERM and the next process's answer.
        times = run["sent"][sdk]["times"]
        for down, up in run["outages"]:
            assert any(t0 < up and t1 > down for t0, t1 in times), f"{sdk} sent nothing during the outage {down}..{up}"
        assert not failed, f"{sdk}: the SDK gave up on {len(failed)} conversations: {failed[:10]}"
        assert not missing, f"{sdk}: {len(missing)} of {len(sent)} conversations missing: {missing[:10]}"
        assert not wrong, f"{sdk}: messages missing or duplicated in {wrong[:5]}: {[stored[c] for c in wrong[:5]]}"
        assert set(stored) == set(sent), f"{sdk}: stored conversations nobody sent: {sorted(set(stored) - set(sent))[:10]}"
    # Every process said which socket it served on, drained on SIGTERM and stopped cleanly.
    server = run["server"]
    assert len(server.logs) == RESTARTS + 1
    for log in run["logs"]:
        assert "the socket systemd passed in (fd 3)" in log, log
        assert "signal=\"SIGTERM\"" in log or "signal=SIGTERM" in log, log
        assert "stopped cleanly" in log, log
    # The last stop checkpointed the database: the file alone holds everything.
    wal = server.data_dir / "agentsight.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0, f"{wal} holds {wal.stat().st_size} bytes after a clean stop"


def test_the_same_restarts_with_a_plain_listen_lose_conversations(tmp_path):
    """The control: without a socket kept open across the restart, the same load and the same
    pauses lose conversations (connection refused, the SDKs' retries run out). If this ever
    passes without loss, the first test no longer proves anything and RESTART_PAUSE_S must
    grow."""
    binary = h.server_binary()
    run = _restart_under_load(binary, tmp_path, activated=False)
    lost = {}
    for sdk in ("0.0.44", "0.1.4"):
        sent, stored = run["sent"][sdk]["sent"], run["stored"][sdk]
        missing, wrong = _missing_and_wrong(sent, stored)
        lost[sdk] = {"sent": len(sent), "missing": len(missing), "wrong": len(wrong),
                     "sdk_gave_up": len(run["sent"][sdk]["failed"])}
    print(f"\nplain --listen restarts: {json.dumps(lost)}")
    # A loss is a conversation missing or incomplete, or one the SDK told its caller it gave up
    # on (the first test allows none of either).
    for sdk, n in lost.items():
        assert n["missing"] + n["wrong"] + n["sdk_gave_up"] > 0, f"{sdk} lost nothing across plain restarts: {lost}"


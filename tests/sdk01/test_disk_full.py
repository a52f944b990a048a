"""A full disk: the server answers 503 with `Retry-After` naming the cause (never a 500, never
a crash), still answers reads, says so in /readyz, and recovers by itself once space is freed;
nothing it acknowledged is lost or doubled and the files are undamaged.

The data dir is a small tmpfs the test mounts (it must run as root: scripts/test.sh and CI do;
without root or without mount it fails, it does not skip). Both real SDKs send through
`chaos_harness.RecordingProxy` before the disk fills and after it is freed; while it is full,
the test sends what fills the rest (messages of 90,000 characters in the SDK 0.0.44 shape until
one is refused), an attachment, and the 0.1.4 SDK's load, and reads.
"""

from __future__ import annotations

import base64
import errno
import json
import os
import subprocess
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests

import chaos_harness as ch
from conftest import h

TMPFS_SIZE = "40m"
BIG = "x" * 90_000


def _mount(at: Path) -> None:
    if os.geteuid() != 0:
        pytest.fail("the disk-full test mounts a tmpfs and must run as root (scripts/test.sh runs it as root)")
    at.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0700", "tmpfs", str(at)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        pytest.fail(f"mount -t tmpfs failed ({res.returncode}): {res.stderr.strip()}")


def _fill(path: Path) -> int:
    """Writes `path` until the file system is full; the bytes written."""
    n = 0
    chunk = os.urandom(1 << 20)
    with open(path, "wb", buffering=0) as f:
        for size in (1 << 20, 1 << 12, 1):
            while True:
                try:
                    n += f.write(chunk[:size])
                except OSError as e:
                    assert e.errno == errno.ENOSPC, e
                    break
    return n


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


class Raw:
    """Requests in the SDK 0.0.44 shapes, through the proxy (so they are recorded)."""

    def __init__(self, url: str, key: str):
        self.url, self.s = url, requests.Session()
        self.s.trust_env = False
        self.s.headers["Authorization"] = f"Api-Key {key}"

    def post(self, path: str, doc: dict) -> requests.Response:
        return self.s.post(self.url + path, json=doc, timeout=120)

    def conversation(self, cid: str) -> requests.Response:
        return self.post("/api/conversations/", {"conversation_id": cid, "is_used": True, "timestamp": _now(),
                                                 "customer_id": None, "metadata": None, "environment": "development"})

    def message(self, cid: str, pk: int | None, content: str) -> requests.Response:
        return self.post("/api/track/", {"content": content, "sender": "end_user", "conversation_id": cid,
                                         "conversation": pk, "metadata": {}, "timestamp": _now()})


def _refused_for_full_disk(r: requests.Response, what: str) -> None:
    assert r.status_code == 503, f"{what}: expected 503 for a full disk, got {r.status_code}: {r.text[:300]}"
    assert r.headers.get("Retry-After", "").isdigit(), f"{what}: no Retry-After: {dict(r.headers)}"
    body = r.json()
    assert body.get("code") == "disk_full" and "disk is full" in body.get("detail", ""), f"{what}: {body}"


def test_a_full_disk_is_a_503_with_retry_after_and_recovers_once_space_is_freed(tmp_path):
    binary = h.server_binary()
    mnt = tmp_path / "disk"
    _mount(mnt)
    data_dir, log_dir = mnt / "data", tmp_path / "log"
    log_dir.mkdir()
    server = None
    proxy = None
    try:
        key00, key01 = ch.agents(binary, data_dir)
        server = ch.Killable(binary, data_dir, log_dir, activated=True)
        proxy = ch.RecordingProxy(server.port)
        server.start()
        raw = Raw(proxy.url, key00)
        # Before: both SDKs, with room.
        threads, results = ch.load(server, proxy, tmp_path, key00, key01, "before", tmp_path / "stop-before", 15)
        ch.finish(threads, results)
        # Full: a filler takes every byte left.
        filler = mnt / "filler"
        filled = _fill(filler)
        cid = f"full-{uuid.uuid4().hex[:8]}"
        r = raw.conversation(cid)
        pk = r.json()["id"] if r.status_code in (200, 201) else None
        if pk is None:
            _refused_for_full_disk(r, "a conversation upsert")
        # Messages until the store is refused: SQLite reuses the room its files already have.
        refused = None
        for i in range(2000):
            r = raw.message(cid, pk, f"{i} {BIG}")
            if r.status_code != 201:
                refused = r
                break
        assert refused is not None, "2,000 messages of 90,000 characters fitted on a full disk"
        _refused_for_full_disk(refused, "a message")
        sent_while_full = i + 1
        # An attachment: its file cannot be written.
        att = raw.post("/api/attachments/", {
            "attachments": [{"filename": "a.bin", "mime_type": "application/octet-stream",
                             "data": base64.b64encode(os.urandom(256 << 10)).decode()}],
            "mode": "base64", "sender": "end_user", "metadata": {}, "conversation_id": cid,
            "conversation": pk, "timestamp": _now()})
        _refused_for_full_disk(att, "an attachment")
        # /readyz names the fault (until a write succeeds: a small one may, in room SQLite has).
        ready = requests.get(server.base_url + "/readyz", timeout=30)
        assert ready.status_code == 503, ready.text
        stores = ready.json()["checks"]["stores"]
        assert stores["status"] == "disk full" and not stores["ok"], stores
        # The 0.1.4 SDK's batches while full: refused (503) and retried by the exporter, or stored.
        threads, results = ch.load(server, proxy, tmp_path, key00, key01, "full", tmp_path / "stop-full", 5)
        ch.finish(threads, results)
        # Reads answer; the process lives.
        listed = requests.get(server.base_url + "/api/conversations/", headers={"Authorization": f"Api-Key {key00}"},
                              timeout=120)
        assert listed.status_code == 200, listed.text[:300]
        assert server.proc.poll() is None, f"the server died on a full disk\n{server.log_tail()}"
        # Freed: the next write succeeds without a restart, and /readyz is ready again.
        filler.unlink()
        r = raw.message(cid, pk, "after the disk was freed")
        if pk is None:
            r = raw.conversation(cid)
        assert r.status_code in (200, 201), f"a write after space was freed: {r.status_code} {r.text[:300]}"
        ready = requests.get(server.base_url + "/readyz", timeout=30)
        assert ready.status_code == 200, ready.text
        threads, results = ch.load(server, proxy, tmp_path, key00, key01, "after", tmp_path / "stop-after", 15)
        ch.finish(threads, results)
        records = proxy.snapshot()
        verdict = ch.verify(records, server.base_url, key00, key01)
        statuses: dict[str, int] = {}
        for rec in records:
            k = f"{rec.method} {rec.path.split('?')[0]} {rec.status}"
            statuses[k] = statuses.get(k, 0) + 1
        server.stop()
        check = ch.check_files(binary, data_dir)
        log = "\n".join(p.read_text(errors="replace") for p in server.logs)
    finally:
        if proxy is not None:
            proxy.close()
        if server is not None:
            server.close()
        subprocess.run(["umount", str(mnt)], check=False)
    print(f"\ndisk full: tmpfs {TMPFS_SIZE}, filler {filled} bytes, {sent_while_full} messages sent while full; "
          f"statuses {json.dumps(statuses)}; {json.dumps(verdict.summary())}\ncheck: {check.strip()}")
    odd = {k: n for k, n in statuses.items() if k.split()[-1] not in ("200", "201", "503")}
    assert not odd, f"requests answered otherwise than 200, 201 or 503 (or not at all): {odd}"
    assert "panicked" not in log, log[-3000:]
    assert not verdict.missing, verdict.missing[:20]
    assert not verdict.duplicated, verdict.duplicated[:20]

"""Chaos: the server is SIGKILLed at random points under load from both real SDKs and
restarted, and afterwards every event it acknowledged is stored, and nothing twice.

The load: one SDK 0.0.44 process (REST tracking: a conversation upsert, a question, every third
conversation an action, an answer, each its own POST) and one SDK 0.1.4 process (one turn per
conversation with a question, a tool call and an answer, exported as span batches every 100 ms),
both through `chaos_harness.RecordingProxy`, which records every request's body and the status
the server gave it. The server runs as deploy/agentsight.socket runs it: the test holds the
listening socket and hands it to each process (socket activation, as tests/sdk01/test_restart.py
does), so a request that arrives while the server is down waits for the next process; a request
the killed process had accepted dies with it (the SDKs see a network error and retry).

The kills (SIGKILL, `kill -9`), each at a seeded random point of one of four kinds:

* `random`: after a random stretch of load, wherever the server is;
* `ingest`: 0–4 ms after a span batch reached the proxy, so while the server validates,
  archives, commits and acknowledges it;
* `projection`: 0–2 ms after the server answered a span batch 201, so while the main writer
  projects it from the archive;
* `startup`: 0–300 ms after a process was started (it replays the batches a `projection` kill
  left unprojected; every `startup` kill follows one).

No duplicate is allowed, also not of a 0.0.44 message or action the server committed just
before a kill, whose answer never left, and which the SDK sent again: the re-send (same body,
same client `timestamp`) is answered with the stored item (docs/sdk-protocol.md). The report
counts such re-sends (`resent_after_no_answer_00x`).

Then a clean stop, `agentsight check` on the data dir (no damage), and a start that reads
everything back through the API: `chaos_harness.verify`. The number of kills, the pace and the
seed come from AGENTSIGHT_CHAOS_KILLS (20), AGENTSIGHT_CHAOS_GAP_S (mean seconds of load between
kills, 2.0) and AGENTSIGHT_CHAOS_SEED (random; printed, so a failure can be replayed);
scripts/chaos.sh runs longer campaigns (docs/chaos.md).

`test_the_comparison_finds_a_lost_and_a_doubled_event` is the control: the same comparison,
after a run without kills, finds one acknowledged message and one acknowledged span deleted
from the files and one message stored twice.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import time

import pytest

import chaos_harness as ch
from conftest import h

KILLS = int(os.environ.get("AGENTSIGHT_CHAOS_KILLS") or 20)
GAP_S = float(os.environ.get("AGENTSIGHT_CHAOS_GAP_S") or 2.0)
SEED = int(os.environ.get("AGENTSIGHT_CHAOS_SEED") or random.SystemRandom().randrange(1 << 32))
KINDS = ("random", "ingest", "projection", "startup")


def plan(rng: random.Random, kills: int) -> list[str]:
    """`kills` kinds in a random order, each kind about as often, every `startup` right after
    a `projection`."""
    out: list[str] = []
    while len(out) < kills:
        block = [["random"], ["ingest"], ["projection", "startup"]]
        rng.shuffle(block)
        out += [k for pair in block for k in pair]
    return out[:kills]


def test_kill_9_at_random_points_under_both_sdks_loses_and_doubles_nothing(tmp_path):
    binary = h.server_binary()
    rng = random.Random(SEED)
    kinds = plan(rng, KILLS)
    print(f"\nchaos seed {SEED} (AGENTSIGHT_CHAOS_SEED={SEED} replays it): {KILLS} kills: {kinds}")
    data_dir, log_dir = tmp_path / "data", tmp_path / "log"
    log_dir.mkdir()
    key00, key01 = ch.agents(binary, data_dir)
    server = ch.Killable(binary, data_dir, log_dir, activated=True)
    proxy = ch.RecordingProxy(server.port)
    stop = tmp_path / "stop"
    began = time.monotonic()
    done: list[dict] = []
    triggers: list[ch.Trigger] = []
    try:
        server.start()
        threads, results = ch.load(server, proxy, tmp_path, key00, key01, f"chaos{SEED % 100000}", stop, 100_000)
        # Both SDKs past their start (0.1.4's init reads /api/me/ once) before the first kill.
        deadline = time.monotonic() + 120
        while not (any(r.acked and r.path.startswith("/api/ingest/") for r in proxy.snapshot())
                   and any(r.acked and r.path.startswith("/api/track/") for r in proxy.snapshot())):
            assert time.monotonic() < deadline, f"the SDKs sent nothing acknowledged in 120 s\n{server.log_tail()}"
            time.sleep(0.05)
        i = 0
        while i < len(kinds):
            kind = kinds[i]
            time.sleep(rng.uniform(0.2, 2 * GAP_S))
            at = time.time()
            if kind in ("ingest", "projection"):
                delay = rng.uniform(0, 0.004 if kind == "ingest" else 0.002)
                trigger = ch.Trigger("ingest" if kind == "ingest" else "acked", delay, server.kill)
                triggers.append(trigger)
                proxy.arm(trigger)
                if not server.killed.wait(timeout=30):
                    proxy.disarm()
                    pytest.fail(f"kill {i} ({kind}): no span batch reached the proxy in 30 s\n{server.log_tail()}")
            else:
                server.kill()
            rc = server.reap()
            assert rc == -signal.SIGKILL, f"kill {i} ({kind}): the server exited with {rc} before the kill"
            done.append({"kind": kind, "at": at})
            i += 1
            if i < len(kinds) and kinds[i] == "startup":
                server.start_only()
                time.sleep(rng.uniform(0.0, 0.3))
                answered_before = server.log_path.read_text(errors="replace")
                server.kill()
                rc = server.reap()
                assert rc == -signal.SIGKILL, f"kill {i} (startup): the server exited with {rc}\n{answered_before}"
                done.append({"kind": "startup", "at": time.time(), "listening": "listening" in answered_before})
                i += 1
            server.start()
        time.sleep(rng.uniform(0.5, 2 * GAP_S))
        stop.write_text("stop")
        sdk = ch.finish(threads, results)
        load_s = time.monotonic() - began
        # A clean stop, the files checked, then everything read back.
        server.stop()
        check = ch.check_files(binary, data_dir)
        server.start()
        records = proxy.snapshot()
        verdict = ch.verify(records, server.base_url, key00, key01)
        replays = sum("projected the span batches archived before the last stop" in p.read_text(errors="replace")
                      for p in server.logs)
        server.stop()
    finally:
        proxy.close()
        server.close()
    report = {"seed": SEED, "kills": len(done), "by_kind": {k: sum(d["kind"] == k for d in done) for k in KINDS},
              "ingest_kills_that_cut_off_the_batch": sum(1 for t in triggers if t.when == "ingest" and t.record
                                                         and t.record.status is None),
              "startup_kills_before_listening": sum(1 for d in done if d["kind"] == "startup" and not d["listening"]),
              "starts_that_replayed_span_batches": replays, "load_seconds": round(load_s, 1),
              "requests": len(records), "sdk": sdk, **verdict.summary()}
    print(f"chaos: {json.dumps(report)}\ncheck: {check.strip()}")
    assert len(done) == KILLS
    assert verdict.acked_messages00 > 0 and verdict.acked_spans01 > 0, report
    assert not verdict.missing, f"seed {SEED}: acknowledged and missing: {verdict.missing[:20]}\n{report}"
    assert not verdict.duplicated, f"seed {SEED}: stored twice: {verdict.duplicated[:20]}\n{report}"


def test_the_comparison_finds_a_lost_and_a_doubled_event(tmp_path):
    """The control: the comparison of the chaos test, after a short load without kills, finds an
    acknowledged 0.0.44 message and an acknowledged 0.1.4 span that were deleted from the files,
    and a message stored twice (so a run that loses or doubles events cannot pass)."""
    binary = h.server_binary()
    data_dir, log_dir = tmp_path / "data", tmp_path / "log"
    log_dir.mkdir()
    key00, key01 = ch.agents(binary, data_dir)
    server = ch.Killable(binary, data_dir, log_dir, activated=True)
    proxy = ch.RecordingProxy(server.port)
    try:
        server.start()
        threads, results = ch.load(server, proxy, tmp_path, key00, key01, "control", tmp_path / "stop", 5)
        ch.finish(threads, results)
        server.stop()
        records = proxy.snapshot()
        lost_msg = next(r.json()["content"] for r in records if r.acked and r.path.startswith("/api/track/"))
        lost_span = next(b["spans"][0] for r in records if r.acked and r.path.startswith("/api/ingest/")
                         for b in r.json()["conversations"])
        doubled = next(r.json()["content"] for r in reversed(records)
                       if r.acked and r.path.startswith("/api/track/"))
        with sqlite3.connect(data_dir / "agentsight.db") as db:
            db.execute("DELETE FROM messages WHERE content = ?", (lost_msg,))
            db.execute("""INSERT INTO messages (agent_id, conversation_pk, kind, sender, content, ts, metadata,
                          received_at, response_us)
                          SELECT agent_id, conversation_pk, kind, sender, content, ts, metadata, received_at,
                                 response_us FROM messages WHERE content = ?""", (doubled,))
        with sqlite3.connect(data_dir / "agentsight.archive.db") as db:
            sid = int(lost_span["span_id"], 16)
            sid = sid - (1 << 64) if sid >= 1 << 63 else sid  # stored as SQLite's signed 64 bits
            gone = db.execute("DELETE FROM spans WHERE span_id = ?", (sid,)).rowcount
        assert gone == 1
        server.start()
        verdict = ch.verify(records, server.base_url, key00, key01)
        server.stop()
    finally:
        proxy.close()
        server.close()
    print(f"\ncontrol: {json.dumps(verdict.summary())}")
    assert any(repr(lost_msg) in m for m in verdict.missing), verdict.missing
    assert any(lost_span["span_id"] in m for m in verdict.missing), verdict.missing
    assert len(verdict.missing) == 2, verdict.missing
    assert [d for d in verdict.duplicated if repr(doubled) in d], verdict.duplicated

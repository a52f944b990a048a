"""`agentsight migrate`: a single box, filled by both real SDKs (0.0.44 with attachments, 0.1.4)
and `agentsight demo`, copied into PostgreSQL and the two-shard ClickHouse cluster, then served
by two scale-out nodes.

What must hold afterwards, read through each node: every agent's overview (three time zones,
a filter, hourly series), the conversation listing and every transcript equal what the SQLite
server answered before, ids included (the SDK holds conversation pks and message ids); an
attachment downloads byte for byte; the old write key sends again, and the new rows take ids
above the copied ones. The first run is stopped midway by the hidden test hook
`--stop-after-chunks` at the worst moment (a ClickHouse chunk inserted, its high-water mark not
recorded); a second run, resuming with smaller chunks, is stopped the same way in the span step
(0.1.x span rows from the box's span archive); the third resumes and finishes; a fourth copies
nothing. Row counts in ClickHouse and PostgreSQL equal the source's: nothing is duplicated. The
0.1.x conversations' span listings (payloads and states included), single spans and traces read
through each node equal the box's, span ids included.

Needs AGENTSIGHT_TEST_POSTGRES and AGENTSIGHT_TEST_CLICKHOUSE (scripts/test.sh starts throwaway
servers and sets them) and fails without them.
"""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
import subprocess
import uuid

import pytest
import requests

import conftest as c01
from conftest import h
import test_scaleout as so

AGENT = "migrate-main"
IMPORT_LOCK = 0x616773696D706F72  # the copy's advisory lock (import.rs)


# 0.1.4 with an LLM call: a token usage row to copy.
LLM01 = """
import agentsight
from agentsight import conversation, turn
from agentsight.sdk.instrumentation import record_llm_call
assert agentsight.init(auto_instrument=False, export_interval_ms=100), "agentsight.init() refused the key"
with conversation(P["cid"], customer_id="llm"):
    with turn():
        agentsight.user_message("Summarise my order")
        record_llm_call("openai", "gpt-4o-mini", input_tokens=80, output_tokens=45)
        agentsight.agent_message("Done.")
agentsight.shutdown()
emit({"ok": True})
"""


def _held_batch(cid: str, at: dt.datetime) -> dict:
    """A 0.1.x batch (as the SDK would send it) whose spans are stored in all three states: an
    incomplete turn (projected: no message) with its tool (archived only), a span of a kind
    the server does not know (archived only), and a tool of a turn that never arrives (held)."""
    trace = uuid.uuid4().hex

    def span(span_id: str, kind: str, turn: str, secs: int, **attrs) -> dict:
        t = (at + dt.timedelta(seconds=secs)).isoformat().replace("+00:00", "Z")
        return {"span_id": span_id, "trace_id": trace, "kind": kind, "name": f"{kind}-{span_id[-2:]}",
                "parent_span_id": None if kind == "turn" else turn, "started_at": t, "ended_at": t,
                "status": "ok", "events": [],
                "attributes": {"agentsight.span.kind": kind, "agentsight.turn.id": turn, **attrs}}

    t1, t2 = "00000000000000a1", "00000000000000a2"
    spans = [span(t1, "turn", t1, 0, **{"agentsight.turn.complete": False,
                                        "agentsight.turn.incomplete_reason": "abandoned"}),
             span("00000000000000b1", "tool", t1, 1, **{"agentsight.tool.name": "lookup"}),
             span("00000000000000b2", "custom", t1, 2),
             span("00000000000000b3", "tool", t2, 3, **{"agentsight.tool.name": "lookup"})]
    return {"sdk": {"name": "agentsight-python", "version": "0.1.4"},
            "conversations": [{"conversation_id": cid, "spans": spans}]}


def _migrate(binary, data_dir, backends, *extra) -> subprocess.CompletedProcess:
    return subprocess.run([str(binary), "migrate", "--data-dir", str(data_dir), *backends.flags(), *extra],
                          capture_output=True, text=True, timeout=600, env=so._env())


def _copied(stdout: str) -> dict:
    out = {}
    for line in stdout.splitlines():
        if line.startswith("  ") and line.endswith(" rows"):
            what, n = line.strip().rsplit("\t", 1)
            out[what] = int(n.split()[0])
    return out


def _download(node: so.Node, key: str, att_id: int) -> bytes:
    r = requests.get(f"{node.base_url}/api/attachments/{att_id}/download/",
                     headers={"Authorization": f"Api-Key {key}"}, timeout=30)
    assert r.status_code == 200, f"{node.base_url}: attachment {att_id}: {r.status_code} {r.text[:300]}"
    return r.content


def _all_transcripts(node: so.Node, key: str) -> dict:
    page = node.get(key, "/api/conversations/", {"page_size": 100})
    assert page["count"] <= 100, page["count"]
    return {r["conversation_id"]: node.get(key, f"/api/conversations/{r['id']}/") for r in page["results"]}


def _state(node: so.Node, key: str, day: dt.date) -> dict:
    page = node.get(key, "/api/conversations/", {"page_size": 100})
    span = {"from": (day - dt.timedelta(days=2)).isoformat(), "to": (day + dt.timedelta(days=1)).isoformat()}
    return {"overviews": so.overviews(node, key, day), "listing": page, "transcripts": _all_transcripts(node, key),
            "usage": node.get(key, "/api/token-usage/", {"page_size": 100}),
            "llm": node.get(key, "/api/metrics/llm/", {**span, "tz": "Asia/Kolkata"})}


def _spans(node: so.Node, key: str, cids: list[str]) -> dict:
    """Per conversation: its span listing (with payloads), each of its spans by row id and each
    of its traces; and the agent's newest spans."""
    newest = node.get(key, "/api/spans/", {"page_size": 100, "ordering": "-started_at"})
    # `next` and `previous` are URLs on the node that answered.
    out = {"newest": {k: v for k, v in newest.items() if k not in ("next", "previous")}}
    for cid in cids:
        listing = node.get(key, "/api/spans/", {"conversation_id": cid, "payload": "true", "page_size": 100})
        assert 0 < listing["count"] <= 100, (cid, listing["count"])
        out[cid] = {
            "listing": listing,
            "by_pk": node.get(key, "/api/spans/", {"conversation": listing["results"][0]["conversation"],
                                                   "page_size": 100, "ordering": "-started_at"}),
            "spans": {r["id"]: node.get(key, f"/api/spans/{r['id']}/", {"payload": "true"})
                      for r in listing["results"]},
            "traces": {t: node.get(key, f"/api/traces/{t}/")
                       for t in sorted({r["trace_id"] for r in listing["results"]})},
        }
    return out


def _progress_at_start(stderr: str, step: str) -> list[tuple[int, int]]:
    """Per agent, the (done, total) of `step` a run reported first (plain progress lines)."""
    seen: dict[str, tuple[int, int]] = {}
    for line in stderr.splitlines():
        head, _, count = line.rpartition(": ")
        if line.startswith("migrate: agent ") and head.endswith(f" {step}") and head not in seen:
            done, total = count.split("/")
            seen[head] = (int(done), int(total))
    return list(seen.values())


def test_migrate_a_single_box_into_the_cluster_resumably(tmp_path):
    binary = h.server_binary()
    assert binary.is_file(), f"build the release binary first: {binary}"
    py00 = c01.sdk_python00()
    if not py00:
        pytest.fail("AGENTSIGHT_SDK00_PYTHON must point at the python of the 0.0.44 venv; scripts/test.sh sets it")
    data_dir = tmp_path / "box"
    backends = so.Backends()
    nodes: list[so.Node] = []
    try:
        key = h.last_nonempty_line(so._cli(binary, "agent", "create", AGENT, "--data-dir", str(data_dir)))
        demo_key = h.last_nonempty_line(so._cli(binary, "demo", "--conversations", "80", "--days", "2",
                                                "--agent", "demo", "--data-dir", str(data_dir)))
        read_key = h.last_nonempty_line(so._cli(binary, "key", "create", "--agent", AGENT, "--role", "read",
                                                "--data-dir", str(data_dir)))
        assert h.KEY_RE.match(key) and h.KEY_RE.match(demo_key) and h.KEY_RE.match(read_key)
        res = subprocess.run([str(binary), "user", "create", "viewer@example.com", "--role", "viewer", "--agent", AGENT,
                              "--password-stdin", "--data-dir", str(data_dir)], input="correct horse battery\n",
                             capture_output=True, text=True, timeout=60, env=so._env())
        assert res.returncode == 0, res.stderr
        # Settings that go with the box: a retention, an alert rule, a webhook, SMTP.
        so._cli(binary, "agent", "retention", AGENT, "--days", "400", "--data-dir", str(data_dir))
        so._cli(binary, "alert", "create", "--agent", AGENT, "--kind", "cost_per_day", "--threshold", "2.5",
                "--window-hours", "48", "--data-dir", str(data_dir))
        res = subprocess.run([str(binary), "notify", "target", "add-webhook", "--name", "ops", "--url",
                              "https://hooks.example.com/services/team/hook/x", "--secret-stdin", "--data-dir", str(data_dir)],
                             input="a-webhook-signing-secret-0123\n", capture_output=True, text=True, timeout=60,
                             env=so._env())
        assert res.returncode == 0, res.stderr
        res = subprocess.run([str(binary), "notify", "smtp", "set", "--host", "smtp.example.com", "--port", "587",
                              "--security", "starttls", "--username", "mailer", "--password-stdin", "--from",
                              "reports@example.com", "--data-dir", str(data_dir)],
                             input="smtp-password-123\n", capture_output=True, text=True, timeout=60, env=so._env())
        assert res.returncode == 0, res.stderr

        lite = so.Node(binary, ["--data-dir", str(data_dir)], tmp_path / "sqlite.log")
        nodes.append(lite)
        tag = uuid.uuid4().hex[:8]
        start = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(hours=2)
        p00 = {"t0": start.isoformat(), "conversations": so.conversations00(tag)}
        p01 = {"t0_ns": int((start + dt.timedelta(minutes=30)).timestamp()) * 1_000_000_000,
               "conversations": so.conversations01(tag)}
        endpoint = so.Endpoint(lite.base_url, key, [lite])
        work = tmp_path / "scenarios"
        work.mkdir()
        env = {"AGENTSIGHT_LOG_LEVEL": "WARNING"}
        assert h.SdkRunner(endpoint, work, py00).run(so.SDK00, key=key, params=p00, env=env) == {"errors": 0}
        h.SdkRunner(endpoint, work, c01.sdk_python01()).run(so.SDK01, key=key, params=p01, env=env)
        big = 2 * 1024 * 1024 + 4321
        r = h.SdkRunner(endpoint, work, py00).run(so.SDK00_ATTACHMENTS, key=key,
                                                  params={"cid": f"{tag}-attachments", "big": big}, env=env)
        assert r["errors"] == 0, r
        h.SdkRunner(endpoint, work, c01.sdk_python01()).run(LLM01, key=key, params={"cid": f"{tag}-llm"}, env=env)
        c01.wait_for(lambda: lite.get(key, "/api/token-usage/", {"page_size": 100})["results"], what="a usage row")
        r = requests.post(f"{lite.base_url}/api/ingest/", json=_held_batch(f"{tag}-held", start),
                          headers={"Authorization": f"Api-Key {key}"}, timeout=30)
        assert r.status_code == 201, f"{r.status_code} {r.text}"

        today = dt.datetime.now(dt.timezone.utc).date()
        want = {AGENT: (key, _state(lite, key, start.date())), "demo": (demo_key, _state(lite, demo_key, today))}
        assert want[AGENT][1]["overviews"]["UTC"]["total_messages"] > 20
        assert want["demo"][1]["overviews"]["UTC"]["total_messages"] > 300
        pk = lite.get(key, "/api/conversations/lookup/", {"conversation_id": f"{tag}-attachments"})["id"]
        atts = {a["filename"]: a["id"] for g in lite.get(key, f"/api/conversations/{pk}/attachments/")["messages"]
                for a in g["attachments"]}
        assert set(atts) == {"big.bin", "notes.txt"}, atts
        span_cids = [cid for cid, _, _ in so.conversations01(tag)] + [f"{tag}-llm", f"{tag}-held"]
        want_spans = _spans(lite, key, span_cids)
        states = {r["projection"] for cid in span_cids for r in want_spans[cid]["listing"]["results"]}
        assert states == {"projected", "held", "archived"}, states
        lite.stop()
        nodes.remove(lite)

        db = sqlite3.connect(data_dir / "agentsight.db")
        # A report schedule and the record of a week it sent (arranged in the file: the single
        # box's API would need a session): after the copy that week is not sent again.
        agent_id = db.execute("SELECT id FROM agents WHERE name = ?", (AGENT,)).fetchone()[0]
        db.execute("INSERT INTO report_schedules (id, agent_id, cadence, day, hour, time_zone, recipients, enabled, "
                   "active_since, created_at, updated_at) VALUES (7, ?, 'weekly', 1, 8, 'Europe/Zagreb', "
                   "'[\"client@example.com\"]', 1, 1, 1, 1)", (agent_id,))
        db.execute("INSERT INTO report_sends (schedule_id, period_key, state, attempts, claimed_at, sent_at) "
                   "VALUES (7, '2026-W49', 'sent', 1, 5, 6)")
        db.commit()
        settings_rows = {t: db.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
                         for t in ("alert_rules", "notify_targets", "smtp_settings", "report_schedules", "report_sends")}
        source = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for t in ("conversations", "messages", "action_logs", "buttons", "feedbacks", "attachments",
                            "token_usage", "api_keys")}
        max_message_id = db.execute("SELECT max(id) FROM messages").fetchone()[0]
        db.close()
        assert source["messages"] > 500 and source["attachments"] == 2 and source["token_usage"] == 1, source
        archive = sqlite3.connect(data_dir / "agentsight.archive.db")
        span_states = dict(archive.execute("SELECT state, count(*) FROM spans GROUP BY 1").fetchall())
        archive.close()
        source["spans"] = sum(span_states.values())
        assert source["spans"] > 12 and set(span_states) == {0, 1, 2}, span_states

        # A run stopped midway (after a ClickHouse chunk went in, before it was recorded).
        stopped = _migrate(binary, data_dir, backends, "--chunk-rows", "100", "--stop-after-chunks", "7")
        assert stopped.returncode != 0, stopped.stdout
        assert "stopped by --stop-after-chunks" in stopped.stderr, stopped.stderr
        assert "run it again to resume" in stopped.stderr, stopped.stderr
        # Not a terminal: progress as plain lines.
        assert "migrate: agent " in stopped.stderr, stopped.stderr
        # While another copy holds the lock (here a psql session), a run is refused.
        holder = subprocess.Popen(["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", backends.postgres],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        holder.stdin.write(f"SELECT pg_advisory_lock({IMPORT_LOCK});\n\\echo held\n")
        holder.stdin.flush()
        line = ""
        while "held" not in line:
            line = holder.stdout.readline()
            assert line, "psql ended before it took the lock"
        busy = _migrate(binary, data_dir, backends)
        holder.stdin.close()
        holder.wait(timeout=30)
        assert busy.returncode != 0 and "another `agentsight migrate` is copying" in busy.stderr, busy.stderr

        # A rerun with smaller chunks resumes (the first run's chunks stay, and the chunk it
        # inserted without its mark is not inserted again) and is stopped in the span step.
        spans_stopped = _migrate(binary, data_dir, backends, "--chunk-rows", "10", "--stop-in-step", "spans",
                                 "--stop-after-chunks", "2")
        assert spans_stopped.returncode != 0, spans_stopped.stdout
        assert "stopped by --stop-after-chunks" in spans_stopped.stderr, spans_stopped.stderr
        resumed = _progress_at_start(spans_stopped.stderr, "messages")
        assert any(0 < d < t for d, t in resumed), resumed
        assert _progress_at_start(spans_stopped.stderr, "spans")[0] == (0, source["spans"]), spans_stopped.stderr

        # The next run resumes and finishes; a fourth copies nothing.
        done = _migrate(binary, data_dir, backends, "--chunk-rows", "100")
        assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
        copied = _copied(done.stdout)
        assert copied["messages"] == 0, copied
        assert 0 < copied["spans"] < source["spans"], copied  # resumed: the first span chunk was recorded
        again = _migrate(binary, data_dir, backends)
        assert again.returncode == 0, f"{again.stdout}\n{again.stderr}"
        assert set(_copied(again.stdout).values()) == {0}, again.stdout

        # Another box into the same deployment is refused (its ids would collide).
        other = tmp_path / "other"
        so._cli(binary, "agent", "create", "other", "--data-dir", str(other))
        refused = _migrate(binary, other, backends)
        assert refused.returncode != 0 and "holds a copy of another data dir" in refused.stderr, refused.stderr

        # The settings came along, field for field (booleans as booleans).
        for table, rows in settings_rows.items():
            got = subprocess.run(["psql", "-X", "-A", "-t", "-F", "\t", backends.postgres, "-c",
                                  f"SELECT * FROM {table} ORDER BY 1"], capture_output=True, text=True, timeout=30)
            assert got.returncode == 0, got.stderr
            lines = [l for l in got.stdout.splitlines() if l]
            assert len(lines) == len(rows) == 1, (table, lines, rows)
            want_cells = ["" if v is None else str(v) for v in rows[0]]
            got_cells = lines[0].split("\t")
            for i, (w, g) in enumerate(zip(want_cells, got_cells)):
                assert g == w or (g, w) in (("t", "1"), ("f", "0")), (table, i, g, w)
        assert "400" in so._cli(binary, "agent", "retention", AGENT, *backends.flags())

        # Nothing duplicated: the cluster holds what the box held.
        ch = backends.shards[0] + f"?database={backends.name}"
        for table in ("messages", "action_logs", "buttons", "feedbacks"):
            n = int(so._ch(ch, f"SELECT count() FROM {table}").strip())
            assert n == source[table], f"ClickHouse {table}: {n} rows, the box had {source[table]}"
        n = int(so._ch(ch, "SELECT count() FROM conversations").strip())
        assert n == source["conversations"], f"ClickHouse conversations: {n}, the box had {source['conversations']}"
        # Every copied message can be found by id (reads by id look its conversation up there).
        n = int(so._ch(ch, "SELECT count() FROM messages WHERE (agent_id, id, conversation_pk) GLOBAL NOT IN "
                           "(SELECT agent_id, id, conversation_pk FROM message_ids)").strip())
        assert n == 0, f"{n} copied messages have no message_ids row"
        n = int(so._ch(ch, "SELECT count() FROM spans").strip())
        assert n == source["spans"], f"ClickHouse spans: {n}, the box had {source['spans']}"
        got = subprocess.run(["psql", "-X", "-A", "-t", "-F", "\t", backends.postgres, "-c",
                              "SELECT state, count(*) FROM event_spans GROUP BY 1 ORDER BY 1"],
                             capture_output=True, text=True, timeout=30)
        assert got.returncode == 0, got.stderr
        pg_states = {int(a): int(b) for a, b in (l.split("\t") for l in got.stdout.splitlines() if l)}
        assert pg_states == span_states, f"event_spans by state: {pg_states}, the box had {span_states}"

        for name in ("a", "b"):
            nodes.append(so.Node(binary, backends.flags(), tmp_path / f"node-{name}.log"))
        a, b = nodes
        for node in (a, b):
            for agent, (k, state) in want.items():
                day = start.date() if agent == AGENT else today
                got = _state(node, k, day)
                for z in state["overviews"]:
                    assert got["overviews"][z] == state["overviews"][z], f"{node.base_url} {agent}: overview {z}"
                assert got["listing"] == state["listing"], f"{node.base_url} {agent}: listing"
                assert got["usage"] == state["usage"], f"{node.base_url} {agent}: token usage"
                assert got["llm"] == state["llm"], f"{node.base_url} {agent}: LLM metrics"
                for cid, t in state["transcripts"].items():
                    assert got["transcripts"][cid] == t, f"{node.base_url} {agent}: transcript of {cid}"
            got_spans = _spans(node, key, span_cids)
            for what, value in want_spans.items():
                assert got_spans[what] == value, f"{node.base_url}: spans of {what}"
        # The attachments, by their old ids, byte for byte.
        want_bytes = {"big.bin": random.Random(1).randbytes(big), "notes.txt": random.Random(2).randbytes(1000)}
        for name, att_id in atts.items():
            assert _download(b, key, att_id) == want_bytes[name], name

        # The read key and the user's password work on the deployment.
        assert b.get(read_key, "/api/conversations/", {"page_size": 100}) == want[AGENT][1]["listing"]
        with requests.Session() as s:
            r = s.post(f"{a.base_url}/api/auth/login/", json={"email": "viewer@example.com",
                                                               "password": "correct horse battery"}, timeout=30)
            assert r.status_code == 200, f"sign-in after migrate: {r.status_code} {r.text}"
            me = s.get(f"{a.base_url}/api/auth/me/", timeout=30).json()
            assert me["user"]["email"] == "viewer@example.com", me

        # The old key sends again (through node A); new ids are above the copied ones.
        p_new = {"t0": dt.datetime.now(dt.timezone.utc).isoformat(),
                 "conversations": [[f"{tag}-after", {"customer_id": "zoe"}, [("user", "hello again", 0),
                                                                            ("agent", "welcome back", 300)]]]}
        r = h.SdkRunner(so.Endpoint(a.base_url, key, [a]), work, py00).run(so.SDK00, key=key, params=p_new, env=env)
        assert r == {"errors": 0}, r
        new_pk = b.get(key, "/api/conversations/lookup/", {"conversation_id": f"{tag}-after"})["id"]
        t = b.get(key, f"/api/conversations/{new_pk}/")
        assert [m["content"] for m in t["messages"]] == ["hello again", "welcome back"], t
        assert new_pk > max(c["id"] for c in want[AGENT][1]["listing"]["results"])
        assert min(m["id"] for m in t["messages"]) > max_message_id
        print(f"migrated {source}: first run stopped, second copied {copied}, third copied nothing")
    finally:
        for node in nodes:
            node.stop()
        backends.drop()

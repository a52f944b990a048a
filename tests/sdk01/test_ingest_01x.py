"""Behaviours 9-14 of docs/sdk-protocol.md Part C, driven through the real agentsight 0.1.4.

Each scenario runs in its own SDK process; assertions are made on what the server's read API
returns (transcripts, /api/spans/, /api/token-usage/), not on what the SDK reports.
"""

from __future__ import annotations

import json

from conftest import wait_for


def lookup(server, cid):
    r = server.get("/api/conversations/lookup/", params={"conversation_id": cid})
    return r.json() if r.status_code == 200 else None


def detail(server, cid):
    row = wait_for(lambda: lookup(server, cid), what=f"conversation {cid}")
    return server.detail(row["id"])


def spans(server, cid, **params):
    return server.get_json("/api/spans/", params={"conversation_id": cid, "payload": "false", **params})["results"]


def usage(server, cid):
    return server.get_json("/api/token-usage/", params={"conversation_id": cid})["results"]


def transcript(d):
    return [(m["sender"], m["content"]) for m in d["messages"]]


# --------------------------------------------------------------------------- 9


def test_09_happy_path_through_ingest(server01, sdk01, new_cid):
    cid = new_cid("k1")
    sdk01.run('''
        start()
        with conversation(P["cid"], customer_id="cust-9", device="mobile", source="WhatsApp",
                          language="en", name="Order help", customer_ip_address="8.8.8.8",
                          environment="production", metadata={"plan": "pro", "seats": 3}):
            with turn():
                agentsight.user_message("Where is my order?", metadata={"channel": "chat"})
                agentsight.agent_message("It ships tomorrow.")
        agentsight.shutdown()
        emit({"ok": True})
    ''', params={"cid": cid})
    d = detail(server01, cid)
    assert transcript(d) == [("end_user", "Where is my order?"), ("agent", "It ships tomorrow.")]
    assert d["messages"][0]["metadata"] == {"channel": "chat"}
    assert d["is_used"] is True
    assert (d["customer_id"], d["device"], d["source"], d["language"], d["name"], d["environment"]) == (
        "cust-9", "mobile", "whatsapp", "en", "Order help", "production")
    assert d["metadata"] == {"plan": "pro", "seats": 3}, "metadata is stored as an object"
    assert d["geo_location"]["country"] == "US"
    assert d["message_count"] == 2
    rows = spans(server01, cid)
    assert [s["kind"] for s in rows] == ["turn"]
    assert rows[0]["sdk_version"] == "0.1.4" and rows[0]["projection"] == "projected"


# --------------------------------------------------------------------------- 10


def test_10_tools_and_llm_usage(server01, sdk01, new_cid):
    cid = new_cid("tools")
    sdk01.run('''
        from agentsight.sdk.instrumentation import record_llm_call
        start()

        @agentsight.tool(name="lookup")
        def lookup(order_id, verbose=False):
            return {"status": "shipped", "order": order_id}

        with conversation(P["cid"]):
            with turn():
                agentsight.user_message("Where is order 7?")
                lookup(7)
                record_llm_call("openai", "gpt-4o-mini", input_tokens=80, output_tokens=45)
                agentsight.agent_message("Shipped.")
        agentsight.shutdown()
        emit({"ok": True})
    ''', params={"cid": cid})
    d = detail(server01, cid)
    entries = transcript(d)
    assert entries[0] == ("end_user", "Where is order 7?") and entries[-1] == ("agent", "Shipped.")
    actions = [m for m in d["messages"] if m["action_name"]]
    assert len(actions) == 1 and actions[0]["content"] == "Action lookup performed"
    log = actions[0]["action_logs"][0]
    assert log["tools_used"] == {"order_id": 7, "verbose": False}
    assert log["response"] == "{'status': 'shipped', 'order': 7}", "str(result), a Python repr"
    assert log["duration_ms"] is not None and log["error_message"] == ""
    rows = wait_for(lambda: usage(server01, cid), what="usage row")
    assert len(rows) == 1
    u = rows[0]
    assert (u["model"], u["calls"], u["input_tokens"], u["output_tokens"]) == ("gpt-4o-mini", 1, 80, 45)
    assert u["cost_source"] == "backend" and u["cost_usd"] == "0.000039", u
    assert u["turn_id"] == next(s["span_id"] for s in spans(server01, cid, kind="turn"))
    defs = server01.get_json("/api/actions/", params={"name": "lookup"})["results"]
    assert [a["name"] for a in defs] == ["lookup"]


def test_10b_openai_instrumentation_against_a_local_standin(server01, sdk01, new_cid, openai_standin):
    """The real `openai` package, patched by the SDK, calls a local OpenAI-compatible server
    that reports usage; the token row and its cost come from the SDK's own llm span."""
    cid = new_cid("openai")
    before = len(openai_standin["calls"])
    sdk01.run('''
        import openai
        start(auto_instrument=["openai"])
        client = openai.OpenAI(base_url=P["base"], api_key="sk-standin", max_retries=0)
        with conversation(P["cid"]):
            with turn():
                agentsight.user_message("Where is my order?")
                r = client.chat.completions.create(model="gpt-4o-mini",
                                                   messages=[{"role": "user", "content": "Where is my order?"}])
                r2 = client.chat.completions.create(model="gpt-4o-mini",
                                                    messages=[{"role": "user", "content": "Again"}])
                e = client.embeddings.create(model="text-embedding-3-small", input="order")
                agentsight.agent_message(r.choices[0].message.content)
        agentsight.shutdown()
        emit({"ok": True})
    ''', params={"cid": cid, "base": openai_standin["url"]})
    assert len(openai_standin["calls"]) - before == 3, "the stand-in answered the three calls"
    rows = wait_for(lambda: usage(server01, cid), what="usage rows")
    by_model = {u["model"]: u for u in rows}
    chat = by_model["gpt-4o-mini-2024-07-18"]
    # Two calls, each prompt 120 (40 of them cached) and completion 45 (10 reasoning).
    assert (chat["calls"], chat["input_tokens"], chat["cache_read_tokens"], chat["output_tokens"]) == (2, 160, 80, 90)
    assert chat["reasoning_tokens"] == 20 and chat["total_tokens"] == 330, "reasoning is a subset"
    # 160 × $0.15 + 80 × $0.075 + 90 × $0.60 per 1M tokens
    assert chat["cost_usd"] == "0.000084" and chat["cost_source"] == "backend"
    emb = by_model["text-embedding-3-small"]
    assert emb["calls"] == 1 and emb["cost_source"] == "backend"
    summary = server01.get_json("/api/token-usage/summary/", params={"group_by": "model", "conversation_id": cid})
    assert {g["group"]: g["calls"] for g in summary["results"]} == {"gpt-4o-mini-2024-07-18": 2, "text-embedding-3-small": 1}
    d = detail(server01, cid)
    assert transcript(d) == [("end_user", "Where is my order?"), ("agent", "It ships tomorrow.")]


# --------------------------------------------------------------------------- 11


def test_11_incomplete_turns_are_archived_not_projected(server01, sdk01, new_cid):
    cid = new_cid("incomplete")
    sdk01.run('''
        from agentsight.sdk.instrumentation import record_llm_call
        start()
        with conversation(P["cid"]):
            try:
                with turn():
                    agentsight.user_message("x")
                    record_llm_call("openai", "gpt-4o-mini", input_tokens=10, output_tokens=2)
                    raise ValueError("boom")
            except ValueError:
                pass
            with turn():
                agentsight.user_message("never answered")
                agentsight.abandon_turn()
        agentsight.shutdown()
        emit({"ok": True})
    ''', params={"cid": cid})
    rows = wait_for(lambda: [s for s in spans(server01, cid) if s["kind"] == "turn"], what="turn spans")
    assert len(rows) == 2 and all(s["status"] == "error" for s in rows)
    d = detail(server01, cid)
    assert d["messages"] == [], "incomplete turns never reach the transcript"
    u = wait_for(lambda: usage(server01, cid), what="usage row")
    assert len(u) == 1 and u[0]["incomplete"] is True and u[0]["incomplete_reason"] == "error"
    full = server01.get_json(f"/api/spans/{rows[0]['id']}/", params={"payload": "true"})
    assert full["payload"]["attributes"]["agentsight.turn.complete"] is False


# --------------------------------------------------------------------------- 12


def test_12_visit_ping_and_metadata_update(server01, sdk01, new_cid):
    cid = new_cid("k2")
    sdk01.run('''
        start()
        agentsight.open_conversation(P["cid"], device="desktop", metadata={"a": 0, "b": 2})
        agentsight.shutdown()
        emit({"ok": True})
    ''', params={"cid": cid})
    d = detail(server01, cid)
    assert d["is_used"] is False and d["device"] == "desktop" and d["messages"] == []
    sdk01.run('''
        start()
        with conversation(P["cid"], metadata={"a": 0, "b": 2}):
            with turn():
                agentsight.user_message("hello")
                agentsight.agent_message("hi")
            agentsight.update_metadata({"a": 1}, remove=["b"])
        agentsight.shutdown()
        emit({"ok": True})
    ''', params={"cid": cid})
    d = wait_for(lambda: (lambda x: x if x["is_used"] else None)(detail(server01, cid)), what="is_used flip")
    assert d["metadata"] == {"a": 1}, "the merged document replaces the stored one"
    assert transcript(d) == [("end_user", "hello"), ("agent", "hi")]


# --------------------------------------------------------------------------- 13


def test_13_preflight_capabilities_gzip_and_custom_slugs(server01, sdk01, new_cid, proxy):
    me = server01.get_json("/api/me/")
    assert me["role"] == "write" and me["capabilities"] == ["gzip-ingest"]
    assert {"production", "development", "staging"} <= {e["slug"] for e in me["environments"]}
    cid = new_cid("gzip")
    code = '''
        import time
        start()
        time.sleep(0.8)                      # the preflight answers first
        with conversation(P["cid"], environment="staging"):
            with turn():
                agentsight.user_message("x" * 12000)
                agentsight.agent_message("ok")
        agentsight.shutdown()
        emit({"ok": True})
    '''
    sdk01.run(code, endpoint=proxy.url, params={"cid": cid})
    posts = proxy.ingests()
    assert posts and all(p.headers.get("Content-Encoding") == "gzip" for p in posts), [p.headers for p in posts]
    assert all(p.status == 201 for p in posts)
    d = detail(server01, cid)
    assert d["environment"] == "staging", "a custom slug learned from /api/me/ is accepted"
    assert transcript(d)[0][1] == "x" * 12000

    proxy.reset()
    proxy.strip_capabilities = True
    cid2 = new_cid("plain")
    sdk01.run(code, endpoint=proxy.url, params={"cid": cid2})
    posts = proxy.ingests()
    assert posts and all("Content-Encoding" not in p.headers for p in posts)
    assert len(transcript(detail(server01, cid2))) == 2


# --------------------------------------------------------------------------- 14


SEND_ONE = '''
    start()
    with conversation(P["cid"], device=P.get("device")):
        with turn():
            agentsight.user_message("hello")
            agentsight.agent_message("hi")
    agentsight.shutdown()
    emit({"ok": True})
'''


def test_14a_a_bad_block_is_a_400_nothing_written_and_no_retry(server01, sdk01, new_cid, proxy):
    cid = new_cid("bad")
    sdk01.run(SEND_ONE, endpoint=proxy.url, params={"cid": cid, "device": "phone"})
    posts = proxy.ingests()
    assert [p.status for p in posts] == [400], "one request, refused, not retried"
    assert server01.get("/api/conversations/lookup/", params={"conversation_id": cid}).status_code == 404
    # The body names the block and the field.
    r = server01.post("/api/ingest/", json={"conversations": [{"conversation_id": cid, "device": "phone", "spans": []}]})
    body = r.json()
    assert r.status_code == 400 and body["conversations"][0]["index"] == 0
    assert body["conversations"][0]["conversation_id"] == cid and "device" in body["conversations"][0]["errors"]


def test_14b_a_429_is_retried_after_retry_after_and_stored_once(server01, sdk01, new_cid, proxy):
    cid = new_cid("throttled")
    proxy.ingest_plan.append(("answer", 429, '{"detail": "throttled"}', {"Retry-After": "1"}))
    sdk01.run(SEND_ONE, endpoint=proxy.url, params={"cid": cid})
    assert [p.status for p in proxy.ingests()] == [429, 201]
    assert transcript(detail(server01, cid)) == [("end_user", "hello"), ("agent", "hi")]


def test_14c_a_500_after_the_write_is_resent_and_deduplicated(server01, sdk01, new_cid, proxy):
    cid = new_cid("resent")
    proxy.ingest_plan.append(("forward-then", 500))
    sdk01.run(SEND_ONE, endpoint=proxy.url, params={"cid": cid})
    assert [p.status for p in proxy.ingests()] == [500, 201], "the exporter resent the same batch"
    d = detail(server01, cid)
    assert transcript(d) == [("end_user", "hello"), ("agent", "hi")], "stored once"
    assert len(spans(server01, cid)) == 1


def test_14d_the_server_throttles_per_agent_with_retry_after(server01):
    """Our own limiter (not the proxy): a burst over the agent's rate answers 429 + Retry-After."""
    body = json.dumps({"conversations": [{"conversation_id": "throttle-probe", "spans": []}]})
    statuses = []
    with __import__("requests").Session() as s:
        s.trust_env = False
        for _ in range(5000):
            r = s.post(server01.base_url + "/api/ingest/", data=body,
                       headers={"Authorization": f"Api-Key {server01.other_key}", "Content-Type": "application/json"})
            statuses.append(r.status_code)
            if r.status_code == 429:
                assert int(r.headers["Retry-After"]) >= 1
                break
    assert statuses[-1] == 429 and set(statuses[:-1]) == {201}

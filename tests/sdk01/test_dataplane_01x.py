"""Behaviours 15-18 of docs/sdk-protocol.md Part C: the 0.1.4 REST data plane (uploads, the API
client with paging and id resolution, feedback kinds, the error taxonomy)."""

from __future__ import annotations

import subprocess

from conftest import wait_for


def new_agent(server, name):
    out = subprocess.run([str(server.bin), "agent", "create", name, "--data-dir", str(server.data_dir)],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


# --------------------------------------------------------------------------- 15


def test_15_upload_attachments_round_trip(server01, sdk01, new_cid):
    cid = new_cid("k3")
    res = sdk01.run('''
        start()
        out = {}
        with conversation(P["cid"]):
            with turn():
                agentsight.user_message("here is the screenshot")
                agentsight.agent_message("thanks")
            out["first"] = agentsight.upload_attachments({"filename": "f.png", "data": b"\\x89PNG\\r\\n\\x1a\\nxx"})
        agentsight.flush()
        agentsight.shutdown()
        emit(out)
    ''', params={"cid": cid})
    first = res["first"]
    assert first["attachments"][0]["filename"] == "f.png" and first["attachments"][0]["mime_type"] == "image/png"
    pk = server01.lookup(cid)
    files = server01.attachments(pk)
    assert files["total_attachments"] == 1
    d = wait_for(lambda: (lambda x: x if x["message_count"] == 2 else None)(server01.detail(pk)), what="transcript")
    msg_id = next(m["id"] for m in d["messages"] if m["sender"] == "agent")
    res = sdk01.run('''
        start()
        out = {}
        with conversation(P["cid"]):
            out["linked"] = agentsight.upload_attachments({"filename": "a.pdf", "data": b"%PDF-1.4"},
                                                          message_id=P["mid"], sender="agent")
            try:
                agentsight.upload_attachments({"filename": "b.txt", "data": b"x"}, message_id=P["foreign"])
                out["foreign"] = None
            except agentsight.UploadError as e:
                out["foreign"] = e.status_code
        agentsight.shutdown()
        emit(out)
    ''', params={"cid": cid, "mid": msg_id, "foreign": 999999999})
    assert res["linked"]["attachments"][0]["message"] == msg_id
    assert res["foreign"] == 404
    d = server01.detail(pk)
    linked = next(m for m in d["messages"] if m["id"] == msg_id)
    assert [a["mime_type"] for a in linked["attachments"]] == ["application/pdf"]
    assert server01.attachments(pk)["total_attachments"] == 2
    kinds = {s["kind"] for s in server01.get_json("/api/spans/", params={"conversation_id": cid})["results"]}
    assert "attachment" in kinds, "the upload's attachment span is archived"


# --------------------------------------------------------------------------- 16


def test_16_api_client_resolution_and_paging(server01, sdk01, new_cid):
    key = new_agent(server01, f"paging-{new_cid('agent')}")
    prefix = new_cid("page")
    res = sdk01.run('''
        from agentsight.api import AgentSight
        start()
        for i in range(120):
            with conversation(f"{P['prefix']}-{i:03d}", environment="production"):
                with turn():
                    agentsight.user_message(f"hello {i}")
                    agentsight.agent_message("hi")
        agentsight.shutdown()
        ags = AgentSight()
        rows = list(ags.conversations.list(environment="production"))
        one = ags.conversations.get(f"{P['prefix']}-007")
        renamed = ags.conversations.rename(f"{P['prefix']}-007", "  Seven  ")
        marked = ags.conversations.mark(f"{P['prefix']}-007", True)
        ags.conversations.update_metadata(f"{P['prefix']}-007", {"plan": "pro"})
        after = ags.conversations.get(f"{P['prefix']}-007", full=False)
        deleted = ags.conversations.delete(f"{P['prefix']}-008")
        remaining = sum(1 for _ in ags.conversations.list(environment="production"))
        emit({"n": len(rows), "ids": sorted(r["conversation_id"] for r in rows), "one": one,
              "renamed": renamed, "marked": marked, "after": after, "deleted": deleted,
              "remaining": remaining, "me": ags.me(), "envs": ags.environments(),
              "keys": ags.conversations.metadata_keys(),
              "values": ags.conversations.metadata_values("plan")})
    ''', key=key, params={"prefix": prefix})
    assert res["n"] == 120 and len(set(res["ids"])) == 120, "every row of every page, once"
    assert [m["content"] for m in res["one"]["messages"]] == ["hello 7", "hi"]
    assert res["renamed"]["name"] == "Seven" and res["marked"]["is_marked"] is True
    assert res["after"]["metadata"] == {"plan": "pro"} and res["after"]["name"] == "Seven"
    assert res["deleted"]["is_deleted"] is True and res["remaining"] == 119
    assert res["me"]["role"] == "write" and "production" in res["envs"]
    assert res["keys"] == {"keys": ["plan"]}
    assert res["values"] == {"key": "plan", "values": ["pro"]}


# --------------------------------------------------------------------------- 17


def test_17_feedback_kinds(server01, sdk01, new_cid):
    key = new_agent(server01, f"feedback-{new_cid('agent')}")
    cid = new_cid("k1")
    res = sdk01.run('''
        from agentsight.api import AgentSight
        start()
        with conversation(P["cid"]):
            with turn():
                agentsight.user_message("hi")
                agentsight.agent_message("hello, how can I help?")
        agentsight.shutdown()
        ags = AgentSight()
        conv = ags.conversations.get(P["cid"])
        mid = next(m["id"] for m in conv["messages"] if m["sender"] == "agent")
        out = {}
        out["conv"] = ags.feedbacks.create_for_conversation(P["cid"], "negative", "x")
        out["m1"] = ags.feedbacks.create_for_message(mid, "positive", topic="style")
        out["m2"] = ags.feedbacks.create_for_message(mid, "negative", reason="too_long")
        out["agent"] = ags.feedbacks.create_for_agent("positive", environment="production")
        page = ags.feedbacks.page()
        out["count"] = page.count
        out["counts"] = page.extra.get("counts")
        out["kinds"] = sorted(r["kind"] for r in page.results)
        out["message"] = ags.messages.get(mid)
        ags.messages.update_metadata(mid, {"rated": True})
        out["message_after"] = ags.messages.get(mid)
        emit(out)
    ''', key=key, params={"cid": cid})
    assert res["conv"]["kind"] == "conversation" and res["conv"]["source"] == "customer"
    assert res["m1"]["id"] == res["m2"]["id"], "one vote per message"
    assert (res["m2"]["sentiment"], res["m2"]["topic"], res["m2"]["reason"]) == ("negative", "style", "too_long")
    assert res["agent"]["kind"] == "agent" and res["agent"]["environment"] == "production"
    assert res["counts"] == {"all": 3} and res["count"] == 3
    assert res["kinds"] == ["agent", "conversation", "message"]
    assert res["message"]["feedback"]["sentiment"] == "negative"
    assert res["message_after"]["metadata"] == {"rated": True}
    # Status codes: 201 then 200 for the repeat vote (raw, since the client hides them).
    mid = res["m1"]["message"]
    hdr = {"Authorization": f"Api-Key {key}"}
    r = server01.request("POST", "/api/feedbacks/", key=False, headers=hdr,
                         json={"kind": "message", "message": mid, "sentiment": "neutral"})
    assert r.status_code == 200 and r.json()["topic"] == "style", "omitted fields keep their values"
    # Only conversation feedback counts in the dashboard: the overview sees one negative.
    fb = server01.request("GET", "/api/metrics/overview/", key=False, headers=hdr).json()["feedback"]
    assert (fb["negative"], fb["positive"], fb["total"]) == (1, 0, 1)


# --------------------------------------------------------------------------- 18


def test_18_error_taxonomy(server01, sdk01, new_cid, proxy):
    cid = new_cid("errors")
    proxy.plan_any.extend([
        ("POST", "/api/feedbacks/", 429, '{"detail": "slow down"}', {"Retry-After": "7"}),
        ("GET", "/api/me/", 401, '{"detail": "Your subscription is inactive."}', {}),
        ("GET", "/api/conversations/", 429, '{"detail": "slow down"}', {"Retry-After": "0"}),
    ])
    res = sdk01.run('''
        from agentsight.api import AgentSight
        import agentsight as a
        out = {}
        def code(fn):
            try:
                fn()
                return None
            except a.APIError as e:
                return [type(e).__name__, e.status_code, getattr(e, "errors", None), getattr(e, "retry_after", None)]
        ro = AgentSight(api_key=P["read_key"])
        out["read"] = code(lambda: ro.feedbacks.create_for_conversation(P["cid"], "positive"))
        rw = AgentSight()
        out["validation"] = code(lambda: rw.feedbacks.create_for_conversation(P["cid"], "positive"))
        out["missing"] = code(lambda: rw.conversations.get(999999999))
        out["tickets"] = code(lambda: list(rw.tickets.list()))
        via = AgentSight(endpoint=P["proxy"])
        out["post_429"] = code(lambda: via.feedbacks.create_for_conversation(P["cid"], "positive"))
        out["subscription"] = code(lambda: via.me(refresh=True))
        out["get_429_retried"] = code(lambda: via.conversations.list(environment="production").page(1))
        emit(out)
    ''', params={"cid": cid, "read_key": server01.read_key, "proxy": proxy.url})
    assert res["read"][:2] == ["PermissionDeniedError", 403]
    assert res["validation"][:2] == ["ValidationError", 400] and "conversation_id" in res["validation"][2]
    assert res["missing"][:2] == ["NotFoundError", 404]
    assert res["tickets"][:2] == ["PermissionDeniedError", 403]
    assert res["post_429"][0] == "RateLimitError" and res["post_429"][3] == 7.0
    assert res["subscription"][:2] == ["SubscriptionInactiveError", 401]
    assert res["get_429_retried"] is None, "a 429 on a GET is retried and then succeeds"

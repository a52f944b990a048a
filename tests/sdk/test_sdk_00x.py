"""Behaviours 1-8 of docs/sdk-protocol.md Part C, driven through the real agentsight 0.0.44.

Each scenario runs in its own SDK process (see conftest.SdkRunner); assertions are
made on what the server's read API returns, not only on what the SDK reports.
"""

from __future__ import annotations

import base64
import hashlib

from conftest import assert_same_instant, assert_utc_z, parse_ts

CONVERSATION_FIELDS = {
    "id", "conversation_id", "name", "customer_id", "customer_ip_address", "device", "source",
    "language", "environment", "metadata", "is_used", "is_marked", "is_deleted", "deleted_at",
    "started_at", "ended_at", "created_at", "updated_at", "geo_location", "message_count",
}
MESSAGE_FIELDS = {"id", "timestamp", "sender", "content", "action_name", "metadata", "attachments",
                  "action_logs", "button"}
ACTION_LOG_FIELDS = {"id", "started_at", "ended_at", "duration_ms", "tools_used", "response",
                     "error_message", "metadata"}
ZERO_SUMMARY = {"questions": 0, "answers": 0, "attachments": 0, "actions": 0, "buttons": 0, "errors": 0}


def is_pk(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**53


def summary(**counts) -> dict:
    return {**ZERO_SUMMARY, **counts}


def assert_all_sent(res: dict) -> None:
    failed = [it for it in res["items"] if not it["success"]]
    assert not failed, f"SDK items failed: {failed}"


def expected_transcript(items: list[dict]) -> list[tuple[str, str]]:
    """What the detail view should list, derived from the SDK's own send log:
    one entry per message/action/button, ordered by event time (the tracked
    timestamp the SDK put on each item), then by arrival."""
    rows = []
    for idx, it in enumerate(items):
        kind = it["type"]
        if kind == "question":
            entry = ("end_user", it["sent"]["content"])
        elif kind == "answer":
            entry = ("agent", it["sent"]["content"])
        elif kind == "action":
            entry = ("agent", f"Action {it['sent']['action_name']} performed")
        elif kind == "button":
            entry = ("end_user", it["sent"]["label"])
        else:
            continue
        rows.append((parse_ts(it["timestamp"]), idx, entry))
    return [entry for _, _, entry in sorted(rows)]


# Shared scenario snippet: record what each item carried when it was sent, by
# wrapping the tracker's HTTP client (pure observation; nothing is changed).
RECORD_SENDS = '''
from agentsight import conversation_tracker as t
SENT = []
_orig_send_payload = t._http_client.send_payload
def _recording_send_payload(payload_type, data):
    SENT.append({"type": payload_type, "data": {k: v for k, v in data.items() if k != "attachments"}})
    return _orig_send_payload(payload_type, data)
t._http_client.send_payload = _recording_send_payload

def send_and_report():
    pause()
    r = t.send_tracked_data()
    return r
'''


# --------------------------------------------------------------------------- 1


def test_01_full_flow(server, sdk, new_cid):
    cid = new_cid("flow")
    res = sdk.run('''
        from agentsight import conversation_tracker as t
        t.get_or_create_conversation(P["cid"], customer_id="cust-1", customer_ip_address="203.0.113.7",
                                     device="mobile", source="web", language="en", name="Flow one",
                                     metadata={"plan": "pro", "seats": 3})
        pause()
        t.track_human_message("Where is my order?", metadata={"channel": "chat"})
        pause()
        t.track_agent_message("It ships tomorrow.")
        pause()
        emit(t.send_tracked_data())
    ''', params={"cid": cid})

    assert res["summary"] == summary(questions=1, answers=1), res
    assert_all_sent(res)
    items = res["items"]
    assert [it["type"] for it in items] == ["conversation", "question", "answer"]

    conv = items[0]["response"]
    assert is_pk(conv.get("id")), f"upsert response must carry an integer id: {conv}"
    pk = conv["id"]
    assert CONVERSATION_FIELDS <= set(conv), f"upsert response lacks {CONVERSATION_FIELDS - set(conv)}"
    assert conv["conversation_id"] == cid and conv["customer_id"] == "cust-1"
    user_msg_id, agent_msg_id = items[1]["response"].get("id"), items[2]["response"].get("id")
    assert is_pk(user_msg_id) and is_pk(agent_msg_id) and user_msg_id != agent_msg_id, items

    d = server.detail(pk)
    assert CONVERSATION_FIELDS <= set(d), f"detail lacks {CONVERSATION_FIELDS - set(d)}"
    assert d["conversation_id"] == cid
    assert d["is_used"] is True
    assert d["customer_id"] == "cust-1"
    assert d["customer_ip_address"] == "203.0.113.7"
    assert d["device"] == "mobile"
    assert d["source"] == "web"
    assert d["language"] == "en"
    assert d["name"] == "Flow one"
    assert d["environment"] == "development"  # the 0.0.44 default
    assert d["metadata"] == {"plan": "pro", "seats": 3}
    assert d["is_marked"] is False and d["is_deleted"] is False and d["deleted_at"] is None
    assert d["message_count"] == 2

    msgs = d["messages"]
    assert len(msgs) == 2, msgs
    for m in msgs:
        assert MESSAGE_FIELDS <= set(m), f"message lacks {MESSAGE_FIELDS - set(m)}: {m}"
        assert_utc_z(m["timestamp"], "message timestamp")
    assert [m["sender"] for m in msgs] == ["end_user", "agent"]
    assert [m["content"] for m in msgs] == ["Where is my order?", "It ships tomorrow."]
    assert [m["id"] for m in msgs] == [user_msg_id, agent_msg_id]
    assert msgs[0]["metadata"] == {"channel": "chat"}
    assert msgs[1]["metadata"] == {}
    assert parse_ts(msgs[0]["timestamp"]) < parse_ts(msgs[1]["timestamp"])
    # Event time is the moment each item was tracked, not the moment it was sent.
    assert_same_instant(msgs[0]["timestamp"], items[1]["timestamp"], "user message event time")
    assert_same_instant(msgs[1]["timestamp"], items[2]["timestamp"], "agent message event time")
    for m in msgs:
        assert m["action_name"] is None and m["action_logs"] == [] and m["button"] is None
        assert m["attachments"] == []

    for name in ("started_at", "created_at", "updated_at", "ended_at"):
        assert_utc_z(d[name], name)
    assert_same_instant(d["started_at"], items[0]["timestamp"], "started_at")
    assert_same_instant(d["ended_at"], items[2]["timestamp"], "ended_at (latest event)")

    # The string id resolves to the same row through the lookup and the list filter.
    assert server.lookup(cid) == pk
    assert server.one(cid)["id"] == pk


# --------------------------------------------------------------------------- 2


def test_02_initialize_then_get_or_create_is_used_sticky(server, sdk, new_cid):
    cid = new_cid("init")

    res = sdk.run('''
        from agentsight import conversation_tracker as t
        emit(capture(t.initialize_conversation, P["cid"], customer_id="cust-2", device="desktop",
                     language="en", source="web", metadata={"first": True}))
    ''', params={"cid": cid})
    assert res["ok"], res
    pk = server.lookup(cid)
    row = server.one(cid)
    assert row["id"] == pk
    assert row["is_used"] is False, "initialize_conversation alone is a visit, not a use"
    assert row["customer_id"] == "cust-2" and row["device"] == "desktop"
    assert row["environment"] == "development"
    assert server.detail(pk)["messages"] == []
    # A visit counts as a conversation but not as a unique interaction: the list
    # can still find it.
    assert any(r["id"] == pk for r in server.list_conversations(conversation_id=cid)["results"])

    # get_or_create with every other field unset: the SDK sends explicit nulls.
    res = sdk.run('''
        from agentsight import conversation_tracker as t
        t.get_or_create_conversation(P["cid"])
        pause()
        t.track_human_message("hello after the visit")
        pause()
        emit(t.send_tracked_data())
    ''', params={"cid": cid})
    assert res["summary"] == summary(questions=1), res
    assert_all_sent(res)
    assert res["items"][0]["response"]["id"] == pk, "get_or_create must return the existing row's id"

    d = server.detail(pk)
    assert d["is_used"] is True
    assert d["customer_id"] == "cust-2", "explicit null must not erase customer_id"
    assert d["device"] == "desktop", "explicit null must not erase device"
    assert d["language"] == "en" and d["source"] == "web"
    assert d["metadata"] == {"first": True}, "null metadata must not erase stored metadata"
    assert [m["content"] for m in d["messages"]] == ["hello after the visit"]

    # A later initialize (is_used=false, nulls) must not reset anything.
    res = sdk.run('''
        from agentsight import conversation_tracker as t
        emit(capture(t.initialize_conversation, P["cid"]))
    ''', params={"cid": cid})
    assert res["ok"], res
    d = server.detail(pk)
    assert d["is_used"] is True, "is_used must stay true once set"
    assert d["customer_id"] == "cust-2" and d["device"] == "desktop"
    assert len(d["messages"]) == 1
    assert len(server.rows(cid)) == 1


def test_02b_environment_from_env_var_and_normalised_dimensions(server, sdk, new_cid):
    """AGENTSIGHT_ENVIRONMENT (a raw string) beats the explicit argument; the server
    maps prod/dev, ignores case and whitespace; source is trimmed and lower-cased,
    language's primary subtag is lower-cased."""
    cid_p, cid_d = new_cid("envp"), new_cid("envd")
    res = sdk.run('''
        from agentsight import conversation_tracker as t
        t.get_or_create_conversation(P["cid"], environment="development", source=" WhatsApp ", language="EN-US")
        t.track_human_message("hi")
        emit(t.send_tracked_data())
    ''', params={"cid": cid_p}, env={"AGENTSIGHT_ENVIRONMENT": " Prod "})
    assert res["summary"]["errors"] == 0, res
    row = server.one(cid_p)
    assert row["environment"] == "production"
    assert row["source"] == "whatsapp"
    assert row["language"] == "en-US"

    res = sdk.run('''
        from agentsight import conversation_tracker as t
        emit(capture(t.initialize_conversation, P["cid"], environment="production"))
    ''', params={"cid": cid_d}, env={"AGENTSIGHT_ENVIRONMENT": "DEV"})
    assert res["ok"], res
    assert server.one(cid_d)["environment"] == "development"


# --------------------------------------------------------------------------- 3


def test_03_message_without_upsert_creates_conversation(server, sdk, new_cid):
    cid = new_cid("preset")
    res = sdk.run('''
        from agentsight import conversation_tracker as t
        t.track_human_message("hi from a preset id")
        first = t.send_tracked_data()
        pause()
        t.track_agent_message("hello, preset")
        second = t.send_tracked_data()
        emit({"first": first, "second": second})
    ''', params={}, env={"AGENTSIGHT_CONVERSATION_ID": cid})

    for part in ("first", "second"):
        assert res[part]["summary"]["errors"] == 0, res
        assert_all_sent(res[part])
    assert res["first"]["summary"] == summary(questions=1)
    assert res["second"]["summary"] == summary(answers=1)
    ids = [res["first"]["items"][0]["response"].get("id"), res["second"]["items"][0]["response"].get("id")]
    assert all(is_pk(i) for i in ids), res

    rows = server.rows(cid)
    assert len(rows) == 1, f"both messages must land in one conversation row: {rows}"
    d = server.detail(rows[0]["id"])
    assert [(m["sender"], m["content"]) for m in d["messages"]] == [
        ("end_user", "hi from a preset id"), ("agent", "hello, preset")]
    assert [m["id"] for m in d["messages"]] == ids
    assert d["is_used"] is True, "a message makes the conversation used"
    assert_same_instant(d["started_at"], res["first"]["items"][0]["timestamp"], "started_at")


# --------------------------------------------------------------------------- 4


def test_04_actions_buttons_token_usage(server, sdk, new_cid):
    cid = new_cid("actions")
    res = sdk.run(RECORD_SENDS + '''
t.get_or_create_conversation(P["cid"], customer_id="cust-4")
pause()
t.track_human_message("I want to talk to a person")
pause()
t.track_action("fallback_to_human", duration_ms=5, tools_used={"crm": {"ticket": "T-1"}, "n": 2},
               response="ok", metadata={"reason": "asked"})
pause()
t.track_button("feedback", "Yes", "yes", metadata={"b": 1})
pause()
t.track_token_usage(10, 5, 15)
pause()
t.track_agent_message("Connecting you to a human.")
r = send_and_report()
for item, sent in zip([i for i in r["items"]], SENT):
    item["sent"] = sent["data"]
emit(r)
''', params={"cid": cid})

    assert res["summary"] == summary(questions=1, answers=1, actions=2, buttons=1), res
    assert_all_sent(res)
    items = res["items"]
    # The SDK inserts the token_usage action right before the last item: it is
    # sent before the final agent message, but stamped later (at send time).
    assert [(it["type"], it["sent"].get("action_name")) for it in items] == [
        ("conversation", None), ("question", None), ("action", "fallback_to_human"),
        ("button", None), ("action", "token_usage"), ("answer", None)]
    token_item, answer_item = items[4], items[5]
    assert token_item["sent"]["metadata"] == {"prompt_tokens": 10, "completion_tokens": 5,
                                              "total_tokens": 15, "embedding_tokens": 0}
    assert parse_ts(token_item["timestamp"]) > parse_ts(answer_item["timestamp"])
    pk = items[0]["response"]["id"]
    assert all(it["sent"].get("conversation") == pk for it in items[1:]), "items carry the upsert's pk"

    d = server.detail(pk)
    msgs = d["messages"]
    got = [(m["sender"], m["content"]) for m in msgs]
    assert got == expected_transcript(items), "detail must follow event time, then arrival"
    for m in msgs:
        assert MESSAGE_FIELDS <= set(m), m
        assert_utc_z(m["timestamp"], "message timestamp")

    by_action = {m["action_name"]: m for m in msgs if m["action_name"]}
    assert set(by_action) == {"fallback_to_human", "token_usage"}, msgs
    assert len([m for m in msgs if m["action_name"]]) == 2, msgs

    fb = by_action["fallback_to_human"]
    assert fb["sender"] == "agent" and fb["content"] == "Action fallback_to_human performed"
    assert len(fb["action_logs"]) == 1, fb
    log = fb["action_logs"][0]
    assert ACTION_LOG_FIELDS <= set(log), log
    assert log["duration_ms"] == 5
    assert log["tools_used"] == {"crm": {"ticket": "T-1"}, "n": 2}
    assert log["response"] == "ok"
    assert log["error_message"] in (None, ""), log  # upstream's documented example shows "" for none
    assert log["metadata"] == {"reason": "asked"}
    assert_same_instant(fb["timestamp"], items[2]["timestamp"], "action event time")

    tu = by_action["token_usage"]
    assert tu["sender"] == "agent" and tu["content"] == "Action token_usage performed"
    assert len(tu["action_logs"]) == 1
    assert tu["action_logs"][0]["metadata"] == {"prompt_tokens": 10, "completion_tokens": 5,
                                                "total_tokens": 15, "embedding_tokens": 0}
    assert_same_instant(tu["timestamp"], token_item["timestamp"], "token_usage event time")
    # Arrival order: token_usage came in before the final answer (both have ids from
    # different tables, so compare through the server's event-time/arrival order and
    # the SDK's send order instead).
    answer_msg = next(m for m in msgs if m["content"] == "Connecting you to a human.")
    assert answer_msg["id"] == answer_item["response"]["id"]
    assert msgs.index(answer_msg) < msgs.index(tu), "token_usage is stamped after the answer"

    buttons = [m for m in msgs if m["button"]]
    assert len(buttons) == 1, msgs
    b = buttons[0]
    assert b["sender"] == "end_user" and b["content"] == "Yes"
    button = {k: b["button"].get(k) for k in ("button_event", "label", "value", "metadata")}
    assert button == {"button_event": "feedback", "label": "Yes", "value": "yes", "metadata": {"b": 1}}, b
    assert b["action_name"] is None and b["action_logs"] == []

    # The action filter of the list finds the conversation.
    found = server.list_conversations(action_name="fallback_to_human", conversation_id=cid)["results"]
    assert [r["id"] for r in found] == [pk]
    assert server.list_conversations(action_name="no_such_action", conversation_id=cid)["results"] == []


def test_04c_action_with_explicit_times(server, sdk, new_cid):
    """started_at/ended_at/error_msg are stored; an action's event time is its started_at."""
    cid = new_cid("act-times")
    res = sdk.run('''
        from agentsight import conversation_tracker as t
        t.get_or_create_conversation(P["cid"])
        pause()
        t.track_human_message("where is order 7?")
        pause()
        t.track_action("lookup_order", started_at="2026-01-02T03:04:05.000000+00:00",
                       ended_at="2026-01-02T03:04:05.250000+00:00", error_msg="timeout",
                       tools_used={"db": "orders"})
        pause()
        emit(t.send_tracked_data())
    ''', params={"cid": cid})
    assert res["summary"] == summary(questions=1, actions=1), res
    assert_all_sent(res)
    d = server.detail(res["items"][0]["response"]["id"])
    acts = [m for m in d["messages"] if m["action_name"] == "lookup_order"]
    assert len(acts) == 1, d["messages"]
    act = acts[0]
    assert act["content"] == "Action lookup_order performed" and act["sender"] == "agent"
    log = act["action_logs"][0]
    assert log["error_message"] == "timeout"
    assert log["tools_used"] == {"db": "orders"}
    assert log["response"] is None
    assert_same_instant(log["started_at"], "2026-01-02T03:04:05+00:00", "action started_at")
    assert_same_instant(log["ended_at"], "2026-01-02T03:04:05.25+00:00", "action ended_at")
    assert log["duration_ms"] in (None, 250)
    # Event time of an action is started_at when given, so it sorts before the
    # (later) user message.
    assert_same_instant(act["timestamp"], "2026-01-02T03:04:05+00:00", "action event time")
    assert [m["content"] for m in d["messages"]] == ["Action lookup_order performed", "where is order 7?"]


def test_04b_token_counts_are_stored_as_sent(server, sdk, new_cid):
    """0.0.44 never resets its counters: the second send carries cumulative counts."""
    a, b = new_cid("tok-a"), new_cid("tok-b")
    res = sdk.run('''
        from agentsight import conversation_tracker as t
        t.get_or_create_conversation(P["a"])
        t.track_human_message("first")
        t.track_token_usage(10, 5, 15)
        first = t.send_tracked_data()
        t.get_or_create_conversation(P["b"])
        t.track_human_message("second")
        t.track_token_usage(1, 1, 2, embedding_tokens=4)
        second = t.send_tracked_data()
        emit({"a": first, "b": second})
    ''', params={"a": a, "b": b})
    for part in ("a", "b"):
        assert res[part]["summary"] == summary(questions=1, actions=1), res
        assert_all_sent(res[part])

    def token_meta(cid):
        d = server.detail(server.lookup(cid))
        logs = [m for m in d["messages"] if m["action_name"] == "token_usage"]
        assert len(logs) == 1, d["messages"]
        return logs[0]["action_logs"][0]["metadata"]

    assert token_meta(a) == {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15, "embedding_tokens": 0}
    assert token_meta(b) == {"prompt_tokens": 11, "completion_tokens": 6, "total_tokens": 17, "embedding_tokens": 4}


# --------------------------------------------------------------------------- 5

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) + b"\x00IEND"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n" + bytes([0xE2, 0xE3, 0xCF, 0xD3])
TXT = "h\u00e9llo notes\n".encode()
CSV = b"a,b\n1,2\n"
JPG = b"\xff\xd8\xff\xe0" + bytes(range(200)) + b"\xff\xd9"
JSN = b'{"k": [1, 2, 3]}'
GIF = b"GIF89a" + bytes(range(64))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _flatten_attachments(listing: dict) -> dict[str, dict]:
    out = {}
    for group in listing["messages"]:
        for att in group["attachments"]:
            assert att["filename"] not in out, f"filename listed twice: {att}"
            out[att["filename"]] = {**att, "_message_id": group["message_id"], "_sender": group["sender"],
                                    "_timestamp": group["timestamp"]}
    return out


def _check_download(server, att: dict, data: bytes, mime: str) -> None:
    url = att["file_url"]
    assert isinstance(url, str) and url, att
    path = url if url.startswith("/") else "/" + url.split("://", 1)[-1].split("/", 1)[1]
    r = server.get(path)
    assert r.status_code == 200, f"GET {path} -> {r.status_code}: {r.text[:300]}"
    assert r.content == data, f"{att['filename']}: downloaded bytes differ from the upload"
    assert r.headers.get("Content-Type", "").split(";")[0].strip().lower() == mime, (
        f"{att['filename']}: Content-Type {r.headers.get('Content-Type')!r}, stored mime {mime!r}")


def test_05_attachments_all_four_shapes(server, sdk, new_cid):
    cid = new_cid("att")
    res = sdk.run(RECORD_SENDS + '''
import base64
hs = t._http_client
FORMS = []
_orig_form = hs.send_form_data_payload
_orig_form_msg = hs.send_form_data_payload_with_message
def _rec_form(attachments, conversation_id, sender="end_user", metadata=None, timestamp=None):
    FORMS.append({"shape": "c", "conversation": conversation_id, "sender": sender})
    return _orig_form(attachments, conversation_id, sender, metadata, timestamp)
def _rec_form_msg(attachments, message_id, conversation_id, sender, metadata=None):
    FORMS.append({"shape": "d", "message": message_id, "conversation": conversation_id, "sender": sender})
    return _orig_form_msg(attachments, message_id, conversation_id, sender, metadata)
hs.send_form_data_payload = _rec_form
hs.send_form_data_payload_with_message = _rec_form_msg

def raw(name):
    return bytes.fromhex(P[name])

t.get_or_create_conversation(P["cid"])
pause()
# (b) base64, linked to a user message
t.track_human_message("see my screenshot", metadata={"m": 1}, attachments=[
    {"filename": "shot.png", "mime_type": "image/png", "data": base64.b64encode(raw("png")).decode()}])
pause()
# (b) base64, linked to an agent message: conversation_id goes out as the string "None"
t.track_agent_message("here is a photo", attachments=[
    {"filename": "photo.jpg", "mime_type": "image/jpeg", "data": base64.b64encode(raw("jpg")).decode()}])
pause()
# (d) multipart, linked to an agent message; the MIME type is sniffed from %PDF
t.track_agent_message("and the invoice", attachment_mode="form_data", attachments=[
    {"filename": "invoice.pdf", "data": raw("pdf")}])
pause()
# (a) base64, standalone
t.track_attachments([{"filename": "notes.txt", "mime_type": "text/plain",
                      "data": base64.b64encode(raw("txt")).decode()}], mode="base64", metadata={"s": "a"})
pause()
# (c) multipart, standalone, from the agent
t.track_attachments([{"filename": "table.csv", "mime_type": "text/csv", "data": raw("csv")}],
                    sender="agent", mode="form_data", metadata={"s": "c"})
r = send_and_report()
emit({"result": r, "sent": SENT, "forms": FORMS})
''', params={"cid": cid, "png": PNG.hex(), "jpg": JPG.hex(), "pdf": PDF.hex(), "txt": TXT.hex(),
             "csv": CSV.hex()})

    r = res["result"]
    assert r["summary"] == summary(questions=1, answers=2, attachments=2), r
    assert_all_sent(r)
    pk = r["items"][0]["response"]["id"]
    user_id, photo_msg_id, invoice_msg_id = (r["items"][i]["response"]["id"] for i in (1, 2, 3))
    assert all(is_pk(i) for i in (user_id, photo_msg_id, invoice_msg_id))

    # What the SDK actually sent for the message-linked base64 uploads.
    linked = [s["data"] for s in res["sent"] if s["type"] == "attachments" and "message" in s["data"]]
    assert [(x["message"], x["conversation"], x["conversation_id"], x["sender"]) for x in linked] == [
        (user_id, str(pk), cid, "end_user"), (photo_msg_id, str(pk), "None", "agent")]
    assert res["forms"] == [
        {"shape": "d", "message": invoice_msg_id, "conversation": str(pk), "sender": "agent"},
        {"shape": "c", "conversation": pk, "sender": "agent"}]

    listing = server.attachments(pk)
    assert listing["conversation_id"] == cid
    assert listing["total_attachments"] == 5, listing
    atts = _flatten_attachments(listing)
    assert set(atts) == {"shot.png", "photo.jpg", "invoice.pdf", "notes.txt", "table.csv"}, listing
    expect = {
        "shot.png": (user_id, "end_user", "image/png", PNG),
        "photo.jpg": (photo_msg_id, "agent", "image/jpeg", JPG),
        "invoice.pdf": (invoice_msg_id, "agent", "application/pdf", PDF),
        "notes.txt": (None, "end_user", "text/plain", TXT),
        "table.csv": (None, "agent", "text/csv", CSV),
    }
    for name, (msg_id, sender, mime, data) in expect.items():
        att = atts[name]
        assert att["_message_id"] == msg_id, f"{name} linked to {att['_message_id']}, expected {msg_id}"
        assert att["_sender"] == sender, f"{name}: sender {att['_sender']!r}"
        assert att["mime_type"] == mime, f"{name}: mime {att['mime_type']!r}"
        assert att["size_bytes"] == len(data), f"{name}: size {att['size_bytes']} != {len(data)}"
        assert is_pk(att["id"]) and "type" in att
        _check_download(server, att, data, mime)

    # Linked attachments show on their message; standalone ones add no message.
    d = server.detail(pk)
    assert [(m["sender"], m["content"]) for m in d["messages"]] == [
        ("end_user", "see my screenshot"), ("agent", "here is a photo"), ("agent", "and the invoice")]
    per_msg = {m["id"]: sorted(a["filename"] for a in m["attachments"]) for m in d["messages"]}
    assert per_msg == {user_id: ["shot.png"], photo_msg_id: ["photo.jpg"], invoice_msg_id: ["invoice.pdf"]}
    for m in d["messages"]:
        for a in m["attachments"]:
            assert a["mime_type"] == expect[a["filename"]][2]


def test_05b_attachments_when_conversation_pk_is_unknown(server, sdk, new_cid):
    """Without get_or_create the SDK sends conversation "None" (string) on linked
    uploads, "None" as conversation_id for agent messages, and null on standalone."""
    cid = new_cid("att-none")
    res = sdk.run(RECORD_SENDS + '''
import base64
def raw(name):
    return bytes.fromhex(P[name])
t.track_human_message("user sends json", attachment_mode="form_data", attachments=[
    {"filename": "data.json", "mime_type": "application/json", "data": raw("jsn")}])
pause()
t.track_agent_message("agent sends gif", attachments=[
    {"filename": "anim.gif", "mime_type": "image/gif", "data": base64.b64encode(raw("gif")).decode()}])
pause()
t.track_attachments([{"filename": "loose.txt", "mime_type": "text/plain",
                      "data": base64.b64encode(raw("txt")).decode()}])
r = send_and_report()
emit({"result": r, "sent": SENT})
''', params={"jsn": JSN.hex(), "gif": GIF.hex(), "txt": TXT.hex()}, env={"AGENTSIGHT_CONVERSATION_ID": cid})

    r = res["result"]
    assert r["summary"] == summary(questions=1, answers=1, attachments=1), r
    assert_all_sent(r)
    user_id, agent_id = r["items"][0]["response"]["id"], r["items"][1]["response"]["id"]
    gif_payload = next(s["data"] for s in res["sent"] if s["type"] == "attachments" and "message" in s["data"])
    assert (gif_payload["conversation"], gif_payload["conversation_id"]) == ("None", "None")
    loose_payload = next(s["data"] for s in res["sent"] if s["type"] == "attachments" and "message" not in s["data"])
    assert loose_payload["conversation"] is None and loose_payload["conversation_id"] == cid

    rows = server.rows(cid)
    assert len(rows) == 1, rows
    pk = rows[0]["id"]
    atts = _flatten_attachments(server.attachments(pk))
    assert set(atts) == {"data.json", "anim.gif", "loose.txt"}
    for name, msg_id, sender, mime, data in [
        ("data.json", user_id, "end_user", "application/json", JSN),
        ("anim.gif", agent_id, "agent", "image/gif", GIF),
        ("loose.txt", None, "end_user", "text/plain", TXT),
    ]:
        att = atts[name]
        assert (att["_message_id"], att["_sender"], att["mime_type"], att["size_bytes"]) == (
            msg_id, sender, mime, len(data)), att
        _check_download(server, att, data, mime)


def test_05c_large_attachments_round_trip(server, sdk, new_cid):
    """Multi-megabyte files, well under the server's limit, in both modes (the SDK
    enforces no size limit of its own)."""
    cid = new_cid("big")
    res = sdk.run('''
        import base64, hashlib, random
        from agentsight import conversation_tracker as t
        rnd = random.Random(7)
        big_a = bytes(rnd.getrandbits(8) for _ in range(3 * 1024 * 1024))
        big_b = bytes(rnd.getrandbits(8) for _ in range(5 * 1024 * 1024 + 3))
        t.get_or_create_conversation(P["cid"])
        t.track_human_message("two big files", attachments=[
            {"filename": "big-a.bin", "mime_type": "application/octet-stream", "data": base64.b64encode(big_a).decode()}])
        t.track_attachments([{"filename": "big-b.zip", "mime_type": "application/zip", "data": big_b}], mode="form_data")
        r = t.send_tracked_data()
        emit({"result": r, "sha": {"big-a.bin": hashlib.sha256(big_a).hexdigest(), "big-b.zip": hashlib.sha256(big_b).hexdigest()},
              "size": {"big-a.bin": len(big_a), "big-b.zip": len(big_b)}})
    ''', params={"cid": cid}, timeout=180)
    r = res["result"]
    assert r["summary"] == summary(questions=1, attachments=1), r
    assert_all_sent(r)
    pk = r["items"][0]["response"]["id"]
    atts = _flatten_attachments(server.attachments(pk))
    assert set(atts) == {"big-a.bin", "big-b.zip"}, atts
    for name, att in atts.items():
        assert att["size_bytes"] == res["size"][name]
        dl = server.get(att["file_url"])
        assert dl.status_code == 200 and hashlib.sha256(dl.content).hexdigest() == res["sha"][name], name
    assert atts["big-a.bin"]["_message_id"] == r["items"][1]["response"]["id"]
    assert atts["big-b.zip"]["_message_id"] is None and atts["big-b.zip"]["mime_type"] == "application/zip"


# --------------------------------------------------------------------------- 6


def test_06_manager_by_string_id(server, sdk, new_cid):
    cid = new_cid("mgr")
    other = new_cid("mgr-keep")
    res = sdk.run('''
        from agentsight import conversation_tracker as t, conversation_manager as m, agentsight_api as api
        t.get_or_create_conversation(P["cid"], language="fr", metadata={"old": 1})
        t.track_human_message("please rename me")
        sent = t.send_tracked_data()
        t.get_or_create_conversation(P["other"])
        t.track_human_message("I stay")
        t.send_tracked_data()
        out = {"sent": sent}
        out["rename"] = capture(m.rename_conversation, P["cid"], "  Renamed six  ")
        out["mark"] = capture(m.mark_conversation, P["cid"], True)
        out["update"] = capture(m.update_conversation, P["cid"], metadata={"tier": "gold"}, language="en")
        out["feedback"] = capture(m.submit_feedback, P["cid"], "positive", comment="great help",
                                  metadata={"nps": 9})
        out["before_delete"] = capture(api.fetch_conversation, P["cid"])
        out["delete"] = capture(m.delete_conversation, P["cid"])
        out["with_deleted"] = capture(api.fetch_conversations, include_deleted=True, has_feedback=True,
                                      page_size=100)
        out["by_source"] = capture(api.fetch_conversations, include_deleted=True, feedback_source="customer",
                                   conversation_id=P["cid"])
        out["negative"] = capture(api.fetch_conversations, include_deleted=True, feedback_sentiment="negative",
                                  conversation_id=P["cid"])
        out["default"] = capture(api.fetch_conversations, conversation_id=P["cid"])
        out["default_feedback"] = capture(api.fetch_conversations, has_feedback=True, page_size=100)
        out["fetch_str_after_delete"] = capture(api.fetch_conversation, P["cid"])
        emit(out)
    ''', params={"cid": cid, "other": other})

    pk = res["sent"]["items"][0]["response"]["id"]
    for step in ("rename", "mark", "update", "feedback", "before_delete", "delete", "with_deleted",
                 "by_source", "negative", "default", "default_feedback"):
        assert res[step]["ok"], f"{step}: {res[step]}"

    rename = res["rename"]["value"]
    assert rename["id"] == pk and rename["conversation_id"] == cid and rename["name"] == "Renamed six"
    mark = res["mark"]["value"]
    assert mark["id"] == pk and mark["is_marked"] is True
    update = res["update"]["value"]
    assert update["id"] == pk and update["metadata"] == {"tier": "gold"} and update["language"] == "en"
    fb = res["feedback"]["value"]
    assert is_pk(fb["id"]) and fb["conversation"] == pk and fb["sentiment"] == "positive"
    assert fb["source"] == "customer" and fb["comment"] == "great help" and fb["metadata"] == {"nps": 9}
    assert_utc_z(fb["created_at"], "feedback created_at")
    before = res["before_delete"]["value"]
    assert before["id"] == pk and before["name"] == "Renamed six" and before["is_marked"] is True
    deleted = res["delete"]["value"]
    assert deleted["id"] == pk and deleted["is_deleted"] is True and deleted["deleted_at"]
    assert_utc_z(deleted["deleted_at"], "deleted_at")

    listed = res["with_deleted"]["value"]
    hits = [r for r in listed["results"] if r["conversation_id"] == cid]
    assert len(hits) == 1, listed
    row = hits[0]
    assert row["id"] == pk and row["is_deleted"] is True and row["name"] == "Renamed six"
    assert row["is_marked"] is True and row["metadata"] == {"tier": "gold"} and row["language"] == "en"
    assert other not in {r["conversation_id"] for r in listed["results"]}, "has_feedback=true must filter"
    assert {"count", "next", "previous", "results", "page_size", "total_pages", "current_page"} <= set(listed)
    assert [r["id"] for r in res["by_source"]["value"]["results"]] == [pk]
    assert res["negative"]["value"]["results"] == []

    assert res["default"]["value"]["count"] == 0 and res["default"]["value"]["results"] == []
    assert cid not in {r["conversation_id"] for r in res["default_feedback"]["value"]["results"]}
    nf = res["fetch_str_after_delete"]
    assert not nf["ok"] and nf["error"]["type"] == "NotFoundException", nf

    # Server-side view, independent of the SDK.
    row = server.one(cid)
    assert row["is_deleted"] is True and row["deleted_at"]
    assert server.list_conversations(conversation_id=cid)["count"] == 0
    kept = server.one(other)
    assert kept["is_deleted"] is False and kept["name"] is None and kept["is_marked"] is False
    assert kept["metadata"] in (None, {}), kept


def test_06c_update_every_field_and_refused_update(server, sdk, new_cid):
    cid = new_cid("upd")
    long_name = "N" * 255
    res = sdk.run('''
        from agentsight import conversation_tracker as t, conversation_manager as m
        t.get_or_create_conversation(P["cid"], device="mobile", customer_id="before")
        t.track_human_message("update me")
        sent = t.send_tracked_data()
        out = {"sent": sent}
        out["update"] = capture(m.update_conversation, P["cid"], name="Updated", is_marked=True, customer_id=12345,
                                device="tablet", language="de", metadata={"v": 2})
        out["rename255"] = capture(m.rename_conversation, P["cid"], P["long"])
        out["bad_device"] = capture(m.update_conversation, P["cid"], device="toaster")
        out["unmark"] = capture(m.mark_conversation, P["cid"], False)
        emit(out)
    ''', params={"cid": cid, "long": long_name})
    assert res["sent"]["summary"]["errors"] == 0
    pk = res["sent"]["items"][0]["response"]["id"]
    assert res["update"]["ok"], res["update"]
    upd = res["update"]["value"]
    assert upd["id"] == pk and upd["name"] == "Updated" and upd["customer_id"] == "12345"
    assert upd["device"] == "tablet" and upd["is_marked"] is True and upd["metadata"] == {"v": 2}
    assert res["rename255"]["ok"] and res["rename255"]["value"]["name"] == long_name, res["rename255"]
    bad = res["bad_device"]
    assert not bad["ok"] and bad["error"]["type"] == "ConversationApiException", bad
    assert bad["error"]["status_code"] == 400 and "device" in bad["error"]["response_data"], bad
    assert res["unmark"]["ok"] and res["unmark"]["value"]["is_marked"] is False

    d = server.detail(pk)
    assert d["name"] == long_name and d["customer_id"] == "12345" and d["device"] == "tablet"
    assert d["language"] == "de" and d["metadata"] == {"v": 2} and d["is_marked"] is False
    assert [m["content"] for m in d["messages"]] == ["update me"]


# --------------------------------------------------------------------------- 7


def test_07a_unknown_pk_not_found(server, sdk):
    res = sdk.run('''
        from agentsight import agentsight_api as api, conversation_manager as m
        emit({"fetch": capture(api.fetch_conversation, 999999),
              "attachments": capture(api.fetch_conversation_attachments, 999999),
              "mark": capture(m.mark_conversation, 999999, True),
              "lookup": capture(m.rename_conversation, "no-such-conversation-anywhere", "x")})
    ''')
    for step in ("fetch", "attachments", "mark", "lookup"):
        assert not res[step]["ok"], res
        assert res[step]["error"]["type"] == "NotFoundException", f"{step}: {res[step]}"


def test_07b_wrong_key_unauthorized(server, sdk, new_cid):
    bogus = "ags_" + "0123456789abcdef" * 2 + "_abcdef"
    cid, cid2 = new_cid("unauth"), new_cid("unauth-q")
    res = sdk.run('''
        from agentsight import conversation_tracker as t, agentsight_api as api, conversation_manager as m
        out = {"get": capture(api.fetch_conversations),
               "get_one": capture(api.fetch_conversation, 1),
               "post": capture(t.initialize_conversation, P["cid"]),
               "feedback": capture(m.submit_feedback, P["cid"], "neutral")}
        t.get_or_create_conversation(P["cid2"])
        t.track_human_message("nobody will see this")
        out["tracked"] = t.send_tracked_data()
        emit(out)
    ''', key=bogus, params={"cid": cid, "cid2": cid2})

    assert res["get"]["error"]["type"] == "UnauthorizedException", res["get"]
    assert res["get_one"]["error"]["type"] == "UnauthorizedException", res["get_one"]
    post = res["post"]["error"]
    assert post["type"] == "ConversationApiException" and post["status_code"] == 401, post
    assert isinstance(post["response_data"], dict) and "detail" in post["response_data"], post
    assert res["feedback"]["error"]["type"] == "UnauthorizedException", res["feedback"]
    tracked = res["tracked"]
    assert tracked["summary"]["errors"] == 2, tracked
    assert all("(401)" in it["error"] for it in tracked["items"]), tracked
    assert server.rows(cid) == [] and server.rows(cid2) == []


def test_07c_read_key_cannot_write(server, sdk, new_cid):
    cid, fresh = new_cid("ro"), new_cid("ro-new")
    res = sdk.run('''
        from agentsight import conversation_tracker as t
        t.get_or_create_conversation(P["cid"], name="Read-only target")
        t.track_human_message("written with the write key")
        emit(t.send_tracked_data())
    ''', params={"cid": cid})
    assert res["summary"]["errors"] == 0, res
    pk = res["items"][0]["response"]["id"]
    before = server.detail(pk)

    res = sdk.run('''
        from agentsight import conversation_tracker as t, agentsight_api as api, conversation_manager as m
        out = {"init": capture(t.initialize_conversation, P["fresh"]),
               "mark": capture(m.mark_conversation, P["pk"], True),
               "rename": capture(m.rename_conversation, P["cid"], "hijacked"),
               "update": capture(m.update_conversation, P["pk"], metadata={"x": 1}),
               "delete": capture(m.delete_conversation, P["pk"]),
               "feedback": capture(m.submit_feedback, P["cid"], "negative", comment="nope"),
               "read_one": capture(api.fetch_conversation, P["pk"]),
               "read_list": capture(api.fetch_conversations, conversation_id=P["cid"])}
        t.get_or_create_conversation(P["cid"])
        t.track_human_message("should be refused")
        t.track_action("lookup")
        out["tracked"] = t.send_tracked_data()
        emit(out)
    ''', key=server.read_key, params={"cid": cid, "fresh": fresh, "pk": pk})

    init = res["init"]["error"]
    assert init["type"] == "ConversationApiException" and init["status_code"] == 403, init
    for step in ("mark", "rename", "update", "delete", "feedback"):
        assert not res[step]["ok"] and res[step]["error"]["type"] == "ForbiddenException", f"{step}: {res[step]}"
    assert res["read_one"]["ok"] and res["read_one"]["value"]["id"] == pk, res["read_one"]
    assert res["read_list"]["ok"] and [r["id"] for r in res["read_list"]["value"]["results"]] == [pk]
    tracked = res["tracked"]
    assert tracked["summary"]["errors"] == 3, tracked
    assert all("(403)" in it["error"] for it in tracked["items"]), tracked

    d = server.detail(pk)
    assert d["name"] == "Read-only target" and d["is_marked"] is False and d["is_deleted"] is False
    assert d["feedbacks"] == []
    assert [m["content"] for m in d["messages"]] == ["written with the write key"]
    for k in ("name", "metadata", "is_marked", "is_deleted", "updated_at", "message_count", "messages"):
        assert d[k] == before[k], f"{k} changed by a refused write: {before[k]!r} -> {d[k]!r}"
    assert server.rows(fresh) == []


def test_07d_feedback_validated_client_side(server, sdk, new_cid):
    cid = new_cid("fbv")
    res = sdk.run('''
        from agentsight import conversation_tracker as t, conversation_manager as m
        t.get_or_create_conversation(P["cid"])
        t.track_human_message("rate me")
        sent = t.send_tracked_data()
        pk = sent["items"][0]["response"]["id"]
        emit({"sent": sent,
              "bad_sentiment": capture(m.submit_feedback, P["cid"], "great"),
              "bad_sentiment_pk": capture(m.submit_feedback, pk, "POSITIVE"),
              "long_comment": capture(m.submit_feedback, P["cid"], "negative", comment="x" * 5001)})
    ''', params={"cid": cid})
    assert res["sent"]["summary"]["errors"] == 0
    pk = res["sent"]["items"][0]["response"]["id"]
    for step in ("bad_sentiment", "bad_sentiment_pk", "long_comment"):
        err = res[step]["error"]
        # Raised by the client's own validation: not an HTTP-derived exception.
        assert err["type"] == "InvalidConversationDataException" and err["status_code"] is None, f"{step}: {err}"
    assert server.detail(pk)["feedbacks"] == [], "nothing may reach the server"
    assert cid not in {r["conversation_id"] for r in
                       server.list_conversations(has_feedback=True, page_size=100)["results"]}

    # The longest comment the client allows must be accepted and stored whole.
    res = sdk.run('''
        from agentsight import conversation_manager as m
        emit(capture(m.submit_feedback, P["cid"], "neutral", comment="y" * 5000))
    ''', params={"cid": cid})
    assert res["ok"], res
    fbs = server.detail(pk)["feedbacks"]
    assert len(fbs) == 1 and fbs[0]["comment"] == "y" * 5000 and fbs[0]["sentiment"] == "neutral"
    assert fbs[0]["source"] == "customer" and fbs[0]["conversation"] == pk

    # By integer pk (body {"sentiment", "conversation": pk}); every call is one more row.
    res = sdk.run('''
        from agentsight import conversation_manager as m
        emit([capture(m.submit_feedback, P["pk"], "positive"), capture(m.submit_feedback, P["pk"], "positive")])
    ''', params={"pk": pk})
    assert all(r["ok"] for r in res), res
    assert res[0]["value"]["id"] != res[1]["value"]["id"]
    fbs = server.detail(pk)["feedbacks"]
    assert sorted(f["sentiment"] for f in fbs) == ["neutral", "positive", "positive"], fbs


# --------------------------------------------------------------------------- 8


FLOW = '''
from agentsight import conversation_tracker as t
t.get_or_create_conversation(P["cid"], customer_id="cust-8")
pause()
t.track_human_message(P.get("q", "question"))
pause()
t.track_agent_message(P.get("a", "answer"))
pause()
emit(t.send_tracked_data())
'''


def test_08_no_duplicate_rows(server, sdk, new_cid):
    cid = new_cid("dup")
    res = sdk.run(FLOW, params={"cid": cid})
    # Duplicates first: a 202/204 or a non-JSON 201 makes 0.0.44 resend the same POST.
    rows = server.rows(cid)
    assert len(rows) == 1, f"exactly one conversation row expected: {rows}"
    d = server.detail(rows[0]["id"])
    assert [m["content"] for m in d["messages"]] == ["question", "answer"], d["messages"]
    assert d["message_count"] == 2 and rows[0]["message_count"] == 2
    assert res["summary"] == summary(questions=1, answers=1), res
    pk = res["items"][0]["response"]["id"]
    assert rows[0]["id"] == pk

    # A second process upserting the same id reuses the row.
    res = sdk.run(FLOW, params={"cid": cid, "q": "again?", "a": "again."})
    assert res["summary"]["errors"] == 0, res
    assert res["items"][0]["response"]["id"] == pk
    assert [r["id"] for r in server.rows(cid)] == [pk]
    d = server.detail(pk)
    assert [m["content"] for m in d["messages"]] == ["question", "answer", "again?", "again."]
    assert d["message_count"] == 4
    assert d["customer_id"] == "cust-8"


def test_08b_many_sends_in_one_process_no_duplicates(server, sdk, new_cid):
    n = 3
    cids = [new_cid(f"multi{i}") for i in range(n)]
    res = sdk.run('''
        from agentsight import conversation_tracker as t
        out = []
        for i, cid in enumerate(P["cids"]):
            t.get_or_create_conversation(cid)
            t.track_human_message(f"q{i}")
            t.track_agent_message(f"a{i}")
            out.append(t.send_tracked_data())
        emit(out)
    ''', params={"cids": cids})
    pks = [r["items"][0]["response"]["id"] for r in res]
    assert len(set(pks)) == n
    for i, (cid, pk) in enumerate(zip(cids, pks)):
        assert res[i]["summary"]["errors"] == 0
        assert [r["id"] for r in server.rows(cid)] == [pk]
        assert [m["content"] for m in server.detail(pk)["messages"]] == [f"q{i}", f"a{i}"]


# --------------------------------------------------------------------------- list filters (A2.6)


def test_06b_list_filters_and_paging(server, sdk, new_cid, run_tag):
    """Every A2.6 filter as fetch_conversations sends it, scoped by a customer id
    unique to this run (filters combine with AND)."""
    a, b = new_cid("alpha"), new_cid("beta")
    cust = f"cust-filters-{run_tag}"
    res = sdk.run('''
        from datetime import datetime, timedelta, timezone
        from agentsight import conversation_tracker as t, conversation_manager as m, agentsight_api as api
        tag = P["tag"]
        t.get_or_create_conversation(P["a"], customer_id=P["cust"], customer_ip_address="198.51.100.7",
                                     device="mobile", language="en", name=f"Alpha {tag}", environment="production",
                                     metadata={"team": tag, "tier": "gold"})
        t.track_human_message(f"there is a needle-{tag} in here")
        t.track_action("open_ticket")
        sent = t.send_tracked_data()
        t.initialize_conversation(P["b"], customer_id=P["cust"], device="desktop", language="de",
                                  name=f"Beta {tag}", metadata={"team": tag, "tier": "silver"})
        m.mark_conversation(P["a"], True)
        future = datetime.now(timezone.utc) + timedelta(days=1)
        past = datetime.now(timezone.utc) - timedelta(days=1)
        c = P["cust"]
        q = {
            "all": dict(customer_id=c),
            "mobile": dict(customer_id=c, device="mobile"),
            "desktop": dict(customer_id=c, device="desktop"),
            "lang_de": dict(customer_id=c, language="de"),
            "ip": dict(customer_id=c, customer_ip_address="198.51.100.7"),
            "has_msgs": dict(customer_id=c, has_messages=True),
            "no_msgs": dict(customer_id=c, has_messages=False),
            "marked": dict(customer_id=c, is_marked=True),
            "unmarked": dict(customer_id=c, is_marked=False),
            "name": dict(name=f"Alpha {tag}"),
            "needle": dict(message_contains=f"needle-{tag}"),
            "meta": dict(metadata=f"team:{tag},tier:silver"),
            "meta_one": dict(metadata=f"team:{tag}"),
            "action": dict(customer_id=c, action_name="open_ticket"),
            "after_future": dict(customer_id=c, started_at_after=future),
            "before_future": dict(customer_id=c, started_at_before=future),
            "after_past": dict(customer_id=c, started_at_after=past),
            "before_past": dict(customer_id=c, started_at_before=past),
            "page1": dict(customer_id=c, page_size=1, page=1),
            "page2": dict(customer_id=c, page_size=1, page=2),
        }
        out = {"sent": sent, "attachments_by_str": capture(api.fetch_conversation_attachments, P["a"])}
        for name, kw in q.items():
            out[name] = capture(api.fetch_conversations, **kw)
        emit(out)
    ''', params={"a": a, "b": b, "cust": cust, "tag": run_tag})
    assert res["sent"]["summary"]["errors"] == 0, res["sent"]
    pk_a = res["sent"]["items"][0]["response"]["id"]
    pk_b = server.lookup(b)

    def ids(name):
        r = res[name]
        assert r["ok"], f"{name}: {r}"
        body = r["value"]
        assert body["count"] >= len(body["results"])
        return {row["conversation_id"] for row in body["results"]}

    assert ids("all") == {a, b}
    assert ids("mobile") == {a} and ids("desktop") == {b}
    assert ids("lang_de") == {b}
    assert ids("ip") == {a}
    assert ids("has_msgs") == {a} and ids("no_msgs") == {b}
    assert ids("marked") == {a} and ids("unmarked") == {b}
    assert ids("name") == {a}
    assert ids("needle") == {a}
    assert ids("meta") == {b} and ids("meta_one") == {a, b}
    assert ids("action") == {a}
    assert ids("after_future") == set() and ids("before_past") == set()
    assert ids("before_future") == {a, b} and ids("after_past") == {a, b}

    p1, p2 = res["page1"]["value"], res["page2"]["value"]
    for p in (p1, p2):
        assert p["count"] == 2 and len(p["results"]) == 1 and p["page_size"] == 1 and p["total_pages"] == 2, p
    assert p1["current_page"] == 1 and p2["current_page"] == 2
    assert p1["next"] and p1["previous"] is None and p2["next"] is None and p2["previous"]
    assert {p1["results"][0]["id"], p2["results"][0]["id"]} == {pk_a, pk_b}

    att = res["attachments_by_str"]
    assert att["ok"] and att["value"]["total_attachments"] == 0 and att["value"]["messages"] == [], att

    assert server.one(a)["environment"] == "production"
    assert server.one(b)["environment"] == "development"

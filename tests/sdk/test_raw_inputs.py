"""Bad input and isolation, sent with plain `requests` in the shapes 0.0.44 uses.

Every refused request must leave previously stored data exactly as it was.
"""

from __future__ import annotations

import base64
import json
import socket
import time
from datetime import datetime, timezone
from urllib.parse import urlparse

import pytest

from conftest import assert_field_error


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


def upsert(server, cid: str, key=True, **fields):
    body = {"timestamp": now_iso(), "conversation_id": cid, "customer_id": None, "customer_ip_address": None,
            "device": None, "source": None, "language": None, "name": None, "environment": "development",
            "metadata": None, "is_used": True, **fields}
    return server.post("/api/conversations/", key=key, json=body)


def track(server, cid: str, content: str, key=True, **fields):
    body = {"timestamp": now_iso(), "content": content, "sender": "end_user", "conversation_id": cid,
            "metadata": {}, "conversation": None, **fields}
    return server.post("/api/track/", key=key, json=body)


def seeded(server, cid: str, key=True, **fields) -> tuple[int, dict]:
    """A conversation with one message; returns (pk, detail snapshot)."""
    r = upsert(server, cid, key=key, **fields)
    assert r.status_code == 201, f"{r.status_code}: {r.text[:500]}"
    pk = r.json()["id"]
    r = track(server, cid, "seed message", key=key, conversation=pk)
    assert r.status_code == 201, f"{r.status_code}: {r.text[:500]}"
    assert isinstance(r.json().get("id"), int)
    return pk, server.detail(pk, key=key)


def assert_untouched(server, pk: int, before: dict, key=True) -> None:
    after = server.detail(pk, key=key)
    assert after == before, f"refused request changed stored data:\nbefore={before}\nafter={after}"


# --------------------------------------------------------------------------- upsert


def test_upsert_201_then_200_same_row(server, new_cid):
    cid = new_cid()
    r1 = upsert(server, cid, customer_id="u-1", device="mobile")
    assert r1.status_code == 201, r1.text
    assert r1.headers.get("Content-Type", "").startswith("application/json")
    pk = r1.json()["id"]
    r2 = upsert(server, cid, is_used=False)
    assert r2.status_code == 200, r2.text
    body = r2.json()
    assert body["id"] == pk and body["customer_id"] == "u-1" and body["device"] == "mobile"
    assert body["is_used"] is True
    assert len(server.rows(cid)) == 1


def test_upsert_accepts_naive_and_offset_timestamps(server, new_cid):
    cid_naive, cid_offset = new_cid("naive"), new_cid("offset")
    r = upsert(server, cid_naive, timestamp="2026-03-04T05:06:07")
    assert r.status_code == 201, r.text
    assert server.one(cid_naive)["started_at"].startswith("2026-03-04T05:06:07")
    r = upsert(server, cid_offset, timestamp="2026-03-04T07:06:07+02:00")
    assert r.status_code == 201, r.text
    assert server.one(cid_offset)["started_at"].startswith("2026-03-04T05:06:07")


# --------------------------------------------------------------------------- auth


def test_missing_or_wrong_auth_is_401(server, new_cid):
    cid = new_cid()
    bogus = "ags_" + "f" * 32 + "_" + "0" * 6
    cases = {
        "no header": {},
        "bearer": {"Authorization": f"Bearer {server.write_key}"},
        "x-api-key": {"X-API-Key": server.write_key},
        "unknown key": {"Authorization": f"Api-Key {bogus}"},
        "malformed key": {"Authorization": "Api-Key not-a-key"},
    }
    for label, headers in cases.items():
        for method, path, kw in [("GET", "/api/conversations/", {}),
                                 ("POST", "/api/conversations/", {"json": {"conversation_id": cid}})]:
            r = server.request(method, path, key=None, headers=headers, **kw)
            assert r.status_code == 401, f"{label} {method} {path}: {r.status_code} {r.text[:300]}"
            body = r.json()
            assert isinstance(body, dict) and isinstance(body.get("detail"), str), f"{label}: {body}"
    assert server.rows(cid) == []


def test_read_key_write_is_403_and_read_works(server, new_cid):
    cid, fresh = new_cid(), new_cid("ro-new")
    pk, before = seeded(server, cid)
    r = track(server, cid, "from a read key", key=server.read_key, conversation=pk)
    assert r.status_code == 403, r.text
    assert isinstance(r.json().get("detail"), str)
    r = upsert(server, fresh, key=server.read_key)
    assert r.status_code == 403, r.text
    r = server.post("/api/conversation-feedbacks/", key=server.read_key,
                    json={"sentiment": "negative", "conversation": pk})
    assert r.status_code == 403, r.text
    assert server.detail(pk, key=server.read_key) == before
    assert_untouched(server, pk, before)
    assert server.rows(fresh) == []


# --------------------------------------------------------------------------- malformed input


@pytest.mark.parametrize("path", ["/api/track/", "/api/conversations/", "/api/action_logs/", "/api/buttons/",
                                  "/api/attachments/", "/api/conversation-feedbacks/"])
def test_malformed_json_is_400(server, new_cid, path):
    cid = new_cid()
    pk, before = seeded(server, cid)
    r = server.post(path, data=b'{"conversation_id": "' + cid.encode() + b'", "content": ',
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 400, f"{path}: {r.status_code} {r.text[:300]}"
    assert isinstance(r.json(), dict), r.text
    assert_untouched(server, pk, before)


def test_unknown_device_is_400_naming_device(server, new_cid):
    cid, fresh = new_cid("known"), new_cid("fresh")
    pk, before = seeded(server, cid, device="mobile", customer_id="keep-me")
    r = upsert(server, cid, device="toaster", customer_id="overwritten?")
    assert_field_error(r, "device")
    assert_untouched(server, pk, before)
    r = upsert(server, fresh, device="toaster")
    assert_field_error(r, "device")
    assert server.rows(fresh) == [], "a refused upsert must not create the conversation"


def test_bad_sender_and_timestamp_and_empty_content(server, new_cid):
    cid = new_cid()
    pk, before = seeded(server, cid)
    assert_field_error(track(server, cid, "x", conversation=pk, sender="robot"), "sender")
    assert_field_error(track(server, cid, "x", conversation=pk, timestamp="yesterday-ish"), "timestamp")
    assert_field_error(track(server, cid, "", conversation=pk), "content")
    assert_untouched(server, pk, before)


def test_bad_environment_and_sentiment(server, new_cid):
    cid = new_cid()
    pk, before = seeded(server, cid)
    assert_field_error(upsert(server, cid, environment="staging-nope"), "environment")
    r = server.post("/api/conversation-feedbacks/", json={"sentiment": "great", "conversation": pk})
    assert_field_error(r, "sentiment")
    assert_untouched(server, pk, before)


def test_bad_base64_attachment_is_400(server, new_cid):
    cid = new_cid()
    pk, before = seeded(server, cid)
    r = server.post("/api/attachments/", json={
        "timestamp": now_iso(), "mode": "base64", "sender": "end_user", "conversation_id": cid,
        "conversation": pk, "metadata": {},
        "attachments": [{"filename": "x.bin", "mime_type": "application/octet-stream", "data": "@@not base64@@"}]})
    assert r.status_code == 400, r.text
    body = r.json()
    # The field may be named "attachments", "data" or a path like "attachments[0].data".
    named = [k for k in body if "attachments" in k or k == "data"]
    assert named and all(isinstance(body[k], list) and body[k] for k in named), body
    assert_untouched(server, pk, before)
    assert server.attachments(pk)["total_attachments"] == 0


# --------------------------------------------------------------------------- tenancy


def test_other_agents_conversation_is_invisible_and_untouchable(server, new_cid):
    theirs = new_cid("theirs")
    pk_other, before_other = seeded(server, theirs, key=server.other_key, name="Other agent's")
    att = server.post("/api/attachments/", key=server.other_key, json={
        "timestamp": now_iso(), "mode": "base64", "sender": "end_user", "conversation_id": theirs,
        "conversation": pk_other, "metadata": {},
        "attachments": [{"filename": "secret.txt", "mime_type": "text/plain",
                         "data": base64.b64encode(b"secret").decode()}]})
    assert att.status_code == 201, att.text
    listing = server.attachments(pk_other, key=server.other_key)
    (secret,) = [a for g in listing["messages"] for a in g["attachments"]]
    before_other = server.detail(pk_other, key=server.other_key)

    # Reads with our key: 404, and the list does not show it.
    for path in (f"/api/conversations/{pk_other}/", f"/api/conversations/{pk_other}/attachments/",
                 secret["file_url"]):
        r = server.get(path)
        assert r.status_code == 404, f"GET {path} with another agent's key: {r.status_code}"
        assert isinstance(r.json().get("detail"), str)
    r = server.get("/api/conversations/lookup/", params={"conversation_id": theirs})
    assert r.status_code == 404, r.text
    assert server.rows(theirs) == []
    r = server.get(secret["file_url"], key=None)
    assert r.status_code == 401, f"download without a key: {r.status_code}"

    # Writes naming their pk with our key.
    ours = new_cid("ours")
    r = track(server, ours, "sneaky", conversation=pk_other)
    assert_field_error(r, "conversation", statuses=(400, 404))
    r = server.post("/api/action_logs/", json={"timestamp": now_iso(), "action_name": "x",
                                               "conversation_id": ours, "metadata": {},
                                               "conversation": pk_other})
    assert_field_error(r, "conversation", statuses=(400, 404))
    r = server.post("/api/conversation-feedbacks/", json={"sentiment": "negative", "conversation": pk_other})
    assert_field_error(r, "conversation", statuses=(400, 404))
    for method, path, body in [("POST", f"/api/conversations/{pk_other}/mark/", {"is_marked": True}),
                               ("PATCH", f"/api/conversations/{pk_other}/rename/", {"name": "pwned"}),
                               ("PATCH", f"/api/conversations/{pk_other}/update/", {"metadata": {"a": 1}}),
                               ("DELETE", f"/api/conversations/{pk_other}/delete/", None)]:
        r = server.request(method, path, json=body)
        assert r.status_code == 404, f"{method} {path}: {r.status_code} {r.text[:300]}"

    assert_untouched(server, pk_other, before_other, key=server.other_key)
    assert server.rows(ours) == [], "a refused write must not create a conversation"


def test_unknown_pk_is_404(server):
    for path in ("/api/conversations/999999/", "/api/conversations/999999/attachments/"):
        r = server.get(path)
        assert r.status_code == 404, f"{path}: {r.status_code}"
        assert isinstance(r.json().get("detail"), str)
    r = server.get("/api/conversations/lookup/", params={"conversation_id": "never-created-xyz"})
    assert r.status_code == 404


# --------------------------------------------------------------------------- keep-alive


def _post_with_late_body(server, key: str | None, body: bytes, delay: float) -> tuple[str, list[str], str]:
    """POST on a raw socket, the body sent `delay` s after the headers (http.client, and so
    requests and the SDK, send headers and body in separate writes). Then a second request
    on the same connection. Returns (first status line, its Connection headers, second)."""
    u = urlparse(server.base_url)
    with socket.create_connection((u.hostname, u.port), timeout=5) as s:
        head = (f"POST /api/track/ HTTP/1.1\r\nHost: {u.netloc}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n")
        if key:
            head += f"Authorization: Api-Key {key}\r\n"
        s.sendall((head + "\r\n").encode())
        time.sleep(delay)
        try:
            s.sendall(body)
        except OSError:
            pass  # already closed: the second request will tell
        raw = b""
        while b"\r\n\r\n" not in raw:
            chunk = s.recv(65536)
            if not chunk:
                break
            raw += chunk
        head_text = raw.split(b"\r\n\r\n", 1)[0].decode(errors="replace")
        lines = head_text.split("\r\n")
        length = next((int(ln.split(":", 1)[1]) for ln in lines if ln.lower().startswith("content-length:")), 0)
        rest = raw.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in raw else b""
        while len(rest) < length:
            chunk = s.recv(65536)
            if not chunk:
                break
            rest += chunk
        conn_headers = [ln.split(":", 1)[1].strip().lower() for ln in lines if ln.lower().startswith("connection:")]
        try:
            s.sendall(f"GET /healthz HTTP/1.1\r\nHost: {u.netloc}\r\n\r\n".encode())
            second = s.recv(65536).decode(errors="replace").split("\r\n")[0] or "<connection closed>"
        except OSError as e:
            second = f"<{type(e).__name__}>"
        return lines[0], conn_headers, second


@pytest.mark.parametrize("who", ["no key", "unknown key", "read key"])
def test_refused_post_keeps_connection_usable(server, new_cid, who):
    """A 401/403 answered before the request body has arrived must either keep the
    connection usable or say `Connection: close`. Closing it silently makes the
    client's next request on its keep-alive session fail (requests does not retry;
    0.0.44 treats it as a network error and sleeps 1 s before resending)."""
    key = {"no key": None, "unknown key": "ags_" + "e" * 32 + "_" + "1" * 6, "read key": server.read_key}[who]
    body = json.dumps({"conversation_id": new_cid(), "content": "late body", "sender": "end_user"}).encode()
    first, conn, second = _post_with_late_body(server, key, body, delay=0.05)
    assert first.split()[1] in ("401", "403"), first
    if "close" in conn:
        return
    assert second.startswith("HTTP/1.1 200"), (
        f"{who}: server answered {first!r} without 'Connection: close', then dropped the connection: "
        f"the next request on it got {second}")

#!/usr/bin/env python3
"""Writes the committed seed corpora (fuzz/seeds/<target>/): small valid examples of each format,
shaped as the SDKs send them (docs/sdk-protocol.md) and as the API tests use them. Run from
anywhere; it rewrites the seed files it owns.

    python3 fuzz/seeds/make-seeds.py
"""
import gzip
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
TRACE = "0123456789abcdef0123456789abcdef"


def put(target, name, data):
    d = os.path.join(HERE, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def j(v):
    return json.dumps(v, separators=(",", ":")).encode()


# json_bodies: first byte = route (fuzzing::json_body), then the body.
JSON = {
    0: [
        {"conversation_id": "c-1", "customer_id": "u-42", "device": "mobile", "source": "web",
         "language": "en", "environment": "production", "name": "Order", "customer_ip_address": "81.2.69.142",
         "metadata": {"plan": "pro", "tier": 1}},
        {"conversation_id": "c-2"},
    ],
    1: [
        {"conversation_id": "c-1", "content": "Where is my order?", "sender": "end_user",
         "timestamp": "2026-08-15T10:00:00+00:00", "metadata": {"k": 1}},
        {"conversation": 42, "content": "It ships tomorrow.", "sender": "agent"},
    ],
    2: [
        {"conversation_id": "c-1", "action_name": "lookup", "duration_ms": 12.5,
         "tools_used": {"order": 7}, "response": "ok", "error": None, "timestamp": "2026-08-15T10:00:01Z"},
        {"conversation_id": "c-1", "action_name": "token_usage",
         "metadata": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15, "model": "gpt-4o-mini"}},
    ],
    3: [{"conversation_id": "c-1", "button_event": "click", "label": "Yes", "value": "yes", "metadata": {}}],
    4: [{"conversation_id": "c-1", "sentiment": "positive", "comment": "great"},
        {"conversation": 42, "sentiment": "negative", "metadata": {"reason": "slow"}}],
    5: [{"conversation_id": "c-1", "mode": "base64", "sender": "end_user", "metadata": {"a": 1},
         "timestamp": "2026-08-15T10:00:00Z",
         "attachments": [{"filename": "a.txt", "mime_type": "text/plain", "data": "aGVsbG8="}]},
        {"conversation": "42", "message": 7, "conversation_id": "None",
         "attachments": [{"filename": "p.png", "mime_type": "image/png",
                          "data": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="}]}],
    6: [{"name": "Renamed"}],
    7: [{"is_marked": True}],
    8: [{"name": "n", "is_marked": False, "metadata": {"x": [1, 2]}, "device": "desktop", "language": "de"}],
    9: [{"kind": "message", "message": 7, "sentiment": "positive", "topic": "billing", "reason": "late"},
        {"kind": "conversation", "conversation_id": "c-1", "sentiment": "neutral", "comment": "ok"},
        {"kind": "agent", "sentiment": "negative"}],
    10: [{"sentiment": "negative", "comment": "changed", "topic": "t", "reason": "r"}],
    11: [{"name": "lookup", "display_name": "Look up", "description": "Finds an order"}],
    12: [{"metadata": {"intent": "refund"}}],
}
for kind, bodies in JSON.items():
    for i, b in enumerate(bodies):
        put("json_bodies", f"route{kind:02}-{i}", bytes([kind]) + j(b))


# span_batch / gzip_body: the 0.1.x envelope.
def span(sid, kind, turn, attrs, events=(), parent=None):
    a = {"agentsight.conversation.id": "c-1", "agentsight.span.kind": kind}
    if turn:
        a["agentsight.turn.id"] = turn
    a.update(attrs)
    return {"span_id": sid, "trace_id": TRACE, "parent_span_id": parent if parent else turn, "kind": kind,
            "name": kind, "started_at": "2026-08-15T10:00:00+00:00", "ended_at": "2026-08-15T10:00:02+00:00",
            "duration_ms": 2000.0, "status": "ok", "attributes": a, "events": list(events),
            "otel": {"span_kind": "INTERNAL"}}


def msg(sender, content, at):
    return {"name": "agentsight.message", "timestamp": at,
            "attributes": {"agentsight.message.sender": sender, "agentsight.message.content": content,
                           "agentsight.message.metadata": "{\"k\": 1}"}}


turn = span("00000000000000a1", "turn", None,
            {"agentsight.turn.id": "00000000000000a1", "agentsight.turn.complete": True},
            [msg("end_user", "Where is my order?", "2026-08-15T10:00:00.5+00:00"),
             msg("agent", "It ships tomorrow.", "2026-08-15T10:00:01+00:00")])
tool = span("00000000000000a2", "tool", "00000000000000a1",
            {"agentsight.tool.name": "lookup", "agentsight.tool.arguments": "{\"order\": 7}",
             "agentsight.tool.response": "shipped"})
llm = span("00000000000000a3", "llm", "00000000000000a1",
           {"gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.input_tokens": 120, "gen_ai.usage.output_tokens": 30,
            "agentsight.llm.cache_read_tokens": 10, "agentsight.llm.reasoning_tokens": 0})
button = span("00000000000000a4", "button", "00000000000000a1",
              {"agentsight.button.event": "click", "agentsight.button.label": "Yes",
               "agentsight.button.value": "yes", "agentsight.metadata": "{\"m\": 1}"})
incomplete = span("00000000000000b1", "turn", None,
                  {"agentsight.turn.id": "00000000000000b1", "agentsight.turn.complete": False,
                   "agentsight.turn.incomplete_reason": "timeout"})
block = {"conversation_id": "c-1", "customer_id": "u-42", "device": "mobile", "source": "web",
         "language": "en", "environment": "production", "customer_ip_address": "81.2.69.142",
         "metadata": {"plan": "pro"}, "spans": [turn, tool, llm, button]}
batches = {
    "full": {"sdk": {"name": "agentsight-python", "version": "0.1.4"}, "conversations": [block]},
    "two-blocks": {"conversations": [{"conversation_id": "c-2", "spans": [incomplete]},
                                     {"conversation_id": "c-3", "name": "n", "spans": []}]},
    "child-only": {"conversations": [{"conversation_id": "c-4", "spans": [tool]}]},
}
for name, b in batches.items():
    put("span_batch", name, j(b))
    put("gzip_body", name + ".gz", b"\x00" + gzip.compress(j(b), mtime=0))
    put("gzip_body", name + ".plain", b"\x01" + j(b))

# multipart: body with boundary XBOUNDARY (fuzz_targets/multipart.rs).
def part(name, value, filename=None, ctype=None):
    head = f'Content-Disposition: form-data; name="{name}"'
    if filename is not None:
        head += f'; filename="{filename}"'
    if ctype:
        head += f"\r\nContent-Type: {ctype}"
    return f"--XBOUNDARY\r\n{head}\r\n\r\n".encode() + (value if isinstance(value, bytes) else value.encode()) + b"\r\n"


put("multipart", "standalone",
    part("conversation_id", "c-1") + part("mode", "form_data") + part("sender", "end_user")
    + part("metadata", '{"a": 1}') + part("timestamp", "2026-08-15T10:00:00Z")
    + part("attachment_0", b"hello", "a.txt", "text/plain") + b"--XBOUNDARY--\r\n")
put("multipart", "linked",
    part("conversation", "42") + part("message", "7") + part("conversation_id", "None")
    + part("attachment_0", b"\x89PNG\r\n\x1a\n", "p.png", "image/png")
    + part("attachment_1", b"x,y\n1,2\n", "t.csv", "text/csv") + b"--XBOUNDARY--\r\n")
put("multipart", "own-content-type",
    b"CT:multipart/form-data; boundary=b1\n--b1\r\nContent-Disposition: form-data; name=\"conversation_id\"\r\n\r\n"
    b"c-1\r\n--b1\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\n\r\nx\r\n--b1--\r\n")

# query: query strings of the listings and metrics.
for i, q in enumerate([
    "page=2&page_size=10&device=mobile&source=web&language=en&environment=prod&metadata=plan:pro,tier:1"
    "&has_messages=true&is_marked=false&started_at_after=2026-08-01&started_at_before=2026-08-15T10:00:00Z"
    "&country=DE&ordering=-updated_at&feedback_sentiment=positive&feedback_source=customer&full=true",
    "from=2026-08-01&to=2026-08-31&tz=Europe/Berlin&metric=conversations&interval=week&customer_id=unknown"
    "&metadata=plan%3Apro",
    "conversation=3&span_id=00000000000000a1&parent_span_id=00000000000000a2&trace_id=ABC&payload=1"
    "&ordering=-started_at&kind=turn&status=ok",
    "group_by=day&currency=eur&cost_source=backend&incomplete=no&turn_id=00000000000000a1&model=gpt-4o",
    "kind=message&sentiment=negative&message=7&has_comment=yes&created_at_after=2026-01-01"
    "&include_tickets=false&ordering=created_at&name__icontains=look&search=x",
    "q=hello+world&customer_ip_address=81.2.69.142&escalated=true&customer_id__icontains=u-&has_action=1",
]):
    put("query", f"q{i}", q)

# base64_data: kind byte, then filename NUL mime NUL data (odd) or a logo data: URL (even).
png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
put("base64_data", "logo-png", b"\x00data:image/png;base64," + png.encode())
put("base64_data", "logo-svg", b"\x00data:image/svg+xml;base64,PHN2Zy8+")
put("base64_data", "file", b"\x01a.txt\x00text/plain\x00aGVsbG8=")
put("base64_data", "file-png", b"\x01dir/p.png\x00image/png\x00" + png.encode())
put("base64_data", "file-bare", b"\x01aGVsbG8gd29ybGQ=")


# Dictionaries (libFuzzer -dict=fuzz/dicts/<target>.dict): the names and values the parsers look
# for, so mutations spell them.
QUERY_NAMES = """action_name comment_contains conversation conversation_id cost_source country created_at_after
created_at_before currency customer_id customer_id__icontains customer_ip_address device display_name env environment
escalated feedback_sentiment feedback_source full group_by has_action has_comment has_feedback has_messages has_ticket
include_deleted include_tickets incomplete interval is_marked is_used kind language message message_contains metadata
metadata_key metadata_value metric model name name__icontains ordering page page_size parent_span_id payload q reason
search sentiment source span_id started_at_after started_at_before status topic trace_id turn_id tz from to""".split()
VALUES = """true false yes no 1 0 unknown prod dev production development -started_at started_at -updated_at
updated_at -created_at created_at model day week hour usd eur backend unpriced reported customer platform positive
negative neutral mobile desktop web en de UTC Europe/Berlin America/St_Johns Asia/Kathmandu 1970-01-01 9999-12-31
2026-08-15 2026-08-15T10:00:00Z 2026-08-15T10:00:00.5+05:45 9999-12-31T23:59:59.999999Z 00000000000000a1
0123456789abcdef0123456789abcdef None null conversations messages""".split()
ATTRS = """agentsight.conversation.id agentsight.span.kind agentsight.turn.id agentsight.turn.complete
agentsight.turn.incomplete_reason agentsight.message agentsight.message.sender agentsight.message.content
agentsight.message.metadata agentsight.metadata agentsight.tool.name agentsight.tool.arguments agentsight.tool.response
agentsight.tool.error gen_ai.system gen_ai.request.model gen_ai.usage.input_tokens gen_ai.usage.output_tokens
agentsight.llm.cache_read_tokens agentsight.llm.cache_write_tokens agentsight.llm.reasoning_tokens
agentsight.llm.audio_input_tokens agentsight.llm.audio_output_tokens agentsight.llm.embedding_tokens
agentsight.llm.usage_reported agentsight.llm.error agentsight.button.event agentsight.button.label
agentsight.button.value turn tool llm button end_user agent ok error span_id trace_id parent_span_id started_at
ended_at duration_ms attributes events timestamp otel sdk conversations spans""".split()


def keys_of(v, out):
    if isinstance(v, dict):
        for k, x in v.items():
            out.add(k)
            keys_of(x, out)
    elif isinstance(v, list):
        for x in v:
            keys_of(x, out)


def dict_entry(w):
    """A libFuzzer dictionary entry: quoted; a backslash, a quote and bytes outside ASCII escaped."""
    out = []
    for b in w.encode():
        c = chr(b)
        if c in '\\"':
            out.append("\\" + c)
        elif 32 <= b < 127:
            out.append(c)
        else:
            out.append(f"\\x{b:02X}")
    return '"' + "".join(out) + '"'


def dict_file(target, words):
    d = os.path.join(HERE, "..", "dicts")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, target + ".dict"), "w") as f:
        for w in sorted(set(words)):
            f.write(dict_entry(w) + "\n")


json_keys = set()
for bodies in JSON.values():
    keys_of(bodies, json_keys)
dict_file("json_bodies", [f'"{k}":' for k in json_keys] + VALUES + ["{}", "[]", "\\u0000", "1e999", "-0"])
dict_file("query", [n + "=" for n in QUERY_NAMES] + VALUES + ["&", "%3A", "%2C", ":", ","])
batch_keys = set()
keys_of(list(batches.values()), batch_keys)
span_words = [f'"{k}":' for k in batch_keys | set(ATTRS)] + VALUES + ["{}", "[]", "1e999", "-1", "18446744073709551616"]
dict_file("span_batch", span_words)
dict_file("multipart", ["--XBOUNDARY", "--XBOUNDARY--", "\r\n", "Content-Disposition: form-data; ", "name=",
                        "filename=", "Content-Type: ", "attachment_0", "conversation", "conversation_id", "message",
                        "timestamp", "sender", "metadata", "mode", "None", "image/png", "text/plain"] + VALUES)
dict_file("base64_data", ["data:", ";base64,", "image/png", "image/svg+xml", "image/jpeg", "image/webp", "=", "==",
                          "\x00", "text/plain", "../", "attachment"])

"""OTLP/HTTP ingestion (`POST /v1/traces`, docs/otlp.md) driven by the real OpenTelemetry
Python SDK and its OTLP/HTTP protobuf exporter (`opentelemetry-sdk`,
`opentelemetry-exporter-otlp-proto-http`, installed by scripts/setup-sdk-venv.sh 0.1.4),
configured only through the standard environment variables the docs show
(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS, gzip compression).

A GenAI conversation of two user turns (an `invoke_agent` span over `chat` → `execute_tool` →
`chat`, then a second `chat` that repeats the whole history, with an evaluation) is exported to
the release binary; the transcript holds each message once, in order, and the overview and LLM
metrics count it as the docs say."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import uuid

from conftest import sdk_python01

SCRIPT = r'''
import json, sys
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.trace import Status, StatusCode

P = json.loads(sys.argv[1])
results = []

class Recording(OTLPSpanExporter):
    def export(self, spans):
        r = super().export(spans)
        results.append(r == SpanExportResult.SUCCESS)
        return r

provider = TracerProvider(resource=Resource.create({
    "service.name": "otlp-suite", "user.id": P["user"],
    "agentsight.conversation.source": "web", "agentsight.conversation.device": "desktop"}))
provider.add_span_processor(BatchSpanProcessor(Recording()))  # endpoint, headers, gzip: from the env
tracer = provider.get_tracer("agentsight-otlp-test")
T0 = P["t0_ns"]
at = lambda s: T0 + int(s * 1e9)

def text(role, t):
    return {"role": role, "parts": [{"type": "text", "content": t}]}

SYS = text("system", "Be brief.")
CALL = {"role": "assistant", "parts": [{"type": "tool_call", "id": "call_1", "name": "lookup_order",
                                         "arguments": {"order": 7}}]}
RESULT = {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1", "response": "shipped"}]}

def chat(parent, start, end, history, answer, tokens_in, tokens_out, events=()):
    ctx = trace.set_span_in_context(parent)
    s = tracer.start_span("chat gpt-4o-mini", context=ctx, kind=trace.SpanKind.CLIENT, start_time=at(start),
        attributes={"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": "gpt-4o-mini", "gen_ai.conversation.id": P["cid"],
                    "gen_ai.input.messages": json.dumps(history),
                    "gen_ai.output.messages": json.dumps(answer),
                    "gen_ai.usage.input_tokens": tokens_in, "gen_ai.usage.output_tokens": tokens_out})
    for name, attrs, t in events:
        s.add_event(name, attrs, timestamp=at(t))
    s.set_status(Status(StatusCode.OK))
    s.end(end_time=at(end))

# Turn 1: the agent calls a tool, then answers.
agent = tracer.start_span("invoke_agent support", start_time=at(0),
    attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "support",
                "gen_ai.conversation.id": P["cid"]})
chat(agent, 0.0, 1.5, [SYS, text("user", "Where is my order?")], [CALL], 100, 10)
tool = tracer.start_span("execute_tool lookup_order", context=trace.set_span_in_context(agent), start_time=at(1.5),
    attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup_order",
                "gen_ai.tool.call.arguments": json.dumps({"order": 7}), "gen_ai.tool.call.result": "shipped",
                "gen_ai.conversation.id": P["cid"]})
tool.end(end_time=at(2.0))
chat(agent, 2.0, 4.0, [SYS, text("user", "Where is my order?"), CALL, RESULT],
     [text("assistant", "It ships tomorrow.")], 150, 20)
agent.end(end_time=at(4.0))

# Turn 2: the whole history again, one new user message; the user rates the answer.
agent2 = tracer.start_span("invoke_agent support", start_time=at(60),
    attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.conversation.id": P["cid"]})
chat(agent2, 60.0, 61.0,
     [SYS, text("user", "Where is my order?"), CALL, RESULT, text("assistant", "It ships tomorrow."),
      text("user", "Thanks!")],
     [text("assistant", "You're welcome.")], 200, 5,
     events=[("gen_ai.evaluation.result", {"gen_ai.evaluation.name": "user_rating",
                                           "gen_ai.evaluation.score.label": "positive"}, 62.0)])
agent2.end(end_time=at(61.0))

# A span of the same app that is not GenAI: accepted, not stored.
tracer.start_span("GET /health", start_time=at(70)).end(end_time=at(70.1))

provider.shutdown()
print(json.dumps({"exports": results}))
'''


def export_otlp(base_url: str, key: str, cid: str, user: str, t0_ns: int) -> dict:
    """The conversation of SCRIPT exported to `base_url` with `Authorization: Api-Key <key>`."""
    return _export(base_url, cid, user, t0_ns, f"Authorization=Api-Key%20{key}")


def export(server01, cid: str, user: str, t0_ns: int, headers: str) -> dict:
    return _export(server01.base_url, cid, user, t0_ns, headers)


def _export(base_url: str, cid: str, user: str, t0_ns: int, headers: str) -> dict:
    env = {
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{base_url}/v1/traces",
        "OTEL_EXPORTER_OTLP_HEADERS": headers,
        "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "NO_PROXY": "127.0.0.1,localhost",
        "PATH": "/usr/bin:/bin",
    }
    res = subprocess.run([sdk_python01(), "-c", SCRIPT, json.dumps({"cid": cid, "user": user, "t0_ns": t0_ns})],
                         capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_otlp_exporter_conversation_is_stored_once_and_counted(server01):
    cid = f"otlp-{uuid.uuid4().hex[:12]}"
    user = f"otlp-user-{uuid.uuid4().hex[:8]}"
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    t0 = now - dt.timedelta(minutes=5)
    key = server01.other_key
    out = export(server01, cid, user, int(t0.timestamp()) * 10**9, f"Authorization=Api-Key%20{key}")
    assert out["exports"] and all(out["exports"]), out

    def get(path):
        r = server01.request("GET", path, key=key)
        assert r.status_code == 200, (path, r.status_code, r.text)
        return r.json()

    pk = get(f"/api/conversations/lookup/?conversation_id={cid}")["id"]
    d = get(f"/api/conversations/{pk}/")
    said = [(m["sender"], m["content"]) for m in d["messages"] if not m["content"].startswith("Action ")]
    assert said == [("end_user", "Where is my order?"), ("agent", "It ships tomorrow."),
                    ("end_user", "Thanks!"), ("agent", "You're welcome.")]
    assert (d["customer_id"], d["source"], d["device"]) == (user, "web", "desktop")
    assert d["metadata"]["feedback"]["sentiment"] == "positive"

    days = f"from={(t0 - dt.timedelta(days=1)).date()}&to={(now + dt.timedelta(days=1)).date()}&customer_id={user}"
    o = get(f"/api/metrics/overview/?{days}")
    assert o["total_conversations"] == 1 and o["unique_interactions"] == 1
    assert o["messages_by_sender"] == {"end_user": 2, "agent": 2, "system": 0}
    assert o["bot_responses"] == 2
    # (4.0 s − 0 s) and (61 s − 60 s): from the user message's chat start to the answer's end.
    assert o["avg_bot_response_time_ms"] == 2500.0
    assert [(t["name"], t["calls"], t["avg_duration_ms"], t["errors"]) for t in o["tools"]] == [("lookup_order", 1, 500.0, 0)]
    assert o["feedback"]["positive"] == 1
    llm = get(f"/api/metrics/llm/?{days}")
    t = llm["totals"]
    assert (t["calls"], t["input_tokens"], t["output_tokens"]) == (3, 450, 35)
    assert t["cost_usd"] not in (None, "0", "0.0"), t


def test_otlp_exporter_with_a_bearer_header_and_a_read_key_is_refused(server01):
    cid = f"otlp-{uuid.uuid4().hex[:12]}"
    now = dt.datetime.now(dt.timezone.utc)
    t0 = int(now.timestamp()) * 10**9
    ok = export(server01, cid, "u-bearer", t0, f"Authorization=Bearer%20{server01.other_key}")
    assert ok["exports"] and all(ok["exports"]), ok
    r = server01.request("GET", f"/api/conversations/lookup/?conversation_id={cid}", key=server01.other_key)
    assert r.status_code == 200
    cid2 = f"otlp-{uuid.uuid4().hex[:12]}"
    refused = export(server01, cid2, "u-read", t0, f"Authorization=Api-Key%20{server01.read_key}")
    assert refused["exports"] and not any(refused["exports"]), refused
    r = server01.request("GET", f"/api/conversations/lookup/?conversation_id={cid2}")
    assert r.status_code == 404

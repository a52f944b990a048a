"""OTLP/HTTP ingestion fed by an instrumentation library, not by hand-made spans: the official
`openai` client from PyPI, instrumented by `opentelemetry-instrumentation-openai-v2` (both
installed by scripts/setup-sdk-venv.sh 0.1.4), calls a local fake OpenAI endpoint started by the
test, and the instrumentation's spans are exported with the OTLP/HTTP protobuf exporter to the
release binary. Nothing leaves the machine.

The application wraps each turn in its own `invoke_agent` span carrying `gen_ai.conversation.id`
(the instrumentation itself knows no conversation), and asks for message content on spans
(`OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=SPAN_ONLY` with the latest experimental
GenAI conventions), as docs/otlp.md says. The second call repeats the whole history, as a chat
application does; the transcript must hold each message once, in order, without the system
prompt, and the LLM metrics must price the instrumentation's token counts with the server's
table."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import uuid
from decimal import Decimal

from conftest import sdk_python01

SCRIPT = r'''
import json, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

P = json.loads(sys.argv[1])
ANSWERS = ["Your order 7 ships tomorrow.", "You're welcome."]
USAGE = [(21, 7), (40, 3)]
seen = []

class FakeOpenAI(BaseHTTPRequestHandler):
    """POST /v1/chat/completions as OpenAI answers it (non-streaming)."""
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        n = len(seen)
        seen.append(body)
        out = json.dumps({
            "id": f"chatcmpl-{n}", "object": "chat.completion", "created": 1765000000,
            "model": body["model"] + "-2024-07-18",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": ANSWERS[n]}}],
            "usage": {"prompt_tokens": USAGE[n][0], "completion_tokens": USAGE[n][1],
                      "total_tokens": sum(USAGE[n])}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass

fake = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
threading.Thread(target=fake.serve_forever, daemon=True).start()

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

results = []

class Recording(OTLPSpanExporter):
    def export(self, spans):
        r = super().export(spans)
        results.append(r == SpanExportResult.SUCCESS)
        return r

provider = TracerProvider(resource=Resource.create({"service.name": "support-bot", "user.id": P["user"]}))
provider.add_span_processor(BatchSpanProcessor(Recording()))  # endpoint, headers: from the env
trace.set_tracer_provider(provider)

from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
OpenAIInstrumentor().instrument()

import openai
client = openai.OpenAI(base_url=f"http://127.0.0.1:{fake.server_port}/v1", api_key="sk-local-test")
tracer = trace.get_tracer("support-bot")
history = [{"role": "system", "content": "Be brief."}]
for question in ["Where is my order 7?", "Thanks!"]:
    history.append({"role": "user", "content": question})
    with tracer.start_as_current_span("invoke_agent support", attributes={
            "gen_ai.operation.name": "invoke_agent", "gen_ai.conversation.id": P["cid"]}):
        r = client.chat.completions.create(model="gpt-4o-mini", messages=history)
    history.append({"role": "assistant", "content": r.choices[0].message.content})

provider.shutdown()
print(json.dumps({"exports": results, "calls": len(seen)}))
'''


def test_openai_v2_instrumentation_spans_make_the_conversation(server01):
    cid = f"otlp-oai-{uuid.uuid4().hex[:12]}"
    user = f"otlp-oai-user-{uuid.uuid4().hex[:8]}"
    key = server01.other_key
    env = {
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{server01.base_url}/v1/traces",
        "OTEL_EXPORTER_OTLP_HEADERS": f"Authorization=Api-Key%20{key}",
        "OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_ONLY",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "NO_PROXY": "127.0.0.1,localhost",
        "PATH": "/usr/bin:/bin",
    }
    before = dt.datetime.now(dt.timezone.utc)
    res = subprocess.run([sdk_python01(), "-c", SCRIPT, json.dumps({"cid": cid, "user": user})],
                         capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["calls"] == 2 and out["exports"] and all(out["exports"]), out

    def get(path):
        r = server01.request("GET", path, key=key)
        assert r.status_code == 200, (path, r.status_code, r.text)
        return r.json()

    pk = get(f"/api/conversations/lookup/?conversation_id={cid}")["id"]
    d = get(f"/api/conversations/{pk}/")
    said = [(m["sender"], m["content"]) for m in d["messages"]]
    assert said == [("end_user", "Where is my order 7?"), ("agent", "Your order 7 ships tomorrow."),
                    ("end_user", "Thanks!"), ("agent", "You're welcome.")]
    assert d["customer_id"] == user

    days = (f"from={(before - dt.timedelta(days=1)).date()}&to={(before + dt.timedelta(days=1)).date()}"
            f"&customer_id={user}")
    o = get(f"/api/metrics/overview/?{days}")
    assert o["total_conversations"] == 1
    assert o["messages_by_sender"] == {"end_user": 2, "agent": 2, "system": 0}
    assert o["bot_responses"] == 2 and o["avg_bot_response_time_ms"] > 0
    t = get(f"/api/metrics/llm/?{days}")["totals"]
    assert (t["calls"], t["input_tokens"], t["output_tokens"]) == (2, 61, 10)
    # gpt-4o-mini: $0.15 per 1M input tokens, $0.60 per 1M output tokens (crates/agentsight-core/src/prices.rs).
    assert Decimal(t["cost_usd"]) == (Decimal(61) * Decimal("0.15") + Decimal(10) * Decimal("0.60")) / 10**6, t

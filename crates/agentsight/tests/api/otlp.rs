//! `POST /v1/traces`: OTLP/HTTP traces (protobuf and JSON, gzip, both auth headers, partial
//! success, resends, limits) and the "same numbers" check against the 0.1.x span plane.

use std::io::Write;

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

const TRACE1: &str = "5b8efff798038103d269b633813fc60c";
const TRACE2: &str = "5b8efff798038103d269b633813fc60d";

/// 2026-08-15T10:00:00Z in ns, plus `s` seconds.
fn ns(s: f64) -> String {
    (1_786_788_000_000_000_000u64 + (s * 1e9) as u64).to_string()
}

fn kv(k: &str, v: Value) -> Value {
    let value = match v {
        Value::String(s) => json!({"stringValue": s}),
        Value::Bool(b) => json!({"boolValue": b}),
        Value::Number(n) if n.is_i64() => json!({"intValue": n.to_string()}),
        Value::Number(n) => json!({"doubleValue": n}),
        other => json!({"stringValue": other.to_string()}),
    };
    json!({"key": k, "value": value})
}

fn attrs(a: Value) -> Value {
    Value::Array(a.as_object().unwrap().iter().map(|(k, v)| kv(k, v.clone())).collect())
}

fn otlp_span(trace: &str, id: &str, parent: &str, name: &str, from: f64, to: f64, a: Value) -> Value {
    json!({"traceId": trace, "spanId": id, "parentSpanId": parent, "name": name, "kind": 3,
        "startTimeUnixNano": ns(from), "endTimeUnixNano": ns(to), "attributes": attrs(a),
        "status": {"code": 1}})
}

fn request(resource: Value, spans: Vec<Value>) -> Value {
    json!({"resourceSpans": [{"resource": {"attributes": attrs(resource)},
        "scopeSpans": [{"scope": {"name": "test"}, "spans": spans}]}]})
}

fn msgs(list: &[(&str, &str)]) -> String {
    let v: Vec<Value> = list
        .iter()
        .map(|(role, text)| {
            if *text == "<tool call>" {
                json!({"role": role, "parts": [{"type": "tool_call", "id": "c1", "name": "lookup_order"}]})
            } else {
                json!({"role": role, "parts": [{"type": "text", "content": text}]})
            }
        })
        .collect();
    Value::Array(v).to_string()
}

/// One conversation of two user turns: a tool loop (chat → execute_tool → chat), then a short
/// answer, then an evaluation.
fn conversation(cid: &str) -> Value {
    let sys = ("system", "Be brief.");
    let chat =
        |id: &str, trace: &str, from: f64, to: f64, input: String, output: String, inp: i64, out: i64| {
            otlp_span(
                trace,
                id,
                "",
                "chat gpt-4o-mini",
                from,
                to,
                json!({"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o-mini", "gen_ai.conversation.id": cid,
                "gen_ai.input.messages": input, "gen_ai.output.messages": output,
                "gen_ai.usage.input_tokens": inp, "gen_ai.usage.output_tokens": out}),
            )
        };
    let mut third = chat(
        "00f067aa0ba902b3",
        TRACE2,
        60.0,
        61.0,
        msgs(&[
            sys,
            ("user", "Where is my order?"),
            ("assistant", "<tool call>"),
            ("tool", "shipped"),
            ("assistant", "It ships tomorrow."),
            ("user", "Thanks!"),
        ]),
        msgs(&[("assistant", "You're welcome.")]),
        200,
        5,
    );
    third["events"] = json!([{"name": "gen_ai.evaluation.result", "timeUnixNano": ns(62.0),
        "attributes": attrs(json!({"gen_ai.evaluation.name": "user_rating", "gen_ai.evaluation.score.label": "positive"}))}]);
    request(
        json!({"service.name": "support-bot", "user.id": "u1", "agentsight.conversation.source": "web",
            "agentsight.conversation.device": "mobile", "agentsight.conversation.language": "en"}),
        vec![
            chat(
                "00f067aa0ba902b1",
                TRACE1,
                0.0,
                2.0,
                msgs(&[sys, ("user", "Where is my order?")]),
                msgs(&[("assistant", "<tool call>")]),
                100,
                10,
            ),
            otlp_span(
                TRACE1,
                "00f067aa0ba902b2",
                "",
                "execute_tool lookup_order",
                2.0,
                3.0,
                json!({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup_order",
                    "gen_ai.tool.call.arguments": "{\"order\":7}", "gen_ai.tool.call.result": "shipped"}),
            ),
            chat(
                "00f067aa0ba902b4",
                TRACE1,
                3.0,
                5.0,
                msgs(&[
                    sys,
                    ("user", "Where is my order?"),
                    ("assistant", "<tool call>"),
                    ("tool", "shipped"),
                ]),
                msgs(&[("assistant", "It ships tomorrow.")]),
                150,
                20,
            ),
            third,
        ],
    )
}

fn to_proto(v: &Value) -> Vec<u8> {
    let req: ExportTraceServiceRequest = serde_json::from_value(v.clone()).expect("OTLP/JSON decodes");
    req.encode_to_vec()
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

async fn send(app: &TestApp, auth: &str, ct: &str, gz: bool, body: Vec<u8>) -> reqwest::Response {
    let mut r = app
        .client
        .post(format!("{}/v1/traces", app.base))
        .header("Authorization", auth)
        .header("Content-Type", ct);
    if gz {
        r = r.header("Content-Encoding", "gzip");
    }
    r.body(body).send().await.unwrap()
}

async fn send_json(app: &TestApp, body: &Value) -> reqwest::Response {
    send(app, &format!("Api-Key {}", app.key), "application/json", false, body.to_string().into_bytes()).await
}

async fn transcript(app: &TestApp, cid: &str) -> Vec<(String, String)> {
    let pk = app.get_json(&format!("/api/conversations/lookup/?conversation_id={cid}")).await["id"]
        .as_i64()
        .unwrap();
    let d = app.get_json(&format!("/api/conversations/{pk}/")).await;
    d["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["sender"].as_str().unwrap().to_string(), m["content"].as_str().unwrap().to_string()))
        .collect()
}

fn expected_transcript() -> Vec<(String, String)> {
    [
        ("end_user", "Where is my order?"),
        // The tool call's transcript entry, as for an SDK tool span (A3.5).
        ("agent", "Action lookup_order performed"),
        ("agent", "It ships tomorrow."),
        ("end_user", "Thanks!"),
        ("agent", "You're welcome."),
    ]
    .iter()
    .map(|(s, c)| (s.to_string(), c.to_string()))
    .collect()
}

#[tokio::test]
async fn protobuf_gzip_with_a_bearer_key_stores_the_history_once_and_a_resend_is_a_no_op() {
    let app = spawn_app().await;
    let body = gzip(&to_proto(&conversation("otlp-1")));
    for _ in 0..2 {
        let r =
            send(&app, &format!("Bearer {}", app.key), "application/x-protobuf", true, body.clone()).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/x-protobuf");
        let out = ExportTraceServiceResponse::decode(r.bytes().await.unwrap()).unwrap();
        assert_eq!(out.partial_success, None, "nothing refused");
    }
    assert_eq!(transcript(&app, "otlp-1").await, expected_transcript());
    let spans = app.get_json("/api/spans/?conversation_id=otlp-1").await;
    assert_eq!(spans["count"], 7, "3 llm + 3 turns + 1 tool, once: {spans}");
    let usage = app.get_json("/api/token-usage/summary/?group_by=model").await;
    let row = &usage["results"][0];
    assert_eq!(
        (row["input_tokens"].as_i64(), row["output_tokens"].as_i64()),
        (Some(450), Some(35)),
        "{usage}"
    );
    let pk = app.get_json("/api/conversations/lookup/?conversation_id=otlp-1").await["id"].as_i64().unwrap();
    let d = app.get_json(&format!("/api/conversations/{pk}/")).await;
    assert_eq!(d["customer_id"], "u1");
    assert_eq!(
        (d["source"].as_str(), d["device"].as_str(), d["language"].as_str()),
        (Some("web"), Some("mobile"), Some("en"))
    );
    assert_eq!(d["metadata"]["feedback"]["sentiment"], "positive");
}

#[tokio::test]
async fn json_with_an_api_key_answers_json_and_a_later_chat_adds_only_new_messages() {
    let app = spawn_app().await;
    let full = conversation("otlp-2");
    // The first turn alone, then the whole conversation (the first turn again, as a resend).
    let mut first = full.clone();
    first["resourceSpans"][0]["scopeSpans"][0]["spans"].as_array_mut().unwrap().truncate(3);
    for b in [&first, &full] {
        let r = send_json(&app, b).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/json");
        let out: Value = r.json().await.unwrap();
        assert_eq!(out, json!({}), "a full success");
    }
    assert_eq!(transcript(&app, "otlp-2").await, expected_transcript());
}

#[tokio::test]
async fn partial_success_counts_and_names_what_was_refused() {
    let app = spawn_app().await;
    let good = otlp_span(
        TRACE1,
        "00000000000000a1",
        "",
        "chat",
        0.0,
        1.0,
        json!({"gen_ai.operation.name": "chat", "gen_ai.conversation.id": "ok",
            "gen_ai.input.messages": msgs(&[("user", "hi")])}),
    );
    let bad_env = otlp_span(
        TRACE1,
        "00000000000000a2",
        "",
        "chat",
        0.0,
        1.0,
        json!({"gen_ai.operation.name": "chat", "gen_ai.conversation.id": "bad",
            "agentsight.conversation.environment": "staging"}),
    );
    let bad_tokens = otlp_span(
        TRACE1,
        "00000000000000a3",
        "",
        "chat",
        0.0,
        1.0,
        json!({"gen_ai.operation.name": "chat", "gen_ai.conversation.id": "ok", "gen_ai.usage.output_tokens": -4}),
    );
    let http =
        otlp_span(TRACE1, "00000000000000a4", "", "GET /", 0.0, 1.0, json!({"http.request.method": "GET"}));
    let r = send_json(&app, &request(json!({}), vec![good, bad_env, bad_tokens, http])).await;
    assert_eq!(r.status(), 200);
    let out: Value = r.json().await.unwrap();
    let ps = &out["partialSuccess"];
    assert_eq!(
        ps["rejectedSpans"].as_i64().or_else(|| ps["rejectedSpans"].as_str()?.parse().ok()),
        Some(2),
        "{out}"
    );
    let m = ps["errorMessage"].as_str().unwrap();
    assert!(m.contains("conversation bad: environment"), "{m}");
    assert!(m.contains("gen_ai.usage.output_tokens"), "{m}");
    assert_eq!(transcript(&app, "ok").await, vec![("end_user".to_string(), "hi".to_string())]);
    let r = app.get_as(&app.key, "/api/conversations/lookup/?conversation_id=bad").await;
    assert_eq!(r.status(), 404, "a refused conversation stores nothing");
}

#[tokio::test]
async fn keys_bodies_and_limits_answer_as_otlp_says() {
    let app = spawn_app_with(|s| s.max_body_bytes = 64 * 1024).await;
    let body = to_proto(&conversation("x"));
    let r = send(&app, "Api-Key nope", "application/x-protobuf", false, body.clone()).await;
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["content-type"], "application/x-protobuf");
    let r = send(&app, &format!("Bearer {}", app.read_key), "application/json", false, b"{}".to_vec()).await;
    assert_eq!(r.status(), 403);
    let st: Value = r.json().await.unwrap();
    assert!(st["message"].as_str().unwrap().contains("read-only"), "{st}");
    let key = format!("Api-Key {}", app.key);
    let r = send(&app, &key, "application/x-protobuf", false, b"\xff\xff\xff".to_vec()).await;
    assert_eq!(r.status(), 400);
    let r = send(&app, &key, "application/json", false, b"{\"resourceSpans\": 7}".to_vec()).await;
    assert_eq!(r.status(), 400);
    assert!(r.json::<Value>().await.unwrap()["message"].as_str().unwrap().contains("OTLP/JSON"));
    let r = send(&app, &key, "text/plain", false, body.clone()).await;
    assert_eq!(r.status(), 415);
    // Over the body limit, as sent and (a small bomb) once inflated.
    let big = vec![0u8; 65 * 1024];
    assert_eq!(send(&app, &key, "application/x-protobuf", false, big.clone()).await.status(), 413);
    let r = send(&app, &key, "application/x-protobuf", true, gzip(&big)).await;
    assert_eq!(r.status(), 413);
}

#[tokio::test]
async fn an_attribute_over_the_span_planes_limit_is_a_partial_success_naming_it() {
    let app = spawn_app().await;
    let long = otlp_span(
        TRACE1,
        "00000000000000b1",
        "",
        "chat",
        0.0,
        1.0,
        json!({"gen_ai.operation.name": "chat", "gen_ai.conversation.id": "long",
            "gen_ai.output.messages": msgs(&[("assistant", &"x".repeat(100_001))])}),
    );
    let r = send_json(&app, &request(json!({}), vec![long])).await;
    assert_eq!(r.status(), 200);
    let out: Value = r.json().await.unwrap();
    assert!(
        out["partialSuccess"]["errorMessage"].as_str().unwrap().contains("agentsight.message.content"),
        "{out}"
    );
}

#[tokio::test]
async fn too_many_spans_is_a_400_naming_resource_spans() {
    let app = spawn_app().await;
    let one = otlp_span(TRACE1, "00000000000000c1", "", "s", 0.0, 1.0, json!({}));
    let spans = vec![one; agentsight_core::otlp::MAX_SPANS_PER_REQUEST + 1];
    let r = send(
        &app,
        &format!("Api-Key {}", app.key),
        "application/x-protobuf",
        false,
        to_proto(&request(json!({}), spans)),
    )
    .await;
    assert_eq!(r.status(), 400);
    let st = opentelemetry_proto::tonic::collector::trace::v1::ExportTracePartialSuccess::decode(
        r.bytes().await.unwrap(),
    );
    // google.rpc.Status { code = 1, message = 2 }: decoded here through a message of the same
    // shape (field 2 is a string in both).
    assert!(st.unwrap().error_message.contains("resourceSpans"));
}

/// The same conversation through OTLP (agent A) and through the 0.1.x span plane as SDK 0.1.4
/// sends it, with its feedback through the data plane (agent B): every overview and LLM metric is
/// the same.
#[tokio::test]
async fn a_conversation_over_otlp_counts_the_same_as_through_the_sdk() {
    let app = spawn_app().await;
    assert_eq!(send_json(&app, &conversation("same")).await.status(), 200);

    let at = |s: &str| format!("2026-08-15T10:{s}+00:00");
    let msg = |sender: &str, content: &str, ts: String| {
        json!({"name": "agentsight.message", "timestamp": ts,
            "attributes": {"agentsight.message.sender": sender, "agentsight.message.content": content}})
    };
    let span =
        |id: &str, kind: &str, turn: Option<&str>, from: String, to: String, ms: f64, a: Value, ev: Value| {
            let mut attributes = json!({"agentsight.conversation.id": "same", "agentsight.span.kind": kind});
            if let Some(t) = turn {
                attributes["agentsight.turn.id"] = json!(t);
            }
            attributes.as_object_mut().unwrap().extend(a.as_object().unwrap().clone());
            json!({"span_id": id, "trace_id": TRACE1, "parent_span_id": turn, "kind": kind, "name": kind,
            "started_at": from, "ended_at": to, "duration_ms": ms, "status": "ok",
            "attributes": attributes, "events": ev})
        };
    let llm = |id: &str, turn: &str, from: String, inp: i64, out: i64| {
        span(
            id,
            "llm",
            Some(turn),
            from.clone(),
            from,
            1.0,
            json!({"gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.usage.input_tokens": inp, "gen_ai.usage.output_tokens": out}),
            json!([]),
        )
    };
    let t1 = "00000000000000d1";
    let t2 = "00000000000000d2";
    let sdk = json!({"sdk": {"name": "agentsight-python", "version": "0.1.4"}, "conversations": [{
    "conversation_id": "same", "customer_id": "u1", "source": "web", "device": "mobile", "language": "en",
    "spans": [
        span(t1, "turn", None, at("00:00"), at("00:05"), 5000.0, json!({"agentsight.turn.complete": true}),
            json!([msg("end_user", "Where is my order?", at("00:00")), msg("agent", "It ships tomorrow.", at("00:05"))])),
        llm("00000000000000e1", t1, at("00:00"), 100, 10),
        span("00000000000000e2", "tool", Some(t1), at("00:02"), at("00:03"), 1000.0,
            json!({"agentsight.tool.name": "lookup_order", "agentsight.tool.arguments": "{\"order\":7}",
                "agentsight.tool.response": "shipped"}), json!([])),
        llm("00000000000000e3", t1, at("00:03"), 150, 20),
        span(t2, "turn", None, at("01:00"), at("01:01"), 1000.0, json!({"agentsight.turn.complete": true}),
            json!([msg("end_user", "Thanks!", at("01:00")), msg("agent", "You're welcome.", at("01:01"))])),
        llm("00000000000000e4", t2, at("01:00"), 200, 5),
    ]}]});
    let r = app.post_as(&app.other_key, "/api/ingest/", &sdk).await;
    assert_eq!(r.status(), 201);
    let r = app
        .post_as(
            &app.other_key,
            "/api/feedbacks/",
            &json!({"kind": "conversation", "conversation_id": "same", "sentiment": "positive"}),
        )
        .await;
    assert!(r.status().is_success(), "{}", r.status());

    for path in [
        "/api/metrics/overview/?from=2026-08-15&to=2026-08-15",
        "/api/metrics/llm/?from=2026-08-15&to=2026-08-15",
    ] {
        let mut a = app.get_json(path).await;
        let r = app.get_as(&app.other_key, path).await;
        assert_eq!(r.status(), 200);
        let mut b: Value = r.json().await.unwrap();
        for v in [&mut a, &mut b] {
            v.as_object_mut().unwrap().remove("agent");
            // The top conversations name each agent's own conversation row (its pk).
            for row in v.get_mut("top_conversations").and_then(Value::as_array_mut).into_iter().flatten() {
                row.as_object_mut().unwrap().remove("conversation");
            }
        }
        assert_eq!(a, b, "{path}");
    }
    let o = app.get_json("/api/metrics/overview/?from=2026-08-15&to=2026-08-15").await;
    assert_eq!(o["total_messages"], 4);
    assert_eq!(o["bot_responses"], 2);
    assert_eq!(o["avg_bot_response_time_ms"].as_f64(), Some(3000.0));
    assert_eq!(o["tools"][0]["name"], "lookup_order");
    assert_eq!(o["feedback"]["positive"], 1);
    assert_eq!((o["unique_users"].as_i64(), o["devices"][0]["device"].as_str()), (Some(1), Some("mobile")));
    let l = app.get_json("/api/metrics/llm/?from=2026-08-15&to=2026-08-15").await;
    let t = &l["totals"];
    assert_eq!(
        (t["calls"].as_i64(), t["input_tokens"].as_i64(), t["output_tokens"].as_i64()),
        (Some(3), Some(450), Some(35)),
        "{l}"
    );
    assert_eq!(l["by_model"][0]["cost_usd"], "0.0000885", "priced from the table: {l}");
}

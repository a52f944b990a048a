//! `POST /api/ingest/` and `GET /api/me/` (the 0.1.x span plane).

use std::io::Write;

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

const TRACE: &str = "0123456789abcdef0123456789abcdef";

fn span(id: &str, kind: &str, turn: Option<&str>, at: &str, attrs: Value, events: Value) -> Value {
    let mut a = json!({"agentsight.conversation.id": "ignored-by-server", "agentsight.span.kind": kind});
    if let Some(t) = turn {
        a["agentsight.turn.id"] = json!(t);
    }
    if let (Some(m), Some(extra)) = (a.as_object_mut(), attrs.as_object()) {
        m.extend(extra.clone());
    }
    json!({"span_id": id, "trace_id": TRACE, "parent_span_id": turn, "kind": kind, "name": kind,
        "started_at": at, "ended_at": at, "duration_ms": 0.5, "status": "unset", "attributes": a,
        "events": events, "otel": {"span_kind": "INTERNAL", "resource": {"service.name": "t"}}})
}

fn turn(id: &str, complete: bool, at_user: &str, at_agent: &str) -> Value {
    let msg = |sender: &str, content: &str, ts: &str| {
        json!({"name": "agentsight.message", "timestamp": ts,
            "attributes": {"agentsight.message.sender": sender, "agentsight.message.content": content}})
    };
    let mut s = span(
        id,
        "turn",
        None,
        "2026-08-15T10:00:00+00:00",
        json!({"agentsight.turn.id": id, "agentsight.turn.complete": complete}),
        json!([msg("end_user", "Where is my order?", at_user), msg("agent", "It ships tomorrow.", at_agent)]),
    );
    s["parent_span_id"] = Value::Null;
    s["ended_at"] = json!("2026-08-15T10:00:03+00:00");
    s
}

fn tool(id: &str, turn_id: &str) -> Value {
    span(
        id,
        "tool",
        Some(turn_id),
        "2026-08-15T10:00:01.500+00:00",
        json!({"agentsight.tool.name": "lookup", "agentsight.tool.arguments": "{\"order\": 7}",
            "agentsight.tool.response": "{'status': 'shipped'}"}),
        json!([]),
    )
}

fn llm(id: &str, turn_id: &str) -> Value {
    span(
        id,
        "llm",
        Some(turn_id),
        "2026-08-15T10:00:01.200+00:00",
        json!({"gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.input_tokens": 80, "gen_ai.usage.output_tokens": 45}),
        json!([]),
    )
}

fn batch(blocks: Value) -> Value {
    json!({"sdk": {"name": "agentsight-python", "version": "0.1.4"}, "conversations": blocks})
}

fn gzip(v: &Value) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    e.write_all(v.to_string().as_bytes()).unwrap();
    e.finish().unwrap()
}

async fn ingest(app: &TestApp, body: &Value) -> reqwest::Response {
    app.post("/api/ingest/", body).await
}

async fn lookup(app: &TestApp, cid: &str) -> Value {
    app.get_json(&format!("/api/conversations/lookup/?conversation_id={cid}")).await
}

async fn detail(app: &TestApp, cid: &str) -> Value {
    let pk = lookup(app, cid).await["id"].as_i64().unwrap();
    app.get_json(&format!("/api/conversations/{pk}/")).await
}

#[tokio::test]
async fn me_names_the_agent_role_environments_and_gzip() {
    let app = spawn_app().await;
    let me = app.get_json("/api/me/").await;
    assert_eq!(me["agent_name"], "agent-a");
    assert_eq!(me["role"], "write");
    assert_eq!(me["capabilities"], json!(["gzip-ingest"]));
    let slugs: Vec<&str> =
        me["environments"].as_array().unwrap().iter().map(|e| e["slug"].as_str().unwrap()).collect();
    assert_eq!(slugs, ["production", "development"]);
    let r = app.get_as(&app.read_key, "/api/me/").await;
    assert_eq!(r.json::<Value>().await.unwrap()["role"], "read");
}

#[tokio::test]
async fn a_gzipped_batch_projects_the_turn_and_a_resend_stores_nothing_twice() {
    let app = spawn_app().await;
    let body = batch(json!([{"conversation_id": "k1", "spans": [
        turn("00000000000000a1", true, "2026-08-15T10:00:01+00:00", "2026-08-15T10:00:02+00:00"),
        llm("00000000000000a2", "00000000000000a1"),
        tool("00000000000000a3", "00000000000000a1")],
        "customer_id": "u1", "device": "mobile", "environment": "prod", "metadata": {"plan": "pro"}}]));
    let gz = gzip(&body);
    for round in 0..2 {
        let r = app
            .client
            .post(format!("{}/api/ingest/", app.base))
            .header("Authorization", format!("Api-Key {}", app.key))
            .header("Content-Type", "application/json")
            .header("Content-Encoding", "gzip")
            .body(gz.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let out: Value = r.json().await.unwrap();
        let (accepted, duplicates) = if round == 0 { (3, 0) } else { (0, 3) };
        assert_eq!(
            out,
            json!({"accepted": accepted, "duplicates": duplicates, "batch_id": round + 1, "conversations": 1})
        );
    }
    let d = detail(&app, "k1").await;
    assert_eq!(d["is_used"], true);
    assert_eq!(d["environment"], "production");
    assert_eq!(d["metadata"], json!({"plan": "pro"}));
    assert_eq!(d["message_count"], 2);
    let entries: Vec<(String, String)> = d["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["sender"].as_str().unwrap().to_string(), m["content"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        entries,
        [
            ("end_user".to_string(), "Where is my order?".to_string()),
            ("agent".to_string(), "Action lookup performed".to_string()),
            ("agent".to_string(), "It ships tomorrow.".to_string())
        ]
    );
    let log = &d["messages"][1]["action_logs"][0];
    assert_eq!(log["tools_used"], json!({"order": 7}));
    assert_eq!(log["response"], "{'status': 'shipped'}");
    // Every span reads back as sent; the resend left no second copy of the block's texts.
    let listed = app.get_json("/api/spans/?conversation_id=k1&payload=true").await;
    let payloads: Vec<&Value> = listed["results"].as_array().unwrap().iter().map(|s| &s["payload"]).collect();
    let sent: Vec<&Value> = body["conversations"][0]["spans"].as_array().unwrap().iter().collect();
    assert_eq!(payloads, sent);
    let bare = app.get_json("/api/spans/?conversation_id=k1").await;
    assert!(bare["results"].as_array().unwrap().iter().all(|s| s.get("payload").is_none_or(Value::is_null)));
    let one = app.get_json(&format!("/api/spans/{}/", listed["results"][1]["id"])).await;
    assert_eq!(&one["payload"], sent[1]);
    let id = &listed["results"][1]["id"];
    let without = app.get_json(&format!("/api/spans/{id}/?payload=false")).await;
    assert!(without.get("payload").is_none_or(Value::is_null), "{without}");
    assert_eq!(listed["count"], 3);
    // The resend's body is deleted from the archive once projected (shortly after the reads
    // above, which waited for the projection): one body is left, the one the spans point into.
    let archive = rusqlite::Connection::open(app.store.path().with_extension("archive.db")).unwrap();
    let mut ids: Vec<i64> = Vec::new();
    for _ in 0..100 {
        ids = archive
            .prepare("SELECT id FROM batches")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        if ids.len() == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(ids, [1]);
}

#[tokio::test]
async fn children_before_their_turn_are_held_until_it_arrives() {
    let app = spawn_app().await;
    let r = ingest(
        &app,
        &batch(json!([{"conversation_id": "k2", "spans": [tool("00000000000000b3", "00000000000000b1")]}])),
    )
    .await;
    assert_eq!(r.status(), 201);
    assert_eq!(detail(&app, "k2").await["messages"], json!([]));
    let r = ingest(
        &app,
        &batch(json!([{"conversation_id": "k2", "spans": [
            turn("00000000000000b1", true, "2026-08-15T10:00:01+00:00", "2026-08-15T10:00:02+00:00")]}])),
    )
    .await;
    assert_eq!(r.status(), 201);
    let d = detail(&app, "k2").await;
    assert_eq!(d["messages"].as_array().unwrap().len(), 3, "{d}");
    assert_eq!(d["messages"][1]["action_name"], "lookup");

    // Again, now that the writer knows which conversations hold spans: a child held for turn
    // b4, a turn of its conversation that releases nothing, another conversation's turn, then b4.
    let tool2 = tool("00000000000000b5", "00000000000000b4");
    let later = |id: &str, at: &str, at2: &str| turn(id, true, at, at2);
    for (cid, spans) in [
        ("k2", json!([tool2])),
        ("k2", json!([later("00000000000000b6", "2026-08-15T10:01:01+00:00", "2026-08-15T10:01:02+00:00")])),
        (
            "k2-other",
            json!([later("00000000000000b7", "2026-08-15T10:01:01+00:00", "2026-08-15T10:01:02+00:00")]),
        ),
    ] {
        let r = ingest(&app, &batch(json!([{"conversation_id": cid, "spans": spans}]))).await;
        assert_eq!(r.status(), 201);
    }
    assert_eq!(detail(&app, "k2").await["messages"].as_array().unwrap().len(), 5, "the tool is still held");
    let r = ingest(
        &app,
        &batch(json!([{"conversation_id": "k2", "spans": [
            later("00000000000000b4", "2026-08-15T10:02:01+00:00", "2026-08-15T10:02:02+00:00")]}])),
    )
    .await;
    assert_eq!(r.status(), 201);
    let d = detail(&app, "k2").await;
    let names: Vec<&str> =
        d["messages"].as_array().unwrap().iter().filter_map(|m| m["action_name"].as_str()).collect();
    assert_eq!((d["messages"].as_array().unwrap().len(), names), (8, vec!["lookup", "lookup"]), "{d}");
}

#[tokio::test]
async fn incomplete_turns_are_archived_not_projected() {
    let app = spawn_app().await;
    let r = ingest(
        &app,
        &batch(json!([{"conversation_id": "k3", "spans": [
            turn("00000000000000c1", false, "2026-08-15T10:00:01+00:00", "2026-08-15T10:00:02+00:00"),
            tool("00000000000000c3", "00000000000000c1")]}])),
    )
    .await;
    assert_eq!(r.status(), 201);
    let d = detail(&app, "k3").await;
    assert_eq!(d["messages"], json!([]));
    assert_eq!(d["is_used"], true);
}

#[tokio::test]
async fn one_bad_block_refuses_the_batch_naming_block_and_field() {
    let app = spawn_app().await;
    let good = json!({"conversation_id": "k-good", "spans": [
        turn("00000000000000d1", true, "2026-08-15T10:00:01+00:00", "2026-08-15T10:00:02+00:00")]});
    let bad = json!({"conversation_id": "wa-bad", "environment": "staging", "spans": []});
    let r = ingest(&app, &batch(json!([good, bad]))).await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["conversations"],
        json!([{"index": 1, "conversation_id": "wa-bad",
        "errors": {"environment": ["Unknown environment: 'staging'."]}}])
    );
    assert!(body["detail"].as_str().unwrap().contains("nothing in this batch was stored"));
    let r = app.get_as(&app.key, "/api/conversations/lookup/?conversation_id=k-good").await;
    assert_eq!(r.status(), 404, "the good block of a refused batch is not written");
    let r = app.post_raw("/api/ingest/", b"{\"conversations\": 5}".to_vec()).await;
    assert_eq!(r.status(), 400);
    assert!(r.json::<Value>().await.unwrap().get("conversations").is_some());
}

/// A gzip body built without holding its JSON in memory: `{"conversations":[{},{},…]}`.
fn gzip_of_empty_blocks(n: usize) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(b"{\"conversations\":[{}").unwrap();
    for _ in 1..n {
        e.write_all(b",{}").unwrap();
    }
    e.write_all(b"]}").unwrap();
    e.finish().unwrap()
}

async fn ingest_gzip(app: &TestApp, body: Vec<u8>) -> reqwest::Response {
    app.client
        .post(format!("{}/api/ingest/", app.base))
        .header("Authorization", format!("Api-Key {}", app.key))
        .header("Content-Type", "application/json")
        .header("Content-Encoding", "gzip")
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_small_gzip_body_of_millions_of_empty_blocks_is_refused_cheaply() {
    // The security finding: 16 KB of gzip holding 5.6 million empty blocks once took the server
    // ~26 s and ~5 GB. Reading now stops at the block limit, and the answer names the field.
    let app = spawn_app().await;
    let bomb = gzip_of_empty_blocks(2_000_000);
    assert!(bomb.len() < 20_000, "{} bytes", bomb.len());
    let r = ingest_gzip(&app, bomb).await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    let msg = body["conversations"][0].as_str().unwrap_or_default();
    assert!(msg.contains("no more than 10000"), "{body}");
    // Under the block limit, every block bad: the first 20 are listed, the rest flagged.
    let r = ingest_gzip(&app, gzip_of_empty_blocks(9_000)).await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["conversations"].as_array().map(Vec::len), Some(20), "{body}");
    assert_eq!(body["truncated"], true);
    assert!(body["detail"].as_str().unwrap().starts_with("More than 20"), "{body}");
    // The server is still itself afterwards.
    let ok = json!({"conversation_id": "after-bomb", "spans": [
        turn("00000000000000e1", true, "2026-08-15T10:00:01+00:00", "2026-08-15T10:00:02+00:00")]});
    assert_eq!(ingest(&app, &batch(json!([ok]))).await.status(), 201);
}

#[tokio::test]
async fn an_agent_over_its_rate_gets_429_with_retry_after() {
    let app = spawn_app_with(|s| {
        s.ingest_rate = 1;
        s.ingest_burst = 1;
    })
    .await;
    let body = batch(json!([{"conversation_id": "k4", "spans": []}]));
    assert_eq!(ingest(&app, &body).await.status(), 201);
    let r = ingest(&app, &body).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "1");
    let r = app.post_as(&app.other_key, "/api/ingest/", &body).await;
    assert_eq!(r.status(), 201, "the limit is per agent");
}

#[tokio::test]
async fn read_keys_cannot_ingest() {
    let app = spawn_app().await;
    let r = app
        .post_as(&app.read_key, "/api/ingest/", &batch(json!([{"conversation_id": "k5", "spans": []}])))
        .await;
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn llm_metrics_sum_tokens_and_cost_by_model_and_local_day() {
    let app = spawn_app().await;
    let body = batch(json!([{"conversation_id": "k6", "device": "mobile", "spans": [
        turn("00000000000000e1", true, "2026-08-15T10:00:01+00:00", "2026-08-15T10:00:02+00:00"),
        llm("00000000000000e2", "00000000000000e1"),
        llm("00000000000000e3", "00000000000000e1")]}]));
    assert_eq!(ingest(&app, &body).await.status(), 201);
    let m = app.get_json("/api/metrics/llm/?from=2026-08-14&to=2026-08-16&tz=Europe/Zagreb").await;
    assert_eq!(m["totals"]["calls"], 2);
    assert_eq!(m["totals"]["input_tokens"], 160);
    assert_eq!(m["totals"]["total_tokens"], 250);
    assert_eq!(m["totals"]["cost_usd"], "0.000078");
    assert_eq!(m["by_model"][0]["model"], "gpt-4o-mini");
    let daily: Vec<(String, i64)> = m["daily"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["date"].as_str().unwrap().to_string(), d["calls"].as_i64().unwrap()))
        .collect();
    assert_eq!(daily, [("2026-08-14".into(), 0), ("2026-08-15".into(), 2), ("2026-08-16".into(), 0)]);
    let f = app.get_json("/api/metrics/llm/?from=2026-08-14&to=2026-08-16&device=desktop").await;
    assert_eq!(f["totals"]["calls"], 0, "filters restrict rows to matching conversations");
    let r = app.get_as(&app.key, "/api/metrics/llm/?tz=Mars/Olympus").await;
    assert_eq!(r.status(), 400);
}

/// An LLM call of `model` with the given tokens.
fn llm_of(id: &str, turn_id: &str, model: &str, input: i64, output: i64) -> Value {
    span(
        id,
        "llm",
        Some(turn_id),
        "2026-08-15T10:00:01.200+00:00",
        json!({"gen_ai.system": "openai", "gen_ai.request.model": model,
            "gen_ai.usage.input_tokens": input, "gen_ai.usage.output_tokens": output}),
        json!([]),
    )
}

#[tokio::test]
async fn llm_metrics_give_cost_per_conversation_and_the_top_ones_to_keys_sessions_and_shares() {
    let app = spawn_app().await;
    let t = |id: &str| turn(id, true, "2026-08-15T10:00:01+00:00", "2026-08-15T10:00:02+00:00");
    let body = batch(json!([
        {"conversation_id": "k7", "spans": [t("0000000000000071"),
            llm_of("0000000000000072", "0000000000000071", "gpt-4o-mini", 80, 45),
            llm_of("0000000000000073", "0000000000000071", "gpt-4o-mini", 80, 45)]},
        {"conversation_id": "k8", "spans": [t("0000000000000081"),
            llm_of("0000000000000082", "0000000000000081", "gpt-4o-mini", 80, 45)]},
        // Unpriced only: its cost is unknown, so it is in neither the mean nor the top.
        {"conversation_id": "k9", "spans": [t("0000000000000091"),
            llm_of("0000000000000092", "0000000000000091", "mystery-1", 5, 5)]}]));
    assert_eq!(ingest(&app, &body).await.status(), 201);
    let range = "from=2026-08-15&to=2026-08-15";
    let m = app.get_json(&format!("/api/metrics/llm/?{range}")).await;
    assert_eq!(
        m["per_conversation"],
        json!({"conversations": 2, "average_cost_usd": "0.0000585", "p95_cost_usd": "0.000078"})
    );
    let k7 = lookup(&app, "k7").await["id"].as_i64().unwrap();
    assert_eq!(
        m["top_conversations"][0],
        json!({"conversation": k7, "conversation_id": "k7", "cost_usd": "0.000078", "calls": 2, "total_tokens": 250})
    );
    let top: Vec<&str> = m["top_conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["conversation_id"].as_str().unwrap())
        .collect();
    assert_eq!(top, ["k7", "k8"]);
    let none = app.get_json("/api/metrics/llm/?from=2026-08-16&to=2026-08-16").await;
    assert_eq!(
        none["per_conversation"],
        json!({"conversations": 0, "average_cost_usd": null, "p95_cost_usd": null})
    );
    assert_eq!(none["top_conversations"], json!([]));

    // The dashboard reads it with a session, and a share link without the conversations.
    let admin = app.admin().await;
    let a = app.agent_a;
    let by_session = app.dash_json(&admin, &format!("/api/metrics/llm/?agent={a}&{range}")).await;
    assert_eq!(by_session, m);
    let r = app
        .dash_send(&admin, reqwest::Method::POST, &format!("/api/dash/agents/{a}/shares/"), json!({}))
        .await;
    assert_eq!(r.status(), 201);
    let token = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string();
    let r = app.share_get(&token, &format!("/api/metrics/llm/?{range}")).await;
    assert_eq!(r.status(), 200);
    let shared: Value = r.json().await.unwrap();
    assert_eq!((&shared["per_conversation"], &shared["totals"]), (&m["per_conversation"], &m["totals"]));
    assert_eq!(shared["top_conversations"], json!([]), "a share link reads no conversations");
}

#[tokio::test]
async fn a_trace_is_found_by_its_own_id_even_when_another_shares_its_index_key() {
    let app = spawn_app().await;
    // The trace index is keyed by a trace id's first 15 hex digits: `a` and `b` share a key, and
    // so do the short ids `abc` and `ABC0` (read as `abc0`).
    let a = "0123456789abcde01111111111111111";
    let b = "0123456789abcde02222222222222222";
    let in_trace = |mut s: Value, trace: &str| {
        s["trace_id"] = json!(trace);
        s
    };
    let at = ("2026-08-15T10:00:00.100+00:00", "2026-08-15T10:00:02+00:00");
    let r = ingest(
        &app,
        &batch(json!([
            {"conversation_id": "tk1", "spans": [
                in_trace(turn("00000000000000a1", true, at.0, at.1), a),
                in_trace(tool("00000000000000a2", "00000000000000a1"), a),
                in_trace(turn("00000000000000b1", true, at.0, at.1), b)]},
            {"conversation_id": "tk2", "spans": [
                in_trace(turn("00000000000000c1", true, at.0, at.1), "abc"),
                in_trace(turn("00000000000000d1", true, at.0, at.1), "ABC0")]}
        ])),
    )
    .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let spans_of = |t: &Value| -> Vec<String> {
        fn walk(n: &Value, out: &mut Vec<String>) {
            out.push(n["span_id"].as_str().unwrap().to_string());
            n["children"].as_array().unwrap().iter().for_each(|c| walk(c, out));
        }
        let mut out = Vec::new();
        t["roots"].as_array().unwrap().iter().for_each(|n| walk(n, &mut out));
        out.sort();
        out
    };
    let ta = app.get_json(&format!("/api/traces/{a}/")).await;
    assert_eq!(
        (ta["span_count"].as_u64(), spans_of(&ta)),
        (Some(2), vec!["00000000000000a1".into(), "00000000000000a2".into()])
    );
    assert_eq!(spans_of(&app.get_json(&format!("/api/traces/{b}/")).await), ["00000000000000b1"]);
    assert_eq!(spans_of(&app.get_json("/api/traces/abc/").await), ["00000000000000c1"]);
    assert_eq!(spans_of(&app.get_json("/api/traces/ABC0/").await), ["00000000000000d1"]);
    let missing = app.get_as(&app.key, "/api/traces/0123456789abcde03333333333333333/").await;
    assert_eq!(missing.status(), 404);
    for (filter, expected) in
        [(a, vec!["00000000000000a1", "00000000000000a2"]), ("abc0", vec!["00000000000000d1"])]
    {
        let listed = app.get_json(&format!("/api/spans/?trace_id={filter}")).await;
        let mut ids: Vec<&str> =
            listed["results"].as_array().unwrap().iter().map(|s| s["span_id"].as_str().unwrap()).collect();
        ids.sort();
        assert_eq!(ids, expected, "trace_id={filter}");
        assert_eq!(listed["count"].as_u64(), Some(expected.len() as u64));
    }
}

/// A batch archived before a stop and not projected then (the process died between the two) is
/// projected at the next start, before the server takes requests; one that no longer reads is
/// recorded as failed and the server starts all the same.
#[tokio::test]
async fn batches_archived_but_not_projected_are_projected_at_the_next_start() {
    use agentsight_core::keys::{self, Role};
    use agentsight_core::time::now_micros;
    use agentsight_server::Settings;
    use agentsight_store::prelude::*;

    use crate::helpers::build_app;

    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::new(dir.path());
    settings.listen = "127.0.0.1:0".parse().unwrap();
    // A first start makes the schema, an agent and its key, then stops.
    let app = build_app(settings.clone()).await;
    let agent = app.config().create_agent("agent-a".into(), now_micros()).await.unwrap().id;
    let k = keys::generate();
    app.config().create_key(agent, Role::Write, k.prefix.clone(), k.hash, now_micros()).await.unwrap();
    drop(app);
    // The main database as it is now, before any batch is projected into it.
    let db = settings.database_path();
    let files = |suffix: &str| std::path::PathBuf::from(format!("{}{suffix}", db.display()));
    let saved = dir.path().join("saved");
    std::fs::create_dir(&saved).unwrap();
    for suffix in ["", "-wal", "-shm"] {
        if files(suffix).exists() {
            std::fs::copy(files(suffix), saved.join(format!("db{suffix}"))).unwrap();
        }
    }
    // A batch archived (gzip, as the SDK sends it) and projected by a second start...
    let good = batch(json!([{"conversation_id": "r1", "spans": [
        turn("00000000000000e1", true, "2026-08-15T10:00:01+00:00", "2026-08-15T10:00:02+00:00"),
        llm("00000000000000e2", "00000000000000e1")], "customer_id": "u-r"}]));
    let app = build_app(settings.clone()).await;
    let base = format!("http://{}", app.local_addr());
    let store = app.events().clone();
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    let r = reqwest::Client::new()
        .post(format!("{base}/api/ingest/"))
        .header("Authorization", format!("Api-Key {}", k.secret))
        .header("Content-Encoding", "gzip")
        .header("Content-Type", "application/json")
        .body(gzip(&good))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    drop(store);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // ... whose projection is then lost, as a stop between the archive's commit and the
    // projection's would lose it: the main database goes back to before it.
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(files(suffix));
        let copy = saved.join(format!("db{suffix}"));
        if copy.exists() {
            std::fs::copy(copy, files(suffix)).unwrap();
        }
    }
    // And a body that does not read.
    let archive = rusqlite::Connection::open(db.with_extension("archive.db")).unwrap();
    archive
        .execute(
            "INSERT INTO batches (agent_id, received_at, encoding, body) VALUES (?1, ?2, 0, ?3)",
            rusqlite::params![agent, now_micros(), b"{\"conversations\": [".to_vec()],
        )
        .unwrap();
    drop(archive);

    let app = build_app(settings.clone()).await;
    let base = format!("http://{}", app.local_addr());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    let get = |path: &str| {
        let (url, key) = (format!("{base}{path}"), k.secret.clone());
        async move {
            let r = reqwest::Client::new()
                .get(url)
                .header("Authorization", format!("Api-Key {key}"))
                .send()
                .await;
            r.unwrap().json::<Value>().await.unwrap()
        }
    };
    let spans = get("/api/spans/?conversation_id=r1").await;
    assert_eq!(spans["count"], 2, "{spans}");
    let look = get("/api/conversations/lookup/?conversation_id=r1").await;
    assert_eq!((look["customer_id"].as_str(), look["message_count"].as_i64()), (Some("u-r"), Some(2)));
    let usage = get("/api/token-usage/?conversation_id=r1").await;
    assert_eq!(usage["results"][0]["calls"], 1);
    let db = rusqlite::Connection::open(settings.database_path()).unwrap();
    let (projected, failed): (i64, String) = db
        .query_row(
            "SELECT projected, (SELECT group_concat(batch_id) FROM span_log_failures) FROM span_log",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((projected, failed.as_str()), (2, "2"));
    // New batches get ids after them.
    let r = reqwest::Client::new()
        .post(format!("{base}/api/ingest/"))
        .header("Authorization", format!("Api-Key {}", k.secret))
        .json(&batch(
            json!([{"conversation_id": "r2", "spans": [llm("00000000000000e3", "00000000000000e9")]}]),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["batch_id"], 3);
}

/// A span block that repeats a conversation's fields changes only `updated_at`; one that repeats
/// them after another write changed the row (a 0.0.x upsert) writes them again: the last write
/// wins whatever path it came by.
#[tokio::test]
async fn a_repeated_block_rewrites_the_fields_another_write_changed_since() {
    let app = spawn_app().await;
    let block = |id: &str| {
        batch(json!([{"conversation_id": "w1", "device": "mobile", "customer_id": "u-1", "spans": [
            llm(id, "00000000000000f0")]}]))
    };
    assert_eq!(ingest(&app, &block("00000000000000f1")).await.status(), 201);
    let first = lookup(&app, "w1").await;
    assert_eq!(first["device"], "mobile");
    assert_eq!(ingest(&app, &block("00000000000000f2")).await.status(), 201);
    let again = lookup(&app, "w1").await;
    assert_eq!((&again["device"], &again["customer_id"]), (&json!("mobile"), &json!("u-1")));
    assert!(again["updated_at"].as_str() > first["updated_at"].as_str(), "{again}");
    let r = app.post("/api/conversations/", &json!({"conversation_id": "w1", "device": "desktop"})).await;
    assert!(r.status().is_success());
    assert_eq!(lookup(&app, "w1").await["device"], "desktop");
    assert_eq!(ingest(&app, &block("00000000000000f3")).await.status(), 201);
    assert_eq!(lookup(&app, "w1").await["device"], "mobile", "the span block is the last write");
    let spans = app.get_json("/api/spans/?conversation_id=w1").await;
    assert_eq!(spans["count"], 3);
}

/// A tool span with the status `error` is a failed tool call even without an
/// `agentsight.tool.error` text (docs/metrics.md, *Where the bot fails*): it counts in the
/// overview's tool errors, the failure metrics and the list's `tool_error` filters.
#[tokio::test]
async fn a_tool_span_with_status_error_is_a_tool_error() {
    let app = spawn_app().await;
    let mut failed = tool("00000000000000a2", "00000000000000a1");
    failed["status"] = json!("error");
    let mut worked = tool("00000000000000b2", "00000000000000b1");
    worked["status"] = json!("ok");
    let t = |id: &str| turn(id, true, "2026-08-15T10:00:01+00:00", "2026-08-15T10:00:02+00:00");
    let body = batch(json!([
        {"conversation_id": "f1", "spans": [t("00000000000000a1"), failed]},
        {"conversation_id": "f2", "spans": [t("00000000000000b1"), worked]}]));
    assert_eq!(ingest(&app, &body).await.status(), 201);
    let range = "from=2026-08-15&to=2026-08-15";
    let o = app.get_json(&format!("/api/metrics/overview/?{range}")).await;
    assert_eq!(
        (&o["tools"][0]["name"], &o["tools"][0]["calls"], &o["tools"][0]["errors"]),
        (&json!("lookup"), &json!(2), &json!(1))
    );
    let f = app.get_json(&format!("/api/metrics/failures/?{range}")).await;
    assert_eq!(f["tool_errors"]["conversations"], 1);
    assert_eq!(f["tool_errors"]["tools"][0]["error_rate"], 0.5);
    let l = app.get_json(&format!("/api/conversations/?{range}&tool_error_name=lookup")).await;
    assert_eq!(l["count"], 1);
    assert_eq!(l["results"][0]["conversation_id"], "f1");
}

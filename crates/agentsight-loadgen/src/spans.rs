//! Span batches for the `ingest` scenario, shaped as the 0.1.4 exporter sends them.
//!
//! A batch holds `spans` spans (the exporter's `BatchSpanProcessor` exports at most 512 at a
//! time): turns of three spans each — the turn (with a user and an agent message event), an
//! `llm` call and a `tool` call — grouped into one block per conversation, every span with the
//! attributes, events and `otel` section the real exporter writes. Every span id is unique
//! within the run, so the server archives and projects each span (no deduplication shortcut).
//! Bodies are gzipped (level 6, as the SDK does above 8 KiB).

use std::io::Write as _;

use anyhow::{Context, Result};
use serde_json::{Value, json};

/// Spans per turn: the turn, an llm call, a tool call.
pub const SPANS_PER_TURN: u64 = 3;

fn iso(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Micros, false))
        .unwrap_or_default()
}

fn otel() -> Value {
    json!({"span_kind": "INTERNAL", "trace_flags": 1, "trace_state": null, "is_remote": false,
        "status_description": null, "links": [],
        "resource": {"telemetry.sdk.language": "python", "telemetry.sdk.name": "agentsight-python",
            "telemetry.sdk.version": "0.1.4", "service.name": "agentsight-python",
            "service.instance.id": "6a0f8a0e-5a55-4a3e-9d7a-0d3c8f1f2b11"},
        "dropped": {"attributes": 0, "events": 0, "links": 0},
        "scope": {"name": "agentsight", "version": "0.1.4", "schema_url": ""}})
}

fn conv_attrs(cid: &str, kind: &str, name: &str, turn: &str) -> serde_json::Map<String, Value> {
    let v = json!({"agentsight.conversation.id": cid, "agentsight.conversation.customer_id": "lg-user",
        "agentsight.conversation.device": "mobile", "agentsight.conversation.source": "web",
        "agentsight.conversation.language": "en", "agentsight.conversation.environment": "production",
        "agentsight.conversation.metadata": "{\"plan\": \"pro\"}",
        "agentsight.span.kind": kind, "agentsight.entity.name": name, "agentsight.turn.id": turn});
    v.as_object().cloned().unwrap_or_default()
}

/// When turn `n` of a run starts: a conversation's turns follow each other 2 s apart (each lasts
/// 1.85 s) from 30 days before `now_us`, so every conversation reads as a real one does, its
/// messages in time order, and the server takes its ordinary in-order path. (Turns stamped at the
/// same instants in every batch would make each new turn older than the last and send every
/// message down the out-of-order path, which is not what the exporter sends.)
fn turn_start(now_us: i64, n: u64, conversations: u64) -> i64 {
    let c = conversations.max(1);
    let (k, slot) = ((n / c) as i64, (n % c) as i64);
    now_us - 30 * 86_400_000_000 + k * 2_000_000 + slot
}

/// The gzipped body of batch `b` of a run, and the number of spans in it.
pub fn batch(run_id: &str, b: u64, spans: u64, conversations: u64, now_us: i64) -> Result<(Vec<u8>, u64)> {
    let turns = (spans / SPANS_PER_TURN).max(1);
    let mut blocks: Vec<(String, Vec<Value>)> = Vec::new();
    for t in 0..turns {
        let n = b * turns + t; // turn number in the run
        let cid = format!("lg-{run_id}-{}", n % conversations.max(1));
        let base = (n as u128) << 8;
        let id = |k: u128| format!("{:016x}", (base | k) as u64 | (1 << 63));
        let trace = format!("{:032x}", base | 0xabc);
        let (turn_id, llm_id, tool_id) = (id(1), id(2), id(3));
        let t0 = turn_start(now_us, n, conversations);
        let mut turn_attrs = conv_attrs(&cid, "turn", "turn", &turn_id);
        turn_attrs.insert("agentsight.turn.complete".into(), json!(true));
        let mut llm_attrs = conv_attrs(&cid, "llm", "gpt-4o-mini-2024-07-18", &turn_id);
        for (k, v) in [
            ("gen_ai.system", json!("openai")),
            ("gen_ai.request.model", json!("gpt-4o-mini-2024-07-18")),
            ("gen_ai.operation.name", json!("chat")),
            ("gen_ai.usage.input_tokens", json!(412)),
            ("gen_ai.usage.output_tokens", json!(58)),
            ("agentsight.llm.cache_read_tokens", json!(128)),
        ] {
            llm_attrs.insert(k.into(), v);
        }
        let mut tool_attrs = conv_attrs(&cid, "tool", "lookup_order", &turn_id);
        tool_attrs.insert("agentsight.tool.name".into(), json!("lookup_order"));
        tool_attrs.insert("agentsight.tool.arguments".into(), json!(format!("{{\"order_id\": {n}}}")));
        tool_attrs
            .insert("agentsight.tool.response".into(), json!("{'status': 'shipped', 'eta': 'tomorrow'}"));
        let turn = json!({"span_id": turn_id, "trace_id": trace, "parent_span_id": null, "kind": "turn",
            "name": "turn", "started_at": iso(t0), "ended_at": iso(t0 + 1_850_000), "duration_ms": 1850.0,
            "status": "ok",
            "attributes": turn_attrs,
            "events": [
                {"name": "agentsight.message", "timestamp": iso(t0 + 1_000),
                 "attributes": {"agentsight.message.sender": "end_user",
                     "agentsight.message.content": format!("Where is my order {n}? It was due yesterday.")}},
                {"name": "agentsight.message", "timestamp": iso(t0 + 1_800_000),
                 "attributes": {"agentsight.message.sender": "agent",
                     "agentsight.message.content": "Your order shipped this morning and arrives tomorrow."}}],
            "otel": otel()});
        let llm = json!({"span_id": llm_id, "trace_id": trace, "parent_span_id": turn_id, "kind": "llm",
            "name": "gpt-4o-mini-2024-07-18", "started_at": iso(t0 + 2_000), "ended_at": iso(t0 + 900_000),
            "duration_ms": 898.0, "status": "unset",
            "attributes": llm_attrs,
            "events": [], "otel": otel()});
        let tool = json!({"span_id": tool_id, "trace_id": trace, "parent_span_id": turn_id, "kind": "tool",
            "name": "lookup_order", "started_at": iso(t0 + 950_000), "ended_at": iso(t0 + 1_100_000),
            "duration_ms": 150.0, "status": "ok",
            "attributes": tool_attrs,
            "events": [], "otel": otel()});
        match blocks.iter_mut().find(|(c, _)| *c == cid) {
            Some((_, s)) => s.extend([turn, llm, tool]),
            None => blocks.push((cid, vec![turn, llm, tool])),
        }
    }
    let conversations: Vec<Value> = blocks
        .into_iter()
        .map(|(cid, spans)| {
            json!({"conversation_id": cid, "spans": spans, "customer_id": "lg-user", "device": "mobile",
                "source": "web", "language": "en", "environment": "production", "metadata": {"plan": "pro"}})
        })
        .collect();
    let body =
        json!({"sdk": {"name": "agentsight-python", "version": "0.1.4"}, "conversations": conversations});
    let raw = serde_json::to_vec(&body).context("serializing batch")?;
    let mut gz =
        flate2::write::GzEncoder::new(Vec::with_capacity(raw.len() / 8), flate2::Compression::new(6));
    gz.write_all(&raw).context("gzip")?;
    Ok((gz.finish().context("gzip")?, turns * SPANS_PER_TURN))
}

/// The `accepted` count of an ingest answer.
pub fn accepted(body: &[u8]) -> u64 {
    serde_json::from_slice::<Value>(body).ok().and_then(|v| v["accepted"].as_u64()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    #[test]
    fn a_batch_is_gzipped_exporter_json_with_unique_span_ids() {
        let (gz, n) = batch("r", 3, 512, 16, 1_700_000_000_000_000).expect("batch");
        assert_eq!(n, 510);
        let mut raw = String::new();
        flate2::read::GzDecoder::new(&gz[..]).read_to_string(&mut raw).expect("gunzip");
        let v: Value = serde_json::from_str(&raw).expect("json");
        let blocks = v["conversations"].as_array().expect("blocks");
        assert_eq!(blocks.len(), 16);
        let ids: std::collections::HashSet<&str> = blocks
            .iter()
            .flat_map(|b| b["spans"].as_array().into_iter().flatten())
            .filter_map(|s| s["span_id"].as_str())
            .collect();
        assert_eq!(ids.len(), 510);
        let (gz2, _) = batch("r", 4, 512, 16, 1_700_000_000_000_000).expect("batch");
        assert_ne!(gz, gz2);
    }

    #[test]
    fn a_conversations_turns_start_after_the_previous_one_ended() {
        let now = 1_700_000_000_000_000;
        for c in [1, 7, 1000] {
            for n in 0..5000 {
                let (a, b) = (turn_start(now, n, c), turn_start(now, n + c, c));
                assert!(b >= a + 1_850_000, "conversations {c}, turn {n}: {a} then {b}");
                assert!(b < now, "turns stay in the past");
            }
        }
    }
}

//! Span batches for the `ingest` scenario, shaped as the 0.1.4 exporter sends them.
//!
//! A batch holds `spans` spans (the exporter's `BatchSpanProcessor` exports at most 512 at a
//! time): turns of three spans each — the turn (with a user and an agent message event), an
//! `llm` call and a `tool` call — grouped into one block per conversation, every span with the
//! attributes, events and `otel` section the real exporter writes. Every span id is unique
//! within the run, so the server archives and projects each span (no deduplication shortcut).
//! Trace and span ids look random by default, as OpenTelemetry's are (a bijection of the turn
//! number, so still unique), which spreads the trace index's inserts over the whole index as
//! real traffic does; [`Ids::Sequential`] gives the ordered ids of the benchmarks before
//! 2026-12-04, which append to the index's last page.
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

/// How trace and span ids are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ids {
    /// Random-looking, as the exporter's: splitmix64 of the id's number under this seed.
    Random(u64),
    /// In turn order (`turn << 8 | k`), so new entries land at the trace index's end: the
    /// builder's ids until 2026-12-04, kept as they were for comparison, including that its
    /// `| 0xabc` overlaps the turn's low four bits, so four turns share a trace id and the order
    /// holds from one sixteen turns to the next, not within them.
    Sequential,
}

/// splitmix64's finalizer: a bijection of `u64`, so distinct inputs give distinct ids.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The seed of a run's random ids, from its run id (FNV-1a).
pub fn seed(run_id: &str) -> u64 {
    run_id.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

impl Ids {
    /// Span id `k` (1, 2, 3) of turn `n`, as 16 hex digits.
    fn span(self, n: u64, k: u64) -> String {
        let sequential = (n << 8) | k | (1 << 63);
        match self {
            Ids::Random(seed) => format!("{:016x}", mix(seed ^ sequential)),
            Ids::Sequential => format!("{sequential:016x}"),
        }
    }

    /// The trace id of turn `n`, as 32 hex digits.
    fn trace(self, n: u64) -> String {
        match self {
            // The high half alone is a bijection of `n`, so trace ids are unique.
            Ids::Random(seed) => format!("{:016x}{:016x}", mix(seed ^ n), mix(!seed ^ n)),
            Ids::Sequential => format!("{:032x}", (u128::from(n) << 8) | 0xabc),
        }
    }
}

/// The gzipped body of batch `b` of a run, and the number of spans in it.
pub fn batch(
    run_id: &str,
    b: u64,
    spans: u64,
    conversations: u64,
    now_us: i64,
    ids: Ids,
) -> Result<(Vec<u8>, u64)> {
    let turns = (spans / SPANS_PER_TURN).max(1);
    let mut blocks: Vec<(String, Vec<Value>)> = Vec::new();
    for t in 0..turns {
        let n = b * turns + t; // turn number in the run
        let cid = format!("lg-{run_id}-{}", n % conversations.max(1));
        let trace = ids.trace(n);
        let (turn_id, llm_id, tool_id) = (ids.span(n, 1), ids.span(n, 2), ids.span(n, 3));
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
        for ids in [Ids::Random(seed("r")), Ids::Sequential] {
            let (gz, n) = batch("r", 3, 512, 16, 1_700_000_000_000_000, ids).expect("batch");
            assert_eq!(n, 510);
            let mut raw = String::new();
            flate2::read::GzDecoder::new(&gz[..]).read_to_string(&mut raw).expect("gunzip");
            let v: Value = serde_json::from_str(&raw).expect("json");
            let blocks = v["conversations"].as_array().expect("blocks");
            assert_eq!(blocks.len(), 16);
            let spans = || blocks.iter().flat_map(|b| b["spans"].as_array().into_iter().flatten());
            let span_ids: std::collections::HashSet<&str> =
                spans().filter_map(|s| s["span_id"].as_str()).collect();
            assert_eq!(span_ids.len(), 510, "{ids:?}");
            assert!(span_ids.iter().all(|s| s.len() == 16), "{ids:?}");
            let traces: std::collections::HashSet<&str> =
                spans().filter_map(|s| s["trace_id"].as_str()).collect();
            let expected = if ids == Ids::Sequential { 170 / 4 + 4 } else { 170 };
            assert_eq!(traces.len(), expected, "traces per batch, {ids:?}");
            assert!(traces.iter().all(|t| t.len() == 32), "{ids:?}");
            let (gz2, _) = batch("r", 4, 512, 16, 1_700_000_000_000_000, ids).expect("batch");
            assert_ne!(gz, gz2);
        }
    }

    #[test]
    fn random_ids_are_unique_and_unordered_sequential_ones_ordered() {
        let ids = Ids::Random(seed("run1"));
        let traces: Vec<String> = (0..20_000).map(|n| ids.trace(n)).collect();
        assert_eq!(traces.iter().collect::<std::collections::HashSet<_>>().len(), traces.len());
        let rising = traces.windows(2).filter(|w| w[1] > w[0]).count();
        assert!((8_000..12_000).contains(&rising), "about half rise: {rising}");
        let spans: std::collections::HashSet<String> =
            (0..20_000).flat_map(|n| (1..=3).map(move |k| ids.span(n, k))).collect();
        assert_eq!(spans.len(), 60_000);
        assert_ne!(Ids::Random(seed("run1")).trace(7), Ids::Random(seed("run2")).trace(7));
        assert!((16..1000).all(|n| Ids::Sequential.trace(n) > Ids::Sequential.trace(n - 16)));
        assert_eq!(Ids::Sequential.span(1, 2), "8000000000000102");
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

//! Contract tests of [`SpanWriter`] and [`SpanReader`]: span batches built as the SDK sends
//! them and validated by `agentsight_core::spans::validate_batch`, as the server does.

use agentsight_core::archive::ArchivedBody;
use agentsight_core::metrics::query::{self, MetricsQuery};
use agentsight_core::prices::{self, Pricing, TokenCounts};
use agentsight_core::tracking::{AgentScope, ConversationRef};
use agentsight_protocol::v01::IngestPayload;
use serde_json::{Value, json};

use crate::{
    AgentRef, AgentStore, IngestOutcome, MessageKind, PageRequest, SpanFilter, SpanReader, SpanState,
    SpanWriter, TrackingReader, UsageFilter, UsageGroupBy,
};

/// The trace every span of these tests belongs to (one per test agent).
pub const TRACE: &str = "0123456789abcdef0123456789abcdef";

/// A span as the SDK sends it.
pub fn span_json(id: &str, kind: &str, turn: Option<&str>, at: &str, attrs: Value, events: Value) -> Value {
    let mut a = json!({ "agentsight.span.kind": kind });
    if let Some(t) = turn {
        a["agentsight.turn.id"] = json!(t);
    }
    if let (Some(m), Some(extra)) = (a.as_object_mut(), attrs.as_object()) {
        m.extend(extra.clone());
    }
    json!({"span_id": id, "trace_id": TRACE, "parent_span_id": turn, "kind": kind, "name": kind,
        "started_at": at, "ended_at": at, "duration_ms": 0.5, "status": "ok", "attributes": a,
        "events": events})
}

/// A turn span with an end-user message at `at` and the agent's answer two seconds later;
/// `incomplete`: the reason it did not complete.
pub fn turn_json(id: &str, at: &str, incomplete: Option<&str>) -> Value {
    let t = agentsight_core::time::parse_timestamp(at).expect("a timestamp");
    let later = agentsight_core::time::to_iso(t + 2_000_000);
    let msg = |sender: &str, content: &str, ts: &str| {
        json!({"name": "agentsight.message", "timestamp": ts,
            "attributes": {"agentsight.message.sender": sender, "agentsight.message.content": content}})
    };
    let mut attrs = json!({ "agentsight.turn.complete": incomplete.is_none() });
    if let Some(r) = incomplete {
        attrs["agentsight.turn.incomplete_reason"] = json!(r);
    }
    let mut s = span_json(
        id,
        "turn",
        Some(id),
        at,
        attrs,
        json!([msg("end_user", "Where is my order?", at), msg("agent", "It ships tomorrow.", &later)]),
    );
    s["parent_span_id"] = Value::Null;
    s["ended_at"] = json!(later);
    s
}

/// A tool call of a turn.
pub fn tool_json(id: &str, turn: &str, at: &str) -> Value {
    span_json(
        id,
        "tool",
        Some(turn),
        at,
        json!({"agentsight.tool.name": "lookup", "agentsight.tool.arguments": "{\"order\": 7}",
            "agentsight.tool.response": "shipped"}),
        json!([]),
    )
}

/// An LLM call of a turn.
pub fn llm_json(id: &str, turn: &str, at: &str, model: &str, input: i64, output: i64) -> Value {
    span_json(
        id,
        "llm",
        Some(turn),
        at,
        json!({"gen_ai.system": "openai", "gen_ai.request.model": model,
            "gen_ai.usage.input_tokens": input, "gen_ai.usage.output_tokens": output}),
        json!([]),
    )
}

/// A body of conversation blocks validated as the server validates `POST /api/ingest/`.
pub fn span_batch(
    scope: &AgentScope,
    blocks: Value,
    received_at: i64,
) -> (agentsight_core::spans::SpanIngest, ArchivedBody) {
    let text = json!({"sdk": {"name": "agentsight-python", "version": "0.1.4"}, "conversations": blocks})
        .to_string();
    let p: IngestPayload<'_> = serde_json::from_str(&text).expect("an ingest envelope");
    let batch = agentsight_core::spans::validate_batch(scope, &text, &p, received_at).expect("a valid batch");
    (batch, ArchivedBody::of_plain(&text))
}

async fn scope(s: &impl AgentStore, name: &str) -> AgentScope {
    let a = s.create_agent(name.into(), 1).await.expect("create agent");
    AgentScope { agent_id: a.id, environments: a.environments }
}

/// Ingests and waits for the projection: `(accepted, duplicates, outcome)`.
async fn ingest<S: SpanWriter>(
    s: &S,
    scope: &AgentScope,
    blocks: Value,
    at: i64,
) -> (u64, u64, IngestOutcome) {
    let (batch, body) = span_batch(scope, blocks, at);
    let r = s.ingest_spans(batch, body).await.expect("ingest");
    assert!(r.batch_id > 0);
    let out = r.projected.await.expect("projected");
    (r.accepted, r.duplicates, out)
}

const PAGE: PageRequest = PageRequest { page: 1, page_size: 50 };

/// `SpanWriter::ingest_spans`: a batch is archived and projected (turn messages, tool actions,
/// token usage priced with the current table); a resend stores nothing twice; a child whose turn
/// is not stored yet is held and projected when its turn arrives; an incomplete turn's
/// messages and tools are archived only, its LLM calls counted as incomplete usage.
pub async fn span_writer_ingest_resend_held_incomplete<S>(s: S)
where
    S: SpanWriter + SpanReader + TrackingReader + AgentStore,
{
    let a = scope(&s, "a").await;
    let blocks = json!([
        {"conversation_id": "k1", "customer_id": "u1", "device": "mobile", "environment": "production",
         "metadata": {"plan": "pro"}, "spans": [
            turn_json("00000000000000a1", "2026-08-15T10:00:00+00:00", None),
            llm_json("00000000000000a2", "00000000000000a1", "2026-08-15T10:00:01+00:00", "gpt-4o-mini", 80, 45),
            tool_json("00000000000000a3", "00000000000000a1", "2026-08-15T10:00:01+00:00")]},
        {"conversation_id": "k2", "spans": [
            tool_json("00000000000000b2", "00000000000000b1", "2026-08-15T11:00:01+00:00")]}
    ]);
    let (accepted, duplicates, out) = ingest(&s, &a, blocks.clone(), 100).await;
    assert_eq!((accepted, duplicates), (4, 0));
    assert_eq!(out.messages, 2, "the complete turn's two messages");
    assert_eq!(out.conversations.len(), 2);
    assert!(out.conversations.iter().all(|(_, created)| *created));

    let k1 = s.conversation(a.agent_id, ConversationRef::Id("k1".into())).await.unwrap().unwrap();
    assert_eq!((k1.customer_id.as_deref(), k1.device.as_deref()), (Some("u1"), Some("mobile")));
    assert_eq!(k1.environment.as_deref(), Some("production"));
    assert!(k1.is_used);
    let t = s.transcript(a.agent_id, k1.id).await.unwrap().unwrap();
    let said: Vec<(&str, &str)> = t
        .messages
        .iter()
        .filter(|m| m.kind == MessageKind::Message)
        .map(|m| (m.sender.as_str(), m.content.as_str()))
        .collect();
    assert_eq!(said, [("end_user", "Where is my order?"), ("agent", "It ships tomorrow.")]);
    assert_eq!(t.actions.iter().map(|x| x.action_name.as_str()).collect::<Vec<_>>(), ["lookup"]);
    assert_eq!(t.actions[0].response.as_deref(), Some("shipped"));
    let (n, usage) = s.list_token_usage(a.agent_id, UsageFilter::default(), PAGE).await.unwrap();
    assert_eq!(n, 1);
    let u = &usage[0];
    assert_eq!((u.model.as_str(), u.calls, u.tokens.input, u.tokens.output), ("gpt-4o-mini", 1, 80, 45));
    let counts = TokenCounts { input: 80, output: 45, ..Default::default() };
    assert_eq!(u.cost_pico, prices::cost_pico("gpt-4o-mini", &counts));
    assert_eq!((u.cost_source.as_str(), u.incomplete), ("backend", false));
    assert_eq!(u.turn_id, Some(0xa1));

    // k2's tool waits for its turn.
    let k2 = s.conversation(a.agent_id, ConversationRef::Id("k2".into())).await.unwrap().unwrap();
    assert!(s.transcript(a.agent_id, k2.id).await.unwrap().unwrap().actions.is_empty(), "held");
    let held = SpanFilter { conversation_id: Some("k2".into()), ..Default::default() };
    let (_, rows) = s.list_spans(a.agent_id, held.clone(), PAGE, false).await.unwrap();
    assert_eq!(rows.iter().map(|r| r.state).collect::<Vec<_>>(), [SpanState::Held]);

    // A resend (the SDK retries after a timeout) stores nothing twice.
    let (accepted, duplicates, out) = ingest(&s, &a, blocks, 200).await;
    assert_eq!((accepted, duplicates, out.messages), (0, 4, 0));
    assert!(out.conversations.iter().all(|(_, created)| !*created));
    let t = s.transcript(a.agent_id, k1.id).await.unwrap().unwrap();
    assert_eq!((t.messages.len(), t.actions.len()), (3, 1), "two messages and the action's message");
    assert_eq!(s.list_token_usage(a.agent_id, UsageFilter::default(), PAGE).await.unwrap().1[0].calls, 1);

    // The turn arrives: it and its held child are projected.
    let turn2 = json!([{"conversation_id": "k2", "spans": [
        turn_json("00000000000000b1", "2026-08-15T11:00:00+00:00", None)]}]);
    let (accepted, _, out) = ingest(&s, &a, turn2, 300).await;
    assert_eq!((accepted, out.messages), (1, 2));
    let t = s.transcript(a.agent_id, k2.id).await.unwrap().unwrap();
    assert_eq!(t.actions.iter().map(|x| x.action_name.as_str()).collect::<Vec<_>>(), ["lookup"]);
    let (_, rows) = s.list_spans(a.agent_id, held, PAGE, false).await.unwrap();
    assert!(rows.iter().all(|r| r.state == SpanState::Projected), "{rows:?}");

    // An incomplete turn: archived, its messages and tool not projected, its LLM call counted
    // as incomplete usage with the reason.
    let failed = json!([{"conversation_id": "k3", "spans": [
        turn_json("00000000000000c1", "2026-08-15T12:00:00+00:00", Some("error")),
        tool_json("00000000000000c2", "00000000000000c1", "2026-08-15T12:00:01+00:00"),
        llm_json("00000000000000c3", "00000000000000c1", "2026-08-15T12:00:01+00:00", "no-such-model", 5, 6)]}]);
    let (accepted, _, out) = ingest(&s, &a, failed, 400).await;
    assert_eq!((accepted, out.messages), (3, 0));
    let k3 = s.conversation(a.agent_id, ConversationRef::Id("k3".into())).await.unwrap().unwrap();
    let t = s.transcript(a.agent_id, k3.id).await.unwrap().unwrap();
    assert!(t.messages.is_empty() && t.actions.is_empty(), "{t:?}");
    assert!(t.conversation.is_used);
    let f = UsageFilter { conversation_id: Some("k3".into()), ..Default::default() };
    let (_, rows) = s.list_token_usage(a.agent_id, f, PAGE).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].incomplete);
    assert_eq!(rows[0].incomplete_reason.as_deref(), Some("error"));
    assert_eq!((rows[0].cost_pico, rows[0].cost_source.as_str()), (None, "unpriced"));
}

/// A price table that prices every model at one pico-USD a token.
fn flat_cost(_: &str, t: &TokenCounts) -> Option<i64> {
    Some(t.total())
}

/// `SpanWriter::restate_costs`: reprices from the stored counts, per agent or for all, and
/// stamps the table date; a second restate with the same table changes nothing.
pub async fn span_writer_restate_costs<S>(s: S)
where
    S: SpanWriter + SpanReader + AgentStore,
{
    let a = scope(&s, "a").await;
    let b = scope(&s, "b").await;
    for (sc, cid) in [(&a, "ka"), (&b, "kb")] {
        let blocks = json!([{"conversation_id": cid, "spans": [
            turn_json("00000000000000d1", "2026-08-15T10:00:00+00:00", None),
            llm_json("00000000000000d2", "00000000000000d1", "2026-08-15T10:00:01+00:00", "gpt-4o-mini", 100, 10),
            llm_json("00000000000000d3", "00000000000000d1", "2026-08-15T10:00:02+00:00", "mystery-1", 7, 3)]}]);
        ingest(&s, sc, blocks, 10).await;
    }
    let flat = Pricing { table_date: "2099-01-01", cost: flat_cost };
    let r = s.restate_costs(Some(a.agent_id), flat, 50).await.unwrap();
    assert_eq!((r.rows, r.changed), (2, 2));
    let (_, rows) = s.list_token_usage(a.agent_id, UsageFilter::default(), PAGE).await.unwrap();
    let mut got: Vec<(String, Option<i64>, String, Option<String>)> = rows
        .iter()
        .map(|u| (u.model.clone(), u.cost_pico, u.cost_source.clone(), u.price_table.clone()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("gpt-4o-mini".to_string(), Some(110), "backend".to_string(), Some("2099-01-01".to_string())),
            ("mystery-1".to_string(), Some(10), "backend".to_string(), Some("2099-01-01".to_string())),
        ]
    );
    let untouched = s.list_token_usage(b.agent_id, UsageFilter::default(), PAGE).await.unwrap().1;
    assert!(untouched.iter().any(|u| u.cost_source == "unpriced"), "agent b is not restated");
    let again = s.restate_costs(Some(a.agent_id), flat, 60).await.unwrap();
    assert_eq!((again.rows, again.changed), (2, 0));
    let all = s.restate_costs(None, prices::CURRENT, 70).await.unwrap();
    assert_eq!(all.rows, 4);
    let (_, rows) = s.list_token_usage(a.agent_id, UsageFilter::default(), PAGE).await.unwrap();
    let mystery = rows.iter().find(|u| u.model == "mystery-1").unwrap();
    assert_eq!((mystery.cost_pico, mystery.cost_source.as_str()), (None, "unpriced"));
}

fn metrics_query(from: &str, to: &str, tz: &str, extra: &[(&str, &str)]) -> MetricsQuery {
    let mut m: std::collections::HashMap<String, String> = [("from", from), ("to", to), ("tz", tz)]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    m.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    query::parse(&m, &["production".to_string(), "development".to_string()], 0).expect("a metrics query")
}

/// `SpanReader`: environments, span listing with filters and paging, one span with and without
/// its text, a trace with its limit, token usage filters, LLM metrics and usage summaries.
pub async fn span_reader_lists_filters_and_sums<S>(s: S)
where
    S: SpanWriter + SpanReader + AgentStore,
{
    let a = scope(&s, "a").await;
    let b = scope(&s, "b").await;
    let envs = s.environments(a.agent_id).await.unwrap();
    assert_eq!(envs.iter().map(|e| e.slug.as_str()).collect::<Vec<_>>(), ["production", "development"]);
    assert!(envs[0].is_production && !envs[1].is_production);
    s.create_environment(a.agent_id, "staging".into(), "Staging".into(), false, 9).await.unwrap();
    let envs = s.environments(a.agent_id).await.unwrap();
    assert_eq!(envs.last().map(|e| (e.slug.as_str(), e.name.as_str())), Some(("staging", "Staging")));

    let blocks = json!([
        {"conversation_id": "s1", "environment": "production", "spans": [
            turn_json("00000000000000f1", "2026-08-15T10:00:00+00:00", None),
            llm_json("00000000000000f2", "00000000000000f1", "2026-08-15T10:00:01+00:00", "gpt-4o-mini", 80, 45),
            llm_json("00000000000000f3", "00000000000000f1", "2026-08-15T10:00:02+00:00", "gpt-4o-mini", 20, 5)]},
        {"conversation_id": "s2", "environment": "development", "spans": [
            turn_json("00000000000000f4", "2026-08-16T10:00:00+00:00", None),
            llm_json("00000000000000f5", "00000000000000f4", "2026-08-16T10:00:01+00:00", "claude-3-5-haiku", 10, 10),
            tool_json("00000000000000f6", "00000000000000f4", "2026-08-16T10:00:01+00:00")]}
    ]);
    ingest(&s, &a, blocks, 1_000).await;

    // list_spans: oldest first, total count, paging, filters.
    let (n, all) = s.list_spans(a.agent_id, SpanFilter::default(), PAGE, false).await.unwrap();
    assert_eq!(n, 6);
    let ids: Vec<u64> = all.iter().map(|r| r.span_id).collect();
    assert_eq!(ids, [0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6]);
    assert!(all.iter().all(|r| r.payload.is_none() && r.trace_id == TRACE));
    assert_eq!(all[1].parent_span_id, Some(0xf1));
    assert_eq!(all[0].sdk_version.as_deref(), Some("0.1.4"));
    let (n, page2) = s
        .list_spans(a.agent_id, SpanFilter::default(), PageRequest { page: 2, page_size: 4 }, false)
        .await
        .unwrap();
    assert_eq!((n, page2.iter().map(|r| r.span_id).collect::<Vec<_>>()), (6, vec![0xf5, 0xf6]));
    let llm = SpanFilter { kind: Some("llm".into()), ..Default::default() };
    assert_eq!(s.list_spans(a.agent_id, llm, PAGE, false).await.unwrap().0, 3);
    let dev = SpanFilter { environment: Some("development".into()), ..Default::default() };
    let (_, rows) = s.list_spans(a.agent_id, dev, PAGE, false).await.unwrap();
    assert!(rows.iter().all(|r| r.conversation_id == "s2") && rows.len() == 3);
    let children = SpanFilter { parent_span_id: Some(0xf4), descending: true, ..Default::default() };
    let (_, rows) = s.list_spans(a.agent_id, children, PAGE, false).await.unwrap();
    assert_eq!(rows.iter().map(|r| r.span_id).collect::<Vec<_>>(), [0xf6, 0xf5], "descending, newest first");
    assert_eq!(s.list_spans(b.agent_id, SpanFilter::default(), PAGE, false).await.unwrap().0, 0, "scoped");
    // One conversation, by client id or pk (the pk and the id must agree), and only its spans.
    let s2 = all[3].conversation_pk;
    for f in [
        SpanFilter { conversation_id: Some("s2".into()), ..Default::default() },
        SpanFilter { conversation: Some(s2), ..Default::default() },
        SpanFilter { conversation: Some(s2), conversation_id: Some("s2".into()), ..Default::default() },
    ] {
        let (n, rows) = s.list_spans(a.agent_id, f.clone(), PAGE, false).await.unwrap();
        assert_eq!(
            (n, rows.iter().map(|r| r.span_id).collect::<Vec<_>>()),
            (3, vec![0xf4, 0xf5, 0xf6]),
            "{f:?}"
        );
    }
    for f in [
        SpanFilter { conversation: Some(s2), conversation_id: Some("s1".into()), ..Default::default() },
        SpanFilter { conversation: Some(s2 + 1_000_000), ..Default::default() },
        SpanFilter { conversation_id: Some("none".into()), ..Default::default() },
    ] {
        assert_eq!(s.list_spans(a.agent_id, f.clone(), PAGE, false).await.unwrap().0, 0, "{f:?}");
    }
    assert_eq!(
        s.list_spans(b.agent_id, SpanFilter { conversation: Some(s2), ..Default::default() }, PAGE, false)
            .await
            .unwrap()
            .0,
        0,
        "another agent's conversation"
    );

    // span: by row id, the text as sent only when asked.
    let one = s.span(a.agent_id, all[1].id, true).await.unwrap().unwrap();
    let text: Value = serde_json::from_str(one.payload.as_deref().unwrap()).unwrap();
    assert_eq!(text["span_id"], "00000000000000f2");
    assert_eq!(text["attributes"]["gen_ai.usage.input_tokens"], 80);
    assert!(s.span(a.agent_id, all[1].id, false).await.unwrap().unwrap().payload.is_none());
    assert!(s.span(b.agent_id, all[1].id, true).await.unwrap().is_none(), "not b's");

    // trace: oldest first, at most `limit`, whether there were more.
    let (spans, more) = s.trace(a.agent_id, TRACE.into(), 10).await.unwrap();
    assert_eq!((spans.len(), more), (6, false));
    let (spans, more) = s.trace(a.agent_id, TRACE.into(), 2).await.unwrap();
    assert_eq!((spans.iter().map(|r| r.span_id).collect::<Vec<_>>(), more), (vec![0xf1, 0xf2], true));
    assert!(s.trace(b.agent_id, TRACE.into(), 10).await.unwrap().0.is_empty());

    // list_token_usage: newest first, filters.
    let (n, usage) = s.list_token_usage(a.agent_id, UsageFilter::default(), PAGE).await.unwrap();
    assert_eq!(n, 2);
    assert_eq!(usage.iter().map(|u| u.conversation_id.as_str()).collect::<Vec<_>>(), ["s2", "s1"]);
    assert_eq!((usage[1].calls, usage[1].tokens.input, usage[1].tokens.output), (2, 100, 50));
    let by_model = UsageFilter { model: Some("gpt-4o-mini".into()), ..Default::default() };
    assert_eq!(s.list_token_usage(a.agent_id, by_model, PAGE).await.unwrap().1[0].conversation_id, "s1");
    let by_env = UsageFilter { environment: Some("development".into()), ..Default::default() };
    assert_eq!(s.list_token_usage(a.agent_id, by_env, PAGE).await.unwrap().0, 1);
    let by_turn = UsageFilter { turn_id: Some(0xf4), ..Default::default() };
    assert_eq!(s.list_token_usage(a.agent_id, by_turn, PAGE).await.unwrap().1[0].model, "claude-3-5-haiku");

    // usage_summary: by model, conversation and day, largest cost first.
    let sum = s.usage_summary(a.agent_id, UsageFilter::default(), UsageGroupBy::Conversation).await.unwrap();
    let mut groups: Vec<(String, i64, i64)> =
        sum.iter().map(|g| (g.group.clone(), g.calls, g.tokens.total())).collect();
    groups.sort();
    assert_eq!(groups, [("s1".to_string(), 2, 150), ("s2".to_string(), 1, 20)]);
    let days = s.usage_summary(a.agent_id, UsageFilter::default(), UsageGroupBy::Day).await.unwrap();
    let mut d: Vec<(String, i64)> = days.iter().map(|g| (g.group.clone(), g.rows)).collect();
    d.sort();
    assert_eq!(d, [("2026-08-15".to_string(), 1), ("2026-08-16".to_string(), 1)]);
    let models = s.usage_summary(a.agent_id, UsageFilter::default(), UsageGroupBy::Model).await.unwrap();
    assert_eq!(models.len(), 2);
    assert!(models.windows(2).all(|w| w[0].cost_pico >= w[1].cost_pico), "largest cost first");
    let mini = models.iter().find(|g| g.group == "gpt-4o-mini").unwrap();
    let counts = TokenCounts { input: 100, output: 50, ..Default::default() };
    assert_eq!(Some(mini.cost_pico), prices::cost_pico("gpt-4o-mini", &counts));

    // llm_metrics: totals, by model and by local day over the range and filters.
    let agent = AgentRef { id: a.agent_id, name: "a".into() };
    let m =
        s.llm_metrics(agent.clone(), metrics_query("2026-08-15", "2026-08-16", "UTC", &[])).await.unwrap();
    assert_eq!((m.totals.calls, m.totals.input_tokens, m.totals.output_tokens), (3, 110, 60));
    assert_eq!(m.by_model.len(), 2);
    assert_eq!(m.daily.len(), 2);
    let dev = s
        .llm_metrics(
            agent.clone(),
            metrics_query("2026-08-15", "2026-08-16", "UTC", &[("environment", "development")]),
        )
        .await
        .unwrap();
    assert_eq!((dev.totals.calls, dev.totals.input_tokens), (1, 10));
    let other = s.llm_metrics(agent, metrics_query("2026-08-17", "2026-08-17", "UTC", &[])).await.unwrap();
    assert_eq!(other.totals.calls, 0, "out of range");
}

/// `SpanReader::llm_metrics`' cost per conversation and most expensive conversations
/// (docs/metrics.md): over the conversations with a priced usage row in range and filters,
/// the mean (rounded to the pico-USD), the nearest-rank 95th percentile, the top ordered by
/// cost, calls and pk; equal to the reference computed from the store's own usage rows.
pub async fn span_reader_llm_cost_per_conversation<S>(s: S)
where
    S: SpanWriter + SpanReader + AgentStore,
{
    use agentsight_core::metrics::llm::ConversationUsage;
    use agentsight_core::metrics::reference;

    let a = scope(&s, "a").await;
    let t = |id: &str, at: &str| turn_json(id, at, None);
    let day1 = "2026-08-15T10:00:00+00:00";
    let blocks = json!([
        {"conversation_id": "c1", "environment": "production", "spans": [t("00000000000000a1", day1),
            llm_json("00000000000000a2", "00000000000000a1", day1, "gpt-4o-mini", 80, 45),
            llm_json("00000000000000a3", "00000000000000a1", day1, "gpt-4o-mini", 80, 45)]},
        {"conversation_id": "c2", "environment": "production", "spans": [t("00000000000000b1", day1),
            llm_json("00000000000000b2", "00000000000000b1", day1, "gpt-4o-mini", 80, 45)]},
        // c2's cost, one call more (unpriced): before c2.
        {"conversation_id": "c3", "environment": "production", "spans": [t("00000000000000c1", day1),
            llm_json("00000000000000c2", "00000000000000c1", day1, "gpt-4o-mini", 80, 45),
            llm_json("00000000000000c3", "00000000000000c1", day1, "mystery-1", 5, 5)]},
        // Unpriced only: not a conversation with a known cost.
        {"conversation_id": "c4", "environment": "production", "spans": [t("00000000000000d1", day1),
            llm_json("00000000000000d2", "00000000000000d1", day1, "mystery-1", 500, 500)]},
        {"conversation_id": "c5", "environment": "development", "spans": [
            t("00000000000000e1", "2026-08-16T10:00:00+00:00"),
            llm_json("00000000000000e2", "00000000000000e1", "2026-08-16T10:00:00+00:00", "gpt-4o-mini", 10, 10)]},
        // Out of range.
        {"conversation_id": "c6", "environment": "production", "spans": [
            t("00000000000000f1", "2026-08-17T10:00:00+00:00"),
            llm_json("00000000000000f2", "00000000000000f1", "2026-08-17T10:00:00+00:00", "gpt-4o-mini", 9000, 9000)]}
    ]);
    ingest(&s, &a, blocks, 1_000).await;
    let agent = AgentRef { id: a.agent_id, name: "a".into() };
    let cost =
        |i, o| prices::cost_pico("gpt-4o-mini", &TokenCounts { input: i, output: o, ..Default::default() });
    let (one, small) = (cost(80, 45).unwrap(), cost(10, 10).unwrap());

    let m =
        s.llm_metrics(agent.clone(), metrics_query("2026-08-15", "2026-08-16", "UTC", &[])).await.unwrap();
    let per = &m.per_conversation;
    assert_eq!(per.conversations, 4, "c1, c2, c3 and c5: {per:?}");
    let sum = 4 * one as i128 + small as i128;
    assert_eq!(per.average_cost_usd, Some(prices::pico_to_decimal(((2 * sum + 4) / 8) as i64)));
    assert_eq!(per.p95_cost_usd, Some(prices::pico_to_decimal(2 * one)), "the 4th of 4 (⌈3.8⌉)");
    let top: Vec<(&str, String, i64, i64)> = m
        .top_conversations
        .iter()
        .map(|r| (r.conversation_id.as_str(), r.cost_usd.clone(), r.calls, r.total_tokens))
        .collect();
    let d = prices::pico_to_decimal;
    assert_eq!(
        top,
        [("c1", d(2 * one), 2, 250), ("c3", d(one), 2, 135), ("c2", d(one), 1, 125), ("c5", d(small), 1, 20)]
    );

    // The same figures from the store's own usage rows, through the reference.
    let (_, rows) = s
        .list_token_usage(a.agent_id, UsageFilter::default(), PageRequest { page: 1, page_size: 100 })
        .await
        .unwrap();
    let mut facts: std::collections::BTreeMap<i64, ConversationUsage> = Default::default();
    for r in rows.iter().filter(|r| r.conversation_id != "c6") {
        let f = facts.entry(r.conversation_pk).or_insert(ConversationUsage {
            conversation_pk: r.conversation_pk,
            priced: false,
            cost_pico: 0,
            calls: 0,
            total_tokens: 0,
        });
        f.priced |= r.cost_pico.is_some();
        f.cost_pico = f.cost_pico.saturating_add(r.cost_pico.unwrap_or(0));
        f.calls += r.calls;
        f.total_tokens += r.tokens.total();
    }
    let facts: Vec<_> = facts.into_values().collect();
    let (ref_per, ref_top) = reference::llm_conversation_costs(&facts, 10);
    assert_eq!(m.per_conversation, ref_per);
    assert_eq!(
        m.top_conversations.iter().map(|r| r.conversation).collect::<Vec<_>>(),
        ref_top.iter().map(|r| r.conversation_pk).collect::<Vec<_>>()
    );
    let c1 = rows.iter().find(|r| r.conversation_id == "c1").unwrap().conversation_pk;
    assert_eq!(m.top_conversations[0].conversation, c1, "the pk of the transcript");

    // Filters and range as the rest.
    let dev = s
        .llm_metrics(
            agent.clone(),
            metrics_query("2026-08-15", "2026-08-16", "UTC", &[("environment", "development")]),
        )
        .await
        .unwrap();
    assert_eq!(dev.per_conversation.conversations, 1);
    assert_eq!(dev.per_conversation.p95_cost_usd, Some(d(small)));
    assert_eq!(dev.per_conversation.average_cost_usd, Some(d(small)));
    assert_eq!(dev.top_conversations.iter().map(|r| r.conversation_id.as_str()).collect::<Vec<_>>(), ["c5"]);
    let later =
        s.llm_metrics(agent.clone(), metrics_query("2026-08-17", "2026-08-17", "UTC", &[])).await.unwrap();
    assert_eq!(
        later.top_conversations.iter().map(|r| r.conversation_id.as_str()).collect::<Vec<_>>(),
        ["c6"]
    );
    let none = s.llm_metrics(agent, metrics_query("2026-08-18", "2026-08-18", "UTC", &[])).await.unwrap();
    assert_eq!((none.per_conversation.conversations, none.per_conversation.p95_cost_usd), (0, None));
    assert!(none.top_conversations.is_empty());
}

/// Costs that cannot be added in 64 bits saturate instead of failing: a key holder who sends
/// many calls with the largest token counts allowed (`MAX_TOKENS_PER_CALL`) of the dearest model
/// gets usage rows and totals of `i64::MAX` pico-USD, and every read answers (SQLite's `sum`
/// fails on overflow, PostgreSQL's `bigint` addition too).
pub async fn span_reader_costs_saturate_instead_of_overflowing<S>(s: S)
where
    S: SpanWriter + SpanReader + AgentStore,
{
    let a = scope(&s, "a").await;
    let at = "2026-08-15T10:00:00+00:00";
    let max = agentsight_core::limits::MAX_TOKENS_PER_CALL;
    let one =
        prices::cost_pico("claude-opus-4-1", &TokenCounts { input: max, output: max, ..Default::default() })
            .unwrap();
    let n = (i64::MAX / one + 2) as usize; // calls of one turn and model: one usage row beyond i64
    let block = |cid: &str, base: u64| {
        let turn = format!("{base:016x}");
        let mut spans = vec![turn_json(&turn, at, None)];
        spans.extend(
            (1..=n as u64)
                .map(|i| llm_json(&format!("{:016x}", base + i), &turn, at, "claude-opus-4-1", max, max)),
        );
        json!({"conversation_id": cid, "environment": "production", "spans": spans})
    };
    ingest(&s, &a, json!([block("big-1", 0x1000), block("big-2", 0x2000)]), 1_000).await;

    let (_, rows) = s.list_token_usage(a.agent_id, UsageFilter::default(), PAGE).await.unwrap();
    assert_eq!(rows.len(), 2);
    for r in &rows {
        assert_eq!((r.calls, r.cost_pico), (n as i64, Some(i64::MAX)), "{}", r.conversation_id);
    }
    let sat = prices::pico_to_decimal(i64::MAX);
    let m = s
        .llm_metrics(
            AgentRef { id: a.agent_id, name: "a".into() },
            metrics_query("2026-08-15", "2026-08-15", "UTC", &[]),
        )
        .await
        .unwrap();
    assert_eq!((m.totals.calls, &m.totals.cost_usd), (2 * n as i64, &sat));
    assert_eq!(m.by_model[0].totals.cost_usd, sat);
    assert_eq!(m.daily[0].totals.cost_usd, sat);
    assert_eq!(m.per_conversation.conversations, 2);
    assert_eq!(m.per_conversation.p95_cost_usd, Some(sat.clone()));
    assert!(m.top_conversations.iter().all(|c| c.cost_usd == sat));
    for g in [UsageGroupBy::Model, UsageGroupBy::Conversation, UsageGroupBy::Day] {
        let groups = s.usage_summary(a.agent_id, UsageFilter::default(), g).await.unwrap();
        assert!(groups.iter().all(|g| g.cost_pico == i64::MAX), "{groups:?}");
    }
}

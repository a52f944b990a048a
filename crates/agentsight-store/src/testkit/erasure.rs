//! Contract tests of [`Erasure`] and [`RetentionStore`]: a customer's erase and a retention
//! cut-off remove the conversations with everything of theirs, leave the rest, and the metrics
//! equal the reference over what remains.

use agentsight_core::dataplane::FeedbackCommand;
use agentsight_core::metrics::DEFAULT_ESCALATION_TOOLS;
use agentsight_core::metrics::query::{self, MetricsQuery};
use agentsight_core::metrics::reference;
use agentsight_core::time::parse_timestamp;
use agentsight_core::tracking::{AgentScope, AttachmentTarget, ConversationRef};
use serde_json::json;

use super::{Conv, RefWriter, feedback_command, llm_json, span_batch, tool_json, turn_json};
use crate::{
    AgentRef, AgentStore, AttachmentsInsert, ConfigStore, ConversationFilter, DataPlane, EraseSelector,
    Erased, Erasure, ErasureKind, ErasureRecord, ExportReader, FeedbackFilter, MAX_ERASE_STEP, MetricsReader,
    PageRequest, SpanFilter, SpanReader, SpanWriter, StoredFile, TrackingReader, TrackingWriter, UsageFilter,
    erase_all, retention_cutoff,
};

const PAGE: PageRequest = PageRequest { page: 1, page_size: 100 };

fn t(s: &str) -> i64 {
    parse_timestamp(s).expect("a timestamp")
}

fn q(from: &str, to: &str, extra: &[(&str, &str)]) -> MetricsQuery {
    let mut m: std::collections::HashMap<String, String> =
        [("from", from), ("to", to)].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    m.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    query::parse(&m, &["production".to_string(), "development".to_string()], 0).expect("a metrics query")
}

async fn scope(s: &impl AgentStore, name: &str) -> AgentScope {
    let a = s.create_agent(name.into(), 1).await.expect("create agent");
    AgentScope { agent_id: a.id, environments: a.environments }
}

fn conv(id: &str, started: &str, customer: Option<&str>) -> Conv {
    Conv {
        id: id.into(),
        started: t(started),
        is_used: true,
        device: Some("mobile".into()),
        customer: customer.map(str::to_string),
        ..Default::default()
    }
}

/// The store's overview of the agent over `from..=to` equals the reference's over `w`'s data.
async fn overview_is_reference<S: MetricsReader + TrackingReader>(
    s: &S,
    w: &RefWriter<&S>,
    from: &str,
    to: &str,
    what: &str,
) {
    let escalation: Vec<String> = DEFAULT_ESCALATION_TOOLS.iter().map(|s| s.to_string()).collect();
    let agent = AgentRef { id: w.agent, name: "a".into() };
    for extra in [&[][..], &[("device", "mobile")][..]] {
        let query = q(from, to, extra);
        let want = reference::overview(&w.data, &query, &escalation, agent.clone());
        let got = s.overview(agent.clone(), query, escalation.clone()).await.expect("overview");
        assert_eq!(
            serde_json::to_value(&got).unwrap(),
            serde_json::to_value(&want).unwrap(),
            "{what}: the overview equals the reference over the remaining conversations ({extra:?})"
        );
    }
}

/// Removes the conversations `pks` from the reference's copy.
fn forget<D>(w: &mut RefWriter<D>, pks: &[i64]) {
    w.data.conversations.retain(|c| !pks.contains(&c.pk));
    w.data.entries.retain(|e| !pks.contains(&e.conversation_pk));
    w.data.feedbacks.retain(|f| !pks.contains(&f.conversation_pk));
}

/// A customer's erase: every conversation of that customer of that agent goes with its
/// messages, actions, buttons, feedback (conversation feedback and votes), attachment rows,
/// spans and token usage; the attachment files' keys come back; other customers' conversations
/// and other agents' are untouched; the overview and the LLM metrics equal those of the
/// remaining conversations at once; a repeat removes nothing; pks of another agent are skipped;
/// the audit log keeps what was done and by whom.
pub async fn erasure_of_a_customer_removes_everything_of_theirs<S>(s: S)
where
    S: AgentStore
        + TrackingWriter
        + TrackingReader
        + DataPlane
        + SpanWriter
        + SpanReader
        + MetricsReader
        + ExportReader
        + Erasure,
{
    let a = scope(&s, "a").await;
    let b = scope(&s, "b").await;
    let mut w = RefWriter::new(&s, a.agent_id);
    let x1 = w.conversation(conv("x1", "2026-08-15T09:00:00Z", Some("cust-x"))).await;
    let x2 = w.conversation(conv("x2", "2026-08-15T11:00:00Z", Some("cust-x"))).await;
    let y1 = w.conversation(conv("y1", "2026-08-15T10:00:00Z", Some("cust-y"))).await;
    for (pk, at) in [(x1, "2026-08-15T09:00:0"), (x2, "2026-08-15T11:00:0"), (y1, "2026-08-15T10:00:0")] {
        w.message(pk, "end_user", t(&format!("{at}1Z"))).await;
        w.message(pk, "agent", t(&format!("{at}3Z"))).await;
        w.action(pk, "open_ticket", t(&format!("{at}4Z")), Some(20), None, None).await;
        w.button(pk, t(&format!("{at}5Z"))).await;
        w.feedback(pk, "negative", t(&format!("{at}6Z"))).await;
    }
    // Attachments of x1 and y1, a vote on x1's first message.
    let x1_msg = s.transcript(a.agent_id, x1).await.unwrap().unwrap().messages[0].id;
    let y1_msg = s.transcript(a.agent_id, y1).await.unwrap().unwrap().messages[0].id;
    let mut files = Vec::new();
    for (msg, key) in [(x1_msg, "a/x1-file"), (y1_msg, "a/y1-file")] {
        let rows = s
            .insert_attachments(AttachmentsInsert {
                agent_id: a.agent_id,
                target: AttachmentTarget::Message(msg),
                sender: None,
                metadata: "{}".into(),
                event_time: t("2026-08-15T12:00:00Z"),
                files: vec![StoredFile {
                    filename: "f.txt".into(),
                    mime_type: "text/plain".into(),
                    size_bytes: 3,
                    storage_key: key.into(),
                }],
            })
            .await
            .unwrap();
        files.push(rows[0].id);
    }
    for msg in [x1_msg, y1_msg] {
        let FeedbackCommand::Vote(v) = feedback_command(
            &a,
            json!({"kind": "message", "message": msg, "sentiment": "negative"}),
            t("2026-08-15T12:00:00Z"),
        ) else {
            panic!("a vote")
        };
        s.insert_vote(v).await.unwrap();
    }
    // Spans: a conversation of the customer (s-x) and one of another (s-y), in one batch, on the
    // next day (the reference's dataset has the 0.0.x writes only).
    let blocks = json!([
        {"conversation_id": "s-x", "customer_id": "cust-x", "spans": [
            turn_json("00000000000000a1", "2026-08-16T13:00:00+00:00", None),
            llm_json("00000000000000a2", "00000000000000a1", "2026-08-16T13:00:01+00:00", "gpt-4o-mini", 80, 45),
            tool_json("00000000000000a3", "00000000000000a1", "2026-08-16T13:00:01+00:00")]},
        {"conversation_id": "s-y", "customer_id": "cust-y", "spans": [
            turn_json("00000000000000b1", "2026-08-16T14:00:00+00:00", None),
            llm_json("00000000000000b2", "00000000000000b1", "2026-08-16T14:00:01+00:00", "gpt-4o-mini", 10, 5)]}
    ]);
    let (batch, body) = span_batch(&a, blocks, t("2026-08-16T14:00:02Z"));
    let receipt = s.ingest_spans(batch, body).await.unwrap();
    let projected = receipt.projected.await.expect("projected");
    let sx = projected.conversations.iter().map(|(pk, _)| *pk).min().unwrap();
    let sy = projected.conversations.iter().map(|(pk, _)| *pk).max().unwrap();
    assert_ne!(sx, sy);
    // Another agent's conversation of a customer with the same id.
    let mut bw = RefWriter::new(&s, b.agent_id);
    let bx = bw.conversation(conv("bx", "2026-08-15T09:00:00Z", Some("cust-x"))).await;
    bw.message(bx, "end_user", t("2026-08-15T09:00:01Z")).await;
    // The reference for the LLM metrics: the remaining conversation's alone, read before.
    let agent = AgentRef { id: a.agent_id, name: "a".into() };
    let llm_y = s
        .llm_metrics(agent.clone(), q("2026-08-16", "2026-08-16", &[("customer_id", "cust-y")]))
        .await
        .unwrap();
    assert_eq!(llm_y.totals.calls, 1, "the reference sees s-y's call only");

    // The finder: the customer's conversations of this agent, a page at a time.
    let which = EraseSelector::Customer("cust-x".into());
    let page1 = s.conversations_to_erase(a.agent_id, which.clone(), 0, 2).await.unwrap();
    let page2 = s.conversations_to_erase(a.agent_id, which.clone(), page1[1], 2).await.unwrap();
    let mut all = [page1.clone(), page2.clone()].concat();
    assert_eq!((page1.len(), page2.len()), (2, 1), "two pages: {page1:?} {page2:?}");
    all.sort_unstable();
    let mut want = vec![x1, x2, sx];
    want.sort_unstable();
    assert_eq!(all, want);
    // Another agent's pks are skipped.
    assert_eq!(s.erase_conversations(b.agent_id, all.clone()).await.unwrap(), Erased::default());

    let mut steps = 0;
    let erased = erase_all(&s, a.agent_id, which.clone(), |_| steps += 1).await.unwrap();
    assert_eq!(steps, 1);
    assert_eq!((erased.conversations, erased.messages), (3, 2 + 2 + 2));
    assert_eq!(erased.attachment_keys, ["a/x1-file"]);
    forget(&mut w, &all);

    // Everything of theirs is gone.
    for pk in &all {
        assert!(s.transcript(a.agent_id, *pk).await.unwrap().is_none(), "transcript of {pk}");
        assert!(s.conversation(a.agent_id, ConversationRef::Pk(*pk)).await.unwrap().is_none());
    }
    for id in ["x1", "x2", "s-x"] {
        assert!(s.conversation(a.agent_id, ConversationRef::Id(id.into())).await.unwrap().is_none(), "{id}");
    }
    let listed = ConversationFilter { include_deleted: true, ..Default::default() };
    let (n, rows) = s.list_conversations(a.agent_id, listed, PAGE).await.unwrap();
    let mut left: Vec<&str> = rows.iter().map(|r| r.conversation_id.as_str()).collect();
    left.sort_unstable();
    assert_eq!((n, left), (2, vec!["s-y", "y1"]));
    assert!(s.attachment(a.agent_id, files[0]).await.unwrap().is_none(), "x1's attachment row");
    assert!(s.attachment(a.agent_id, files[1]).await.unwrap().is_some(), "y1's attachment row");
    assert!(s.message(a.agent_id, x1_msg).await.unwrap().is_none());
    assert!(s.message(a.agent_id, y1_msg).await.unwrap().is_some());
    let (_, feedback) = s.list_feedback(a.agent_id, FeedbackFilter::default(), PAGE).await.unwrap();
    assert!(!feedback.is_empty());
    assert!(
        feedback.iter().all(|f| f.conversation_pk.is_none_or(|pk| !all.contains(&pk))),
        "no feedback of an erased conversation is left: {feedback:?}"
    );
    assert_eq!(feedback.iter().filter(|f| f.kind.as_str() == "message").count(), 1, "y1's vote stays");
    let (n, spans) = s.list_spans(a.agent_id, SpanFilter::default(), PAGE, true).await.unwrap();
    assert_eq!(n, 2, "s-y's spans stay: {spans:?}");
    assert!(spans.iter().all(|r| r.conversation_id == "s-y"));
    let (trace, _) = s.trace(a.agent_id, super::TRACE.into(), 10).await.unwrap();
    assert!(trace.iter().all(|r| r.conversation_id == "s-y") && trace.len() == 2);
    let (n, usage) = s.list_token_usage(a.agent_id, UsageFilter::default(), PAGE).await.unwrap();
    assert_eq!((n, usage[0].conversation_id.as_str()), (1, "s-y"));
    assert!(s.export_entries(a.agent_id, all.clone()).await.unwrap().is_empty());

    // The metrics reflect it at once.
    overview_is_reference(&s, &w, "2026-08-15", "2026-08-15", "after the erase").await;
    let mut llm = s.llm_metrics(agent.clone(), q("2026-08-16", "2026-08-16", &[])).await.unwrap();
    llm.filters = llm_y.filters.clone();
    assert_eq!(serde_json::to_value(&llm).unwrap(), serde_json::to_value(&llm_y).unwrap(), "LLM metrics");
    let next_day = s.overview(agent.clone(), q("2026-08-16", "2026-08-16", &[]), vec![]).await.unwrap();
    assert_eq!((next_day.total_conversations, next_day.total_messages), (1, 2), "s-y's turn alone");

    // The other agent's conversation of the same customer id is untouched.
    assert!(s.transcript(b.agent_id, bx).await.unwrap().is_some());

    // A repeat is harmless.
    let again = erase_all(&s, a.agent_id, which, |_| ()).await.unwrap();
    assert_eq!(again, Erased::default());
    overview_is_reference(&s, &w, "2026-08-15", "2026-08-15", "after a repeat").await;
}

/// Retention: a conversation goes when its last event (start, explicit end, latest message,
/// action or button) is strictly before the cut-off; one whose last event is exactly at the
/// cut-off stays. The overview equals the reference over the rest; the setting reads back and
/// turns off; an unknown agent is refused.
pub async fn retention_cutoff_at_the_boundary<S>(s: S)
where
    S: AgentStore + TrackingWriter + TrackingReader + MetricsReader + Erasure,
{
    let a = scope(&s, "a").await;
    let b = scope(&s, "b").await;
    let cut = t("2026-08-20T00:00:00Z");
    let mut w = RefWriter::new(&s, a.agent_id);
    let old = w.conversation(conv("old", "2026-08-10T10:00:00Z", None)).await;
    w.message(old, "end_user", cut - 1).await;
    let edge = w.conversation(conv("edge", "2026-08-10T10:00:00Z", None)).await;
    w.message(edge, "end_user", t("2026-08-10T10:00:01Z")).await;
    w.message(edge, "agent", cut).await;
    let by_action = w.conversation(conv("by-action", "2026-08-10T10:00:00Z", None)).await;
    w.action(by_action, "lookup", cut, None, None, None).await;
    let by_button = w.conversation(conv("by-button", "2026-08-10T10:00:00Z", None)).await;
    w.button(by_button, cut + 5).await;
    let starts_at = w.conversation(conv("starts-at", "2026-08-20T00:00:00Z", None)).await;
    let quiet = w.conversation(conv("quiet", "2026-08-19T23:59:59Z", None)).await;
    let new = w.conversation(conv("new", "2026-08-21T10:00:00Z", None)).await;
    w.message(new, "end_user", t("2026-08-21T10:00:01Z")).await;
    let theirs =
        RefWriter::new(&s, b.agent_id).conversation(conv("b-old", "2026-08-01T00:00:00Z", None)).await;

    let which = EraseSelector::LastEventBefore(cut);
    let mut found = s.conversations_to_erase(a.agent_id, which.clone(), 0, MAX_ERASE_STEP).await.unwrap();
    found.sort_unstable();
    let mut want = vec![old, quiet];
    want.sort_unstable();
    assert_eq!(found, want, "old (last message a µs before) and quiet (started a second before)");
    let first = s.conversations_to_erase(a.agent_id, which.clone(), 0, 1).await.unwrap();
    assert!(first.len() == 1 && want.contains(&first[0]), "a page of one: {first:?}");
    let erased = erase_all(&s, a.agent_id, which.clone(), |_| ()).await.unwrap();
    assert_eq!((erased.conversations, erased.messages), (2, 1));
    forget(&mut w, &want);
    for pk in [edge, by_action, by_button, starts_at, new] {
        assert!(s.transcript(a.agent_id, pk).await.unwrap().is_some(), "{pk} stays");
    }
    assert!(s.transcript(b.agent_id, theirs).await.unwrap().is_some(), "another agent's stays");
    overview_is_reference(&s, &w, "2026-08-01", "2026-08-31", "after retention").await;
    assert!(s.conversations_to_erase(a.agent_id, which, 0, 10).await.unwrap().is_empty());

    assert_eq!(retention_cutoff(cut, 1), t("2026-08-19T00:00:00Z"));
}

/// `RetentionStore`: an agent's retention reads back, is listed, turns off; an unknown agent
/// is refused; the audit log keeps records newest first, per agent or all.
pub async fn retention_settings_and_audit_log(s: impl ConfigStore) {
    let a = s.create_agent("a".into(), 1).await.unwrap();
    let b = s.create_agent("b".into(), 1).await.unwrap();

    // The setting.
    assert_eq!(s.retention_days(a.id).await.unwrap(), None);
    assert!(s.set_retention_days(a.id, Some(30)).await.unwrap());
    assert_eq!(s.retention_days(a.id).await.unwrap(), Some(30));
    assert_eq!(s.retentions().await.unwrap(), [(a.id, 30)]);
    assert!(s.set_retention_days(a.id, None).await.unwrap());
    assert_eq!(s.retention_days(a.id).await.unwrap(), None);
    assert!(s.retentions().await.unwrap().is_empty());
    assert!(!s.set_retention_days(9_999, Some(1)).await.unwrap(), "no such agent");

    // The audit log.
    let r = s
        .record_erasure(ErasureRecord {
            id: 0,
            at: 77,
            agent_id: a.id,
            kind: ErasureKind::Erase,
            actor: "key:1".into(),
            conversations: 3,
            messages: 6,
        })
        .await
        .unwrap();
    assert!(r.id > 0);
    s.record_erasure(ErasureRecord {
        kind: ErasureKind::Retention,
        actor: "retention".into(),
        at: 78,
        ..r.clone()
    })
    .await
    .unwrap();
    let log = s.erasures(Some(a.id), 10).await.unwrap();
    assert_eq!(log.iter().map(|r| r.kind).collect::<Vec<_>>(), [ErasureKind::Retention, ErasureKind::Erase]);
    assert_eq!(log[1], r);
    assert_eq!(s.erasures(Some(b.id), 10).await.unwrap(), []);
    assert_eq!(s.erasures(None, 1).await.unwrap().len(), 1);
}

//! The failure metrics (`docs/metrics.md`, *Where the bot fails*) and the conversation list's
//! failure filters, against the in-memory reference: a scenario with every case written out,
//! and a property over random datasets.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;

use agentsight_core::metrics::DEFAULT_ESCALATION_TOOLS;
use agentsight_core::metrics::failures::FailureParams;
use agentsight_core::metrics::query::MetricsQuery;
use agentsight_core::metrics::reference::{self, Dataset};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestRunner};

use super::property::{Conv, RefWriter, parse};
use crate::{
    AgentRef, AgentStore, ConversationFilter, FailuresResponse, MetricsReader, PageRequest, TrackingReader,
    TrackingWriter,
};

const BASE: i64 = 1_772_900_000_000_000; // 2026-03-07T16:13:20Z
const MINUTE: i64 = 60_000_000;
const HOUR: i64 = 60 * MINUTE;

/// Cases the failures property runs (each a fresh store).
pub const FAILURE_PROPERTY_CASES: u32 = 24;

fn escalation() -> Vec<String> {
    DEFAULT_ESCALATION_TOOLS.iter().map(|s| s.to_string()).collect()
}

/// The reference's answer, with the sample conversations' client ids filled in from `ids`.
fn want(
    data: &Dataset,
    q: &MetricsQuery,
    p: &FailureParams,
    agent: &AgentRef,
    ids: &HashMap<i64, String>,
) -> FailuresResponse {
    let mut w = reference::failures(data, q, &escalation(), p, agent.clone());
    for row in &mut w.first_questions.top {
        row.sample_conversation_id = ids.get(&row.sample_conversation).cloned().unwrap_or_default();
    }
    w
}

fn assert_same(what: &str, got: &FailuresResponse, want: &FailuresResponse) {
    let (g, w) = (serde_json::to_value(got).unwrap(), serde_json::to_value(want).unwrap());
    for (k, v) in w.as_object().unwrap() {
        assert!(super::property::close(&g[k], v), "{what}: `{k}` differs:\n got {}\nwant {v}", g[k]);
    }
}

/// The pks a list filter returns among the conversations that started in `q`'s range.
async fn listed<S: TrackingReader>(
    s: &S,
    agent: i64,
    q: &MetricsQuery,
    f: ConversationFilter,
) -> BTreeSet<i64> {
    let (start, end) = q.instants();
    let f = ConversationFilter { started_at_after: Some(start), started_at_before: Some(end - 1), ..f };
    let (_, rows) =
        s.list_conversations(agent, f, PageRequest { page: 1, page_size: 100 }).await.expect("list");
    rows.into_iter().map(|r| r.id).collect()
}

/// Which conversations the reference counts in each failure, found conversation by
/// conversation (a dataset of that conversation alone).
fn expected_sets(data: &Dataset, q: &MetricsQuery, p: &FailureParams) -> HashMap<String, BTreeSet<i64>> {
    let mut sets: HashMap<String, BTreeSet<i64>> = HashMap::new();
    let agent = AgentRef { id: 0, name: String::new() };
    for c in &data.conversations {
        let alone = Dataset {
            conversations: vec![c.clone()],
            entries: data.entries.iter().filter(|e| e.conversation_pk == c.pk).cloned().collect(),
            feedbacks: vec![],
        };
        let r = reference::failures(&alone, q, &escalation(), p, agent.clone());
        let mut put = |k: String, yes: bool| {
            let e = sets.entry(k).or_default();
            if yes {
                e.insert(c.pk);
            }
        };
        put("unanswered".into(), r.unanswered.conversations == 1);
        put("abandoned".into(), r.abandoned.conversations == 1);
        put("tool_error".into(), r.tool_errors.conversations == 1);
        for t in &r.tool_errors.tools {
            put(format!("tool_error_name={}", t.name), t.conversations == 1);
        }
        for b in &r.escalations.by_turns {
            put(format!("turns={}", b.turns), b.conversations == 1);
        }
        put("in_range".into(), r.conversations == 1);
    }
    sets
}

/// Checks the store's answer and every list filter against the reference for one query.
async fn check<S>(s: &S, h: &RefWriter<&S>, q: &MetricsQuery, p: FailureParams)
where
    S: TrackingWriter + MetricsReader + TrackingReader,
{
    let agent = AgentRef { id: h.agent, name: "a".into() };
    let ids: HashMap<i64, String> =
        (0..64).filter_map(|i| h.pk(&format!("c{i}")).map(|pk| (pk, format!("c{i}")))).collect();
    let w = want(&h.data, q, &p, &agent, &ids);
    let got = crate::failures(s, agent.clone(), q.clone(), p, escalation()).await.expect("failures");
    assert_same("the store", &got, &w);
    if !q.filters.to_json().is_empty() {
        return; // the list's own dimension filters are covered by the listing contract tests
    }
    let sets = expected_sets(&h.data, q, &p);
    let none = BTreeSet::new();
    let exp = |k: &str| sets.get(k).unwrap_or(&none).clone();
    let cutoff = p.now - p.idle_minutes * MINUTE;
    let base =
        ConversationFilter { idle_cutoff: cutoff, escalation_tools: escalation(), ..Default::default() };
    let all = exp("in_range");
    for (name, f) in [
        ("unanswered", ConversationFilter { unanswered: Some(true), ..base.clone() }),
        ("abandoned", ConversationFilter { abandoned: Some(true), ..base.clone() }),
        ("tool_error", ConversationFilter { tool_error: Some(true), ..base.clone() }),
    ] {
        let got = listed(s, h.agent, q, f.clone()).await;
        assert_eq!(got, exp(name), "{name}=true");
        let not = match name {
            "unanswered" => ConversationFilter { unanswered: Some(false), ..base.clone() },
            "abandoned" => ConversationFilter { abandoned: Some(false), ..base.clone() },
            _ => ConversationFilter { tool_error: Some(false), ..base.clone() },
        };
        let got = listed(s, h.agent, q, not).await;
        assert_eq!(got, all.difference(&exp(name)).copied().collect(), "{name}=false");
    }
    for t in ["lookup", "ticket", "token_usage"] {
        let f = ConversationFilter { tool_error_name: Some(t.into()), ..base.clone() };
        assert_eq!(
            listed(s, h.agent, q, f).await,
            exp(&format!("tool_error_name={t}")),
            "tool_error_name={t}"
        );
    }
    for k in 0..=3u32 {
        let f = ConversationFilter {
            escalation_turns_min: Some(k),
            escalation_turns_max: Some(k),
            ..base.clone()
        };
        assert_eq!(listed(s, h.agent, q, f).await, exp(&format!("turns={k}")), "escalation turns = {k}");
    }
    let at_least_two: BTreeSet<i64> = (2..=10).flat_map(|k| exp(&format!("turns={k}"))).collect();
    let f = ConversationFilter { escalation_turns_min: Some(2), ..base.clone() };
    assert_eq!(listed(s, h.agent, q, f).await, at_least_two, "escalation turns >= 2");
}

/// A scenario with each case written out (checked against numbers, then the reference):
/// unanswered, answered and abandoned, awaiting (quiet for less than the idle time), a bot
/// that only greeted, an escalation after two user messages and one before any, tool errors
/// in and out of range, `token_usage` errors left out, and first questions that normalize
/// alike.
pub async fn failure_metrics_and_list_filters<S>(s: S)
where
    S: TrackingWriter + AgentStore + MetricsReader + TrackingReader,
{
    let agent = s.create_agent("a".into(), 0).await.expect("create agent").id;
    let mut h = RefWriter::new(&s, agent);
    let t0 = BASE;
    let mut pk = Vec::new();
    for i in 0..7 {
        pk.push(
            h.conversation(Conv { id: format!("c{i}"), started: t0 + i * MINUTE, ..Default::default() })
                .await,
        );
    }
    // c0: unanswered.
    h.message_text(pk[0], "end_user", t0 + HOUR, "Where is my order #A-1234?").await;
    h.message_text(pk[0], "system", t0 + HOUR + MINUTE, "typing").await;
    // c1: answered, then the user left: abandoned.
    h.message_text(pk[1], "end_user", t0 + HOUR, "where is my order a-99").await;
    h.message_text(pk[1], "agent", t0 + HOUR + MINUTE, "It ships today.").await;
    // c2: the last user message 10 minutes before now: awaiting.
    h.message_text(pk[2], "end_user", t0 + 10 * HOUR - 10 * MINUTE, "Hello!!").await;
    // c3: the bot greeted, nobody wrote.
    h.message_text(pk[3], "agent", t0 + HOUR, "Hi, how can I help?").await;
    // c4: escalated after two user messages; ends with the bot: not abandoned.
    h.message_text(pk[4], "end_user", t0 + HOUR, "hello").await;
    h.message_text(pk[4], "agent", t0 + HOUR + 1, "hi").await;
    h.message_text(pk[4], "end_user", t0 + HOUR + 2, "human please").await;
    h.action(pk[4], "fallback_to_human", t0 + HOUR + 3, None, None, None).await;
    h.message_text(pk[4], "agent", t0 + HOUR + 4, "connecting you").await;
    // c5: escalated before the user wrote; a failed lookup; a failed token_usage (not a tool).
    h.action(pk[5], "ticket", t0 + HOUR, None, None, None).await;
    h.message_text(pk[5], "end_user", t0 + HOUR + 1, "???").await;
    h.action(pk[5], "lookup", t0 + HOUR + 2, Some(5), None, Some("timeout")).await;
    h.action(pk[5], "token_usage", t0 + HOUR + 3, None, None, Some("x")).await;
    // c6: a lookup that worked, and one that failed after the range.
    h.action(pk[6], "lookup", t0 + HOUR, Some(7), None, None).await;
    h.action(pk[6], "lookup", t0 + 5 * 24 * HOUR, None, None, Some("boom")).await;

    let q = parse(&[("from", "2026-03-07"), ("to", "2026-03-08")]);
    let p = FailureParams { now: t0 + 10 * HOUR, idle_minutes: 30, top: 2 };
    let a = AgentRef { id: agent, name: "a".into() };
    let got = crate::failures(&s, a.clone(), q.clone(), p, escalation()).await.expect("failures");
    assert_eq!(
        (got.conversations, got.engaged, got.awaiting, got.settled),
        (7, 5, 1, 4),
        "conversations, engaged, awaiting, settled"
    );
    assert_eq!((got.unanswered.conversations, got.unanswered.rate), (2, Some(0.5)), "c0 and c5 unanswered");
    assert_eq!(got.abandoned.conversations, 1, "c1 only (c4 escalated)");
    assert_eq!((got.tool_errors.calls, got.tool_errors.errors, got.tool_errors.conversations), (4, 1, 2));
    let lookup = &got.tool_errors.tools[0];
    assert_eq!(
        (lookup.name.as_str(), lookup.calls, lookup.errors, lookup.conversations),
        ("lookup", 2, 1, 2)
    );
    assert_eq!(got.tool_errors.tools.len(), 1, "token_usage is no tool");
    assert_eq!(got.escalations.conversations, 2);
    assert_eq!(got.escalations.by_turns[0].conversations, 1);
    assert_eq!(got.escalations.by_turns[2].conversations, 1);
    assert!(got.escalations.by_turns[10].or_more && got.escalations.by_turns.len() == 11);
    let top: Vec<(&str, u64, &str)> = got
        .first_questions
        .top
        .iter()
        .map(|r| (r.question.as_str(), r.conversations, r.sample_conversation_id.as_str()))
        .collect();
    assert_eq!(top, vec![("hello", 2, "c2"), ("where is my order <id>", 2, "c0")]);
    assert_eq!(got.first_questions.distinct, 2, "??? is no question");
    check(&s, &h, &q, p).await;
    // Later, c2 is settled and unanswered too; with a long idle time c0 is still live.
    check(&s, &h, &q, FailureParams { now: t0 + 11 * HOUR, ..p }).await;
    check(&s, &h, &q, FailureParams { idle_minutes: 10_080, ..p }).await;
}

#[derive(Clone, Debug)]
enum Op {
    Msg(usize, &'static str, i64, &'static str),
    Act(usize, &'static str, i64, bool),
    Del(usize),
}

/// A case: conversation starts, operations, `now` (after the base), idle minutes, filters.
type Case = (Vec<i64>, Vec<Op>, i64, i64, Vec<(&'static str, &'static str)>);

fn arb_case() -> impl Strategy<Value = Case> {
    prop::collection::vec(0..(72 * HOUR), 1..8).prop_flat_map(|starts| {
        let n = starts.len();
        let t = 0..(80 * HOUR);
        let op = prop_oneof![
            6 => (0..n, prop::sample::select(vec!["end_user", "agent", "system"]), t.clone(),
                  prop::sample::select(vec!["Hello!", "hello", "Where is order #A-12?", "where is order b7", "???", "mail a@b.co"]))
                .prop_map(|(c, s, t, x)| Op::Msg(c, s, BASE + t, x)),
            3 => (0..n, prop::sample::select(vec!["lookup", "token_usage", "fallback_to_human", "ticket"]), t, any::<bool>())
                .prop_map(|(c, name, t, err)| Op::Act(c, name, BASE + t, err)),
            1 => (0..n).prop_map(Op::Del),
        ];
        (
            Just(starts),
            prop::collection::vec(op, 0..40),
            0..(90 * HOUR),
            prop::sample::select(vec![1i64, 30, 600]),
            prop::collection::vec(
                prop::sample::select(vec![("tz", "America/New_York"), ("tz", "Asia/Kathmandu"), ("source", "unknown")]),
                0..2,
            ),
        )
    })
}

/// The property: for [`FAILURE_PROPERTY_CASES`] random datasets written to a fresh store
/// from `make`, the failure metrics equal the reference's at a random `now` and idle time, and
/// (without dimension filters) every failure filter of the conversation list returns exactly
/// the conversations the reference counts.
pub fn failures_agree_with_reference<S, G, Mk, Fut>(make: Mk)
where
    S: TrackingWriter + AgentStore + MetricsReader + TrackingReader,
    Mk: Fn() -> Fut,
    Fut: Future<Output = (S, G)>,
{
    let config = Config {
        cases: FAILURE_PROPERTY_CASES,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/failures.proptest-regressions",
        ))),
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&arb_case(), |(starts, ops, now, idle, filters)| {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        rt.block_on(async {
            let (store, _guard) = make().await;
            let agent = store.create_agent("a".into(), 0).await.expect("create agent").id;
            let mut h = RefWriter::new(&store, agent);
            let mut pks = Vec::new();
            for (i, off) in starts.into_iter().enumerate() {
                pks.push(
                    h.conversation(Conv { id: format!("c{i}"), started: BASE + off, ..Default::default() })
                        .await,
                );
            }
            for op in ops {
                match op {
                    Op::Msg(c, s, ts, text) => h.message_text(pks[c], s, ts, text).await,
                    Op::Act(c, name, ts, err) => {
                        h.action(pks[c], name, ts, None, None, err.then_some("failed")).await
                    }
                    Op::Del(c) => h.delete(pks[c]).await,
                }
            }
            let mut params: Vec<(&str, &str)> = vec![("from", "2026-03-07"), ("to", "2026-03-09")];
            for f in filters {
                if !params.iter().any(|p| p.0 == f.0) {
                    params.push(f);
                }
            }
            let q = parse(&params);
            check(&store, &h, &q, FailureParams { now: BASE + now, idle_minutes: idle, top: 3 }).await;
        });
        Ok(())
    });
    if let Err(e) = result {
        panic!("the store's failure metrics and the reference differ: {e}");
    }
}

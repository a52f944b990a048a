//! The metrics property test, generic over the backend: random conversations, messages,
//! actions, buttons, feedback, upserts and soft deletes written through [`TrackingWriter`],
//! and every metric of [`MetricsReader::overview`] and [`MetricsReader::timeseries`] compared
//! with the in-memory reference of `agentsight_core::metrics::reference`.

use std::collections::HashMap;
use std::future::Future;

use agentsight_core::metrics::DEFAULT_ESCALATION_TOOLS;
use agentsight_core::metrics::query::{self, MetricsQuery};
use agentsight_core::metrics::reference::{self, Dataset, EntryKind, RefConversation, RefEntry, RefFeedback};
use agentsight_core::metrics::series::{Interval, SeriesMetric};
use agentsight_core::time::Micros;
use agentsight_core::tracking::{
    ConversationFields, ConversationPatch, ConversationRef, ConversationUpsert, FeedbackSource, Location,
    NewAction, NewButton, NewFeedback, NewMessage,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestRunner};
use serde_json::{Value, json};

use crate::{AgentRef, AgentStore, MetricsReader, OverviewResponse, TrackingWriter};

/// Cases the property runs (each a fresh store).
pub const PROPERTY_CASES: u32 = 48;

/// Where the seeds of past failures are kept and replayed first, relative to the crate that
/// runs the property (cargo runs tests in the package's directory).
pub const REGRESSIONS: &str = "tests/metrics.proptest-regressions";

/// What a backend's extra check of one case gets: the case's query and the reference's answer.
#[derive(Debug)]
pub struct Expected<'a> {
    /// The agent.
    pub agent: AgentRef,
    /// The query.
    pub query: &'a MetricsQuery,
    /// The escalation tool names.
    pub escalation: &'a [String],
    /// The reference's overview.
    pub want: &'a OverviewResponse,
}

/// Writes a dataset through a store and keeps the reference's copy of it, with the store's ids:
/// the property below uses it, and a backend's own scenario tests can too.
pub struct RefWriter<D> {
    /// The store written to (a reference, a `Box` or an `Arc` of it).
    pub store: D,
    /// The agent everything is written for.
    pub agent: i64,
    /// The reference's copy of what was written.
    pub data: Dataset,
    pks: HashMap<String, i64>,
}

/// A conversation to write: its client id, start, and dimensions.
#[derive(Clone, Debug, Default)]
pub struct Conv {
    /// The client's conversation id.
    pub id: String,
    /// When it started.
    pub started: Micros,
    /// Whether it is used.
    pub is_used: bool,
    /// Device.
    pub device: Option<String>,
    /// Source.
    pub source: Option<String>,
    /// Language.
    pub language: Option<String>,
    /// Country (a location with it).
    pub country: Option<String>,
    /// City (with coordinates).
    pub city: Option<String>,
    /// Customer id.
    pub customer: Option<String>,
    /// Environment slug.
    pub environment: Option<String>,
    /// Metadata document.
    pub metadata: Option<Value>,
}

impl<D: std::ops::Deref<Target: TrackingWriter>> RefWriter<D> {
    /// A writer for `agent` of `store`, with nothing written yet.
    pub fn new(store: D, agent: i64) -> Self {
        RefWriter { store, agent, data: Dataset::default(), pks: HashMap::new() }
    }

    /// The pk of a conversation written by its client id.
    pub fn pk(&self, id: &str) -> Option<i64> {
        self.pks.get(id).copied()
    }

    /// Upserts a conversation; its pk.
    pub async fn conversation(&mut self, c: Conv) -> i64 {
        let location = c.country.clone().map(|country| Location {
            country,
            city: c.city.clone(),
            latitude: c.city.as_ref().map(|_| 45.8),
            longitude: c.city.as_ref().map(|_| 15.97),
            region: None,
        });
        let up = self
            .store
            .upsert_conversation(ConversationUpsert {
                agent_id: self.agent,
                conversation_id: c.id.clone(),
                fields: ConversationFields {
                    customer_id: c.customer.clone(),
                    device: c.device.clone(),
                    source: c.source.clone(),
                    language: c.language.clone(),
                    environment: c.environment.clone(),
                    metadata: c.metadata.as_ref().map(|m| m.to_string()),
                    location: location.clone(),
                    ..Default::default()
                },
                is_used: c.is_used,
                event_time: c.started,
                received_at: c.started,
            })
            .await
            .unwrap();
        let pk = up.row.id;
        self.pks.insert(c.id.clone(), pk);
        self.data.conversations.push(RefConversation {
            pk,
            started_at: c.started,
            ended_at: None,
            customer_id: c.customer,
            device: c.device,
            source: c.source,
            language: c.language,
            environment: c.environment,
            country: c.country,
            city: location.as_ref().and_then(|l| l.city.clone()),
            lat: location.as_ref().and_then(|l| l.latitude),
            lon: location.as_ref().and_then(|l| l.longitude),
            is_used: c.is_used,
            is_deleted: false,
            metadata: c.metadata.unwrap_or_else(|| json!({})),
        });
        pk
    }

    /// A later upsert of the same conversation: a given field replaces the stored one (a null
    /// never erases), and a given metadata document replaces the stored one.
    pub async fn update(&mut self, pk: i64, device: Option<&str>, metadata: Option<Value>) {
        let cid = self.pks.iter().find(|(_, v)| **v == pk).map(|(k, _)| k.clone()).unwrap();
        self.store
            .upsert_conversation(ConversationUpsert {
                agent_id: self.agent,
                conversation_id: cid,
                fields: ConversationFields {
                    device: device.map(str::to_string),
                    metadata: metadata.as_ref().map(|m| m.to_string()),
                    ..Default::default()
                },
                is_used: false,
                event_time: BASE,
                received_at: BASE,
            })
            .await
            .unwrap();
        let c = self.data.conversations.iter_mut().find(|c| c.pk == pk).unwrap();
        if let Some(d) = device {
            c.device = Some(d.to_string());
        }
        if let Some(m) = metadata {
            c.metadata = m;
        }
    }

    /// Soft-deletes a conversation.
    pub async fn delete(&mut self, pk: i64) {
        let patch = ConversationPatch { delete: true, ..Default::default() };
        self.store.patch_conversation(self.agent, pk, patch, BASE).await.unwrap().unwrap();
        self.data.conversations.iter_mut().find(|c| c.pk == pk).unwrap().is_deleted = true;
    }

    fn mark_used(&mut self, pk: i64) {
        if let Some(c) = self.data.conversations.iter_mut().find(|c| c.pk == pk) {
            c.is_used = true;
        }
    }

    /// A message of `sender` at `ts`.
    pub async fn message(&mut self, pk: i64, sender: &str, ts: Micros) {
        let m = self
            .store
            .insert_message(NewMessage {
                agent_id: self.agent,
                conversation: ConversationRef::Pk(pk),
                sender: sender.into(),
                content: "x".into(),
                metadata: "{}".into(),
                event_time: ts,
                received_at: ts,
            })
            .await
            .unwrap();
        self.mark_used(pk);
        self.data.entries.push(RefEntry {
            id: m.id,
            conversation_pk: pk,
            ts,
            kind: EntryKind::Message { sender: sender.into() },
        });
    }

    /// An action (tool call) with its duration, span and error.
    pub async fn action(
        &mut self,
        pk: i64,
        name: &str,
        ts: Micros,
        duration_ms: Option<i64>,
        span: Option<(Micros, Micros)>,
        error: Option<&str>,
    ) {
        let a = self
            .store
            .insert_action(NewAction {
                agent_id: self.agent,
                conversation: ConversationRef::Pk(pk),
                action_name: name.into(),
                event_time: span.map(|s| s.0).unwrap_or(ts),
                started_at: span.map(|s| s.0),
                ended_at: span.map(|s| s.1),
                duration_ms,
                tools_used: None,
                response: None,
                error_msg: error.map(str::to_string),
                metadata: "{}".into(),
                received_at: ts,
            })
            .await
            .unwrap();
        self.mark_used(pk);
        self.data.entries.push(RefEntry {
            id: a.message_id,
            conversation_pk: pk,
            ts: span.map(|s| s.0).unwrap_or(ts),
            kind: EntryKind::Action {
                name: name.into(),
                duration_ms,
                started_at: span.map(|s| s.0),
                ended_at: span.map(|s| s.1),
                error: error.map(str::to_string),
            },
        });
    }

    /// A button press.
    pub async fn button(&mut self, pk: i64, ts: Micros) {
        let b = self
            .store
            .insert_button(NewButton {
                agent_id: self.agent,
                conversation: ConversationRef::Pk(pk),
                button_event: "feedback".into(),
                label: "Yes".into(),
                value: "yes".into(),
                metadata: "{}".into(),
                event_time: ts,
                received_at: ts,
            })
            .await
            .unwrap();
        self.mark_used(pk);
        self.data.entries.push(RefEntry {
            id: b.message_id,
            conversation_pk: pk,
            ts,
            kind: EntryKind::Button,
        });
    }

    /// Conversation feedback from the customer.
    pub async fn feedback(&mut self, pk: i64, sentiment: &str, at: Micros) {
        let f = self
            .store
            .insert_feedback(NewFeedback {
                agent_id: self.agent,
                conversation: ConversationRef::Pk(pk),
                sentiment: sentiment.into(),
                source: FeedbackSource::Customer,
                comment: None,
                metadata: "{}".into(),
                created_at: at,
            })
            .await
            .unwrap();
        self.data.feedbacks.push(RefFeedback {
            id: f.id,
            conversation_pk: pk,
            created_at: at,
            sentiment: sentiment.into(),
        });
    }
}

fn parse(params: &[(&str, &str)]) -> MetricsQuery {
    let map: HashMap<String, String> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    query::parse(&map, &["production".to_string(), "development".to_string()], 0).expect("a metrics query")
}

/// Equal, with floats compared to 1e-9 relative (sums may add in another order).
pub fn close(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0)
        }
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| close(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| close(v, w)))
        }
        _ => a == b,
    }
}

/// Compares two overviews field by field, naming the fields that differ.
pub fn assert_same(plan: &str, got: &OverviewResponse, want: &OverviewResponse) {
    let g = serde_json::to_value(got).unwrap();
    let w = serde_json::to_value(want).unwrap();
    let diff: Vec<String> = g
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, v)| !close(v, &w[k.as_str()]))
        .map(|(k, v)| format!("{k}: store {v} / reference {}", w[k.as_str()]))
        .collect();
    assert!(diff.is_empty(), "{plan} and reference differ:\n{}", diff.join("\n"));
}

#[derive(Clone, Debug)]
enum Op {
    Msg(usize, &'static str, i64),
    Act(usize, &'static str, i64, Option<i64>, Option<(i64, i64)>, bool),
    Btn(usize, i64),
    Fb(usize, &'static str, i64),
    Upd(usize, Option<&'static str>, Option<Value>),
    Del(usize),
}

const BASE: i64 = 1_772_900_000_000_000; // 2026-03-07T16:13:20Z, a day before New York's DST change
const HOUR: i64 = 3_600_000_000;

fn arb_conv() -> impl Strategy<Value = Conv> {
    (
        0..(72 * HOUR),
        any::<bool>(),
        prop::option::of(prop::sample::select(vec!["mobile", "desktop", "tablet"])),
        prop::option::of(prop::sample::select(vec!["web", "whatsapp"])),
        prop::option::of(prop::sample::select(vec!["en", "de"])),
        prop::option::of(prop::sample::select(vec!["HR", "US"])),
        prop::option::of(prop::sample::select(vec!["u1", "u2", "u3", ""])),
        prop::option::of(prop::sample::select(vec!["production", "development"])),
        prop::option::of(prop::sample::select(vec![
            json!({"feedback": 4}),
            json!({"feedback": "negative", "plan": "pro"}),
            json!({"feedback": {"rating": 2}, "plan": 1}),
            json!({"plan": true}),
            json!({"plan": "pro"}),
        ])),
    )
        .prop_map(|(off, used, device, source, language, country, customer, env, meta)| Conv {
            id: String::new(),
            started: BASE + off,
            is_used: used,
            device: device.map(str::to_string),
            source: source.map(str::to_string),
            language: language.map(str::to_string),
            city: country.map(|c| if c == "HR" { "Zagreb" } else { "Boston" }.to_string()),
            country: country.map(str::to_string),
            customer: customer.map(str::to_string),
            environment: env.map(str::to_string),
            metadata: meta,
        })
}

fn arb_op(n: usize) -> impl Strategy<Value = Op> {
    let t = 0..(80 * HOUR);
    prop_oneof![
        6 => (0..n, prop::sample::select(vec!["end_user", "agent", "system"]), t.clone()).prop_map(|(c, s, t)| Op::Msg(c, s, BASE + t)),
        2 => (0..n, prop::sample::select(vec!["lookup", "token_usage", "fallback_to_human", "ticket"]), t.clone(),
              prop::option::of(0i64..5000), prop::option::of((0i64..HOUR, 0i64..10_000_000)), any::<bool>())
            .prop_map(|(c, name, t, d, span, err)| Op::Act(c, name, BASE + t, d, span.map(|(s, len)| (BASE + s, BASE + s + len)), err)),
        1 => (0..n, t.clone()).prop_map(|(c, t)| Op::Btn(c, BASE + t)),
        1 => (0..n, prop::sample::select(vec!["positive", "neutral", "negative"]), t).prop_map(|(c, s, t)| Op::Fb(c, s, BASE + t)),
        1 => (0..n, prop::option::of(prop::sample::select(vec!["mobile", "tablet"])),
              prop::option::of(prop::sample::select(vec![json!({}), json!({"plan": "pro", "feedback": true}), json!({"feedback": 1.5})])))
            .prop_map(|(c, d, m)| Op::Upd(c, d, m)),
        1 => (0..n).prop_map(Op::Del),
    ]
}

fn arb_case() -> impl Strategy<Value = (Vec<Conv>, Vec<Op>, Vec<(&'static str, &'static str)>)> {
    prop::collection::vec(arb_conv(), 1..8).prop_flat_map(|convs| {
        let n = convs.len();
        (
            Just(convs),
            prop::collection::vec(arb_op(n), 0..40),
            prop::collection::vec(
                prop::sample::select(vec![
                    ("tz", "America/New_York"),
                    ("tz", "Asia/Kathmandu"),
                    ("tz", "Australia/Lord_Howe"),
                    ("device", "mobile"),
                    ("device", "unknown"),
                    ("source", "web"),
                    ("language", "unknown"),
                    ("country", "HR"),
                    ("customer_id", "u1"),
                    ("environment", "production"),
                    ("metadata", "plan:pro"),
                    ("metadata", "plan:1"),
                    ("metadata", "plan:true"),
                ]),
                0..3,
            ),
        )
    })
}

/// Checks every time series against the reference's overview: by day, messages and
/// conversations equal the overview's daily rows; at every interval the buckets of a count sum
/// to its total, and the response time buckets weighted by the bot responses average to the
/// overview's.
async fn check_series<S: MetricsReader>(
    store: &S,
    agent: &AgentRef,
    q: &MetricsQuery,
    want: &OverviewResponse,
) {
    let tools: u64 = want.tools.iter().map(|t| t.calls).sum();
    for interval in [Interval::Hour, Interval::Day, Interval::Week] {
        let mut bot = Vec::new();
        for metric in SeriesMetric::ALL {
            let s = store.timeseries(agent.clone(), q.clone(), metric, interval).await.expect("timeseries");
            let values: Vec<Option<f64>> = s.points.iter().map(|p| p.value).collect();
            let sum: f64 = values.iter().flatten().sum();
            let what = format!("{} by {}", metric.name(), interval.name());
            let total = match metric {
                SeriesMetric::Messages => Some(want.total_messages),
                SeriesMetric::Conversations => Some(want.total_conversations),
                SeriesMetric::UniqueInteractions => Some(want.unique_interactions),
                SeriesMetric::BotResponses => Some(want.bot_responses),
                SeriesMetric::ToolCalls => Some(tools),
                SeriesMetric::AvgBotResponseTimeMs => None,
            };
            if let Some(total) = total {
                assert_eq!(sum, total as f64, "{what}: the buckets sum to the reference's total");
            }
            if interval == Interval::Day {
                let daily: Option<Vec<f64>> = match metric {
                    SeriesMetric::Messages => Some(want.daily.iter().map(|d| d.messages as f64).collect()),
                    SeriesMetric::Conversations => {
                        Some(want.daily.iter().map(|d| d.conversations as f64).collect())
                    }
                    _ => None,
                };
                if let Some(daily) = daily {
                    let got: Vec<f64> = values.iter().map(|v| v.unwrap_or(0.0)).collect();
                    assert_eq!(got, daily, "{what}: the reference's daily rows");
                }
            }
            match metric {
                SeriesMetric::BotResponses => bot = values,
                SeriesMetric::AvgBotResponseTimeMs => {
                    assert_eq!(values.len(), bot.len(), "{what}: one bucket per bot responses bucket");
                    let (mut n, mut total) = (0.0, 0.0);
                    for (avg, count) in values.iter().zip(&bot) {
                        let count = count.unwrap_or(0.0);
                        assert_eq!(avg.is_some(), count > 0.0, "{what}: null exactly where no responses");
                        n += count;
                        total += avg.unwrap_or(0.0) * count;
                    }
                    let avg = (n > 0.0).then(|| total / n);
                    let ok = match (avg, want.avg_bot_response_time_ms) {
                        (Some(x), Some(y)) => (x - y).abs() <= 1e-6 * x.abs().max(y.abs()).max(1.0),
                        (x, y) => x == y,
                    };
                    assert!(ok, "{what}: weighted {avg:?} / reference {:?}", want.avg_bot_response_time_ms);
                }
                _ => {}
            }
        }
    }
}

/// The property: for [`PROPERTY_CASES`] random datasets, each written to a fresh store from
/// `make` (which returns the store and whatever must live as long as it, e.g. a temporary
/// directory), [`MetricsReader::overview`] equals the reference's overview field by field and
/// every [`MetricsReader::timeseries`] agrees with it (see `check_series`). `extra` then runs a
/// backend's own checks of the case (another engine or plan against the same expectation).
/// Panics with the smallest failing case.
pub fn metrics_agree_with_reference<S, G, Mk, Fut, X>(make: Mk, extra: X)
where
    S: TrackingWriter + AgentStore + MetricsReader,
    Mk: Fn() -> Fut,
    Fut: Future<Output = (S, G)>,
    X: AsyncFn(&S, Expected<'_>),
{
    let config = Config {
        cases: PROPERTY_CASES,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(REGRESSIONS))),
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&arb_case(), |(convs, ops, filters)| {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        rt.block_on(async {
            let (store, _guard) = make().await;
            let agent = store.create_agent("a".into(), 0).await.expect("create agent").id;
            let mut h = RefWriter::new(&store, agent);
            let mut pks = Vec::new();
            for (i, mut c) in convs.into_iter().enumerate() {
                c.id = format!("c{i}");
                pks.push(h.conversation(c).await);
            }
            for op in ops {
                match op {
                    Op::Msg(c, s, ts) => h.message(pks[c], s, ts).await,
                    Op::Act(c, name, ts, d, span, err) => {
                        h.action(pks[c], name, ts, d, span, err.then_some("failed")).await
                    }
                    Op::Btn(c, ts) => h.button(pks[c], ts).await,
                    Op::Fb(c, s, ts) => h.feedback(pks[c], s, ts).await,
                    Op::Upd(c, d, m) => h.update(pks[c], d, m).await,
                    Op::Del(c) => h.delete(pks[c]).await,
                }
            }
            let mut params: Vec<(&str, &str)> = vec![("from", "2026-03-07"), ("to", "2026-03-10")];
            let mut seen = std::collections::HashSet::new();
            for f in filters {
                if seen.insert(f.0) {
                    params.push(f);
                }
            }
            let q = parse(&params);
            let escalation: Vec<String> = DEFAULT_ESCALATION_TOOLS.iter().map(|s| s.to_string()).collect();
            let agent = AgentRef { id: h.agent, name: "a".into() };
            let want = reference::overview(&h.data, &q, &escalation, agent.clone());
            let got = store.overview(agent.clone(), q.clone(), escalation.clone()).await.expect("overview");
            assert_same("the store", &got, &want);
            check_series(&store, &agent, &q, &want).await;
            extra(&store, Expected { agent, query: &q, escalation: &escalation, want: &want }).await;
        });
        Ok(())
    });
    if let Err(e) = result {
        panic!("the store and the reference differ: {e}");
    }
}

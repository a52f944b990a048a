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
    /// What was written (the reference's copy), for checks of other answers.
    pub data: &'a Dataset,
}

/// The query ranges the users-over-time checks use besides the case's own (`from`, `to`): two
/// days whose users may have been first seen before them, and one day.
pub const USERS_RANGES: [(&str, &str); 2] = [("2026-03-09", "2026-03-10"), ("2026-03-08", "2026-03-08")];

/// `params` with its range replaced by `from`..`to`.
pub fn with_range<'p>(params: &[(&'p str, &'p str)], from: &'p str, to: &'p str) -> Vec<(&'p str, &'p str)> {
    let mut p: Vec<(&str, &str)> =
        params.iter().filter(|(k, _)| *k != "from" && *k != "to").copied().collect();
    p.push(("from", from));
    p.push(("to", to));
    p
}

/// Checks [`MetricsReader::users`] for `params` by day and by week against the reference, and
/// its totals against the reference overview's `unique_users`.
pub async fn check_users<S: MetricsReader>(
    store: &S,
    data: &Dataset,
    agent: &AgentRef,
    params: &[(&str, &str)],
) {
    let q = parse(params);
    for interval in [Interval::Day, Interval::Week] {
        let want = reference::users(data, &q, interval, agent.clone());
        let got = store.users(agent.clone(), q.clone(), interval).await.expect("users");
        assert_eq!(got, want, "users over time by {} for {params:?}", interval.name());
        let o = reference::overview(data, &q, &[], agent.clone());
        assert_eq!(got.totals.users, o.unique_users, "users of the range are the overview's unique users");
    }
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
        self.message_text(pk, sender, ts, "x").await
    }

    /// A message of `sender` at `ts` saying `content`.
    pub async fn message_text(&mut self, pk: i64, sender: &str, ts: Micros, content: &str) {
        let m = self
            .store
            .insert_message(NewMessage {
                agent_id: self.agent,
                conversation: ConversationRef::Pk(pk),
                sender: sender.into(),
                content: content.into(),
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
            kind: EntryKind::Message { sender: sender.into(), content: content.into() },
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

pub(crate) fn parse(params: &[(&str, &str)]) -> MetricsQuery {
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
    for interval in [Interval::Hour, Interval::Day, Interval::Week, Interval::Month] {
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

/// Checks `compare=mode` for the range of `params`: the overview with its `previous` (through
/// [`crate::overview_compared`], as the API answers it) equals the reference's overview of the
/// range with, as `previous`, the reference's overview of the compared range; the daily series
/// of messages with its `previous` equals the two overviews' daily rows.
async fn check_compared<S: MetricsReader>(
    store: &S,
    data: &Dataset,
    agent: &AgentRef,
    escalation: &[String],
    params: &[(&str, &str)],
    mode: &str,
) {
    let q = parse(params);
    let asked: HashMap<String, String> = [("compare".to_string(), mode.to_string())].into();
    let (_, compared) = query::parse_compare(&q, &asked).expect("a comparison").expect("compare is set");
    let want = reference::overview_compared(data, &q, Some(&compared), escalation, agent.clone());
    let previous = want.previous.as_deref().expect("the reference's previous");
    assert_eq!(previous.range, compared.range_ref());
    let got = crate::overview_compared(
        store,
        agent.clone(),
        q.clone(),
        Some(compared.clone()),
        escalation.to_vec(),
    )
    .await
    .expect("overview");
    assert_same(&format!("compare={mode}"), &got, &want);
    let series = crate::timeseries_compared(
        store,
        agent.clone(),
        q,
        Some(compared),
        SeriesMetric::Messages,
        Interval::Day,
    )
    .await
    .expect("timeseries");
    let values =
        |s: &crate::TimeseriesResponse| s.points.iter().map(|p| p.value.unwrap_or(-1.0)).collect::<Vec<_>>();
    let daily = |o: &OverviewResponse| o.daily.iter().map(|d| d.messages as f64).collect::<Vec<_>>();
    assert_eq!(values(&series), daily(&want), "compare={mode}: messages by day");
    let prev = series.previous.as_deref().expect("the series' previous");
    assert_eq!(
        (&prev.range, values(prev)),
        (&previous.range, daily(previous)),
        "compare={mode}: previous by day"
    );
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
            check_users(&store, &h.data, &agent, &params).await;
            for (from, to) in USERS_RANGES {
                check_users(&store, &h.data, &agent, &with_range(&params, from, to)).await;
            }
            // The comparisons: the previous two days (with data), and a year back from 2027
            // (the data's dates), the filters and zone of the case kept.
            for (mode, from, to) in
                [("previous", "2026-03-09", "2026-03-10"), ("year", "2027-03-07", "2027-03-10")]
            {
                let mut cp = params.clone();
                cp[0] = ("from", from);
                cp[1] = ("to", to);
                check_compared(&store, &h.data, &agent, &escalation, &cp, mode).await;
            }
            extra(&store, Expected { agent, query: &q, escalation: &escalation, want: &want, data: &h.data })
                .await;
        });
        Ok(())
    });
    if let Err(e) = result {
        panic!("the store and the reference differ: {e}");
    }
}

/// [`metrics_agree_with_reference`] with no backend-specific check of each case.
pub fn metrics_agree_with_reference_alone<S, G, Mk, Fut>(make: Mk)
where
    S: TrackingWriter + AgentStore + MetricsReader,
    Mk: Fn() -> Fut,
    Fut: Future<Output = (S, G)>,
{
    metrics_agree_with_reference(make, async |_: &S, _: Expected<'_>| {});
}

/// Edges of the metrics, each overview checked against the reference and each hourly series
/// against the reference's buckets: two filters at once (a dimension with metadata, `unknown`
/// with a value), a conversation whose update moved it out of a filter, a soft delete, local
/// days and hours across daylight-saving changes (New York's 23- and 25-hour days, Lord Howe's
/// half-hour shift), a range with no data, a filter that matches nothing, and `compare=previous`
/// and `compare=year` whose compared ranges hold the data, and calendar months.
pub async fn metrics_edges_filters_zones_and_empty_ranges<S>(s: S)
where
    S: TrackingWriter + AgentStore + MetricsReader,
{
    let t = |x: &str| agentsight_core::time::parse_timestamp(x).expect("a timestamp");
    let agent_id = s.create_agent("a".into(), 0).await.expect("create agent").id;
    let mut h = RefWriter::new(&s, agent_id);
    let conv = |id: &str, started: &str, device: Option<&str>, source: Option<&str>, meta: Value| Conv {
        id: id.into(),
        started: t(started),
        is_used: true,
        device: device.map(str::to_string),
        source: source.map(str::to_string),
        country: (id == "c0").then(|| "HR".to_string()),
        city: (id == "c0").then(|| "Zagreb".to_string()),
        customer: Some(format!("u-{id}")),
        environment: (id != "c3").then(|| "production".to_string()),
        language: (id == "c2").then(|| "en".to_string()),
        metadata: Some(meta),
    };
    // New York falls back on 2026-11-01 at 06:00Z (a 25-hour local day from 04:00Z).
    let c0 = h
        .conversation(conv(
            "c0",
            "2026-11-01T04:30:00Z",
            Some("mobile"),
            Some("web"),
            json!({"plan": "pro", "feedback": 5}),
        ))
        .await;
    let c1 = h
        .conversation(conv("c1", "2026-11-01T05:10:00Z", Some("mobile"), None, json!({"plan": "pro"})))
        .await;
    let c2 = h
        .conversation(conv("c2", "2026-11-01T07:00:00Z", Some("desktop"), Some("web"), json!({"plan": 1})))
        .await;
    let c3 =
        h.conversation(conv("c3", "2026-11-01T08:00:00Z", None, Some("web"), json!({"plan": "pro"}))).await;
    // Spring forward on 2026-03-08 (a 23-hour day) and Lord Howe's half hour back on
    // 2026-04-05 at 15:00Z (02:00 +11:00 becomes 01:30 +10:30).
    let c4 = h.conversation(conv("c4", "2026-03-08T06:59:00Z", None, None, json!({}))).await;
    let c5 = h.conversation(conv("c5", "2026-04-04T14:40:00Z", Some("tablet"), None, json!({}))).await;
    for (pk, sender, at) in [
        (c0, "end_user", "2026-11-01T05:30:00Z"), // 01:30 EDT
        (c0, "agent", "2026-11-01T06:30:00Z"),    // 01:30 EST: a one-hour reply across the change
        (c0, "agent", "2026-11-01T06:31:00Z"),
        (c1, "end_user", "2026-11-01T05:59:59Z"),
        (c1, "system", "2026-11-01T06:00:00Z"),
        (c2, "end_user", "2026-11-02T04:59:59Z"), // the 25-hour day's last second
        (c2, "agent", "2026-11-02T05:00:00Z"),    // the next day
        (c3, "end_user", "2026-11-01T08:00:00Z"),
        (c3, "agent", "2026-11-01T08:00:02Z"),
        (c4, "end_user", "2026-03-08T06:59:00Z"), // 01:59 EST
        (c4, "agent", "2026-03-08T07:00:00Z"),    // 03:00 EDT
        (c5, "end_user", "2026-04-04T14:45:00Z"), // 01:45 +11:00
        (c5, "agent", "2026-04-04T15:15:00Z"),    // 01:45 +10:30
        (c5, "end_user", "2026-04-04T15:45:00Z"), // 02:15 +10:30
    ] {
        h.message(pk, sender, t(at)).await;
    }
    h.action(c0, "fallback_to_human", t("2026-11-01T05:40:00Z"), Some(30), None, None).await;
    h.action(
        c1,
        "lookup",
        t("2026-11-01T06:10:00Z"),
        None,
        Some((t("2026-11-01T06:10:00Z"), t("2026-11-01T06:10:01Z"))),
        Some("boom"),
    )
    .await;
    h.feedback(c2, "negative", t("2026-11-01T09:00:00Z")).await;
    // c1 leaves the mobile filter; c3 is soft-deleted with everything in it.
    h.update(c1, Some("tablet"), None).await;
    h.delete(c3).await;

    let escalation: Vec<String> = DEFAULT_ESCALATION_TOOLS.iter().map(|s| s.to_string()).collect();
    let agent = AgentRef { id: agent_id, name: "a".into() };
    let ny = [("from", "2026-10-31"), ("to", "2026-11-02"), ("tz", "America/New_York")];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut p: Vec<(&str, &str)> = ny.to_vec();
        p.extend_from_slice(extra);
        p
    };
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (ny.to_vec(), "New York across the fall-back day"),
        (with(&[("device", "mobile"), ("metadata", "plan:pro")]), "a dimension and metadata"),
        (with(&[("country", "unknown"), ("source", "web")]), "unknown and a value"),
        (with(&[("language", "unknown"), ("environment", "production")]), "unknown and an environment"),
        (with(&[("metadata", "plan:1"), ("source", "web")]), "an integer in metadata"),
        (with(&[("customer_id", "nobody")]), "a filter matching nothing"),
        (vec![("from", "2026-03-08"), ("to", "2026-03-08"), ("tz", "America/New_York")], "the 23-hour day"),
        (
            vec![("from", "2026-04-04"), ("to", "2026-04-05"), ("tz", "Australia/Lord_Howe")],
            "a half-hour shift",
        ),
        (
            vec![("from", "2027-01-01"), ("to", "2027-01-03"), ("tz", "Asia/Kathmandu")],
            "a range with no data",
        ),
    ];
    for (params, what) in cases {
        let q = parse(&params);
        let want = reference::overview(&h.data, &q, &escalation, agent.clone());
        let got = s.overview(agent.clone(), q.clone(), escalation.clone()).await.expect("overview");
        assert_same(what, &got, &want);
        // The hourly series of messages against the reference's messages, bucket by bucket.
        let buckets = agentsight_core::metrics::series::Buckets::new(&q, Interval::Hour);
        let mut expected = vec![0.0; buckets.len()];
        let one_day = q.days() == 1;
        for e in &h.data.entries {
            if !matches!(e.kind, EntryKind::Message { .. }) {
                continue;
            }
            let mut alone = Dataset { conversations: h.data.conversations.clone(), ..Default::default() };
            alone.entries.push(e.clone());
            if reference::overview(&alone, &q, &escalation, agent.clone()).total_messages == 1
                && let Some(i) = buckets.of(e.ts)
            {
                expected[i] += 1.0;
            }
        }
        let series = s
            .timeseries(agent.clone(), q.clone(), SeriesMetric::Messages, Interval::Hour)
            .await
            .expect("series");
        let got: Vec<f64> = series.points.iter().map(|p| p.value.unwrap_or(-1.0)).collect();
        assert_eq!(got, expected, "{what}: messages by local hour");
        if one_day && params.iter().any(|p| p.1 == "America/New_York") {
            assert_eq!(got.len(), 23, "{what}: the spring-forward day has 23 hours");
        }
    }
    // Calendar months across both of New York's changes: each bucket (the first clipped to the
    // range) equals the reference's overview of its days.
    let q = parse(&[("from", "2026-03-05"), ("to", "2026-11-30"), ("tz", "America/New_York")]);
    for metric in [SeriesMetric::Messages, SeriesMetric::Conversations, SeriesMetric::BotResponses] {
        let months =
            s.timeseries(agent.clone(), q.clone(), metric, Interval::Month).await.expect("series by month");
        let starts: Vec<String> = months.points.iter().map(|p| p.start.clone()).collect();
        assert_eq!(starts.len(), 9, "March to November");
        assert_eq!((starts[0].as_str(), starts[1].as_str()), ("2026-03-05", "2026-04-01"));
        for (i, p) in months.points.iter().enumerate() {
            let last = match starts.get(i + 1) {
                Some(next) => {
                    agentsight_core::time::parse_date(next).expect("a day").pred_opt().expect("a day")
                }
                None => q.to,
            }
            .to_string();
            let m = parse(&[("from", &p.start), ("to", &last), ("tz", "America/New_York")]);
            let want = reference::overview(&h.data, &m, &escalation, agent.clone());
            let n = match metric {
                SeriesMetric::Messages => want.total_messages,
                SeriesMetric::Conversations => want.total_conversations,
                _ => want.bot_responses,
            };
            assert_eq!(p.value, Some(n as f64), "{} in the month from {}", metric.name(), p.start);
        }
    }
    // Comparisons whose compared range holds the data: the three days before, and a year back.
    for (mode, from, to) in [("previous", "2026-11-03", "2026-11-05"), ("year", "2027-10-31", "2027-11-02")] {
        let params = [("from", from), ("to", to), ("tz", "America/New_York")];
        check_compared(&s, &h.data, &agent, &escalation, &params, mode).await;
    }
    let q = parse(&[("from", "2027-10-31"), ("to", "2027-11-02"), ("tz", "America/New_York")]);
    let asked: HashMap<String, String> = [("compare".to_string(), "year".to_string())].into();
    let year = query::parse_compare(&q, &asked).expect("a comparison").map(|(_, c)| c);
    let o = crate::overview_compared(&s, agent.clone(), q, year, escalation.clone()).await.expect("overview");
    let previous = o.previous.expect("previous");
    assert_eq!(
        (o.total_messages, previous.total_messages),
        (0, 7),
        "a year back holds New York's fall-back days"
    );
    // By hand: the fall-back day has 25 hours, its two 01:00 hours apart.
    let q = parse(&[("from", "2026-11-01"), ("to", "2026-11-01"), ("tz", "America/New_York")]);
    let hours =
        s.timeseries(agent.clone(), q.clone(), SeriesMetric::Messages, Interval::Hour).await.expect("series");
    assert_eq!(hours.points.len(), 25);
    assert_eq!(
        (hours.points[1].value, hours.points[2].value),
        (Some(2.0), Some(3.0)),
        "01:00 EDT, 01:00 EST"
    );
    let o = s.overview(agent.clone(), q, escalation.clone()).await.expect("overview");
    assert_eq!((o.bot_responses, o.avg_bot_response_time_ms), (1, Some(3_600_000.0)), "c3 is deleted");
    assert_eq!(o.peak_hours.matrix[6][1], 5, "Sunday 01:xx, both of them");
    let q = parse(&[("from", "2027-01-01"), ("to", "2027-01-03"), ("tz", "Asia/Kathmandu")]);
    let empty = s.overview(agent, q, escalation).await.expect("overview");
    assert_eq!((empty.total_messages, empty.total_conversations, empty.bot_responses), (0, 0, 0));
    assert_eq!((empty.avg_bot_response_time_ms, empty.avg_conversation_duration_ms), (None, None));
    assert_eq!(empty.daily.iter().map(|d| (d.messages, d.conversations)).collect::<Vec<_>>(), [(0, 0); 3]);
}

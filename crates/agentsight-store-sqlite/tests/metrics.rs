//! The metrics overview against a real SQLite file: hand-computed fixtures for each definition,
//! and a property test that the store always agrees with the in-memory reference of
//! `agentsight_core::metrics::reference`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use agentsight_core::metrics::DEFAULT_ESCALATION_TOOLS;
use agentsight_core::metrics::query::{self, MetricsQuery};
use agentsight_core::metrics::reference::{self, Dataset, EntryKind, RefConversation, RefEntry, RefFeedback};
use agentsight_core::metrics::series::{Interval, SeriesMetric};
use agentsight_core::time::{Micros, parse_timestamp};
use agentsight_core::tracking::{
    ConversationFields, ConversationPatch, ConversationRef, ConversationUpsert, FeedbackSource, Location,
    NewAction, NewButton, NewFeedback, NewMessage,
};
use agentsight_store::{AgentRef, AgentStore, OverviewResponse, TrackingWriter};
use agentsight_store_sqlite::{MetricsPlan, SqliteOptions, SqliteStore};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Writes a dataset through the store and keeps the reference copy, with the store's ids.
struct Harness {
    store: SqliteStore,
    agent: i64,
    data: Dataset,
    pks: HashMap<String, i64>,
    _dir: tempfile::TempDir,
}

#[derive(Clone, Debug, Default)]
struct Conv {
    id: String,
    started: Micros,
    is_used: bool,
    device: Option<String>,
    source: Option<String>,
    language: Option<String>,
    country: Option<String>,
    city: Option<String>,
    customer: Option<String>,
    environment: Option<String>,
    metadata: Option<Value>,
}

impl Harness {
    async fn new() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = SqliteOptions::new(dir.path().join("m.db"));
        opts.fsync = false;
        opts.metrics_index = true;
        let store = SqliteStore::open(opts).unwrap();
        let agent = store.create_agent("a".into(), 0).await.unwrap().id;
        Harness { store, agent, data: Dataset::default(), pks: HashMap::new(), _dir: dir }
    }

    async fn conversation(&mut self, c: Conv) -> i64 {
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
    async fn update(&mut self, pk: i64, device: Option<&str>, metadata: Option<Value>) {
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

    async fn delete(&mut self, pk: i64) {
        let patch = ConversationPatch { delete: true, ..Default::default() };
        self.store.patch_conversation(self.agent, pk, patch, BASE).await.unwrap().unwrap();
        self.data.conversations.iter_mut().find(|c| c.pk == pk).unwrap().is_deleted = true;
    }

    fn mark_used(&mut self, pk: i64) {
        if let Some(c) = self.data.conversations.iter_mut().find(|c| c.pk == pk) {
            c.is_used = true;
        }
    }

    async fn message(&mut self, pk: i64, sender: &str, ts: Micros) {
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

    async fn action(
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

    async fn button(&mut self, pk: i64, ts: Micros) {
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

    async fn feedback(&mut self, pk: i64, sentiment: &str, at: Micros) {
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

    /// The overview from raw rows and from the index (kept current write by write), and the
    /// reference's.
    async fn overviews(
        &self,
        params: &[(&str, &str)],
    ) -> (OverviewResponse, OverviewResponse, OverviewResponse) {
        let q = parse(params);
        let escalation: Vec<String> = DEFAULT_ESCALATION_TOOLS.iter().map(|s| s.to_string()).collect();
        let agent = AgentRef { id: self.agent, name: "a".into() };
        let raw = self
            .store
            .overview_with(MetricsPlan::Raw, agent.clone(), q.clone(), escalation.clone())
            .await
            .unwrap();
        let indexed = self
            .store
            .overview_with(MetricsPlan::Index, agent.clone(), q.clone(), escalation.clone())
            .await
            .unwrap();
        let want = reference::overview(&self.data, &q, &escalation, agent);
        (raw, indexed, want)
    }

    /// The index's overview and the reference's, after checking raw rows against the reference.
    async fn overview(&self, params: &[(&str, &str)]) -> (OverviewResponse, OverviewResponse) {
        let (raw, indexed, want) = self.overviews(params).await;
        assert_same("raw rows", &raw, &want);
        (indexed, want)
    }

    /// Checks both plans against the reference.
    async fn check(&self, params: &[(&str, &str)]) {
        let (raw, indexed, want) = self.overviews(params).await;
        assert_same("raw rows", &raw, &want);
        assert_same("index", &indexed, &want);
    }

    /// Every time series from the index equals the one from raw rows.
    async fn check_series(&self, params: &[(&str, &str)]) {
        let q = parse(params);
        let agent = AgentRef { id: self.agent, name: "a".into() };
        for metric in SeriesMetric::ALL {
            for interval in [Interval::Hour, Interval::Day, Interval::Week] {
                let raw = self
                    .store
                    .timeseries_with(MetricsPlan::Raw, agent.clone(), q.clone(), metric, interval)
                    .await
                    .unwrap();
                let ix = self
                    .store
                    .timeseries_with(MetricsPlan::Index, agent.clone(), q.clone(), metric, interval)
                    .await
                    .unwrap();
                let (r, i) = (serde_json::to_value(&raw).unwrap(), serde_json::to_value(&ix).unwrap());
                assert!(close(&r, &i), "{} by {}: raw {r} / index {i}", metric.name(), interval.name());
            }
        }
    }

    /// The overview of the index a fresh store loads from this file.
    async fn reloaded(&self, params: &[(&str, &str)]) -> OverviewResponse {
        let mut opts = SqliteOptions::new(self.store.path());
        opts.fsync = false;
        opts.metrics_index = true;
        let other = SqliteStore::open(opts).unwrap();
        let q = parse(params);
        let escalation: Vec<String> = DEFAULT_ESCALATION_TOOLS.iter().map(|s| s.to_string()).collect();
        other
            .overview_with(MetricsPlan::Index, AgentRef { id: self.agent, name: "a".into() }, q, escalation)
            .await
            .unwrap()
    }
}

fn parse(params: &[(&str, &str)]) -> MetricsQuery {
    let map: HashMap<String, String> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    query::parse(&map, &["production".to_string(), "development".to_string()], 0).unwrap()
}

fn t(s: &str) -> Micros {
    parse_timestamp(s).unwrap()
}

/// Equal, with floats compared to 1e-9 relative (sums may add in another order).
fn close(a: &Value, b: &Value) -> bool {
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
fn assert_same(plan: &str, got: &OverviewResponse, want: &OverviewResponse) {
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

fn conv(id: &str, started: &str) -> Conv {
    Conv { id: id.into(), started: t(started), is_used: true, ..Default::default() }
}

#[tokio::test]
async fn a_reply_after_two_user_messages_is_timed_from_the_second_and_only_the_first_agent_message_counts() {
    let mut h = Harness::new().await;
    let pk = h.conversation(conv("c", "2026-05-01T10:00:00Z")).await;
    h.message(pk, "end_user", t("2026-05-01T10:00:00Z")).await;
    h.message(pk, "end_user", t("2026-05-01T10:00:10Z")).await;
    h.message(pk, "agent", t("2026-05-01T10:00:13Z")).await;
    h.message(pk, "agent", t("2026-05-01T10:00:20Z")).await;
    h.message(pk, "end_user", t("2026-05-01T10:01:00Z")).await;
    h.message(pk, "agent", t("2026-05-01T10:01:01.5Z")).await;
    let (got, want) = h.overview(&[("from", "2026-05-01"), ("to", "2026-05-01")]).await;
    assert_eq!(got.bot_responses, 2);
    assert_eq!(got.avg_bot_response_time_ms, Some(2250.0));
    assert_eq!(got.total_messages, 6);
    assert_eq!((got.messages_by_sender.end_user, got.messages_by_sender.agent), (3, 3));
    assert_eq!(got.avg_conversation_duration_ms, Some(61_500.0));
    assert_same("index", &got, &want);
}

#[tokio::test]
async fn a_conversation_crossing_local_midnight_counts_its_messages_on_each_local_day() {
    let mut h = Harness::new().await;
    // 23:50 and 00:10 in New York (UTC-4 in May).
    let pk = h.conversation(conv("c", "2026-05-02T03:50:00Z")).await;
    h.message(pk, "end_user", t("2026-05-02T03:50:00Z")).await;
    h.message(pk, "agent", t("2026-05-02T04:10:00Z")).await;
    let (got, want) =
        h.overview(&[("from", "2026-05-01"), ("to", "2026-05-02"), ("tz", "America/New_York")]).await;
    assert_eq!(got.daily[0].date, "2026-05-01");
    assert_eq!((got.daily[0].messages, got.daily[0].conversations), (1, 1));
    assert_eq!((got.daily[1].messages, got.daily[1].conversations), (1, 0));
    // Friday 23:xx and Saturday 00:xx local.
    assert_eq!(got.peak_hours.matrix[4][23], 1);
    assert_eq!(got.peak_hours.matrix[5][0], 1);
    assert_same("index", &got, &want);
}

#[tokio::test]
async fn the_23_and_25_hour_days_and_the_range_edges() {
    let mut h = Harness::new().await;
    let pk = h.conversation(conv("c", "2026-03-08T05:00:00Z")).await;
    // 2026-03-08 in New York runs from 05:00Z to 04:00Z next day (23 h).
    h.message(pk, "end_user", t("2026-03-08T05:00:00Z")).await; // first instant: in
    h.message(pk, "agent", t("2026-03-09T03:59:59.999999Z")).await; // last instant: in
    h.message(pk, "end_user", t("2026-03-09T04:00:00Z")).await; // next day: out
    h.message(pk, "agent", t("2026-03-08T04:59:59.999999Z")).await; // the day before: out
    let (got, want) =
        h.overview(&[("from", "2026-03-08"), ("to", "2026-03-08"), ("tz", "America/New_York")]).await;
    assert_eq!(got.total_messages, 2);
    assert_same("index", &got, &want);
    let pk2 = h.conversation(conv("d", "2026-11-01T04:00:00Z")).await;
    h.message(pk2, "end_user", t("2026-11-01T04:00:00Z")).await;
    h.message(pk2, "end_user", t("2026-11-02T04:59:59Z")).await; // 25 h later, same local day
    let (got, want) =
        h.overview(&[("from", "2026-11-01"), ("to", "2026-11-01"), ("tz", "America/New_York")]).await;
    assert_eq!(got.total_messages, 2);
    assert_eq!(got.daily.len(), 1);
    assert_same("index", &got, &want);
}

#[tokio::test]
async fn null_dimensions_group_last_and_unknown_filters_them() {
    let mut h = Harness::new().await;
    for (i, device) in [Some("mobile"), Some("mobile"), None, Some("desktop")].into_iter().enumerate() {
        let mut c = conv(&format!("c{i}"), "2026-05-01T10:00:00Z");
        c.device = device.map(str::to_string);
        c.country = (i == 0).then(|| "HR".to_string());
        c.city = (i == 0).then(|| "Zagreb".to_string());
        h.conversation(c).await;
    }
    let (got, want) = h.overview(&[("from", "2026-05-01"), ("to", "2026-05-01")]).await;
    let devices: Vec<_> = got.devices.iter().map(|d| (d.device.clone(), d.conversations)).collect();
    assert_eq!(devices, vec![(Some("mobile".into()), 2), (Some("desktop".into()), 1), (None, 1)]);
    let countries: Vec<_> = got.countries.iter().map(|c| (c.country.clone(), c.conversations)).collect();
    assert_eq!(countries, vec![(None, 3), (Some("HR".into()), 1)], "by count first, nulls last only on ties");
    assert_eq!(got.cities[1].city.as_deref(), Some("Zagreb"));
    assert_eq!((got.cities[1].lat, got.cities[1].lon), (Some(45.8), Some(15.97)));
    assert_same("index", &got, &want);
    let (got, want) =
        h.overview(&[("from", "2026-05-01"), ("to", "2026-05-01"), ("device", "unknown")]).await;
    assert_eq!(got.total_conversations, 1);
    assert_same("index", &got, &want);
}

#[tokio::test]
async fn feedback_in_every_form_with_explicit_records_winning() {
    let mut h = Harness::new().await;
    let forms = [
        json!("Positive"),
        json!(true),
        json!(false),
        json!(5),
        json!(3),
        json!(1),
        json!({"sentiment": "neutral"}),
        json!({"rating": 4}),
        json!("nope"),
    ];
    for (i, f) in forms.iter().enumerate() {
        let mut c = conv(&format!("f{i}"), "2026-05-01T10:00:00Z");
        c.metadata = Some(json!({ "feedback": f }));
        h.conversation(c).await;
    }
    // Explicit records override metadata (the latest wins): f5's rating 1 becomes positive.
    let pk = h.pks["f5"];
    h.feedback(pk, "negative", t("2026-05-01T11:00:00Z")).await;
    h.feedback(pk, "positive", t("2026-05-01T12:00:00Z")).await;
    let (got, want) = h.overview(&[("from", "2026-05-01"), ("to", "2026-05-01")]).await;
    let f = &got.feedback;
    // Positive: "Positive", true, 5, {rating: 4}, and f5's explicit record; neutral: 3 and
    // {sentiment: neutral}; negative: false; "nope" is no feedback.
    assert_eq!((f.positive, f.neutral, f.negative, f.total), (5, 2, 1, 8));
    // Ratings: 5, 3 and 4 (f5's rating 1 is overridden by its explicit record).
    assert_eq!(f.ratings.count, 3);
    assert_eq!(f.ratings.average, Some(4.0));
    assert_eq!(f.satisfaction_rate, Some(0.625));
    assert_same("index", &got, &want);
}

#[tokio::test]
async fn tools_leave_out_token_usage_and_take_durations_from_started_and_ended() {
    let mut h = Harness::new().await;
    let pk = h.conversation(conv("c", "2026-05-01T10:00:00Z")).await;
    let at = t("2026-05-01T10:00:00Z");
    h.action(pk, "lookup", at, Some(100), None, None).await;
    h.action(
        pk,
        "lookup",
        at,
        None,
        Some((t("2026-05-01T10:00:01Z"), t("2026-05-01T10:00:01.3Z"))),
        Some("boom"),
    )
    .await;
    h.action(pk, "lookup", at, None, None, Some("")).await;
    h.action(pk, "token_usage", at, None, None, None).await;
    h.action(pk, "open_ticket", at, None, None, None).await;
    h.button(pk, at).await;
    let (got, want) = h.overview(&[("from", "2026-05-01"), ("to", "2026-05-01")]).await;
    assert_eq!(got.tools.len(), 2);
    assert_eq!(got.tools[0].name, "lookup");
    assert_eq!((got.tools[0].calls, got.tools[0].errors), (3, 1));
    assert_eq!(got.tools[0].avg_duration_ms, Some(200.0));
    assert_eq!(got.human_escalation.conversations, 1);
    assert_eq!(got.total_messages, 0, "actions and buttons are not messages");
    assert_same("index", &got, &want);
}

// ---- property: the store agrees with the reference on random data ----

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

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn the_store_agrees_with_the_reference((convs, ops, filters) in arb_case()) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let mut h = Harness::new().await;
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
            h.check(&params).await;
            h.check_series(&params).await;
            let (_, _, want) = h.overviews(&params).await;
            assert_same("a reloaded index", &h.reloaded(&params).await, &want);
        });
    }
}

#[tokio::test]
async fn the_index_rebuilds_itself_after_another_process_writes() {
    let mut h = Harness::new().await;
    let pk = h.conversation(conv("c1", "2026-05-01T10:00:00Z")).await;
    h.message(pk, "end_user", t("2026-05-01T10:00:01Z")).await;
    let day = [("from", "2026-05-01"), ("to", "2026-05-01")];
    h.check(&day).await;
    assert!(h.store.wait_index_ready(std::time::Duration::from_secs(10)).await);
    let loads = h.store.index_status().loads;

    // The CLI and `agentsight demo` open their own writer on the same file, without an index.
    let mut opts = SqliteOptions::new(h.store.path());
    opts.fsync = false;
    let cli = SqliteStore::open(opts).unwrap();
    let mut other = Harness {
        store: cli,
        agent: h.agent,
        data: Dataset::default(),
        pks: HashMap::new(),
        _dir: tempfile::tempdir().unwrap(),
    };
    let pk2 = other.conversation(conv("c2", "2026-05-01T11:00:00Z")).await;
    other.message(pk2, "agent", t("2026-05-01T11:00:05Z")).await;
    h.data.conversations.extend(other.data.conversations);
    h.data.entries.extend(other.data.entries);

    // The next query sees the foreign write, answers from raw rows and rebuilds the index.
    let (first, want) = h.overview(&day).await;
    assert_same("index after the foreign write", &first, &want);
    assert!(h.store.wait_index_ready(std::time::Duration::from_secs(10)).await);
    assert!(h.store.index_status().loads > loads, "the index was rebuilt");
    h.check(&day).await;
    assert_eq!(h.overview(&day).await.0.total_messages, 2);
}

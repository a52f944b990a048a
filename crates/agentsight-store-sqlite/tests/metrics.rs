//! The metrics overview against a real SQLite file: hand-computed fixtures for each definition,
//! and the store contract's property test (`agentsight_store::testkit::metrics_agree_with_reference`)
//! that the store always agrees with the in-memory reference of
//! `agentsight_core::metrics::reference`, with the metrics index and without.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use agentsight_core::metrics::DEFAULT_ESCALATION_TOOLS;
use agentsight_core::metrics::query::{self, MetricsQuery};
use agentsight_core::metrics::reference;
use agentsight_core::metrics::series::{Interval, SeriesMetric};
use agentsight_core::time::{Micros, parse_timestamp};
use agentsight_store::testkit::{self, Conv, assert_same};
use agentsight_store::{AgentRef, AgentStore, OverviewResponse};
use agentsight_store_sqlite::{MetricsPlan, SqliteOptions, SqliteStore};
use serde_json::json;

/// The contract suite's reference writer over a store of its own (with the metrics index), and
/// the checks of both of this backend's plans against the reference.
struct Harness {
    w: testkit::RefWriter<Box<SqliteStore>>,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for Harness {
    type Target = testkit::RefWriter<Box<SqliteStore>>;
    fn deref(&self) -> &Self::Target {
        &self.w
    }
}

impl std::ops::DerefMut for Harness {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.w
    }
}

impl Harness {
    async fn new() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = SqliteOptions::new(dir.path().join("m.db"));
        opts.fsync = false;
        opts.metrics_index = true;
        let store = SqliteStore::open(opts).unwrap();
        let agent = store.create_agent("a".into(), 0).await.unwrap().id;
        Harness { w: testkit::RefWriter::new(Box::new(store), agent), _dir: dir }
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
}

fn parse(params: &[(&str, &str)]) -> MetricsQuery {
    let map: HashMap<String, String> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    query::parse(&map, &["production".to_string(), "development".to_string()], 0).unwrap()
}

fn t(s: &str) -> Micros {
    parse_timestamp(s).unwrap()
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
    let pk = h.pk("f5").unwrap();
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

async fn fresh(metrics_index: bool) -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = SqliteOptions::new(dir.path().join("m.db"));
    opts.fsync = false;
    opts.metrics_index = metrics_index;
    opts.index_snapshots = false;
    let store = SqliteStore::open(opts).unwrap();
    if metrics_index {
        // A snapshot of the empty index: a store opened later replays every write group of
        // the case from the journal.
        assert!(store.wait_index_ready(std::time::Duration::from_secs(10)).await);
        assert_eq!(store.write_index_snapshot().await.unwrap(), Some(0));
    }
    (store, dir)
}

/// Another store on the same file with the index (writing no snapshot by itself).
fn reopen(path: &std::path::Path) -> SqliteStore {
    let mut opts = SqliteOptions::new(path);
    opts.fsync = false;
    opts.metrics_index = true;
    opts.index_snapshots = false;
    SqliteStore::open(opts).unwrap()
}

fn write_seq(path: &std::path::Path) -> i64 {
    let c = rusqlite::Connection::open(path).unwrap();
    c.query_row("SELECT seq FROM write_log", [], |r| r.get(0)).unwrap()
}

/// The generic property of the store contract with the metrics index on: what the API answers
/// (the index once it is ready), and then each plan on its own against the same expectation:
/// raw rows and the index, every time series of the index equal to raw rows', and the index a
/// fresh store loads from the file.
#[test]
fn the_store_agrees_with_the_reference_with_the_metrics_index() {
    testkit::metrics_agree_with_reference(
        || fresh(true),
        async |store: &SqliteStore, e: testkit::Expected<'_>| {
            let escalation = e.escalation.to_vec();
            for plan in [MetricsPlan::Raw, MetricsPlan::Index] {
                let got = store
                    .overview_with(plan, e.agent.clone(), e.query.clone(), escalation.clone())
                    .await
                    .unwrap();
                testkit::assert_same(&format!("{plan:?}"), &got, e.want);
            }
            // Users over time, each plan against the reference, over the case's range and
            // ranges whose users may have been first seen before them.
            let mut ranges = vec![e.query.clone()];
            for (from, to) in testkit::USERS_RANGES {
                let day = |d: &str| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap();
                ranges.push(MetricsQuery { from: day(from), to: day(to), ..e.query.clone() });
            }
            for q in &ranges {
                for interval in [Interval::Day, Interval::Week] {
                    let want = reference::users(e.data, q, interval, e.agent.clone());
                    for plan in [MetricsPlan::Raw, MetricsPlan::Index] {
                        let got = store.users_with(plan, e.agent.clone(), q.clone(), interval).await.unwrap();
                        assert_eq!(got, want, "users by {} through {plan:?}", interval.name());
                    }
                }
            }
            for metric in SeriesMetric::ALL {
                for interval in [Interval::Hour, Interval::Day, Interval::Week, Interval::Month] {
                    let series = |plan| {
                        store.timeseries_with(plan, e.agent.clone(), e.query.clone(), metric, interval)
                    };
                    let raw = serde_json::to_value(series(MetricsPlan::Raw).await.unwrap()).unwrap();
                    let ix = serde_json::to_value(series(MetricsPlan::Index).await.unwrap()).unwrap();
                    assert!(
                        testkit::close(&raw, &ix),
                        "{} by {}: raw {raw} / index {ix}",
                        metric.name(),
                        interval.name()
                    );
                }
            }
            let index_of = async |s: &SqliteStore, what: &str| {
                let got = s
                    .overview_with(MetricsPlan::Index, e.agent.clone(), e.query.clone(), escalation.clone())
                    .await
                    .unwrap();
                testkit::assert_same(what, &got, e.want);
                s.index_status()
            };
            // The empty snapshot and every group of the case replayed from the journal.
            let groups = write_seq(store.path());
            let replayed = reopen(store.path());
            let st = index_of(&replayed, "the empty snapshot and the journal replayed").await;
            assert!(st.from_snapshot && st.full_loads == 0, "{st:?}");
            assert_eq!(st.replayed, groups as u64);
            // A snapshot of everything, read back with nothing to replay.
            assert_eq!(replayed.write_index_snapshot().await.unwrap(), Some(groups));
            let st = index_of(&reopen(store.path()), "a snapshot read back").await;
            assert!(st.from_snapshot && st.replayed == 0 && st.snapshot_seq == groups, "{st:?}");
            // Without the file: every row read.
            std::fs::remove_file(store.path().with_extension("index")).unwrap();
            let st = index_of(&reopen(store.path()), "a full load").await;
            assert!(!st.from_snapshot && st.full_loads == 1, "{st:?}");
        },
    );
}

/// The same property with the index off: every answer from raw rows.
#[test]
fn the_store_agrees_with_the_reference_without_the_metrics_index() {
    testkit::metrics_agree_with_reference(
        || fresh(false),
        async |_: &SqliteStore, _: testkit::Expected<'_>| {},
    );
}

#[tokio::test]
async fn the_index_applies_another_process_writes_from_the_journal() {
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
    let mut other = testkit::RefWriter::new(&cli, h.agent);
    let pk2 = other.conversation(conv("c2", "2026-05-01T11:00:00Z")).await;
    other.message(pk2, "agent", t("2026-05-01T11:00:05Z")).await;
    h.data.conversations.extend(std::mem::take(&mut other.data.conversations));
    h.data.entries.extend(std::mem::take(&mut other.data.entries));

    // The next query sees the foreign write and applies its groups from the journal: no load.
    let (first, want) = h.overview(&day).await;
    assert_same("index after the foreign write", &first, &want);
    let st = h.store.index_status();
    assert_eq!(st.loads, loads, "no load: {st:?}");
    assert_eq!(st.full_loads, 1, "{st:?}");
    assert_eq!(st.caught_up, 2, "the conversation's group and the message's: {st:?}");
    h.check(&day).await;
    assert_eq!(h.overview(&day).await.0.total_messages, 2);

    // Interleaved with this process's own writes, the foreign groups fill the gap.
    let pk3 = other.conversation(conv("c3", "2026-05-01T12:00:00Z")).await;
    h.message(pk, "agent", t("2026-05-01T10:00:09Z")).await;
    other.message(pk3, "end_user", t("2026-05-01T12:00:01Z")).await;
    h.message(pk, "end_user", t("2026-05-01T10:00:20Z")).await;
    h.data.conversations.extend(std::mem::take(&mut other.data.conversations));
    h.data.entries.extend(std::mem::take(&mut other.data.entries));
    h.check(&day).await;
    let st = h.store.index_status();
    assert_eq!((st.loads, st.full_loads), (loads, 1), "{st:?}");
    assert_eq!(st.caught_up, 4, "{st:?}");
    assert_eq!(h.overview(&day).await.0.total_messages, 5);
}

#[tokio::test]
async fn a_hole_in_the_journal_rebuilds_the_index() {
    let mut h = Harness::new().await;
    let pk = h.conversation(conv("c1", "2026-05-01T10:00:00Z")).await;
    h.message(pk, "end_user", t("2026-05-01T10:00:01Z")).await;
    let day = [("from", "2026-05-01"), ("to", "2026-05-01")];
    h.check(&day).await;
    let mut opts = SqliteOptions::new(h.store.path());
    opts.fsync = false;
    let cli = SqliteStore::open(opts).unwrap();
    let mut other = testkit::RefWriter::new(&cli, h.agent);
    let pk2 = other.conversation(conv("c2", "2026-05-01T11:00:00Z")).await;
    other.message(pk2, "agent", t("2026-05-01T11:00:05Z")).await;
    h.data.conversations.extend(other.data.conversations);
    h.data.entries.extend(other.data.entries);
    // A build without the journal wrote the last group (or it was deleted).
    let c = rusqlite::Connection::open(h.store.path()).unwrap();
    c.execute("DELETE FROM index_journal WHERE seq = (SELECT max(seq) FROM index_journal)", []).unwrap();
    h.check(&day).await;
    assert!(h.store.wait_index_ready(std::time::Duration::from_secs(10)).await);
    assert_eq!(h.store.index_status().full_loads, 2, "rebuilt");
    h.check(&day).await;
}

/// A store that stops without its final snapshot (kill -9) leaves the last periodic one and
/// the journal: the next start reads the first and replays the groups after it, updates,
/// deletions, feedback and out-of-order messages of conversations already in the snapshot
/// included. A damaged snapshot is not used.
#[tokio::test]
async fn after_an_unclean_stop_the_snapshot_and_the_journal_give_the_same_numbers() {
    let mut h = Harness::new().await;
    let day = [("from", "2026-05-01"), ("to", "2026-05-01")];
    let a = h.conversation(conv("a", "2026-05-01T10:00:00Z")).await;
    let b = h.conversation(conv("b", "2026-05-01T11:00:00Z")).await;
    h.message(a, "end_user", t("2026-05-01T10:00:01Z")).await;
    h.message(a, "agent", t("2026-05-01T10:00:09Z")).await;
    h.message(b, "end_user", t("2026-05-01T11:00:01Z")).await;
    h.action(b, "open_ticket", t("2026-05-01T11:00:02Z"), Some(5), None, None).await;
    h.check(&day).await;
    let at = h.store.write_index_snapshot().await.unwrap().unwrap();
    // After the snapshot: an out-of-order message (fixes a stored response time), feedback,
    // an update, a deletion, a new conversation, a button.
    h.message(a, "end_user", t("2026-05-01T10:00:05Z")).await;
    h.feedback(a, "negative", t("2026-05-01T10:01:00Z")).await;
    h.update(b, Some("desktop"), Some(json!({"plan": "pro", "feedback": "positive"}))).await;
    let c = h.conversation(conv("c", "2026-05-01T12:00:00Z")).await;
    h.message(c, "end_user", t("2026-05-01T12:00:01Z")).await;
    h.button(c, t("2026-05-01T12:00:03Z")).await;
    h.delete(a).await;
    h.check(&day).await;
    let (want, _) = h.overview(&day).await;
    let groups = write_seq(h.store.path()) - at;
    assert!(groups >= 7, "{groups}");
    let path = h.store.path().to_path_buf();
    let agent = AgentRef { id: h.agent, name: "a".into() };
    let w = std::mem::replace(&mut h.w, testkit::RefWriter::new(Box::new(reopen(&path)), 0));
    std::mem::forget(w); // no final snapshot, as after kill -9

    let esc: Vec<String> = DEFAULT_ESCALATION_TOOLS.iter().map(|s| s.to_string()).collect();
    let restarted = reopen(&path);
    let got =
        restarted.overview_with(MetricsPlan::Index, agent.clone(), parse(&day), esc.clone()).await.unwrap();
    assert_same("snapshot + journal", &got, &want);
    let st = restarted.index_status();
    assert!(st.from_snapshot && st.full_loads == 0, "{st:?}");
    assert_eq!((st.snapshot_seq, st.replayed), (at, groups as u64), "{st:?}");

    // One flipped byte: the CRC refuses the file and every row is read instead.
    let file = path.with_extension("index");
    let mut bytes = std::fs::read(&file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&file, &bytes).unwrap();
    let damaged = reopen(&path);
    let got =
        damaged.overview_with(MetricsPlan::Index, agent.clone(), parse(&day), esc.clone()).await.unwrap();
    assert_same("after a damaged snapshot", &got, &want);
    let st = damaged.index_status();
    assert!(!st.from_snapshot && st.full_loads == 1, "{st:?}");
    assert_eq!(got.human_escalation.conversations, 1);
}

/// The failure metrics and the list's failure filters (`docs/metrics.md`, *Where the bot
/// fails*) against the reference, on random datasets.
#[test]
fn failures_agree_with_the_reference() {
    testkit::failures_agree_with_reference(|| fresh(true));
}

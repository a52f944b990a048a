//! Contract tests of [`MetricsReader`] on hand-computed fixtures, of the export's paging, and
//! of the [`AgentStore`] and tracking methods the older tests leave out (apart: the agent
//! store's alone runs on a configuration store).

use agentsight_core::metrics::query::{self, MetricsQuery};
use agentsight_core::metrics::series::{Interval, SeriesMetric};
use agentsight_core::time::parse_timestamp;
use agentsight_core::tracking::{self, AgentScope, ConversationRef};
use serde_json::json;

use super::dataplane::track;
use super::spans::{span_batch, turn_json};
use crate::{
    AgentRef, AgentStore, ConfigStore, ConversationFilter, ExportReader, MetricsReader, SpanWriter,
    TrackingReader, TrackingWriter,
};

async fn scope(s: &impl AgentStore, name: &str) -> AgentScope {
    let a = s.create_agent(name.into(), 1).await.expect("create agent");
    AgentScope { agent_id: a.id, environments: a.environments }
}

fn q(params: &[(&str, &str)]) -> MetricsQuery {
    let m = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    query::parse(&m, &["production".to_string(), "development".to_string()], 0).expect("a metrics query")
}

fn t(s: &str) -> i64 {
    parse_timestamp(s).expect("a timestamp")
}

fn message(scope: &AgentScope, cid: &str, sender: &str, ts: &str) -> agentsight_core::tracking::NewMessage {
    track(
        scope,
        json!({"conversation_id": cid, "sender": sender, "content": "x", "timestamp": ts, "metadata": {}}),
        t(ts),
    )
}

/// `MetricsReader`: the overview counts messages, conversations and bot response times; a
/// time series buckets them by local day; `live` counts the conversations active in the last
/// five minutes and the messages per minute; `engine_status` names the engine and has every
/// acknowledged span batch projected.
pub async fn metrics_reader_overview_series_live_status<S>(s: S)
where
    S: MetricsReader + TrackingWriter + SpanWriter + AgentStore,
{
    let a = overview_series_live(&s).await;
    let (batch, body) = span_batch(
        &a,
        json!([{"conversation_id": "k", "spans": [
        turn_json("00000000000000a1", "2026-05-01T10:00:00+00:00", None)]}]),
        1,
    );
    let r = s.ingest_spans(batch, body).await.unwrap();
    let id = r.batch_id;
    r.projected.await.unwrap();
    let st = s.engine_status().await;
    assert!(!st.engine.is_empty() && !st.phase.is_empty(), "{st:?}");
    assert!(id > 0);
}

async fn overview_series_live<S>(s: &S) -> AgentScope
where
    S: MetricsReader + TrackingWriter + AgentStore,
{
    let a = scope(s, "a").await;
    let b = scope(s, "b").await;
    for (cid, sender, ts) in [
        ("c1", "end_user", "2026-05-01T10:00:00Z"),
        ("c1", "agent", "2026-05-01T10:00:04Z"),
        ("c1", "end_user", "2026-05-01T10:01:00Z"),
        ("c1", "agent", "2026-05-01T10:01:02Z"),
        ("c2", "end_user", "2026-05-02T09:00:00Z"),
    ] {
        s.insert_message(message(&a, cid, sender, ts)).await.unwrap();
    }
    s.insert_message(message(&b, "other", "end_user", "2026-05-01T10:00:00Z")).await.unwrap();
    let agent = AgentRef { id: a.agent_id, name: "a".into() };
    let range = [("from", "2026-05-01"), ("to", "2026-05-02")];
    let o = s.overview(agent.clone(), q(&range), vec!["call_human".into()]).await.unwrap();
    assert_eq!((o.total_messages, o.total_conversations, o.unique_interactions), (5, 2, 2));
    assert_eq!((o.messages_by_sender.end_user, o.messages_by_sender.agent), (3, 2));
    assert_eq!((o.bot_responses, o.avg_bot_response_time_ms), (2, Some(3000.0)));
    assert_eq!(
        o.daily.iter().map(|d| (d.date.as_str(), d.messages, d.conversations)).collect::<Vec<_>>(),
        [("2026-05-01", 4, 1), ("2026-05-02", 1, 1)]
    );
    assert_eq!(o.agent, agent);
    let day1 =
        s.overview(agent.clone(), q(&[("from", "2026-05-01"), ("to", "2026-05-01")]), vec![]).await.unwrap();
    assert_eq!(day1.total_messages, 4);

    let series = s.timeseries(agent.clone(), q(&range), SeriesMetric::Messages, Interval::Day).await.unwrap();
    assert_eq!(series.points.iter().map(|p| p.value).collect::<Vec<_>>(), [Some(4.0), Some(1.0)]);
    assert_eq!((series.metric.as_str(), series.interval.as_str()), ("messages", "day"));
    let conv =
        s.timeseries(agent.clone(), q(&range), SeriesMetric::Conversations, Interval::Day).await.unwrap();
    assert_eq!(conv.points.iter().map(|p| p.value).collect::<Vec<_>>(), [Some(1.0), Some(1.0)]);
    let rt = s
        .timeseries(agent.clone(), q(&range), SeriesMetric::AvgBotResponseTimeMs, Interval::Day)
        .await
        .unwrap();
    assert_eq!(rt.points.iter().map(|p| p.value).collect::<Vec<_>>(), [Some(3000.0), None]);
    let hours = s.timeseries(agent.clone(), q(&range), SeriesMetric::Messages, Interval::Hour).await.unwrap();
    assert_eq!(hours.points.len(), 48);
    assert_eq!(hours.points.iter().filter_map(|p| p.value).sum::<f64>(), 5.0);

    let now = t("2026-05-01T10:03:00Z");
    let live = s.live(agent.clone(), now).await.unwrap();
    assert_eq!(live.active_conversations, 1, "c1 was active in the last five minutes");
    let per_minute: u64 = live.messages_per_minute.iter().map(|m| m.messages).sum();
    assert_eq!(per_minute, 4, "the four messages of the last hour");
    let later = s.live(agent, t("2026-05-01T12:00:00Z")).await.unwrap();
    assert_eq!(later.active_conversations, 0);
    assert_eq!(later.messages_per_minute.iter().map(|m| m.messages).sum::<u64>(), 0);
    a
}

/// `ExportReader::export_conversations` pages by an opaque cursor: with more conversations than
/// a page, following `next` visits every matching row exactly once (in pk order: the order the
/// backends choose today), and the last page says there is no next.
pub async fn export_reader_pages_cover_every_row_once<S>(s: S)
where
    S: ExportReader + TrackingWriter + TrackingReader + AgentStore,
{
    let a = scope(&s, "a").await;
    let b = scope(&s, "b").await;
    let mut want = Vec::new();
    for i in 0..23 {
        let p = serde_json::from_value(json!({"conversation_id": format!("c{i:02}"), "is_used": true,
            "device": if i % 3 == 0 { "desktop" } else { "mobile" }}))
        .unwrap();
        let row =
            s.upsert_conversation(tracking::validate_conversation(&a, &p, i).unwrap()).await.unwrap().row;
        if i % 3 != 0 {
            want.push(row.id);
        }
    }
    let p = serde_json::from_value(json!({"conversation_id": "theirs"})).unwrap();
    s.upsert_conversation(tracking::validate_conversation(&b, &p, 1).unwrap()).await.unwrap();
    let filter = ConversationFilter { device: Some("mobile".into()), ..Default::default() };
    let (mut seen, mut after, mut pages) = (Vec::new(), None, 0);
    loop {
        let page = s.export_conversations(a.agent_id, filter.clone(), after, 4).await.unwrap();
        assert!(page.rows.len() <= 4);
        seen.extend(page.rows.iter().map(|r| r.conversation.id));
        pages += 1;
        assert!(pages <= 10, "the cursor must end");
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, want, "every matching row once, by pk");
    assert!(pages >= want.len().div_ceil(4));
    let theirs = s.export_conversations(b.agent_id, filter, None, 100).await.unwrap();
    assert!(theirs.rows.is_empty() && theirs.next.is_none(), "b has no mobile");
}

/// The [`AgentStore`] methods the first tests leave out: agents listed oldest first,
/// environments listed and added (a taken slug conflicts), escalation tools set and reset.
pub async fn admin_environments_and_escalation(s: impl ConfigStore) {
    let a = scope(&s, "a").await;
    let b = scope(&s, "b").await;
    let agents = s.list_agents().await.unwrap();
    assert_eq!(
        agents.iter().map(|x| (x.id, x.name.as_str())).collect::<Vec<_>>(),
        [(a.agent_id, "a"), (b.agent_id, "b")]
    );
    let defaults = s.environments(a.agent_id).await.unwrap();
    assert_eq!(
        defaults
            .iter()
            .map(|e| (e.slug.as_str(), e.name.as_str(), e.is_production, e.created_at))
            .collect::<Vec<_>>(),
        [("production", "Production", true, 1), ("development", "Development", false, 1)]
    );
    let env = s.create_environment(a.agent_id, "staging".into(), "Staging".into(), false, 7).await.unwrap();
    assert_eq!((env.slug.as_str(), env.is_production, env.created_at), ("staging", false, 7));
    let listed = s.environments(a.agent_id).await.unwrap();
    assert_eq!(listed.last(), Some(&env), "the new environment is listed last, as created");
    assert!(s.environments(b.agent_id + 100).await.unwrap().is_empty(), "no such agent");
    let dup = s.create_environment(a.agent_id, "staging".into(), "Again".into(), false, 8).await;
    assert!(matches!(dup, Err(crate::StoreError::Conflict { field: "slug", .. })));
    assert_eq!(
        s.agent(a.agent_id).await.unwrap().unwrap().environments,
        ["production", "development", "staging"]
    );

    assert_eq!(s.escalation_tools(a.agent_id).await.unwrap(), None, "the default list");
    assert!(
        s.set_escalation_tools(a.agent_id, Some(vec!["call_human".into(), "ticket".into()])).await.unwrap()
    );
    assert_eq!(
        s.escalation_tools(a.agent_id).await.unwrap(),
        Some(vec!["call_human".into(), "ticket".into()])
    );
    assert_eq!(s.escalation_tools(b.agent_id).await.unwrap(), None);
    assert!(s.set_escalation_tools(a.agent_id, None).await.unwrap());
    assert_eq!(s.escalation_tools(a.agent_id).await.unwrap(), None);
    assert!(!s.set_escalation_tools(b.agent_id + 100, None).await.unwrap());
}

/// The tracking methods the first tests leave out: a button press in the transcript, a
/// conversation looked up by id and by pk (only the agent's).
pub async fn tracking_buttons_and_lookups<S>(s: S)
where
    S: AgentStore + TrackingWriter + TrackingReader,
{
    let a = scope(&s, "a").await;
    let b = scope(&s, "b").await;
    let p =
        serde_json::from_value(json!({"conversation_id": "c", "button_event": "feedback", "label": "Yes",
        "value": "yes", "timestamp": "2026-05-01T10:00:00Z"}))
        .unwrap();
    let btn = s.insert_button(tracking::validate_button(&a, &p, 5).unwrap()).await.unwrap();
    assert_eq!(
        (btn.label.as_str(), btn.value.as_str(), btn.button_event.as_str()),
        ("Yes", "yes", "feedback")
    );
    let by_id = s.conversation(a.agent_id, ConversationRef::Id("c".into())).await.unwrap().unwrap();
    assert_eq!(by_id.id, btn.conversation_pk);
    assert!(by_id.is_used);
    let by_pk = s.conversation(a.agent_id, ConversationRef::Pk(by_id.id)).await.unwrap().unwrap();
    assert_eq!(by_pk.conversation_id, "c");
    assert!(s.conversation(b.agent_id, ConversationRef::Pk(by_id.id)).await.unwrap().is_none());
    let tr = s.transcript(a.agent_id, by_id.id).await.unwrap().unwrap();
    assert_eq!(tr.buttons.iter().map(|x| x.id).collect::<Vec<_>>(), [btn.id]);
    assert_eq!(tr.conversation.message_count, 0, "a button is not a message");
}

/// `MetricsReader::users` on a hand-computed fixture (UTC, Monday 4 May to Sunday 17 May
/// 2026): a user first seen before the range is returning, whatever the filters (`source`
/// chooses her activity, not her first day); a soft-deleted conversation is no one's first;
/// a customer first seen with another agent is new here; conversations without a customer or
/// with an empty one belong to no user; the weekly cohorts, active users by day, week and month,
/// and every answer equal to the reference's.
pub async fn metrics_reader_users_over_time<S>(s: S)
where
    S: MetricsReader + TrackingWriter + AgentStore,
{
    use super::property::{Conv, RefWriter};
    let a = s.create_agent("a".into(), 0).await.expect("create agent").id;
    let b = s.create_agent("b".into(), 0).await.expect("create agent").id;
    let mut other = RefWriter::new(&s, b);
    other
        .conversation(Conv {
            id: "e0".into(),
            started: t("2026-04-01T09:00:00Z"),
            customer: Some("erin".into()),
            ..Default::default()
        })
        .await;
    let mut h = RefWriter::new(&s, a);
    let conv = |id: &str, at: &str, customer: Option<&str>, source: &str| Conv {
        id: id.into(),
        started: t(at),
        is_used: true,
        customer: customer.map(str::to_string),
        source: Some(source.into()),
        ..Default::default()
    };
    for c in [
        conv("a0", "2026-04-20T12:00:00Z", Some("alice"), "web"),
        conv("a1", "2026-05-05T12:00:00Z", Some("alice"), "whatsapp"),
        conv("b0", "2026-05-04T10:00:00Z", Some("bob"), "web"),
        conv("b1", "2026-05-04T15:00:00Z", Some("bob"), "web"),
        conv("b2", "2026-05-12T08:00:00Z", Some("bob"), "web"),
        conv("c0", "2026-05-06T08:00:00Z", Some("carol"), "web"),
        conv("c1", "2026-05-13T08:00:00Z", Some("carol"), "web"),
        conv("e1", "2026-05-07T23:59:59Z", Some("erin"), "web"),
        conv("n0", "2026-05-08T10:00:00Z", None, "web"),
        conv("n1", "2026-05-08T11:00:00Z", Some(""), "web"),
        conv("late", "2026-05-18T00:00:00Z", Some("zed"), "web"),
    ] {
        h.conversation(c).await;
    }
    let c0 = h.pk("c0").expect("c0");
    h.delete(c0).await;
    let agent = AgentRef { id: a, name: "a".into() };
    let range = [("from", "2026-05-04"), ("to", "2026-05-17")];
    let by_day = s.users(agent.clone(), q(&range), Interval::Day).await.unwrap();
    assert_eq!(by_day.interval, "day");
    let t3 = |x: &crate::UsersResponse| (x.totals.users, x.totals.new_users, x.totals.returning_users);
    assert_eq!(t3(&by_day), (4, 3, 1), "alice returning; bob, erin and carol new");
    let days: Vec<(&str, u64, u64, u64)> = by_day
        .new_returning
        .iter()
        .filter(|p| p.active > 0)
        .map(|p| (p.start.as_str(), p.active, p.new, p.returning))
        .collect();
    assert_eq!(
        days,
        [
            ("2026-05-04", 1, 1, 0),
            ("2026-05-05", 1, 0, 1),
            ("2026-05-07", 1, 1, 0),
            ("2026-05-12", 1, 0, 1),
            ("2026-05-13", 1, 1, 0)
        ]
    );
    assert_eq!(by_day.new_returning.len(), 14);
    assert_eq!(by_day.active.daily.iter().map(|p| p.users).sum::<u64>(), 5);
    assert_eq!(
        by_day.active.weekly.iter().map(|p| (p.start.as_str(), p.users)).collect::<Vec<_>>(),
        [("2026-05-04", 3), ("2026-05-11", 2)]
    );
    assert_eq!(
        by_day.active.monthly.iter().map(|p| (p.start.as_str(), p.users)).collect::<Vec<_>>(),
        [("2026-05-04", 4)]
    );
    let cohorts: Vec<(&str, u64, Vec<u64>)> =
        by_day.cohorts.iter().map(|c| (c.week.as_str(), c.users, c.retained.clone())).collect();
    assert_eq!(cohorts, [("2026-05-04", 2, vec![2, 1]), ("2026-05-11", 1, vec![1])]);
    let by_week = s.users(agent.clone(), q(&range), Interval::Week).await.unwrap();
    let weeks: Vec<(u64, u64, u64)> =
        by_week.new_returning.iter().map(|p| (p.active, p.new, p.returning)).collect();
    assert_eq!(weeks, [(3, 2, 1), (2, 1, 1)]);
    let whatsapp = s
        .users(agent.clone(), q(&[range[0], range[1], ("source", "whatsapp")]), Interval::Day)
        .await
        .unwrap();
    assert_eq!(t3(&whatsapp), (1, 0, 1), "alice first wrote on the web: returning on WhatsApp");
    // Every answer is the reference's.
    for (params, interval) in [
        (range.to_vec(), Interval::Day),
        (range.to_vec(), Interval::Week),
        (vec![range[0], range[1], ("source", "whatsapp")], Interval::Day),
        (vec![("from", "2026-05-06"), ("to", "2026-05-13"), ("tz", "America/New_York")], Interval::Week),
    ] {
        let q = q(&params);
        let want = agentsight_core::metrics::reference::users(&h.data, &q, interval, agent.clone());
        assert_eq!(
            s.users(agent.clone(), q, interval).await.unwrap(),
            want,
            "{params:?} by {}",
            interval.name()
        );
    }
}

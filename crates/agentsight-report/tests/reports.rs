//! Reports from a real SQLite store with known data: the mail's numbers are the overview's, a send missed during downtime goes out once,
//! and a restart in the middle of a send gives one send.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::cell::RefCell;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Waker};

use agentsight_core::dashboard::{self, Logo};
use agentsight_core::limits::REPORT_SEND_LEASE_MICROS;
use agentsight_core::metrics::query::Compare;
use agentsight_core::reports::{Cadence, ReportPeriod, ScheduleSettings, Timing, parse_weekday};
use agentsight_core::tracking::{
    ConversationFields, ConversationRef, ConversationUpsert, Location, NewAction, NewMessage,
};
use agentsight_report::{RunOptions, send_due_reports};
use agentsight_store::prelude::*;
use agentsight_store::{
    AgentRef, BrandingPatch, NewReportSchedule, NewShare, OverviewResponse, overview_compared,
};
use agentsight_store_sqlite::{SqliteOptions, SqliteStore};
use chrono::{NaiveDate, TimeZone};
use chrono_tz::Tz;

const TZ: Tz = chrono_tz::Europe::Zagreb;

fn at(day: &str, h: u32, m: u32) -> i64 {
    let d = NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap().and_hms_opt(h, m, 0).unwrap();
    TZ.from_local_datetime(&d).earliest().unwrap().timestamp_micros()
}

fn open(dir: &std::path::Path) -> SqliteStore {
    SqliteStore::open(SqliteOptions::new(dir.join("t.db"))).unwrap()
}

/// An agent with conversations in week 49 of 2026 (30 Nov – 6 Dec) and fewer in week 48, a
/// white-label, a share link and a weekly schedule (Mondays 08:00 in Zagreb) made in October.
async fn fill(s: &SqliteStore) -> (i64, i64, String) {
    let a = s.create_agent("support-bot".into(), 1).await.unwrap();
    let logo = Logo { mime_type: "image/svg+xml".into(), bytes: br##"<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40"><circle cx="20" cy="20" r="18" fill="#fff"/></svg>"##.to_vec() };
    s.set_branding(
        a.id,
        BrandingPatch {
            display_name: Some(Some("Acme Care".into())),
            accent_color: Some(Some("#7b2cbf".into())),
            logo: Some(Some(logo)),
        },
    )
    .await
    .unwrap();
    let conv = |id: &str, country: Option<&str>, source: &str, t: i64| ConversationUpsert {
        agent_id: a.id,
        conversation_id: id.into(),
        fields: ConversationFields {
            customer_id: Some(format!("cust-{id}")),
            source: Some(source.into()),
            location: country.map(|c| Location {
                country: c.into(),
                region: None,
                city: None,
                latitude: None,
                longitude: None,
            }),
            ..Default::default()
        },
        is_used: true,
        event_time: t,
        received_at: t,
    };
    let msg = |id: &str, sender: &str, t: i64| NewMessage {
        agent_id: a.id,
        conversation: ConversationRef::Id(id.into()),
        sender: sender.into(),
        content: "hi".into(),
        metadata: "{}".into(),
        event_time: t,
        received_at: t,
    };
    let this_week = [
        ("c1", Some("HR"), "web", "2026-11-30"),
        ("c2", Some("HR"), "web", "2026-12-01"),
        ("c3", Some("DE"), "whatsapp", "2026-12-02"),
        ("c4", None, "web", "2026-12-06"),
        ("c5", Some("US"), "viber", "2026-12-06"),
    ];
    for (i, (id, c, src, day)) in this_week.iter().enumerate() {
        let t = at(day, 10, 0);
        s.upsert_conversation(conv(id, *c, src, t)).await.unwrap();
        s.insert_message(msg(id, "end_user", t + 1_000_000)).await.unwrap();
        s.insert_message(msg(id, "agent", t + 3_000_000 + i as i64 * 1_000_000)).await.unwrap();
        if i % 2 == 0 {
            s.insert_action(NewAction {
                agent_id: a.id,
                conversation: ConversationRef::Id((*id).into()),
                action_name: if i == 4 { "open_ticket".into() } else { "lookup_order".into() },
                event_time: t + 4_000_000,
                started_at: None,
                ended_at: None,
                duration_ms: Some(120),
                tools_used: None,
                response: None,
                error_msg: None,
                metadata: "{}".into(),
                received_at: t + 4_000_000,
            })
            .await
            .unwrap();
        }
    }
    // Week 48: two conversations.
    for (id, day) in [("p1", "2026-11-24"), ("p2", "2026-11-27")] {
        let t = at(day, 9, 0);
        s.upsert_conversation(conv(id, Some("HR"), "web", t)).await.unwrap();
        s.insert_message(msg(id, "end_user", t)).await.unwrap();
    }
    let token = dashboard::generate_token(dashboard::SHARE_PREFIX);
    let share = s
        .create_share(NewShare {
            agent_id: a.id,
            label: Some("Scheduled report".into()),
            token_prefix: token.prefix.clone(),
            token_hash: token.hash,
            expires_at: None,
            created_at: 1,
        })
        .await
        .unwrap();
    let schedule = s
        .create_report_schedule(NewReportSchedule {
            agent_id: a.id,
            settings: ScheduleSettings {
                timing: Timing {
                    cadence: Cadence::Weekly(parse_weekday("monday").unwrap()),
                    hour: 8,
                    tz: TZ,
                },
                recipients: vec!["client@example.com".into(), "boss@example.com".into()],
                enabled: true,
            },
            share_id: Some(share.id),
            share_token: Some(token.secret.clone()),
            now: at("2026-10-01", 12, 0),
        })
        .await
        .unwrap();
    (a.id, schedule.id, token.secret)
}

fn opts() -> RunOptions {
    RunOptions {
        public_url: Some("https://stats.example.com".into()),
        message_id_domain: "stats.example.com".into(),
        ..RunOptions::default()
    }
}

/// What the metrics API answers for the week (the handler calls this same function).
async fn api_overview(s: &SqliteStore, agent: i64, period: &ReportPeriod) -> OverviewResponse {
    let q = period.query(TZ);
    let c = q.compared(Compare::Previous).unwrap();
    let esc = agentsight_core::metrics::DEFAULT_ESCALATION_TOOLS.iter().map(|s| s.to_string()).collect();
    overview_compared(s, AgentRef { id: agent, name: "support-bot".into() }, q, Some(c), esc).await.unwrap()
}

fn attr<'a>(html: &'a str, kpi: &str, name: &str) -> &'a str {
    let cell = &html[html.find(&format!(r#"data-kpi="{kpi}""#)).unwrap()..];
    let from = cell.find(&format!(r#"{name}=""#)).unwrap() + name.len() + 2;
    &cell[from..from + cell[from..].find('"').unwrap()]
}

fn num(v: &str) -> Option<f64> {
    if v == "null" { None } else { Some(v.parse().unwrap()) }
}

#[tokio::test]
async fn the_received_report_carries_the_apis_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    let (agent, schedule, secret) = fill(&s).await;
    let sent = RefCell::new(Vec::new());
    let outcomes = send_due_reports(&s, &s, &opts(), at("2026-12-07", 8, 5), |mail, to| {
        sent.borrow_mut().push((mail, to));
        async { Ok::<(), String>(()) }
    })
    .await
    .unwrap();
    assert_eq!(outcomes.len(), 1);
    assert_eq!((outcomes[0].schedule_id, outcomes[0].period_key.as_str()), (schedule, "2026-W49"));
    let (m, to) = sent.borrow()[0].clone();

    // The message as the mailer gets it (the server's API tests read it back from a real SMTP
    // receiver).
    assert_eq!(m.subject, "Weekly report: Acme Care · 30 November – 6 December 2026");
    assert_eq!(m.message_id, format!("report-{schedule}-2026-W49@stats.example.com"));
    assert_eq!(to, ["client@example.com", "boss@example.com"]);
    let (html, text) = (m.html.clone(), m.text.clone());
    // The chart and the (rasterized SVG) logo travel as inline PNGs the HTML refers to.
    assert_eq!(m.inline.len(), 2);
    for p in &m.inline {
        assert!(html.contains(&format!("cid:{}", p.id)), "{}", p.id);
        assert_eq!((p.mime_type.as_str(), &p.bytes[1..4]), ("image/png", &b"PNG"[..]));
    }
    assert!(html.contains("#7b2cbf") && html.contains("Acme Care"));

    // Every KPI equals the API's, now and before.
    let o = api_overview(&s, agent, &ReportPeriod::parse("2026-W49").unwrap()).await;
    let p = o.previous.as_deref().unwrap();
    assert_eq!(o.total_conversations, 5);
    assert_eq!(p.total_conversations, 2);
    let expect = |o: &OverviewResponse| {
        [
            ("total_messages", Some(o.total_messages as f64)),
            ("total_conversations", Some(o.total_conversations as f64)),
            ("unique_users", Some(o.unique_users as f64)),
            ("unique_interactions", Some(o.unique_interactions as f64)),
            ("avg_bot_response_time_ms", o.avg_bot_response_time_ms),
            ("avg_conversation_duration_ms", o.avg_conversation_duration_ms),
            ("human_escalation_rate", Some(o.human_escalation.rate)),
            ("satisfaction_rate", o.feedback.satisfaction_rate),
        ]
    };
    for ((id, now), (_, before)) in expect(&o).into_iter().zip(expect(p)) {
        assert_eq!(num(attr(&html, id, "data-value")), now, "{id}");
        assert_eq!(num(attr(&html, id, "data-previous")), before, "{id}");
    }
    assert!(
        text.contains(&format!(
            "Total messages: {} (▲ 400%; before: {})",
            o.total_messages, p.total_messages
        )),
        "{text}"
    );
    assert!(text.contains("Human escalation rate: 20% (▲ 20 pts; before: 0%)"), "{text}");
    // The top lists are the overview's, in its order.
    for (list, rows) in [
        (
            "Top countries",
            o.countries
                .iter()
                .map(|r| (r.country.clone().unwrap_or("unknown".into()), r.conversations))
                .collect::<Vec<_>>(),
        ),
        (
            "Top sources",
            o.sources
                .iter()
                .map(|r| (r.source.clone().unwrap_or("unknown".into()), r.conversations))
                .collect(),
        ),
        ("Top tools", o.tools.iter().map(|r| (r.name.clone(), r.calls)).collect()),
    ] {
        let section = &text[text.find(list).unwrap()..];
        let lines: Vec<_> = section
            .lines()
            .skip(1)
            .take_while(|l| l.starts_with("  "))
            .map(|l| l.trim().to_string())
            .collect();
        let want: Vec<_> = rows
            .iter()
            .take(5)
            .map(|(n, c)| format!("{n}: {c} {}", if list == "Top tools" { "calls" } else { "conversations" }))
            .collect();
        assert_eq!(lines, want, "{list}");
    }
    assert!(text.contains("  HR: 2 conversations") && text.contains("  lookup_order: 2 calls"));
    for r in &o.daily {
        assert!(text.contains(&format!("  {}: {} / {}", r.date, r.messages, r.conversations)), "{}", r.date);
    }
    // The link to the share dashboard, absolute.
    let link = format!("https://stats.example.com/share/{secret}");
    assert!(html.contains(&format!(r#"href="{link}""#)) && text.contains(&link));
}

#[tokio::test]
async fn a_send_missed_during_downtime_goes_out_once_on_start() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    let (_, schedule, _) = fill(&s).await;
    // The server was down over three Mondays; it starts on Thursday 24 December.
    let start = at("2026-12-24", 9, 0);
    let count = RefCell::new(Vec::new());
    let mailer = |mail: agentsight_core::reports::OutgoingMail, _to: Vec<String>| {
        count.borrow_mut().push(mail.message_id.clone());
        async { Ok::<(), String>(()) }
    };
    let first = send_due_reports(&s, &s, &opts(), start, mailer).await.unwrap();
    assert_eq!(first.iter().map(|o| o.period_key.as_str()).collect::<Vec<_>>(), ["2026-W51"]);
    // Started again (twice) the same day: nothing more.
    drop(s);
    let s = open(dir.path());
    let mailer = |mail: agentsight_core::reports::OutgoingMail, _to: Vec<String>| {
        count.borrow_mut().push(mail.message_id.clone());
        async { Ok::<(), String>(()) }
    };
    assert!(send_due_reports(&s, &s, &opts(), start + 60_000_000, mailer).await.unwrap().is_empty());
    let mailer = |mail: agentsight_core::reports::OutgoingMail, _to: Vec<String>| {
        count.borrow_mut().push(mail.message_id.clone());
        async { Ok::<(), String>(()) }
    };
    assert!(send_due_reports(&s, &s, &opts(), at("2026-12-28", 7, 59), mailer).await.unwrap().is_empty());
    assert_eq!(*count.borrow(), [format!("report-{schedule}-2026-W51@stats.example.com")]);
}

/// Polls `f` until `ready()` holds (the mailer was entered), then drops it: the process stopped
/// there.
fn run_until<F: Future>(f: F, ready: impl Fn() -> bool) {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    let rt = tokio::runtime::Handle::current();
    while !ready() {
        // The store's futures wait on its threads: give them a moment through the runtime.
        rt.block_on(async { tokio::task::yield_now().await });
        if f.as_mut().poll(&mut cx).is_ready() {
            panic!("the send finished before the stop");
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

#[test]
fn a_restart_in_the_middle_of_a_send_gives_one_send() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _g = rt.enter();
    let dir = tempfile::tempdir().unwrap();
    let now = at("2026-12-07", 8, 0);
    let delivered = RefCell::new(Vec::<String>::new());
    let entered = RefCell::new(0);
    let schedule;
    {
        let s = open(dir.path());
        schedule = rt.block_on(fill(&s)).1;
        // The first process takes the send, renders it, enters the mailer, and stops there
        // (the mailer never answers; the future is dropped as a killed process's would be).
        let mailer = |_mail: agentsight_core::reports::OutgoingMail, _to: Vec<String>| {
            *entered.borrow_mut() += 1;
            std::future::pending::<Result<(), String>>()
        };
        run_until(send_due_reports(&s, &s, &opts(), now, mailer), || *entered.borrow() == 1);
    }
    let s = open(dir.path());
    let mailer = |mail: agentsight_core::reports::OutgoingMail, _to: Vec<String>| {
        delivered.borrow_mut().push(mail.message_id.clone());
        async { Ok::<(), String>(()) }
    };
    // Restarted a minute later: the send is still held by the stopped sender's lease.
    assert!(rt.block_on(send_due_reports(&s, &s, &opts(), now + 60_000_000, mailer)).unwrap().is_empty());
    // Once the lease has passed it goes out, once, with the same Message-ID.
    let later = now + REPORT_SEND_LEASE_MICROS + 60_000_000;
    for t in [later, later + 1, later + REPORT_SEND_LEASE_MICROS * 3] {
        let mailer = |mail: agentsight_core::reports::OutgoingMail, _to: Vec<String>| {
            delivered.borrow_mut().push(mail.message_id.clone());
            async { Ok::<(), String>(()) }
        };
        rt.block_on(send_due_reports(&s, &s, &opts(), t, mailer)).unwrap();
    }
    assert_eq!(*delivered.borrow(), [format!("report-{schedule}-2026-W49@stats.example.com")]);
    let r = rt.block_on(s.report_send(schedule, "2026-W49".into())).unwrap().unwrap();
    assert_eq!(r.state, agentsight_core::reports::SendState::Sent);
}

#[tokio::test]
async fn a_failed_send_is_retried_after_the_lease_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    let (_, schedule, _) = fill(&s).await;
    let now = at("2026-12-07", 8, 0);
    let out = send_due_reports(&s, &s, &opts(), now, |_m, _t| async { Err::<(), _>("smtp: 451 try later") })
        .await
        .unwrap();
    assert_eq!(out[0].result, Err("smtp: 451 try later".into()));
    let r = s.report_send(schedule, "2026-W49".into()).await.unwrap().unwrap();
    assert_eq!(r.error.as_deref(), Some("smtp: 451 try later"));
    let ok = |_m, _t| async { Ok::<(), String>(()) };
    assert!(send_due_reports(&s, &s, &opts(), now + 1, ok).await.unwrap().is_empty(), "not before the lease");
    let out = send_due_reports(&s, &s, &opts(), now + REPORT_SEND_LEASE_MICROS, ok).await.unwrap();
    assert_eq!(out[0].result, Ok(()));
}

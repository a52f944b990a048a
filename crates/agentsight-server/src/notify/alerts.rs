//! The alert evaluator: every `--alert-interval` the node holding the `alerts` lease measures
//! each enabled rule through the event store's metrics readers, opens a firing episode when
//! the value is above the threshold and none is open, resolves the open one when it no longer
//! is, and notifies every enabled target of each change (once: the sends carry a dedupe key of
//! the episode, the change and the target). Then it sends the scheduled reports that are due
//! ([`super::reports`]) and retries failed sends that are due.

use std::sync::Weak;
use std::time::Duration;

use agentsight_core::alerts::{self, AlertKind};
use agentsight_core::metrics::DEFAULT_ESCALATION_TOOLS;
use agentsight_core::metrics::query::{Filters, MetricsQuery};
use agentsight_core::metrics::series::{Interval, SeriesMetric};
use agentsight_core::time::{Micros, now_micros, to_iso};
use agentsight_store::prelude::*;
use agentsight_store::{AgentRef, AlertEventRow, AlertRuleRow, NotifyTargetRow, StoreResult};
use serde_json::json;

use super::{Email, Notifier};
use crate::app::{Shared, Store};

/// What a notice tells of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeState {
    /// The rule began to fire.
    Firing,
    /// It stopped.
    Resolved,
    /// A test sent from the settings (no episode).
    Test,
}

impl NoticeState {
    /// The API and message word.
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeState::Firing => "firing",
            NoticeState::Resolved => "resolved",
            NoticeState::Test => "test",
        }
    }
}

/// A rule's measurement at one time: its value (`None`: nothing to measure) and the range read.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// The value.
    pub value: Option<f64>,
    /// The range, said for people (`2026-12-06 to 2026-12-07 (UTC days)`).
    pub range: String,
}

/// Measures a rule now, through the event store's own metrics (the numbers the dashboard
/// shows for the same range).
pub async fn measure<S: Store>(st: &Shared<S>, rule: &AlertRuleRow, now: Micros) -> StoreResult<Measurement> {
    let kind = AlertKind::parse(&rule.kind).map_err(agentsight_store::StoreError::internal)?;
    let agent = match st.config.agent(rule.agent_id).await? {
        Some(a) => AgentRef { id: a.id, name: a.name },
        None => return Ok(Measurement { value: None, range: "agent deleted".into() }),
    };
    if kind == AlertKind::VolumeDrop {
        let ((s, e), (ps, pe)) = alerts::volume_windows(rule.window_hours, now);
        let from = day_of(ps);
        let to = day_of(e);
        let q = MetricsQuery { from, to, tz: chrono_tz::UTC, filters: Filters::default() };
        let series = st.events.timeseries(agent, q, SeriesMetric::Messages, Interval::Hour).await?;
        let (mut cur, mut prev) = (0u64, 0u64);
        for p in &series.points {
            let Ok(t) = chrono::DateTime::parse_from_rfc3339(&p.start) else { continue };
            let t = t.timestamp_micros();
            let v = p.value.unwrap_or(0.0).max(0.0) as u64;
            if (s..e).contains(&t) {
                cur += v;
            } else if (ps..pe).contains(&t) {
                prev += v;
            }
        }
        return Ok(Measurement {
            value: alerts::volume_drop(cur, prev),
            range: format!(
                "{} to {} UTC ({cur} messages) against {} to {} ({prev} messages)",
                to_iso(s),
                to_iso(e),
                to_iso(ps),
                to_iso(pe)
            ),
        });
    }
    let (from, to) = alerts::day_window(rule.window_hours, now);
    let range = format!("{from} to {to} (UTC days)");
    let q = MetricsQuery { from, to, tz: chrono_tz::UTC, filters: Filters::default() };
    let value = if kind == AlertKind::CostPerDay {
        let m = st.events.llm_metrics(agent, q).await?;
        alerts::cost_per_day(&m.totals.cost_usd, rule.window_hours)
    } else {
        let escalation = match st.config.escalation_tools(rule.agent_id).await? {
            Some(list) => list,
            None => DEFAULT_ESCALATION_TOOLS.iter().map(|s| s.to_string()).collect(),
        };
        if kind == AlertKind::UnansweredRate {
            // As `GET /api/metrics/failures/` answers for the same days with the default idle time.
            let facts = st.events.failure_facts(agent.id, q, escalation).await?;
            agentsight_core::metrics::failures::FailureCounts::of(
                &facts,
                now,
                agentsight_core::limits::FAILURE_IDLE_DEFAULT_MINUTES,
            )
            .unanswered_rate()
        } else {
            let o = st.events.overview(agent, q, escalation).await?;
            alerts::value_from_overview(kind, &o)
        }
    };
    Ok(Measurement { value, range })
}

fn day_of(t: Micros) -> chrono::NaiveDate {
    chrono::DateTime::from_timestamp_micros(t).unwrap_or_default().date_naive()
}

/// What a notice says: a subject, a plain-text body (one `Name: value` per line, the value
/// as the metrics API gives it) and a Slack-compatible JSON body (`text` plus the same facts
/// under `agentsight`).
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// Subject line.
    pub subject: String,
    /// Plain text.
    pub text: String,
    /// Webhook body.
    pub body: serde_json::Value,
}

/// The notice of a rule's change (or test).
pub fn notice(
    rule: &AlertRuleRow,
    agent_name: &str,
    state: NoticeState,
    value: Option<f64>,
    range: &str,
    event: Option<&AlertEventRow>,
    public_url: Option<&str>,
) -> Notice {
    let kind = AlertKind::parse(&rule.kind).ok();
    let label: &str = match kind {
        Some(k) => k.label(),
        None => &rule.kind,
    };
    let shown = value.map_or("none".to_string(), |v| format!("{v}"));
    let word = match state {
        NoticeState::Firing => "FIRING",
        NoticeState::Resolved => "RESOLVED",
        NoticeState::Test => "TEST",
    };
    let subject =
        format!("[AgentSight] {word}: {label} of {agent_name} is {shown} (threshold {})", rule.threshold);
    let mut lines = vec![
        format!("State: {}", state.as_str()),
        format!("Agent: {agent_name} (id {})", rule.agent_id),
        format!("Rule: {} ({})", rule.id, rule.kind),
        format!("Metric: {label}"),
        format!("Value: {shown}"),
        format!("Threshold: {}", rule.threshold),
        format!("Window: {} h", rule.window_hours),
        format!("Range: {range}"),
    ];
    if let Some(e) = event {
        lines.push(format!("Episode: {}", e.id));
        lines.push(format!("Fired at: {}", to_iso(e.fired_at)));
        if let Some(r) = e.resolved_at {
            lines.push(format!("Resolved at: {}", to_iso(r)));
        }
    }
    if let Some(url) = public_url {
        lines.push(format!("Dashboard: {url}/"));
    }
    let text = lines.join("\n") + "\n";
    let body = json!({
        "text": format!("{subject}\n{range}"),
        "agentsight": {
            "state": state.as_str(),
            "rule_id": rule.id,
            "agent": {"id": rule.agent_id, "name": agent_name},
            "kind": rule.kind,
            "value": value,
            "threshold": rule.threshold,
            "window_hours": rule.window_hours,
            "range": range,
            "event_id": event.map(|e| e.id),
            "fired_at": event.map(|e| to_iso(e.fired_at)),
            "resolved_at": event.and_then(|e| e.resolved_at).map(to_iso),
        }
    });
    Notice { subject, text, body }
}

/// Sends a notice to every given target (e-mail targets through SMTP, webhooks signed), each
/// once per `key` (`None`: no deduplication, as for a test).
pub async fn deliver<C: NotifyStore>(
    notifier: &Notifier,
    store: &C,
    targets: &[NotifyTargetRow],
    n: &Notice,
    source: &str,
    event_id: Option<i64>,
    key: Option<&str>,
) -> StoreResult<Vec<agentsight_store::SendRow>> {
    let mut out = Vec::new();
    for t in targets {
        let dedupe = key.map(|k| format!("{k}:target:{}", t.id));
        let sent = if t.kind == "email" {
            let email = Email::simple(t.address.clone(), n.subject.clone(), n.text.clone(), None);
            notifier.send_email(store, email, source, Some(t.id), event_id, dedupe).await?
        } else {
            notifier.send_webhook(store, t, n.body.clone(), &n.subject, source, event_id, dedupe).await?
        };
        out.extend(sent);
    }
    Ok(out)
}

/// One round: when this node holds the lease, every enabled rule is measured and its episode
/// opened or resolved (each change notified), disabled rules' open episodes are resolved, the
/// scheduled reports due are sent, and due retries are tried.
pub async fn round<S: Store>(st: &Shared<S>, notifier: &Notifier, every: Duration) -> StoreResult<()> {
    // The lease outlives a round by two more, so a live holder keeps it and a dead one's
    // passes to another node within three intervals.
    if !notifier.lead(&st.config, super::LEASE_ALERTS, every.saturating_mul(3)).await? {
        return Ok(());
    }
    let rules = st.config.alert_rules().await?;
    let mut targets = None;
    for rule in rules {
        let now = now_micros();
        let (state, m) = if !rule.enabled {
            (false, Measurement { value: None, range: "rule disabled".into() })
        } else {
            match measure(st, &rule, now).await {
                Ok(m) => (alerts::fires(m.value, rule.threshold), m),
                Err(e) => {
                    tracing::warn!(rule = rule.id, error = %agentsight_store::chain(&e), "alert rule not evaluated");
                    continue;
                }
            }
        };
        let (event, notice_state) = if state {
            let Some(value) = m.value else { continue };
            match st.config.open_alert(rule.id, now, value).await? {
                Some(e) => (e, NoticeState::Firing),
                None => continue,
            }
        } else {
            match st.config.resolve_alert(rule.id, now, m.value).await? {
                Some(e) => (e, NoticeState::Resolved),
                None => continue,
            }
        };
        tracing::info!(rule = rule.id, agent = rule.agent_id, kind = %rule.kind, value = ?m.value, state = notice_state.as_str(), "alert");
        let agent_name = st
            .config
            .agent(rule.agent_id)
            .await?
            .map_or_else(|| format!("agent {}", rule.agent_id), |a| a.name);
        let n =
            notice(&rule, &agent_name, notice_state, m.value, &m.range, Some(&event), notifier.public_url());
        if targets.is_none() {
            targets =
                Some(st.config.notify_targets().await?.into_iter().filter(|t| t.enabled).collect::<Vec<_>>());
        }
        let key = format!("alert:{}:{}", event.id, notice_state.as_str());
        deliver(
            notifier,
            &st.config,
            targets.as_deref().unwrap_or(&[]),
            &n,
            "alert",
            Some(event.id),
            Some(&key),
        )
        .await?;
    }
    // Reports after the rules: a failing report (a store error) must not hold back the retries.
    match super::reports::send_due(st, notifier).await {
        Ok(sent) => {
            for o in sent.iter().filter(|o| o.result.is_err()) {
                tracing::warn!(schedule = o.schedule_id, period = %o.period_key, "a scheduled report was not handed over; it is tried again after the lease");
            }
        }
        Err(e) => {
            tracing::warn!(error = %agentsight_store::chain(&e), "scheduled reports not sent this round")
        }
    }
    notifier.retry_due(&st.config).await?;
    Ok(())
}

/// Runs [`round`] every `every` (the first at once) until the server stops; zero: never.
pub(crate) fn spawn<S: Store>(state: Weak<Shared<S>>, every: Duration) {
    if every.is_zero() {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(st) = state.upgrade() else { break };
            if *st.stopping.borrow() {
                break;
            }
            if let Err(e) = round(&st, &st.notifier, every).await {
                tracing::warn!(error = %agentsight_store::chain(&e), "alert round failed; trying again at the next");
            }
        }
    });
}

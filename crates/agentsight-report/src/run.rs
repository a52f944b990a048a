//! Sending what is due: for every schedule, the send owed now
//! (`agentsight_core::reports::due`), taken atomically in the store
//! (`ReportStore::claim_report_send`, one per (schedule, period key)), gathered, rendered and
//! handed to the caller's mailer, then recorded as sent or failed. Run it at start (a send
//! missed while the server was down goes out then, once) and every minute or so.
//!
//! A sender that stops midway (a restart) leaves its send taken; it is owed again once the
//! lease ([`RunOptions::lease`]) has passed, and goes out with the same `Message-ID`. The
//! server's mailer records each recipient's mail in its sends log under a dedupe key of the
//! `Message-ID` and the address before the first attempt, so a send taken up again hands over
//! only what was not handed over before, and the log's own retries deliver the rest: a report
//! arrives once, unless the process stops between the SMTP server's acceptance and the record
//! of it, and then the repeat has the same `Message-ID`.

use std::future::Future;

use agentsight_core::limits::{REPORT_MAX_ATTEMPTS, REPORT_SEND_LEASE_MICROS};
use agentsight_core::reports::{OutgoingMail, ReportPeriod, due};
use agentsight_core::time::Micros;
use agentsight_store::{ConfigStore, MetricsReader, ReportScheduleRow, StoreResult};

use crate::gather::{ShareLink, gather};
use crate::render::render;

/// What sending needs besides the stores.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The server's public address (`serve --public-url`), for the dashboard link; without it
    /// the mails have no link.
    pub public_url: Option<String>,
    /// The domain of the `Message-ID`s (the sender's domain).
    pub message_id_domain: String,
    /// How long a taken send stays its sender's (see the module's note).
    pub lease: Micros,
}

impl Default for RunOptions {
    fn default() -> RunOptions {
        RunOptions { public_url: None, message_id_domain: String::new(), lease: REPORT_SEND_LEASE_MICROS }
    }
}

/// What became of one due send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendOutcome {
    /// The schedule.
    pub schedule_id: i64,
    /// The period.
    pub period_key: String,
    /// `Ok` when the mailer accepted it; the error otherwise.
    pub result: Result<(), String>,
}

/// The `Message-ID` of a schedule's send of a period (the same for every attempt).
pub fn message_id(schedule_id: i64, period_key: &str, domain: &str) -> String {
    let domain = if domain.is_empty() { "agentsight.invalid" } else { domain };
    format!("report-{schedule_id}-{period_key}@{domain}")
}

/// Renders a schedule's report of `period` (no send, nothing recorded): the preview.
pub async fn render_schedule<C: ConfigStore, E: MetricsReader>(
    config: &C,
    events: &E,
    s: &ReportScheduleRow,
    period: ReportPeriod,
    opts: &RunOptions,
    now: Micros,
) -> Result<OutgoingMail, crate::ReportError> {
    let share = match (s.share_id, &s.share_token) {
        (Some(id), Some(token)) => Some(ShareLink { id, token: token.clone() }),
        _ => None,
    };
    let key = period.key.clone();
    let t = &s.settings.timing;
    let data = gather(
        config,
        events,
        s.agent_id,
        t.cadence,
        period,
        t.tz,
        share.as_ref(),
        opts.public_url.as_deref(),
        now,
    )
    .await?;
    render(&data, &message_id(s.id, &key, &opts.message_id_domain))
}

/// Sends every report due at `now`: `send(mail, recipients)` is the mailer (its error is
/// recorded and the send retried after the lease, up to `REPORT_MAX_ATTEMPTS`). Answers what
/// became of each send it took; a store failure while looking ends the pass (the next pass
/// tries again).
pub async fn send_due_reports<C, E, F, Fut, Err>(
    config: &C,
    events: &E,
    opts: &RunOptions,
    now: Micros,
    mut send: F,
) -> StoreResult<Vec<SendOutcome>>
where
    C: ConfigStore,
    E: MetricsReader,
    F: FnMut(OutgoingMail, Vec<String>) -> Fut,
    Fut: Future<Output = Result<(), Err>>,
    Err: std::fmt::Display,
{
    let mut out = Vec::new();
    for s in config.report_schedules(None).await? {
        let t = s.settings.timing;
        let key = agentsight_core::reports::last_send(&t, now).period.key;
        let recorded = config.report_send(s.id, key).await?.map(|r| r.state);
        let Some(d) = due(&t, s.settings.enabled, s.active_since, now, recorded.as_ref(), opts.lease) else {
            continue;
        };
        let key = d.period.key.clone();
        let taken = config
            .claim_report_send(s.id, key.clone(), now, now.saturating_sub(opts.lease), REPORT_MAX_ATTEMPTS)
            .await?;
        let Some(attempt) = taken else { continue };
        tracing::info!(schedule = s.id, agent = s.agent_id, period = %key, attempt, "sending a scheduled report");
        let result = match render_schedule(config, events, &s, d.period, opts, now).await {
            Ok(mail) => send(mail, s.settings.recipients.clone()).await.map_err(|e| e.to_string()),
            Err(e) => Err(format!("rendering: {e}")),
        };
        if let Err(e) = &result {
            tracing::warn!(schedule = s.id, period = %key, attempt, error = %e, "a scheduled report failed");
        }
        config.finish_report_send(s.id, key.clone(), now, result.clone().err()).await?;
        out.push(SendOutcome { schedule_id: s.id, period_key: key, result });
    }
    Ok(out)
}

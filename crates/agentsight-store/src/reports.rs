//! Scheduled client reports: each agent's schedules, and the record of each period's send
//! ([`ReportStore`], part of the configuration store). When a schedule is due and which
//! period it reports is `agentsight_core::reports`; rendering and sending, `agentsight-report`.

use std::future::Future;

use agentsight_core::reports::{Cadence, ScheduleSettings, SendState, Timing};
use agentsight_core::time::Micros;

use crate::{StoreError, StoreResult};

/// A stored report schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportScheduleRow {
    /// Id.
    pub id: i64,
    /// The agent it reports on.
    pub agent_id: i64,
    /// Cadence, hour, zone, recipients, on or off.
    pub settings: ScheduleSettings,
    /// The share link its mails link to (made with the schedule), if any.
    pub share_id: Option<i64>,
    /// That link's token: kept so every mail can carry the link (the one place a share token
    /// is stored in clear; revoking the link takes it out of later mails).
    pub share_token: Option<String>,
    /// Sends scheduled before this instant are not owed (the schedule's timing was set, or it
    /// was turned on, then).
    pub active_since: Micros,
    /// Creation time.
    pub created_at: Micros,
    /// Last change.
    pub updated_at: Micros,
}

/// A schedule to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewReportSchedule {
    /// The agent.
    pub agent_id: i64,
    /// Its settings.
    pub settings: ScheduleSettings,
    /// Its share link.
    pub share_id: Option<i64>,
    /// That link's token.
    pub share_token: Option<String>,
    /// Now (creation time and `active_since`).
    pub now: Micros,
}

/// What the store holds of one period's send of a schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportSendRow {
    /// The schedule.
    pub schedule_id: i64,
    /// The period's key (`2026-W49`, `2026-11`).
    pub period_key: String,
    /// Being sent, sent, or failed.
    pub state: SendState,
    /// When the mailer accepted it.
    pub sent_at: Option<Micros>,
    /// Why the last attempt failed.
    pub error: Option<String>,
}

/// The stored form of a schedule's timing: (`weekly`|`monthly`, day, hour, zone name).
pub fn timing_parts(t: &Timing) -> (&'static str, i64, i64, String) {
    (t.cadence.kind(), i64::from(t.cadence.day()), i64::from(t.hour), t.tz.name().to_string())
}

/// A schedule's settings from its stored columns (as [`timing_parts`] wrote them, recipients
/// as a JSON array).
pub fn settings_from_parts(
    cadence: &str,
    day: i64,
    hour: i64,
    tz: &str,
    recipients_json: &str,
    enabled: bool,
) -> StoreResult<ScheduleSettings> {
    let bad = |what: &str| StoreError::internal(format!("stored report schedule has a bad {what}"));
    let cadence =
        Cadence::from_parts(cadence, u32::try_from(day).map_err(|_| bad("day"))?).ok_or(bad("cadence"))?;
    let hour = u32::try_from(hour).ok().filter(|h| *h < 24).ok_or(bad("hour"))?;
    let tz = tz.parse().map_err(|_| bad("time zone"))?;
    let recipients: Vec<String> = serde_json::from_str(recipients_json).map_err(|_| bad("recipient list"))?;
    Ok(ScheduleSettings { timing: Timing { cadence, hour, tz }, recipients, enabled })
}

/// The stored form of a send's state: (`sending`|`sent`|`failed`, claimed_at, attempts).
pub fn send_state_from_parts(state: &str, claimed_at: Micros, attempts: i64) -> StoreResult<SendState> {
    let attempts = u32::try_from(attempts).unwrap_or(u32::MAX);
    match state {
        "sending" => Ok(SendState::Sending { claimed_at, attempts }),
        "sent" => Ok(SendState::Sent),
        "failed" => Ok(SendState::Failed { claimed_at, attempts }),
        _ => Err(StoreError::internal(format!("stored report send has the unknown state {state:?}"))),
    }
}

/// Report schedules and the record of their sends.
///
/// A send is recorded once per (schedule, period key): [`claim_report_send`] takes it
/// atomically (so two senders, or a sender and its restarted self, never both send one
/// period), [`finish_report_send`] records the outcome.
///
/// [`claim_report_send`]: ReportStore::claim_report_send
/// [`finish_report_send`]: ReportStore::finish_report_send
pub trait ReportStore: Send + Sync {
    /// Stores a schedule; `UnknownReference` on `agent` for an unknown agent.
    fn create_report_schedule(
        &self,
        s: NewReportSchedule,
    ) -> impl Future<Output = StoreResult<ReportScheduleRow>> + Send;
    /// The schedules of one agent (or of every agent), oldest first.
    fn report_schedules(
        &self,
        agent_id: Option<i64>,
    ) -> impl Future<Output = StoreResult<Vec<ReportScheduleRow>>> + Send;
    /// One schedule.
    fn report_schedule(&self, id: i64)
    -> impl Future<Output = StoreResult<Option<ReportScheduleRow>>> + Send;
    /// Replaces a schedule's settings and `active_since`; `None` when there is no such schedule.
    fn update_report_schedule(
        &self,
        id: i64,
        settings: ScheduleSettings,
        active_since: Micros,
        now: Micros,
    ) -> impl Future<Output = StoreResult<Option<ReportScheduleRow>>> + Send;
    /// Deletes a schedule and the record of its sends; false when there was none.
    fn delete_report_schedule(&self, id: i64) -> impl Future<Output = StoreResult<bool>> + Send;
    /// What is recorded of one period's send.
    fn report_send(
        &self,
        schedule_id: i64,
        period_key: String,
    ) -> impl Future<Output = StoreResult<Option<ReportSendRow>>> + Send;
    /// The schedule's newest `limit` sends, newest (by when they were taken) first.
    fn report_sends(
        &self,
        schedule_id: i64,
        limit: i64,
    ) -> impl Future<Output = StoreResult<Vec<ReportSendRow>>> + Send;
    /// Takes a period's send at `now`, atomically: it is recorded as being sent and the
    /// attempts so far (this one included) are answered, when nothing is recorded for it, or it
    /// is not sent, was taken at or before `stale_before` and has fewer than `max_attempts`.
    /// `None` otherwise (sent, or another sender holds it): then the caller must not send.
    /// `UnknownReference` on `schedule` for an unknown schedule.
    fn claim_report_send(
        &self,
        schedule_id: i64,
        period_key: String,
        now: Micros,
        stale_before: Micros,
        max_attempts: u32,
    ) -> impl Future<Output = StoreResult<Option<u32>>> + Send;
    /// Records the outcome of a taken send: sent (`error` = `None`) or failed; false when the
    /// send was not taken.
    fn finish_report_send(
        &self,
        schedule_id: i64,
        period_key: String,
        now: Micros,
        error: Option<String>,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
}

//! Alerts and notification delivery in the configuration store ([`NotifyStore`]): alert rules,
//! their firing episodes (the history, and the deduplication of firing), notification targets,
//! the SMTP settings, the log of every send with its retries, and the lease that makes one node
//! of a cluster do the scheduled work.
//!
//! Secrets (a webhook's signing secret, the SMTP password) are stored as the server hands them
//! in (the server seals them when it has a key) and are never part of what the API returns.

use std::future::Future;

use agentsight_core::time::Micros;

use crate::StoreResult;

/// By default a send still `Pending` this long after it was recorded is due again (every
/// attempt is bounded well below it): 5 minutes (`serve --notify-stale-after`).
pub const STALE_PENDING_MICROS: Micros = 300_000_000;

/// An alert rule as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRuleRow {
    /// Row id.
    pub id: i64,
    /// The agent it watches.
    pub agent_id: i64,
    /// The kind (`agentsight_core::alerts::AlertKind` name).
    pub kind: String,
    /// Fires above this.
    pub threshold: f64,
    /// The window in hours.
    pub window_hours: u32,
    /// Evaluated only when enabled.
    pub enabled: bool,
    /// Created.
    pub created_at: Micros,
}

/// A rule to create or the new state of one.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlertRule {
    /// The agent (`UnknownReference` on `agent` when there is none).
    pub agent_id: i64,
    /// The kind.
    pub kind: String,
    /// Threshold.
    pub threshold: f64,
    /// Window in hours.
    pub window_hours: u32,
    /// Enabled.
    pub enabled: bool,
}

/// One firing episode of a rule: from when it fired to when it resolved (open while
/// `resolved_at` is `None`; a rule has at most one open episode).
#[derive(Debug, Clone, PartialEq)]
pub struct AlertEventRow {
    /// Row id.
    pub id: i64,
    /// The rule.
    pub rule_id: i64,
    /// The rule's agent.
    pub agent_id: i64,
    /// The rule's kind when it fired.
    pub kind: String,
    /// The rule's threshold when it fired.
    pub threshold: f64,
    /// When it fired.
    pub fired_at: Micros,
    /// The value that fired it.
    pub fired_value: f64,
    /// When it resolved.
    pub resolved_at: Option<Micros>,
    /// The value when it resolved (`None` also when there was nothing to measure).
    pub resolved_value: Option<f64>,
}

/// A notification target: a webhook or an e-mail address.
#[derive(Debug, Clone, PartialEq)]
pub struct NotifyTargetRow {
    /// Row id.
    pub id: i64,
    /// `webhook` or `email`.
    pub kind: String,
    /// A name for people.
    pub name: String,
    /// The webhook URL or the e-mail address.
    pub address: String,
    /// The webhook's signing secret as stored (sealed by the server when it has a key).
    pub secret: Option<String>,
    /// Receives alerts only when enabled.
    pub enabled: bool,
    /// Created.
    pub created_at: Micros,
}

/// A target to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewNotifyTarget {
    /// `webhook` or `email`.
    pub kind: String,
    /// Name.
    pub name: String,
    /// URL or address.
    pub address: String,
    /// Signing secret (webhooks).
    pub secret: Option<String>,
    /// Enabled.
    pub enabled: bool,
}

/// The SMTP server mail goes out through.
#[derive(Debug, Clone, PartialEq)]
pub struct SmtpSettings {
    /// Host name (also the name its certificate must show).
    pub host: String,
    /// Port.
    pub port: u16,
    /// `starttls`, `tls` (implicit TLS) or `none` (plain: only for a relay on the same host).
    pub security: String,
    /// User name for AUTH, if any.
    pub username: Option<String>,
    /// Password as stored (in clear: the API, the CLI and the logs never show it).
    pub password: Option<String>,
    /// The `From` address.
    pub from: String,
    /// Last changed.
    pub updated_at: Micros,
}

/// A send to record (before its first attempt).
#[derive(Debug, Clone, PartialEq)]
pub struct NewSend {
    /// `email` or `webhook`.
    pub channel: String,
    /// What sent it: `alert`, `test`, `report`, …
    pub source: String,
    /// The target, when it went to a stored target.
    pub target_id: Option<i64>,
    /// The alert event it tells of.
    pub alert_event_id: Option<i64>,
    /// To whom: the e-mail address or the webhook URL.
    pub recipient: String,
    /// What: the subject (or a one-line summary of a webhook body).
    pub subject: String,
    /// The message as the sender needs it to try again (JSON).
    pub payload: String,
    /// Recorded at most once: a second send with the same key is not recorded (and so not
    /// sent), whichever node asks. `None`: no deduplication.
    pub dedupe_key: Option<String>,
    /// Now.
    pub created_at: Micros,
}

/// Where a send stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendStatus {
    /// Recorded, not yet tried.
    Pending,
    /// Delivered (the SMTP server or the webhook accepted it).
    Sent,
    /// Failed; tried again at `next_attempt_at`.
    Retrying,
    /// Failed for the last time.
    Failed,
}

impl SendStatus {
    /// The stored and API name.
    pub fn as_str(self) -> &'static str {
        match self {
            SendStatus::Pending => "pending",
            SendStatus::Sent => "sent",
            SendStatus::Retrying => "retrying",
            SendStatus::Failed => "failed",
        }
    }

    /// From the stored name (unknown: `Failed`).
    pub fn parse(s: &str) -> SendStatus {
        match s {
            "pending" => SendStatus::Pending,
            "sent" => SendStatus::Sent,
            "retrying" => SendStatus::Retrying,
            _ => SendStatus::Failed,
        }
    }
}

/// One recorded send.
#[derive(Debug, Clone, PartialEq)]
pub struct SendRow {
    /// Row id.
    pub id: i64,
    /// `email` or `webhook`.
    pub channel: String,
    /// What sent it.
    pub source: String,
    /// The target.
    pub target_id: Option<i64>,
    /// The alert event.
    pub alert_event_id: Option<i64>,
    /// To whom.
    pub recipient: String,
    /// What.
    pub subject: String,
    /// The message (JSON).
    pub payload: String,
    /// The deduplication key.
    pub dedupe_key: Option<String>,
    /// Recorded.
    pub created_at: Micros,
    /// Where it stands.
    pub status: SendStatus,
    /// Attempts made.
    pub attempts: u32,
    /// The last attempt's error.
    pub last_error: Option<String>,
    /// When it is tried again (`Retrying` only).
    pub next_attempt_at: Option<Micros>,
    /// The last attempt.
    pub last_attempt_at: Option<Micros>,
}

/// The outcome of one attempt of a send.
#[derive(Debug, Clone, PartialEq)]
pub struct SendAttempt {
    /// When.
    pub at: Micros,
    /// `Sent`, `Retrying` or `Failed`.
    pub status: SendStatus,
    /// The error, when it failed.
    pub error: Option<String>,
    /// When to try again (`Retrying`).
    pub next_attempt_at: Option<Micros>,
}

/// Alert rules, their history, notification targets, SMTP settings, the sends log and the
/// cluster lease (part of the configuration store).
pub trait NotifyStore: Send + Sync {
    /// Every rule, oldest first.
    fn alert_rules(&self) -> impl Future<Output = StoreResult<Vec<AlertRuleRow>>> + Send;
    /// One rule.
    fn alert_rule(&self, id: i64) -> impl Future<Output = StoreResult<Option<AlertRuleRow>>> + Send;
    /// Creates a rule (`UnknownReference` on `agent` for an unknown agent).
    fn create_alert_rule(
        &self,
        r: NewAlertRule,
        now: Micros,
    ) -> impl Future<Output = StoreResult<AlertRuleRow>> + Send;
    /// Replaces a rule's fields; `None` when there is no such rule. Its open episode, if any,
    /// stays open (the evaluator resolves it when the new rule no longer fires).
    fn update_alert_rule(
        &self,
        id: i64,
        r: NewAlertRule,
    ) -> impl Future<Output = StoreResult<Option<AlertRuleRow>>> + Send;
    /// Deletes a rule and its history; false when there was none.
    fn delete_alert_rule(&self, id: i64) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Opens a firing episode of the rule, atomically: `None` when one is already open (the
    /// deduplication: a rule that still fires does not fire again) or the rule is gone.
    fn open_alert(
        &self,
        rule_id: i64,
        at: Micros,
        value: f64,
    ) -> impl Future<Output = StoreResult<Option<AlertEventRow>>> + Send;
    /// Resolves the rule's open episode; `None` when none is open.
    fn resolve_alert(
        &self,
        rule_id: i64,
        at: Micros,
        value: Option<f64>,
    ) -> impl Future<Output = StoreResult<Option<AlertEventRow>>> + Send;
    /// Episodes (of one rule, or of all), newest first, at most `limit`.
    fn alert_events(
        &self,
        rule_id: Option<i64>,
        limit: i64,
    ) -> impl Future<Output = StoreResult<Vec<AlertEventRow>>> + Send;
    /// Every target, oldest first.
    fn notify_targets(&self) -> impl Future<Output = StoreResult<Vec<NotifyTargetRow>>> + Send;
    /// One target.
    fn notify_target(&self, id: i64) -> impl Future<Output = StoreResult<Option<NotifyTargetRow>>> + Send;
    /// Creates a target.
    fn create_notify_target(
        &self,
        t: NewNotifyTarget,
        now: Micros,
    ) -> impl Future<Output = StoreResult<NotifyTargetRow>> + Send;
    /// Turns a target on or off; `None` when there is none.
    fn set_notify_target_enabled(
        &self,
        id: i64,
        enabled: bool,
    ) -> impl Future<Output = StoreResult<Option<NotifyTargetRow>>> + Send;
    /// Deletes a target (its sends stay in the log); false when there was none.
    fn delete_notify_target(&self, id: i64) -> impl Future<Output = StoreResult<bool>> + Send;
    /// The SMTP settings, if set.
    fn smtp_settings(&self) -> impl Future<Output = StoreResult<Option<SmtpSettings>>> + Send;
    /// Sets (or with `None` clears) the SMTP settings.
    fn set_smtp_settings(&self, s: Option<SmtpSettings>) -> impl Future<Output = StoreResult<()>> + Send;
    /// Records a send as `Pending`; `None` when its `dedupe_key` was recorded before.
    fn record_send(&self, s: NewSend) -> impl Future<Output = StoreResult<Option<SendRow>>> + Send;
    /// Records an attempt's outcome (one more attempt); `None` when there is no such send.
    fn record_attempt(
        &self,
        id: i64,
        a: SendAttempt,
    ) -> impl Future<Output = StoreResult<Option<SendRow>>> + Send;
    /// Sends `Retrying` whose `next_attempt_at` is at or before `now`, and sends still `Pending`
    /// that were recorded at or before `stale_before` (their first attempt never finished: the
    /// node stopped; [`STALE_PENDING_MICROS`] before `now` by default), oldest first, at most
    /// `limit`.
    fn due_sends(
        &self,
        now: Micros,
        stale_before: Micros,
        limit: i64,
    ) -> impl Future<Output = StoreResult<Vec<SendRow>>> + Send;
    /// The newest sends, newest first, at most `limit`.
    fn sends(&self, limit: i64) -> impl Future<Output = StoreResult<Vec<SendRow>>> + Send;
    /// Takes or keeps the named lease for `holder` until `now + ttl`: true when `holder` holds
    /// it now (it was free, expired, or already `holder`'s), false when another holder's lease
    /// is still running. Atomic across every node sharing the store.
    fn take_lease(
        &self,
        name: String,
        holder: String,
        now: Micros,
        ttl: Micros,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
}

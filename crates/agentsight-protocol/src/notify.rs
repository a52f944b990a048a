//! Wire types of alert rules and notification delivery (`/api/settings/alerts/…`,
//! `/api/settings/notify/…`, admins only; `docs/dashboard-api.md`). Secrets (a webhook's
//! signing secret, the SMTP password) are write-only: no response carries them.

use serde::{Deserialize, Serialize};

/// `POST /api/settings/alerts/rules/` and `PUT /api/settings/alerts/rules/{id}/`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRulePayload {
    /// The agent watched.
    pub agent: i64,
    /// `escalation_rate`, `avg_response_time`, `tool_error_rate`, `cost_per_day`,
    /// `volume_drop` or `unanswered_rate`.
    pub kind: String,
    /// Fires when the value is above this (rates 0–1, milliseconds, USD per day).
    pub threshold: f64,
    /// The window in hours: a multiple of 24 up to 744 (whole UTC days, today included), or
    /// 1–24 for `volume_drop` (the last complete hours against the same hours a week before).
    pub window_hours: i64,
    /// Evaluated only when enabled (default true).
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// An alert rule.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRuleResponse {
    /// Id.
    pub id: i64,
    /// The agent.
    pub agent: i64,
    /// The kind.
    pub kind: String,
    /// Threshold.
    pub threshold: f64,
    /// Window in hours.
    pub window_hours: u32,
    /// Enabled.
    pub enabled: bool,
    /// `firing` while an episode is open, else `ok`.
    pub state: String,
    /// Created (RFC 3339).
    pub created_at: String,
}

/// One firing episode (the alert history).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEventResponse {
    /// Id.
    pub id: i64,
    /// The rule.
    pub rule: i64,
    /// The agent.
    pub agent: i64,
    /// The rule's kind when it fired.
    pub kind: String,
    /// The rule's threshold when it fired.
    pub threshold: f64,
    /// `firing` or `resolved`.
    pub state: String,
    /// When it fired.
    pub fired_at: String,
    /// The value that fired it.
    pub fired_value: f64,
    /// When it resolved; null while firing.
    pub resolved_at: Option<String>,
    /// The value when it resolved; null while firing or when there was nothing to measure.
    pub resolved_value: Option<f64>,
}

/// `POST /api/settings/notify/targets/`: a webhook (`url`, `secret`) or an e-mail address
/// (`email`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyTargetPayload {
    /// `webhook` or `email`.
    pub kind: String,
    /// A name for people.
    pub name: String,
    /// The webhook's `http(s)://` URL.
    #[serde(default)]
    pub url: Option<String>,
    /// The webhook's signing secret, 16 to 256 characters (write-only).
    #[serde(default)]
    pub secret: Option<String>,
    /// The e-mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// Receives alerts (default true).
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// `PATCH /api/settings/notify/targets/{id}/`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyTargetPatch {
    /// Receives alerts.
    pub enabled: bool,
}

/// A notification target.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotifyTargetResponse {
    /// Id.
    pub id: i64,
    /// `webhook` or `email`.
    pub kind: String,
    /// Name.
    pub name: String,
    /// The e-mail address, or the webhook URL's scheme and host only (its path may be a
    /// secret).
    pub address: String,
    /// A signing secret is stored (it is never shown).
    pub has_secret: bool,
    /// Receives alerts.
    pub enabled: bool,
    /// Created.
    pub created_at: String,
    /// The outcome of its latest send (`sent`, `retrying`, `failed`, `pending`); null before
    /// the first.
    pub last_status: Option<String>,
    /// The latest send's error, when it failed.
    pub last_error: Option<String>,
}

/// `PUT /api/settings/notify/smtp/`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpPayload {
    /// Host name (the name its certificate must show).
    pub host: String,
    /// Port (587 for STARTTLS, 465 for TLS).
    pub port: i64,
    /// `starttls`, `tls` or `none`.
    pub security: String,
    /// User name for AUTH; null: no AUTH.
    #[serde(default)]
    pub username: Option<String>,
    /// Password (write-only); absent or null keeps the stored one.
    #[serde(default)]
    pub password: Option<String>,
    /// The `From` address.
    pub from: String,
}

/// The SMTP settings as shown (never the password).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SmtpResponse {
    /// False when no SMTP server is set (the other fields are then null or false).
    pub configured: bool,
    /// Host.
    pub host: Option<String>,
    /// Port.
    pub port: Option<u16>,
    /// `starttls`, `tls` or `none`.
    pub security: Option<String>,
    /// User name.
    pub username: Option<String>,
    /// A password is stored.
    pub password_set: bool,
    /// The `From` address.
    pub from: Option<String>,
    /// Last changed.
    pub updated_at: Option<String>,
}

/// `POST /api/settings/notify/smtp/test/`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpTestPayload {
    /// Where the test mail goes.
    pub to: String,
}

/// One send of the log.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendResponse {
    /// Id.
    pub id: i64,
    /// `email` or `webhook`.
    pub channel: String,
    /// `alert`, `test`, `report`, …
    pub source: String,
    /// The target, if it went to one.
    pub target: Option<i64>,
    /// The alert episode it tells of.
    pub alert_event: Option<i64>,
    /// To whom (an address; a webhook's name and host).
    pub recipient: String,
    /// What (the subject).
    pub subject: String,
    /// `pending`, `sent`, `retrying` or `failed`.
    pub status: String,
    /// Attempts made.
    pub attempts: u32,
    /// The last attempt's error.
    pub last_error: Option<String>,
    /// When it is tried again (`retrying`).
    pub next_attempt_at: Option<String>,
    /// The last attempt.
    pub last_attempt_at: Option<String>,
    /// Recorded.
    pub created_at: String,
}

/// `POST /api/settings/alerts/rules/{id}/test/`: the rule measured now and the test notices
/// sent to every enabled target.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertTestResponse {
    /// The value now; null when there is nothing to measure.
    pub value: Option<f64>,
    /// Whether the rule would fire now.
    pub fires: bool,
    /// The range measured.
    pub range: String,
    /// The sends, one per enabled target, with their first attempt's outcome.
    pub sends: Vec<SendResponse>,
}

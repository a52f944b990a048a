//! Delivery of notifications: e-mail over SMTP and signed webhooks, every send recorded in the
//! configuration store's log (`NotifyStore`) and retried with backoff; and the alert evaluator
//! ([`alerts`]) and the scheduled client reports ([`reports`]). Reusable by any sender (alerts, scheduled reports): build an [`Email`] or a
//! webhook body and call [`Notifier::send_email`] / [`Notifier::send_webhook`].
//!
//! Once per cluster: a send with a `dedupe_key` is recorded at most once across every node
//! sharing the store (a unique key), and only the node holding a lease ([`Notifier::lead`])
//! evaluates alerts and retries failed sends. See docs/operations.md, *Alerts and
//! notifications*.

pub mod alerts;
mod mailer;
pub mod reports;
mod webhook;

use std::time::Duration;

use agentsight_core::limits::MAX_SEND_ATTEMPTS;
use agentsight_core::reports::{MailPart, OutgoingMail};
use agentsight_core::time::{Micros, now_micros};
use agentsight_store::{
    NewSend, NotifyStore, NotifyTargetRow, SendAttempt, SendRow, SendStatus, StoreError, StoreResult,
};
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::config::Settings;

/// One e-mail to one recipient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Email {
    /// The recipient's address.
    pub to: String,
    /// Subject.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// An HTML alternative of the body.
    #[serde(default)]
    pub html: Option<String>,
    /// Files attached.
    #[serde(default)]
    pub attachments: Vec<MailAttachment>,
    /// Images the HTML refers to as `cid:<filename>` (sent as `multipart/related`).
    #[serde(default)]
    pub inline: Vec<MailAttachment>,
    /// The `Message-ID` (without angle brackets); `None`: lettre makes one per attempt. A
    /// report's is the same at every attempt, so a receiver can tell a repeat.
    #[serde(default)]
    pub message_id: Option<String>,
}

impl Email {
    /// A plain (optionally HTML) e-mail with no attachments.
    pub fn simple(
        to: impl Into<String>,
        subject: impl Into<String>,
        text: impl Into<String>,
        html: Option<String>,
    ) -> Email {
        Email {
            to: to.into(),
            subject: subject.into(),
            text: text.into(),
            html,
            attachments: vec![],
            inline: vec![],
            message_id: None,
        }
    }

    /// The test mail of the SMTP settings (the settings page's and `agentsight notify smtp test`).
    pub fn smtp_test(to: impl Into<String>) -> Email {
        Email::simple(to, "[AgentSight] Test mail", "This is a test of AgentSight's SMTP settings.\n", None)
    }

    /// A rendered report to one recipient: its inline images keep their `Content-ID`s (as the
    /// `filename` of each inline part), its `Message-ID` is the report's.
    pub fn from_report(mail: &OutgoingMail, to: impl Into<String>) -> Email {
        let part = |p: &MailPart, name: &str| MailAttachment {
            filename: name.to_string(),
            content_type: p.mime_type.clone(),
            base64: base64::engine::general_purpose::STANDARD.encode(&p.bytes),
        };
        Email {
            to: to.into(),
            subject: mail.subject.clone(),
            text: mail.text.clone(),
            html: Some(mail.html.clone()),
            attachments: mail.attachments.iter().map(|p| part(p, &p.filename)).collect(),
            inline: mail.inline.iter().map(|p| part(p, &p.id)).collect(),
            message_id: Some(mail.message_id.clone()),
        }
    }
}

/// The message as it goes out (`from` and the other headers included): what a mailer would
/// send, e.g. to write an `.eml` file.
pub fn message(from: &str, email: &Email) -> Result<lettre::Message, DeliveryError> {
    mailer::build(from, email)
}

/// A file attached to an [`Email`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MailAttachment {
    /// File name.
    pub filename: String,
    /// MIME type, e.g. `application/pdf`.
    pub content_type: String,
    /// The bytes, base64 (standard alphabet), as kept in the sends log for retries.
    pub base64: String,
}

/// A webhook delivery as the sends log keeps it: the target (its URL and secret are read at
/// each attempt, so a deleted target fails the send) and the JSON body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct WebhookPayload {
    body: serde_json::Value,
}

/// Why an attempt failed (said in the sends log).
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// No SMTP settings are stored.
    #[error("SMTP is not set up")]
    NoSmtp,
    /// The webhook target is gone.
    #[error("the target was deleted")]
    NoTarget,
    /// The message could not be built (a bad address, a bad attachment).
    #[error("bad message: {0}")]
    Message(String),
    /// The SMTP server or the webhook refused or could not be reached.
    #[error("{0}")]
    Transport(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// TLS trust for SMTP and webhooks.
#[derive(Debug, Clone, Default)]
pub(crate) struct TlsTrust {
    /// Extra CA certificates (PEM) trusted besides the system's.
    pub ca_pem: Option<Vec<u8>>,
    /// Accept any certificate (tests only).
    pub insecure: bool,
}

/// Sends e-mail and webhooks and keeps the sends log. One per server (in the app state).
pub struct Notifier {
    http: webhook::HttpClient,
    tls: TlsTrust,
    retry_base: Duration,
    stale_after: Duration,
    node: String,
    public_url: Option<String>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier").field("node", &self.node).finish_non_exhaustive()
    }
}

/// The lease the evaluator and the retries run under.
pub const LEASE_ALERTS: &str = "alerts";

impl Notifier {
    /// A notifier for these settings: reads `notify_ca_file` (an unreadable or invalid file is
    /// an error, said at start).
    pub fn new(settings: &Settings) -> Result<Notifier, String> {
        let ca_pem = match &settings.notify_ca_file {
            Some(p) => Some(std::fs::read(p).map_err(|e| format!("notify CA file {}: {e}", p.display()))?),
            None => None,
        };
        let http = webhook::client(ca_pem.as_deref())?;
        let node = format!("{}-{:016x}", std::process::id(), rand::random::<u64>());
        Ok(Notifier {
            http,
            tls: TlsTrust { ca_pem, insecure: settings.notify_insecure_tls },
            retry_base: settings.notify_retry_base,
            stale_after: settings.notify_stale_after,
            node,
            public_url: settings.public_url.clone(),
        })
    }

    /// This process's name as a lease holder.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// How long a send or a report's sending, taken and not finished, stays its node's.
    pub fn stale_micros(&self) -> Micros {
        i64::try_from(self.stale_after.as_micros()).unwrap_or(i64::MAX)
    }

    /// The server's public URL, for links in messages.
    pub fn public_url(&self) -> Option<&str> {
        self.public_url.as_deref()
    }

    /// Takes (or keeps) the named lease for `ttl`: true when this node is to do the work
    /// guarded by it now. Every node calls it each round; one holds it until it stops renewing.
    pub async fn lead<C: NotifyStore>(&self, store: &C, name: &str, ttl: Duration) -> StoreResult<bool> {
        let ttl = i64::try_from(ttl.as_micros()).unwrap_or(i64::MAX);
        store.take_lease(name.to_string(), self.node.clone(), now_micros(), ttl).await
    }

    /// Records an e-mail in the sends log and sends it through the stored SMTP settings; a
    /// failed attempt is retried later by the lease holder. `source` says what sends it
    /// (`alert`, `report`, `test`, …); a `dedupe_key` makes it go out at most once (then
    /// `None` when it was recorded before, by this node or another). The returned row tells
    /// the first attempt's outcome.
    pub async fn send_email<C: NotifyStore>(
        &self,
        store: &C,
        email: Email,
        source: &str,
        target_id: Option<i64>,
        alert_event_id: Option<i64>,
        dedupe_key: Option<String>,
    ) -> StoreResult<Option<SendRow>> {
        let payload =
            serde_json::to_string(&email).map_err(|e| StoreError::internal_from("email payload", e))?;
        let new = NewSend {
            channel: "email".into(),
            source: source.into(),
            target_id,
            alert_event_id,
            recipient: email.to.clone(),
            subject: email.subject.clone(),
            payload,
            dedupe_key,
            created_at: now_micros(),
        };
        self.record_and_attempt(store, new).await
    }

    /// Records a webhook delivery of `body` to `target` (a `webhook` target) and posts it,
    /// signed with the target's secret; as [`send_email`](Self::send_email) otherwise.
    /// `subject` is the log's one-line summary.
    #[allow(clippy::too_many_arguments)]
    pub async fn send_webhook<C: NotifyStore>(
        &self,
        store: &C,
        target: &NotifyTargetRow,
        body: serde_json::Value,
        subject: &str,
        source: &str,
        alert_event_id: Option<i64>,
        dedupe_key: Option<String>,
    ) -> StoreResult<Option<SendRow>> {
        let payload = serde_json::to_string(&WebhookPayload { body })
            .map_err(|e| StoreError::internal_from("webhook payload", e))?;
        let new = NewSend {
            channel: "webhook".into(),
            source: source.into(),
            target_id: Some(target.id),
            alert_event_id,
            // A webhook's path may be its secret (Slack's are): the log names the host only.
            recipient: format!("{} <{}>", target.name, webhook::redact(&target.address)),
            subject: subject.into(),
            payload,
            dedupe_key,
            created_at: now_micros(),
        };
        self.record_and_attempt(store, new).await
    }

    async fn record_and_attempt<C: NotifyStore>(
        &self,
        store: &C,
        new: NewSend,
    ) -> StoreResult<Option<SendRow>> {
        let Some(row) = store.record_send(new).await? else { return Ok(None) };
        self.attempt(store, row).await.map(Some)
    }

    /// Tries the sends whose retry is due (the lease holder calls it each round).
    pub async fn retry_due<C: NotifyStore>(&self, store: &C) -> StoreResult<usize> {
        let now = now_micros();
        let due = store.due_sends(now, now.saturating_sub(self.stale_micros()), 50).await?;
        let n = due.len();
        for row in due {
            self.attempt(store, row).await?;
        }
        Ok(n)
    }

    /// One attempt of a recorded send, its outcome recorded.
    async fn attempt<C: NotifyStore>(&self, store: &C, row: SendRow) -> StoreResult<SendRow> {
        let outcome = match row.channel.as_str() {
            "email" => self.attempt_email(store, &row).await,
            "webhook" => self.attempt_webhook(store, &row).await,
            other => Err(DeliveryError::Message(format!("unknown channel {other}"))),
        };
        let at = now_micros();
        let attempt = match outcome {
            Ok(()) => SendAttempt { at, status: SendStatus::Sent, error: None, next_attempt_at: None },
            Err(DeliveryError::Store(e)) => return Err(e),
            Err(e) => {
                let attempts = row.attempts + 1;
                let error = Some(truncate(&e.to_string(), 500));
                tracing::warn!(send = row.id, channel = %row.channel, recipient = %row.recipient, attempts, error = %e, "notification send failed");
                if attempts >= MAX_SEND_ATTEMPTS || matches!(e, DeliveryError::Message(_)) {
                    SendAttempt { at, status: SendStatus::Failed, error, next_attempt_at: None }
                } else {
                    let wait = backoff(self.retry_base, attempts);
                    SendAttempt {
                        at,
                        status: SendStatus::Retrying,
                        error,
                        next_attempt_at: Some(at.saturating_add(wait)),
                    }
                }
            }
        };
        Ok(store.record_attempt(row.id, attempt).await?.unwrap_or(row))
    }

    async fn attempt_email<C: NotifyStore>(&self, store: &C, row: &SendRow) -> Result<(), DeliveryError> {
        let email: Email =
            serde_json::from_str(&row.payload).map_err(|e| DeliveryError::Message(e.to_string()))?;
        let smtp = store.smtp_settings().await?.ok_or(DeliveryError::NoSmtp)?;
        mailer::send(&smtp, &self.tls, &email).await
    }

    async fn attempt_webhook<C: NotifyStore>(&self, store: &C, row: &SendRow) -> Result<(), DeliveryError> {
        let p: WebhookPayload =
            serde_json::from_str(&row.payload).map_err(|e| DeliveryError::Message(e.to_string()))?;
        let target = match row.target_id {
            Some(id) => store.notify_target(id).await?.ok_or(DeliveryError::NoTarget)?,
            None => return Err(DeliveryError::NoTarget),
        };
        let secret = target.secret.unwrap_or_default();
        webhook::post(&self.http, &target.address, secret.as_bytes(), &p.body).await
    }
}

/// A webhook URL as shown and logged: its scheme and host only (a Slack webhook's path is its
/// secret).
pub fn shown_url(url: &str) -> String {
    webhook::redact(url)
}

/// The wait before retry `attempts` (1 after the first failure): `base × 2^(attempts-1)`, in
/// micros.
fn backoff(base: Duration, attempts: u32) -> Micros {
    let base = i64::try_from(base.as_micros()).unwrap_or(i64::MAX);
    base.saturating_mul(1_i64 << attempts.saturating_sub(1).min(20))
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base() {
        let b = Duration::from_secs(30);
        assert_eq!(backoff(b, 1), 30_000_000);
        assert_eq!(backoff(b, 2), 60_000_000);
        assert_eq!(backoff(b, 4), 240_000_000);
        assert_eq!(truncate("abcdef", 3), "abc…");
        assert_eq!(truncate("abc", 3), "abc");
    }
}

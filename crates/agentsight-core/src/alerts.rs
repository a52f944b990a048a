//! Alert rules and notification targets: validation, what each rule kind measures, when a rule
//! fires, and the webhook signature (docs/operations.md, *Alerts and notifications*).
//!
//! A rule watches one metric of one agent over a window and fires when the metric's value is
//! above the rule's threshold. The values come from the metrics API's own answers (the
//! overview, the hourly message series, the LLM metrics), so an alert's number is the number
//! the dashboard shows for the same range.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::ValidationErrors;
use crate::limits::{
    MAX_ALERT_WINDOW_HOURS, MAX_EMAIL_CHARS, MAX_NOTIFY_SECRET_CHARS, MAX_NOTIFY_URL_CHARS,
    MAX_SMTP_FIELD_CHARS, MAX_TARGET_NAME_CHARS, MAX_VOLUME_WINDOW_HOURS, MIN_NOTIFY_SECRET_CHARS,
    check_chars,
};
use crate::time::Micros;
use agentsight_protocol::metrics::OverviewResponse;

/// What a rule watches. Every kind fires when its value is above the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertKind {
    /// Conversations with a human escalation / conversations (0–1), over whole UTC days.
    EscalationRate,
    /// Mean bot response time in milliseconds, over whole UTC days.
    AvgResponseTime,
    /// Tool calls with an error / tool calls (0–1), over whole UTC days.
    ToolErrorRate,
    /// LLM cost in USD per UTC day: the window's cost divided by its days.
    CostPerDay,
    /// How far messages of the last complete hours fell below the same hours a week earlier:
    /// `1 - now / week_before` (0–1; none when the week before had no messages).
    VolumeDrop,
    /// Settled conversations whose last user message got no bot reply / settled conversations
    /// (0–1; `docs/metrics.md`, *Where the bot fails*, with the default idle time), over whole
    /// UTC days.
    UnansweredRate,
}

/// Rule kinds named in the API.
pub const ALERT_KINDS: [&str; 6] = [
    "escalation_rate",
    "avg_response_time",
    "tool_error_rate",
    "cost_per_day",
    "volume_drop",
    "unanswered_rate",
];

impl AlertKind {
    /// The API name.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::EscalationRate => "escalation_rate",
            AlertKind::AvgResponseTime => "avg_response_time",
            AlertKind::ToolErrorRate => "tool_error_rate",
            AlertKind::CostPerDay => "cost_per_day",
            AlertKind::VolumeDrop => "volume_drop",
            AlertKind::UnansweredRate => "unanswered_rate",
        }
    }

    /// The kind of an API name.
    pub fn parse(s: &str) -> Result<AlertKind, String> {
        Ok(match s {
            "escalation_rate" => AlertKind::EscalationRate,
            "avg_response_time" => AlertKind::AvgResponseTime,
            "tool_error_rate" => AlertKind::ToolErrorRate,
            "cost_per_day" => AlertKind::CostPerDay,
            "volume_drop" => AlertKind::VolumeDrop,
            "unanswered_rate" => AlertKind::UnansweredRate,
            other => {
                return Err(format!(
                    "\"{other}\" is not a valid choice: use one of {}.",
                    ALERT_KINDS.join(", ")
                ));
            }
        })
    }

    /// What the value is, for messages.
    pub fn label(self) -> &'static str {
        match self {
            AlertKind::EscalationRate => "human escalation rate",
            AlertKind::AvgResponseTime => "average response time (ms)",
            AlertKind::ToolErrorRate => "tool error rate",
            AlertKind::CostPerDay => "LLM cost per day (USD)",
            AlertKind::VolumeDrop => "message volume drop against the same hours last week",
            AlertKind::UnansweredRate => "unanswered rate",
        }
    }

    /// True for the kinds measured over whole UTC days (the window is a multiple of 24 hours).
    pub fn whole_days(self) -> bool {
        !matches!(self, AlertKind::VolumeDrop)
    }
}

/// A validated rule (the agent is checked by the store).
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSpec {
    /// What it watches.
    pub kind: AlertKind,
    /// Fires when the value is above this.
    pub threshold: f64,
    /// The window in hours.
    pub window_hours: u32,
}

/// Validates a rule: a known kind, a finite non-negative threshold (at most 1 for the rates),
/// and a window the kind can measure (whole UTC days up to 31 for the day kinds, 1 to 24 hours
/// for `volume_drop`). Every bad field is named.
pub fn validate_rule(kind: &str, threshold: f64, window_hours: i64) -> Result<RuleSpec, ValidationErrors> {
    let mut e = ValidationErrors::default();
    let kind = e.check("kind", AlertKind::parse(kind));
    if !threshold.is_finite() || threshold < 0.0 {
        e.add("threshold", "Must be a number of at least 0.");
    } else if matches!(
        kind,
        Some(
            AlertKind::EscalationRate
                | AlertKind::ToolErrorRate
                | AlertKind::VolumeDrop
                | AlertKind::UnansweredRate
        )
    ) && threshold > 1.0
    {
        e.add("threshold", "A rate is between 0 and 1.");
    }
    let window = match kind {
        Some(k) if k.whole_days() => {
            if window_hours < 24 || window_hours > MAX_ALERT_WINDOW_HOURS as i64 || window_hours % 24 != 0 {
                e.add(
                    "window_hours",
                    format!(
                        "This kind is measured over whole UTC days: use a multiple of 24 from 24 to {MAX_ALERT_WINDOW_HOURS}."
                    ),
                );
            }
            window_hours
        }
        Some(_) => {
            if !(1..=MAX_VOLUME_WINDOW_HOURS as i64).contains(&window_hours) {
                e.add("window_hours", format!("Use 1 to {MAX_VOLUME_WINDOW_HOURS} hours."));
            }
            window_hours
        }
        None => window_hours,
    };
    let (Some(kind), true) = (kind, e.is_empty()) else { return Err(e) };
    Ok(RuleSpec { kind, threshold, window_hours: window as u32 })
}

/// The UTC days a day-kind rule reads at `now`: the window's days ending with today (today so
/// far included).
pub fn day_window(window_hours: u32, now: Micros) -> (NaiveDate, NaiveDate) {
    let today = utc(now).date_naive();
    let days = i64::from((window_hours / 24).max(1));
    (today - Duration::days(days - 1), today)
}

/// The hours a `volume_drop` rule compares at `now`: the last `window_hours` complete UTC
/// hours, `[start, end)` in micros, and the same hours seven days earlier.
pub fn volume_windows(window_hours: u32, now: Micros) -> ((Micros, Micros), (Micros, Micros)) {
    const HOUR: Micros = 3_600_000_000;
    const WEEK: Micros = 7 * 24 * HOUR;
    let end = now.div_euclid(HOUR) * HOUR;
    let start = end - i64::from(window_hours) * HOUR;
    ((start, end), (start - WEEK, end - WEEK))
}

fn utc(t: Micros) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t).unwrap_or_default()
}

/// The value of a day kind from the overview of its window (`None`: nothing to measure, as no
/// conversations or no responses); `None` for the kinds the overview does not hold.
pub fn value_from_overview(kind: AlertKind, o: &OverviewResponse) -> Option<f64> {
    match kind {
        AlertKind::EscalationRate => (o.total_conversations > 0).then_some(o.human_escalation.rate),
        AlertKind::AvgResponseTime => o.avg_bot_response_time_ms,
        AlertKind::ToolErrorRate => {
            let calls: u64 = o.tools.iter().map(|t| t.calls).sum();
            let errors: u64 = o.tools.iter().map(|t| t.errors).sum();
            (calls > 0).then(|| errors as f64 / calls as f64)
        }
        AlertKind::CostPerDay | AlertKind::VolumeDrop | AlertKind::UnansweredRate => None,
    }
}

/// `cost_per_day`: the window's cost (the LLM metrics' exact decimal USD) divided by its days.
pub fn cost_per_day(cost_usd: &str, window_hours: u32) -> Option<f64> {
    let cost: f64 = cost_usd.parse().ok()?;
    Some(cost / f64::from((window_hours / 24).max(1)))
}

/// `volume_drop`: `1 - now / week_before`, at least 0; `None` when the week before had no
/// messages (nothing to fall from).
pub fn volume_drop(now: u64, week_before: u64) -> Option<f64> {
    (week_before > 0).then(|| (1.0 - now as f64 / week_before as f64).max(0.0))
}

/// Whether a rule with this value fires: the value is known and above the threshold.
pub fn fires(value: Option<f64>, threshold: f64) -> bool {
    value.is_some_and(|v| v > threshold)
}

/// Checks a notification target: a name, and an `http(s)://` URL for a webhook (with a
/// secret of 16 to 256 characters) or one e-mail address.
pub fn validate_target(
    kind: &str,
    name: &str,
    address: &str,
    secret: Option<&str>,
) -> Result<(), ValidationErrors> {
    let mut e = ValidationErrors::default();
    let name = name.trim();
    if name.is_empty() {
        e.add("name", "This field may not be blank.");
    } else if let Err(m) = check_chars(name, MAX_TARGET_NAME_CHARS) {
        e.add("name", m);
    }
    match kind {
        "webhook" => {
            if let Err(m) = webhook_url(address) {
                e.add("url", m);
            }
            match secret {
                Some(s) if s.chars().count() >= MIN_NOTIFY_SECRET_CHARS => {
                    if let Err(m) = check_chars(s, MAX_NOTIFY_SECRET_CHARS) {
                        e.add("secret", m);
                    }
                }
                _ => e.add(
                    "secret",
                    format!("A signing secret of at least {MIN_NOTIFY_SECRET_CHARS} characters is required."),
                ),
            }
        }
        "email" => {
            if let Err(m) = email_address(address) {
                e.add("email", m);
            }
        }
        _ => e.add("kind", "Use \"webhook\" or \"email\"."),
    }
    e.into_result(())
}

/// Checks SMTP settings: a host name (no spaces, at most 255 characters), a port 1–65535,
/// `starttls`, `tls` or `none`, an optional user name and password (at most 255 characters
/// each) and a `From` address.
pub fn validate_smtp(
    host: &str,
    port: i64,
    security: &str,
    username: Option<&str>,
    password: Option<&str>,
    from: &str,
) -> Result<u16, ValidationErrors> {
    let mut e = ValidationErrors::default();
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control() || c == '/') {
        e.add("host", "Enter a host name or address.");
    } else if let Err(m) = check_chars(host, MAX_SMTP_FIELD_CHARS) {
        e.add("host", m);
    }
    let port = u16::try_from(port).ok().filter(|p| *p > 0);
    if port.is_none() {
        e.add("port", "Use a port from 1 to 65535.");
    }
    if !matches!(security, "starttls" | "tls" | "none") {
        e.add("security", "Use \"starttls\", \"tls\" or \"none\".");
    }
    for (field, v) in [("username", username), ("password", password)] {
        if let Some(Err(m)) = v.map(|v| check_chars(v, MAX_SMTP_FIELD_CHARS)) {
            e.add(field, m);
        }
    }
    if username.is_some_and(str::is_empty) {
        e.add("username", "Leave it out (null) for no AUTH, or give a user name.");
    }
    if let Err(m) = email_address(from) {
        e.add("from", m);
    }
    e.into_result(port.unwrap_or(0))
}

/// An `http://` or `https://` URL with a host, at most [`MAX_NOTIFY_URL_CHARS`].
pub fn webhook_url(s: &str) -> Result<(), String> {
    check_chars(s, MAX_NOTIFY_URL_CHARS)?;
    let rest = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://"));
    match rest {
        Some(r) if !r.is_empty() && !r.starts_with('/') && !s.chars().any(char::is_whitespace) => Ok(()),
        _ => Err("Enter a valid http:// or https:// URL.".into()),
    }
}

/// One plain e-mail address (`local@domain`, no name, no spaces or angle brackets).
pub fn email_address(s: &str) -> Result<(), String> {
    check_chars(s, MAX_EMAIL_CHARS)?;
    let ok = match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !s.chars().any(|c| c.is_whitespace() || c.is_control() || "<>,;\"".contains(c))
        }
        None => false,
    };
    if ok { Ok(()) } else { Err("Enter a valid e-mail address.".into()) }
}

/// The signature header's value of a webhook body: `sha256=` and the lowercase hex
/// HMAC-SHA256, keyed by the target's secret, of `"{timestamp}.{body}"` (the timestamp being
/// the `X-AgentSight-Timestamp` header, Unix seconds).
pub fn webhook_signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    #[allow(clippy::expect_used)]
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rules_are_validated_field_by_field() {
        let r = validate_rule("escalation_rate", 0.25, 48).unwrap();
        assert_eq!((r.kind, r.threshold, r.window_hours), (AlertKind::EscalationRate, 0.25, 48));
        let e = validate_rule("escalation_rate", 1.5, 30).unwrap_err();
        assert!(e.0.contains_key("threshold") && e.0.contains_key("window_hours"), "{e:?}");
        assert!(validate_rule("volume_drop", 0.5, 3).is_ok());
        assert!(validate_rule("volume_drop", 0.5, 25).unwrap_err().0.contains_key("window_hours"));
        let r = validate_rule("unanswered_rate", 0.1, 24).unwrap();
        assert_eq!(r.kind, AlertKind::UnansweredRate);
        assert!(validate_rule("unanswered_rate", 1.1, 12).unwrap_err().0.len() == 2);
        assert!(validate_rule("nope", f64::NAN, 24).unwrap_err().0.contains_key("threshold"));
        assert!(validate_rule("cost_per_day", 12.5, 24).is_ok());
    }

    #[test]
    fn windows_end_now() {
        // 2026-12-07T13:30:00Z
        let now = 1_796_650_200_000_000;
        let (from, to) = day_window(72, now);
        assert_eq!((from.to_string(), to.to_string()), ("2026-12-05".into(), "2026-12-07".into()));
        let ((s, e), (ps, pe)) = volume_windows(2, now);
        assert_eq!(e - s, 2 * 3_600_000_000);
        assert_eq!(utc(e).to_rfc3339(), "2026-12-07T13:00:00+00:00");
        assert_eq!(s - ps, 7 * 24 * 3_600_000_000);
        assert_eq!(e - pe, s - ps);
    }

    #[test]
    fn values_and_firing() {
        assert_eq!(volume_drop(25, 100), Some(0.75));
        assert_eq!(volume_drop(150, 100), Some(0.0));
        assert_eq!(volume_drop(3, 0), None);
        assert_eq!(cost_per_day("6.5", 48), Some(3.25));
        assert!(fires(Some(0.3), 0.2) && !fires(Some(0.2), 0.2) && !fires(None, 0.0));
    }

    #[test]
    fn targets() {
        assert!(
            validate_target("webhook", "Ops", "https://hooks.example.invalid/x", Some("0123456789abcdef"))
                .is_ok()
        );
        let e = validate_target("webhook", " ", "ftp://x", Some("short")).unwrap_err();
        assert_eq!(e.0.keys().collect::<Vec<_>>(), ["name", "secret", "url"]);
        assert!(validate_target("email", "On call", "ops@example.invalid", None).is_ok());
        assert!(
            validate_target("email", "x", "Ops <ops@example.invalid>", None)
                .unwrap_err()
                .0
                .contains_key("email")
        );
        assert!(validate_target("sms", "x", "1", None).unwrap_err().0.contains_key("kind"));
    }

    #[test]
    fn smtp_settings() {
        assert_eq!(
            validate_smtp("mail.example.invalid", 587, "starttls", Some("u"), Some("p"), "a@example.invalid")
                .unwrap(),
            587
        );
        let e = validate_smtp("bad host", 0, "ssl", Some(""), None, "nope").unwrap_err();
        assert_eq!(e.0.keys().collect::<Vec<_>>(), ["from", "host", "port", "security", "username"]);
    }

    /// The signature matches Python's `hmac.new(b"Jefe", b'1700000000.{"text":"hi"}', sha256)`.
    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        assert_eq!(
            webhook_signature(b"Jefe", 1_700_000_000, br#"{"text":"hi"}"#),
            "sha256=78c16fb1347cc108e4fe45972cb2c71d070d22cb5c714af583367a3b7d491ce5"
        );
    }
}

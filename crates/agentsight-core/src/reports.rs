//! Scheduled client reports: when a schedule is due, which period a send reports, the
//! validation of a schedule, the KPI changes a report shows, and the message a report becomes.
//! Pure: the clock, the stores and the mailer are the caller's (`agentsight-report`).
//!
//! A schedule sends *weekly* (on a weekday) or *monthly* (on a day of the month, the last day
//! for a shorter month) at a local hour of its time zone. Each send reports the last full
//! period before it: the Monday–Sunday week that ended before the send's day (key
//! `2026-W49`, its ISO week), or the calendar month before the send's month (key `2026-11`).
//! The key names the send: a store records one send per (schedule, key), so however often the
//! server restarts, a period goes out once. After downtime only the latest scheduled send that
//! was missed is due (one mail, not one per missed period).

use chrono::{DateTime, Datelike, Duration, IsoWeek, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

use crate::error::ValidationErrors;
use crate::limits::{MAX_REPORT_RECIPIENTS, REPORT_MAX_ATTEMPTS};
use crate::metrics::query::{Filters, MetricsQuery};
use crate::time::Micros;

/// How often a schedule sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cadence {
    /// Every week on this weekday, reporting the last full Monday–Sunday week.
    Weekly(Weekday),
    /// Every month on this day (1–31; the month's last day when it is shorter), reporting the
    /// previous calendar month.
    Monthly(u32),
}

impl Cadence {
    /// `weekly` or `monthly`.
    pub fn kind(self) -> &'static str {
        match self {
            Cadence::Weekly(_) => "weekly",
            Cadence::Monthly(_) => "monthly",
        }
    }

    /// The stored day: ISO weekday number (1 = Monday … 7 = Sunday) or day of month.
    pub fn day(self) -> u32 {
        match self {
            Cadence::Weekly(w) => w.number_from_monday(),
            Cadence::Monthly(d) => d,
        }
    }

    /// From the stored kind and day; `None` when they do not make a cadence.
    pub fn from_parts(kind: &str, day: u32) -> Option<Cadence> {
        match kind {
            "weekly" => weekday_from_number(day).map(Cadence::Weekly),
            "monthly" if (1..=31).contains(&day) => Some(Cadence::Monthly(day)),
            _ => None,
        }
    }
}

fn weekday_from_number(n: u32) -> Option<Weekday> {
    (1..=7).contains(&n).then(|| Weekday::try_from((n - 1) as u8).ok()).flatten()
}

/// The weekday names a schedule accepts (`monday` … `sunday`, or their first three letters).
pub fn parse_weekday(s: &str) -> Result<Weekday, String> {
    let t = s.trim().to_ascii_lowercase();
    const NAMES: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
    NAMES
        .iter()
        .position(|n| *n == t || (t.len() == 3 && n.starts_with(&t)))
        .and_then(|i| weekday_from_number(i as u32 + 1))
        .ok_or_else(|| {
            format!("'{}' is not a weekday (monday … sunday)", t.chars().take(20).collect::<String>())
        })
}

/// The lower-case English name of a weekday.
pub fn weekday_name(w: Weekday) -> &'static str {
    ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
        [w.num_days_from_monday() as usize]
}

/// When a schedule sends: cadence, local hour and time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Weekly or monthly.
    pub cadence: Cadence,
    /// Local hour of the send (0–23).
    pub hour: u32,
    /// The zone of the hour and of the reported days.
    pub tz: Tz,
}

/// The days one report covers, and the key that names its send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportPeriod {
    /// `2026-W49` (ISO week) or `2026-11` (calendar month).
    pub key: String,
    /// First local day.
    pub from: NaiveDate,
    /// Last local day (inclusive).
    pub to: NaiveDate,
}

impl ReportPeriod {
    /// The ISO week that starts on `monday`.
    pub fn week_of(day: NaiveDate) -> ReportPeriod {
        let monday = day - Duration::days(i64::from(day.weekday().num_days_from_monday()));
        let w: IsoWeek = monday.iso_week();
        ReportPeriod {
            key: format!("{:04}-W{:02}", w.year(), w.week()),
            from: monday,
            to: monday + Duration::days(6),
        }
    }

    /// The calendar month of `day`.
    pub fn month_of(day: NaiveDate) -> ReportPeriod {
        let first = day.with_day(1).unwrap_or(day);
        ReportPeriod {
            key: format!("{:04}-{:02}", first.year(), first.month()),
            from: first,
            to: last_of_month(first),
        }
    }

    /// Parses a key: `2026-W49` (ISO week) or `2026-11` (month).
    pub fn parse(key: &str) -> Result<ReportPeriod, String> {
        let k = key.trim();
        let bad = || format!("'{}' is not a period: use 2026-W49 (ISO week) or 2026-11 (month)", trunc(k));
        let (y, rest) = k.split_once('-').ok_or_else(bad)?;
        let year: i32 = y.parse().map_err(|_| bad())?;
        if y.len() != 4 || year < crate::time::MIN_YEAR {
            return Err(bad());
        }
        let p = if let Some(w) = rest.strip_prefix('W').or_else(|| rest.strip_prefix('w')) {
            let week: u32 = w.parse().map_err(|_| bad())?;
            let monday = NaiveDate::from_isoywd_opt(year, week, Weekday::Mon).ok_or_else(bad)?;
            ReportPeriod::week_of(monday)
        } else {
            let month: u32 = rest.parse().map_err(|_| bad())?;
            ReportPeriod::month_of(NaiveDate::from_ymd_opt(year, month, 1).ok_or_else(bad)?)
        };
        Ok(p)
    }

    /// The metrics query of the period's days in `tz`, without filters.
    pub fn query(&self, tz: Tz) -> MetricsQuery {
        MetricsQuery { from: self.from, to: self.to, tz, filters: Filters::default() }
    }

    /// The period a send on local day `day` reports: the last full week or month before it.
    pub fn reported_on(cadence: Cadence, day: NaiveDate) -> ReportPeriod {
        match cadence {
            Cadence::Weekly(_) => {
                let this_monday = day - Duration::days(i64::from(day.weekday().num_days_from_monday()));
                ReportPeriod::week_of(this_monday - Duration::days(7))
            }
            Cadence::Monthly(_) => {
                let first = day.with_day(1).unwrap_or(day);
                ReportPeriod::month_of(first - Duration::days(1))
            }
        }
    }

    /// "1–7 December 2026" or "November 2026", for subjects and headings.
    pub fn label(&self) -> String {
        if self.key.contains('W') {
            if self.from.month() == self.to.month() {
                format!("{}–{} {}", self.from.day(), self.to.day(), self.to.format("%B %Y"))
            } else if self.from.year() == self.to.year() {
                format!("{} – {}", self.from.format("%-d %B"), self.to.format("%-d %B %Y"))
            } else {
                format!("{} – {}", self.from.format("%-d %B %Y"), self.to.format("%-d %B %Y"))
            }
        } else {
            self.from.format("%B %Y").to_string()
        }
    }
}

fn trunc(s: &str) -> String {
    s.chars().take(32).collect()
}

fn last_of_month(first: NaiveDate) -> NaiveDate {
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
    };
    next.map(|n| n - Duration::days(1)).unwrap_or(first)
}

/// The first instant at or after local `day` `hour`:00 in `tz` (the earlier of a repeated
/// hour; the first instant after a daylight-saving gap).
pub fn local_instant(tz: Tz, day: NaiveDate, hour: u32) -> Micros {
    let mut t = day.and_time(NaiveTime::from_hms_opt(hour.min(23), 0, 0).unwrap_or(NaiveTime::MIN));
    for _ in 0..(26 * 4) {
        if let Some(dt) = tz.from_local_datetime(&t).earliest() {
            return dt.with_timezone(&Utc).timestamp_micros();
        }
        t += Duration::minutes(15);
    }
    t.and_utc().timestamp_micros()
}

/// The local day a schedule sends on in the month of `first` (monthly), clamped to its length.
fn send_day_in_month(first: NaiveDate, day: u32) -> NaiveDate {
    let last = last_of_month(first);
    first.with_day(day.min(last.day())).unwrap_or(last)
}

/// The send days of a timing around `today`, oldest first: enough to find the last one at or
/// before any instant of `today` and the first one after it.
fn send_days_around(cadence: Cadence, today: NaiveDate) -> Vec<NaiveDate> {
    match cadence {
        Cadence::Weekly(w) => {
            let back = (7 + today.weekday().num_days_from_monday() - w.num_days_from_monday()) % 7;
            let this = today - Duration::days(i64::from(back));
            vec![this - Duration::days(7), this, this + Duration::days(7)]
        }
        Cadence::Monthly(d) => {
            let first = today.with_day(1).unwrap_or(today);
            let prev = (first - Duration::days(1)).with_day(1).unwrap_or(first);
            let next = last_of_month(first) + Duration::days(1);
            vec![send_day_in_month(prev, d), send_day_in_month(first, d), send_day_in_month(next, d)]
        }
    }
}

/// One scheduled send: when, and the period it reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledSend {
    /// The scheduled instant (UTC micros).
    pub at: Micros,
    /// The period it reports.
    pub period: ReportPeriod,
}

fn local_today(tz: Tz, now: Micros) -> NaiveDate {
    DateTime::<Utc>::from_timestamp_micros(now).unwrap_or_default().with_timezone(&tz).date_naive()
}

/// The latest scheduled send at or before `now`.
pub fn last_send(t: &Timing, now: Micros) -> ScheduledSend {
    let today = local_today(t.tz, now);
    let mut days = send_days_around(t.cadence, today);
    // One more cycle back, for the case where today's and yesterday's sends are both ahead of
    // `now` in the zone (a send day whose hour has not come yet).
    days.insert(0, send_days_around(t.cadence, days[0] - Duration::days(1))[1]);
    let day = days.iter().rev().copied().find(|d| local_instant(t.tz, *d, t.hour) <= now).unwrap_or(days[0]);
    ScheduledSend { at: local_instant(t.tz, day, t.hour), period: ReportPeriod::reported_on(t.cadence, day) }
}

/// The first scheduled send after `now`.
pub fn next_send(t: &Timing, now: Micros) -> ScheduledSend {
    let today = local_today(t.tz, now);
    let mut days = send_days_around(t.cadence, today);
    days.push(send_days_around(t.cadence, *days.last().unwrap_or(&today) + Duration::days(1))[1]);
    let day = days.iter().copied().find(|d| local_instant(t.tz, *d, t.hour) > now).unwrap_or(today);
    ScheduledSend { at: local_instant(t.tz, day, t.hour), period: ReportPeriod::reported_on(t.cadence, day) }
}

/// What the store recorded of one period's send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendState {
    /// Taken by a sender at `claimed_at` (a sender that stopped midway leaves it so).
    Sending {
        /// When it was taken.
        claimed_at: Micros,
        /// Attempts so far (this one included).
        attempts: u32,
    },
    /// The mailer accepted it.
    Sent,
    /// The last attempt failed.
    Failed {
        /// When that attempt was taken.
        claimed_at: Micros,
        /// Attempts so far.
        attempts: u32,
    },
}

/// The send a schedule owes at `now`, if any: the latest scheduled send at or before `now`
/// (not one from before the schedule took its timing, `active_since`), unless `recorded` —
/// what the store holds for that send's period — says it went out, is being sent (taken less
/// than `lease` ago: [`crate::limits::REPORT_SEND_LEASE_MICROS`] by default), or failed
/// [`REPORT_MAX_ATTEMPTS`] times. A send taken longer ago than the lease is owed again: its
/// sender stopped midway (a restart).
pub fn due(
    t: &Timing,
    enabled: bool,
    active_since: Micros,
    now: Micros,
    recorded: Option<&SendState>,
    lease: Micros,
) -> Option<ScheduledSend> {
    if !enabled {
        return None;
    }
    let s = last_send(t, now);
    if s.at < active_since || s.at > now {
        return None;
    }
    match recorded {
        None => Some(s),
        Some(SendState::Sent) => None,
        Some(SendState::Sending { claimed_at, attempts } | SendState::Failed { claimed_at, attempts }) => {
            (*claimed_at <= now.saturating_sub(lease) && *attempts < REPORT_MAX_ATTEMPTS).then_some(s)
        }
    }
}

/// A schedule's validated settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleSettings {
    /// When it sends.
    pub timing: Timing,
    /// Normalized, distinct e-mail addresses, in the order given.
    pub recipients: Vec<String>,
    /// Whether it sends.
    pub enabled: bool,
}

/// The fields of a schedule as sent (a create has them all; a change only those it changes).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScheduleFields<'a> {
    /// `weekly` or `monthly`.
    pub cadence: Option<&'a str>,
    /// Weekly: the weekday name.
    pub weekday: Option<&'a str>,
    /// Monthly: the day of the month.
    pub day_of_month: Option<i64>,
    /// Local hour.
    pub hour: Option<i64>,
    /// IANA zone.
    pub time_zone: Option<&'a str>,
    /// Addresses.
    pub recipients: Option<&'a [String]>,
    /// On or off.
    pub enabled: Option<bool>,
}

/// Validates a schedule: a create (`base` = `None`: `cadence`, `hour`, `time_zone` default to
/// weekly, 8 and UTC; `recipients` is required) or a change of `base`. Every bad field is named.
pub fn validate_schedule(
    f: &ScheduleFields<'_>,
    base: Option<&ScheduleSettings>,
) -> Result<ScheduleSettings, ValidationErrors> {
    let mut e = ValidationErrors::default();
    let kind = match f.cadence.map(|c| c.trim().to_ascii_lowercase()) {
        Some(c) if c == "weekly" || c == "monthly" => c,
        Some(c) => {
            e.add("cadence", format!("'{}' is not a cadence: weekly or monthly", trunc(&c)));
            "weekly".into()
        }
        None => base.map(|b| b.timing.cadence.kind()).unwrap_or("weekly").to_string(),
    };
    let cadence = if kind == "weekly" {
        let w = match f.weekday {
            Some(w) => e.check("weekday", parse_weekday(w)),
            None => match base.map(|b| b.timing.cadence) {
                Some(Cadence::Weekly(w)) => Some(w),
                _ => Some(Weekday::Mon),
            },
        };
        if f.day_of_month.is_some() {
            e.add("day_of_month", "a weekly schedule has a weekday, not a day of the month");
        }
        Cadence::Weekly(w.unwrap_or(Weekday::Mon))
    } else {
        let d = match f.day_of_month {
            Some(d) if (1..=31).contains(&d) => d as u32,
            Some(_) => {
                e.add(
                    "day_of_month",
                    "Ensure this value is between 1 and 31 (the month's last day when shorter).",
                );
                1
            }
            None => match base.map(|b| b.timing.cadence) {
                Some(Cadence::Monthly(d)) => d,
                _ => 1,
            },
        };
        if f.weekday.is_some() {
            e.add("weekday", "a monthly schedule has a day of the month, not a weekday");
        }
        Cadence::Monthly(d)
    };
    let hour = match f.hour {
        Some(h) if (0..=23).contains(&h) => h as u32,
        Some(_) => {
            e.add("hour", "Ensure this value is between 0 and 23.");
            0
        }
        None => base.map(|b| b.timing.hour).unwrap_or(8),
    };
    let tz = match f.time_zone {
        Some(z) => e
            .check(
                "time_zone",
                z.trim().parse::<Tz>().map_err(|_| format!("unknown time zone '{}'", trunc(z))),
            )
            .unwrap_or(Tz::UTC),
        None => base.map(|b| b.timing.tz).unwrap_or(Tz::UTC),
    };
    let recipients = match f.recipients {
        Some(list) => recipients(&mut e, list),
        None => match base {
            Some(b) => b.recipients.clone(),
            None => {
                e.add("recipients", "This field is required.");
                Vec::new()
            }
        },
    };
    let enabled = f.enabled.or(base.map(|b| b.enabled)).unwrap_or(true);
    e.into_result(ScheduleSettings { timing: Timing { cadence, hour, tz }, recipients, enabled })
}

fn recipients(e: &mut ValidationErrors, list: &[String]) -> Vec<String> {
    if list.is_empty() {
        e.add("recipients", "Give at least one e-mail address.");
    }
    if list.len() > MAX_REPORT_RECIPIENTS {
        e.add("recipients", format!("Ensure this list has no more than {MAX_REPORT_RECIPIENTS} addresses."));
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::new();
    for (i, r) in list.iter().enumerate() {
        match crate::dashboard::email(r) {
            Ok(a) if !out.contains(&a) => out.push(a),
            Ok(_) => {}
            Err(m) => e.add(format!("recipients[{i}]"), m),
        }
    }
    out
}

/// How a KPI's change is measured (as the dashboard's cards, `docs/metrics.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// Percent of the previous value.
    Relative,
    /// Difference of two rates in percentage points.
    Points,
}

/// Which way a KPI is good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    /// Rising is good.
    Up,
    /// Falling is good.
    Down,
    /// Neither.
    Neither,
}

/// The change of one KPI from the compared range.
#[derive(Debug, Clone, PartialEq)]
pub struct KpiChange {
    /// `up`, `down`, `same`, or `none` (no figure).
    pub direction: &'static str,
    /// "▲ 12%", "▼ 3 pts", "= 0%", "no data before", "no data now" or "no data".
    pub text: String,
    /// `good`, `bad` or `neutral`.
    pub verdict: &'static str,
}

/// One KPI of a report.
#[derive(Debug, Clone, PartialEq)]
pub struct Kpi {
    /// The metrics API's field name (`human_escalation_rate` and `satisfaction_rate` for the
    /// two rates).
    pub id: &'static str,
    /// Its label.
    pub label: &'static str,
    /// The exact value (as the API gives it), `None` when there is none.
    pub value: Option<f64>,
    /// The value formatted.
    pub shown: String,
    /// The compared range's exact value.
    pub previous: Option<f64>,
    /// The compared value formatted.
    pub previous_shown: String,
    /// The change.
    pub change: KpiChange,
}

/// The percentage shown for a change: one decimal under 10, whole above.
fn figure(p: f64) -> String {
    let a = p.abs();
    if a < 10.0 { trim_num(format!("{:.1}", a)) } else { format!("{}", a.round()) }
}

fn trim_num(s: String) -> String {
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s }
}

/// The change from `previous` to `current` by the dashboard's rules (`kpiChange` of
/// `web/src/views/overview/kpis.ts`).
pub fn kpi_change(
    current: Option<f64>,
    previous: Option<f64>,
    kind: ChangeKind,
    better: Better,
) -> KpiChange {
    let none = |text: &str| KpiChange { direction: "none", text: text.into(), verdict: "neutral" };
    let (c, p) = match (current, previous) {
        (None, None) => return none("no data"),
        (None, _) => return none("no data now"),
        (_, None) => return none("no data before"),
        (Some(c), Some(p)) => (c, p),
    };
    if kind == ChangeKind::Relative && p == 0.0 {
        return none("no data before");
    }
    let diff = c - p;
    let amount = match kind {
        ChangeKind::Relative => format!("{}%", figure(diff / p * 100.0)),
        ChangeKind::Points => format!("{} pts", figure(diff * 100.0)),
    };
    let direction = if diff > 0.0 {
        "up"
    } else if diff < 0.0 {
        "down"
    } else {
        "same"
    };
    let verdict = match (direction, better) {
        ("same", _) | (_, Better::Neither) => "neutral",
        ("up", Better::Up) | ("down", Better::Down) => "good",
        _ => "bad",
    };
    let arrow = match direction {
        "up" => "▲",
        "down" => "▼",
        _ => "=",
    };
    KpiChange { direction, text: format!("{arrow} {amount}"), verdict }
}

/// A count with thousands separators: 12,345.
pub fn format_count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A duration in milliseconds: 850 ms, 3.4 s, 12 s, 2.5 min, 1.2 h, 3.1 d (as the dashboard).
pub fn format_duration(ms: Option<f64>) -> String {
    let Some(ms) = ms.filter(|m| m.is_finite()) else { return "–".into() };
    let one = |v: f64| if v < 10.0 { trim_num(format!("{v:.1}")) } else { format!("{}", v.round()) };
    let a = ms.abs();
    let sign = if ms < 0.0 { "-" } else { "" };
    if a < 1000.0 {
        return format!("{sign}{} ms", a.round());
    }
    let s = a / 1000.0;
    if s < 60.0 {
        return format!("{sign}{} s", one(s));
    }
    let min = s / 60.0;
    if min < 60.0 {
        return format!("{sign}{} min", one(min));
    }
    let h = min / 60.0;
    if h < 48.0 { format!("{sign}{} h", one(h)) } else { format!("{sign}{} d", one(h / 24.0)) }
}

/// A rate as a percentage: 0%, 4.5%, 12% (as the dashboard).
pub fn format_percent(r: Option<f64>) -> String {
    let Some(r) = r.filter(|r| r.is_finite()) else { return "–".into() };
    let p = r * 100.0;
    if p == 0.0 {
        "0%".into()
    } else if p.abs() < 10.0 {
        format!("{}%", trim_num(format!("{p:.1}")))
    } else {
        format!("{}%", p.round())
    }
}

/// The eight KPIs of the dashboard's cards, with their change from `previous`.
pub fn kpis(
    o: &agentsight_protocol::metrics::OverviewResponse,
    previous: &agentsight_protocol::metrics::OverviewResponse,
) -> Vec<Kpi> {
    type O = agentsight_protocol::metrics::OverviewResponse;
    type Get = fn(&O) -> Option<f64>;
    let count = |v: Option<f64>| v.map(|x| format_count(x as u64)).unwrap_or_else(|| "–".into());
    let rows: [(&'static str, &'static str, Get, ChangeKind, Better, u8); 8] = [
        (
            "total_messages",
            "Total messages",
            |o| Some(o.total_messages as f64),
            ChangeKind::Relative,
            Better::Up,
            0,
        ),
        (
            "total_conversations",
            "Total conversations",
            |o| Some(o.total_conversations as f64),
            ChangeKind::Relative,
            Better::Up,
            0,
        ),
        (
            "unique_users",
            "Unique users",
            |o| Some(o.unique_users as f64),
            ChangeKind::Relative,
            Better::Up,
            0,
        ),
        (
            "unique_interactions",
            "Unique interactions",
            |o| Some(o.unique_interactions as f64),
            ChangeKind::Relative,
            Better::Up,
            0,
        ),
        (
            "avg_bot_response_time_ms",
            "Avg bot response time",
            |o| o.avg_bot_response_time_ms,
            ChangeKind::Relative,
            Better::Down,
            1,
        ),
        (
            "avg_conversation_duration_ms",
            "Avg conversation duration",
            |o| o.avg_conversation_duration_ms,
            ChangeKind::Relative,
            Better::Neither,
            1,
        ),
        (
            "human_escalation_rate",
            "Human escalation rate",
            |o| Some(o.human_escalation.rate),
            ChangeKind::Points,
            Better::Down,
            2,
        ),
        (
            "satisfaction_rate",
            "Satisfaction",
            |o| o.feedback.satisfaction_rate,
            ChangeKind::Points,
            Better::Up,
            2,
        ),
    ];
    rows.iter()
        .map(|(id, label, get, kind, better, fmt)| {
            let show = |v: Option<f64>| match fmt {
                0 => count(v),
                1 => format_duration(v),
                _ => format_percent(v),
            };
            let (value, prev) = (get(o), get(previous));
            Kpi {
                id,
                label,
                value,
                shown: show(value),
                previous: prev,
                previous_shown: show(prev),
                change: kpi_change(value, prev, *kind, *better),
            }
        })
        .collect()
}

/// One image of a message: a chart or the logo, shown inline (`cid:`) or attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailPart {
    /// The `Content-ID` (without angle brackets) an inline image is referred to by; the file
    /// name of an attachment.
    pub id: String,
    /// File name.
    pub filename: String,
    /// `image/png`, …
    pub mime_type: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// A message ready for a mailer: subject, HTML with its plain-text alternative, inline images
/// (referred to from the HTML as `cid:<id>`) and attachments. The sender and the recipients
/// are the caller's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    /// Subject.
    pub subject: String,
    /// The HTML body (inline CSS only).
    pub html: String,
    /// The plain-text alternative.
    pub text: String,
    /// Inline images.
    pub inline: Vec<MailPart>,
    /// Attachments.
    pub attachments: Vec<MailPart>,
    /// A `Message-ID` (without angle brackets) that names this send: the same for every
    /// attempt of one (schedule, period), so a receiver can tell a retry from a new report.
    pub message_id: String,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::limits::REPORT_SEND_LEASE_MICROS;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }
    fn at(tz: Tz, s: &str) -> Micros {
        let t = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        tz.from_local_datetime(&t).earliest().unwrap().with_timezone(&Utc).timestamp_micros()
    }
    const H: Micros = 3_600_000_000;

    #[test]
    fn periods_parse_and_name_iso_weeks_and_months() {
        let w = ReportPeriod::parse("2026-W49").unwrap();
        assert_eq!((w.from, w.to, w.key.as_str()), (day("2026-11-30"), day("2026-12-06"), "2026-W49"));
        // ISO week 1 of 2027 starts on 4 January; week 53 of 2026 exists (a Thursday year).
        assert_eq!(ReportPeriod::parse("2027-W01").unwrap().from, day("2027-01-04"));
        assert_eq!(ReportPeriod::parse("2026-W53").unwrap().from, day("2026-12-28"));
        assert!(ReportPeriod::parse("2027-W53").is_err());
        let m = ReportPeriod::parse("2028-02").unwrap();
        assert_eq!((m.from, m.to), (day("2028-02-01"), day("2028-02-29")));
        for bad in ["2026", "2026-13", "2026-W0", "26-01", "x", "2026-W60", "1969-01"] {
            assert!(ReportPeriod::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(ReportPeriod::parse("2026-W49").unwrap().label(), "30 November – 6 December 2026");
        assert_eq!(ReportPeriod::parse("2026-11").unwrap().label(), "November 2026");
        assert_eq!(ReportPeriod::parse("2026-W50").unwrap().label(), "7–13 December 2026");
    }

    #[test]
    fn a_send_reports_the_last_full_week_or_month_before_its_day() {
        let weekly = Cadence::Weekly(Weekday::Mon);
        // Monday 7 December: the week of 30 Nov – 6 Dec. A Wednesday send too.
        assert_eq!(ReportPeriod::reported_on(weekly, day("2026-12-07")).key, "2026-W49");
        assert_eq!(
            ReportPeriod::reported_on(Cadence::Weekly(Weekday::Wed), day("2026-12-09")).key,
            "2026-W49"
        );
        // A Sunday send reports the week before, not the one it ends.
        assert_eq!(
            ReportPeriod::reported_on(Cadence::Weekly(Weekday::Sun), day("2026-12-13")).key,
            "2026-W49"
        );
        // Across the year: Monday 4 January 2027 reports week 53 of 2026.
        assert_eq!(ReportPeriod::reported_on(weekly, day("2027-01-04")).key, "2026-W53");
        assert_eq!(ReportPeriod::reported_on(Cadence::Monthly(1), day("2027-01-01")).key, "2026-12");
        assert_eq!(ReportPeriod::reported_on(Cadence::Monthly(31), day("2027-02-28")).key, "2027-01");
    }

    #[test]
    fn the_last_and_next_sends_follow_the_local_clock() {
        let tz: Tz = "Europe/Zagreb".parse().unwrap();
        let t = Timing { cadence: Cadence::Weekly(Weekday::Mon), hour: 8, tz };
        // Monday 7 December 2026, 07:59 local: the last send was a week before.
        let s = last_send(&t, at(tz, "2026-12-07 07:59"));
        assert_eq!((s.at, s.period.key.as_str()), (at(tz, "2026-11-30 08:00"), "2026-W48"));
        let n = next_send(&t, at(tz, "2026-12-07 07:59"));
        assert_eq!((n.at, n.period.key.as_str()), (at(tz, "2026-12-07 08:00"), "2026-W49"));
        // At 08:00 exactly it is due.
        let s = last_send(&t, at(tz, "2026-12-07 08:00"));
        assert_eq!((s.at, s.period.key.as_str()), (at(tz, "2026-12-07 08:00"), "2026-W49"));
        assert_eq!(next_send(&t, at(tz, "2026-12-07 08:00")).at, at(tz, "2026-12-14 08:00"));
        // 07:30 UTC is 08:30 in Zagreb (winter, +1): due there, not yet in UTC.
        let now = at(Tz::UTC, "2026-12-07 07:30");
        assert_eq!(last_send(&t, now).period.key, "2026-W49");
        assert_eq!(last_send(&Timing { tz: Tz::UTC, ..t }, now).period.key, "2026-W48");
        // Monthly on the 31st: the last day of a shorter month.
        let m = Timing { cadence: Cadence::Monthly(31), hour: 6, tz };
        let s = last_send(&m, at(tz, "2027-03-10 12:00"));
        assert_eq!((s.at, s.period.key.as_str()), (at(tz, "2027-02-28 06:00"), "2027-01"));
        assert_eq!(next_send(&m, at(tz, "2027-03-10 12:00")).at, at(tz, "2027-03-31 06:00"));
        // A send day early in the month whose hour has not come: the previous month's.
        let m1 = Timing { cadence: Cadence::Monthly(1), hour: 9, tz };
        let s = last_send(&m1, at(tz, "2027-03-01 08:00"));
        assert_eq!((s.at, s.period.key.as_str()), (at(tz, "2027-02-01 09:00"), "2027-01"));
    }

    #[test]
    fn a_send_hour_in_a_daylight_saving_gap_moves_to_the_first_instant_after_it() {
        // Europe/Zagreb skips 02:00–03:00 on Sunday 28 March 2027.
        let tz: Tz = "Europe/Zagreb".parse().unwrap();
        let t = Timing { cadence: Cadence::Weekly(Weekday::Sun), hour: 2, tz };
        let n = next_send(&t, at(tz, "2027-03-27 12:00"));
        assert_eq!(n.at, at(tz, "2027-03-28 03:00"));
        // The autumn's repeated hour: the earlier one.
        let t = Timing { cadence: Cadence::Weekly(Weekday::Sun), hour: 2, tz };
        let n = next_send(&t, at(tz, "2026-10-24 12:00"));
        assert_eq!(n.at, at(Tz::UTC, "2026-10-25 00:00"));
    }

    #[test]
    fn after_downtime_the_missed_send_is_due_once_and_only_the_latest() {
        let tz = Tz::UTC;
        let t = Timing { cadence: Cadence::Weekly(Weekday::Mon), hour: 8, tz };
        const L: Micros = REPORT_SEND_LEASE_MICROS;
        let created = at(tz, "2026-11-01 10:00");
        // Down from Sunday 29 Nov to Thursday 17 Dec: three Mondays missed; on start only the
        // latest is due.
        let start = at(tz, "2026-12-17 09:00");
        let d = due(&t, true, created, start, None, L).unwrap();
        assert_eq!(d.period.key, "2026-W50");
        // Once it went out (or is being sent), it is not due again, however often we ask.
        assert_eq!(due(&t, true, created, start + H, Some(&SendState::Sent), L), None);
        let taken = SendState::Sending { claimed_at: start, attempts: 1 };
        assert_eq!(due(&t, true, created, start + 60_000_000, Some(&taken), L), None);
        // A sender that stopped midway: owed again once the lease has passed.
        assert_eq!(
            due(&t, true, created, start + REPORT_SEND_LEASE_MICROS, Some(&taken), L).map(|d| d.period.key),
            Some("2026-W50".into())
        );
        // A shorter lease (`serve --notify-stale-after`) takes it up sooner.
        assert!(due(&t, true, created, start + 60_000_000, Some(&taken), 60_000_000).is_some());
        // Failures are retried after the lease, up to the limit.
        let failed = SendState::Failed { claimed_at: start, attempts: REPORT_MAX_ATTEMPTS };
        assert_eq!(due(&t, true, created, start + 10 * H, Some(&failed), L), None);
        // Disabled: nothing. Created after the last send time: nothing until the next.
        assert_eq!(due(&t, false, created, start, None, L), None);
        assert_eq!(due(&t, true, at(tz, "2026-12-15 00:00"), start, None, L), None);
        assert!(due(&t, true, at(tz, "2026-12-15 00:00"), at(tz, "2026-12-21 08:00"), None, L).is_some());
    }

    proptest::proptest! {
        #[test]
        fn the_last_send_is_at_or_before_now_and_the_next_after_it(
            now in 0i64..4_000_000_000_000_000,
            weekly in proptest::bool::ANY,
            day in 1u32..=31,
            hour in 0u32..24,
            zone in 0usize..5,
        ) {
            let tz: Tz = ["UTC", "Europe/Zagreb", "America/Santiago", "Asia/Kathmandu", "Pacific/Kiritimati"][zone]
                .parse().unwrap();
            let cadence = if weekly { Cadence::Weekly(weekday_from_number(day % 7 + 1).unwrap()) } else { Cadence::Monthly(day) };
            let t = Timing { cadence, hour, tz };
            let (l, n) = (last_send(&t, now), next_send(&t, now));
            proptest::prop_assert!(l.at <= now && now < n.at, "{l:?} {now} {n:?}");
            // No send between them: the next after the last is the next after now.
            proptest::prop_assert_eq!(next_send(&t, l.at).at, n.at);
            proptest::prop_assert!(l.period.to < n.period.from);
        }
    }

    #[test]
    fn schedules_are_validated_field_by_field() {
        let r = vec!["A@Example.com ".to_string(), "a@example.com".into(), "b@example.com".into()];
        let s = validate_schedule(
            &ScheduleFields {
                cadence: Some("monthly"),
                day_of_month: Some(31),
                hour: Some(7),
                time_zone: Some("America/New_York"),
                recipients: Some(&r),
                ..Default::default()
            },
            None,
        )
        .unwrap();
        assert_eq!(s.timing.cadence, Cadence::Monthly(31));
        assert_eq!(s.recipients, vec!["a@example.com", "b@example.com"]);
        assert!(s.enabled);
        let bad = vec!["nobody".to_string()];
        let e = validate_schedule(
            &ScheduleFields {
                cadence: Some("daily"),
                hour: Some(24),
                time_zone: Some("Mars/Olympus"),
                recipients: Some(&bad),
                ..Default::default()
            },
            None,
        )
        .unwrap_err();
        let fields: Vec<&str> = e.0.keys().map(|k| k.as_str()).collect();
        assert_eq!(fields, ["cadence", "hour", "recipients[0]", "time_zone"]);
        let many: Vec<String> = (0..=MAX_REPORT_RECIPIENTS).map(|i| format!("u{i}@example.com")).collect();
        let e = validate_schedule(&ScheduleFields { recipients: Some(&many), ..Default::default() }, None)
            .unwrap_err();
        assert!(e.0.contains_key("recipients"));
        assert!(
            validate_schedule(&ScheduleFields::default(), None).unwrap_err().0.contains_key("recipients")
        );
        // A change keeps what it does not name.
        let c = validate_schedule(&ScheduleFields { hour: Some(9), ..Default::default() }, Some(&s)).unwrap();
        assert_eq!((c.timing.cadence, c.timing.hour, c.recipients.len()), (Cadence::Monthly(31), 9, 2));
        let e = validate_schedule(&ScheduleFields { weekday: Some("mon"), ..Default::default() }, Some(&s))
            .unwrap_err();
        assert!(e.0.contains_key("weekday"));
    }

    #[test]
    fn kpi_changes_follow_the_dashboards_rules() {
        let c = kpi_change(Some(112.0), Some(100.0), ChangeKind::Relative, Better::Up);
        assert_eq!((c.direction, c.text.as_str(), c.verdict), ("up", "▲ 12%", "good"));
        let c = kpi_change(Some(0.15), Some(0.12), ChangeKind::Points, Better::Down);
        assert_eq!((c.text.as_str(), c.verdict), ("▲ 3 pts", "bad"));
        let c = kpi_change(Some(95.5), Some(100.0), ChangeKind::Relative, Better::Neither);
        assert_eq!((c.text.as_str(), c.verdict), ("▼ 4.5%", "neutral"));
        assert_eq!(kpi_change(Some(5.0), Some(0.0), ChangeKind::Relative, Better::Up).text, "no data before");
        assert_eq!(kpi_change(None, Some(1.0), ChangeKind::Relative, Better::Up).text, "no data now");
        assert_eq!(format_count(1234567), "1,234,567");
        assert_eq!(format_duration(Some(3400.0)), "3.4 s");
        assert_eq!(format_percent(Some(0.045)), "4.5%");
    }
}

//! Time series for the charts that need another grain than the overview's days: local hours,
//! days, ISO weeks (Monday first) or calendar months of the query's time zone, zero-filled.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration, NaiveDateTime, Timelike, Utc};

use super::query::MetricsQuery;
use crate::error::ValidationErrors;
use crate::time::Micros;

/// The longest range an hourly series may cover, in days.
pub const MAX_HOURLY_DAYS: i64 = 93;

/// A bucket size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    /// Local clock hours (a 25-hour day has 25 of them).
    Hour,
    /// Local calendar days.
    Day,
    /// Local ISO weeks, Monday to Sunday, labelled by their Monday (clipped to the range).
    Week,
    /// Local calendar months, labelled by their first day (clipped to the range).
    Month,
}

/// What a series counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesMetric {
    /// Messages (all senders) by their event time.
    Messages,
    /// Conversations by `started_at`.
    Conversations,
    /// Used conversations by `started_at`.
    UniqueInteractions,
    /// Bot responses by the agent message's time.
    BotResponses,
    /// Mean bot response time of the responses in the bucket (null when none).
    AvgBotResponseTimeMs,
    /// Tool calls (not `token_usage`) by their event time.
    ToolCalls,
}

impl SeriesMetric {
    /// The API name.
    pub fn name(self) -> &'static str {
        match self {
            SeriesMetric::Messages => "messages",
            SeriesMetric::Conversations => "conversations",
            SeriesMetric::UniqueInteractions => "unique_interactions",
            SeriesMetric::BotResponses => "bot_responses",
            SeriesMetric::AvgBotResponseTimeMs => "avg_bot_response_time_ms",
            SeriesMetric::ToolCalls => "tool_calls",
        }
    }

    /// Every metric, for messages that list them.
    pub const ALL: [SeriesMetric; 6] = [
        SeriesMetric::Messages,
        SeriesMetric::Conversations,
        SeriesMetric::UniqueInteractions,
        SeriesMetric::BotResponses,
        SeriesMetric::AvgBotResponseTimeMs,
        SeriesMetric::ToolCalls,
    ];
}

impl Interval {
    /// The API name.
    pub fn name(self) -> &'static str {
        match self {
            Interval::Hour => "hour",
            Interval::Day => "day",
            Interval::Week => "week",
            Interval::Month => "month",
        }
    }
}

/// Parses `metric` and `interval` (default `day`), checking the range fits the interval.
pub fn parse(
    q: &MetricsQuery,
    params: &HashMap<String, String>,
) -> Result<(SeriesMetric, Interval), ValidationErrors> {
    let mut e = ValidationErrors::default();
    let metric = match params.get("metric").map(|s| s.trim()) {
        None | Some("") => {
            e.add("metric", "This query parameter is required.");
            None
        }
        Some(m) => {
            let found = SeriesMetric::ALL.iter().copied().find(|x| x.name() == m);
            if found.is_none() {
                let names: Vec<_> = SeriesMetric::ALL.iter().map(|x| x.name()).collect();
                e.add("metric", format!("unknown metric '{m}'; use one of {}", names.join(", ")));
            }
            found
        }
    };
    let interval = match params.get("interval").map(|s| s.trim()).unwrap_or("day") {
        "hour" => Interval::Hour,
        "day" | "" => Interval::Day,
        "week" => Interval::Week,
        "month" => Interval::Month,
        other => {
            e.add("interval", format!("unknown interval '{other}'; use hour, day, week or month"));
            Interval::Day
        }
    };
    if interval == Interval::Hour && q.days() > MAX_HOURLY_DAYS {
        e.add("interval", format!("hourly series cover at most {MAX_HOURLY_DAYS} days"));
    }
    match (metric, e.is_empty()) {
        (Some(m), true) => Ok((m, interval)),
        _ => Err(e),
    }
}

/// Checks that a compared range (`compare=`) fits the interval as the range itself must (a year
/// back may hold one day more); the error names `compare`.
pub fn check_compared(compared: &MetricsQuery, interval: Interval) -> Result<(), ValidationErrors> {
    if interval == Interval::Hour && compared.days() > MAX_HOURLY_DAYS {
        return Err(ValidationErrors::single(
            "compare",
            format!(
                "hourly series cover at most {MAX_HOURLY_DAYS} days; the compared range has {}",
                compared.days()
            ),
        ));
    }
    Ok(())
}

/// The buckets of a range: their labels (local start as RFC 3339 with its offset) and a lookup
/// from an instant to its bucket.
pub struct Buckets<'q> {
    q: &'q MetricsQuery,
    interval: Interval,
    keys: Vec<(NaiveDateTime, i32)>,
    index: HashMap<(NaiveDateTime, i32), usize>,
    labels: Vec<String>,
}

fn local(q: &MetricsQuery, us: Micros) -> DateTime<chrono_tz::Tz> {
    DateTime::<Utc>::from_timestamp_micros(us).unwrap_or_default().with_timezone(&q.tz)
}

impl<'q> Buckets<'q> {
    fn key(&self, us: Micros) -> (NaiveDateTime, i32) {
        let l = local(self.q, us);
        let naive = l.naive_local();
        match self.interval {
            Interval::Hour => {
                use chrono::Offset;
                let h = naive.date().and_hms_opt(naive.hour(), 0, 0).unwrap_or(naive);
                (h, l.offset().fix().local_minus_utc())
            }
            Interval::Day => (naive.date().and_time(chrono::NaiveTime::MIN), 0),
            Interval::Week => {
                let d = naive.date();
                let monday = d - Duration::days(i64::from(d.weekday().num_days_from_monday()));
                (monday.max(self.q.from).and_time(chrono::NaiveTime::MIN), 0)
            }
            Interval::Month => {
                let first = naive.date().with_day(1).unwrap_or(naive.date());
                (first.max(self.q.from).and_time(chrono::NaiveTime::MIN), 0)
            }
        }
    }

    /// Every bucket of the query's range, in order.
    pub fn new(q: &'q MetricsQuery, interval: Interval) -> Self {
        let mut b = Buckets { q, interval, keys: Vec::new(), index: HashMap::new(), labels: Vec::new() };
        let (start, end) = q.instants();
        // Offsets are whole quarter hours, so a 15-minute walk meets every local hour's start.
        let step: Micros = match interval {
            Interval::Hour => 15 * 60 * 1_000_000,
            Interval::Day | Interval::Week | Interval::Month => 60 * 60 * 1_000_000,
        };
        let mut t = start;
        while t < end {
            let k = b.key(t);
            if !b.index.contains_key(&k) {
                b.index.insert(k, b.keys.len());
                b.keys.push(k);
                let label = match interval {
                    Interval::Hour => chrono::FixedOffset::east_opt(k.1)
                        .and_then(|o| k.0.and_local_timezone(o).single())
                        .map(|d| d.to_rfc3339())
                        .unwrap_or_else(|| k.0.to_string()),
                    Interval::Day | Interval::Week | Interval::Month => {
                        k.0.date().format("%Y-%m-%d").to_string()
                    }
                };
                b.labels.push(label);
            }
            t += step;
        }
        b
    }

    /// The bucket of an instant in range.
    pub fn of(&self, us: Micros) -> Option<usize> {
        self.index.get(&self.key(us)).copied()
    }

    /// Number of buckets.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when the range has no buckets.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The labels, in order.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }
}

/// The time series answer from per-bucket figures (`counts[i]`, and for the response time the
/// sum of the bucket's microseconds `sums[i]`): what every metrics engine answers once it has
/// counted. A response-time bucket without responses is null (no value), a count is its count.
pub fn response(
    agent: agentsight_protocol::metrics::AgentRef,
    q: &MetricsQuery,
    metric: SeriesMetric,
    interval: Interval,
    buckets: &Buckets<'_>,
    counts: &[u64],
    sums: &[i128],
) -> agentsight_protocol::metrics::TimeseriesResponse {
    let points = buckets
        .labels()
        .iter()
        .enumerate()
        .map(|(i, start)| agentsight_protocol::metrics::SeriesPoint {
            start: start.clone(),
            value: match metric {
                SeriesMetric::AvgBotResponseTimeMs => {
                    (counts[i] > 0).then(|| sums[i] as f64 / counts[i] as f64 / 1000.0)
                }
                _ => Some(counts[i] as f64),
            },
        })
        .collect();
    agentsight_protocol::metrics::TimeseriesResponse {
        agent,
        range: q.range_ref(),
        filters: q.filters.to_json(),
        metric: metric.name().to_string(),
        interval: interval.name().to_string(),
        points,
        previous: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(from: &str, to: &str, tz: &str) -> MetricsQuery {
        let p: HashMap<String, String> = [("from", from), ("to", to), ("tz", tz)]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        super::super::query::parse(&p, &[], 0).unwrap()
    }

    #[test]
    fn hours_follow_the_local_clock_across_daylight_saving() {
        let spring = q("2026-03-08", "2026-03-08", "America/New_York");
        assert_eq!(Buckets::new(&spring, Interval::Hour).len(), 23);
        let fall = q("2026-11-01", "2026-11-01", "America/New_York");
        let b = Buckets::new(&fall, Interval::Hour);
        assert_eq!(b.len(), 25);
        assert_eq!(b.labels()[1], "2026-11-01T01:00:00-04:00");
        assert_eq!(b.labels()[2], "2026-11-01T01:00:00-05:00");
        let kathmandu = q("2026-05-01", "2026-05-01", "Asia/Kathmandu");
        let b = Buckets::new(&kathmandu, Interval::Hour);
        assert_eq!(b.len(), 24);
        assert_eq!(b.labels()[0], "2026-05-01T00:00:00+05:45");
    }

    #[test]
    fn weeks_start_on_monday_and_are_clipped_to_the_range() {
        let r = q("2026-05-06", "2026-05-20", "UTC"); // a Wednesday to a Wednesday
        let b = Buckets::new(&r, Interval::Week);
        assert_eq!(b.labels(), ["2026-05-06", "2026-05-11", "2026-05-18"]);
        let (start, _) = r.instants();
        assert_eq!(b.of(start), Some(0));
    }

    #[test]
    fn months_are_local_calendar_months_clipped_to_the_range() {
        let r = q("2026-01-15", "2026-04-02", "America/New_York");
        let b = Buckets::new(&r, Interval::Month);
        assert_eq!(b.labels(), ["2026-01-15", "2026-02-01", "2026-03-01", "2026-04-01"]);
        // 1 March 00:00 in New York is 05:00Z; a minute before is still February.
        let t = |s: &str| crate::time::parse_timestamp(s).unwrap();
        assert_eq!(b.of(t("2026-03-01T04:59:00Z")), Some(1));
        assert_eq!(b.of(t("2026-03-01T05:00:00Z")), Some(2));
        // April starts at 04:00Z (daylight time since 8 March).
        assert_eq!(b.of(t("2026-04-01T03:59:59Z")), Some(2));
        assert_eq!(b.of(t("2026-04-01T04:00:00Z")), Some(3));
        let two_years = q("2025-01-01", "2026-12-31", "Pacific/Kiritimati");
        let year = Buckets::new(&two_years, Interval::Month);
        assert_eq!(year.len(), 24);
        assert_eq!(year.labels()[23], "2026-12-01");
    }

    #[test]
    fn metric_and_interval_are_checked() {
        let r = q("2026-01-01", "2026-12-31", "UTC");
        let p = |m: &str, i: &str| -> HashMap<String, String> {
            [("metric", m), ("interval", i)].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        assert!(parse(&r, &p("messages", "day")).is_ok());
        assert_eq!(parse(&r, &p("messages", "month")).unwrap().1, Interval::Month);
        assert!(parse(&r, &p("messages", "year")).unwrap_err().0.contains_key("interval"));
        assert!(parse(&r, &p("messages", "hour")).unwrap_err().0.contains_key("interval"));
        assert!(parse(&r, &p("nope", "day")).unwrap_err().0.contains_key("metric"));
        let days93 = q("2028-12-01", "2029-03-03", "UTC");
        assert_eq!(days93.days(), 93);
        assert!(parse(&days93, &p("messages", "hour")).is_ok());
        let year = days93.compared(super::super::query::Compare::Year).unwrap();
        assert_eq!(year.days(), 94, "2028 has a 29 February");
        assert!(check_compared(&year, Interval::Hour).unwrap_err().0.contains_key("compare"));
        assert!(check_compared(&year, Interval::Day).is_ok());
    }
}

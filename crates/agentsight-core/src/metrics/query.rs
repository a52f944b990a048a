//! The metrics query: local calendar days in an IANA time zone, and dimension filters.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use crate::error::ValidationErrors;
use crate::normalize;
use crate::time::Micros;

/// The longest range, in days.
pub const MAX_RANGE_DAYS: i64 = 3660;
/// Days in the default range (today included).
pub const DEFAULT_RANGE_DAYS: i64 = 30;
/// The literal filter value that matches a null dimension.
pub const UNKNOWN: &str = "unknown";

/// A filter on one dimension: a value, or null (`unknown`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DimFilter {
    /// Equal to this value.
    Is(String),
    /// The dimension is null.
    Unknown,
}

/// Conversation dimensions a metrics query can filter on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    /// Environment slug.
    pub environment: Option<DimFilter>,
    /// Source.
    pub source: Option<DimFilter>,
    /// Device.
    pub device: Option<DimFilter>,
    /// Language.
    pub language: Option<DimFilter>,
    /// Country (ISO alpha-2).
    pub country: Option<DimFilter>,
    /// Customer id.
    pub customer_id: Option<DimFilter>,
    /// `metadata.key` equals the value (compared as text).
    pub metadata: Option<(String, String)>,
}

impl Filters {
    /// The filters as applied, for the response's `filters`.
    pub fn to_json(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        let dims = [
            ("environment", &self.environment),
            ("source", &self.source),
            ("device", &self.device),
            ("language", &self.language),
            ("country", &self.country),
            ("customer_id", &self.customer_id),
        ];
        for (k, f) in dims {
            match f {
                Some(DimFilter::Is(v)) => m.insert(k.into(), v.clone().into()),
                Some(DimFilter::Unknown) => m.insert(k.into(), UNKNOWN.into()),
                None => None,
            };
        }
        if let Some((k, v)) = &self.metadata {
            m.insert("metadata".into(), format!("{k}:{v}").into());
        }
        m
    }
}

/// A validated metrics query (the agent comes from the caller's credentials).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsQuery {
    /// First local day.
    pub from: NaiveDate,
    /// Last local day (inclusive).
    pub to: NaiveDate,
    /// Time zone of the days.
    pub tz: Tz,
    /// Filters.
    pub filters: Filters,
}

/// The first instant of a local day: local midnight, or the first instant after it when a
/// daylight-saving gap swallows midnight.
pub fn day_start(tz: Tz, day: NaiveDate) -> Micros {
    let mut t = day.and_time(NaiveTime::MIN);
    for _ in 0..(26 * 4) {
        if let Some(dt) = tz.from_local_datetime(&t).earliest() {
            return dt.with_timezone(&Utc).timestamp_micros();
        }
        t += Duration::minutes(15);
    }
    // No zone has a gap this long; fall back to UTC midnight rather than fail.
    day.and_time(NaiveTime::MIN).and_utc().timestamp_micros()
}

impl MetricsQuery {
    /// `[from 00:00 local, (to + 1) 00:00 local)` as UTC micros.
    pub fn instants(&self) -> (Micros, Micros) {
        (day_start(self.tz, self.from), day_start(self.tz, self.to + Duration::days(1)))
    }

    /// The range as the responses show it.
    pub fn range_ref(&self) -> agentsight_protocol::metrics::RangeRef {
        agentsight_protocol::metrics::RangeRef {
            from: self.from.format("%Y-%m-%d").to_string(),
            to: self.to.format("%Y-%m-%d").to_string(),
            tz: self.tz.name().to_string(),
        }
    }

    /// Days in the range.
    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }

    /// The local date of an instant.
    pub fn local_date(&self, us: Micros) -> NaiveDate {
        self.local(us).date_naive()
    }

    /// Local weekday (0 = Monday) and hour of an instant.
    pub fn weekday_hour(&self, us: Micros) -> (usize, usize) {
        let l = self.local(us);
        (l.weekday().num_days_from_monday() as usize, l.hour() as usize)
    }

    fn local(&self, us: Micros) -> DateTime<Tz> {
        DateTime::<Utc>::from_timestamp_micros(us).unwrap_or_default().with_timezone(&self.tz)
    }
}

/// The range a query is compared with (`compare=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    /// The same number of local days just before `from`.
    Previous,
    /// The same local dates a year earlier (29 February becomes the 28th).
    Year,
}

impl Compare {
    /// Every mode, in the order messages list them.
    pub const ALL: [Compare; 2] = [Compare::Previous, Compare::Year];

    /// The API name.
    pub fn name(self) -> &'static str {
        match self {
            Compare::Previous => "previous",
            Compare::Year => "year",
        }
    }
}

/// The same month and day a calendar year before `d`; 29 February becomes 28 February.
pub fn year_before(d: NaiveDate) -> NaiveDate {
    d.with_year(d.year() - 1).or_else(|| NaiveDate::from_ymd_opt(d.year() - 1, d.month(), 28)).unwrap_or(d)
}

impl MetricsQuery {
    /// The range `mode` compares this one with, in the same zone and with the same filters; an
    /// error (for the `compare` field) when that range leaves the limits a query has: days
    /// before 1970-01-01, or more than [`MAX_RANGE_DAYS`] days.
    pub fn compared(&self, mode: Compare) -> Result<MetricsQuery, String> {
        let (from, to) = match mode {
            Compare::Previous => (self.from - Duration::days(self.days()), self.from - Duration::days(1)),
            Compare::Year => (year_before(self.from), year_before(self.to)),
        };
        if from.year() < crate::time::MIN_YEAR {
            return Err(format!(
                "the {} range ({from}..{to}) starts before {}-01-01",
                mode.name(),
                crate::time::MIN_YEAR
            ));
        }
        if (to - from).num_days() + 1 > MAX_RANGE_DAYS {
            return Err(format!(
                "the {} range ({from}..{to}) is longer than {MAX_RANGE_DAYS} days",
                mode.name()
            ));
        }
        Ok(MetricsQuery { from, to, ..self.clone() })
    }
}

/// Parses `compare` (`previous` or `year`; absent or empty: no comparison) into the mode and
/// the compared query (see [`MetricsQuery::compared`]).
pub fn parse_compare(
    q: &MetricsQuery,
    params: &HashMap<String, String>,
) -> Result<Option<(Compare, MetricsQuery)>, ValidationErrors> {
    let Some(v) = params.get("compare").map(|s| s.trim()).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let Some(mode) = Compare::ALL.iter().copied().find(|m| m.name() == v) else {
        let v: String = v.chars().take(64).collect();
        return Err(ValidationErrors::single(
            "compare",
            format!("unknown comparison '{v}'; use previous or year"),
        ));
    };
    q.compared(mode).map(|c| Some((mode, c))).map_err(|m| ValidationErrors::single("compare", m))
}

fn dim(
    e: &mut ValidationErrors,
    q: &HashMap<String, String>,
    field: &str,
    check: impl Fn(&str) -> Result<String, String>,
) -> Option<DimFilter> {
    let v = q.get(field).map(|s| s.trim()).filter(|s| !s.is_empty())?;
    if v.eq_ignore_ascii_case(UNKNOWN) {
        return Some(DimFilter::Unknown);
    }
    e.check(field, check(v)).map(DimFilter::Is)
}

/// Parses `from`, `to`, `tz` and the filters. `today` is the caller's clock (UTC now), so the
/// default range is the last 30 local days with today included.
pub fn parse(
    q: &HashMap<String, String>,
    environments: &[String],
    now: Micros,
) -> Result<MetricsQuery, ValidationErrors> {
    let mut e = ValidationErrors::default();
    let tz = match q.get("tz").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => Tz::UTC,
        Some(name) => match name.parse::<Tz>() {
            Ok(tz) => tz,
            Err(_) => {
                e.add("tz", format!("unknown time zone '{}'", name.chars().take(64).collect::<String>()));
                Tz::UTC
            }
        },
    };
    let date = |e: &mut ValidationErrors, field: &str| -> Option<NaiveDate> {
        let v = q.get(field).map(|s| s.trim()).filter(|s| !s.is_empty())?;
        e.check(field, crate::time::parse_date(v))
    };
    let today =
        DateTime::<Utc>::from_timestamp_micros(now).unwrap_or_default().with_timezone(&tz).date_naive();
    let (from, to) = match (date(&mut e, "from"), date(&mut e, "to")) {
        (Some(f), Some(t)) => (f, t),
        (Some(f), None) => (f, today.max(f)),
        (None, Some(t)) => (t - Duration::days(DEFAULT_RANGE_DAYS - 1), t),
        (None, None) => (today - Duration::days(DEFAULT_RANGE_DAYS - 1), today),
    };
    if from > to {
        e.add("from", format!("from ({from}) is after to ({to})"));
    } else if (to - from).num_days() + 1 > MAX_RANGE_DAYS {
        e.add("to", format!("the range is longer than {MAX_RANGE_DAYS} days"));
    }
    let known_envs: Vec<String> = environments.to_vec();
    let filters = Filters {
        environment: dim(&mut e, q, "environment", |v| normalize::environment(v, &known_envs)),
        source: dim(&mut e, q, "source", normalize::source),
        device: dim(&mut e, q, "device", normalize::device),
        language: dim(&mut e, q, "language", normalize::language),
        country: dim(&mut e, q, "country", |v| {
            let c = v.to_ascii_uppercase();
            if c.len() == 2 && c.chars().all(|ch| ch.is_ascii_alphabetic()) {
                Ok(c)
            } else {
                Err(format!("'{v}' is not an ISO 3166-1 alpha-2 country code"))
            }
        }),
        customer_id: dim(&mut e, q, "customer_id", |v| Ok(v.to_string())),
        metadata: q.get("metadata").map(|s| s.trim()).filter(|s| !s.is_empty()).and_then(|m| {
            match m.split_once(':') {
                Some((k, v)) if !k.trim().is_empty() => Some((k.trim().to_string(), v.trim().to_string())),
                _ => {
                    e.add("metadata", "use metadata=key:value");
                    None
                }
            }
        }),
    };
    e.into_result(MetricsQuery { from, to, tz, filters })
}

/// Optional `from`/`to` (local days, inclusive) in `tz` → the first and last instant (UTC
/// micros) of that range, as the overview counts days; bad values are recorded in `e`.
pub fn local_day_bounds(
    e: &mut ValidationErrors,
    q: &HashMap<String, String>,
) -> (Option<Micros>, Option<Micros>) {
    let get = |k: &str| q.get(k).map(|s| s.trim()).filter(|s| !s.is_empty());
    let tz: Tz = match get("tz") {
        None => Tz::UTC,
        Some(name) => match name.parse() {
            Ok(tz) => tz,
            Err(_) => {
                e.add("tz", format!("unknown time zone '{}'", name.chars().take(64).collect::<String>()));
                return (None, None);
            }
        },
    };
    let mut day = |k: &str| get(k).and_then(|v| e.check(k, crate::time::parse_date(v)));
    let (from, to) = (day("from"), day("to"));
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        e.add("from", format!("from ({f}) is after to ({t})"));
    }
    (from.map(|d| day_start(tz, d)), to.and_then(|d| d.succ_opt()).map(|d| day_start(tz, d) - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn envs() -> Vec<String> {
        vec!["production".into(), "development".into()]
    }

    const NOW: Micros = 1_780_000_000_000_000; // 2026-05-28T20:26:40Z

    #[test]
    fn the_default_range_is_the_last_thirty_local_days() {
        let m = parse(&q(&[]), &envs(), NOW).unwrap();
        assert_eq!(m.to, NaiveDate::from_ymd_opt(2026, 5, 28).unwrap());
        assert_eq!(m.days(), 30);
        let tokyo = parse(&q(&[("tz", "Asia/Tokyo")]), &envs(), NOW).unwrap();
        assert_eq!(tokyo.to, NaiveDate::from_ymd_opt(2026, 5, 29).unwrap(), "already tomorrow in Tokyo");
    }

    #[test]
    fn daylight_saving_days_are_23_and_25_hours_long() {
        let spring = parse(
            &q(&[("from", "2026-03-08"), ("to", "2026-03-08"), ("tz", "America/New_York")]),
            &envs(),
            NOW,
        )
        .unwrap();
        let (a, b) = spring.instants();
        assert_eq!(b - a, 23 * 3_600_000_000);
        let fall = parse(
            &q(&[("from", "2026-11-01"), ("to", "2026-11-01"), ("tz", "America/New_York")]),
            &envs(),
            NOW,
        )
        .unwrap();
        let (a, b) = fall.instants();
        assert_eq!(b - a, 25 * 3_600_000_000);
    }

    #[test]
    fn a_midnight_swallowed_by_a_gap_starts_the_day_at_the_first_real_instant() {
        // Chile moves from 00:00 to 01:00 on its spring day.
        let tz: Tz = "America/Santiago".parse().unwrap();
        let d = NaiveDate::from_ymd_opt(2026, 9, 6).unwrap();
        let start = day_start(tz, d);
        let local = DateTime::<Utc>::from_timestamp_micros(start).unwrap().with_timezone(&tz);
        assert_eq!(local.date_naive(), d);
        assert!(local.hour() <= 1);
    }

    #[test]
    fn bad_parameters_name_their_field() {
        let e = parse(
            &q(&[
                ("from", "2026-02-30"),
                ("tz", "Mars/Olympus"),
                ("device", "fridge"),
                ("environment", "staging"),
            ]),
            &envs(),
            NOW,
        )
        .unwrap_err();
        assert_eq!(e.0.keys().cloned().collect::<Vec<_>>(), ["device", "environment", "from", "tz"]);
        assert_eq!(e.0["tz"][0], "unknown time zone 'Mars/Olympus'");
        let e = parse(&q(&[("from", "2026-05-02"), ("to", "2026-05-01")]), &envs(), NOW).unwrap_err();
        assert!(e.0.contains_key("from"));
        let e = parse(&q(&[("from", "2000-01-01"), ("to", "2026-05-01")]), &envs(), NOW).unwrap_err();
        assert!(e.0.contains_key("to"));
    }

    #[test]
    fn optional_local_day_bounds_cover_whole_local_days() {
        let mut e = ValidationErrors::default();
        let (a, b) = local_day_bounds(
            &mut e,
            &q(&[("from", "2026-03-08"), ("to", "2026-03-08"), ("tz", "America/New_York")]),
        );
        assert!(e.is_empty());
        assert_eq!(b.unwrap() - a.unwrap() + 1, 23 * 3_600_000_000);
        assert_eq!(local_day_bounds(&mut e, &q(&[])), (None, None));
        local_day_bounds(&mut e, &q(&[("from", "2026-05-02"), ("to", "2026-05-01")]));
        assert!(e.0.contains_key("from"));
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn compared(pairs: &[(&str, &str)]) -> Result<Option<(Compare, MetricsQuery)>, ValidationErrors> {
        let m = parse(&q(pairs), &envs(), NOW).unwrap();
        parse_compare(&m, &q(pairs))
    }

    #[test]
    fn the_previous_range_is_as_many_local_days_just_before() {
        let (mode, p) = compared(&[("from", "2026-03-01"), ("to", "2026-03-31"), ("compare", "previous")])
            .unwrap()
            .unwrap();
        assert_eq!(mode, Compare::Previous);
        assert_eq!((p.from, p.to), (day("2026-01-29"), day("2026-02-28")));
        assert_eq!(p.days(), 31);
        let (_, p) = compared(&[("from", "2026-05-28"), ("to", "2026-05-28"), ("compare", " previous ")])
            .unwrap()
            .unwrap();
        assert_eq!((p.from, p.to), (day("2026-05-27"), day("2026-05-27")));
        // The zone and the filters are kept.
        let (_, p) = compared(&[("tz", "Asia/Tokyo"), ("device", "mobile"), ("compare", "previous")])
            .unwrap()
            .unwrap();
        assert_eq!(
            (p.tz, p.filters.device.clone()),
            (chrono_tz::Asia::Tokyo, Some(DimFilter::Is("mobile".into())))
        );
        assert_eq!((p.to + Duration::days(30), p.days()), (day("2026-05-29"), 30));
        assert_eq!(compared(&[("compare", "")]).unwrap(), None);
        assert_eq!(compared(&[]).unwrap(), None);
    }

    #[test]
    fn the_year_range_has_the_same_dates_and_29_february_becomes_the_28th() {
        let year = |from: &str, to: &str| {
            let (_, p) = compared(&[("from", from), ("to", to), ("compare", "year")]).unwrap().unwrap();
            (p.from.to_string(), p.to.to_string())
        };
        assert_eq!(year("2026-05-01", "2026-05-31"), ("2025-05-01".into(), "2025-05-31".into()));
        assert_eq!(year("2028-02-29", "2028-03-31"), ("2027-02-28".into(), "2027-03-31".into()));
        assert_eq!(
            year("2028-02-01", "2028-02-29"),
            ("2027-02-01".into(), "2027-02-28".into()),
            "one day shorter"
        );
        assert_eq!(year("2028-02-29", "2028-02-29"), ("2027-02-28".into(), "2027-02-28".into()));
        assert_eq!(
            year("2029-02-28", "2029-03-01"),
            ("2028-02-28".into(), "2028-03-01".into()),
            "one day longer"
        );
        assert_eq!(year_before(day("2026-12-31")), day("2025-12-31"));
    }

    #[test]
    fn a_bad_or_out_of_limits_comparison_names_compare() {
        let e = compared(&[("compare", "last_week")]).unwrap_err();
        assert_eq!(e.0.keys().collect::<Vec<_>>(), ["compare"]);
        assert_eq!(e.0["compare"][0], "unknown comparison 'last_week'; use previous or year");
        let e =
            compared(&[("from", "1970-01-01"), ("to", "1970-01-10"), ("compare", "previous")]).unwrap_err();
        assert_eq!(e.0["compare"][0], "the previous range (1969-12-22..1969-12-31) starts before 1970-01-01");
        let e = compared(&[("from", "1970-06-01"), ("to", "1970-06-30"), ("compare", "year")]).unwrap_err();
        assert!(e.0.contains_key("compare"));
        assert!(compared(&[("from", "1970-01-11"), ("to", "1970-01-20"), ("compare", "previous")]).is_ok());
        // 3660 days that gain a 29 February a year earlier (2020's).
        let long = parse(&q(&[("from", "2021-01-01"), ("to", "2031-01-08")]), &envs(), NOW).unwrap();
        assert_eq!(long.days(), 3660);
        let e = parse_compare(&long, &q(&[("compare", "year")])).unwrap_err();
        assert_eq!(e.0["compare"][0], "the year range (2020-01-01..2030-01-08) is longer than 3660 days");
        assert!(parse_compare(&long, &q(&[("compare", "previous")])).is_ok());
    }

    #[test]
    fn unknown_matches_null_and_values_are_normalized() {
        let m =
            parse(&q(&[("device", "Unknown"), ("source", " WhatsApp "), ("country", "hr")]), &envs(), NOW)
                .unwrap();
        assert_eq!(m.filters.device, Some(DimFilter::Unknown));
        assert_eq!(m.filters.source, Some(DimFilter::Is("whatsapp".into())));
        assert_eq!(m.filters.country, Some(DimFilter::Is("HR".into())));
    }
}

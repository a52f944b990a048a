//! Event time: parsing the timestamps the SDKs send, and the one storage form (µs since epoch).

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, SecondsFormat, Utc};

/// Microseconds since the Unix epoch, UTC: how every instant is stored.
pub type Micros = i64;

/// The first year a timestamp or a query date may name (the Unix epoch's).
pub const MIN_YEAR: i32 = 1970;
/// The last year a timestamp or a query date may name: past it, date arithmetic (a day
/// after, a week before) nears chrono's own limits.
pub const MAX_YEAR: i32 = 9999;

/// Parses a calendar date `YYYY-MM-DD` between 1970-01-01 and 9999-12-31.
pub fn parse_date(s: &str) -> Result<NaiveDate, String> {
    let t = s.trim();
    match NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        Ok(d) if (MIN_YEAR..=MAX_YEAR).contains(&d.year()) => Ok(d),
        Ok(_) => Err(format!("'{}' is outside 1970-01-01..9999-12-31.", clip(t))),
        Err(_) => Err(format!("'{}' is not a date (YYYY-MM-DD)", clip(t))),
    }
}

/// Parses an ISO 8601 timestamp. One without an offset is UTC (metrics.md, *Event time*).
///
/// Accepts `2026-08-15T10:58:29.710236+00:00`, `…Z`, `2026-08-15T10:58:29` and the same with a
/// space instead of `T`.
pub fn parse_timestamp(s: &str) -> Result<Micros, String> {
    let t = s.trim();
    let parsed = DateTime::parse_from_rfc3339(t)
        .map(|d| d.with_timezone(&Utc))
        .or_else(|_| DateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f%:z").map(|d| d.with_timezone(&Utc)))
        .or_else(|_| {
            NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f")
                .or_else(|_| NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f"))
                .map(|n| n.and_utc())
        });
    match parsed {
        Ok(d) if d.timestamp() < 0 => Err(format!("Timestamp '{}' is before 1970.", clip(t))),
        Ok(d) if d.year() > MAX_YEAR => Err(format!("Timestamp '{}' is after {MAX_YEAR}-12-31.", clip(t))),
        Ok(d) => Ok(d.timestamp_micros()),
        Err(_) => Err(format!(
            "Datetime has wrong format ('{}'). Use ISO 8601, e.g. 2026-08-15T10:58:29.710236+00:00.",
            clip(t)
        )),
    }
}

/// Parses an optional timestamp, falling back to `received` when absent or empty.
pub fn event_time(value: Option<&str>, received: Micros) -> Result<Micros, String> {
    match value {
        None => Ok(received),
        Some(s) if s.trim().is_empty() => Ok(received),
        Some(s) => parse_timestamp(s),
    }
}

/// Formats stored micros as ISO 8601 UTC with a `Z` (`2026-08-15T10:58:29.710236Z`).
pub fn to_iso(us: Micros) -> String {
    DateTime::<Utc>::from_timestamp_micros(us)
        .map(|d| d.to_rfc3339_opts(SecondsFormat::Micros, true))
        .unwrap_or_default()
}

/// The current time in micros.
pub fn now_micros() -> Micros {
    Utc::now().timestamp_micros()
}

fn clip(s: &str) -> String {
    s.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdk_timestamps_with_offset_parse_to_utc() {
        let a = parse_timestamp("2026-08-15T10:58:29.710236+00:00").unwrap();
        let b = parse_timestamp("2026-08-15T12:58:29.710236+02:00").unwrap();
        let c = parse_timestamp("2026-08-15T10:58:29.710236Z").unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(to_iso(a), "2026-08-15T10:58:29.710236Z");
    }

    #[test]
    fn a_timestamp_without_offset_is_utc() {
        assert_eq!(
            parse_timestamp("2026-08-15T10:58:29").unwrap(),
            parse_timestamp("2026-08-15T10:58:29Z").unwrap()
        );
        assert_eq!(
            parse_timestamp("2026-08-15 10:58:29.5").unwrap(),
            parse_timestamp("2026-08-15T10:58:29.500Z").unwrap()
        );
    }

    #[test]
    fn garbage_is_an_error_and_absence_is_receipt_time() {
        assert!(parse_timestamp("yesterday").is_err());
        assert!(parse_timestamp("2026-13-01T00:00:00Z").is_err());
        assert_eq!(event_time(None, 42), Ok(42));
        assert_eq!(event_time(Some(""), 42), Ok(42));
    }

    #[test]
    fn dates_and_timestamps_outside_1970_to_9999_are_refused() {
        assert_eq!(parse_date("1970-01-01").unwrap().to_string(), "1970-01-01");
        assert_eq!(parse_date(" 9999-12-31 ").unwrap().to_string(), "9999-12-31");
        for bad in ["1969-12-31", "+10000-01-01", "+262142-12-31", "-0001-01-01"] {
            assert!(parse_date(bad).unwrap_err().contains("outside"), "{bad}");
        }
        // Five digits without a sign are no %Y year: refused as a malformed date.
        assert!(parse_date("10000-01-01").is_err());
        assert!(parse_date("2026-02-30").unwrap_err().contains("not a date"));
        assert!(parse_timestamp("9999-12-31T23:59:59.999999Z").is_ok());
        assert!(parse_timestamp("+262142-12-31 00:00:00+00:00").unwrap_err().contains("after 9999"));
        assert!(parse_timestamp("+10000-01-01T00:00:00").unwrap_err().contains("after 9999"));
    }
}

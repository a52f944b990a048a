//! Event time: parsing the timestamps the SDKs send, and the one storage form (µs since epoch).

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};

/// Microseconds since the Unix epoch, UTC: how every instant is stored.
pub type Micros = i64;

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
        Ok(d) if d.timestamp() >= 0 => Ok(d.timestamp_micros()),
        Ok(_) => Err(format!("Timestamp '{}' is before 1970.", clip(t))),
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
}

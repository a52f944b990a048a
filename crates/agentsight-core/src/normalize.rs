//! Normalization of conversation dimensions and enumerations, one small idempotent step each.

use std::borrow::Cow;
use std::net::IpAddr;

use crate::limits::{self, check_chars};

/// Device of a conversation.
pub const DEVICES: [&str; 3] = ["desktop", "tablet", "mobile"];
/// Message senders.
pub const SENDERS: [&str; 3] = ["end_user", "agent", "system"];
/// Feedback sentiments.
pub const SENTIMENTS: [&str; 3] = ["positive", "neutral", "negative"];
/// The environments every agent has.
pub const DEFAULT_ENVIRONMENTS: [&str; 2] = ["production", "development"];

/// Trims; an empty string means "not given".
pub fn trimmed(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|s| !s.is_empty())
}

/// `device`: trimmed, lower-cased, one of [`DEVICES`].
pub fn device(v: &str) -> Result<String, String> {
    let d = v.trim().to_ascii_lowercase();
    if DEVICES.contains(&d.as_str()) {
        Ok(d)
    } else {
        Err(format!("\"{}\" is not a valid choice. Use desktop, tablet or mobile.", clip(v)))
    }
}

/// `source`: trimmed and lower-cased free text (`web`, `whatsapp`, …).
pub fn source(v: &str) -> Result<String, String> {
    let s = v.trim().to_lowercase();
    check_chars(&s, limits::MAX_SOURCE_CHARS)?;
    Ok(s)
}

/// `language`: trimmed, `_` read as `-`; a well-formed BCP-47 tag (RFC 5646) in its canonical
/// case: language subtag lower-case, script title-case, region upper-case (`en_us` → `en-US`,
/// `zh-hant-tw` → `zh-Hant-TW`, `EN` → `en`). Text that is not a tag is kept as sent (trimmed).
/// Idempotent, so stored values, filter values and a re-normalization agree.
pub fn language(v: &str) -> Result<String, String> {
    let t = v.trim();
    check_chars(t, limits::MAX_LANGUAGE_CHARS)?;
    Ok(canonical_language(t).unwrap_or_else(|| t.to_string()))
}

/// The canonical form of `t` when it is a well-formed BCP-47 tag (with `_` read as `-`).
fn canonical_language(t: &str) -> Option<String> {
    oxilangtag::LanguageTag::parse_and_normalize(&t.replace('_', "-")).ok().map(|tag| tag.into_inner())
}

/// An environment slug: trimmed, lower-cased, `prod`/`dev` aliased; must be one of `known`.
pub fn environment(v: &str, known: &[String]) -> Result<String, String> {
    let e = v.trim().to_lowercase();
    let e = match e.as_str() {
        "prod" => "production".to_string(),
        "dev" => "development".to_string(),
        _ => e,
    };
    if known.contains(&e) { Ok(e) } else { Err(format!("Unknown environment: '{}'.", clip(v))) }
}

/// Words a new environment slug may not be: the aliases [`environment`] maps to other slugs, and
/// the filter value that matches conversations without an environment.
pub const RESERVED_ENVIRONMENT_SLUGS: [&str; 3] = ["prod", "dev", crate::metrics::query::UNKNOWN];

/// A new environment slug: trimmed, lower-cased, 1–64 of `a-z 0-9 - _`, not one of
/// [`RESERVED_ENVIRONMENT_SLUGS`] (an environment by that name could never be filtered on).
pub fn environment_slug(v: &str) -> Result<String, String> {
    let s = v.trim().to_lowercase();
    check_chars(&s, limits::MAX_ENVIRONMENT_CHARS)?;
    if s.is_empty()
        || !s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        return Err(format!("'{}' is not a slug (use a-z, 0-9, '-' and '_').", clip(v)));
    }
    if RESERVED_ENVIRONMENT_SLUGS.contains(&s.as_str()) {
        return Err(format!(
            "'{s}' is reserved: 'prod' and 'dev' stand for production and development, and \
             'unknown' matches conversations without an environment."
        ));
    }
    Ok(s)
}

/// `sender` of a message.
pub fn sender(v: &str) -> Result<String, String> {
    let s = v.trim().to_ascii_lowercase();
    if SENDERS.contains(&s.as_str()) {
        Ok(s)
    } else {
        Err(format!("\"{}\" is not a valid choice. Use end_user, agent or system.", clip(v)))
    }
}

/// Feedback `sentiment`.
pub fn sentiment(v: &str) -> Result<String, String> {
    let s = v.trim().to_ascii_lowercase();
    if SENTIMENTS.contains(&s.as_str()) {
        Ok(s)
    } else {
        Err(format!("\"{}\" is not a valid choice. Use positive, neutral or negative.", clip(v)))
    }
}

/// `customer_ip_address`: a valid IPv4 or IPv6 address, canonical (IPv4-mapped IPv6 → IPv4).
pub fn ip_address(v: &str) -> Result<IpAddr, String> {
    v.trim()
        .parse::<IpAddr>()
        .map(|ip| ip.to_canonical())
        .map_err(|_| format!("Enter a valid IPv4 or IPv6 address ('{}').", clip(v)))
}

fn clip(s: &str) -> String {
    s.chars().take(64).collect()
}

/// The text every backend stores for U+0000, which PostgreSQL's `text` and `jsonb` cannot hold:
/// U+FFFD, the replacement character. Every text that arrives (JSON bodies, OTLP strings,
/// multipart fields) has its NULs replaced before it is validated, so all backends store and
/// count the same thing.
pub const NUL_REPLACEMENT: char = '\u{FFFD}';

/// `s` with every U+0000 replaced by [`NUL_REPLACEMENT`] (borrowed when there is none).
pub fn nul_replaced(s: &str) -> Cow<'_, str> {
    if s.contains('\0') { Cow::Owned(s.replace('\0', "\u{FFFD}")) } else { Cow::Borrowed(s) }
}

/// JSON text with every escape `\u0000` rewritten as `\ufffd` (same length, so the text stays
/// valid JSON wherever it was), borrowed when there is none. An escaped backslash followed by
/// `u0000` is text, not an escape, and stays. Raw NULs cannot occur in valid JSON strings.
pub fn json_nul_escapes_replaced(json: &[u8]) -> Cow<'_, [u8]> {
    const NUL: &[u8] = b"u0000";
    let mut out: Option<Vec<u8>> = None;
    let mut i = 0;
    while let Some(off) = json[i..].iter().position(|&b| b == b'\\') {
        let at = i + off;
        if json.get(at + 1..at + 6) == Some(NUL) {
            out.get_or_insert_with(|| json.to_vec())[at + 2..at + 6].copy_from_slice(b"fffd");
            i = at + 6;
        } else {
            i = at + 2; // the escaped character, whatever it is (`\\` included)
        }
        if i >= json.len() {
            break;
        }
    }
    match out {
        Some(v) => Cow::Owned(v),
        None => Cow::Borrowed(json),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_escapes_are_replaced_and_escaped_backslashes_are_not() {
        let r = |s: &str| String::from_utf8(json_nul_escapes_replaced(s.as_bytes()).into_owned()).unwrap();
        assert_eq!(r(r#"{"a\u0000":"x\u0000y"}"#), r#"{"a\ufffd":"x\ufffdy"}"#);
        assert_eq!(r(r#""\\u0000""#), r#""\\u0000""#, "an escaped backslash, then text");
        assert_eq!(r(r#""\\\u0000""#), r#""\\\ufffd""#, "an escaped backslash, then an escape");
        assert!(matches!(json_nul_escapes_replaced(br#"{"a":"\u00001\n"}"#), Cow::Owned(_)));
        assert!(matches!(json_nul_escapes_replaced(br#"{"a":"\u0001\n\\"}"#), Cow::Borrowed(_)));
        assert_eq!(r("\\"), "\\", "a trailing backslash");
        let v: serde_json::Value = serde_json::from_str(&r(r#"{"k":"a\u0000b"}"#)).unwrap();
        assert_eq!(v["k"], "a\u{FFFD}b");
        assert_eq!(nul_replaced("a\0b"), "a\u{FFFD}b");
    }

    #[test]
    fn dimensions_are_normalized_and_idempotent() {
        assert_eq!(device(" Mobile ").unwrap(), "mobile");
        assert!(device("phone").is_err());
        assert_eq!(source("  WhatsApp ").unwrap(), "whatsapp");
        assert_eq!(language(" EN-US ").unwrap(), "en-US");
        assert_eq!(language("en_GB").unwrap(), "en-GB");
        assert_eq!(language("HR").unwrap(), "hr");
        for f in [source, language] {
            let once = f(" Ab-CD ").unwrap();
            assert_eq!(f(&once).unwrap(), once);
        }
    }

    #[test]
    fn language_tags_take_their_canonical_case() {
        for (sent, stored) in [
            ("en-us", "en-US"),
            ("en_US", "en-US"),
            ("EN-US", "en-US"),
            ("EN", "en"),
            ("pt-br", "pt-BR"),
            ("pt-BR", "pt-BR"),
            ("zh-hant-tw", "zh-Hant-TW"),
            ("SR-latn", "sr-Latn"),
            ("es-419", "es-419"),
            ("de-CH-1996", "de-CH-1996"),
            ("en-US-x-TWAIN", "en-US-x-twain"),
            ("i-KLINGON", "i-klingon"),
        ] {
            assert_eq!(language(sent).unwrap(), stored, "{sent}");
        }
        // Not a tag: kept as sent, trimmed (no case change, `_` kept).
        for text in ["English (US)", "Español", "en--US", "EN_us_", "123"] {
            assert_eq!(language(&format!(" {text} ")).unwrap(), text);
        }
        assert!(language(&"a".repeat(limits::MAX_LANGUAGE_CHARS + 1)).is_err());
    }

    proptest::proptest! {
        /// Normalizing a stored value again changes nothing, whatever was sent, and any case of
        /// a tag's letters lands on one value.
        #[test]
        fn language_normalization_is_idempotent_and_case_blind(v in "[ a-zA-Z0-9_-]{0,24}") {
            if let Ok(once) = language(&v) {
                proptest::prop_assert_eq!(language(&once).unwrap(), once.clone());
                if canonical_language(v.trim()).is_some() {
                    proptest::prop_assert_eq!(language(&v.to_uppercase()).unwrap(), once.clone());
                    proptest::prop_assert_eq!(language(&v.to_lowercase()).unwrap(), once);
                }
            }
        }
    }

    #[test]
    fn environments_accept_aliases_and_reject_unknown_slugs() {
        let known: Vec<String> = DEFAULT_ENVIRONMENTS.iter().map(|s| s.to_string()).collect();
        assert_eq!(environment(" PROD ", &known).unwrap(), "production");
        assert_eq!(environment("dev", &known).unwrap(), "development");
        assert_eq!(environment("staging", &known).unwrap_err(), "Unknown environment: 'staging'.");
    }

    #[test]
    fn new_environment_slugs_may_not_shadow_an_alias_or_the_unknown_filter() {
        assert_eq!(environment_slug(" Staging ").unwrap(), "staging");
        for reserved in ["unknown", " UNKNOWN ", "prod", "Dev"] {
            let err = environment_slug(reserved).unwrap_err();
            assert!(err.contains("is reserved"), "{reserved}: {err}");
        }
        assert!(environment_slug("unknown-2").is_ok());
    }

    #[test]
    fn ip_addresses_are_canonical() {
        assert_eq!(ip_address("::ffff:1.2.3.4").unwrap().to_string(), "1.2.3.4");
        assert!(ip_address("999.1.1.1").is_err());
        assert_eq!(ip_address(" 2001:db8::1 ").unwrap().to_string(), "2001:db8::1");
    }
}

//! Effective feedback of a conversation (metrics.md, *Effective feedback*).

use serde_json::Value;

/// A sentiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sentiment {
    /// Positive.
    Positive,
    /// Neutral.
    Neutral,
    /// Negative.
    Negative,
}

impl Sentiment {
    /// `positive` | `neutral` | `negative`.
    pub fn as_str(self) -> &'static str {
        match self {
            Sentiment::Positive => "positive",
            Sentiment::Neutral => "neutral",
            Sentiment::Negative => "negative",
        }
    }

    /// Parses `positive` | `neutral` | `negative`, any case, trimmed.
    pub fn parse(s: &str) -> Option<Sentiment> {
        match s.trim().to_ascii_lowercase().as_str() {
            "positive" => Some(Sentiment::Positive),
            "neutral" => Some(Sentiment::Neutral),
            "negative" => Some(Sentiment::Negative),
            _ => None,
        }
    }
}

/// What a conversation's feedback counts as.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Feedback {
    /// The sentiment.
    pub sentiment: Sentiment,
    /// The rating, when the feedback was a number on the 1–5 scale.
    pub rating: Option<f64>,
}

fn rating(n: f64) -> Option<Feedback> {
    if !(1.0..=5.0).contains(&n) {
        return None;
    }
    // The scale's points are whole: 4 and 5 positive, 3 neutral, 1 and 2 negative; a fraction
    // counts as the nearest point (3.5 → 4).
    let sentiment = match n.round() as i64 {
        4 | 5 => Sentiment::Positive,
        3 => Sentiment::Neutral,
        _ => Sentiment::Negative,
    };
    Some(Feedback { sentiment, rating: Some(n) })
}

fn scalar(v: &Value) -> Option<Feedback> {
    match v {
        Value::String(s) => Sentiment::parse(s).map(|sentiment| Feedback { sentiment, rating: None }),
        Value::Bool(true) => Some(Feedback { sentiment: Sentiment::Positive, rating: None }),
        Value::Bool(false) => Some(Feedback { sentiment: Sentiment::Negative, rating: None }),
        Value::Number(n) => n.as_f64().and_then(rating),
        _ => None,
    }
}

/// Reads `metadata.feedback`: a sentiment string (any case), a boolean, a 1–5 rating, or an
/// object read through its `sentiment` key, else its `rating` key (one level only).
pub fn from_metadata_value(v: &Value) -> Option<Feedback> {
    match v {
        Value::Object(m) => m.get("sentiment").and_then(scalar).or_else(|| m.get("rating").and_then(scalar)),
        other => scalar(other),
    }
}

/// Reads the `feedback` key of a conversation's metadata document.
pub fn from_metadata(metadata: &Value) -> Option<Feedback> {
    metadata.get("feedback").and_then(from_metadata_value)
}

/// The effective feedback: the latest explicit record wins over metadata.
pub fn effective(latest_explicit: Option<&str>, metadata: Option<&Value>) -> Option<Feedback> {
    match latest_explicit.and_then(Sentiment::parse) {
        Some(sentiment) => Some(Feedback { sentiment, rating: None }),
        None => metadata.and_then(from_metadata),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn s(v: Value) -> Option<Sentiment> {
        from_metadata(&json!({ "feedback": v })).map(|f| f.sentiment)
    }

    #[test]
    fn every_accepted_form_of_metadata_feedback() {
        assert_eq!(s(json!("Positive")), Some(Sentiment::Positive));
        assert_eq!(s(json!(" NEGATIVE ")), Some(Sentiment::Negative));
        assert_eq!(s(json!(true)), Some(Sentiment::Positive));
        assert_eq!(s(json!(false)), Some(Sentiment::Negative));
        assert_eq!(s(json!(5)), Some(Sentiment::Positive));
        assert_eq!(s(json!(4)), Some(Sentiment::Positive));
        assert_eq!(s(json!(3)), Some(Sentiment::Neutral));
        assert_eq!(s(json!(2)), Some(Sentiment::Negative));
        assert_eq!(s(json!(1)), Some(Sentiment::Negative));
        assert_eq!(s(json!({"sentiment": "neutral", "rating": 5})), Some(Sentiment::Neutral));
        assert_eq!(s(json!({"rating": 4})), Some(Sentiment::Positive));
        assert_eq!(s(json!({"sentiment": "meh", "rating": 1})), Some(Sentiment::Negative));
    }

    #[test]
    fn anything_else_is_no_feedback() {
        for v in [
            json!("great"),
            json!(0),
            json!(6),
            json!("5"),
            json!(null),
            json!([1]),
            json!({"x": 1}),
            json!({"sentiment": {"sentiment": "positive"}}),
        ] {
            assert_eq!(s(v.clone()), None, "{v}");
        }
        assert_eq!(from_metadata(&json!({})), None);
    }

    #[test]
    fn numbers_count_as_ratings_and_explicit_feedback_wins() {
        let f = from_metadata(&json!({"feedback": 4})).unwrap();
        assert_eq!(f.rating, Some(4.0));
        let meta = json!({"feedback": 1});
        let f = effective(Some("positive"), Some(&meta)).unwrap();
        assert_eq!((f.sentiment, f.rating), (Sentiment::Positive, None));
        assert_eq!(effective(None, Some(&meta)).unwrap().sentiment, Sentiment::Negative);
    }
}

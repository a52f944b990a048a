//! Posting a signed JSON body to a webhook.
//!
//! Headers: `Content-Type: application/json`, `X-AgentSight-Timestamp` (Unix seconds) and
//! `X-AgentSight-Signature: sha256=<hex>`, the HMAC-SHA256 keyed by the target's secret of
//! `"{timestamp}.{body}"` (`agentsight_core::alerts::webhook_signature`). A receiver recomputes
//! it over the raw body and compares in constant time, and refuses old timestamps. Any 2xx is
//! delivered; redirects are not followed.

use agentsight_core::alerts::webhook_signature;

use super::DeliveryError;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "x-agentsight-signature";
/// The timestamp header.
pub const TIMESTAMP_HEADER: &str = "x-agentsight-timestamp";

pub(super) async fn post(
    http: &reqwest::Client,
    url: &str,
    secret: &[u8],
    body: &serde_json::Value,
) -> Result<(), DeliveryError> {
    let bytes = serde_json::to_vec(body).map_err(|e| DeliveryError::Message(e.to_string()))?;
    let ts = agentsight_core::time::now_micros().div_euclid(1_000_000);
    let res = http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(TIMESTAMP_HEADER, ts.to_string())
        .header(SIGNATURE_HEADER, webhook_signature(secret, ts, &bytes))
        .body(bytes)
        .send()
        .await
        .map_err(|e| DeliveryError::Transport(format!("POST {}: {}", redact(url), chain(&e))))?;
    let status = res.status();
    if status.is_success() {
        return Ok(());
    }
    let text = res.text().await.unwrap_or_default();
    let text: String = text.chars().take(200).collect();
    Err(DeliveryError::Transport(format!("POST {}: HTTP {}: {}", redact(url), status.as_u16(), text.trim())))
}

/// The URL without its path and query (a Slack webhook's path is its secret).
pub(super) fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            format!("{scheme}://{host}/…")
        }
        None => "…".into(),
    }
}

fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn logged_urls_keep_only_the_host() {
        assert_eq!(super::redact("https://hooks.example.invalid/services/T0/B0/secret?x=1"), "https://hooks.example.invalid/…");
        assert_eq!(super::redact("nonsense"), "…");
    }
}

//! Posting a signed JSON body to a webhook.
//!
//! Headers: `Content-Type: application/json`, `X-AgentSight-Timestamp` (Unix seconds) and
//! `X-AgentSight-Signature: sha256=<hex>`, the HMAC-SHA256 keyed by the target's secret of
//! `"{timestamp}.{body}"` (`agentsight_core::alerts::webhook_signature`). A receiver recomputes
//! it over the raw body and compares in constant time, and refuses old timestamps. Any 2xx is
//! delivered; redirects are not followed. The peer's certificate is always checked (the
//! system's CA store plus `--notify-ca-file`).

use agentsight_core::alerts::webhook_signature;

use super::DeliveryError;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "x-agentsight-signature";
/// The timestamp header.
pub const TIMESTAMP_HEADER: &str = "x-agentsight-timestamp";

/// The HTTP(S) client of webhooks.
pub(crate) type HttpClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    http_body_util::Full<bytes::Bytes>,
>;

/// How long one webhook request may take.
const WEBHOOK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);
/// How much of a refusal's body is read (and the first 200 characters logged).
const MAX_ANSWER_BYTES: usize = 16 * 1024;

/// A client trusting the system's CA store and `extra_ca_pem`, with ring as its TLS provider.
pub(crate) fn client(extra_ca_pem: Option<&[u8]>) -> Result<HttpClient, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(pem) = extra_ca_pem {
        let mut n = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            roots
                .add(cert.map_err(|e| format!("notify CA file: {e}"))?)
                .map_err(|e| format!("notify CA file: {e}"))?;
            n += 1;
        }
        if n == 0 {
            return Err("notify CA file: no certificate in it".into());
        }
    }
    // ring, as lettre's SMTP uses (aws-lc-rs would need cmake to build); it lacks only the
    // post-quantum key exchange, for which rustls deprecates it.
    #[allow(deprecated)]
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_or_http()
        .enable_http1()
        .build();
    Ok(hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(https))
}

pub(super) async fn post(
    http: &HttpClient,
    url: &str,
    secret: &[u8],
    body: &serde_json::Value,
) -> Result<(), DeliveryError> {
    use http_body_util::BodyExt;
    let bytes = serde_json::to_vec(body).map_err(|e| DeliveryError::Message(e.to_string()))?;
    let ts = agentsight_core::time::now_micros().div_euclid(1_000_000);
    let req = axum::http::Request::post(url)
        .header(axum::http::header::CONTENT_TYPE, "application/json")
        .header(axum::http::header::USER_AGENT, concat!("agentsight/", env!("CARGO_PKG_VERSION")))
        .header(TIMESTAMP_HEADER, ts.to_string())
        .header(SIGNATURE_HEADER, webhook_signature(secret, ts, &bytes))
        .body(http_body_util::Full::new(bytes::Bytes::from(bytes)))
        .map_err(|e| DeliveryError::Message(format!("webhook URL: {e}")))?;
    let fail = |e: &dyn std::fmt::Display| DeliveryError::Transport(format!("POST {}: {e}", redact(url)));
    let res = match tokio::time::timeout(WEBHOOK_TIMEOUT, http.request(req)).await {
        Ok(Ok(res)) => res,
        Ok(Err(e)) => return Err(fail(&chain(&e))),
        Err(_) => return Err(fail(&format!("no answer within {} s", WEBHOOK_TIMEOUT.as_secs()))),
    };
    let status = res.status();
    if status.is_success() {
        return Ok(());
    }
    let answer = http_body_util::Limited::new(res.into_body(), MAX_ANSWER_BYTES).collect().await;
    let text = answer.map(|b| String::from_utf8_lossy(&b.to_bytes()).chars().take(200).collect::<String>());
    Err(fail(&format!("HTTP {}: {}", status.as_u16(), text.unwrap_or_default().trim())))
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
        assert_eq!(
            super::redact("https://hooks.example.invalid/services/abc/def/secret?x=1"),
            "https://hooks.example.invalid/…"
        );
        assert_eq!(super::redact("nonsense"), "…");
    }
}

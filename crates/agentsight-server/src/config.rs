//! Server settings, validated once at start-up.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use agentsight_core::limits;

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Directory holding the database and attachment files.
    pub data_dir: PathBuf,
    /// fsync at every group commit (durable across power loss); off = durable across a crash.
    pub fsync: bool,
    /// Largest JSON request body, in bytes.
    pub max_body_bytes: usize,
    /// Largest attachment file, in bytes.
    pub max_attachment_bytes: usize,
    /// Where the geolocation databases are (`None`: `<data-dir>/geo`).
    pub geo_dir: Option<PathBuf>,
    /// Where attachment files are written (`None`: `<data-dir>/attachments`); set when the
    /// stores are not in a data dir (scale-out), where it is a directory of this node.
    pub attachments_dir: Option<PathBuf>,
    /// Keep `customer_ip_address`; when false only its location is stored.
    pub store_ip: bool,
    /// Answer metrics from the in-memory index (loaded at start); when false, from raw rows.
    pub metrics_index: bool,
    /// `POST /api/ingest/` batches per second one agent may send (0: no limit); beyond it, 429.
    pub ingest_rate: u32,
    /// Batches one agent may send at once above its rate.
    pub ingest_burst: u32,
    /// Time a connection has to send a request head, from when it opens or finished its last
    /// response (so also the idle keep-alive timeout); then it is closed.
    pub header_read_timeout: Duration,
    /// Connections open at once; at the cap new clients wait in the listen queue.
    pub max_connections: usize,
    /// Once shutdown begins, how long open connections have to finish the requests they are
    /// answering; those still open then are cut.
    pub shutdown_timeout: Duration,
    /// The server's address as clients reach it (`https://agentsight.example.com`, no trailing
    /// `/`), for the links it writes (pagination); `None`: the request's `Host`.
    pub public_url: Option<String>,
    /// Peers (reverse proxies) whose `X-Forwarded-For`/`-Proto`/`-Host` are believed; from any
    /// other peer those headers are ignored (`crate::proxy`). Empty: none.
    pub trusted_proxies: Vec<crate::proxy::IpNet>,
    /// How long the setup link printed at start works
    /// (`agentsight_core::dashboard::SETUP_TOKEN_TTL_MICROS`).
    pub setup_link_ttl: Duration,
    /// How often the retention job runs (at start, then at this interval); zero: never
    /// (`crate::erasure`).
    pub retention_interval: Duration,
    /// The bearer token `GET /metrics` (Prometheus) requires; `None`: the route answers 404.
    pub prometheus_token: Option<ScrapeToken>,
    /// How often alert rules are evaluated, scheduled reports due are sent and failed sends
    /// retried (`crate::notify`); zero: never.
    pub alert_interval: Duration,
    /// The first retry of a failed send waits this long, each next one twice as long.
    pub notify_retry_base: Duration,
    /// A send whose first attempt never finished, or a scheduled report whose sending never
    /// finished (the node stopped), is taken up again after this long.
    pub notify_stale_after: Duration,
    /// A PEM file of CA certificates trusted, besides the system's, by SMTP (STARTTLS, TLS) and
    /// HTTPS webhooks: for a mail server or webhook with a private CA.
    pub notify_ca_file: Option<PathBuf>,
    /// Accept any certificate from the SMTP server (tests only: no authentication of the peer
    /// at all). Webhooks always check theirs.
    pub notify_insecure_tls: bool,
}

/// The secret a Prometheus scrape sends as `Authorization: Bearer …`, kept as its SHA-256 only
/// and compared in constant time; its `Debug` prints no part of it.
#[derive(Clone, PartialEq, Eq)]
pub struct ScrapeToken([u8; 32]);

impl ScrapeToken {
    /// The token `secret`: 16 to 512 printable ASCII characters without spaces (it goes into an
    /// HTTP header as it is).
    pub fn parse(secret: &str) -> Result<ScrapeToken, String> {
        if !(16..=512).contains(&secret.len()) || !secret.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("the Prometheus token must be 16 to 512 printable ASCII characters, without \
                        spaces (e.g. `openssl rand -hex 32`)"
                .to_string());
        }
        Ok(ScrapeToken(sha256(secret)))
    }

    /// Whether `given` is the token (exactly: case matters).
    pub fn matches(&self, given: &str) -> bool {
        agentsight_core::keys::hashes_equal(&sha256(given), &self.0)
    }
}

fn sha256(s: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(s.as_bytes()).into()
}

impl std::fmt::Debug for ScrapeToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ScrapeToken(redacted)")
    }
}

/// Checks and normalizes a public URL: `http` or `https`, a host, an optional path prefix, no
/// query or fragment; the trailing `/` is dropped.
pub fn parse_public_url(s: &str) -> Result<String, String> {
    let t = s.trim().trim_end_matches('/');
    let uri: axum::http::Uri = t.parse().map_err(|_| format!("public URL '{t}' is not a URL"))?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    if !scheme_ok || uri.host().is_none_or(str::is_empty) || uri.query().is_some() || t.contains('#') {
        return Err(format!(
            "public URL '{t}' must be http(s)://host[:port][/prefix], without query or fragment"
        ));
    }
    Ok(t.to_string())
}

/// Default `header_read_timeout`.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(20);
/// Default `max_connections`: well below the usual soft limit of 1024 file descriptors, which
/// the databases and attachment files share.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// Default `shutdown_timeout`: a request's longest ordinary time (a large export) with room to
/// spare, and well below systemd's stop timeout in `deploy/agentsight.service` (45 s).
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// Default `retention_interval`: every five minutes.
pub const DEFAULT_RETENTION_INTERVAL: Duration = Duration::from_secs(300);

/// Default `alert_interval`: every minute.
pub const DEFAULT_ALERT_INTERVAL: Duration = Duration::from_secs(60);
/// Default `notify_retry_base`: retries after 30 s, 1, 2 and 4 minutes.
pub const DEFAULT_NOTIFY_RETRY_BASE: Duration = Duration::from_secs(30);
/// Default `notify_stale_after`: 5 minutes, well above what one attempt may take (an SMTP
/// conversation is bounded at 60 s).
pub const DEFAULT_NOTIFY_STALE_AFTER: Duration = Duration::from_secs(300);

/// Default ingest batches per second and agent (the SDK sends one batch every 5 s per process).
pub const DEFAULT_INGEST_RATE: u32 = 200;
/// Default burst of ingest batches.
pub const DEFAULT_INGEST_BURST: u32 = 400;

impl Settings {
    /// Defaults for a data dir: `127.0.0.1:8000`, fsync on, the default limits.
    pub fn new(data_dir: impl Into<PathBuf>) -> Settings {
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 8000)),
            data_dir: data_dir.into(),
            fsync: true,
            max_body_bytes: limits::DEFAULT_MAX_BODY_BYTES,
            max_attachment_bytes: limits::DEFAULT_MAX_ATTACHMENT_BYTES,
            geo_dir: None,
            attachments_dir: None,
            store_ip: true,
            metrics_index: true,
            ingest_rate: DEFAULT_INGEST_RATE,
            ingest_burst: DEFAULT_INGEST_BURST,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            public_url: None,
            trusted_proxies: Vec::new(),
            setup_link_ttl: Duration::from_micros(
                agentsight_core::dashboard::SETUP_TOKEN_TTL_MICROS.unsigned_abs(),
            ),
            retention_interval: DEFAULT_RETENTION_INTERVAL,
            prometheus_token: None,
            alert_interval: DEFAULT_ALERT_INTERVAL,
            notify_retry_base: DEFAULT_NOTIFY_RETRY_BASE,
            notify_stale_after: DEFAULT_NOTIFY_STALE_AFTER,
            notify_ca_file: None,
            notify_insecure_tls: false,
        }
    }

    /// The SQLite file inside the data dir.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("agentsight.db")
    }

    /// Where the geolocation databases are looked for.
    pub fn geo_dir(&self) -> PathBuf {
        self.geo_dir.clone().unwrap_or_else(|| self.data_dir.join("geo"))
    }

    /// Where attachment files live.
    pub fn attachments_dir(&self) -> PathBuf {
        self.attachments_dir.clone().unwrap_or_else(|| self.data_dir.join("attachments"))
    }

    /// The largest attachment upload request: every file at the limit, base64-encoded, plus slack.
    pub fn max_upload_body_bytes(&self) -> usize {
        self.max_attachment_bytes
            .saturating_mul(4)
            .saturating_div(3)
            .saturating_add(1 << 20)
            .max(self.max_body_bytes)
    }

    /// Checks the settings, reporting every problem at once.
    pub fn validate(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        if self.max_body_bytes < 1024 {
            problems.push("max body bytes must be at least 1024".to_string());
        }
        if self.max_attachment_bytes == 0 {
            problems.push("max attachment bytes must be positive".to_string());
        }
        if self.header_read_timeout.is_zero() {
            problems.push("the header timeout must be positive".to_string());
        }
        if self.shutdown_timeout.is_zero() {
            problems.push("the shutdown timeout must be positive".to_string());
        }
        if self.max_connections == 0 {
            problems.push("max connections must be at least 1".to_string());
        }
        if let Some(Err(e)) = self.public_url.as_deref().map(parse_public_url) {
            problems.push(e);
        }
        if problems.is_empty() { Ok(()) } else { Err(problems.join("; ")) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scrape_token_is_checked_and_never_printed() {
        let secret = "0123456789abcdef-secret";
        let t = ScrapeToken::parse(secret).unwrap();
        assert!(t.matches(secret));
        assert!(!t.matches("0123456789abcdef-secreT"));
        assert!(!t.matches(""));
        assert!(!format!("{t:?}").contains("0123"), "{t:?}");
        for bad in ["short", "has a space in it, long enough", &"x".repeat(513), "tab\tinside-a-long-token"] {
            assert!(ScrapeToken::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_public_url_is_http_or_https_with_a_host_and_loses_its_trailing_slash() {
        assert_eq!(parse_public_url("https://a.example.com/").unwrap(), "https://a.example.com");
        assert_eq!(parse_public_url("http://10.0.0.1:8000/as").unwrap(), "http://10.0.0.1:8000/as");
        for bad in
            ["a.example.com", "ftp://a.example.com", "https://a.example.com/?x=1", "https://a/#f", "/x"]
        {
            assert!(parse_public_url(bad).is_err(), "{bad}");
        }
    }
}

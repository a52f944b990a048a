//! ClickHouse over its HTTP interface: queries in the request body, settings as URL parameters,
//! rows as JSONEachRow both ways. Works on ClickHouse 18.16 and later alike (no server-side
//! query parameters there: values are written into the SQL through [`quote`]).

use std::time::Duration;

use agentsight_store::{StorageFailure, StoreError, StoreResult};
use reqwest::Url;
use serde::de::DeserializeOwned;

/// An exception ClickHouse answered, kept as the source of the [`StoreError`] it maps to.
#[derive(Debug, thiserror::Error)]
#[error("ClickHouse (HTTP {status}): {message}")]
pub struct ClickHouseError {
    /// The HTTP status.
    pub status: u16,
    /// ClickHouse's error code (`Code: N`), when the message has one.
    pub code: Option<u32>,
    /// The message as ClickHouse sent it.
    pub message: String,
}

/// How an unavailable ClickHouse is named to clients ([`StoreError::unavailable_dependency`]).
pub(crate) const DEPENDENCY: &str = "clickhouse";

/// Codes that say "busy or unreachable, retry later".
const TRANSIENT: &[u32] = &[
    159, // TIMEOUT_EXCEEDED
    202, // TOO_MANY_SIMULTANEOUS_QUERIES
    209, // SOCKET_TIMEOUT
    210, // NETWORK_ERROR
    252, // TOO_MANY_PARTS
    279, // ALL_CONNECTION_TRIES_FAILED
    319, // UNKNOWN_STATUS_OF_INSERT
];
/// NOT_ENOUGH_SPACE.
const DISK_FULL: u32 = 243;
/// READONLY.
const READ_ONLY: u32 = 164;

fn code_of(message: &str) -> Option<u32> {
    let rest = message.trim_start().strip_prefix("Code: ")?;
    rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// Maps an answered exception: busy or a network problem between shards is `Unavailable`, a
/// full disk or a read-only server is a lasting `Storage` failure, anything else `Internal`.
pub(crate) fn map_exception(status: u16, message: String, doing: &str) -> StoreError {
    let code = code_of(&message);
    let e = ClickHouseError { status, code, message: message.trim_end().to_string() };
    let doing = doing.to_string();
    match code {
        Some(c) if TRANSIENT.contains(&c) => {
            StoreError::dependency_unavailable(DEPENDENCY, format!("ClickHouse: {doing}"), e)
        }
        Some(DISK_FULL) => StoreError::storage(StorageFailure::DiskFull, format!("ClickHouse: {doing}"), e),
        Some(READ_ONLY) => StoreError::storage(StorageFailure::ReadOnly, format!("ClickHouse: {doing}"), e),
        _ if status == 503 => {
            StoreError::dependency_unavailable(DEPENDENCY, format!("ClickHouse: {doing}"), e)
        }
        _ => StoreError::internal_from(format!("ClickHouse: {doing}"), e),
    }
}

/// Maps a transport failure: no connection, a connection dropped (a server stopping, also
/// while the answer is read: reqwest calls that a decode error) or no answer in time is
/// `Unavailable`, naming ClickHouse.
fn map_transport(e: reqwest::Error, doing: &str) -> StoreError {
    if e.is_connect() || e.is_timeout() || e.is_request() || e.is_body() || e.is_decode() {
        StoreError::dependency_unavailable(DEPENDENCY, format!("ClickHouse: {doing}"), e)
    } else {
        StoreError::internal_from(format!("ClickHouse: {doing}"), e)
    }
}

/// A ClickHouse string literal of `s` (backslash and quote escaped).
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A comma-separated list of integers for `IN (…)`.
pub fn int_list(xs: &[i64]) -> String {
    xs.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// How long an idle connection to ClickHouse is kept for reuse: under the server's default
/// `keep_alive_timeout` of 3 s (see [`Http::new`]).
pub const POOL_IDLE: Duration = Duration::from_secs(2);

/// One ClickHouse server (one node of a cluster) reached over HTTP.
#[derive(Clone, Debug)]
pub struct Http {
    client: reqwest::Client,
    url: Url,
}

impl Http {
    /// `url` is like `http://127.0.0.1:8123/?database=agentsight` (its query parameters, the
    /// database, user and password among them, go with every request).
    pub fn new(url: &str, timeout: Duration) -> StoreResult<Http> {
        let url =
            Url::parse(url).map_err(|e| StoreError::internal_from(format!("ClickHouse URL {url:?}"), e))?;
        if url.scheme() != "http" {
            return Err(StoreError::internal(format!(
                "ClickHouse URL {url}: only http:// is supported (keep ClickHouse on a trusted network)"
            )));
        }
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            // Below ClickHouse's `keep_alive_timeout` (3 s by default): a connection the server
            // may already have closed is never reused, so a request cannot meet the close
            // ("connection closed before message completed", seen under load at reqwest's
            // default of 90 s).
            .pool_idle_timeout(POOL_IDLE)
            .build()
            .map_err(|e| StoreError::internal_from("HTTP client", e))?;
        Ok(Http { client, url })
    }

    /// The same server settings on another host (a shard listed by `system.clusters`).
    pub fn with_host(&self, host: &str) -> StoreResult<Http> {
        let mut url = self.url.clone();
        url.set_host(Some(host))
            .map_err(|e| StoreError::internal_from(format!("ClickHouse host {host:?}"), e))?;
        Ok(Http { client: self.client.clone(), url })
    }

    /// The database named in the URL (`default` when none is).
    pub fn database(&self) -> String {
        self.url
            .query_pairs()
            .find(|(k, _)| k == "database")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| "default".into())
    }

    /// `host:port` of the URL, for messages.
    pub fn host_port(&self) -> String {
        format!("{}:{}", self.host(), self.url.port_or_known_default().unwrap_or_default())
    }

    /// The host of the URL.
    pub fn host(&self) -> String {
        self.url.host_str().unwrap_or_default().to_string()
    }

    async fn post(&self, params: &[(&str, &str)], body: Vec<u8>, doing: &str) -> StoreResult<String> {
        let mut url = self.url.clone();
        url.query_pairs_mut()
            .append_pair("output_format_json_quote_64bit_integers", "0")
            .append_pair("insert_distributed_sync", "1")
            .append_pair("distributed_product_mode", "local")
            .extend_pairs(params.iter().copied());
        let resp = self.client.post(url).body(body).send().await.map_err(|e| map_transport(e, doing))?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| map_transport(e, doing))?;
        if !status.is_success() {
            return Err(map_exception(status.as_u16(), text, doing));
        }
        Ok(text)
    }

    /// Runs a statement that answers nothing (DDL).
    pub async fn execute(&self, sql: &str) -> StoreResult<()> {
        self.post(&[], sql.as_bytes().to_vec(), first_words(sql)).await.map(drop)
    }

    /// Runs a query and decodes its rows (`FORMAT JSONEachRow` is appended).
    pub async fn rows<T: DeserializeOwned>(&self, sql: &str) -> StoreResult<Vec<T>> {
        let doing = first_words(sql);
        let started = std::time::Instant::now();
        let text = self.post(&[], format!("{sql}\nFORMAT JSONEachRow").into_bytes(), doing).await?;
        // `AGENTSIGHT_LOG=info,agentsight_store_clickhouse=debug` shows every query with its time.
        tracing::debug!(ms = started.elapsed().as_millis() as u64, bytes = text.len(), %sql, "clickhouse query");
        text.lines()
            .filter(|l| !l.is_empty())
            .map(|l| {
                serde_json::from_str(l).map_err(|e| match code_of(l) {
                    // An exception after the answer began (status 200 already sent): a shard
                    // that went away mid-query, say.
                    Some(_) => map_exception(200, l.to_string(), doing),
                    None => StoreError::internal_from(format!("ClickHouse: {doing}: decoding a row"), e),
                })
            })
            .collect()
    }

    /// Inserts rows already encoded as JSON lines into `table`.
    pub async fn insert(&self, table: &str, rows: Vec<u8>) -> StoreResult<()> {
        let query = format!("INSERT INTO {table} FORMAT JSONEachRow");
        self.post(&[("query", &query)], rows, &query).await.map(drop)
    }

    /// `/ping`: answers when the server is up.
    pub async fn ping(&self) -> StoreResult<()> {
        let mut url = self.url.clone();
        url.set_path("/ping");
        url.set_query(None);
        let resp = self.client.get(url).send().await.map_err(|e| map_transport(e, "ping"))?;
        if resp.status().is_success() {
            Ok(())
        } else {
            let status = resp.status().as_u16();
            Err(map_exception(status, format!("ping answered {status}"), "ping"))
        }
    }
}

/// The statement's first words, for error contexts.
fn first_words(sql: &str) -> &str {
    let sql = sql.trim_start();
    let end = sql.char_indices().filter(|(_, c)| c.is_whitespace()).nth(2).map_or(sql.len(), |(i, _)| i);
    &sql[..end]
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn quoting_escapes_quotes_and_backslashes() {
        assert_eq!(quote(r"it's a \ test"), r"'it\'s a \\ test'");
        assert_eq!(quote("\0"), r"'\0'");
    }

    #[test]
    fn exceptions_map_by_code() {
        let busy = map_exception(500, "Code: 202, e.displayText() = DB::Exception: Too many".into(), "q");
        assert!(busy.is_unavailable());
        assert_eq!(busy.unavailable_dependency(), Some("clickhouse"));
        let shard_down = map_exception(
            500,
            "Code: 279, e.displayText() = DB::Exception: All connection tries failed".into(),
            "q",
        );
        assert_eq!(shard_down.unavailable_dependency(), Some("clickhouse"));
        let full = map_exception(500, "Code: 243, e.displayText() = DB::Exception: no space".into(), "q");
        assert!(matches!(full, StoreError::Storage { kind: StorageFailure::DiskFull, .. }));
        let bad = map_exception(400, "Code: 62, e.displayText() = DB::Exception: Syntax error".into(), "q");
        let StoreError::Internal { source: Some(src), .. } = bad else { panic!("{bad:?}") };
        let ch = src.downcast_ref::<ClickHouseError>().unwrap();
        assert_eq!((ch.code, ch.status), (Some(62), 400));
        assert!(ch.message.contains("Syntax error"));
    }

    /// A server that is not there (a port nobody listens on) is `Unavailable`, naming ClickHouse.
    #[tokio::test]
    async fn a_refused_connection_names_clickhouse() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let http = Http::new(&format!("http://127.0.0.1:{port}/"), Duration::from_secs(5)).unwrap();
        for e in [http.execute("SELECT 1").await.unwrap_err(), http.ping().await.unwrap_err()] {
            assert_eq!(e.unavailable_dependency(), Some("clickhouse"), "{}", agentsight_store::chain(&e));
        }
    }
}

//! The closed-loop workers: one keep-alive HTTP/1.1 connection each.
//!
//! Every worker opens a single TCP connection, hands it to hyper's low-level
//! HTTP/1 client, and then sends one request at a time on it, waiting for
//! the full response before sending the next. With `N` workers there are
//! therefore exactly `N` requests in flight, and the measured throughput is
//! what the server sustains at that concurrency. A worker only reconnects
//! when its connection breaks; the report counts connections opened so a
//! server that drops keep-alive shows up.
//!
//! Timing: all workers share one clock. Requests that *start* before the
//! end of the warmup are not recorded; requests still in flight when the
//! measurement window closes may finish within a short drain grace but are
//! not recorded either, so the histogram and counters cover exactly the
//! window.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, USER_AGENT};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout_at};

use crate::target::Target;

/// How long one request (or connect) may take before it counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request in flight at the end of the window may still finish.
const DRAIN_GRACE: Duration = Duration::from_secs(2);
/// Pause after a failed connect, so a dead server is not hammered in a hot loop.
const RECONNECT_BACKOFF: Duration = Duration::from_millis(50);
/// Open loop: a request that starts this much after it was due counts as late.
const LATE_AFTER: Duration = Duration::from_millis(10);
/// How many error responses are kept verbatim for the report.
const MAX_ERROR_SAMPLES: usize = 5;
/// How much of an error body is kept.
const MAX_ERROR_BODY: usize = 300;
/// Largest latency the histogram tracks, in microseconds (1 hour).
const MAX_LATENCY_US: u64 = 3_600_000_000;
/// Approximate length of each tracked message's `content`.
const CONTENT_LEN: usize = 80;
/// Filler text for message content.
const FILLER: &str = "the quick brown fox jumps over the lazy dog while the benchmark \
                      keeps the write path busy with durable inserts";

/// What a scenario sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `POST /api/track/` with an SDK-shaped JSON body; expects 201.
    Track,
    /// `GET /healthz`; expects 200.
    Healthz,
    /// `POST /api/ingest/` with a gzipped 0.1.4 span batch; expects 201.
    Ingest,
}

impl Kind {
    /// Short name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Track => "track",
            Kind::Healthz => "healthz",
            Kind::Ingest => "ingest",
        }
    }

    /// HTTP method of the request.
    pub fn method(self) -> Method {
        match self {
            Kind::Track | Kind::Ingest => Method::POST,
            Kind::Healthz => Method::GET,
        }
    }

    /// API path of the request, before any URL prefix.
    pub fn api_path(self) -> &'static str {
        match self {
            Kind::Track => "/api/track/",
            Kind::Healthz => "/healthz",
            Kind::Ingest => "/api/ingest/",
        }
    }

    /// The only status counted as success.
    pub fn expected_status(self) -> StatusCode {
        match self {
            Kind::Track | Kind::Ingest => StatusCode::CREATED,
            Kind::Healthz => StatusCode::OK,
        }
    }
}

/// Everything one scenario run needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Which requests to send.
    pub kind: Kind,
    /// Resolved loopback target.
    pub target: Target,
    /// Write key for `Authorization: Api-Key <key>` (track only).
    pub key: Option<String>,
    /// Number of workers, i.e. keep-alive connections and requests in flight.
    pub connections: usize,
    /// Time before measuring starts.
    pub warmup: Duration,
    /// Length of the measurement window.
    pub duration: Duration,
    /// Number of distinct conversation ids the track messages spread over.
    pub conversations: u64,
    /// Identifies this run in conversation ids, e.g. `lg-<run id>-17`.
    pub run_id: String,
    /// Ingest: the gzipped batches, built before the run and sent in turn (each once, unless
    /// the run outlasts them: then they repeat and the server counts them as duplicates,
    /// which the report leaves out of spans/s).
    pub batches: Arc<Vec<Bytes>>,
    /// Open loop: requests started per second over all workers (warmup included), each at its
    /// due time; `None` is the closed loop (each worker sends as soon as its last answer came).
    pub rate: Option<f64>,
}

/// Merged outcome of a scenario run.
#[derive(Debug)]
pub struct Outcome {
    /// Latency of successful requests inside the window, in microseconds.
    pub latency_us: Histogram<u64>,
    /// Successful requests inside the window.
    pub ok: u64,
    /// Failed requests inside the window, by kind (`status 500`, `timeout`, ...).
    pub errors: BTreeMap<String, u64>,
    /// The first few error responses, for diagnosis.
    pub error_samples: Vec<String>,
    /// TCP connections opened over the whole run, warmup included.
    pub connections_opened: u64,
    /// Ingest: spans the server stored (its `accepted` counts) inside the window.
    pub spans_accepted: u64,
    /// Ingest: distinct batches built for the run.
    pub batches: u64,
    /// Ingest: batches sent again (warmup included) because the run outlasted them.
    pub batches_resent: u64,
    /// Bytes of the request bodies answered with the expected status, warmup and drain
    /// included (as sent: a gzipped batch counts its gzip bytes).
    pub body_bytes: u64,
    /// Open loop: requests that started more than 10 ms after they were due inside the window
    /// (every connection was busy: the rate asked for was not reached).
    pub late: u64,
}

impl Outcome {
    /// Total failed requests inside the window.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// State shared by all workers of one run.
struct Shared {
    config: Config,
    path: String,
    /// Global message counter for track bodies (and the next batch for ingest).
    next_message: AtomicU64,
    /// Open loop: the next request slot (due at `start + slot / rate`).
    next_slot: AtomicU64,
    /// When the run started (slot 0 is due then).
    start: Instant,
    error_samples: Mutex<Vec<String>>,
    measure_start: Instant,
    end: Instant,
}

impl Shared {
    /// Keeps an error description if fewer than [`MAX_ERROR_SAMPLES`] are kept.
    fn sample_error(&self, text: String) {
        if let Ok(mut samples) = self.error_samples.lock()
            && samples.len() < MAX_ERROR_SAMPLES
        {
            samples.push(text);
        }
    }

    /// Builds the next request of this run.
    fn request(&self) -> Result<Request<Full<Bytes>>> {
        let cfg = &self.config;
        let builder = Request::builder()
            .method(cfg.kind.method())
            .uri(self.path.as_str())
            .header(HOST, cfg.target.authority.as_str())
            .header(USER_AGENT, concat!("agentsight-loadgen/", env!("CARGO_PKG_VERSION")));
        let request = match cfg.kind {
            Kind::Healthz => builder.body(Full::new(Bytes::new())),
            Kind::Ingest => {
                let n = self.next_message.fetch_add(1, Ordering::Relaxed) as usize;
                let body = cfg.batches.get(n % cfg.batches.len().max(1)).cloned().unwrap_or_default();
                let key = cfg.key.as_deref().unwrap_or_default();
                builder
                    .header(AUTHORIZATION, format!("Api-Key {key}"))
                    .header(CONTENT_TYPE, "application/json")
                    .header(hyper::header::CONTENT_ENCODING, "gzip")
                    .body(Full::new(body))
            }
            Kind::Track => {
                let n = self.next_message.fetch_add(1, Ordering::Relaxed);
                let body = track_body(&cfg.run_id, n, cfg.conversations, &now_iso())?;
                let key = cfg.key.as_deref().unwrap_or_default();
                builder
                    .header(AUTHORIZATION, format!("Api-Key {key}"))
                    .header(CONTENT_TYPE, "application/json")
                    .body(Full::new(Bytes::from(body)))
            }
        };
        request.context("building request")
    }
}

/// Current UTC time the way the Python SDK formats it (`isoformat()`, `+00:00`).
fn now_iso() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, false)
}

/// JSON body of the `n`-th tracked message, shaped like the SDK 0.0.44 payload.
///
/// Messages are spread round-robin over `conversations` conversation ids, and
/// within each conversation the sender alternates `end_user`, `agent`, ...
pub fn track_body(run_id: &str, n: u64, conversations: u64, timestamp: &str) -> Result<Vec<u8>> {
    let conversations = conversations.max(1);
    let conversation = n % conversations;
    let turn = n / conversations;
    let sender = if turn.is_multiple_of(2) { "end_user" } else { "agent" };
    let mut content = format!("load message {n}: {FILLER}");
    // All ASCII, and the prefix is at most 35 bytes, so this cuts only filler.
    content.truncate(CONTENT_LEN);
    let body = serde_json::json!({
        "timestamp": timestamp,
        "content": content,
        "sender": sender,
        "conversation_id": format!("lg-{run_id}-{conversation}"),
        "metadata": {},
        "conversation": null,
    });
    serde_json::to_vec(&body).context("serializing track body")
}

/// Opens one keep-alive HTTP/1.1 connection and spawns its driver task.
pub(crate) async fn connect(addr: SocketAddr) -> Result<(SendRequest<Full<Bytes>>, JoinHandle<()>)> {
    let stream = TcpStream::connect(addr).await.with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true).context("setting TCP_NODELAY")?;
    let (sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.context("HTTP/1.1 handshake")?;
    let driver = tokio::spawn(async move {
        // Errors surface on the sender side as failed requests.
        let _ = connection.await;
    });
    Ok((sender, driver))
}

/// Sends one request and reads the whole response body.
pub(crate) async fn exchange(
    sender: &mut SendRequest<Full<Bytes>>,
    request: Request<Full<Bytes>>,
) -> Result<(StatusCode, Bytes), hyper::Error> {
    sender.ready().await?;
    let response = sender.send_request(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

/// Per-worker counters, merged after the run.
struct WorkerStats {
    latency_us: Histogram<u64>,
    ok: u64,
    errors: BTreeMap<String, u64>,
    connections_opened: u64,
    spans_accepted: u64,
    body_bytes: u64,
    late: u64,
}

impl WorkerStats {
    fn new() -> Result<Self> {
        Ok(Self {
            latency_us: new_histogram()?,
            ok: 0,
            errors: BTreeMap::new(),
            connections_opened: 0,
            spans_accepted: 0,
            body_bytes: 0,
            late: 0,
        })
    }

    fn error(&mut self, kind: String) {
        *self.errors.entry(kind).or_default() += 1;
    }
}

/// A latency histogram in microseconds with 3 significant digits.
pub(crate) fn new_histogram() -> Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).context("creating latency histogram")
}

/// One live connection of a worker.
pub(crate) struct Conn {
    pub(crate) sender: SendRequest<Full<Bytes>>,
    pub(crate) driver: JoinHandle<()>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// The closed loop of one worker; returns when the window ends.
async fn worker(shared: Arc<Shared>) -> Result<WorkerStats> {
    let mut stats = WorkerStats::new()?;
    let mut conn: Option<Conn> = None;
    while Instant::now() < shared.end {
        let mut live = match conn.take() {
            Some(c) if !c.sender.is_closed() => c,
            _ => {
                let started = Instant::now();
                let deadline = (started + REQUEST_TIMEOUT).min(shared.end);
                let attempt = timeout_at(deadline, connect(shared.config.target.addr)).await;
                let counted = started >= shared.measure_start && Instant::now() < shared.end;
                match attempt {
                    Ok(Ok((sender, driver))) => {
                        stats.connections_opened += 1;
                        Conn { sender, driver }
                    }
                    Ok(Err(e)) => {
                        if counted {
                            stats.error("connect".to_owned());
                            shared.sample_error(format!("connect failed: {e:#}"));
                        }
                        let retry_at = (Instant::now() + RECONNECT_BACKOFF).min(shared.end);
                        tokio::time::sleep_until(retry_at).await;
                        continue;
                    }
                    Err(_) => {
                        if counted {
                            stats.error("connect timeout".to_owned());
                        }
                        continue;
                    }
                }
            }
        };

        // Open loop: wait for this request's slot; it is timed from when it was due, so a
        // request that had to wait for a free connection counts the wait.
        let due = match shared.config.rate {
            Some(rate) => {
                let slot = shared.next_slot.fetch_add(1, Ordering::Relaxed);
                let due = shared.start + Duration::from_secs_f64(slot as f64 / rate);
                if due >= shared.end {
                    break;
                }
                tokio::time::sleep_until(due).await;
                if due >= shared.measure_start && Instant::now() > due + LATE_AFTER {
                    stats.late += 1;
                }
                Some(due)
            }
            None => None,
        };
        let request = shared.request()?;
        let body_len = hyper::body::Body::size_hint(request.body()).exact().unwrap_or(0);
        let started = due.unwrap_or_else(Instant::now);
        // A request still in flight when the window closes may finish within
        // the drain grace (so the server is not left writing to a closed
        // socket) but is never recorded.
        let deadline = (started + REQUEST_TIMEOUT).min(shared.end + DRAIN_GRACE);
        let result = timeout_at(deadline, exchange(&mut live.sender, request)).await;
        let finished = Instant::now();
        let counted = started >= shared.measure_start && finished <= shared.end;
        match result {
            Ok(Ok((status, body))) => {
                if status == shared.config.kind.expected_status() {
                    stats.body_bytes += body_len;
                }
                if !counted {
                    // Warmup or drain: keep the connection, record nothing.
                } else if status == shared.config.kind.expected_status() {
                    stats.ok += 1;
                    if shared.config.kind == Kind::Ingest {
                        stats.spans_accepted += crate::spans::accepted(&body);
                    }
                    let us = u64::try_from(finished.duration_since(started).as_micros()).unwrap_or(u64::MAX);
                    stats.latency_us.saturating_record(us.max(1));
                } else {
                    stats.error(format!("status {}", status.as_u16()));
                    let text = String::from_utf8_lossy(&body);
                    let text: String = text.chars().take(MAX_ERROR_BODY).collect();
                    shared.sample_error(format!("status {}: {}", status.as_u16(), text.trim()));
                }
                conn = Some(live);
            }
            // The connection is unusable after a transport error or a
            // timeout; dropping `live` closes it and the loop reconnects.
            Ok(Err(e)) => {
                if counted {
                    stats.error("transport".to_owned());
                    shared.sample_error(format!("transport error: {e}"));
                }
            }
            Err(_) => {
                if counted {
                    stats.error("timeout".to_owned());
                    shared.sample_error(format!("no response within {}s", REQUEST_TIMEOUT.as_secs()));
                }
            }
        }
    }
    Ok(stats)
}

/// Runs one scenario to completion: warmup, then the measurement window.
///
/// Returns once every worker has stopped: right after `warmup + duration`,
/// or at most [`DRAIN_GRACE`] later while the last requests finish.
pub async fn run(config: Config) -> Result<Outcome> {
    let start = Instant::now();
    let measure_start = start + config.warmup;
    let end = measure_start + config.duration;
    let shared = Arc::new(Shared {
        path: config.target.path(config.kind.api_path()),
        next_message: AtomicU64::new(0),
        next_slot: AtomicU64::new(0),
        start,
        error_samples: Mutex::new(Vec::new()),
        measure_start,
        end,
        config,
    });

    let workers: Vec<JoinHandle<Result<WorkerStats>>> =
        (0..shared.config.connections).map(|_| tokio::spawn(worker(Arc::clone(&shared)))).collect();

    let mut outcome = Outcome {
        latency_us: new_histogram()?,
        ok: 0,
        errors: BTreeMap::new(),
        error_samples: Vec::new(),
        connections_opened: 0,
        spans_accepted: 0,
        batches: 0,
        batches_resent: 0,
        body_bytes: 0,
        late: 0,
    };
    for handle in workers {
        let stats = handle.await.context("worker task panicked")??;
        outcome.ok += stats.ok;
        outcome.spans_accepted += stats.spans_accepted;
        outcome.body_bytes += stats.body_bytes;
        outcome.late += stats.late;
        outcome.connections_opened += stats.connections_opened;
        outcome.latency_us.add(&stats.latency_us).context("merging latency histograms")?;
        for (kind, count) in stats.errors {
            *outcome.errors.entry(kind).or_default() += count;
        }
    }
    if let Ok(samples) = shared.error_samples.lock() {
        outcome.error_samples = samples.clone();
    }
    if shared.config.kind == Kind::Ingest {
        outcome.batches = shared.config.batches.len() as u64;
        outcome.batches_resent = shared.next_message.load(Ordering::Relaxed).saturating_sub(outcome.batches);
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &[u8]) -> serde_json::Value {
        serde_json::from_slice(body).expect("valid json")
    }

    #[test]
    fn track_body_matches_sdk_shape() {
        let ts = "2026-01-02T03:04:05.123456+00:00";
        let v = parse(&track_body("abc", 0, 10, ts).expect("body"));
        assert_eq!(v["timestamp"], ts);
        assert_eq!(v["sender"], "end_user");
        assert_eq!(v["conversation_id"], "lg-abc-0");
        assert_eq!(v["metadata"], serde_json::json!({}));
        assert!(v["conversation"].is_null());
        let content = v["content"].as_str().expect("content");
        assert!(content.starts_with("load message 0: "));
        assert_eq!(content.len(), CONTENT_LEN);
        let keys: Vec<&str> = v.as_object().expect("object").keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 6);
    }

    #[test]
    fn senders_alternate_within_a_conversation() {
        let ts = "2026-01-02T03:04:05+00:00";
        let senders: Vec<String> = [3u64, 13, 23, 33]
            .iter()
            .map(|&n| {
                let v = parse(&track_body("r", n, 10, ts).expect("body"));
                assert_eq!(v["conversation_id"], "lg-r-3");
                v["sender"].as_str().expect("sender").to_owned()
            })
            .collect();
        assert_eq!(senders, ["end_user", "agent", "end_user", "agent"]);
    }

    #[test]
    fn timestamp_is_utc_with_offset() {
        let ts = now_iso();
        assert!(ts.ends_with("+00:00"), "{ts}");
        assert!(chrono::DateTime::parse_from_rfc3339(&ts).is_ok());
    }
}

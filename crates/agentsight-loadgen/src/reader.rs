//! A concurrent reader: while a write scenario runs, one keep-alive connection
//! sends `GET` requests for each of a list of paths, one after the other, every
//! `--read-every`, and records their latency (what a dashboard polling the
//! server sees while ingest runs). Only requests started inside the measurement
//! window are recorded. Each read is timed from its start (the server's answer
//! time); a round that comes due while the one before it is still reading is
//! skipped and counted (`rounds_skipped`), so one slow answer is not charged
//! again to every read queued behind it on the one connection.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::Full;
use hyper::header::{AUTHORIZATION, HOST, USER_AGENT};
use hyper::{Method, Request, StatusCode};
use serde::Serialize;
use tokio::time::{Instant, timeout_at};

use crate::load::{exchange, new_histogram};
use crate::report::LatencyMs;
use crate::target::Target;

/// How long one read may take before it counts as an error.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// What the reader does.
#[derive(Debug, Clone)]
pub struct ReaderConfig {
    /// Resolved loopback target.
    pub target: Target,
    /// Key sent as `Authorization: Api-Key <key>` (a read or write key of the agent).
    pub key: String,
    /// API paths to read (with their query), each once per round, in order.
    pub paths: Vec<String>,
    /// Time between the starts of two rounds.
    pub every: Duration,
    /// Start of the measurement window.
    pub measure_start: Instant,
    /// End of the measurement window.
    pub end: Instant,
}

/// The reads of one path.
#[derive(Debug, Clone, Serialize)]
pub struct PathReport {
    /// Reads answered 200 inside the window.
    pub ok: u64,
    /// Reads that failed (other status, transport error, timeout).
    pub errors: u64,
    /// Latency of the successful reads.
    pub latency_ms: Option<LatencyMs>,
}

/// Everything the reader measured, by path.
#[derive(Debug, Clone, Serialize)]
pub struct ReaderReport {
    /// Time between rounds, in milliseconds.
    pub every_ms: f64,
    /// Rounds that came due while the one before was still reading, and were skipped.
    pub rounds_skipped: u64,
    /// By path as requested.
    pub paths: BTreeMap<String, PathReport>,
}

struct PathStats {
    latency_us: Histogram<u64>,
    ok: u64,
    errors: u64,
}

/// Runs the reader until the window ends.
pub async fn run(cfg: ReaderConfig) -> Result<ReaderReport> {
    let mut stats: Vec<PathStats> = Vec::with_capacity(cfg.paths.len());
    for _ in &cfg.paths {
        stats.push(PathStats { latency_us: new_histogram()?, ok: 0, errors: 0 });
    }
    let mut conn: Option<crate::load::Conn> = None;
    let mut round = cfg.measure_start;
    let mut rounds_skipped = 0u64;
    while round < cfg.end {
        tokio::time::sleep_until(round).await;
        for (path, st) in cfg.paths.iter().zip(stats.iter_mut()) {
            if Instant::now() >= cfg.end {
                break;
            }
            let mut live = match conn.take() {
                Some(c) if !c.sender.is_closed() => c,
                _ => match crate::load::connect(cfg.target.addr).await {
                    Ok((sender, driver)) => crate::load::Conn { sender, driver },
                    Err(_) => {
                        st.errors += 1;
                        continue;
                    }
                },
            };
            let request = Request::builder()
                .method(Method::GET)
                .uri(cfg.target.path(path))
                .header(HOST, cfg.target.authority.as_str())
                .header(USER_AGENT, concat!("agentsight-loadgen/", env!("CARGO_PKG_VERSION")))
                .header(AUTHORIZATION, format!("Api-Key {}", cfg.key))
                .body(Full::new(Bytes::new()))?;
            let started = Instant::now();
            let result = timeout_at(started + READ_TIMEOUT, exchange(&mut live.sender, request)).await;
            let finished = Instant::now();
            match result {
                Ok(Ok((StatusCode::OK, _))) => {
                    st.ok += 1;
                    let us = u64::try_from(finished.duration_since(started).as_micros()).unwrap_or(u64::MAX);
                    st.latency_us.saturating_record(us.max(1));
                    conn = Some(live);
                }
                Ok(Ok(_)) => {
                    st.errors += 1;
                    conn = Some(live);
                }
                _ => st.errors += 1,
            }
        }
        round += cfg.every;
        let now = Instant::now();
        while round < now && round < cfg.end {
            round += cfg.every;
            rounds_skipped += 1;
        }
    }
    let ms = |us: u64| us as f64 / 1000.0;
    let paths = cfg
        .paths
        .iter()
        .zip(stats)
        .map(|(p, s)| {
            let h = &s.latency_us;
            let latency_ms = (s.ok > 0).then(|| LatencyMs {
                p50: ms(h.value_at_quantile(0.50)),
                p90: ms(h.value_at_quantile(0.90)),
                p99: ms(h.value_at_quantile(0.99)),
                max: ms(h.max()),
                mean: h.mean() / 1000.0,
            });
            (p.clone(), PathReport { ok: s.ok, errors: s.errors, latency_ms })
        })
        .collect();
    Ok(ReaderReport { every_ms: cfg.every.as_secs_f64() * 1000.0, rounds_skipped, paths })
}

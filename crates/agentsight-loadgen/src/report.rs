//! Turning run outcomes into the human-readable and JSON reports.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::load::{Kind, Outcome};

/// Error rate above which the run fails (exit code 1).
pub const MAX_ERROR_RATE: f64 = 0.01;

/// Latency percentiles of successful requests, in milliseconds.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct LatencyMs {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest recorded request.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
}

/// Results of one scenario.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioReport {
    /// `track` or `healthz`.
    pub name: &'static str,
    /// HTTP method sent.
    pub method: String,
    /// Request path sent.
    pub path: String,
    /// Status counted as success.
    pub expected_status: u16,
    /// Requests completed inside the measurement window (ok + errors).
    pub requests: u64,
    /// Requests answered with the expected status.
    pub ok: u64,
    /// Requests that failed (other status, transport error, timeout).
    pub errors: u64,
    /// `errors / requests`, 0 when nothing completed.
    pub error_rate: f64,
    /// Successful requests per second of measurement window.
    pub req_per_sec: f64,
    /// Latency of successful requests; absent when none succeeded.
    pub latency_ms: Option<LatencyMs>,
    /// Failures by kind, e.g. `{"status 401": 3}`.
    pub errors_by_kind: BTreeMap<String, u64>,
    /// The first few failures verbatim (status and body, or error text).
    pub error_samples: Vec<String>,
    /// TCP connections opened, warmup included; equals `connections` when
    /// keep-alive held for the whole run.
    pub connections_opened: u64,
    /// Ingest: spans the server stored inside the window, and per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spans_accepted: Option<u64>,
    /// Ingest: stored spans per second of measurement window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spans_per_sec: Option<f64>,
    /// Ingest: distinct batches built before the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batches: Option<u64>,
    /// Ingest: batches sent again because the run outlasted them (the server stores nothing
    /// of a resend, so a run with resends understates spans/s and fails).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batches_resent: Option<u64>,
    /// Open loop: the requests per second asked for (`--rate`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Open loop: requests in the window that started more than 10 ms after they were due.
    pub late: u64,
    /// The concurrent reader's latencies (`--read-every`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reader: Option<crate::reader::ReaderReport>,
    /// The bytes the server wrote (`--server-pid`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub io: Option<crate::procio::IoReport>,
}

impl ScenarioReport {
    /// Summarises an outcome measured over `window`.
    pub fn new(kind: Kind, path: String, outcome: &Outcome, window: Duration) -> Self {
        let errors = outcome.error_count();
        let requests = outcome.ok + errors;
        let h = &outcome.latency_us;
        let ms = |us: u64| us as f64 / 1000.0;
        let latency_ms = (outcome.ok > 0).then(|| LatencyMs {
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            max: ms(h.max()),
            mean: h.mean() / 1000.0,
        });
        let secs = window.as_secs_f64();
        Self {
            name: kind.name(),
            method: kind.method().to_string(),
            path,
            expected_status: kind.expected_status().as_u16(),
            requests,
            ok: outcome.ok,
            errors,
            error_rate: if requests == 0 { 0.0 } else { errors as f64 / requests as f64 },
            req_per_sec: if secs > 0.0 { outcome.ok as f64 / secs } else { 0.0 },
            latency_ms,
            errors_by_kind: outcome.errors.clone(),
            error_samples: outcome.error_samples.clone(),
            connections_opened: outcome.connections_opened,
            spans_accepted: (kind == Kind::Ingest).then_some(outcome.spans_accepted),
            spans_per_sec: (kind == Kind::Ingest && secs > 0.0).then(|| outcome.spans_accepted as f64 / secs),
            batches: (kind == Kind::Ingest).then_some(outcome.batches),
            batches_resent: (kind == Kind::Ingest).then_some(outcome.batches_resent),
            rate: None,
            late: outcome.late,
            reader: None,
            io: None,
        }
    }

    /// Why this scenario fails the run, if it does.
    pub fn failure(&self) -> Option<String> {
        let read_errors: u64 = self.reader.iter().flat_map(|r| r.paths.values()).map(|p| p.errors).sum();
        if self.ok == 0 {
            Some(format!("{}: no successful request in the measurement window", self.name))
        } else if let (Some(built), Some(resent @ 1..)) = (self.batches, self.batches_resent) {
            Some(format!(
                "{}: the run outlasted its {built} distinct batches ({resent} sent again, which the \
                 server stores nothing of, so spans/s understates the server): rerun with more --batches",
                self.name
            ))
        } else if self.error_rate > MAX_ERROR_RATE {
            Some(format!(
                "{}: error rate {:.2}% exceeds {:.0}%",
                self.name,
                self.error_rate * 100.0,
                MAX_ERROR_RATE * 100.0
            ))
        } else if read_errors > 0 {
            Some(format!("{}: {read_errors} concurrent reads failed", self.name))
        } else {
            None
        }
    }
}

/// The whole run, as printed by `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Always `agentsight-loadgen`.
    pub tool: &'static str,
    /// Version of this binary.
    pub version: &'static str,
    /// Target URL as given.
    pub url: String,
    /// Resolved socket address connected to.
    pub addr: String,
    /// Identifier used in conversation ids (`lg-<run_id>-<i>`).
    pub run_id: String,
    /// Keep-alive connections (= concurrent requests) per scenario.
    pub connections: usize,
    /// Warmup per scenario, seconds (excluded from stats).
    pub warmup_s: f64,
    /// Measurement window per scenario, seconds.
    pub duration_s: f64,
    /// Distinct conversation ids the track scenario writes to.
    pub conversations: u64,
    /// `track` results, if that scenario ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub track: Option<ScenarioReport>,
    /// `healthz` results, if that scenario ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthz: Option<ScenarioReport>,
    /// `ingest` results, if that scenario ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingest: Option<ScenarioReport>,
    /// track req/s divided by healthz req/s, when both ran.
    pub ratio_track_over_healthz: Option<f64>,
    /// Reasons the run failed; empty when it passed.
    pub failures: Vec<String>,
    /// Whether every scenario stayed within the error budget.
    pub passed: bool,
}

impl Report {
    /// Fills in the derived fields (`ratio`, `failures`, `passed`).
    pub fn finish(mut self) -> Self {
        self.ratio_track_over_healthz = match (&self.track, &self.healthz) {
            (Some(t), Some(h)) if h.req_per_sec > 0.0 => Some(t.req_per_sec / h.req_per_sec),
            _ => None,
        };
        self.failures = [&self.track, &self.healthz, &self.ingest]
            .into_iter()
            .flatten()
            .filter_map(ScenarioReport::failure)
            .collect();
        self.passed = self.failures.is_empty();
        self
    }

    /// The human-readable report.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "target {} ({}), {} connections, {:.1}s warmup + {:.1}s measured per scenario",
            self.url, self.addr, self.connections, self.warmup_s, self.duration_s
        );
        for s in [&self.track, &self.healthz, &self.ingest].into_iter().flatten() {
            let _ = writeln!(out);
            let _ =
                writeln!(out, "scenario {}: {} {} (expect {})", s.name, s.method, s.path, s.expected_status);
            let _ = writeln!(out, "  requests     {}", s.requests);
            let _ = writeln!(out, "  errors       {} ({:.2}%)", s.errors, s.error_rate * 100.0);
            for (kind, count) in &s.errors_by_kind {
                let _ = writeln!(out, "    {kind}: {count}");
            }
            let _ = writeln!(out, "  req/s        {:.1}", s.req_per_sec);
            if let (Some(n), Some(r)) = (s.spans_accepted, s.spans_per_sec) {
                let _ = writeln!(out, "  spans stored {n}");
                let _ = writeln!(out, "  spans/s      {r:.0}");
            }
            if let (Some(built), Some(resent)) = (s.batches, s.batches_resent) {
                let _ = writeln!(out, "  batches      {built} built, {resent} sent again");
            }
            match s.latency_ms {
                Some(l) => {
                    let _ = writeln!(
                        out,
                        "  latency ms   p50 {:.3}  p90 {:.3}  p99 {:.3}  max {:.3}  (mean {:.3})",
                        l.p50, l.p90, l.p99, l.max, l.mean
                    );
                }
                None => {
                    let _ = writeln!(out, "  latency ms   n/a (no successful request)");
                }
            }
            let _ = writeln!(out, "  connections  {} opened", s.connections_opened);
            if let Some(rate) = s.rate {
                let _ = writeln!(out, "  open loop    {rate:.1} req/s asked, {} started >10 ms late", s.late);
            }
            if let Some(r) = &s.reader {
                let _ = writeln!(
                    out,
                    "  reader       every {:.0} ms ({} rounds skipped: the one before was still reading)",
                    r.every_ms, r.rounds_skipped
                );
                for (path, p) in &r.paths {
                    match p.latency_ms {
                        Some(l) => {
                            let _ = writeln!(
                                out,
                                "    {path}: {} ok, {} errors, ms p50 {:.1}  p99 {:.1}  max {:.1}",
                                p.ok, p.errors, l.p50, l.p99, l.max
                            );
                        }
                        None => {
                            let _ = writeln!(out, "    {path}: {} ok, {} errors", p.ok, p.errors);
                        }
                    }
                }
            }
            if let Some(io) = &s.io {
                let per = |x: Option<f64>| x.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.2}"));
                let _ = writeln!(
                    out,
                    "  server io    {} bytes written ({} cancelled) for {} body bytes: {} per body byte ({} net)",
                    io.write_bytes,
                    io.cancelled_write_bytes,
                    io.body_bytes,
                    per(io.written_per_body_byte),
                    per(io.net_written_per_body_byte)
                );
                for (name, bytes) in &io.by_thread {
                    let _ = writeln!(out, "    {name}: {bytes} bytes");
                }
            }
        }
        if let Some(ratio) = self.ratio_track_over_healthz {
            let _ = writeln!(out);
            let _ = writeln!(out, "ratio track/healthz: {ratio:.3}");
        }
        for failure in &self.failures {
            let _ = writeln!(out, "FAILED {failure}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::Histogram;

    fn outcome(ok: u64, errors: u64) -> Outcome {
        let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("histogram");
        for i in 0..ok {
            h.saturating_record(1000 + i);
        }
        let mut by_kind = BTreeMap::new();
        if errors > 0 {
            by_kind.insert("status 500".to_owned(), errors);
        }
        Outcome {
            latency_us: h,
            ok,
            errors: by_kind,
            error_samples: Vec::new(),
            connections_opened: 4,
            spans_accepted: 0,
            batches: 0,
            batches_resent: 0,
            body_bytes: 0,
            late: 0,
        }
    }

    fn report(track: Option<ScenarioReport>, healthz: Option<ScenarioReport>) -> Report {
        Report {
            tool: "agentsight-loadgen",
            version: "0",
            url: "http://127.0.0.1:1".into(),
            addr: "127.0.0.1:1".into(),
            run_id: "r".into(),
            connections: 4,
            warmup_s: 0.0,
            duration_s: 2.0,
            conversations: 10,
            track,
            healthz,
            ingest: None,
            ratio_track_over_healthz: None,
            failures: Vec::new(),
            passed: false,
        }
        .finish()
    }

    #[test]
    fn computes_rates_and_ratio() {
        let w = Duration::from_secs(2);
        let t = ScenarioReport::new(Kind::Track, "/api/track/".into(), &outcome(1000, 0), w);
        let h = ScenarioReport::new(Kind::Healthz, "/healthz".into(), &outcome(4000, 0), w);
        assert_eq!(t.req_per_sec, 500.0);
        assert_eq!(h.req_per_sec, 2000.0);
        let lat = t.latency_ms.expect("latency");
        assert!(lat.p50 >= 1.0 && lat.p50 <= lat.p99 && lat.p99 <= lat.max);
        let r = report(Some(t), Some(h));
        assert_eq!(r.ratio_track_over_healthz, Some(0.25));
        assert!(r.passed);
        let json = serde_json::to_value(&r).expect("json");
        assert_eq!(json["track"]["expected_status"], 201);
        assert_eq!(json["healthz"]["method"], "GET");
        assert!(r.to_text().contains("ratio track/healthz: 0.250"));
    }

    #[test]
    fn error_budget_is_one_percent() {
        let w = Duration::from_secs(1);
        let within = ScenarioReport::new(Kind::Track, "/".into(), &outcome(990, 10), w);
        assert_eq!(within.failure(), None);
        let over = ScenarioReport::new(Kind::Track, "/".into(), &outcome(989, 11), w);
        assert!(over.failure().is_some());
        let none = ScenarioReport::new(Kind::Healthz, "/".into(), &outcome(0, 0), w);
        assert!(none.failure().is_some());
        assert!(none.latency_ms.is_none());
        let r = report(Some(over), None);
        assert!(!r.passed);
        assert_eq!(r.ratio_track_over_healthz, None);
        assert!(r.to_text().contains("FAILED track"));
    }

    #[test]
    fn an_ingest_run_that_resends_batches_fails() {
        let w = Duration::from_secs(1);
        let mut o = outcome(100, 0);
        o.batches = 100;
        let covered = ScenarioReport::new(Kind::Ingest, "/api/ingest/".into(), &o, w);
        assert_eq!(covered.failure(), None);
        o.batches_resent = 3;
        let outlasted = ScenarioReport::new(Kind::Ingest, "/api/ingest/".into(), &o, w);
        let why = outlasted.failure().expect("a run with resends fails");
        assert!(why.contains("100 distinct batches") && why.contains("3 sent again"), "{why}");
        let r = report(None, None);
        assert!(r.passed);
        let text = Report { ingest: Some(outlasted), ..r }.finish().to_text();
        assert!(text.contains("batches      100 built, 3 sent again"), "{text}");
        assert!(text.contains("FAILED ingest"), "{text}");
    }
}

//! `GET /metrics`: the server's own metrics in the Prometheus text format (0.0.4), off unless
//! `serve --prometheus-token` is set, and then answered only to `Authorization: Bearer TOKEN`.
//!
//! Two kinds of figures (docs/operations.md lists them all):
//! - counted as requests are answered, by [`observe`], the middleware every request passes
//!   through: requests by method, route template (axum's `MatchedPath`, never the raw path) and
//!   status, their latency, and the ingest requests accepted or rejected per plane with the
//!   rejection's reason ([`crate::error::Rejection`], one per row of the error table). Atomic
//!   counters of `prometheus-client`; a request costs a read lock and a hash lookup per family.
//!   The middleware is left out of the router when no token is set: off, it costs nothing.
//! - read at each scrape: the event store's queues and projection backlog
//!   ([`agentsight_store::StatsReader`]), its metrics engine (the same
//!   [`agentsight_store::EngineStatus`] as `GET /api/metrics/status/`), readiness (the same
//!   verdict as `/readyz`), geolocation, and the process's memory and file descriptors
//!   (`/proc/self`).

use std::time::Instant;

use agentsight_store::prelude::*;
use agentsight_store::{EngineStatus, StoreStats, stats::GROUP_SIZE_BOUNDS};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::app::{AppState, Store};
use crate::error::{ApiError, Rejection};

/// The label of every path no route matches (the dashboard's files, unknown paths): one series
/// for all of them, whatever the path.
pub const OTHER_ROUTE: &str = "other";

/// Upper bounds of the request latency buckets, in seconds.
pub const LATENCY_BUCKETS: [f64; 15] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PlaneLabels {
    plane: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RejectedLabels {
    plane: &'static str,
    reason: &'static str,
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// The counters kept as requests are answered (one per app, no global registry).
#[derive(Debug)]
pub struct Telemetry {
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    accepted: Family<PlaneLabels, Counter>,
    rejected: Family<RejectedLabels, Counter>,
}

impl Default for Telemetry {
    fn default() -> Self {
        Telemetry {
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            accepted: Family::default(),
            rejected: Family::default(),
        }
    }
}

/// The ingest plane a request belongs to, if it is an ingest request: `tracking` (the 0.0.x
/// SDK's writes), `spans` (0.1.x span batches) or `otlp` (OpenTelemetry traces).
pub fn plane(method: &Method, route: &str) -> Option<&'static str> {
    if method != Method::POST {
        return None;
    }
    match route {
        "/api/conversations/"
        | "/api/track/"
        | "/api/action_logs/"
        | "/api/buttons/"
        | "/api/conversation-feedbacks/"
        | "/api/attachments/" => Some("tracking"),
        "/api/ingest/" => Some("spans"),
        "/v1/traces" => Some("otlp"),
        _ => None,
    }
}

/// The method as a label: the standard ones by name, any other as `other` (a client may send any
/// token as a method).
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The reason of a refused request whose response came from elsewhere than the error table
/// (none is known; kept so that every 4xx and 5xx has exactly one reason), by its status.
fn reason_of_status(s: StatusCode) -> &'static str {
    match s.as_u16() {
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        413 => "too_large",
        429 => "rate_limited",
        503 => "unavailable",
        500..=599 => "internal",
        _ => "invalid",
    }
}

impl Telemetry {
    /// Counts one answered request: `route` is the matched template (`None`: no route matched).
    fn record(&self, method: &Method, route: Option<&str>, res: &Response, seconds: f64) {
        let m = method_label(method);
        let route_label = route.unwrap_or(OTHER_ROUTE);
        let status = res.status();
        self.requests
            .get_or_create(&RequestLabels {
                method: m,
                route: route_label.to_string(),
                status: status.as_u16(),
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels { method: m, route: route_label.to_string() })
            .observe(seconds);
        if let Some(plane) = route.and_then(|r| plane(method, r)) {
            if status.is_success() {
                self.accepted.get_or_create(&PlaneLabels { plane }).inc();
            } else {
                let reason =
                    res.extensions().get::<Rejection>().map_or_else(|| reason_of_status(status), |r| r.0);
                self.rejected.get_or_create(&RejectedLabels { plane, reason }).inc();
            }
        }
    }

    /// The text of a scrape: these counters and `now`.
    fn encode(&self, now: Snapshot) -> Result<String, std::fmt::Error> {
        let mut r = Registry::default();
        r.register(
            "agentsight_http_requests",
            "HTTP requests answered, by method, route template and status",
            self.requests.clone(),
        );
        r.register(
            "agentsight_http_request_duration_seconds",
            "Time from a request's arrival to its response head, by method and route template",
            self.latency.clone(),
        );
        r.register(
            "agentsight_events_accepted",
            "Ingest requests stored, by plane (tracking: 0.0.x writes; spans: 0.1.x batches; otlp)",
            self.accepted.clone(),
        );
        r.register(
            "agentsight_events_rejected",
            "Ingest requests refused, by plane and reason (docs/operations.md)",
            self.rejected.clone(),
        );
        r.register_collector(Box::new(now));
        let mut out = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut out, &r)?;
        Ok(out)
    }
}

/// The middleware counting every request (outside the router's own layers, inside the proxy's),
/// present only when a token is set (`app::router`).
pub async fn observe<S: Store>(State(st): State<AppState<S>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    // A clone of the template's `Arc`, not a copy of the text.
    let route = req.extensions().get::<MatchedPath>().cloned();
    let res = next.run(req).await;
    st.telemetry.record(
        &method,
        route.as_ref().map(MatchedPath::as_str),
        &res,
        start.elapsed().as_secs_f64(),
    );
    res
}

/// What a scrape reads at its moment.
#[derive(Debug)]
struct Snapshot {
    stats: StoreStats,
    engine: EngineStatus,
    ready: bool,
    geolocation: bool,
    databases: Vec<(String, u64)>,
    process: Process,
}

/// The process's figures from `/proc/self` (Linux; elsewhere none).
#[derive(Debug, Default)]
struct Process {
    resident_bytes: Option<u64>,
    virtual_bytes: Option<u64>,
    open_fds: Option<u64>,
    max_fds: Option<u64>,
}

impl Process {
    fn read() -> Process {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let kib = |key: &str| {
            status.lines().find_map(|l| l.strip_prefix(key)).and_then(|rest| {
                rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok().map(|k| k * 1024)
            })
        };
        let open_fds = std::fs::read_dir("/proc/self/fd").ok().map(|d| d.count() as u64);
        let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
        let max_fds = limits
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .and_then(|l| l.split_whitespace().nth(3))
            .and_then(|soft| soft.parse::<u64>().ok());
        Process { resident_bytes: kib("VmRSS:"), virtual_bytes: kib("VmSize:"), open_fds, max_fds }
    }
}

/// Label pairs of one sample.
type Labels<'a> = Vec<(&'a str, &'a str)>;

/// One gauge of the scrape: its descriptor, then each of its samples (none: left out).
fn gauge(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    samples: Vec<(Labels<'_>, f64)>,
) -> Result<(), std::fmt::Error> {
    if samples.is_empty() {
        return Ok(());
    }
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, v) in samples {
        ConstGauge::new(v).encode(m.encode_family(&labels)?)?;
    }
    Ok(())
}

/// A gauge of one unlabelled sample.
fn one(v: f64) -> Vec<(Labels<'static>, f64)> {
    vec![(vec![], v)]
}

fn flag(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

impl Collector for Snapshot {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = &self.stats;
        let per_queue = |f: fn(&agentsight_store::QueueStats) -> f64| -> Vec<(Labels<'_>, f64)> {
            s.queues.iter().map(|q| (vec![("queue", q.name.as_str())], f(q))).collect()
        };
        gauge(
            &mut enc,
            "agentsight_store_queue_depth",
            "Writes waiting in the store's queue",
            per_queue(|q| q.depth as f64),
        )?;
        gauge(
            &mut enc,
            "agentsight_store_queue_capacity",
            "Writes the queue holds at most; beyond, writes are answered 503 unavailable",
            per_queue(|q| q.capacity as f64),
        )?;
        if !s.queues.is_empty() {
            let mut m = enc.encode_descriptor(
                "agentsight_store_group_size",
                "Writes per group the store's writer committed together (a transaction, an INSERT)",
                None,
                MetricType::Histogram,
            )?;
            for q in &s.queues {
                let mut buckets: Vec<(f64, u64)> = GROUP_SIZE_BOUNDS
                    .iter()
                    .zip(&q.groups.buckets)
                    .map(|(bound, n)| (*bound as f64, *n))
                    .collect();
                let larger = q.groups.buckets.get(GROUP_SIZE_BOUNDS.len()).copied().unwrap_or(0);
                buckets.push((f64::INFINITY, larger));
                let labels = [("queue", q.name.as_str())];
                m.encode_family(&labels)?.encode_histogram::<NoLabelSet>(
                    q.groups.sum as f64,
                    q.groups.count,
                    &buckets,
                    None,
                )?;
            }
            let mut m = enc.encode_descriptor(
                "agentsight_store_groups_failed",
                "Groups that failed (rolled back, or an insert refused); every write in them was refused",
                None,
                MetricType::Counter,
            )?;
            for q in &s.queues {
                ConstCounter::new(q.failed_groups).encode(m.encode_family(&[("queue", q.name.as_str())])?)?;
            }
        }
        if let Some(b) = s.projection_backlog {
            gauge(
                &mut enc,
                "agentsight_projection_backlog_batches",
                "Span batches acknowledged (archived) and not yet projected",
                one(b.batches as f64),
            )?;
            gauge(
                &mut enc,
                "agentsight_projection_backlog_bytes",
                "Bytes of the span batches acknowledged and not yet projected (in KiB steps)",
                one(b.bytes as f64),
            )?;
            gauge(
                &mut enc,
                "agentsight_projection_backlog_limit_bytes",
                "Backlog at which span ingest waits for the projection to catch up",
                one(b.limit_bytes as f64),
            )?;
        }
        let e = &self.engine;
        gauge(
            &mut enc,
            "agentsight_metrics_engine_info",
            "The engine answering the metrics API and its phase (loading, ready, failed, off)",
            vec![(vec![("engine", e.engine.as_str()), ("phase", e.phase.as_str())], 1.0)],
        )?;
        gauge(
            &mut enc,
            "agentsight_metrics_engine_ready",
            "1 when the metrics engine is ready (the index loaded, or the database answering)",
            one(flag(e.phase == "ready")),
        )?;
        gauge(
            &mut enc,
            "agentsight_metrics_engine_fault",
            "1 while the metrics engine has met a lasting failure (see /readyz for what)",
            one(flag(e.fault.is_some())),
        )?;
        gauge(
            &mut enc,
            "agentsight_metrics_engine_bytes",
            "Approximate memory the metrics engine holds (the in-memory index; 0 for ClickHouse)",
            one(e.approx_bytes as f64),
        )?;
        gauge(
            &mut enc,
            "agentsight_metrics_engine_detail",
            "The engine's own figures, as GET /api/metrics/status/ gives them",
            e.details.iter().map(|(k, v)| (vec![("name", k.as_str())], *v as f64)).collect(),
        )?;
        gauge(&mut enc, "agentsight_ready", "1 when GET /readyz answers 200", one(flag(self.ready)))?;
        gauge(
            &mut enc,
            "agentsight_geolocation_enabled",
            "1 when the geolocation databases are loaded",
            one(flag(self.geolocation)),
        )?;
        gauge(
            &mut enc,
            "agentsight_geolocation_build_timestamp_seconds",
            "When each geolocation database file was built (Unix time)",
            self.databases.iter().map(|(f, t)| (vec![("file", f.as_str())], *t as f64)).collect(),
        )?;
        let p = &self.process;
        for (name, help, v) in [
            ("process_resident_memory_bytes", "Resident memory size in bytes", p.resident_bytes),
            ("process_virtual_memory_bytes", "Virtual memory size in bytes", p.virtual_bytes),
            ("process_open_fds", "Open file descriptors", p.open_fds),
            ("process_max_fds", "The soft limit of open file descriptors", p.max_fds),
        ] {
            if let Some(v) = v {
                gauge(&mut enc, name, help, one(v as f64))?;
            }
        }
        gauge(
            &mut enc,
            "agentsight_build_info",
            "The running version",
            vec![(vec![("version", env!("CARGO_PKG_VERSION"))], 1.0)],
        )?;
        Ok(())
    }
}

/// `GET /metrics`: 404 unless a token is configured; 401 without `Authorization: Bearer TOKEN`;
/// else 200 with the text format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "meta",
    security(("prometheus" = [])),
    responses(
        (status = 200, description = "The Prometheus text format (docs/operations.md).", body = String, content_type = "text/plain; version=0.0.4; charset=utf-8"),
        (status = 401, description = "No or a wrong bearer token."),
        (status = 404, description = "Off: the server runs without `--prometheus-token`."),
    ),
)]
pub(crate) async fn scrape<S: Store>(State(st): State<AppState<S>>, headers: HeaderMap) -> Response {
    let Some(token) = &st.settings.prometheus_token else {
        return ApiError::NotFound.into_response();
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if !given.is_some_and(|g| token.matches(g)) {
        let mut r = ApiError::Unauthenticated("Send the Prometheus token as Authorization: Bearer TOKEN.")
            .into_response();
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return r;
    }
    let engine = st.events.engine_status().await;
    let (ready, _) = crate::ready::readiness(
        &st.write_health,
        &engine.phase,
        engine.fault.as_deref(),
        st.enrich.locate.is_some(),
    );
    let now = Snapshot {
        stats: st.events.store_stats(),
        engine,
        ready,
        geolocation: st.enrich.locate.is_some(),
        databases: st.enrich.databases.clone(),
        process: Process::read(),
    };
    match st.telemetry.encode(now) {
        Ok(text) => {
            ([(header::CONTENT_TYPE, prometheus_client::encoding::prometheus_text::CONTENT_TYPE)], text)
                .into_response()
        }
        Err(_) => ApiError::internal("encoding the metrics").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ingest_posts_have_a_plane() {
        assert_eq!(plane(&Method::POST, "/api/track/"), Some("tracking"));
        assert_eq!(plane(&Method::POST, "/api/ingest/"), Some("spans"));
        assert_eq!(plane(&Method::POST, "/v1/traces"), Some("otlp"));
        assert_eq!(plane(&Method::GET, "/api/conversations/"), None);
        assert_eq!(plane(&Method::POST, "/api/feedbacks/"), None);
    }

    #[test]
    fn every_refused_status_has_one_reason() {
        for s in 400..600u16 {
            let r = reason_of_status(StatusCode::from_u16(s).unwrap());
            assert!(crate::error::REJECTION_REASONS.contains(&r), "{s}: {r}");
        }
    }
}

//! `agentsight-loadgen`: a closed-loop HTTP load generator for benchmarking
//! a local AgentSight server.
//!
//! Each of `--connections` workers holds one keep-alive HTTP/1.1 connection
//! and sends requests back to back on it:
//!
//! * `track` — `POST /api/track/` with an SDK-shaped message, expecting 201.
//!   The server answers only once the write is committed, so this measures
//!   durable writes per second.
//! * `healthz` — `GET /healthz`, expecting 200: the ceiling of the HTTP stack.
//! * `both` — `track` then `healthz`, plus the ratio of the two throughputs.
//!
//! The warmup is excluded from the statistics, latencies go into an
//! HdrHistogram in microseconds, and the run always stops by itself after
//! `warmup + duration` per scenario. Only loopback targets are accepted.
//!
//! Exit codes: 0 passed, 1 a scenario had no success or more than 1% errors,
//! 2 bad arguments or setup failure.

mod load;
mod procio;
mod reader;
mod report;
mod spans;
mod target;

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, ValueEnum};

use crate::load::Kind;
use crate::report::{Report, ScenarioReport};

/// Longest accepted `--duration`.
const MAX_DURATION: Duration = Duration::from_secs(3600);
/// Longest accepted `--warmup`.
const MAX_WARMUP: Duration = Duration::from_secs(600);
/// Most accepted `--connections`.
const MAX_CONNECTIONS: usize = 4096;

/// Which requests to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// POST /api/track/ (durable writes).
    Track,
    /// GET /healthz (HTTP stack ceiling).
    Healthz,
    /// track, then healthz, and the ratio of the two.
    Both,
    /// POST /api/ingest/ (gzipped span batches as the 0.1.4 exporter sends them).
    Ingest,
}

impl Scenario {
    /// The request kinds to run, in order.
    fn kinds(self) -> &'static [Kind] {
        match self {
            Scenario::Track => &[Kind::Track],
            Scenario::Healthz => &[Kind::Healthz],
            Scenario::Both => &[Kind::Track, Kind::Healthz],
            Scenario::Ingest => &[Kind::Ingest],
        }
    }
}

/// How the ingest scenario draws trace and span ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum IdOrder {
    Random,
    Sequential,
}

/// Closed-loop load generator for a local AgentSight server (loopback targets only).
#[derive(Debug, Parser)]
#[command(name = "agentsight-loadgen", version, about)]
struct Args {
    /// Base URL of the server; the host must be loopback (127.0.0.0/8, ::1, localhost).
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    url: String,

    /// Agent write key, sent as `Authorization: Api-Key <key>` (needed for track).
    #[arg(long, env = "AGENTSIGHT_LOADGEN_KEY", hide_env_values = true)]
    key: Option<String>,

    /// Number of workers, each with one keep-alive connection and one request in flight.
    #[arg(long, default_value_t = 64)]
    connections: usize,

    /// Measurement window per scenario, e.g. 20s, 500ms, 2m.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    duration: Duration,

    /// Warmup per scenario, excluded from the statistics.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    warmup: Duration,

    /// Which scenario to run.
    #[arg(long, value_enum, default_value_t = Scenario::Track)]
    scenario: Scenario,

    /// Number of distinct conversations the track messages are spread over.
    #[arg(long, default_value_t = 1000)]
    conversations: u64,

    /// Ingest: spans per batch (the exporter sends at most 512).
    #[arg(long, default_value_t = 512)]
    batch_spans: u64,

    /// Ingest: batches built before the run, each sent once: a run that outlasts them fails
    /// (a resent batch is all duplicates, which would understate spans/s).
    #[arg(long, default_value_t = 1500)]
    batches: u64,

    /// Ingest: trace and span ids random-looking as the exporter's (spread over the trace
    /// index), or in turn order (appended to its end, as in the benchmarks before 2026-12-04).
    #[arg(long, value_enum, default_value_t = IdOrder::Random)]
    ids: IdOrder,

    /// Open loop: start this many requests per second over all connections (track: messages,
    /// ingest: batches), each timed from when it was due; without it, the closed loop.
    /// `--connections` bounds the requests in flight, so give enough of them.
    #[arg(long)]
    rate: Option<f64>,

    /// Run a concurrent reader during each write scenario: every this long, `GET` each
    /// `--read-path` in turn on one keep-alive connection, with the same key.
    #[arg(long, value_parser = parse_duration)]
    read_every: Option<Duration>,

    /// A path the reader gets (repeatable; with its query string).
    #[arg(long = "read-path", default_values_t = [String::from("/api/metrics/overview/"), String::from("/api/conversations/?page_size=1")])]
    read_paths: Vec<String>,

    /// The server's process id (on this machine): report the bytes it wrote during each
    /// scenario (`/proc/PID/io` `write_bytes`, by thread too) per byte of request body sent.
    #[arg(long)]
    server_pid: Option<u32>,

    /// With `--server-pid`: how long after the scenario's last answer the second reading is
    /// taken (what the server writes once the load stops belongs to the load: the projection's
    /// last group, the idle checkpoint).
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    io_settle: Duration,

    /// Print one JSON object on stdout instead of the text report.
    #[arg(long)]
    json: bool,
}

/// Parses `20s`, `1.5s`, `500ms`, `2m`, `1h` or a bare number of seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 =
        number.parse().map_err(|_| format!("invalid duration {text:?} (use e.g. 20s, 500ms, 2m)"))?;
    let seconds = match unit.trim() {
        "" | "s" | "sec" | "secs" => value,
        "ms" => value / 1000.0,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => return Err(format!("unknown duration unit {other:?} in {text:?}")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("invalid duration {text:?}: {e}"))
}

/// Checks argument ranges that clap cannot express.
fn validate(args: &Args) -> Result<()> {
    if args.connections == 0 || args.connections > MAX_CONNECTIONS {
        bail!("--connections must be between 1 and {MAX_CONNECTIONS}");
    }
    if args.duration.is_zero() || args.duration > MAX_DURATION {
        bail!("--duration must be greater than 0 and at most {}s", MAX_DURATION.as_secs());
    }
    if args.warmup > MAX_WARMUP {
        bail!("--warmup must be at most {}s", MAX_WARMUP.as_secs());
    }
    if args.conversations == 0 {
        bail!("--conversations must be at least 1");
    }
    if args.scenario != Scenario::Healthz && args.key.as_deref().is_none_or(str::is_empty) {
        bail!("--key (or AGENTSIGHT_LOADGEN_KEY) is required for the track and ingest scenarios");
    }
    if let Some(rate) = args.rate
        && !(rate.is_finite() && rate > 0.0 && rate <= 1_000_000.0)
    {
        bail!("--rate must be greater than 0 and at most 1000000 requests per second");
    }
    if let Some(every) = args.read_every
        && (every < Duration::from_millis(1) || every > MAX_WARMUP)
    {
        bail!("--read-every must be between 1ms and {}s", MAX_WARMUP.as_secs());
    }
    if args.read_paths.iter().any(|p| !p.starts_with('/')) {
        bail!("--read-path must start with /");
    }
    if args.io_settle > MAX_WARMUP {
        bail!("--io-settle must be at most {}s", MAX_WARMUP.as_secs());
    }
    if args.batch_spans < 3 || args.batch_spans > 100_000 || args.batches == 0 || args.batches > 1_000_000 {
        bail!("--batch-spans must be 3..=100000 and --batches 1..=1000000");
    }
    Ok(())
}

/// Runs every requested scenario and builds the report.
async fn run(args: Args) -> Result<Report> {
    validate(&args)?;
    let target = target::resolve(&args.url).await?;
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let mut report = Report {
        tool: "agentsight-loadgen",
        version: env!("CARGO_PKG_VERSION"),
        url: target.url.clone(),
        addr: target.addr.to_string(),
        run_id: run_id.clone(),
        connections: args.connections,
        warmup_s: args.warmup.as_secs_f64(),
        duration_s: args.duration.as_secs_f64(),
        conversations: args.conversations,
        track: None,
        healthz: None,
        ingest: None,
        ratio_track_over_healthz: None,
        failures: Vec::new(),
        passed: false,
    };
    for &kind in args.scenario.kinds() {
        eprintln!(
            "agentsight-loadgen: {} against {}: {} connections, {:.1}s warmup + {:.1}s measured",
            kind.name(),
            target.addr,
            args.connections,
            args.warmup.as_secs_f64(),
            args.duration.as_secs_f64()
        );
        let batches = if kind == Kind::Ingest {
            eprintln!(
                "agentsight-loadgen: building {} gzipped batches of {} spans ({} ids)",
                args.batches,
                args.batch_spans,
                args.ids.to_possible_value().map(|v| v.get_name().to_owned()).unwrap_or_default()
            );
            let now = chrono::Utc::now().timestamp_micros();
            let ids = match args.ids {
                IdOrder::Random => spans::Ids::Random(spans::seed(&run_id)),
                IdOrder::Sequential => spans::Ids::Sequential,
            };
            let mut out = Vec::with_capacity(args.batches as usize);
            for b in 0..args.batches {
                out.push(bytes::Bytes::from(
                    spans::batch(&run_id, b, args.batch_spans, args.conversations, now, ids)?.0,
                ));
            }
            out
        } else {
            Vec::new()
        };
        let config = load::Config {
            rate: args.rate,
            batches: std::sync::Arc::new(batches),
            kind,
            target: target.clone(),
            key: args.key.clone(),
            connections: args.connections,
            warmup: args.warmup,
            duration: args.duration,
            conversations: args.conversations,
            run_id: run_id.clone(),
        };
        let io_before = match args.server_pid {
            Some(pid) => Some(procio::read(std::path::Path::new("/proc"), pid)?),
            None => None,
        };
        let reader = match (args.read_every, kind) {
            (Some(every), Kind::Track | Kind::Ingest) => {
                let measure_start = tokio::time::Instant::now() + args.warmup;
                Some(tokio::spawn(reader::run(reader::ReaderConfig {
                    target: target.clone(),
                    key: args.key.clone().unwrap_or_default(),
                    paths: args.read_paths.clone(),
                    every,
                    measure_start,
                    end: measure_start + args.duration,
                })))
            }
            _ => None,
        };
        let outcome = load::run(config).await?;
        let reader = match reader {
            Some(h) => Some(h.await.context("reader task panicked")??),
            None => None,
        };
        let io = match (args.server_pid, io_before) {
            (Some(pid), Some(before)) => {
                tokio::time::sleep(args.io_settle).await;
                let after = procio::read(std::path::Path::new("/proc"), pid)?;
                Some(procio::IoReport::between(pid, &before, &after, outcome.body_bytes))
            }
            _ => None,
        };
        for sample in &outcome.error_samples {
            eprintln!("agentsight-loadgen: {} error: {sample}", kind.name());
        }
        let mut scenario = ScenarioReport::new(kind, target.path(kind.api_path()), &outcome, args.duration);
        scenario.rate = args.rate;
        scenario.reader = reader;
        scenario.io = io;
        match kind {
            Kind::Track => report.track = Some(scenario),
            Kind::Healthz => report.healthz = Some(scenario),
            Kind::Ingest => report.ingest = Some(scenario),
        }
    }
    Ok(report.finish())
}

/// Writes the report to stdout in the requested format.
fn print(report: &Report, json: bool) -> Result<()> {
    let text = if json {
        let mut text = serde_json::to_string_pretty(report).context("serializing report")?;
        text.push('\n');
        text
    } else {
        report.to_text()
    };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes()).context("writing report")?;
    stdout.flush().context("writing report")
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let json = args.json;
    let report = match run(args).await {
        Ok(report) => report,
        Err(e) => {
            eprintln!("agentsight-loadgen: error: {e:#}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = print(&report, json) {
        eprintln!("agentsight-loadgen: error: {e:#}");
        return ExitCode::from(2);
    }
    for failure in &report.failures {
        eprintln!("agentsight-loadgen: FAILED {failure}");
    }
    if report.passed { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::convert::Infallible;
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use hyper::{Request, Response, StatusCode};
    use hyper_util::rt::TokioIo;
    use tokio::net::TcpListener;

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration("20s"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_duration("20"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("5 days").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    fn args(extra: &[&str]) -> Args {
        let mut argv = vec!["agentsight-loadgen"];
        argv.extend_from_slice(extra);
        Args::try_parse_from(argv).expect("valid args")
    }

    #[test]
    fn validates_arguments() {
        assert!(validate(&args(&["--scenario", "healthz"])).is_ok());
        assert!(validate(&args(&["--key", "k"])).is_ok());
        assert!(validate(&args(&["--scenario", "both", "--key", ""])).is_err());
        assert!(validate(&args(&["--scenario", "healthz", "--connections", "0"])).is_err());
        assert!(validate(&args(&["--scenario", "healthz", "--duration", "0s"])).is_err());
        assert!(validate(&args(&["--scenario", "healthz", "--duration", "2h"])).is_err());
        assert!(validate(&args(&["--key", "k", "--conversations", "0"])).is_err());
    }

    #[tokio::test]
    async fn refuses_non_loopback_before_sending() {
        let a = args(&["--url", "http://192.168.0.1:8000", "--scenario", "healthz"]);
        let err = run(a).await.expect_err("refused").to_string();
        assert!(err.contains("refusing"), "{err}");
    }

    /// A tiny keep-alive server: 201 for authorised track posts, 200 for
    /// /healthz, 401 otherwise. Counts accepted TCP connections.
    async fn test_server() -> (SocketAddr, Arc<AtomicU64>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let accepted = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&accepted);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(async move {
                    let service =
                        hyper::service::service_fn(|req: Request<hyper::body::Incoming>| async move {
                            let path = req.uri().path().to_owned();
                            let authorised =
                                req.headers().get("authorization").is_some_and(|v| v == "Api-Key good");
                            let body = req.into_body().collect().await.map(|b| b.to_bytes());
                            let valid = body
                                .ok()
                                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                                .is_some_and(|v| v["sender"].is_string());
                            let status = match path.as_str() {
                                "/healthz" => StatusCode::OK,
                                "/api/track/" if authorised && valid => StatusCode::CREATED,
                                _ => StatusCode::UNAUTHORIZED,
                            };
                            let mut resp =
                                Response::new(Full::new(Bytes::from_static(b"{\"detail\":\"x\"}")));
                            *resp.status_mut() = status;
                            Ok::<_, Infallible>(resp)
                        });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        (addr, accepted)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn runs_both_scenarios_on_keep_alive_connections() {
        let (addr, accepted) = test_server().await;
        let url = format!("http://{addr}");
        let a = args(&[
            "--url",
            &url,
            "--key",
            "good",
            "--scenario",
            "both",
            "--connections",
            "4",
            "--warmup",
            "100ms",
            "--duration",
            "300ms",
        ]);
        let started = std::time::Instant::now();
        let report = run(a).await.expect("run");
        assert!(started.elapsed() < Duration::from_secs(3), "run is bounded");
        assert!(report.passed, "{:?}", report.failures);
        let track = report.track.as_ref().expect("track");
        let healthz = report.healthz.as_ref().expect("healthz");
        assert!(track.ok > 0 && healthz.ok > 0);
        assert_eq!(track.errors + healthz.errors, 0);
        assert_eq!(track.connections_opened, 4);
        assert_eq!(healthz.connections_opened, 4);
        assert_eq!(accepted.load(Ordering::Relaxed), 8);
        assert!(report.ratio_track_over_healthz.is_some());
    }

    #[tokio::test]
    async fn counts_wrong_status_as_errors_and_fails() {
        let (addr, _) = test_server().await;
        let url = format!("http://{addr}");
        let a = args(&[
            "--url",
            &url,
            "--key",
            "bad",
            "--connections",
            "2",
            "--warmup",
            "0s",
            "--duration",
            "200ms",
        ]);
        let report = run(a).await.expect("run");
        let track = report.track.as_ref().expect("track");
        assert_eq!(track.ok, 0);
        assert!(track.errors > 0);
        assert_eq!(track.errors_by_kind.get("status 401"), Some(&track.errors));
        assert!(track.error_samples[0].contains("status 401"));
        assert!(!report.passed);
    }

    #[tokio::test]
    async fn dead_server_is_bounded_and_fails() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        let url = format!("http://{addr}");
        let a = args(&[
            "--url",
            &url,
            "--scenario",
            "healthz",
            "--connections",
            "2",
            "--warmup",
            "0s",
            "--duration",
            "200ms",
        ]);
        let report = run(a).await.expect("run");
        let h = report.healthz.as_ref().expect("healthz");
        assert_eq!(h.ok, 0);
        assert!(h.errors_by_kind.contains_key("connect"));
        assert!(!report.passed);
    }
}

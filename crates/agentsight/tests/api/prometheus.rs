//! `GET /metrics` (Prometheus text format): off without `--prometheus-token`, 401 without the
//! bearer token, and after a known load its counters are exactly that load.

use std::collections::BTreeMap;

use agentsight_server::config::ScrapeToken;
use serde_json::json;

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

const TOKEN: &str = "scrape-token-0123456789abcdef";

/// One sample of the text format: its name and labels, and its value.
type Samples = Vec<(String, BTreeMap<String, String>, f64)>;

/// Parses the text format (0.0.4): comments skipped, `name{k="v",…} value` per line. Label values
/// here hold no escaped quotes or commas (route templates, codes, names).
fn parse(text: &str) -> Samples {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value: {line}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("not a number: {line}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series.to_string(), BTreeMap::new()),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').unwrap_or_else(|| panic!("unclosed labels: {line}"));
                let labels = body
                    .split("\",")
                    .filter(|p| !p.is_empty())
                    .map(|pair| {
                        let (k, v) = pair.split_once("=\"").unwrap_or_else(|| panic!("bad label: {line}"));
                        (k.to_string(), v.trim_end_matches('"').to_string())
                    })
                    .collect();
                (name.to_string(), labels)
            }
        };
        out.push((name, labels, value));
    }
    out
}

/// The value of the sample `name` with exactly these labels; `None` when there is none.
fn value(s: &Samples, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let want: BTreeMap<String, String> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let found: Vec<f64> = s.iter().filter(|(n, l, _)| n == name && *l == want).map(|(_, _, v)| *v).collect();
    assert!(found.len() <= 1, "{name}{labels:?} appears {} times", found.len());
    found.first().copied()
}

fn get(s: &Samples, name: &str, labels: &[(&str, &str)]) -> f64 {
    value(s, name, labels).unwrap_or_else(|| panic!("no sample {name}{labels:?}"))
}

/// A complete turn span of the 0.1.x plane (one end-user message and the agent's answer).
fn turn() -> serde_json::Value {
    let msg = |sender: &str, ts: &str| {
        json!({"name": "agentsight.message", "timestamp": ts,
            "attributes": {"agentsight.message.sender": sender, "agentsight.message.content": "hi"}})
    };
    json!({"span_id": "00000000000000a1", "trace_id": "0123456789abcdef0123456789abcdef",
        "parent_span_id": null, "kind": "turn", "name": "turn",
        "started_at": "2026-08-15T10:00:00+00:00", "ended_at": "2026-08-15T10:00:03+00:00",
        "duration_ms": 0.5, "status": "unset",
        "attributes": {"agentsight.conversation.id": "k1", "agentsight.span.kind": "turn",
            "agentsight.turn.id": "00000000000000a1", "agentsight.turn.complete": true},
        "events": [msg("end_user", "2026-08-15T10:00:01+00:00"), msg("agent", "2026-08-15T10:00:02+00:00")],
        "otel": {"span_kind": "INTERNAL", "resource": {"service.name": "t"}}})
}

async fn scrape(app: &TestApp) -> (String, Samples) {
    let r = app.client.get(format!("{}/metrics", app.base)).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    let text = r.text().await.unwrap();
    let samples = parse(&text);
    (text, samples)
}

async fn with_token() -> TestApp {
    spawn_app_with(|s| {
        s.prometheus_token = Some(ScrapeToken::parse(TOKEN).unwrap());
        s.ingest_rate = 1;
        s.ingest_burst = 1;
    })
    .await
}

#[tokio::test]
async fn metrics_is_not_served_without_a_token() {
    let app = spawn_app().await;
    let r = app.client.get(format!("{}/metrics", app.base)).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn a_scrape_without_the_bearer_token_is_401() {
    let app = with_token().await;
    let url = format!("{}/metrics", app.base);
    let none = app.client.get(&url).send().await.unwrap();
    assert_eq!(none.status(), 401);
    assert_eq!(none.headers()["www-authenticate"], "Bearer");
    let wrong = app.client.get(&url).bearer_auth("scrape-token-0123456789abcdeF").send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let api_key =
        app.client.get(&url).header("Authorization", format!("Api-Key {TOKEN}")).send().await.unwrap();
    assert_eq!(api_key.status(), 401, "only a bearer token");
    let key = app.client.get(&url).bearer_auth(&app.key).send().await.unwrap();
    assert_eq!(key.status(), 401, "an agent's key is not the token");
}

/// A known load: 7 messages stored, 3 refused as invalid, 1 with a key nobody issued, 2 span
/// batches of which the second is over the agent's rate, 1 from a read key; reads of a
/// conversation by pk and of unknown paths. The scrape counts exactly that.
#[tokio::test]
async fn a_scrape_counts_a_known_load_exactly() {
    let app = with_token().await;
    let (n, m) = (7, 3);
    for i in 0..n {
        app.message("c1", "end_user", &format!("hello {i}"), "2026-08-15T10:00:00Z").await;
    }
    for _ in 0..m {
        let r = app
            .post("/api/track/", &json!({"conversation_id": "c1", "sender": "robot", "content": "x"}))
            .await;
        assert_eq!(r.status(), 400);
    }
    let r = app
        .post_as("ags_nobody_issued_this_key_0000000000", "/api/track/", &json!({"conversation_id": "c1"}))
        .await;
    assert_eq!(r.status(), 401);
    let batch = json!({"sdk": {"name": "agentsight-python", "version": "0.1.4"},
        "conversations": [{"conversation_id": "k1", "spans": [turn()]}]});
    assert_eq!(app.post("/api/ingest/", &batch).await.status(), 201);
    assert_eq!(app.post("/api/ingest/", &batch).await.status(), 429);
    assert_eq!(app.post_as(&app.read_key, "/api/ingest/", &batch).await.status(), 403);
    let pk = app.get_json("/api/conversations/lookup/?conversation_id=c1").await["id"].as_i64().unwrap();
    for _ in 0..2 {
        app.get_json(&format!("/api/conversations/{pk}/")).await;
    }
    for path in ["/api/no/such/path/1", "/api/no/such/path/2"] {
        let r = app.get_as(&app.key, path).await;
        assert_eq!(r.status(), 404, "{path}");
    }
    let unauthorized = app.client.get(format!("{}/metrics", app.base)).send().await.unwrap();
    assert_eq!(unauthorized.status(), 401);

    let (text, s) = scrape(&app).await;
    assert!(!text.contains(TOKEN), "the token is never shown");

    // Ingest outcomes, per plane and reason.
    let accepted = "agentsight_events_accepted_total";
    let rejected = "agentsight_events_rejected_total";
    assert_eq!(get(&s, accepted, &[("plane", "tracking")]), f64::from(n));
    assert_eq!(get(&s, rejected, &[("plane", "tracking"), ("reason", "invalid")]), f64::from(m));
    assert_eq!(get(&s, rejected, &[("plane", "tracking"), ("reason", "unauthorized")]), 1.0);
    assert_eq!(get(&s, accepted, &[("plane", "spans")]), 1.0);
    assert_eq!(get(&s, rejected, &[("plane", "spans"), ("reason", "rate_limited")]), 1.0);
    assert_eq!(get(&s, rejected, &[("plane", "spans"), ("reason", "forbidden")]), 1.0);
    assert_eq!(value(&s, accepted, &[("plane", "otlp")]), None, "nothing sent over OTLP");
    let all_rejected: f64 = s.iter().filter(|(name, _, _)| name == rejected).map(|(_, _, v)| v).sum();
    assert_eq!(all_rejected, f64::from(m) + 3.0, "no other rejection");

    // Requests by route template and status; never the raw path.
    let req = "agentsight_http_requests_total";
    let track = |status: &'static str| [("method", "POST"), ("route", "/api/track/"), ("status", status)];
    assert_eq!(get(&s, req, &track("201")), f64::from(n));
    assert_eq!(get(&s, req, &track("400")), f64::from(m));
    assert_eq!(get(&s, req, &track("401")), 1.0);
    assert_eq!(
        get(&s, req, &[("method", "GET"), ("route", "/api/conversations/{pk}/"), ("status", "200")]),
        2.0
    );
    assert_eq!(get(&s, req, &[("method", "GET"), ("route", "other"), ("status", "404")]), 2.0);
    assert_eq!(get(&s, req, &[("method", "GET"), ("route", "/metrics"), ("status", "401")]), 1.0);
    assert!(!text.contains("/no/such/path"), "unknown paths share one label");
    assert!(!text.contains(&format!("/api/conversations/{pk}/")), "a path's id is never a label");
    let all_requests: f64 = s.iter().filter(|(name, _, _)| name == req).map(|(_, _, v)| v).sum();
    // The requests above, the lookup, and this scrape's own request is counted after it is answered.
    assert_eq!(all_requests, f64::from(n + m) + 1.0 + 3.0 + 1.0 + 2.0 + 2.0 + 1.0);

    // Latency: one observation per request, in buckets that add up.
    let lat = [("method", "POST"), ("route", "/api/track/")];
    assert_eq!(get(&s, "agentsight_http_request_duration_seconds_count", &lat), f64::from(n + m + 1));
    let inf = [("method", "POST"), ("route", "/api/track/"), ("le", "+Inf")];
    assert_eq!(get(&s, "agentsight_http_request_duration_seconds_bucket", &inf), f64::from(n + m + 1));
    assert!(get(&s, "agentsight_http_request_duration_seconds_sum", &lat) > 0.0);

    // The store: its queues, the groups that carried the writes, the projection backlog.
    for queue in ["writer", "archive"] {
        assert_eq!(get(&s, "agentsight_store_queue_depth", &[("queue", queue)]), 0.0, "{queue}");
        assert!(get(&s, "agentsight_store_queue_capacity", &[("queue", queue)]) > 0.0, "{queue}");
        assert_eq!(get(&s, "agentsight_store_groups_failed_total", &[("queue", queue)]), 0.0);
    }
    let writes = get(&s, "agentsight_store_group_size_sum", &[("queue", "writer")]);
    assert!(
        writes >= f64::from(n) + 1.0,
        "the messages and the projection went through the writer: {writes}"
    );
    let groups = get(&s, "agentsight_store_group_size_count", &[("queue", "writer")]);
    assert_eq!(get(&s, "agentsight_store_group_size_bucket", &[("queue", "writer"), ("le", "+Inf")]), groups);
    assert_eq!(
        get(&s, "agentsight_store_group_size_sum", &[("queue", "archive")]),
        1.0,
        "one batch archived"
    );
    assert_eq!(get(&s, "agentsight_projection_backlog_batches", &[]), 0.0, "the reads waited for it");
    assert_eq!(get(&s, "agentsight_projection_backlog_bytes", &[]), 0.0);
    assert_eq!(get(&s, "agentsight_projection_backlog_limit_bytes", &[]), f64::from(64u32 << 20));

    // The metrics engine as /api/metrics/status/ has it, readiness, geolocation, the process.
    let status = app.get_json("/api/metrics/status/").await;
    let engine = status["engine"].as_str().unwrap();
    let phase = status["phase"].as_str().unwrap();
    assert_eq!(get(&s, "agentsight_metrics_engine_info", &[("engine", engine), ("phase", phase)]), 1.0);
    assert_eq!(get(&s, "agentsight_metrics_engine_fault", &[]), 0.0);
    assert_eq!(get(&s, "agentsight_metrics_engine_detail", &[("name", "spans_archived_batch")]), 1.0);
    assert_eq!(get(&s, "agentsight_geolocation_enabled", &[]), 0.0, "the test data dir has no files");
    assert!(s.iter().all(|(name, _, _)| name != "agentsight_geolocation_build_timestamp_seconds"));
    assert!(get(&s, "process_resident_memory_bytes", &[]) > 1e6);
    assert!(get(&s, "process_open_fds", &[]) >= 1.0);
}

/// The engine's readiness and the server's follow `/readyz`: with the metrics index loaded,
/// both are 1.
#[tokio::test]
async fn readiness_and_the_engine_are_gauges() {
    let app = with_token().await;
    while app.get_json("/api/metrics/status/").await["phase"] == "loading" {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let (_, s) = scrape(&app).await;
    assert_eq!(get(&s, "agentsight_ready", &[]), 1.0);
    assert_eq!(get(&s, "agentsight_metrics_engine_ready", &[]), 1.0);
    assert_eq!(
        get(&s, "agentsight_metrics_engine_info", &[("engine", "sqlite-index"), ("phase", "ready")]),
        1.0
    );
    assert!(get(&s, "agentsight_metrics_engine_bytes", &[]) >= 0.0);
}

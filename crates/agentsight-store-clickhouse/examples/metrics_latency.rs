//! Measures the metrics overview on ClickHouse at volume (a measurement, not a test):
//!
//! ```text
//! cargo run -p agentsight-store-clickhouse --example metrics_latency -- MESSAGES [--cluster] [--keep]
//! ```
//!
//! with `AGENTSIGHT_TEST_POSTGRES` and `AGENTSIGHT_TEST_CLICKHOUSE` set as for the contract tests
//! (`scripts/postgres-test-server.sh`, `scripts/clickhouse-test-server.sh … 2`). It makes a
//! PostgreSQL schema and a ClickHouse database of its own (on every shard with `--cluster`),
//! connects the store (which creates the tables), loads MESSAGES messages over 30 days into one
//! agent with `INSERT … SELECT FROM numbers()` (10 messages a conversation, alternating user
//! and agent, plus an action per conversation and some feedback), times the overview of those
//! 30 days (no filter, one filter, two filters), a daily and an hourly series, and drops what it
//! made.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::collections::HashMap;
use std::time::Instant;

use agentsight_core::metrics::query;
use agentsight_core::metrics::series::{Interval, SeriesMetric};
use agentsight_store::{AgentRef, MetricsReader};
use agentsight_store_clickhouse::{ClickHouseEventStore, ClickHouseOptions};
use agentsight_store_postgres::PostgresOptions;

async fn ch(url: &str, sql: &str) -> String {
    let r = reqwest::Client::new().post(url).body(sql.to_string()).send().await.unwrap();
    let ok = r.status().is_success();
    let text = r.text().await.unwrap();
    assert!(ok, "{sql}: {text}");
    text
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let messages: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let cluster = args.iter().any(|a| a == "--cluster");
    let pg_url = std::env::var("AGENTSIGHT_TEST_POSTGRES").expect("AGENTSIGHT_TEST_POSTGRES");
    let entry = std::env::var("AGENTSIGHT_TEST_CLICKHOUSE").expect("AGENTSIGHT_TEST_CLICKHOUSE");
    let base = entry.split('?').next().unwrap().to_string();
    let shards: Vec<String> = if cluster {
        ch(&base, "SELECT host_address, port FROM system.clusters WHERE cluster = 'agentsight' ORDER BY shard_num, replica_num")
            .await
            .lines()
            .map(|l| {
                let (host, port) = l.split_once('\t').unwrap();
                format!("http://{host}:{}/", port.parse::<u16>().unwrap() - 10)
            })
            .collect()
    } else {
        vec![base.clone()]
    };
    let id = uuid::Uuid::new_v4().simple().to_string();
    let name = format!("bench_{id}");
    let (c, conn) = tokio_postgres::connect(&pg_url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    c.batch_execute(&format!("CREATE SCHEMA {name}")).await.unwrap();
    for s in &shards {
        ch(s, &format!("CREATE DATABASE {name}")).await;
    }
    let url = |i: usize| format!("{}?database={name}", shards[i]);
    let mut opts = ClickHouseOptions::new(url(0));
    if cluster {
        opts = opts.cluster("agentsight").shard_urls((0..shards.len()).map(url).collect());
    }
    let store =
        ClickHouseEventStore::connect(PostgresOptions::new(&pg_url).schema(&name).max_connections(4), opts)
            .await
            .unwrap();

    // 30 days from 2026-04-01 (UTC); 10 messages a conversation.
    let start: i64 = 1_775_001_600_000_000;
    let span: i64 = 30 * 86_400_000_000;
    let convs = messages.div_ceil(10).max(1);
    let load = Instant::now();
    let insert = format!("{}&insert_distributed_sync=1", url(0));
    let t0 = Instant::now();
    ch(
        &insert,
        &format!(
            "INSERT INTO conversations (conversation_pk, agent_id, conversation_id, customer_id, country, city,
                latitude, longitude, device, source, language, environment, metadata, is_used, is_marked,
                is_deleted, started_at, created_at, updated_at, version, meta_keys, meta_texts, fb_meta, fb_rating)
             SELECT number + 1, 1, toString(number), concat('u', toString(number % 5000)),
                if(number % 7 = 0, NULL, ['HR', 'US', 'DE'][number % 3 + 1]),
                if(number % 7 = 0, NULL, ['Zagreb', 'Boston', 'Berlin'][number % 3 + 1]),
                45.8, 15.97, ['mobile', 'desktop', 'tablet'][number % 3 + 1], ['web', 'whatsapp'][number % 2 + 1],
                ['en', 'de', 'hr', 'fr'][number % 4 + 1], 'production', '{{\"plan\":\"pro\"}}', number % 4 != 0, 0,
                number % 100 = 0, {start} + intDiv(number * {span}, {convs}), 0, 0, 1, ['plan'], ['pro'],
                number % 4, if(number % 8 = 1, 4., NULL)
             FROM numbers({convs})"
        ),
    )
    .await;
    let t_conv = t0.elapsed();
    ch(
        &insert,
        &format!(
            "INSERT INTO messages (agent_id, conversation_pk, id, kind, sender, content, metadata, ts, received_at)
             SELECT 1, intDiv(number, 10) + 1, number, 0, if(number % 2 = 0, 'end_user', 'agent'), 'x', '{{}}',
                {start} + intDiv(intDiv(number, 10) * {span}, {convs}) + (number % 10) * 20000000, 0
             FROM numbers({messages})"
        ),
    )
    .await;
    ch(
        &insert,
        &format!(
            "INSERT INTO action_logs (agent_id, conversation_pk, id, message_id, action_name, duration_ms,
                error_msg, metadata, ts)
             SELECT 1, number + 1, number, 0, ['lookup', 'search', 'fallback_to_human', 'token_usage'][number % 4 + 1],
                number % 1000, if(number % 10 = 0, 'boom', NULL), '{{}}', {start} + intDiv(number * {span}, {convs}) + 5000000
             FROM numbers({convs})"
        ),
    )
    .await;
    ch(
        &insert,
        &format!(
            "INSERT INTO feedbacks (agent_id, conversation_pk, id, sentiment, source, metadata, created_at)
             SELECT 1, number * 10 + 1, number, ['positive', 'negative'][number % 2 + 1], 'customer', '{{}}', {start}
             FROM numbers({})",
            convs / 10
        ),
    )
    .await;
    println!(
        "loaded {messages} messages, {convs} conversations in {:.1?} (conversations {:.1?}); {}",
        load.elapsed(),
        t_conv,
        if cluster { format!("{} shards", shards.len()) } else { "one server".into() }
    );

    let agent = AgentRef { id: 1, name: "bench".into() };
    let q = |extra: &[(&str, &str)]| {
        let mut m: HashMap<String, String> =
            [("from", "2026-04-01"), ("to", "2026-04-30"), ("tz", "Europe/Zagreb")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        m.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        query::parse(&m, &["production".into(), "development".into()], 0).unwrap()
    };
    let escalation = vec!["fallback_to_human".to_string()];
    for (what, extra) in [
        ("overview, no filter", vec![]),
        ("overview, device=mobile", vec![("device", "mobile")]),
        (
            "overview, country=unknown & metadata=plan:pro",
            vec![("country", "unknown"), ("metadata", "plan:pro")],
        ),
    ] {
        let mut times = Vec::new();
        let mut o = None;
        for _ in 0..5 {
            let t = Instant::now();
            o = Some(store.overview(agent.clone(), q(&extra), escalation.clone()).await.unwrap());
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        let o = o.unwrap();
        println!(
            "{what}: median {:.0} ms (min {:.0}, max {:.0}); messages {}, conversations {}, responses {}",
            times[2], times[0], times[4], o.total_messages, o.total_conversations, o.bot_responses
        );
    }
    for (metric, interval) in
        [(SeriesMetric::Messages, Interval::Day), (SeriesMetric::AvgBotResponseTimeMs, Interval::Hour)]
    {
        let t = Instant::now();
        let s = store.timeseries(agent.clone(), q(&[]), metric, interval).await.unwrap();
        println!(
            "timeseries {} by {}: {:.0} ms ({} points)",
            metric.name(),
            interval.name(),
            t.elapsed().as_secs_f64() * 1000.0,
            s.points.len()
        );
    }
    if args.iter().any(|a| a == "--keep") {
        println!("kept: PostgreSQL schema and ClickHouse database {name}");
        return;
    }
    for s in &shards {
        ch(s, &format!("DROP DATABASE IF EXISTS {name}")).await;
    }
    c.batch_execute(&format!("DROP SCHEMA {name} CASCADE")).await.unwrap();
}

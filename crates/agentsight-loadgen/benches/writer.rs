//! The writers' share of `POST /api/ingest/`, without HTTP: `SpanWriter::ingest_spans` of
//! validated batches as the load generator sends them (510 spans, turns of three, over 1,000
//! conversations), each batch new (a resend would store nothing), archived and then projected
//! one at a time (the time runs until the projection is committed) with fsync off, so the
//! figure is the two writers' CPU per batch. Building and validating the batches is
//! outside the timing. Two cases, each on a new database: trace and span ids random-looking as
//! the exporter's (`random_ids`), and in turn order (`sequential_ids`, the load generator's ids
//! before 2026-12-04). `cargo bench -p agentsight-loadgen --bench writer`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

// The load generator's own batch builder (its unit tests come along, unused here).
#[allow(dead_code, unused_imports)]
#[path = "../src/spans.rs"]
mod spans;

use agentsight_core::archive::{ArchivedBody, MAX_DECODED_BYTES};
use agentsight_core::spans::{SpanIngest, validate_batch};
use agentsight_core::tracking::AgentScope;
use agentsight_protocol::v01::IngestPayload;
use agentsight_store::{AgentStore, SpanWriter};
use agentsight_store_sqlite::{SqliteOptions, SqliteStore};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

const SPANS: u64 = 510;
const CONVERSATIONS: u64 = 1000;

/// Batch `b` of the run, validated as the HTTP worker hands it to the writer.
fn batch(scope: &AgentScope, b: u64, now: i64, ids: spans::Ids) -> (SpanIngest, ArchivedBody) {
    let (gz, n) = spans::batch("bench", b, SPANS, CONVERSATIONS, now, ids).unwrap();
    assert_eq!(n, SPANS);
    let archived = ArchivedBody::of_gzip(gz);
    let body = archived.decode(MAX_DECODED_BYTES).unwrap();
    let p: IngestPayload<'_> = serde_json::from_str(&body).unwrap();
    (validate_batch(scope, &body, &p, now).unwrap(), archived)
}

fn bench_writer(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut group = c.benchmark_group("ingest_batch");
    group.throughput(Throughput::Elements(SPANS));
    group.sample_size(30);
    for (name, ids) in [
        ("write_510_spans_no_fsync/random_ids", spans::Ids::Random(spans::seed("bench"))),
        ("write_510_spans_no_fsync/sequential_ids", spans::Ids::Sequential),
    ] {
        bench_one(&rt, &mut group, name, ids);
    }
    group.finish();
}

fn bench_one(
    rt: &tokio::runtime::Runtime,
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    ids: spans::Ids,
) {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = SqliteOptions::new(dir.path().join("bench.db"));
    opts.fsync = false;
    let store = SqliteStore::open(opts).unwrap();
    let agent = rt.block_on(store.create_agent("bench".into(), 0)).unwrap().id;
    let scope = AgentScope { agent_id: agent, environments: vec!["production".into()] };
    let now = 1_780_000_000_000_000;
    let mut next = 0;
    group.bench_function(name, |b| {
        b.iter_batched(
            || {
                next += 1;
                batch(&scope, next, now, ids)
            },
            |(ingest, body)| {
                rt.block_on(async {
                    let receipt = store.ingest_spans(ingest, body).await.unwrap();
                    assert_eq!(receipt.accepted, SPANS);
                    receipt.projected.await.unwrap()
                })
            },
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, bench_writer);
criterion_main!(benches);
